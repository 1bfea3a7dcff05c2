/**
 * The sidecar side of SPEC §5: keeps the newest unexpired heartbeat per peer from any number of
 * heartbeat *sources* (native: pushes and the DHT, src/heartbeat/sources; the subnet template's
 * gossipsub, src/template), drops expired ones, and counts rejections by source and reason.
 * A new source implements `HeartbeatSource` and is passed in `components.sources`.
 *
 * Member caps (issue 12 item 2, SPEC §5): at most `maxHeartbeats` peers held, at most
 * `maxHeartbeatsPerIp` per IP. The IP is the remote address of the peer's connection to this
 * node when the heartbeat first arrives (a push comes over it; a gossip or DHT heartbeat's signer
 * is usually connected too); a peer with no connection counts in one shared "unattributed" bucket,
 * so records of fresh identities put into the DHT over one connection share one IP's cap. A held
 * peer keeps its place (and bucket) until its heartbeat expires; newcomers past a cap are refused.
 */
import { silentLogger } from '../log/index.js'
import { createListeners } from '../util/listeners.js'
import { createRepeatingTask } from '../util/task.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { MemberCaps, RefusalMemo, connectionIp, ipBucket } from '../util/member-caps.js'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  CAP_REFUSAL_LOG_WINDOW_MS, DEFAULT_SWEEP_INTERVAL_MS, MAX_HEARTBEATS, MAX_HEARTBEATS_PER_IP, MAX_UNATTRIBUTED_HEARTBEATS, REJECTION_LOG_WINDOW_MS
} from './constants.js'
import { createHeartbeatRejections } from './rejections.js'
import type { CollectedHeartbeat, CollectorComponents, CollectorInit, HeartbeatCollector, HeartbeatSink, HeartbeatSource } from './index.js'
import type { HeartbeatEntry } from './model.js'
import type { HeartbeatRejections } from './rejections.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { CapRefusal } from '../util/member-caps.js'
import type { RepeatingTask } from '../util/task.js'
import type { WindowedLog } from '../util/windowed-log.js'
import type { PeerAdmission } from '../view/index.js'

export class DefaultHeartbeatCollector implements HeartbeatCollector {
  private readonly log: Logger
  private readonly sweepIntervalMs: number
  private readonly sources: readonly HeartbeatSource[]
  private readonly rejectionCounts: HeartbeatRejections
  private readonly held = new Map<string, CollectedHeartbeat>()
  private readonly node: SubnetNode
  private readonly caps: MemberCaps
  /** Refusals counted, per peer and `seq` (a record re-offered unchanged by each store scan counts once). */
  private readonly refused: RefusalMemo
  private readonly refusedLog: WindowedLog
  private readonly unstakedLog: WindowedLog
  private readonly listeners = createListeners<[]>((err) => { this.log.warn('heartbeat change listener failed', { err }) })
  private readonly sink: HeartbeatSink
  private readonly admission?: PeerAdmission
  private unsubscribeAdmission?: () => void
  private started: HeartbeatSource[] = []
  private sweeper?: RepeatingTask
  private cached: HeartbeatEntry[] | undefined

  constructor (init: CollectorInit, components: CollectorComponents & { sources: HeartbeatSource[] }) {
    this.log = init.logger ?? silentLogger
    this.sweepIntervalMs = init.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    this.sources = components.sources
    this.node = components.node
    this.admission = components.admission
    const maxHeartbeats = init.maxHeartbeats ?? MAX_HEARTBEATS
    this.refused = new RefusalMemo(maxHeartbeats)
    this.caps = new MemberCaps({
      maxTotal: maxHeartbeats,
      maxPerIp: init.maxHeartbeatsPerIp ?? MAX_HEARTBEATS_PER_IP,
      maxUnattributed: init.maxUnattributedHeartbeats ?? MAX_UNATTRIBUTED_HEARTBEATS
    })
    this.refusedLog = createWindowedLog(this.log, 'warn', 'heartbeat refused past a member cap', CAP_REFUSAL_LOG_WINDOW_MS)
    this.unstakedLog = createWindowedLog(this.log, 'info', 'heartbeat refused: peer not staked on chain', CAP_REFUSAL_LOG_WINDOW_MS)
    this.rejectionCounts = components.rejections ?? createHeartbeatRejections({ registry: components.registry })
    for (const source of this.sources) for (const name of source.rejectionSources ?? [source.name]) this.rejectionCounts.declare(name)
    // Every rejection is counted; a flood of them is logged once per window.
    const rejectedLog = createWindowedLog(this.log, 'debug', 'heartbeat rejected', REJECTION_LOG_WINDOW_MS)
    this.sink = {
      offer: (heartbeat, source) => this.offer(heartbeat, source),
      held: (peerId) => this.held.get(peerId),
      reject: (source, reason, peer, detail, loggedBySource = false) => {
        this.rejectionCounts.record(source, reason)
        if (!loggedBySource) rejectedLog.note({ source, peer, reason, detail })
      }
    }
  }

  async start (): Promise<void> {
    if (this.sweeper !== undefined) return
    // A verdict on a held peer: a refused one's heartbeat goes, the others may now be served (or hidden).
    this.unsubscribeAdmission = this.admission?.onChange((peer, admission) => {
      if (!this.held.has(peer)) return
      if (admission === 'refused') this.drop(peer)
      this.changed()
    })
    try {
      for (const source of this.sources) {
        await source.start(this.sink)
        this.started.push(source)
      }
    } catch (err) {
      await this.stop()
      throw err
    }
    this.sweeper = createRepeatingTask(() => { this.sweep() }, {
      intervalMs: this.sweepIntervalMs, name: 'heartbeat expiry sweep', logger: this.log
    })
    this.sweeper.start()
  }

  async stop (): Promise<void> {
    const sweeper = this.sweeper
    this.sweeper = undefined
    this.unsubscribeAdmission?.()
    this.unsubscribeAdmission = undefined
    await sweeper?.stop()
    for (const source of this.started.reverse()) {
      try {
        await source.stop()
      } catch (err) {
        this.log.warn('heartbeat source failed to stop cleanly', { source: source.name, err })
      }
    }
    this.started = []
  }

  heartbeats (): HeartbeatEntry[] {
    const nowS = Date.now() / 1000
    if (this.cached !== undefined && this.cached.every((e) => e.expiration_time > nowS)) return this.cached
    const out: HeartbeatEntry[] = []
    const admission = this.admission
    for (const h of this.held.values()) {
      if (h.entry.expiration_time > nowS && (admission === undefined || admission.admission(h.entry.peer_id) === 'admitted')) out.push(h.entry)
    }
    out.sort((a, b) => a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0)
    this.cached = out
    return out
  }

  rejections (): Record<string, number> {
    return this.rejectionCounts.counts()
  }

  rejectionsBySource (): Record<string, Record<string, number>> {
    return this.rejectionCounts.bySource()
  }

  onChange (listener: () => void): () => void {
    return this.listeners.add(listener)
  }

  private changed (): void {
    this.cached = undefined
    this.listeners.emit()
  }

  /** Keeps the heartbeat if it is newer than the one held; true if the view changed. */
  private offer (heartbeat: CollectedHeartbeat, source: string): boolean {
    const peer = heartbeat.entry.peer_id
    const current = this.held.get(peer)
    if (current !== undefined && current.seq >= heartbeat.seq) return false
    if (this.admission?.admission(peer) === 'refused') {
      if (current !== undefined) {
        this.drop(peer)
        this.changed()
      }
      this.refuse(heartbeat, source, 'unstaked')
      return false
    }
    if (current === undefined) {
      const bucket = ipBucket(this.remoteIp(peer))
      const refusal = this.caps.admit(peer, bucket)
      if (refusal !== undefined) {
        this.refuse(heartbeat, source, refusal, { ip: bucket })
        return false
      }
      this.refused.forget(peer)
    }
    this.held.set(peer, heartbeat)
    this.log.debug('heartbeat accepted', { peer, state: heartbeat.entry.server.state, seq: heartbeat.seq, source })
    this.changed()
    return true
  }

  /** The remote IP of a connection to `peer`, if it is connected now. */
  private remoteIp (peer: string): string | undefined {
    if (!this.node.isStarted()) return undefined
    try {
      return connectionIp(this.node.libp2p.getConnections(peerIdFromString(peer)))
    } catch {
      return undefined
    }
  }

  /** Counts a refusal (past a cap, or not staked on chain) once per peer and seq, under the offering source. */
  private refuse (heartbeat: CollectedHeartbeat, source: string, reason: CapRefusal | 'unstaked', fields: Record<string, unknown> = {}): void {
    const peer = heartbeat.entry.peer_id
    if (!this.refused.first(peer, heartbeat.seq)) return
    this.rejectionCounts.record(source, reason)
    if (reason === 'unstaked') this.unstakedLog.note({ source, peer })
    else this.refusedLog.note({ source, peer, reason, ...fields })
  }

  private drop (peer: string): void {
    this.held.delete(peer)
    this.caps.release(peer)
  }

  /** Drops expired heartbeats and those of peers refused on chain. */
  private sweep (): void {
    const nowS = Date.now() / 1000
    let dropped = false
    for (const [peer, h] of this.held) {
      // Asking keeps the verdict fresh (re-checked past its TTL) for as long as the heartbeat is held.
      if (h.entry.expiration_time <= nowS || this.admission?.admission(peer) === 'refused') {
        this.drop(peer)
        dropped = true
      }
    }
    if (dropped) this.changed()
  }
}
