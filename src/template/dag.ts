/**
 * The template HEAD's signed Merkle-DAG `peer_state` messages (template e9c74f9,
 * `subnet/merkle_dag/`; wire format and receiver rules in
 * ../shared/interop/py-libp2p-node/README.md "Wire format of `--dag`", reference verifier
 * tools/verify_dag_message.py): Python-compatible canonical JSON, and verification of one
 * `node_gossip` message on its own (steps 1–8, no parents needed).
 *
 * Where we are stricter than the template, and why that is safe: a header or envelope field of
 * the wrong JSON type is `malformed` (the template's `from_primitive` coerces with `str()`/`int()`,
 * which its publishers never rely on); integers beyond 2^53 and deeply nested metadata are
 * refused (JavaScript numbers cannot carry them exactly, so we could not re-hash them). A node
 * we refuse is only a node we neither count nor serve; the sync store (dag-sync.ts) must never
 * hold one the template would refuse, so being stricter is the safe side.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { SubnetBootnodeError } from '../errors.js'
import {
  MAX_TEMPLATE_MESSAGE_BYTES, TemplateMessageRejectedError, checkSize, checkSubnetId, decodeJsonObject, describe, isObject,
  isUint, peerStateFields
} from './messages.js'
import type { JsonObject, TemplatePeerState } from './messages.js'
import type { PublicKey } from '@libp2p/interface'

/** `DagGossipTopicConfig.namespace` of the template's peer-state DAG (server.py). */
export const DAG_NAMESPACE = 'general-dag'
/** Schema id of peer-state nodes (`DagPublisherTemplateSchema("peer-state", PeerStateData)`). */
const DAG_PEER_STATE_SCHEMA = 'peer-state'
/** `DagValidator.max_future_skew_ms`: a node created further ahead of our clock is refused. */
const DAG_MAX_FUTURE_SKEW_MS = 60_000
/**
 * A DAG message above this size is refused before parsing. The template's are 1335 bytes with no
 * parent + 74 per parent, so 64 KiB still admits a merge of about 860 heads.
 */
const MAX_DAG_MESSAGE_BYTES = 64 * 1024
/** Nesting depth the canonical serialiser accepts (the template's nodes use 3). */
const MAX_CANONICAL_DEPTH = 32

// ---- canonical JSON ----

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A value canonical JSON cannot represent exactly as Python would (see canonicalJson). */
export class CanonicalJsonError extends SubnetBootnodeError {
  constructor (detail: string) {
    super(`not representable as canonical JSON: ${detail}`, 'ERR_CANONICAL_JSON')
  }
}

/**
 * The template's `CanonicalJSONSerializer.serialize` (merkle_dag/serialization.py) byte for byte:
 * Python `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)`.
 * - keys sorted by code point at every level (not by UTF-16 unit, as Array.prototype.sort does);
 * - strings: `"` `\` escaped, `\b \f \n \r \t` short escapes, every other unit outside
 *   0x20–0x7e as `\uXXXX` (lowercase; astral characters as their surrogate pair, lone
 *   surrogates as themselves, as Python writes them);
 * - integers in decimal; non-integral numbers as Python's `repr(float)` (shortest round-trip
 *   digits, exponent form `1e-05` below 1e-4). A JavaScript number cannot tell `2.0` from `2`,
 *   so an integral value is always written as an int: a float like `2.0` on the wire re-hashes
 *   differently (the template never sends floats: its values are str, int, list, dict);
 * - throws CanonicalJsonError for NaN/Infinity (`allow_nan=False`), integers beyond 2^53 (not
 *   exact in JavaScript), `undefined`, functions, and nesting deeper than MAX_CANONICAL_DEPTH.
 */
export function canonicalJson (value: unknown): string {
  const out: string[] = []
  writeCanonical(value, out, 0)
  return out.join('')
}

export function canonicalJsonBytes (value: unknown): Uint8Array {
  // Canonical JSON is pure ASCII, so latin1 is exact and faster than a UTF-8 encoder.
  return Buffer.from(canonicalJson(value), 'latin1')
}

function writeCanonical (value: unknown, out: string[], depth: number): void {
  if (depth > MAX_CANONICAL_DEPTH) throw new CanonicalJsonError(`nested deeper than ${MAX_CANONICAL_DEPTH}`)
  if (value === null) {
    out.push('null')
  } else if (value === true) {
    out.push('true')
  } else if (value === false) {
    out.push('false')
  } else if (typeof value === 'string') {
    out.push(quoteAscii(value))
  } else if (typeof value === 'number') {
    out.push(pythonNumber(value))
  } else if (Array.isArray(value)) {
    out.push('[')
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',')
      writeCanonical(value[i], out, depth + 1)
    }
    out.push(']')
  } else if (isObject(value) && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const keys = Object.keys(value).sort(compareCodePoints)
    out.push('{')
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      if (i > 0) out.push(',')
      out.push(quoteAscii(key), ':')
      writeCanonical(value[key], out, depth + 1)
    }
    out.push('}')
  } else {
    throw new CanonicalJsonError(`unsupported value of type ${typeof value}`)
  }
}

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/
const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' }

/** Python's `py_encode_basestring_ascii`: works on UTF-16 units, which gives surrogate pairs for free. */
function quoteAscii (s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`
  let r = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) r += s[i]
    else r += SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`
  }
  return r + '"'
}

/** Python `sorted()` order on str: by code point (an astral character sorts after U+FFFF). */
export function compareCodePoints (a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length) {
    const ca = a.codePointAt(i) as number
    const cb = b.codePointAt(i) as number
    if (ca !== cb) return ca - cb
    i += ca > 0xffff ? 2 : 1
  }
  return (a.length - i) - (b.length - i)
}

function pythonNumber (n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} (allow_nan=False)`)
  if (Number.isInteger(n)) {
    if (!Number.isSafeInteger(n)) throw new CanonicalJsonError(`integer ${n} is beyond 2^53 and not exact`)
    return Object.is(n, -0) ? '0' : String(n)
  }
  // Python repr(float): the same shortest round-trip digits as JavaScript, formatted with an
  // exponent when the decimal point is 4+ places left of the first digit (CPython
  // float_repr_style 'short', mode 'r'); integral values never reach this branch.
  const sign = n < 0 ? '-' : ''
  const [mantissa = '', exp = '0'] = Math.abs(n).toExponential().split('e')
  const digits = mantissa.replace('.', '')
  const decpt = Number(exp) + 1
  if (decpt <= -4) {
    const e = decpt - 1
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`
}

export function sha256Id (bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

// ---- wire model ----

/** `DagNodeHeader.to_primitive()`: the ten signed fields plus `node_id` and `signature`. */
export interface DagNodeHeaderWire {
  author: string
  body_hash: string
  body_size: number
  created_at_ms: number
  metadata: Record<string, JsonValue>
  namespace: string
  node_id: string
  parent_ids: string[]
  public_key: string
  schema_id: string
  signature: string
  version: number
}

/** `DagNode.to_primitive()`. */
export interface DagNodeWire {
  header: DagNodeHeaderWire
  body: { node_id: string, payload: JsonValue }
}

/** A `node_gossip` message that passed every check. */
export interface VerifiedDagNode {
  kind: 'node_gossip'
  nodeId: string
  /** Peer id of the signer = `header.author` = pubsub `from`. */
  author: string
  /** Sorted, unique. */
  parentIds: string[]
  namespace: string
  /** Signed creation time (`header.created_at_ms`). */
  createdAtMs: number
  /** The PeerStateData payload. */
  peerState: TemplatePeerState
  /** `payload.multiaddr`: the publisher's listen address without `/p2p` (not parsed here). */
  multiaddr: string
  /** The signed `header.metadata` (a copy of the payload; the template never compares them). */
  metadata: Record<string, JsonValue>
  /** The node as the sync protocol serves it (`DagNode.to_primitive()`, defaults applied). */
  node: DagNodeWire
}

/** A head announcement: carries no peer state; callers ignore it (but it was checked like the template does). */
export interface DagAnnouncementResult {
  kind: 'announcement'
  peerId: string
  headIds: string[]
  nodeCount: number
}

export type DagMessageResult = VerifiedDagNode | DagAnnouncementResult

export interface VerifyDagMessageOptions {
  /** The subnet this sidecar serves (positive integer); the payload's subnet_id must equal it. */
  subnetId: number
  /** The pubsub message's verified `from` peer id (string form). */
  from: string
  /** Local clock for the 60 s future-skew rule. Default Date.now(). */
  nowMs?: number
  /** Expected namespace. Default DAG_NAMESPACE. */
  namespace?: string
}

/**
 * Verifies one message from topic `peer_state` in DAG form (README steps 1–8) and returns the
 * peer state it carries, or a `kind: 'announcement'` result. Throws TemplateMessageRejectedError.
 */
export async function verifyDagMessage (data: Uint8Array, options: VerifyDagMessageOptions): Promise<DagMessageResult> {
  const subnetId = checkSubnetId(options.subnetId)
  checkSize(data, MAX_DAG_MESSAGE_BYTES)
  return verifyDagObject(decodeJsonObject(data), subnetId, options)
}

/** Result of validatePeerStateTopicMessage: which format the message was in, and its content. */
export type PeerStateTopicResult =
  | { format: 'plain', peerState: TemplatePeerState }
  | { format: 'dag', node: VerifiedDagNode }
  | { format: 'dag-announcement', announcement: DagAnnouncementResult }

/**
 * One entry point for topic `peer_state`, which carries either format: parses once, then a
 * message with a `kind` field is verified as DAG (bound MAX_DAG_MESSAGE_BYTES), any other as
 * plain JSON (bound MAX_TEMPLATE_MESSAGE_BYTES). Throws TemplateMessageRejectedError.
 */
export async function validatePeerStateTopicMessage (data: Uint8Array, options: VerifyDagMessageOptions): Promise<PeerStateTopicResult> {
  const subnetId = checkSubnetId(options.subnetId)
  checkSize(data, MAX_DAG_MESSAGE_BYTES)
  const obj = decodeJsonObject(data)
  if (Object.hasOwn(obj, 'kind')) {
    const result = await verifyDagObject(obj, subnetId, options)
    return result.kind === 'announcement' ? { format: 'dag-announcement', announcement: result } : { format: 'dag', node: result }
  }
  checkSize(data, MAX_TEMPLATE_MESSAGE_BYTES)
  return { format: 'plain', peerState: peerStateFields(obj, subnetId) }
}

function malformed (detail: string): TemplateMessageRejectedError {
  return new TemplateMessageRejectedError('malformed', detail)
}

function str (obj: JsonObject, key: string, where: string): string {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined
  if (typeof v !== 'string') throw malformed(`${where}${key} must be a string, got ${describe(v)}`)
  return v
}

function uint (obj: JsonObject, key: string, where: string, fallback?: number): number {
  const v = Object.hasOwn(obj, key) ? obj[key] : fallback
  if (!isUint(v)) throw malformed(`${where}${key} must be a non-negative integer, got ${describe(v)}`)
  return v
}

function strList (obj: JsonObject, key: string, where: string, fallback?: string[]): string[] {
  const v = Object.hasOwn(obj, key) ? obj[key] : fallback
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw malformed(`${where}${key} must be a list of strings`)
  return v as string[]
}

function obj (parent: JsonObject, key: string, where: string, fallback?: JsonObject): JsonObject {
  const v = Object.hasOwn(parent, key) ? parent[key] : fallback
  if (!isObject(v)) throw malformed(`${where}${key} must be an object, got ${describe(v)}`)
  return v
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/

function hexBytes (hex: string, what: string): Uint8Array {
  if (!HEX.test(hex)) throw new TemplateMessageRejectedError('bad_signature', `${what} is not hex`)
  return Buffer.from(hex, 'hex')
}

interface Signer {
  peerId: string
  verify: (data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>
}

/** Signers by `public_key` hex: subnet members re-sign every few seconds, so parsing the key, deriving its peer id (base58) and building a KeyObject once each is most of the cost saved. */
const signers = new Map<string, Signer>()
const MAX_CACHED_SIGNERS = 1024
/** SPKI DER prefix of an Ed25519 public key (RFC 8410): node:crypto verifies pure Ed25519 with it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function signerFor (publicKeyHex: string): Signer {
  const cached = signers.get(publicKeyHex)
  if (cached !== undefined) return cached
  let publicKey: PublicKey
  try {
    publicKey = publicKeyFromProtobuf(hexBytes(publicKeyHex, 'public_key'))
  } catch (err) {
    if (err instanceof TemplateMessageRejectedError) throw err
    throw new TemplateMessageRejectedError('bad_signature', `public_key is not a libp2p public key: ${(err as Error).message}`)
  }
  let verify: Signer['verify'] = (data, signature) => publicKey.verify(data, signature)
  if (publicKey.type === 'Ed25519') {
    const keyObject = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey.raw]), format: 'der', type: 'spki' })
    verify = (data, signature) => signature.byteLength === 64 && cryptoVerify(null, data, keyObject, signature)
  }
  const signer = { peerId: peerIdFromPublicKey(publicKey).toString(), verify }
  if (signers.size >= MAX_CACHED_SIGNERS) signers.delete(signers.keys().next().value as string)
  signers.set(publicKeyHex, signer)
  return signer
}

function canonicalOrMalformed (value: unknown, what: string): Uint8Array {
  try {
    return canonicalJsonBytes(value)
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`)
  }
}

async function verifyDagObject (msg: JsonObject, subnetId: number, options: VerifyDagMessageOptions): Promise<DagMessageResult> {
  const namespace = options.namespace ?? DAG_NAMESPACE
  const from = options.from
  // 1. the shared wire fields (models.py `_wire_fields`), then the kind.
  const kind = msg.kind
  str(msg, 'message_id', '')
  const msgNamespace = str(msg, 'namespace', '')
  const peerId = str(msg, 'peer_id', '')
  uint(msg, 'created_at_ms', '')
  if (kind === 'announcement') {
    const headIds = strList(msg, 'head_ids', '', [])
    const nodeCount = uint(msg, 'node_count', '')
    if (msgNamespace !== namespace) throw new TemplateMessageRejectedError('wrong_namespace', `namespace ${describe(msgNamespace)}`)
    if (peerId !== from) throw new TemplateMessageRejectedError('sender_mismatch', `peer_id ${peerId} is not the sender ${from}`)
    return { kind: 'announcement', peerId, headIds, nodeCount }
  }
  if (kind !== 'node_gossip') throw malformed(`kind ${describe(kind)} is not node_gossip or announcement`)

  const node = obj(msg, 'node', '')
  const h = obj(node, 'header', 'node.')
  const b = obj(node, 'body', 'node.')
  // DagNodeHeader.from_primitive: parent_ids defaults to [], version to 1, metadata to {}.
  const header: DagNodeHeaderWire = {
    author: str(h, 'author', 'header.'),
    body_hash: str(h, 'body_hash', 'header.'),
    body_size: uint(h, 'body_size', 'header.'),
    created_at_ms: uint(h, 'created_at_ms', 'header.'),
    metadata: obj(h, 'metadata', 'header.', {}) as Record<string, JsonValue>,
    namespace: str(h, 'namespace', 'header.'),
    node_id: str(h, 'node_id', 'header.'),
    parent_ids: strList(h, 'parent_ids', 'header.', []),
    public_key: str(h, 'public_key', 'header.'),
    schema_id: str(h, 'schema_id', 'header.'),
    signature: str(h, 'signature', 'header.'),
    version: uint(h, 'version', 'header.', 1)
  }
  const bodyNodeId = str(b, 'node_id', 'body.')
  if (!Object.hasOwn(b, 'payload')) throw malformed('body.payload is missing')
  const payload = b.payload as JsonValue

  // 2. context: namespace, sender, schema (gossip_dag_receiver `_node_gossip_matches_context`).
  if (msgNamespace !== namespace || header.namespace !== namespace) {
    throw new TemplateMessageRejectedError('wrong_namespace', `namespace ${describe(msgNamespace)}/${describe(header.namespace)}, expected ${namespace}`)
  }
  if (peerId !== from) throw new TemplateMessageRejectedError('sender_mismatch', `peer_id ${peerId} is not the sender ${from}`)
  if (header.schema_id !== DAG_PEER_STATE_SCHEMA) throw new TemplateMessageRejectedError('wrong_schema', `schema_id ${describe(header.schema_id)}`)

  // 3. the signing key's peer id must be the sender and the author.
  const key = signerFor(header.public_key)
  const signer = key.peerId
  if (signer !== from) throw new TemplateMessageRejectedError('sender_mismatch', `signed by ${signer}, sent by ${from}`)
  if (header.author !== signer) throw new TemplateMessageRejectedError('sender_mismatch', `author ${header.author} is not the signer ${signer}`)

  // 4. parents sorted (by code point, Python's list order), unique, not self.
  const parents = header.parent_ids
  for (let i = 1; i < parents.length; i++) {
    if (compareCodePoints(parents[i - 1] as string, parents[i] as string) >= 0) {
      throw new TemplateMessageRejectedError('bad_parents', 'parent_ids are not sorted and unique')
    }
  }
  if (parents.includes(header.node_id)) throw new TemplateMessageRejectedError('bad_parents', 'the node lists itself as a parent')

  // 5. node id and signature over the canonical unsigned header S, rebuilt from the fields.
  const { node_id: nodeId, signature, ...unsigned } = header
  const signed = canonicalOrMalformed(unsigned, 'header')
  if (sha256Id(signed) !== nodeId) throw new TemplateMessageRejectedError('bad_hash', `node_id does not match the header (${nodeId})`)
  let valid = false
  try {
    valid = await key.verify(signed, hexBytes(signature, 'signature'))
  } catch (err) {
    if (err instanceof TemplateMessageRejectedError) throw err
  }
  if (!valid) throw new TemplateMessageRejectedError('bad_signature', 'signature does not verify over the canonical header')

  // 6. body bound to the header.
  if (bodyNodeId !== nodeId) throw new TemplateMessageRejectedError('bad_hash', 'body.node_id is not header.node_id')
  const payloadBytes = canonicalOrMalformed(payload, 'body.payload')
  if (sha256Id(payloadBytes) !== header.body_hash) throw new TemplateMessageRejectedError('bad_hash', 'body_hash does not match the payload')
  if (payloadBytes.byteLength !== header.body_size) throw new TemplateMessageRejectedError('bad_hash', 'body_size does not match the payload')

  // 7. the payload is a PeerStateData of this subnet.
  if (!isObject(payload)) throw new TemplateMessageRejectedError('invalid_field', 'payload is not an object')
  const peerState = peerStateFields(payload, subnetId)
  const multiaddr = payload.multiaddr
  if (typeof multiaddr !== 'string') throw new TemplateMessageRejectedError('invalid_field', `multiaddr must be a string, got ${describe(multiaddr)}`)

  // 8. not from the future (no lower bound: old nodes are fine).
  const nowMs = options.nowMs ?? Date.now()
  if (header.created_at_ms > nowMs + DAG_MAX_FUTURE_SKEW_MS) {
    throw new TemplateMessageRejectedError('future_timestamp', `created_at_ms ${header.created_at_ms} is ${header.created_at_ms - nowMs} ms ahead`)
  }

  return {
    kind: 'node_gossip',
    nodeId,
    author: signer,
    parentIds: [...parents],
    namespace,
    createdAtMs: header.created_at_ms,
    peerState,
    multiaddr,
    metadata: header.metadata,
    node: { header, body: { node_id: nodeId, payload } }
  }
}
