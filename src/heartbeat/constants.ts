/** Defaults of the heartbeat publisher and collector (SPEC §4, §5). */

/** The collector's push protocol (SPEC §5): publishers push each record to it. */
export const heartbeatProtocol = (subnetId: string): string => `/subnet/${subnetId}/heartbeat/1.0.0`
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000
export const DEFAULT_ROLE = 'VALIDATOR'
export const DEFAULT_THROUGHPUT = 1.0
/** A record expires about two intervals ahead (SPEC §5) ... */
export const HEARTBEAT_TTL_INTERVALS = 2
/** ... but never sooner than this, so a busy collector does not drop a fresh record ... */
export const MIN_HEARTBEAT_TTL_S = 10
/** ... and never later than MAX_HEARTBEAT_TTL_S minus this margin for clock skew. */
export const HEARTBEAT_TTL_SKEW_MARGIN_S = 60
/** `next_pings` covers up to this many other subnet peers (SPEC §5). */
export const MAX_PING_PEERS = 5
/** Weight of a new RTT sample in the smoothed value (exponential moving average). */
export const PING_SMOOTHING = 0.3
export const PING_TIMEOUT_MS = 5_000
/** Bound of one DHT put (every put waits for a non-empty routing table). */
export const PUT_TIMEOUT_MS = 30_000
/** Bound of one push (dial, write, ack). */
export const PUSH_TIMEOUT_MS = 5_000
/** Bound of the OFFLINE round on stop (push and put together). */
export const STOP_PUBLISH_TIMEOUT_MS = 3_000

/** Collector: how often expired heartbeats are dropped (records are read as the DHT stores them). */
export const DEFAULT_SWEEP_INTERVAL_MS = 5_000
/**
 * Collector: how often the DHT store is swept for expired records. Only the sweep walks the whole
 * store; new records are read as the DHT stores them (issue 12 item 4).
 */
export const DEFAULT_STORE_SWEEP_INTERVAL_MS = 5 * 60_000
/** Collector: how often known-but-missing peers are looked up in the DHT. */
export const DEFAULT_LOOKUP_INTERVAL_MS = 30_000
/** Collector: at most this many DHT gets per lookup round, this many at a time, each bounded. */
export const MAX_GETS_PER_ROUND = 16
export const GET_CONCURRENCY = 2
export const GET_TIMEOUT_MS = 10_000
/**
 * Collector: a push stream must deliver its record within this time, or it is aborted (an idle
 * stream costs nothing past it) and counted as `timeout` (docs/PROTOCOL.md §5).
 */
export const PUSH_READ_TIMEOUT_MS = 5_000
/**
 * Collector: push streams open at once from one connection; more are reset unread and counted as
 * `too-many-streams`. A publisher pushes one record at a time, so a few is plenty.
 */
export const MAX_PUSH_STREAMS_PER_CONNECTION = 4
/**
 * Collector: push streams open at once over all connections (each holds ~26 KB of stream and
 * muxer state while it waits, so this bounds an idle-stream flood to a few MB).
 */
export const MAX_PUSH_STREAMS = 256
/**
 * libp2p's own per-connection limit for the protocol, a backstop above ours: libp2p resets a
 * stream past it before the handler runs, so it cannot be counted; ours refuses first and counts.
 */
export const MAX_INBOUND_PUSH_STREAMS = 2 * MAX_PUSH_STREAMS_PER_CONNECTION
/** Collector: refused push streams are logged at most once per this window, with the count. */
export const PUSH_REFUSAL_LOG_WINDOW_MS = 10_000
/** Push ack bytes (docs/PROTOCOL.md). */
export const ACK_ACCEPTED = 0x00
export const ACK_REJECTED = 0x01
/** Collector: rejected records are logged (at debug level) at most once per this window, with the count. */
export const REJECTION_LOG_WINDOW_MS = 10_000
/**
 * Collector: heartbeats held at once, all peers together (issue 12 item 2; SPEC §5 "Member caps").
 * Past it a newcomer's heartbeat is refused (`total-cap`); members already held keep their place.
 */
export const MAX_HEARTBEATS = 10_000
/**
 * Collector: heartbeats held at once from one IP (an IPv6 /64; for peers not connected now see
 * MAX_UNATTRIBUTED_HEARTBEATS). Past it a newcomer's heartbeat is refused (`ip-cap`). Generous for
 * several nodes behind one NAT, small beside MAX_HEARTBEATS so one host cannot fill the view.
 */
export const MAX_HEARTBEATS_PER_IP = 64
/**
 * Collector: heartbeats held at once from peers with no connection to this node (template
 * heartbeats relayed through the gossip mesh; DHT records of peers not reconnected after a
 * restart). Honest subnets have many of these, so this bucket is not capped like one IP; it still
 * bounds what one host can add through DHT records or relayed messages of fresh identities.
 */
export const MAX_UNATTRIBUTED_HEARTBEATS = 1024
/** Collector: heartbeats refused past a cap are logged (warn) at most once per this window, with the count. */
export const CAP_REFUSAL_LOG_WINDOW_MS = 10_000
