/**
 * IP address helpers shared by p2p (which own addresses to hand out), geo (which addresses to
 * look up) and the API server (is the bind address loopback): one parser, one set of range names,
 * so the three never disagree about what an address is. The ranges come from ipaddr.js (no
 * hand-written CIDR tables, STYLE rule 11).
 *
 * ipaddr.js is CommonJS with `export =` typings: Node's ESM loader exposes it only as a default
 * export, which TypeScript refuses without `esModuleInterop`. Loading it through `require` keeps
 * both the runtime and the types exact.
 */
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import type { IPv4, IPv6 } from 'ipaddr.js'

export const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof import('ipaddr.js')

/**
 * Globally reachable unicast blocks (IANA special-purpose registry: "globally reachable"): plain
 * unicast, plus the blocks ipaddr.js names but that carry real traffic: 6to4 and Teredo tunnel
 * addresses, the NAT64 prefixes and the AS112/AMT anycast services. Everything else (loopback,
 * RFC 1918, ULA, CGNAT, link-local, documentation and reserved blocks) is not.
 */
export const GLOBAL_UNICAST_RANGES: ReadonlySet<string> = new Set(['unicast', '6to4', 'teredo', 'rfc6052', 'as112', 'as112v6', 'amt'])

/**
 * `ip` parsed, an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) turned into the IPv4 address it
 * carries (the same host, classed as such); undefined when `ip` is not an IP address. net.isIP
 * first: ipaddr.js alone accepts forms like `1.2.3` or `0x7f.1` (issue 6).
 */
export function parseIp (ip: string): IPv4 | IPv6 | undefined {
  if (isIP(ip) === 0) return undefined
  try {
    return ipaddr.process(ip)
  } catch {
    return undefined
  }
}

/** The ipaddr.js range name of `ip` (`unicast`, `private`, `loopback`, …) after parseIp; undefined when not an IP. */
export function rangeOf (ip: string): string | undefined {
  return parseIp(ip)?.range()
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback (`::ffff:127.0.0.1`). Host names are not resolved: `localhost` is false. */
export function isLoopbackAddress (ip: string): boolean {
  return rangeOf(ip) === 'loopback'
}
