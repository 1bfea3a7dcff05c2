/**
 * The Hypertensor subnet template's application messages (issue 11), as standalone building
 * blocks: bytes in, typed results out; no libp2p node wiring here (the composition root
 * subscribes to the topics, registers the sync protocol and calls these).
 *
 * - messages.ts: plain pydantic JSON on topics `heartbeat` and `peer_state`
 *   (parseTemplateHeartbeat, parseTemplatePeerState), the topic names, the state and role
 *   mappings, and the one rejection error with stable reasons (TEMPLATE_REJECT_REASONS).
 */
export {
  TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS, MAX_TEMPLATE_MESSAGE_BYTES, TEMPLATE_STATES,
  TEMPLATE_ROLES, TEMPLATE_REJECT_REASONS, TemplateMessageRejectedError, parseTemplateHeartbeat, parseTemplatePeerState,
  templateRoleName, templateStateName
} from './messages.js'
export type {
  ParseTemplateMessageOptions, TemplateHeartbeat, TemplatePeerState, TemplateRejectReason, TemplateState, TemplateStateCode
} from './messages.js'

/*
 * - dag.ts: the template HEAD's signed Merkle-DAG `peer_state` messages: canonicalJson (Python's
 *   canonical json.dumps byte for byte), verifyDagMessage (README steps 1–8, returns the
 *   PeerStateData, its multiaddr, node id, parents, created_at) and validatePeerStateTopicMessage
 *   (one entry point for topic `peer_state`, which carries either format).
 */
export {
  DAG_NAMESPACE, DAG_PEER_STATE_SCHEMA, DAG_MAX_FUTURE_SKEW_MS, MAX_DAG_MESSAGE_BYTES, CanonicalJsonError, canonicalJson,
  canonicalJsonBytes, sha256Id, validatePeerStateTopicMessage, verifyDagMessage
} from './dag.js'
export type {
  DagAnnouncementResult, DagMessageResult, DagNodeHeaderWire, DagNodeWire, JsonValue, PeerStateTopicResult, VerifiedDagNode,
  VerifyDagMessageOptions
} from './dag.js'
