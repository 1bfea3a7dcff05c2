/**
 * Shortest CIDR prefixes a trust-proxy list may name (SPEC §1: never "trust everything"). A shorter
 * one (`0.0.0.0/0`, `::/0`, `0.0.0.0/1`, …) trusts (nearly) every client to name its own IP in
 * X-Forwarded-For, which voids the per-IP limits. Unique local IPv6 (fc00::/7, RFC 4193) is private
 * by definition, so a prefix from /7 within it is allowed, like 10.0.0.0/8.
 * One check for the config (at parse time) and the API (whoever embeds it).
 */
import { ipaddr } from './ipaddr.js'

const MIN_TRUST_PROXY_PREFIX_V4 = 8
const MIN_TRUST_PROXY_PREFIX_V6 = 16

/**
 * Why a trust-proxy entry is too wide, or undefined when it is fine or is not a CIDR this can read
 * (names such as `loopback`, plain addresses, typos: those are checked elsewhere). An IPv4-mapped IPv6
 * range (`::ffff:0.0.0.0/96`) counts as the IPv4 range it matches, as express's proxy-addr matches it.
 */
export function trustedRangeTooWide (entry: string): string | undefined {
  const slash = entry.lastIndexOf('/')
  if (slash === -1) return undefined
  const address = entry.slice(0, slash)
  const range = entry.slice(slash + 1)
  if (!ipaddr.isValid(address)) return undefined
  const ip = ipaddr.parse(address)
  let prefix: number | null = null
  if (/^\d{1,3}$/.test(range)) prefix = Number(range)
  else if (ip.kind() === 'ipv4' && ipaddr.IPv4.isValid(range)) prefix = ipaddr.IPv4.parse(range).prefixLengthFromSubnetMask()
  if (prefix === null) return undefined
  let family = ip.kind() === 'ipv4' ? 'IPv4' : 'IPv6'
  let min = ip.kind() === 'ipv4' ? MIN_TRUST_PROXY_PREFIX_V4 : MIN_TRUST_PROXY_PREFIX_V6
  if (ip.kind() === 'ipv6') {
    const v6 = ip as import('ipaddr.js').IPv6
    if (prefix >= 96 && v6.isIPv4MappedAddress()) {
      prefix -= 96
      family = 'IPv4'
      min = MIN_TRUST_PROXY_PREFIX_V4
    } else if (v6.range() === 'uniqueLocal' && prefix >= 7) {
      return undefined
    }
  }
  if (prefix >= min) return undefined
  return `${entry} is a /${prefix} ${family} range, which is too wide: it would let (nearly) every client set its own IP ` +
    `with X-Forwarded-For and escape the per-IP limits ("trust everything" is refused); list your proxies' addresses, ` +
    `or a range of at least /${min} for ${family}`
}
