import { silentLogger } from '../log/index.js'
// A pure function of the p2p folder, read only: the same rule decides which of our own addresses
// are bootnodes and which of a peer's are listed (one home for "dialable").
import { dialableAddrs } from '../util/dialable.js'
import { createListeners } from '../util/listeners.js'
import { MemberCaps, RefusalMemo, UNATTRIBUTED_BUCKET, connectionIp, firstIp, ipBucket } from '../util/member-caps.js'
import { registerMirroredCounter } from '../util/metrics.js'
import { createRepeatingTask } from '../util/task.js'
import { createWindowedLog } from '../util/windowed-log.js'
import {
  DEFAULT_PEER_SWEEP_INTERVAL_MS, DEFAULT_PEER_TTL_MS, LAST_SEEN_METADATA_KEY, MAX_ADDRS_PER_PEER, MAX_PEERS,
  MAX_PEERS_PER_IP, OBSERVED_IP_METADATA_KEY, PEER_REFUSAL_LOG_WINDOW_MS
} from './constants.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerCollector, PeerCollectorComponents, PeerCollectorInit, SubnetMembers } from './index.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { CapRefusal } from '../util/member-caps.js'
import type { RepeatingTask } from '../util/task.js'
import type { WindowedLog } from '../util/windowed-log.js'
import type { PeerAdmission, PeerEntry } from '../view/index.js'
import type { IdentifyResult, Peer, PeerId, PeerUpdate } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { DEFAULT_PEER_SWEEP_INTERVAL_MS, DEFAULT_PEER_TTL_MS, LAST_SEEN_METADATA_KEY } from './constants.js'
/** Multiaddrs a client can use to reach or locate a peer (SPEC §1): IPv4, IPv6, DNS. */
const LISTED_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'])

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class DefaultPeerCollector implements PeerCollector {
  private readonly node: SubnetNode
  private readonly members?: SubnetMembers
  private unsubscribeMembers?: () => void
  private readonly admission?: PeerAdmission
  private unsubscribeAdmission?: () => void
  private readonly log: Logger
  private readonly ttlMs: number
  /** Drops expired peers; a peer TTL below the sweep interval is swept at the TTL (at least every 100 ms). */
  private readonly sweeper: RepeatingTask
  private readonly entries = new Map<string, PeerEntry>()
  private readonly allowPrivateAddrs: boolean
  private readonly caps: MemberCaps
  /** Peers refused past a cap, each counted once until it is listed. */
  private readonly refused: RefusalMemo
  private readonly refusals: Record<CapRefusal, number> = { 'ip-cap': 0, 'total-cap': 0 }
  private readonly refusedLog: WindowedLog
  private readonly listeners = createListeners<[]>((err) => { this.log.warn('peer change listener failed', { err }) })
  private running = false
  private cached?: PeerEntry[]
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (this.isMember(evt.detail.peerId, evt.detail.protocols)) void this.touch(evt.detail.peerId)
  }

  private readonly onUpdate = (evt: CustomEvent<PeerUpdate>): void => {
    const peer = evt.detail.peer
    if (this.isMember(peer.id, peer.protocols)) this.upsert(peer)
  }

  /** A subnet member: speaks the native DHT protocol, or is one by `members` (a template node). */
  private isMember (id: PeerId, protocols: readonly string[]): boolean {
    return protocols.includes(this.node.kadProtocol) || this.members?.isMember(id.toString()) === true
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (this.entries.has(evt.detail.toString())) void this.touch(evt.detail)
  }

  constructor (init: PeerCollectorInit, components: PeerCollectorComponents) {
    this.node = components.node
    this.members = components.members
    this.admission = components.admission
    this.log = init.logger ?? silentLogger
    this.ttlMs = init.peerTtlMs ?? DEFAULT_PEER_TTL_MS
    this.allowPrivateAddrs = init.allowPrivateAddrs ?? false
    const maxPeers = init.maxPeers ?? MAX_PEERS
    this.refused = new RefusalMemo(maxPeers)
    this.caps = new MemberCaps({ maxTotal: maxPeers, maxPerIp: init.maxPeersPerIp ?? MAX_PEERS_PER_IP })
    this.refusedLog = createWindowedLog(this.log, 'warn', 'peer not listed past a member cap', PEER_REFUSAL_LOG_WINDOW_MS)
    if (components.registry !== undefined) {
      registerMirroredCounter(components.registry, 'subnet_bootnode_peers_refused_total',
        'Subnet peers not listed because a member cap was full, by reason', 'reason', () => ({ ...this.refusals }))
    }
    const sweepIntervalMs = init.sweepIntervalMs ?? DEFAULT_PEER_SWEEP_INTERVAL_MS
    this.sweeper = createRepeatingTask(() => { this.sweep() }, {
      intervalMs: Math.min(sweepIntervalMs, Math.max(this.ttlMs, 100)),
      logger: this.log,
      name: 'peer sweep'
    })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const events = this.node.libp2p
    events.addEventListener('peer:identify', this.onIdentify)
    events.addEventListener('peer:update', this.onUpdate)
    events.addEventListener('peer:disconnect', this.onDisconnect)
    this.unsubscribeMembers = this.members?.onMember((id) => { void this.touch(peerIdFromString(id)) })
    // A verdict on a held peer: refused ones go, the others may now be listed (or hidden).
    this.unsubscribeAdmission = this.admission?.onChange((id, admission) => {
      if (admission === 'refused') {
        if (this.remove(id)) this.changed()
      } else if (this.entries.has(id)) {
        this.changed()
      }
    })
    // Peers remembered from an earlier run (persistent peer store) come back here.
    // The most recently seen first, so the caps keep those.
    const known = await this.node.libp2p.peerStore.all({ filters: [(p) => this.isMember(p.id, p.protocols)] })
    known.sort((a, b) => storedLastSeen(b) - storedLastSeen(a))
    for (const peer of known) this.upsert(peer, false)
    this.sweep()
    this.sweeper.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.sweeper.stop()
    this.unsubscribeMembers?.()
    this.unsubscribeAdmission?.()
    const events = this.node.libp2p
    events.removeEventListener('peer:identify', this.onIdentify)
    events.removeEventListener('peer:update', this.onUpdate)
    events.removeEventListener('peer:disconnect', this.onDisconnect)
    // Remember when connected peers were last seen, for the next run.
    if (this.node.isStarted()) {
      await Promise.allSettled(this.node.libp2p.getConnections().map(async (c) => {
        if (this.entries.has(c.remotePeer.toString())) await this.persistLastSeen(c.remotePeer, Date.now())
      }))
    }
  }

  peers (): PeerEntry[] {
    if (this.cached !== undefined) return this.cached
    const admission = this.admission
    const listed = admission === undefined ? [...this.entries.values()] : [...this.entries.values()].filter((e) => admission.admission(e.peerId) === 'admitted')
    const out = listed.sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
    this.cached = out
    return out
  }

  onChange (listener: () => void): () => void {
    return this.listeners.add(listener)
  }

  private changed (): void {
    this.cached = undefined
    this.listeners.emit()
  }

  private isConnected (id: PeerId): boolean {
    return this.node.isStarted() && this.node.libp2p.getConnections(id).length > 0
  }

  /** Records "seen now" in the peer store, then refreshes the entry from it. */
  private async touch (id: PeerId): Promise<void> {
    if (!this.running) return
    try {
      const peer = await this.persistLastSeen(id, Date.now())
      if (peer !== undefined) this.upsert(peer)
    } catch (err) {
      this.log.debug('could not update peer', { peer: id.toString(), err })
    }
  }

  /** Records when the peer was last seen and, if connected, the IP it is connected from. */
  private async persistLastSeen (id: PeerId, when: number): Promise<Peer | undefined> {
    if (!this.node.isStarted()) return undefined
    const metadata: Record<string, Uint8Array> = { [LAST_SEEN_METADATA_KEY]: encoder.encode(String(when)) }
    const ip = connectionIp(this.node.libp2p.getConnections(id))
    if (ip !== undefined) metadata[OBSERVED_IP_METADATA_KEY] = encoder.encode(ip)
    return this.node.libp2p.peerStore.merge(id, { metadata })
  }

  /**
   * The IP a peer counts under: of its connection now, else the one it was last connected from,
   * else its first listed address (a peer the DHT told us of), else none.
   */
  private bucketOf (peer: Peer, addrs: readonly Multiaddr[]): string {
    const connected = this.node.isStarted() ? connectionIp(this.node.libp2p.getConnections(peer.id)) : undefined
    if (connected !== undefined) return ipBucket(connected)
    const observed = peer.metadata.get(OBSERVED_IP_METADATA_KEY)
    if (observed !== undefined) return ipBucket(decoder.decode(observed))
    return ipBucket(firstIp(addrs))
  }

  /** Counts a newcomer refused past a cap, once until it is listed. */
  private refuse (id: string, reason: CapRefusal, bucket: string): void {
    if (!this.refused.first(id)) return
    this.refusals[reason] += 1
    this.refusedLog.note({ peer: id, reason, ip: bucket === UNATTRIBUTED_BUCKET ? undefined : bucket })
  }

  private remove (id: string): boolean {
    this.caps.release(id)
    return this.entries.delete(id)
  }

  /** Adds or refreshes a subnet peer; emits a change only if the list or its addresses changed. */
  private upsert (peer: Peer, emit = true): void {
    const id = peer.id.toString()
    if (id === this.node.peerId) return
    if (this.admission?.admission(id) === 'refused') {
      if (this.remove(id) && emit) this.changed()
      return
    }
    const connected = this.isConnected(peer.id)
    const lastSeen = connected ? Date.now() : storedLastSeen(peer)
    if (!connected && lastSeen < Date.now() - this.ttlMs) {
      if (this.remove(id) && emit) this.changed()
      return
    }
    const addrs = listenAddrs(peer, this.allowPrivateAddrs)
    const previous = this.entries.get(id)
    if (previous === undefined) {
      const bucket = this.bucketOf(peer, addrs)
      const refusal = this.caps.admit(id, bucket)
      if (refusal !== undefined) {
        this.refuse(id, refusal, bucket)
        return
      }
      this.refused.forget(id)
    }
    const multiaddrs = addrs.map((ma) => withoutPeerId(ma, id))
    this.entries.set(id, { peerId: id, multiaddrs, lastSeen })
    if (previous === undefined || previous.multiaddrs.join(' ') !== multiaddrs.join(' ')) {
      this.cached = undefined
      if (emit) this.changed()
    }
  }

  /** Drops peers that are disconnected and were last seen before the TTL. */
  private sweep (): void {
    if (!this.running) return
    const now = Date.now()
    let dropped = false
    const connected = new Set(this.node.isStarted() ? this.node.libp2p.getConnections().map((c) => c.remotePeer.toString()) : [])
    for (const [id, entry] of this.entries) {
      // Asking keeps the verdict fresh (re-checked past its TTL) for as long as the peer is held.
      if (this.admission?.admission(id) === 'refused') {
        this.remove(id)
        dropped = true
      } else if (connected.has(id)) {
        entry.lastSeen = now
      } else if (entry.lastSeen < now - this.ttlMs) {
        this.remove(id)
        dropped = true
      }
    }
    if (dropped) this.changed()
  }
}

function storedLastSeen (peer: Peer): number {
  const stored = Number(decoder.decode(peer.metadata.get(LAST_SEEN_METADATA_KEY) ?? new Uint8Array()))
  return Number.isFinite(stored) && stored > 0 ? stored : 0
}

/**
 * The peer's addresses a client could use to reach or locate it (SPEC §1): IP or DNS ones that
 * another node could dial (`dialableAddrs`), deduplicated (with and without the `/p2p/<id>`
 * suffix are one), sorted, at most MAX_ADDRS_PER_PEER.
 */
function listenAddrs (peer: Peer, allowPrivate: boolean): Multiaddr[] {
  const id = peer.id.toString()
  const listed = peer.addresses.map((a) => a.multiaddr).filter((ma) => {
    const first = ma.getComponents()[0]
    return first !== undefined && LISTED_PROTOCOLS.has(first.name)
  })
  const unique = new Map<string, Multiaddr>()
  for (const ma of dialableAddrs(listed, allowPrivate)) {
    const key = withoutPeerId(ma, id)
    if (!unique.has(key)) unique.set(key, ma)
  }
  return [...unique].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).slice(0, MAX_ADDRS_PER_PEER).map(([, ma]) => ma)
}

function withoutPeerId (ma: Multiaddr, id: string): string {
  const suffix = `/p2p/${id}`
  const s = ma.toString()
  return s.endsWith(suffix) ? s.slice(0, -suffix.length) : s
}
