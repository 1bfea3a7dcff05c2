/**
 * Which of our own addresses are worth handing out as bootnodes (SPEC §1 `/v1/get_bootnodes`).
 * A listener on `0.0.0.0` expands to every interface address, loopback and LAN ones included;
 * another machine can never dial `127.0.0.1`, and only machines on the same LAN can dial a
 * private address. The ranges come from ipaddr.js (no hand-written CIDR tables).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { ipaddr } from '../util/ipaddr.js'


/** Never dialable by another node, whatever the settings. */
const NEVER_DIALABLE = new Set(['unspecified', 'linkLocal', 'multicast', 'broadcast'])
/**
 * Globally reachable unicast blocks (IANA special-purpose registry): plain unicast, plus the
 * tunnel, NAT64 and anycast blocks ipaddr.js names but that carry real traffic. Everything else
 * (loopback, RFC 1918, ULA, CGNAT, documentation and reserved blocks) is dialable at best inside
 * one host or network, so it is kept only with `allowPrivate`.
 */
const PUBLIC = new Set(['unicast', '6to4', 'teredo', 'rfc6052', 'as112', 'as112v6', 'amt'])

/** The ip4/ip6 value of a multiaddr, or undefined for DNS and other non-IP addresses. */
function ipOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
}

/**
 * Keeps the addresses another node could dial: drops unspecified, link-local, multicast and
 * broadcast addresses always, and every other non-public one (loopback, RFC 1918, ULA, CGNAT,
 * reserved) unless `allowPrivate` is set. Non-IP addresses (DNS names) are kept.
 */
export function dialableAddrs (addrs: readonly Multiaddr[], allowPrivate: boolean): Multiaddr[] {
  return addrs.filter((ma) => {
    const ip = ipOf(ma)
    if (ip === undefined) return true
    let range: string
    try {
      // process() turns IPv4-mapped IPv6 (::ffff:10.0.0.1) into IPv4 so it is classed as such.
      range = ipaddr.process(ip).range()
    } catch {
      return false
    }
    if (NEVER_DIALABLE.has(range)) return false
    return PUBLIC.has(range) || allowPrivate
  })
}
