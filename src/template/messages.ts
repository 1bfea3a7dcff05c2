/**
 * The subnet template's plain pubsub messages (issue 11): pydantic `model_dump_json()` bytes of
 * `HeartbeatData` on topic `heartbeat` and `PeerStateData` on topic `peer_state`
 * (template `subnet/utils/pubsub/heartbeat.py`, `peer_state.py`; the harness copy of the models
 * is in ../shared/interop/py-libp2p-node/node.py), e.g.
 * `{"uid":"271add8200ac8616bb7a0ed7ce65304d","epoch":2,"subnet_id":1,"subnet_node_id":1,"state":2,"role":0}`.
 *
 * What is accepted, and why (the models: `uid: str`, `epoch: int`, `subnet_id: int`,
 * `subnet_node_id: int`, `state: ServerState`, `role: PeerRole`, no `model_config`, and
 * `model_post_init` asserting `subnet_id > 0` and `subnet_node_id > 0`):
 * - `uid`: any JSON string, as `str` allows (the template sends 32 random hex digits; we only
 *   carry it, so no stricter pattern: the 1 KiB bound already limits it).
 * - integers: JSON numbers that are non-negative safe integers (stricter than pydantic's lax
 *   `int`, which also takes `true`, `"5"` or `5.0`; the template's publishers never send those).
 * - `state`: 0, 1 or 2 (the template's `ServerState` enum is fixed).
 * - `role`: any non-negative integer; `PeerRole` has only `VALIDATOR = 0`, but the template
 *   invites subnets to add roles, which the API then shows as `ROLE_<n>`.
 * - unknown extra fields are ignored: pydantic's default is `extra="ignore"` (and the DAG
 *   `PeerStateData` sets it explicitly), so a template receiver accepts them too.
 * - `subnet_id` must equal the subnet this sidecar serves.
 */
import { ConfigError, SubnetBootnodeError } from '../errors.js'

// The topics are the gossipsub router's facts too (it allows only these): one home, src/p2p/constants.ts.
export { TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS } from '../p2p/constants.js'

/**
 * A plain message above this size is rejected before it is parsed. The template's own are
 * about 100 bytes; 1 KiB leaves room for long uids and extra fields (issue 11, "Validation").
 */
export const MAX_TEMPLATE_MESSAGE_BYTES = 1024

/** `ServerState` of the template, indexed by its integer value. */
const TEMPLATE_STATES = ['OFFLINE', 'JOINING', 'ONLINE'] as const
export type TemplateState = typeof TEMPLATE_STATES[number]
export type TemplateStateCode = 0 | 1 | 2

/** `PeerRole` of the template; other values map to `ROLE_<n>` (templateRoleName). */
const TEMPLATE_ROLES: Readonly<Record<number, string>> = Object.freeze({ 0: 'VALIDATOR' })

/** The API role name of a template role value: 0 → `VALIDATOR`, unknown n → `ROLE_<n>`. */
export function templateRoleName (role: number): string {
  return TEMPLATE_ROLES[role] ?? `ROLE_${role}`
}

/** The state name of a template state value (0 OFFLINE, 1 JOINING, 2 ONLINE). */
export function templateStateName (state: TemplateStateCode): TemplateState {
  return TEMPLATE_STATES[state]
}

/** The template's integer value of a state name (the inverse of templateStateName). */
export function templateStateCode (state: TemplateState): TemplateStateCode {
  return TEMPLATE_STATES.indexOf(state) as TemplateStateCode
}

/**
 * Stable rejection codes for everything received on the template topics, counted by reason in
 * /metrics. The first four apply to plain messages; all apply to DAG messages (src/template/dag.ts).
 */
export type TemplateRejectReason =
  | 'oversized' // more bytes than the bound, checked before parsing
  | 'malformed' // not UTF-8 JSON, not an object, or a DAG envelope/header field missing or mistyped
  | 'wrong_subnet' // subnet_id is a valid id but not this subnet's
  | 'invalid_field' // a payload field missing, mistyped or out of range
  | 'wrong_namespace' // DAG: namespace is not `general-dag`
  | 'wrong_schema' // DAG: schema_id is not `peer-state`
  | 'sender_mismatch' // DAG: peer_id, author or the signing key's peer id is not the pubsub `from`
  | 'bad_parents' // DAG: parent_ids not sorted, not unique, or naming the node itself
  | 'bad_hash' // DAG: node_id, body_hash, body_size or body.node_id does not match the content
  | 'bad_signature' // DAG: public_key unusable or the signature does not verify
  | 'future_timestamp' // DAG: created_at_ms more than 60 s ahead of the local clock

export const TEMPLATE_REJECT_REASONS: readonly TemplateRejectReason[] = [
  'oversized', 'malformed', 'wrong_subnet', 'invalid_field', 'wrong_namespace', 'wrong_schema',
  'sender_mismatch', 'bad_parents', 'bad_hash', 'bad_signature', 'future_timestamp'
]

/** A template message was refused; `reason` is one of TEMPLATE_REJECT_REASONS. */
export class TemplateMessageRejectedError extends SubnetBootnodeError {
  readonly reason: TemplateRejectReason

  constructor (reason: TemplateRejectReason, detail: string) {
    super(`template message rejected (${reason}): ${detail}`, 'ERR_TEMPLATE_MESSAGE_REJECTED')
    this.reason = reason
  }
}

/** A validated `heartbeat` message. */
export interface TemplateHeartbeat {
  uid: string
  epoch: number
  subnetId: number
  subnetNodeId: number
}

/** A validated `peer_state` message (plain, or the payload of a DAG node). */
export interface TemplatePeerState extends TemplateHeartbeat {
  state: TemplateState
  stateCode: TemplateStateCode
  /** templateRoleName(roleCode). */
  role: string
  roleCode: number
}

export interface ParseTemplateMessageOptions {
  /** The subnet this sidecar serves: a positive integer. */
  subnetId: number
}

/** Parses and validates a `heartbeat` message; throws TemplateMessageRejectedError. */
export function parseTemplateHeartbeat (data: Uint8Array, options: ParseTemplateMessageOptions): TemplateHeartbeat {
  const subnetId = checkSubnetId(options.subnetId)
  checkSize(data, MAX_TEMPLATE_MESSAGE_BYTES)
  return heartbeatFields(decodeJsonObject(data), subnetId)
}

/** Parses and validates a plain `peer_state` message; throws TemplateMessageRejectedError. */
export function parseTemplatePeerState (data: Uint8Array, options: ParseTemplateMessageOptions): TemplatePeerState {
  const subnetId = checkSubnetId(options.subnetId)
  checkSize(data, MAX_TEMPLATE_MESSAGE_BYTES)
  return peerStateFields(decodeJsonObject(data), subnetId)
}

// ---- shared with dag.ts (not re-exported by index.ts) ----

export type JsonObject = Record<string, unknown>

/** The expected subnet id must be a positive safe integer (what the template's messages carry). */
export function checkSubnetId (subnetId: number): number {
  if (!Number.isSafeInteger(subnetId) || subnetId <= 0) {
    throw new ConfigError(`template subnet id must be a positive integer, got ${String(subnetId)}`)
  }
  return subnetId
}

export function checkSize (data: Uint8Array, max: number): void {
  if (data.byteLength > max) throw new TemplateMessageRejectedError('oversized', `${data.byteLength} bytes > ${max}`)
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** UTF-8 JSON text that must be an object; anything else is `malformed`. */
export function decodeJsonObject (data: Uint8Array): JsonObject {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(data))
  } catch (err) {
    throw new TemplateMessageRejectedError('malformed', err instanceof SyntaxError ? 'not JSON' : 'not UTF-8')
  }
  if (!isObject(value)) throw new TemplateMessageRejectedError('malformed', 'not a JSON object')
  return value
}

export function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A non-negative safe integer (JSON number, not a boolean, not a float). */
export function isUint (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function field (obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

function uintField (obj: JsonObject, key: string, min = 0): number {
  const value = field(obj, key)
  if (!isUint(value) || value < min) {
    throw new TemplateMessageRejectedError('invalid_field', `${key} must be an integer >= ${min}, got ${describe(value)}`)
  }
  return value
}

function heartbeatFields (obj: JsonObject, subnetId: number): TemplateHeartbeat {
  const uid = field(obj, 'uid')
  if (typeof uid !== 'string') throw new TemplateMessageRejectedError('invalid_field', `uid must be a string, got ${describe(uid)}`)
  const epoch = uintField(obj, 'epoch')
  const msgSubnetId = uintField(obj, 'subnet_id', 1)
  if (msgSubnetId !== subnetId) throw new TemplateMessageRejectedError('wrong_subnet', `subnet_id ${msgSubnetId}, expected ${subnetId}`)
  const subnetNodeId = uintField(obj, 'subnet_node_id', 1)
  return { uid, epoch, subnetId: msgSubnetId, subnetNodeId }
}

export function peerStateFields (obj: JsonObject, subnetId: number): TemplatePeerState {
  const heartbeat = heartbeatFields(obj, subnetId)
  const stateCode = uintField(obj, 'state')
  if (stateCode > 2) throw new TemplateMessageRejectedError('invalid_field', `state must be 0, 1 or 2, got ${stateCode}`)
  const roleCode = uintField(obj, 'role')
  const code = stateCode as TemplateStateCode
  return { ...heartbeat, state: templateStateName(code), stateCode: code, role: templateRoleName(roleCode), roleCode }
}

/** A short description of a received value for an error message (never the whole value). */
export function describe (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value)
  return `${typeof value} ${String(value)}`
}
