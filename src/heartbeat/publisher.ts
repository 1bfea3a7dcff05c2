/**
 * The peer side of SPEC §5: announce JOINING at start, ONLINE once in the subnet, OFFLINE
 * on a clean stop; every interval seal a heartbeat, put it into the DHT and push it to
 * every connected collector. A failed put or push is logged and retried next round.
 */
import { byteStream, lpStream } from '@libp2p/utils'
import { silentLogger } from '../log/index.js'
import { packageVersion } from '../util/package-version.js'
import { createRepeatingTask } from '../util/task.js'
import {
  ACK_ACCEPTED, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_ROLE, DEFAULT_THROUGHPUT,
  HEARTBEAT_TTL_INTERVALS, HEARTBEAT_TTL_SKEW_MARGIN_S, MAX_PING_PEERS, MIN_HEARTBEAT_TTL_S, PING_SMOOTHING,
  PING_TIMEOUT_MS, PUSH_TIMEOUT_MS, PUT_TIMEOUT_MS, STOP_PUBLISH_TIMEOUT_MS, heartbeatProtocol
} from './constants.js'
import { MAX_HEARTBEAT_TTL_S, heartbeatKey, sealHeartbeat } from './record.js'
import { deadline } from '../util/deadline.js'
import type { HeartbeatPublisher, PublisherInit } from './index.js'
import type { HeartbeatState } from './model.js'
import type { HeartbeatPayload } from './record.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { IdentifyResult, PeerId } from '@libp2p/interface'

/** A connected peer with the protocols its identify reported. */
interface ConnectedPeer {
  id: PeerId
  protocols: string[]
}

export class DefaultHeartbeatPublisher implements HeartbeatPublisher {
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly intervalMs: number
  private readonly role: string
  private readonly publicName: string | null
  private readonly version: string
  private readonly throughput: number
  private readonly usingRelay: boolean
  private readonly push: boolean
  private readonly put: boolean
  private running = false
  private currentState: HeartbeatState = 'JOINING'
  /** Set by setState: the state is the caller's, no longer the node's own JOINING → ONLINE; it survives a stop and start. */
  private pinnedState?: HeartbeatState
  private lastSeq = 0
  private latest?: Uint8Array
  /** One round per interval; a round asked for while one runs (going ONLINE) follows it at once. */
  private readonly rounds: RepeatingTask
  private abort = new AbortController()
  private putInFlight = false
  private pingInFlight = false
  private readonly rtts = new Map<string, number>()
  private putFailures = 0
  private pushFailures = 0
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => { this.handleIdentify(evt.detail) }
  private readonly onRoutingTableAdd = (): void => { this.maybeGoOnline() }

  constructor (init: PublisherInit, node: SubnetNode) {
    this.node = node
    this.log = init.logger ?? silentLogger
    this.intervalMs = init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.role = (init.role ?? DEFAULT_ROLE).toUpperCase()
    this.publicName = init.publicName ?? null
    // The package version, as the CLI's default --version-string (SPEC §4): one default, two doors.
    this.version = init.version ?? packageVersion()
    this.throughput = init.throughput ?? DEFAULT_THROUGHPUT
    this.usingRelay = init.usingRelay ?? false
    this.push = init.push ?? true
    this.put = init.dhtPut ?? true
    this.rounds = createRepeatingTask(async () => { await this.publish() }, {
      intervalMs: this.intervalMs,
      runImmediately: true,
      logger: this.log,
      name: 'heartbeat round'
    })
  }

  state (): HeartbeatState {
    return this.currentState
  }

  setState (state: HeartbeatState): void {
    this.pinnedState = state
    // A stopped publisher announces OFFLINE until it starts again, then the pinned state.
    if (!this.running || this.currentState === state) return
    this.currentState = state
    this.log.info(`heartbeat state ${state}`, { peer_id: this.node.peerId, set: true })
    this.rounds.run()
  }

  nextPings (): Record<string, number> | null {
    return this.rtts.size === 0 ? null : Object.fromEntries(this.rtts)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    this.currentState = this.pinnedState ?? 'JOINING'
    this.node.libp2p.addEventListener('peer:identify', this.onIdentify)
    routingTableEvents(this.node)?.addEventListener('peer:add', this.onRoutingTableAdd)
    this.rounds.start()
    this.maybeGoOnline()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.node.libp2p.removeEventListener('peer:identify', this.onIdentify)
    routingTableEvents(this.node)?.removeEventListener('peer:add', this.onRoutingTableAdd)
    this.abort.abort()
    await this.rounds.stop()
    // A last, bounded OFFLINE round so collectors and the DHT learn of a clean shutdown.
    this.currentState = 'OFFLINE'
    if (this.node.isStarted()) {
      // util/deadline: an AbortSignal.timeout combined further down can be collected and never fire
      const bound = deadline(STOP_PUBLISH_TIMEOUT_MS)
      try {
        const envelope = await this.seal()
        await Promise.all([
          this.push ? this.pushToAll(envelope, bound.signal) : undefined,
          this.put ? this.putRecord(envelope, bound.signal) : undefined
        ])
      } catch (err) {
        this.log.warn('could not publish OFFLINE heartbeat', { err })
      } finally {
        bound.clear()
      }
    }
  }

  /**
   * JOINING → ONLINE once connected to the subnet (SPEC §5): a peer speaking the subnet's DHT
   * protocol has identified, or the routing table holds one. Then publish at once.
   */
  private maybeGoOnline (identifiedSubnetPeer = false): void {
    if (!this.running || this.pinnedState !== undefined || this.currentState !== 'JOINING') return
    if (!identifiedSubnetPeer && this.node.dht.routingTable.size === 0) return
    this.currentState = 'ONLINE'
    this.log.info('heartbeat state ONLINE', { peer_id: this.node.peerId })
    this.rounds.run()
  }

  private async publish (): Promise<void> {
    this.maybeGoOnline()
    const envelope = await this.seal()
    const signal = this.abort.signal
    if (this.put && !this.putInFlight) {
      // One put at a time: a slow lookup must not pile up behind itself.
      this.putInFlight = true
      const bound = deadline(Math.min(PUT_TIMEOUT_MS, Math.max(this.intervalMs, 1000)), signal)
      void this.putRecord(envelope, bound.signal)
        .finally(() => { bound.clear(); this.putInFlight = false })
    }
    const ping = !this.pingInFlight
    if (!this.push && !ping) return
    // One listing of the connected peers a round, for the push and the pings.
    const peers = await this.connectedPeers()
    if (signal.aborted) return // stopped meanwhile
    if (this.push) void this.pushToAll(envelope, signal, peers)
    if (ping) {
      this.pingInFlight = true
      void this.measurePings(signal, peers).finally(() => { this.pingInFlight = false })
    }
  }

  private async seal (): Promise<Uint8Array> {
    const now = Date.now()
    // Strictly increasing even if the clock has not moved or went back (SPEC §5).
    this.lastSeq = Math.max(now, this.lastSeq + 1)
    const ttl = Math.min(
      Math.max(HEARTBEAT_TTL_INTERVALS * this.intervalMs / 1000, MIN_HEARTBEAT_TTL_S),
      MAX_HEARTBEAT_TTL_S - HEARTBEAT_TTL_SKEW_MARGIN_S
    )
    const payload: HeartbeatPayload = {
      subnet_id: this.node.subnetId,
      peer_id: this.node.peerId,
      seq: this.lastSeq,
      server: {
        state: this.currentState,
        role: this.role,
        throughput: this.throughput,
        public_name: this.publicName,
        version: this.version,
        using_relay: this.usingRelay,
        next_pings: this.nextPings()
      },
      expiration_time: now / 1000 + ttl
    }
    this.latest = await sealHeartbeat(payload, this.node.privateKey)
    return this.latest
  }

  /**
   * Each connected peer once (a peer may hold several connections) with the protocols its
   * identify reported; a peer the peer store does not know yet (identify still running) is left out.
   */
  private async connectedPeers (): Promise<ConnectedPeer[]> {
    const seen = new Set<string>()
    const out: ConnectedPeer[] = []
    for (const conn of this.node.libp2p.getConnections()) {
      const id = conn.remotePeer
      if (seen.has(id.toString())) continue
      seen.add(id.toString())
      try {
        out.push({ id, protocols: (await this.node.libp2p.peerStore.get(id)).protocols })
      } catch {}
    }
    return out
  }

  /** Pushes to the connected peers (`peers`, else listed now) whose identify lists the collector protocol. */
  private async pushToAll (envelope: Uint8Array, signal: AbortSignal, peers?: readonly ConnectedPeer[]): Promise<void> {
    const protocol = heartbeatProtocol(this.node.subnetId)
    const targets = (peers ?? await this.connectedPeers()).filter((p) => p.protocols.includes(protocol)).map((p) => p.id)
    await Promise.all(targets.map(async (peer) => { await this.pushTo(peer, envelope, signal) }))
  }

  private async pushTo (peer: PeerId, envelope: Uint8Array, outer: AbortSignal): Promise<void> {
    const bound = deadline(PUSH_TIMEOUT_MS, outer)
    const signal = bound.signal
    try {
      const stream = await this.node.libp2p.dialProtocol(peer, heartbeatProtocol(this.node.subnetId), { signal })
      try {
        const lp = lpStream(stream)
        await lp.write(envelope, { signal })
        const ack = await byteStream(lp.unwrap()).read({ bytes: 1, signal })
        await stream.close({ signal })
        if (ack.get(0) !== ACK_ACCEPTED) {
          this.log.warn('collector rejected our heartbeat', { peer: peer.toString(), ack: ack.get(0) })
        } else {
          this.log.debug('heartbeat pushed', { peer: peer.toString() })
        }
      } catch (err) {
        stream.abort(err as Error)
        throw err
      }
      this.pushFailures = 0
    } catch (err) {
      // Cut short by our own stop(): not a failure worth reporting.
      if (outer === this.abort.signal && outer.aborted) return
      this.pushFailures += 1
      this.logFailure(this.pushFailures, 'heartbeat push failed; retrying next round', { peer: peer.toString(), err })
    } finally {
      bound.clear()
    }
  }

  private async putRecord (envelope: Uint8Array, signal: AbortSignal): Promise<void> {
    try {
      for await (const event of this.node.dht.put(heartbeatKey(this.node.peerId), envelope, { signal })) {
        void event
      }
      this.log.debug('heartbeat put into the DHT')
      this.putFailures = 0
    } catch (err) {
      this.putFailures += 1
      this.logFailure(this.putFailures, 'heartbeat DHT put failed; retrying next round', { err })
    }
  }

  /** Debug for a passing failure (e.g. the first put before the routing table fills), warn when it persists. */
  private logFailure (consecutive: number, msg: string, fields: Record<string, unknown>): void {
    if (consecutive === 3 || (consecutive > 3 && consecutive % 10 === 0)) this.log.warn(msg, { ...fields, consecutive })
    else this.log.debug(msg, { ...fields, consecutive })
  }

  /** A collector that just identified gets our latest record without waiting a round. */
  private handleIdentify (result: IdentifyResult): void {
    if (!this.running) return
    if (result.protocols.includes(this.node.kadProtocol)) this.maybeGoOnline(true)
    if (!this.push || this.latest === undefined) return
    if (!result.protocols.includes(heartbeatProtocol(this.node.subnetId))) return
    void this.pushTo(result.peerId, this.latest, this.abort.signal)
  }

  /**
   * Connected peers worth a `next_pings` entry (SPEC §5: "other heartbeat peers"), best first
   * (docs/PROTOCOL.md §6): they must speak the subnet's DHT protocol; peers whose heartbeat
   * record is in our own DHT store (they have published) come first, then peers we know nothing
   * about; a collector (push protocol) that has not published is left out, since a sidecar
   * publishes no heartbeat. Within a rank, peers we already measure stay, then peer id order.
   */
  private async pingCandidates (signal: AbortSignal, peers: readonly ConnectedPeer[]): Promise<PeerId[]> {
    const ranked: Array<{ peer: PeerId, rank: number }> = []
    for (const { id, protocols } of peers) {
      if (!protocols.includes(this.node.kadProtocol)) continue
      const published = await this.hasStoredHeartbeat(id.toString(), signal)
      if (!published && protocols.includes(heartbeatProtocol(this.node.subnetId))) continue
      ranked.push({ peer: id, rank: published ? 0 : 1 })
    }
    const measured = (p: PeerId): number => this.rtts.has(p.toString()) ? 0 : 1
    ranked.sort((a, b) => a.rank - b.rank || measured(a.peer) - measured(b.peer) || a.peer.toString().localeCompare(b.peer.toString()))
    return ranked.map((r) => r.peer)
  }

  /** The DHT accepted (validated) a heartbeat record of `peerId` into our store. */
  private async hasStoredHeartbeat (peerId: string, signal: AbortSignal): Promise<boolean> {
    return await this.node.hasStoredRecord(heartbeatKey(peerId), { signal })
  }

  /** Smoothed RTTs (seconds) to up to MAX_PING_PEERS other heartbeat peers (SPEC §5 next_pings). */
  private async measurePings (signal: AbortSignal, peers: readonly ConnectedPeer[]): Promise<void> {
    const candidates = await this.pingCandidates(signal, peers)
    const chosen = candidates.slice(0, MAX_PING_PEERS)
    const chosenIds = new Set(chosen.map(String))
    for (const id of this.rtts.keys()) if (!chosenIds.has(id)) this.rtts.delete(id)
    await Promise.all(chosen.map(async (peer) => {
      const bound = deadline(PING_TIMEOUT_MS, signal)
      try {
        const ms = await this.node.libp2p.services.ping.ping(peer, { signal: bound.signal })
        const sample = ms / 1000
        const prev = this.rtts.get(peer.toString())
        this.rtts.set(peer.toString(), prev === undefined ? sample : prev + PING_SMOOTHING * (sample - prev))
      } catch (err) {
        this.log.debug('ping failed', { peer: peer.toString(), err })
      } finally {
        bound.clear()
      }
    }))
  }
}

interface EventTargetLike {
  addEventListener: (type: string, listener: () => void) => void
  removeEventListener: (type: string, listener: () => void) => void
}

/** kad-dht's routing table emits `peer:add`, though its public type only exposes `size`. */
function routingTableEvents (node: SubnetNode): EventTargetLike | undefined {
  const rt = node.dht.routingTable as unknown as Partial<EventTargetLike>
  return typeof rt.addEventListener === 'function' ? rt as EventTargetLike : undefined
}
