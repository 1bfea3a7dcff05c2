/**
 * What an address is before anyone looks it up (SPEC §1): not an IP → `invalid query`;
 * RFC 1918 and IPv6 unique-local → `private range`; every other special-purpose block →
 * `reserved range`; public unicast goes on to a lookup. ip-api.com answers these same
 * messages for these same addresses, so clients see one vocabulary whatever the mode.
 */
import { isIP } from 'node:net'
import { ipaddr } from '../util/ipaddr.js'
import type { IPv4, IPv6 } from 'ipaddr.js'
import type { Location } from '../view/index.js'

export const MESSAGE_INVALID = 'invalid query'
export const MESSAGE_PRIVATE = 'private range'
export const MESSAGE_RESERVED = 'reserved range'

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
/**
 * Blocks that ipaddr.js names but that are globally routed unicast (IANA special-purpose
 * registry: "globally reachable"): 6to4 and Teredo tunnel addresses, the NAT64 prefixes and the
 * AS112/AMT anycast services carry real traffic, and a database may know them.
 */
const PUBLIC_RANGES = new Set(['unicast', '6to4', 'teredo', 'rfc6052', 'as112', 'as112v6', 'amt'])

export function fail (message: string, query: string): Location {
  return { status: 'fail', message, query }
}

export function classify (ip: string): Classification {
  // net.isIP first: ipaddr.js alone accepts forms like `1.2.3` or `0x7f.1` (issue 6).
  const version = isIP(ip)
  if (version === 0) return { kind: 'fail', location: fail(MESSAGE_INVALID, ip) }
  let parsed: IPv4 | IPv6
  try {
    parsed = ipaddr.parse(ip)
  } catch {
    return { kind: 'fail', location: fail(MESSAGE_INVALID, ip) }
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as IPv6
    // Looked up as the IPv4 address it carries: the same host, and IPv4 data is richer.
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address()
  }
  const range = parsed.range()
  if (PRIVATE_RANGES.has(range)) return { kind: 'fail', location: fail(MESSAGE_PRIVATE, ip) }
  if (!PUBLIC_RANGES.has(range)) return { kind: 'fail', location: fail(MESSAGE_RESERVED, ip) }
  if (version === 4) return { kind: 'public', address: { family: 4, address: ip } } // already canonical: net.isIP is strict
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
