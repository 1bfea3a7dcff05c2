/** Defaults and bounds of the DAG sync server (src/template/dag-sync.ts), one home each. */

/** libp2p protocol id of the template's DAG sync (`subnet/protocols/dag_sync_protocol.py` PROTOCOL_ID). */
export const DAG_SYNC_PROTOCOL = '/subnet/merkle_dag_sync_protocol/1.0.0'
/** Verified peer-state nodes kept for serving: about 1.5 KB each, so 4096 ≈ 6 MB. */
export const DEFAULT_DAG_MAX_NODES = 4096
/**
 * A request frame above this is refused before it is read. Template requests are an
 * inventory request (its head ids) or a fetch of at most 32 ids (`max_fetch_batch`): a few KB.
 */
export const MAX_DAG_SYNC_REQUEST_BYTES = 256 * 1024
/** Time for the requester to send its one request frame. */
export const DAG_SYNC_READ_TIMEOUT_MS = 10_000
/** Nodes in one fetch response at most (the template asks for ≤ 32 with depth 0). */
export const MAX_DAG_FETCH_NODES = 256
/** `max_ancestor_depth` is clamped to this (the template sends 0). */
export const MAX_DAG_FETCH_DEPTH = 64
/** Concurrent inbound sync streams; for the caller's `libp2p.handle(..., { maxInboundStreams })`. */
export const MAX_INBOUND_DAG_SYNC_STREAMS = 32
/** Roles of the stock template's `PeerRole` enum (VALIDATOR = 0): the only ones its nodes accept. */
export const DEFAULT_SERVABLE_ROLES: readonly number[] = [0]
/** Default `--template-heartbeat-ttl`: two template epochs (20 blocks × 6 s each). */
export const DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS = 240_000

// ---- the template publisher (src/template/publisher.ts) ----

/** Seconds per block of the template's local mock chain (subnet/hypertensor/config.py BLOCK_SECS). */
export const TEMPLATE_BLOCK_SECS = 6
/** Blocks per epoch (the mock chain's epoch length, and the fallback in `publish_heartbeat_loop`). */
export const TEMPLATE_EPOCH_BLOCKS = 20
/** The subnet slot of the mock chain: the epoch starts that many blocks late. */
export const TEMPLATE_MOCK_SLOT = 3
/** One heartbeat per epoch (`HEARTBEATS_PER_EPOCH = 1`): 20 blocks × 6 s. */
export const DEFAULT_TEMPLATE_HEARTBEAT_INTERVAL_MS = TEMPLATE_EPOCH_BLOCKS * TEMPLATE_BLOCK_SECS * 1000
/** The template's `publish_peer_state` loop (and its DAG publisher) sleeps 20 s. */
export const DEFAULT_TEMPLATE_PEER_STATE_INTERVAL_MS = 20_000
/** Bound on signing and sending the final OFFLINE peer_state on stop. */
export const TEMPLATE_OFFLINE_PUBLISH_TIMEOUT_MS = 2_000
/** Time left for the OFFLINE message to leave before the node closes its connections (the harness waits 1 s). */
export const DEFAULT_TEMPLATE_OFFLINE_SETTLE_MS = 500
/** `subnet_node_id` when none is given (`--subnet-node-id`; the harness's default too). */
export const DEFAULT_SUBNET_NODE_ID = 1
/** The chain's subnet node ids are u32; the template's models require > 0. */
export const MAX_SUBNET_NODE_ID = 2 ** 32 - 1
