/**
 * Every peer seen in the subnet (SPEC §1 `/v1/get_peers_info`): connected now, or seen
 * within `--peer-ttl`, with its listen multiaddrs from the peer store (what identify
 * reported, not the ephemeral port of an inbound connection). A peer belongs to the subnet
 * when it speaks the subnet's DHT protocol. "Last seen" is kept in the peer store's
 * metadata, so with `--data-dir` the bootnode remembers peers across restarts.
 *
 * Bounds (issue 12 item 2, SPEC §5 "Member caps"): only addresses another node could dial are
 * listed, deduplicated, at most MAX_ADDRS_PER_PEER per peer; at most `maxPeersPerIp` peers per IP
 * (IPv6: per /64) and `maxPeers` in total. A listed peer keeps its place until it ages out; a
 * newcomer past a cap is not listed, counted in `subnet_bootnode_peers_refused_total{reason}`
 * and logged once per window.
 */
import { DefaultPeerCollector } from './collector.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { PeerAdmission, PeerEntry } from '../view/index.js'
import type { Registry } from 'prom-client'

export { LAST_SEEN_METADATA_KEY, MAX_ADDRS_PER_PEER, MAX_PEERS, MAX_PEERS_PER_IP } from './constants.js'

export interface PeerCollectorInit {
  /** A disconnected peer stays listed this long after it was last seen. Default 1 h (SPEC §4 `--peer-ttl`). */
  peerTtlMs?: number
  /** How often the list is re-checked for peers that aged out. Default 10 s. */
  sweepIntervalMs?: number
  /**
   * List loopback and private (RFC 1918, ULA, CGNAT) addresses too, as the node keeps them in its
   * DHT (SPEC §4 `--allow-private-addrs`). Unspecified, link-local, multicast and broadcast ones
   * are never listed. Default false.
   */
  allowPrivateAddrs?: boolean
  /** Peers listed at once; newcomers past it are refused (`total-cap`). Default MAX_PEERS (10,000). */
  maxPeers?: number
  /** Peers listed at once per IP (IPv6: per /64); newcomers past it are refused (`ip-cap`). Default MAX_PEERS_PER_IP (64). */
  maxPeersPerIp?: number
  logger?: Logger
}

export interface PeerCollectorComponents {
  node: SubnetNode
  /**
   * Peers that are subnet members without speaking the native DHT protocol (issue 11: a template
   * node that published a valid heartbeat for this subnet). Default none.
   */
  members?: SubnetMembers
  /**
   * Which peers may be listed (chain-aware mode: staked ones, SPEC §4 `--chain-rpc`): a `pending`
   * peer is held but not listed, a `refused` one is dropped. Default every peer.
   */
  admission?: PeerAdmission
  /** Where the collector's series go (`/metrics`): peers refused past a cap, by reason. */
  registry?: Registry
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
