/**
 * What an address is before anyone looks it up (SPEC §1): not an IP → `invalid query`;
 * RFC 1918 and IPv6 unique-local → `private range`; every other special-purpose block →
 * `reserved range`; public unicast goes on to a lookup. ip-api.com answers these same
 * messages for these same addresses, so clients see one vocabulary whatever the mode.
 */
import { GLOBAL_UNICAST_RANGES, parseIp } from '../util/ipaddr.js'
import type { Location } from '../view/index.js'

const MESSAGE_INVALID = 'invalid query'
const MESSAGE_PRIVATE = 'private range'
const MESSAGE_RESERVED = 'reserved range'

/** An address worth looking up: its family and the canonical text a database reader takes. */
export interface PublicAddress {
  family: 4 | 6
  /** Canonical form; an IPv4-mapped IPv6 address becomes its IPv4 address. */
  address: string
}

export type Classification =
  | { kind: 'fail', location: Location }
  | { kind: 'public', address: PublicAddress }

const PRIVATE_RANGES = new Set(['private', 'uniqueLocal'])

export function fail (message: string, query: string): Location {
  return { status: 'fail', message, query }
}

export function classify (ip: string): Classification {
  // Strict (net.isIP), and an IPv4-mapped address is looked up as the IPv4 address it carries:
  // the same host, and IPv4 data is richer.
  const parsed = parseIp(ip)
  if (parsed === undefined) return { kind: 'fail', location: fail(MESSAGE_INVALID, ip) }
  const range = parsed.range()
  if (PRIVATE_RANGES.has(range)) return { kind: 'fail', location: fail(MESSAGE_PRIVATE, ip) }
  // Globally routed unicast, including the tunnel, NAT64 and anycast blocks a database may know.
  if (!GLOBAL_UNICAST_RANGES.has(range)) return { kind: 'fail', location: fail(MESSAGE_RESERVED, ip) }
  // A dotted quad is already canonical (net.isIP is strict).
  if (parsed.kind() === 'ipv4' && !ip.includes(':')) return { kind: 'public', address: { family: 4, address: ip } }
  return {
    kind: 'public',
    address: { family: parsed.kind() === 'ipv4' ? 4 : 6, address: parsed.toString() }
  }
}

/**
 * The fail object for an address that must not be looked up (`invalid query`, `private range`,
 * `reserved range`), or `undefined` for a public address.
 */
export function classifyIp (ip: string): Location | undefined {
  const c = classify(ip)
  return c.kind === 'fail' ? c.location : undefined
}
