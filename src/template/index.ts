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
