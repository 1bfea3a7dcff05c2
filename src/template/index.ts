/**
 * The Hypertensor subnet template's application messages (issue 11): bytes in, typed results out,
 * and the heartbeat source that wires them to a node (source.ts: it subscribes to the topics, sets
 * their validators and registers the sync protocol; createTemplateHeartbeatSource below).
 *
 * - messages.ts: plain pydantic JSON on topics `heartbeat` and `peer_state`
 *   (parseTemplateHeartbeat, parseTemplatePeerState; 1 KiB bound), the topic names, the state
 *   and role mappings, and the one rejection error with stable reasons (TEMPLATE_REJECT_REASONS).
 * - dag.ts: the template HEAD's signed Merkle-DAG `peer_state` messages: canonicalJson (Python's
 *   canonical json.dumps byte for byte), verifyDagMessage (README steps 1–8; returns the
 *   PeerStateData, its multiaddr, node id, parents, created_at) and validatePeerStateTopicMessage
 *   (one entry point for topic `peer_state`, which carries either format).
 * - dag-sync.ts: a server for `/subnet/merkle_dag_sync_protocol/1.0.0` backed by a bounded store
 *   of verified peer-state nodes; it advertises and serves only nodes whose whole ancestry it
 *   holds (the file's header says why), so template nodes never get an orphan from it.
 *
 * What source.ts does with them:
 * - gossipsub validator, topic `heartbeat`: `parseTemplateHeartbeat(msg.data, { subnetId })`;
 *   topic `peer_state`: `await validatePeerStateTopicMessage(msg.data, { subnetId, from: msg.from.toString() })`.
 *   A TemplateMessageRejectedError means Reject (count `err.reason`); a `dag-announcement` result
 *   is valid but carries no peer state (Accept, ignore); anything else thrown is a bug.
 * - `libp2p.handle(DAG_SYNC_PROTOCOL, (s, c) => sync.handle(s, c), { maxInboundStreams:
 *   MAX_INBOUND_DAG_SYNC_STREAMS })`, and `sync.add(result.node)` for every `dag` result.
 */
import { silentLogger } from '../log/index.js'
import { requireTemplateSubnetId } from '../p2p/index.js'
import { registerMirroredCounter } from '../util/metrics.js'
import { DefaultDagSyncService } from './dag-sync.js'
import { DefaultTemplateHeartbeatSource } from './source.js'
import type { VerifiedDagNode } from './dag.js'
import type { HeartbeatSource } from '../heartbeat/index.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { SubnetMembers } from '../peers/index.js'
import type { Registry } from 'prom-client'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'

export {
  TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS, MAX_TEMPLATE_MESSAGE_BYTES,
  TEMPLATE_REJECT_REASONS, TemplateMessageRejectedError, parseTemplateHeartbeat, parseTemplatePeerState,
  templateRoleName, templateStateName
} from './messages.js'
export type {
  ParseTemplateMessageOptions, TemplateHeartbeat, TemplatePeerState, TemplateRejectReason, TemplateState, TemplateStateCode
} from './messages.js'

export {
  DAG_NAMESPACE, CanonicalJsonError, canonicalJson,
  canonicalJsonBytes, sha256Id, validatePeerStateTopicMessage, verifyDagMessage
} from './dag.js'
export type {
  DagAnnouncementResult, DagMessageResult, DagNodeHeaderWire, DagNodeWire, JsonValue, PeerStateTopicResult, VerifiedDagNode,
  VerifyDagMessageOptions
} from './dag.js'

export {
  DAG_SYNC_PROTOCOL, DEFAULT_DAG_MAX_NODES, MAX_DAG_SYNC_REQUEST_BYTES, DAG_SYNC_READ_TIMEOUT_MS, MAX_DAG_FETCH_NODES,
  MAX_INBOUND_DAG_SYNC_STREAMS
} from './constants.js'

export interface DagSyncInit {
  /** DAG namespace served. Default `general-dag` (DAG_NAMESPACE). */
  namespace?: string
  /** Nodes held at most; the oldest received is evicted first. Default DEFAULT_DAG_MAX_NODES (4096). 0 = hold none. */
  maxNodes?: number
  /** Request frame bound, checked on the length prefix. Default MAX_DAG_SYNC_REQUEST_BYTES (256 KiB). */
  maxRequestBytes?: number
  /** Time allowed to read and answer one stream. Default DAG_SYNC_READ_TIMEOUT_MS (10 s). */
  readTimeoutMs?: number
  /** Nodes per fetch response at most. Default MAX_DAG_FETCH_NODES (256). */
  maxFetchNodes?: number
  /** false: answer every inventory request with an empty summary (fetches are still served). Default true. */
  advertiseInventory?: boolean
  /** Payload roles stored and served. Default [0] (the stock template's only role; others would stall its sync). */
  servableRoles?: readonly number[]
  logger?: Logger
  /** Clock for `created_at_ms` / `generated_at_ms`. Default Date.now. */
  now?: () => number
}

export interface DagSyncComponents {
  /** This node's peer id: the `peer_id` of every response. */
  peerId: PeerId | string
}

/** `DagSummary.to_primitive()`. */
export interface DagSummaryWire {
  generated_at_ms: number
  head_ids: string[]
  namespace: string
  node_count: number
  orphan_count: number
}

export type DagAddResult = 'added' | 'duplicate' | 'refused'

/** Why a sync stream got no answer; counted in DagSyncCounts.rejected. */
export type DagSyncRejectReason = 'oversized' | 'malformed' | 'wrong_namespace' | 'unsupported_kind' | 'stream_error'

export interface DagSyncCounts {
  inventory: number
  fetch: number
  /** Nodes sent in fetch responses. */
  servedNodes: number
  rejected: Partial<Record<DagSyncRejectReason, number>>
}

export interface DagSyncService {
  /**
   * Serves one stream: reads one request (bounded, timed), writes one response, closes. Never
   * throws. `options.signal` (the owner's stop) ends a stream still open at once.
   */
  handle: (stream: Stream, connection: Connection, options?: AbortOptions) => Promise<void>
  /** Stores a node verifyDagMessage accepted ('refused': other namespace, role not servable, or maxNodes 0). */
  add: (node: VerifiedDagNode) => DagAddResult
  /** What an inventory_response carries now (only nodes with complete ancestry). */
  summary: () => DagSummaryWire
  has: (nodeId: string) => boolean
  /** Nodes held (anchored or not). */
  size: () => number
  counts: () => DagSyncCounts
}

export function createDagSyncService (init: DagSyncInit, components: DagSyncComponents): DagSyncService {
  return new DefaultDagSyncService(init, components)
}

export { DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS } from './source.js'

export interface TemplateHeartbeatSourceInit {
  /** The subnet id, as the chain's positive integer (text is accepted as `--subnet-id` gives it). */
  subnetId: number | string
  /** How long a heartbeat lives after the peer's last message. Default 240 s (two template epochs). */
  ttlMs?: number
  /** Nodes the DAG sync service keeps at most. Default DEFAULT_DAG_MAX_NODES. */
  dagMaxNodes?: number
  logger?: Logger
}

export interface TemplateHeartbeatSourceComponents {
  /** A node of the `template` or `both` profile (it has the gossipsub router). */
  node: SubnetNode
  /** Where `subnet_bootnode_template_dag_sync_requests_total` is registered. */
  registry?: Registry
}

/** A heartbeat source that is also the subnet's second membership rule (template nodes that published). */
export type TemplateHeartbeatSource = HeartbeatSource & SubnetMembers

/**
 * The template's gossipsub heartbeats and peer states as a heartbeat source (SPEC §5), with the
 * DAG sync protocol answered from the DAG nodes seen.
 */
export function createTemplateHeartbeatSource (init: TemplateHeartbeatSourceInit, components: TemplateHeartbeatSourceComponents): TemplateHeartbeatSource {
  const subnetId = requireTemplateSubnetId(init.subnetId)
  const logger = init.logger ?? silentLogger
  const dagSync = createDagSyncService({ logger, ...(init.dagMaxNodes === undefined ? {} : { maxNodes: init.dagMaxNodes }) }, { peerId: components.node.peerId })
  if (components.registry !== undefined) {
    registerMirroredCounter(components.registry, 'subnet_bootnode_template_dag_sync_requests_total',
      'DAG sync requests answered (inventory, fetch) or refused (by reason)', 'kind', () => {
        const c = dagSync.counts()
        const out: Record<string, number> = { inventory: c.inventory, fetch: c.fetch }
        for (const [reason, n] of Object.entries(c.rejected)) out[`rejected_${reason}`] = n ?? 0
        return out
      })
  }
  return new DefaultTemplateHeartbeatSource({ subnetId, ttlMs: init.ttlMs, logger }, { node: components.node, dagSync })
}

export {
  DEFAULT_TEMPLATE_HEARTBEAT_INTERVAL_MS, DEFAULT_TEMPLATE_PEER_STATE_INTERVAL_MS, DEFAULT_TEMPLATE_OFFLINE_SETTLE_MS,
  DEFAULT_SUBNET_NODE_ID, MAX_SUBNET_NODE_ID
} from './constants.js'
export {
  createTemplatePublisher, encodeTemplateHeartbeat, encodeTemplatePeerState, templateMockEpoch, templateUid
} from './publisher.js'
export type {
  TemplateHeartbeatData, TemplatePeerStateData, TemplatePublisher, TemplatePublisherComponents, TemplatePublisherInit
} from './publisher.js'
