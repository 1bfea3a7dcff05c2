import { silentLogger } from '../log/index.js'
import { createListeners } from '../util/listeners.js'
import { createRepeatingTask } from '../util/task.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerCollector, PeerCollectorComponents, PeerCollectorInit, SubnetMembers } from './index.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { PeerEntry } from '../view/index.js'
import type { IdentifyResult, Peer, PeerId, PeerUpdate } from '@libp2p/interface'

export const DEFAULT_PEER_TTL_MS = 60 * 60 * 1000
export const DEFAULT_PEER_SWEEP_INTERVAL_MS = 10_000
/** Peer store metadata key holding the Unix ms a subnet peer was last seen, as decimal text. */
export const LAST_SEEN_METADATA_KEY = 'subnet-bootnode/last-seen'
/** Multiaddrs a client can use to reach or locate a peer (SPEC §1): IPv4, IPv6, DNS. */
const LISTED_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'])

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class DefaultPeerCollector implements PeerCollector {
  private readonly node: SubnetNode
  private readonly members?: SubnetMembers
  private unsubscribeMembers?: () => void
  private readonly log: Logger
  private readonly ttlMs: number
  /** Drops expired peers; a peer TTL below the sweep interval is swept at the TTL (at least every 100 ms). */
  private readonly sweeper: RepeatingTask
  private readonly entries = new Map<string, PeerEntry>()
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
    this.log = init.logger ?? silentLogger
    this.ttlMs = init.peerTtlMs ?? DEFAULT_PEER_TTL_MS
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
    // Peers remembered from an earlier run (persistent peer store) come back here.
    const known = await this.node.libp2p.peerStore.all({ filters: [(p) => this.isMember(p.id, p.protocols)] })
    for (const peer of known) this.upsert(peer, false)
    this.sweep()
    this.sweeper.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.sweeper.stop()
    this.unsubscribeMembers?.()
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
    const out = [...this.entries.values()].sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
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

  private async persistLastSeen (id: PeerId, when: number): Promise<Peer | undefined> {
    if (!this.node.isStarted()) return undefined
    return this.node.libp2p.peerStore.merge(id, { metadata: { [LAST_SEEN_METADATA_KEY]: encoder.encode(String(when)) } })
  }

  /** Adds or refreshes a subnet peer; emits a change only if the list or its addresses changed. */
  private upsert (peer: Peer, emit = true): void {
    const id = peer.id.toString()
    if (id === this.node.peerId) return
    const connected = this.isConnected(peer.id)
    const stored = Number(decoder.decode(peer.metadata.get(LAST_SEEN_METADATA_KEY) ?? new Uint8Array()))
    const lastSeen = connected ? Date.now() : (Number.isFinite(stored) && stored > 0 ? stored : 0)
    if (!connected && lastSeen < Date.now() - this.ttlMs) {
      if (this.entries.delete(id) && emit) this.changed()
      return
    }
    const multiaddrs = listenAddrs(peer, id)
    const previous = this.entries.get(id)
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
      if (connected.has(id)) {
        entry.lastSeen = now
      } else if (entry.lastSeen < now - this.ttlMs) {
        this.entries.delete(id)
        dropped = true
      }
    }
    if (dropped) this.changed()
  }
}

function listenAddrs (peer: Peer, id: string): string[] {
  const suffix = `/p2p/${id}`
  const out = new Set<string>()
  for (const { multiaddr } of peer.addresses) {
    const first = multiaddr.getComponents()[0]
    if (first === undefined || !LISTED_PROTOCOLS.has(first.name)) continue
    let s = multiaddr.toString()
    if (s.endsWith(suffix)) s = s.slice(0, -suffix.length)
    out.add(s)
  }
  return [...out].sort()
}
