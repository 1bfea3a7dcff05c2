/**
 * Which addresses another node could dial: our own, handed out as bootnodes (SPEC §1 `/v1/get_bootnodes`),
 * and the addresses `/v1/get_peers_info` lists for a peer (SPEC §5 "Member caps").
 * A listener on `0.0.0.0` expands to every interface address, loopback and LAN ones included;
 * another machine can never dial `127.0.0.1`, and only machines on the same LAN can dial a
 * private address. The ranges come from ipaddr.js (no hand-written CIDR tables).
 */
import { GLOBAL_UNICAST_RANGES, rangeOf } from './ipaddr.js'
import { ipsOfMultiaddr } from './multiaddr.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Never dialable by another node, whatever the settings. */
const NEVER_DIALABLE = new Set(['unspecified', 'linkLocal', 'multicast', 'broadcast'])

/**
 * Keeps the addresses another node could dial: drops unspecified, link-local, multicast and
 * broadcast addresses always, and every other non-public one (loopback, RFC 1918, ULA, CGNAT,
 * reserved) unless `allowPrivate` is set. Non-IP addresses (DNS names) are kept.
 */
export function dialableAddrs (addrs: readonly Multiaddr[], allowPrivate: boolean): Multiaddr[] {
  return addrs.filter((ma) => {
    const ip = ipsOfMultiaddr(ma)[0]
    if (ip === undefined) return true
    // rangeOf classes IPv4-mapped IPv6 (::ffff:10.0.0.1) as the IPv4 address it carries.
    const range = rangeOf(ip)
    if (range === undefined || NEVER_DIALABLE.has(range)) return false
    // Globally reachable blocks; the rest (loopback, RFC 1918, ULA, CGNAT, documentation,
    // reserved) is dialable at best inside one host or network.
    return GLOBAL_UNICAST_RANGES.has(range) || allowPrivate
  })
}
