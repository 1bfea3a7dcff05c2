/**
 * Native heartbeat source (b, c): the heartbeat records in this node's own DHT store, and
 * bounded, targeted DHT gets for known subnet peers whose heartbeat is missing (SPEC §5).
 * The store costs work per change, not per record held (issue 12 item 4): one full scan at start
 * (records a persisted datastore holds), then only the records the DHT stores
 * (`SubnetNode.onRecordStored`), and a slow sweep that only deletes expired records (it reads each
 * record's expiry, never verifies a signature). Records the DHT validator refused are counted
 * under `dht` by the validator itself (heartbeatDhtRecords); records refused here under `store`.
 */
import { Histogram } from 'prom-client'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { createRepeatingTask } from '../util/task.js'
import { DEFAULT_LOOKUP_INTERVAL_MS, DEFAULT_STORE_SWEEP_INTERVAL_MS, GET_CONCURRENCY, GET_TIMEOUT_MS, MAX_GETS_PER_ROUND } from './constants.js'
import {
  HEARTBEAT_NAMESPACE, HeartbeatRejectedError, heartbeatKey, peekHeartbeat, peerIdFromHeartbeatKey, toHeartbeatEntry,
  validateHeartbeat
} from './record.js'
import { deadline } from '../util/deadline.js'
import type { HeartbeatSink, HeartbeatSource } from './index.js'
import type { HeartbeatPayload } from './record.js'
import type { Logger } from '../log/index.js'
import type { StoredRecord, SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { Registry } from 'prom-client'

export const DHT_SOURCE = 'dht'
const STORE_SOURCE = 'store'
const KEY_PREFIX = uint8ArrayFromString(`/${HEARTBEAT_NAMESPACE}/`)
/** libp2p's peer-store metadata keys for the outcome of its last dials (libp2p connection-manager constants, not exported). */
const LAST_DIAL_SUCCESS_KEY = 'last-dial-success'
const LAST_DIAL_FAILURE_KEY = 'last-dial-failure'

export interface DhtHeartbeatSourceInit {
  /** How often the store is swept for expired records (nothing else: changes arrive as they are stored). Default 5 min. */
  storeSweepIntervalMs?: number
  /** How often known peers without a heartbeat are looked up in the DHT. Default 30 s. */
  lookupIntervalMs?: number
  logger: Logger
  registry?: Registry
}

export class DhtHeartbeatSource implements HeartbeatSource {
  readonly name = DHT_SOURCE
  readonly rejectionSources = [DHT_SOURCE, STORE_SOURCE]
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly storeSweepIntervalMs: number
  private readonly lookupIntervalMs: number
  private readonly queryLatency?: Histogram
  private tasks: RepeatingTask[] = []
  private abort = new AbortController()
  private running = false
  private unsubscribe?: () => void
  /** Stored records not read yet, by key: a key stored twice meanwhile is read once, as last stored. */
  private readonly pending = new Map<string, StoredRecord>()
  private draining?: Promise<void>
  private readonly counts = { validated: 0, sweeps: 0, removed: 0 }

  constructor (node: SubnetNode, init: DhtHeartbeatSourceInit) {
    this.node = node
    this.log = init.logger
    this.storeSweepIntervalMs = init.storeSweepIntervalMs ?? DEFAULT_STORE_SWEEP_INTERVAL_MS
    this.lookupIntervalMs = init.lookupIntervalMs ?? DEFAULT_LOOKUP_INTERVAL_MS
    if (init.registry !== undefined) {
      this.queryLatency = new Histogram({
        name: 'subnet_bootnode_dht_query_seconds',
        help: 'Latency of DHT queries made by the node',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [init.registry]
      })
    }
  }

  /** Store records validated (signature and all), expiry sweeps done (the start scan not counted), expired records removed: for tests and the bench. */
  stats (): { validated: number, sweeps: number, removed: number } {
    return { ...this.counts }
  }

  async start (sink: HeartbeatSink): Promise<void> {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    // Subscribed before the first scan, so nothing stored meanwhile is missed (a record both
    // scanned and reported is validated once: the second read finds its seq held).
    this.unsubscribe = this.node.onRecordStored(KEY_PREFIX, (record) => {
      if (!this.running) return
      this.pending.set(uint8ArrayToString(record.key, 'base64'), record)
      this.drain(sink)
    })
    // The first run is the full scan; the later ones only sweep.
    let scanned = false
    const scan = createRepeatingTask(async () => {
      if (scanned) {
        this.counts.sweeps++
        await this.sweepExpired()
      } else {
        scanned = true
        await this.scanStore(sink)
      }
    }, { intervalMs: this.storeSweepIntervalMs, runImmediately: true, name: 'heartbeat store sweep', logger: this.log })
    // The first lookup comes soon after start (peers known from a persisted peer store), then every interval.
    const lookup = createRepeatingTask(async () => {
      lookup.setInterval(this.lookupIntervalMs)
      await this.lookupMissing(sink)
    }, { intervalMs: Math.min(this.lookupIntervalMs, 1000), name: 'heartbeat lookup', logger: this.log })
    this.tasks = [scan, lookup]
    for (const task of this.tasks) task.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.abort.abort()
    this.pending.clear()
    await Promise.all(this.tasks.map(async (task) => { await task.stop() }))
    await this.draining
    this.tasks = []
  }

  /** Reads the pending records, one at a time, until none is left; one drain in flight at most. */
  private drain (sink: HeartbeatSink): void {
    if (this.draining !== undefined || !this.running || this.pending.size === 0) return
    this.draining = (async () => {
      while (this.running && this.pending.size > 0) {
        const batch = [...this.pending.values()]
        this.pending.clear()
        for (const record of batch) {
          if (!this.running) return
          await this.consider(record, sink)
        }
      }
    })().catch((err: unknown) => { this.log.warn('heartbeat store read failed', { err }) })
      .finally(() => {
        this.draining = undefined
        this.drain(sink)
      })
  }

  /** The full scan at start: every heartbeat record held (a persisted datastore's included). */
  private async scanStore (sink: HeartbeatSink): Promise<void> {
    for await (const record of this.node.storedRecords(KEY_PREFIX, { signal: this.abort.signal })) {
      if (!this.running) return
      await this.consider(record, sink)
    }
  }

  /** The slow sweep: deletes records past their expiry (or unreadable); verifies nothing, offers nothing. */
  private async sweepExpired (): Promise<void> {
    const nowS = Date.now() / 1000
    for await (const record of this.node.storedRecords(KEY_PREFIX, { signal: this.abort.signal })) {
      if (!this.running) return
      const expiration = peekHeartbeat(record.value)?.expirationTime
      if (expiration !== undefined && expiration > nowS) continue
      try {
        await record.remove()
        this.counts.removed++
      } catch {}
    }
  }

  private async consider (record: StoredRecord, sink: HeartbeatSink): Promise<void> {
    const peer = peerIdFromHeartbeatKey(record.key)
    if (peer === undefined) return
    const held = sink.held(peer)
    const peek = peekHeartbeat(record.value)
    if (held !== undefined && peek !== undefined && peek.seq <= held.seq) return
    try {
      this.counts.validated++
      const { payload } = await validateHeartbeat(record.value, { subnetId: this.node.subnetId, expectedPeerId: peer })
      sink.offer({ entry: toHeartbeatEntry(payload), seq: payload.seq }, STORE_SOURCE)
    } catch (err) {
      if (err instanceof HeartbeatRejectedError && err.reason === 'expired') {
        // Records the DHT accepted earlier age out here: not a rejection, just garbage.
        try {
          await record.remove()
          this.counts.removed++
        } catch {}
        return
      }
      sink.reject(STORE_SOURCE, err instanceof HeartbeatRejectedError ? err.reason : 'malformed', peer, (err as Error).message)
    }
  }

  /**
   * Subnet peers we know (peer store with our kad protocol) whose heartbeat we do not hold, and
   * that we have reason to think are up: connected now, or last dialled with success (issue 12).
   * A peer known only from an inbound connection that has closed, or whose last dial failed, is
   * not looked up: each get is a DHT query whose closest peers are, after a flood of fake members,
   * those departed peers, and libp2p dials each on up to maxPeerAddrsToDial addresses; looking
   * every departed peer up every round kept the node dialling the dead for good. A live peer
   * brings its heartbeat by push or by a put when it comes back.
   */
  private async missingPeers (sink: HeartbeatSink): Promise<string[]> {
    const nowS = Date.now() / 1000
    const libp2p = this.node.libp2p
    const connected = new Set(libp2p.getConnections().map((c) => c.remotePeer.toString()))
    const peers = await libp2p.peerStore.all({
      filters: [(p) => p.protocols.includes(this.node.kadProtocol)]
    })
    return peers
      .filter((p) => connected.has(p.id.toString()) || lastDialSucceeded(p.metadata))
      .map((p) => p.id.toString())
      .filter((id) => id !== this.node.peerId)
      .filter((id) => {
        const h = sink.held(id)
        return h === undefined || h.entry.expiration_time <= nowS
      })
  }

  /** Bounded, targeted gets (SPEC §5): at most MAX_GETS_PER_ROUND, GET_CONCURRENCY at a time. */
  private async lookupMissing (sink: HeartbeatSink): Promise<void> {
    if (!this.node.isDhtReady()) return
    const queue = (await this.missingPeers(sink)).slice(0, MAX_GETS_PER_ROUND)
    const worker = async (): Promise<void> => {
      for (let peer = queue.shift(); peer !== undefined && this.running; peer = queue.shift()) {
        await this.getOne(peer, sink)
      }
    }
    await Promise.all(Array.from({ length: GET_CONCURRENCY }, worker))
  }

  /**
   * kad-dht's `get` yields its VALUE only after the whole query ends (and throws if a
   * correction cannot be sent), so read the records from the peer responses as they arrive
   * and stop at the first valid one: pushes and later rounds bring anything newer.
   */
  private async getOne (peer: string, sink: HeartbeatSink): Promise<void> {
    const started = performance.now()
    const query = new AbortController()
    const bound = deadline(GET_TIMEOUT_MS, this.abort.signal, query.signal)
    const signal = bound.signal
    let best: HeartbeatPayload | undefined
    try {
      for await (const event of this.node.dht.get(heartbeatKey(peer), { signal })) {
        const value = event.name === 'PEER_RESPONSE' ? event.record?.value : event.name === 'VALUE' ? event.value : undefined
        if (value === undefined) continue
        try {
          // kad-dht has run the validator on it; run the one function again for the expiry
          // and the payload.
          best = (await validateHeartbeat(value, { subnetId: this.node.subnetId, expectedPeerId: peer })).payload
          break
        } catch {}
      }
    } catch (err) {
      if (this.running && best === undefined) this.log.debug('DHT get failed', { peer, err })
    } finally {
      query.abort()
      bound.clear()
      this.queryLatency?.observe((performance.now() - started) / 1000)
    }
    if (best !== undefined && this.running) sink.offer({ entry: toHeartbeatEntry(best), seq: best.seq }, DHT_SOURCE)
  }
}

/**
 * libp2p's dial queue records `last-dial-success` / `last-dial-failure` (ms since the epoch, as
 * decimal text) in the peer store's metadata; true when a success is recorded and no later failure.
 */
function lastDialSucceeded (metadata: Map<string, Uint8Array>): boolean {
  const at = (key: string): number => {
    const value = metadata.get(key)
    return value === undefined ? NaN : Number(uint8ArrayToString(value))
  }
  const success = at(LAST_DIAL_SUCCESS_KEY)
  if (Number.isNaN(success)) return false
  const failure = at(LAST_DIAL_FAILURE_KEY)
  return Number.isNaN(failure) || success >= failure
}

