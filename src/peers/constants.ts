/** Defaults and bounds of the peer collector (SPEC §4 `--peer-ttl`, §5 "Member caps"). */

export const DEFAULT_PEER_TTL_MS = 60 * 60 * 1000
export const DEFAULT_PEER_SWEEP_INTERVAL_MS = 10_000
/** Peer store metadata key holding the Unix ms a subnet peer was last seen, as decimal text. */
export const LAST_SEEN_METADATA_KEY = 'subnet-bootnode/last-seen'
/**
 * Peer store metadata key holding the remote IP a subnet peer was last connected from, so a peer
 * remembered across a restart (`--data-dir`) counts under the IP it really came from, not one it
 * announced.
 */
export const OBSERVED_IP_METADATA_KEY = 'subnet-bootnode/observed-ip'
/**
 * Peers listed at once, all IPs together (issue 12 item 2). Past it a newcomer is not listed
 * (`total-cap`); peers already listed keep their place until they age out.
 */
export const MAX_PEERS = 10_000
/**
 * Peers listed at once per IP (an IPv6 /64): the IP of its connection, else the one it was last
 * connected from, else its first listed address. Past it a newcomer from that IP is not listed
 * (`ip-cap`).
 */
export const MAX_PEERS_PER_IP = 64
/**
 * Multiaddrs listed per peer, after dropping those no other node could dial and duplicates: a
 * node has a few listen addresses per transport and family; 200 junk ones made a 33 MB body.
 */
export const MAX_ADDRS_PER_PEER = 16
/** Peers refused past a cap are logged (warn) at most once per this window, with the count. */
export const PEER_REFUSAL_LOG_WINDOW_MS = 10_000
