/**
 * The IP addresses in a multiaddr, for p2p (which addresses to hand out as bootnodes) and the
 * view (which addresses to geolocate): one reading of the ip4/ip6 components for both.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The values of the ip4/ip6 components of `addr`, in order; none for dns* addresses or an unparsable string. */
export function ipsOfMultiaddr (addr: string | Multiaddr): string[] {
  let ma: Multiaddr
  try {
    ma = typeof addr === 'string' ? multiaddr(addr) : addr
  } catch {
    return []
  }
  const ips: string[] = []
  for (const c of ma.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) ips.push(c.value)
  }
  return ips
}

/** The peer id a multiaddr names in its `/p2p/<id>` part, if any (multiaddr 13 has no getPeerId()). */
export function peerIdOfMultiaddr (ma: Multiaddr): string | undefined {
  return ma.getComponents().find((c) => c.name === 'p2p')?.value
}
