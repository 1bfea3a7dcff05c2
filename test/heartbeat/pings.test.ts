/**
 * next_pings names other heartbeat peers only (SPEC §5, docs/PROTOCOL.md §6): never a collector
 * that publishes nothing (the sidecar), and peers seen publishing before peers not known to.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { startBootnode, startNode, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { PrivateKey } from '@libp2p/interface'

test('next_pings holds the other publishing peer, not the bootnode that only collects', async (t) => {
  const subnetId = uniqueSubnetId('pings')
  const boot = await startBootnode(t, { subnetId })
  const a = await startTestPeer(t, { subnetId, bootstrap: boot.addrs })
  const b = await startTestPeer(t, { subnetId, bootstrap: boot.addrs })
  await waitFor(() => a.publisher.nextPings()?.[b.node.peerId] !== undefined, { what: 'an RTT to the other peer in next_pings', timeoutMs: 20_000 })
  // A stays connected to the bootnode (its bootstrap) and has measured several rounds by now.
  t.true(a.node.libp2p.getConnections(boot.node.libp2p.peerId).length > 0)
  t.is(a.publisher.nextPings()?.[boot.node.peerId], undefined, JSON.stringify(a.publisher.nextPings()))
  const heard = await waitFor(() => boot.collector.heartbeats().find((h) => h.peer_id === a.node.peerId && h.server.next_pings?.[b.node.peerId] !== undefined), { what: "A's heartbeat with B's RTT" })
  t.deepEqual(Object.keys(heard.server.next_pings ?? {}), [b.node.peerId])
})

test('a peer whose heartbeat is in our DHT store is pinged before five silent subnet nodes', async (t) => {
  const subnetId = uniqueSubnetId('pings')
  const a = await startTestPeer(t, { subnetId })
  const addrs = a.node.bootnodeAddrs()
  const silent = await Promise.all(Array.from({ length: 5 }, async () => startNode(t, { subnetId, bootstrap: addrs })))
  // The publisher's id sorts after every silent node's, so peer-id order alone would leave it out.
  const last = silent.map((n) => n.peerId).sort().at(-1) ?? ''
  let key: PrivateKey | undefined
  for (let i = 0; i < 500 && key === undefined; i++) {
    const k = await generateKeyPair('Ed25519')
    if (peerIdFromPrivateKey(k).toString() > last) key = k
  }
  if (key === undefined) throw new Error('no key with a late-sorting peer id in 500 tries')
  // A measures the five silent nodes first; the publisher must displace one of them.
  await waitFor(() => Object.keys(a.publisher.nextPings() ?? {}).length === 5, { what: 'five silent nodes in next_pings' })
  const publisher = await startTestPeer(t, { subnetId, bootstrap: addrs, privateKey: key })
  await waitFor(() => a.publisher.nextPings()?.[publisher.node.peerId] !== undefined, { what: "the publisher's RTT in next_pings", timeoutMs: 20_000 })
  const pings = a.publisher.nextPings() ?? {}
  t.is(Object.keys(pings).length, 5)
  t.true(publisher.node.peerId in pings)
})
