/**
 * The heartbeat record (SPEC §5, docs/PROTOCOL.md): a libp2p signed envelope (RFC 0002)
 * with domain `subnet-heartbeat` around a JSON payload, stored in the DHT under
 * `/heartbeat/<peer id>` and pushed over `/subnet/<id>/heartbeat/1.0.0`.
 *
 * The DHT validator and selector are built here and handed to the subnet node by whoever creates
 * it (`heartbeatDhtRecords`), as kad-dht takes them from its caller: src/p2p knows nothing of heartbeats.
 */
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { RecordEnvelope } from '@libp2p/peer-record'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { SubnetBootnodeError } from '../errors.js'
import {
  HEARTBEAT_STATES, MAX_NEXT_PINGS, MAX_PEER_ID_LENGTH, MAX_PUBLIC_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_VERSION_LENGTH,
  ROLE_PATTERN, isPeerId
} from './model.js'
import type { HeartbeatEntry, HeartbeatServer, HeartbeatState } from './model.js'

import type { PrivateKey, Record as Libp2pRecordLike } from '@libp2p/interface'
import type { SelectFn, ValidateFn } from '@libp2p/kad-dht'

/** Signature domain of the envelope (RFC 0002 domain separation). */
const HEARTBEAT_DOMAIN = 'subnet-heartbeat'
/** Envelope `payload_type`: the UTF-8 bytes of this string (docs/PROTOCOL.md). */
const HEARTBEAT_PAYLOAD_TYPE_STRING = '/subnet-heartbeat/json/1'
export const HEARTBEAT_PAYLOAD_TYPE = uint8ArrayFromString(HEARTBEAT_PAYLOAD_TYPE_STRING)
/** DHT key namespace; validator and selector are registered under it (no slashes). */
export const HEARTBEAT_NAMESPACE = 'heartbeat'
/** A marshalled envelope larger than this is rejected before it is parsed (SPEC §5). */
export const MAX_HEARTBEAT_BYTES = 8 * 1024
/** A record may not expire further ahead than this (SPEC §5). */
export const MAX_HEARTBEAT_TTL_S = 60 * 60
/** Payload limit of `subnet_id` (docs/PROTOCOL.md §Payload); the others are the model's. */
const MAX_SUBNET_ID_LENGTH = 128
/**
 * What no payload string may hold (docs/PROTOCOL.md §3.2), as the API serves strings verbatim:
 * C0 and C1 controls and DEL (U+0000–U+001F, U+007F–U+009F), the bidi controls that reorder
 * displayed text (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), and lone UTF-16
 * surrogates (JSON's `"\ud800"` escape parses to one; with the `u` flag `\p{Cs}` matches only
 * an unpaired surrogate, a pair being one code point).
 */
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\p{Cs}]/u
/** UTF-8 byte-order mark: TextDecoder would drop it silently, so it is refused before decoding. */
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const

/** Stable rejection codes, counted by reason (SPEC §5) and documented in docs/PROTOCOL.md. */
export type HeartbeatRejectReason =
  | 'oversized' // marshalled envelope > MAX_HEARTBEAT_BYTES
  | 'bad-envelope' // not an RFC 0002 envelope, unknown key type, or wrong payload type
  | 'unsigned' // envelope with an empty signature
  | 'bad-signature' // signature does not verify for the `subnet-heartbeat` domain
  | 'forged' // signed by another peer than the DHT key / push stream / payload names
  | 'bad-key' // DHT key is not `/heartbeat/<valid peer id>`
  | 'malformed' // payload is not JSON of the documented shape and limits
  | 'wrong-subnet' // payload `subnet_id` is another subnet
  | 'expired' // `expiration_time` is not in the future
  | 'too-far-future' // `expiration_time` is more than MAX_HEARTBEAT_TTL_S ahead

export class HeartbeatRejectedError extends SubnetBootnodeError {
  readonly reason: HeartbeatRejectReason

  constructor (reason: HeartbeatRejectReason, detail: string) {
    super(`heartbeat rejected (${reason}): ${detail}`, 'ERR_HEARTBEAT_REJECTED')
    this.reason = reason
  }
}

/** The JSON payload of a heartbeat envelope. */
export interface HeartbeatPayload {
  subnet_id: string
  peer_id: string
  /** Strictly increasing per peer; milliseconds since the epoch by convention. */
  seq: number
  server: HeartbeatServer
  /** Unix seconds, float. */
  expiration_time: number
}

/** A record that passed `validateHeartbeat`. */
export interface ValidHeartbeat {
  payload: HeartbeatPayload
  /** The marshalled envelope, as received (forwardable, storable). */
  envelope: Uint8Array
}

/** The DHT key of a peer's heartbeat: UTF-8 `/heartbeat/<peer id>` (SPEC §5). */
export function heartbeatKey (peerId: string): Uint8Array {
  return uint8ArrayFromString(`/${HEARTBEAT_NAMESPACE}/${peerId}`)
}

/** The peer id named by a DHT key, or undefined if the key is not a heartbeat key. */
export function peerIdFromHeartbeatKey (key: Uint8Array): string | undefined {
  const text = uint8ArrayToString(key)
  const prefix = `/${HEARTBEAT_NAMESPACE}/`
  if (!text.startsWith(prefix)) return undefined
  const id = text.slice(prefix.length)
  return isPeerId(id) ? id : undefined
}

class HeartbeatRecord implements Libp2pRecordLike {
  readonly domain = HEARTBEAT_DOMAIN
  readonly codec = HEARTBEAT_PAYLOAD_TYPE
  private readonly bytes: Uint8Array

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  marshal (): Uint8Array { return this.bytes }

  equals (other: Libp2pRecordLike): boolean {
    return other instanceof HeartbeatRecord && uint8ArrayToString(other.bytes) === uint8ArrayToString(this.bytes)
  }
}

/**
 * Seals a payload into a marshalled envelope with `privateKey`. No validation: the
 * publisher builds valid payloads, and tests use this to build invalid ones on purpose.
 * `payload` may be any JSON value or raw bytes (tests of malformed payloads).
 */
export async function sealHeartbeat (payload: HeartbeatPayload | unknown, privateKey: PrivateKey): Promise<Uint8Array> {
  const bytes = payload instanceof Uint8Array ? payload : uint8ArrayFromString(JSON.stringify(payload))
  const envelope = await RecordEnvelope.seal(new HeartbeatRecord(bytes), privateKey)
  return envelope.marshal()
}

export interface ValidateHeartbeatOptions {
  /** The subnet this node belongs to. */
  subnetId: string
  /** The peer the record must be signed by (from the DHT key or the push stream's remote peer). */
  expectedPeerId?: string
  /** Unix ms; default `Date.now()`. */
  now?: number
}

/**
 * The one validation function (SPEC §5), used by the DHT validator, the push handler and
 * the collector's store scan. Resolves with the payload or rejects with a
 * `HeartbeatRejectedError` whose `reason` is a stable code. Cheap checks come first;
 * the size check comes before any parsing.
 */
export async function validateHeartbeat (bytes: Uint8Array, options: ValidateHeartbeatOptions): Promise<ValidHeartbeat> {
  if (bytes.byteLength > MAX_HEARTBEAT_BYTES) {
    throw new HeartbeatRejectedError('oversized', `${bytes.byteLength} bytes > ${MAX_HEARTBEAT_BYTES}`)
  }
  let envelope: RecordEnvelope
  try {
    envelope = RecordEnvelope.createFromProtobuf(bytes)
  } catch (err) {
    throw new HeartbeatRejectedError('bad-envelope', `not a signed envelope: ${(err as Error).message}`)
  }
  if (uint8ArrayToString(envelope.payloadType) !== HEARTBEAT_PAYLOAD_TYPE_STRING) {
    throw new HeartbeatRejectedError('bad-envelope', 'unexpected payload type')
  }
  if (envelope.signature == null || envelope.signature.byteLength === 0) {
    throw new HeartbeatRejectedError('unsigned', 'envelope has no signature')
  }
  let signer: string
  try {
    signer = peerIdFromPublicKey(envelope.publicKey).toString()
  } catch (err) {
    throw new HeartbeatRejectedError('bad-envelope', `unusable public key: ${(err as Error).message}`)
  }
  if (options.expectedPeerId !== undefined && signer !== options.expectedPeerId) {
    throw new HeartbeatRejectedError('forged', `signed by ${signer}, expected ${options.expectedPeerId}`)
  }
  let verified = false
  try {
    verified = await envelope.validate(HEARTBEAT_DOMAIN)
  } catch {
    verified = false
  }
  if (!verified) {
    throw new HeartbeatRejectedError('bad-signature', `signature does not verify for domain ${HEARTBEAT_DOMAIN}`)
  }
  const payload = parsePayload(envelope.payload)
  if (payload.peer_id !== signer) {
    throw new HeartbeatRejectedError('forged', `payload names ${payload.peer_id}, signed by ${signer}`)
  }
  if (payload.subnet_id !== options.subnetId) {
    throw new HeartbeatRejectedError('wrong-subnet', `subnet ${JSON.stringify(payload.subnet_id)}`)
  }
  const nowS = (options.now ?? Date.now()) / 1000
  if (payload.expiration_time <= nowS) {
    throw new HeartbeatRejectedError('expired', `expired at ${payload.expiration_time}`)
  }
  if (payload.expiration_time > nowS + MAX_HEARTBEAT_TTL_S) {
    throw new HeartbeatRejectedError('too-far-future', `expires ${Math.round(payload.expiration_time - nowS)} s ahead, max ${MAX_HEARTBEAT_TTL_S}`)
  }
  return { payload, envelope: bytes }
}

/**
 * Reads `seq`, `peer_id` and `expiration_time` without checking the signature: for the DHT
 * selector (kad-dht validates every candidate before it selects), for skipping records already
 * seen, and for the store sweep that only drops expired records. `expirationTime` is undefined
 * when the payload has none that is a number.
 */
export function peekHeartbeat (bytes: Uint8Array): { seq: number, peerId: string, expirationTime: number | undefined } | undefined {
  try {
    const envelope = RecordEnvelope.createFromProtobuf(bytes)
    const json = JSON.parse(uint8ArrayToString(envelope.payload)) as { seq?: unknown, peer_id?: unknown, expiration_time?: unknown }
    if (typeof json.seq !== 'number' || typeof json.peer_id !== 'string') return undefined
    return { seq: json.seq, peerId: json.peer_id, expirationTime: typeof json.expiration_time === 'number' ? json.expiration_time : undefined }
  } catch {
    return undefined
  }
}

/** The view's shape of a valid payload (SPEC §1 `/v1/get_heartbeat`). */
export function toHeartbeatEntry (payload: HeartbeatPayload): HeartbeatEntry {
  return { peer_id: payload.peer_id, server: payload.server, expiration_time: payload.expiration_time }
}

function malformed (detail: string): never {
  throw new HeartbeatRejectedError('malformed', detail)
}

function checkString (value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string') malformed(`${field} must be a string`)
  if (value.length < min || value.length > max) malformed(`${field} must be ${min}..${max} characters`)
  if (FORBIDDEN_CHARS.test(value)) malformed(`${field} contains control characters or a lone surrogate`)
  return value
}

function checkNumber (value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) malformed(`${field} must be a finite number >= 0`)
  return value
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Checks types and limits; unknown fields are ignored (forward compatibility) and dropped. */
function parsePayload (bytes: Uint8Array): HeartbeatPayload {
  if (UTF8_BOM.every((byte, i) => bytes[i] === byte)) malformed('payload starts with a byte-order mark')
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    malformed('payload is not UTF-8 JSON')
  }
  if (!isPlainObject(json)) malformed('payload must be a JSON object')
  const subnetId = checkString(json.subnet_id, 'subnet_id', 1, MAX_SUBNET_ID_LENGTH)
  const peerId = checkString(json.peer_id, 'peer_id', 1, MAX_PEER_ID_LENGTH)
  if (typeof json.seq !== 'number' || !Number.isSafeInteger(json.seq) || json.seq < 0) malformed('seq must be a non-negative integer')
  const expiration = checkNumber(json.expiration_time, 'expiration_time')
  const s = json.server
  if (!isPlainObject(s)) malformed('server must be an object')
  if (typeof s.state !== 'string' || !(HEARTBEAT_STATES as readonly string[]).includes(s.state)) {
    malformed(`server.state must be one of ${HEARTBEAT_STATES.join(', ')}`)
  }
  const role = checkString(s.role, 'server.role', 1, MAX_ROLE_LENGTH)
  if (!ROLE_PATTERN.test(role)) malformed('server.role must be upper-case letters, digits, _ or -')
  const throughput = checkNumber(s.throughput, 'server.throughput')
  const publicName = s.public_name === null || s.public_name === undefined
    ? null
    : checkString(s.public_name, 'server.public_name', 0, MAX_PUBLIC_NAME_LENGTH)
  const version = checkString(s.version, 'server.version', 0, MAX_VERSION_LENGTH)
  if (typeof s.using_relay !== 'boolean') malformed('server.using_relay must be a boolean')
  let nextPings: Record<string, number> | null = null
  if (s.next_pings !== null && s.next_pings !== undefined) {
    if (!isPlainObject(s.next_pings)) malformed('server.next_pings must be an object or null')
    const entries = Object.entries(s.next_pings)
    if (entries.length > MAX_NEXT_PINGS) malformed(`server.next_pings has more than ${MAX_NEXT_PINGS} entries`)
    nextPings = {}
    for (const [k, v] of entries) {
      checkString(k, 'server.next_pings key', 1, MAX_PEER_ID_LENGTH)
      if (!isPeerId(k)) malformed('server.next_pings keys must be peer ids')
      nextPings[k] = checkNumber(v, `server.next_pings[${k}]`)
    }
  }
  return {
    subnet_id: subnetId,
    peer_id: peerId,
    seq: json.seq,
    server: {
      state: s.state as HeartbeatState,
      role,
      throughput,
      public_name: publicName,
      version,
      using_relay: s.using_relay,
      next_pings: nextPings
    },
    expiration_time: expiration
  }
}

/**
 * What a subnet node's DHT needs to store heartbeat records (SPEC §5): kad-dht's validator and
 * selector for the `heartbeat` namespace, for `SubnetNodeInit`. `onReject` sees every record
 * the validator refuses (the sidecar counts them by reason).
 */
export function heartbeatDhtRecords (subnetId: string, onReject?: (err: HeartbeatRejectedError) => void): { validators: Record<string, ValidateFn>, selectors: Record<string, SelectFn> } {
  return {
    validators: { [HEARTBEAT_NAMESPACE]: createHeartbeatDhtValidator(subnetId, onReject ?? (() => {})) },
    selectors: { [HEARTBEAT_NAMESPACE]: heartbeatDhtSelector }
  }
}

/** kad-dht validator for the `heartbeat` namespace: throwing rejects the record. */
function createHeartbeatDhtValidator (subnetId: string, onReject: (err: HeartbeatRejectedError) => void): ValidateFn {
  return async (key, value) => {
    try {
      const expectedPeerId = peerIdFromHeartbeatKey(key)
      if (expectedPeerId === undefined) throw new HeartbeatRejectedError('bad-key', 'key is not /heartbeat/<peer id>')
      await validateHeartbeat(value, { subnetId, expectedPeerId })
    } catch (err) {
      const rejection = err instanceof HeartbeatRejectedError ? err : new HeartbeatRejectedError('malformed', String(err))
      onReject(rejection)
      throw rejection
    }
  }
}

/** kad-dht selector: the candidate with the highest `seq` wins (SPEC §5). */
export function heartbeatDhtSelector (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestSeq = -1
  records.forEach((record, i) => {
    const seq = peekHeartbeat(record)?.seq ?? -1
    if (seq > bestSeq) {
      best = i
      bestSeq = seq
    }
  })
  return best
}
