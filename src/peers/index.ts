/**
 * Every peer seen in the subnet (SPEC §1 `/v1/get_peers_info`): connected now, or seen
 * within `--peer-ttl`, with its listen multiaddrs from the peer store (what identify
 * reported, not the ephemeral port of an inbound connection). A peer belongs to the subnet
 * when it speaks the subnet's DHT protocol. "Last seen" is kept in the peer store's
 * metadata, so with `--data-dir` the bootnode remembers peers across restarts.
 */
import { DefaultPeerCollector } from './collector.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { PeerEntry } from '../view/index.js'

export { LAST_SEEN_METADATA_KEY } from './collector.js'

export interface PeerCollectorInit {
  /** A disconnected peer stays listed this long after it was last seen. Default 1 h (SPEC §4 `--peer-ttl`). */
  peerTtlMs?: number
  /** How often the list is re-checked for peers that aged out. Default 10 s. */
  sweepIntervalMs?: number
  logger?: Logger
}

export interface PeerCollectorComponents {
  node: SubnetNode
  /**
   * Peers that are subnet members without speaking the native DHT protocol (issue 11: a template
   * node that published a valid heartbeat for this subnet). Default none.
   */
  members?: SubnetMembers
}

/** A second way to be a subnet member, besides speaking `/subnet/<id>/kad/1.0.0`. */
export interface SubnetMembers {
  isMember: (peerId: string) => boolean
  /** Called with a peer id when it becomes a member; returns an unsubscribe function. */
  onMember: (listener: (peerId: string) => void) => () => void
}

export interface PeerCollector {
  /** Subscribes to the node's peer events; idempotent. Start after the node. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Subnet peers (not this node), sorted by peer id. */
  peers: () => PeerEntry[]
  /** Called whenever `peers()` may have changed; returns an unsubscribe function. */
  onChange: (listener: () => void) => () => void
}

export function createPeerCollector (init: PeerCollectorInit, components: PeerCollectorComponents): PeerCollector {
  return new DefaultPeerCollector(init, components)
}
