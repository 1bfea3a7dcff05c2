/**
 * The heartbeat as the REST API serves it (SPEC §1 `/v1/get_heartbeat`): its states, role names,
 * limits and entry shape. The one home of these facts: the native record (record.ts), the
 * template messages (src/template), the view, the API filters and the config all import them here.
 *
 * A leaf module (imports nothing of the project but peer ids), so any folder may use it without
 * pulling in libp2p's node or creating an import cycle.
 */
import { peerIdFromString } from '@libp2p/peer-id'

export const HEARTBEAT_STATES = ['OFFLINE', 'JOINING', 'ONLINE'] as const
export type HeartbeatState = typeof HEARTBEAT_STATES[number]

/** Limits of the fields a peer may publish (docs/PROTOCOL.md §Payload). */
export const MAX_PEER_ID_LENGTH = 128
export const MAX_ROLE_LENGTH = 64
export const MAX_PUBLIC_NAME_LENGTH = 128
export const MAX_VERSION_LENGTH = 64
export const MAX_NEXT_PINGS = 16
/**
 * A role name (SPEC §1 "an upper-case role name"): upper-case letters, digits, `_` and `-`, 1 to
 * MAX_ROLE_LENGTH characters. Records are checked with it, and the REST `?role=` filter and the
 * `--role` setting use it too, so nothing a peer may publish is refused there.
 */
export const ROLE_PATTERN = /^[A-Z0-9_-]{1,64}$/

/** Which wire a heartbeat arrived on (docs/PROTOCOL.md): the sidecar's own, or the subnet template's gossipsub. */
const HEARTBEAT_PROTOCOLS = ['native', 'template'] as const
export type HeartbeatProtocol = typeof HEARTBEAT_PROTOCOLS[number]

/** `server` object of a heartbeat, exactly the fields of SPEC §1 `/v1/get_heartbeat`. */
export interface HeartbeatServer {
  state: HeartbeatState
  /** Upper-case role name, e.g. `VALIDATOR`. */
  role: string
  throughput: number
  public_name: string | null
  version: string
  using_relay: boolean
  /** Peer id → round-trip seconds, or null. */
  next_pings: Record<string, number> | null
}

/** One element of `/v1/get_heartbeat`'s `value`. */
export interface HeartbeatEntry {
  peer_id: string
  server: HeartbeatServer
  /** Unix seconds, float. */
  expiration_time: number
  /** Template heartbeats only (SPEC §1): the node's on-chain subnet node id. */
  subnet_node_id?: number
  /** Template heartbeats only: the epoch of the newest message. */
  epoch?: number
  /** Template heartbeats only: `template` (native entries omit it, so their shape is unchanged). */
  protocol?: HeartbeatProtocol
}

/**
 * Whether `text` is a libp2p peer id in its canonical (base58btc) string form, the form
 * records name peers in: it parses and prints back unchanged. At most MAX_PEER_ID_LENGTH
 * characters, checked first, so a long input costs no base58 decoding (quadratic in length).
 */
export function isPeerId (text: string): boolean {
  if (text.length > MAX_PEER_ID_LENGTH) return false
  try {
    return peerIdFromString(text).toString() === text
  } catch {
    return false
  }
}
