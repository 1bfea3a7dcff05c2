/**
 * The demo's public addresses (issue 13 item 5): `appendAnnounce` adds addresses beside the
 * listen ones (what identify tells peers), and `neverDialIps` makes the connection gater refuse
 * every dial to those IPs before a packet leaves, while other dials go on.
 */
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

test('appendAnnounce is announced beside the listen address; neverDialIps refuses dials to those IPs only', async (t) => {
  const subnetId = uniqueSubnetId('announce')
  const target = await startNode(t, { subnetId, appendAnnounce: ['/ip4/8.8.8.8/tcp/4001'] })
  const addrs = target.libp2p.getMultiaddrs().map(String)
  t.true(addrs.some((a) => a.startsWith('/ip4/127.0.0.1/tcp/')), addrs.join(' '))
  t.true(addrs.some((a) => a.startsWith('/ip4/8.8.8.8/tcp/4001')), addrs.join(' '))

  // the refusing node may not dial the target's loopback address; the other one may
  const refusing = await startNode(t, { subnetId, neverDialIps: ['127.0.0.1', '8.8.8.8'] })
  const loopback = target.libp2p.getMultiaddrs().find((a) => a.toString().startsWith('/ip4/127.0.0.1/'))
  if (loopback === undefined) throw new Error('no loopback address')
  const err = await t.throwsAsync(refusing.libp2p.dial(loopback, { signal: AbortSignal.timeout(5_000) }))
  t.regex(String(err?.name) + ' ' + String(err?.message), /gater|denied|Denied/i)
  t.is(refusing.libp2p.getConnections(target.libp2p.peerId).length, 0)
  await t.throwsAsync(refusing.libp2p.dial(multiaddr('/ip4/8.8.8.8/tcp/4001'), { signal: AbortSignal.timeout(5_000) }))

  const plain = await startNode(t, { subnetId })
  await plain.libp2p.dial(loopback, { signal: AbortSignal.timeout(5_000) })
  // the plain node learns the announced public address through identify, as a subnet peer would
  await waitFor(async () => (await plain.libp2p.peerStore.get(target.libp2p.peerId)).addresses.some((a) => a.multiaddr.toString() === '/ip4/8.8.8.8/tcp/4001'), { what: 'the announced public address in the peer store' })
  t.true(plain.libp2p.getConnections(target.libp2p.peerId).length > 0)
})
