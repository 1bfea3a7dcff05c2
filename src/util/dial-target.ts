/**
 * Where the node may dial an address someone else chose (a peer's announcement, an on-chain
 * bootnode): `/ip4|ip6/<ip>/tcp/<port>`, or why not. The node speaks TCP only; a DNS name is
 * resolved here so the address it stands for passes the private check (SPEC §1 `/v1/is_reachable`,
 * §4 `--allow-private-addrs`): without it nobody can make the node dial hosts of its own network.
 */
import { lookup } from 'node:dns/promises'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { settleWithin } from './deadline.js'
import { dialableAddrs } from './dialable.js'

/** Why an address is not dialled. */
export type DialRefusal = 'not a multiaddr' | 'unsupported transport' | 'DNS lookup failed' | 'private address' | 'not a dialable address'

const DNS_PROTOCOLS: Readonly<Record<string, 0 | 4 | 6>> = { dns: 0, dns4: 4, dns6: 6, dnsaddr: 0 }

/** The address to dial for `text` (its `/p2p/<id>` dropped), or why it is not dialled; the DNS lookup within `timeoutMs`. */
export async function dialTarget (text: string, allowPrivate: boolean, timeoutMs: number): Promise<{ addr: Multiaddr } | { error: DialRefusal }> {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch {
    return { error: 'not a multiaddr' }
  }
  const parts = ma.getComponents()
  const [host, tcp, ...rest] = parts
  if (host === undefined || tcp?.name !== 'tcp' || tcp.value === undefined || host.value === undefined || rest.some((c) => c.name !== 'p2p')) {
    return { error: 'unsupported transport' }
  }
  let ip = host.value
  if (host.name in DNS_PROTOCOLS && host.name !== 'dnsaddr') {
    try {
      const found = await settleWithin(lookup(host.value, { family: DNS_PROTOCOLS[host.name] }), timeoutMs, () => { throw new Error('timeout') }, { unref: false })
      ip = found.address
    } catch {
      return { error: 'DNS lookup failed' }
    }
  } else if (host.name !== 'ip4' && host.name !== 'ip6') {
    return { error: 'unsupported transport' }
  }
  const addr = multiaddr(`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${tcp.value}`)
  if (dialableAddrs([addr], allowPrivate).length === 0) return { error: allowPrivate ? 'not a dialable address' : 'private address' }
  return { addr }
}

/** `fn` over `items`, at most `limit` at a time; the results in `items`' order. */
export async function mapConcurrent<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
