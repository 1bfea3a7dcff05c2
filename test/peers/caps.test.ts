/**
 * Bounds on the peers list (issue 12 item 2, SPEC §5 "Member caps"): members per IP and in
 * total, with small caps so the counts stay small, and announced addresses per peer. Every
 * node here connects from 127.0.0.1.
 */
import { createServer } from 'node:net'
import test from 'ava'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { MAX_ADDRS_PER_PEER, createPeerCollector } from '../../src/peers/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { PeerCollector, PeerCollectorInit } from '../../src/peers/index.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

interface Capped { node: SubnetNode, peers: PeerCollector, registry: Registry }

async function cappedBootnode (t: ExecutionContext, init: PeerCollectorInit = {}): Promise<Capped> {
  const node = await startNode(t, { subnetId: uniqueSubnetId() })
  const registry = new Registry()
  const peers = createPeerCollector({ sweepIntervalMs: 100, allowPrivateAddrs: true, ...init }, { node, registry })
  t.teardown(async () => { await peers.stop() })
  await peers.start()
  return { node, peers, registry }
}

/** Resolves once the bootnode has identified `member` as a subnet member (its kad protocol is in the peer store). */
async function identified (boot: Capped, member: SubnetNode): Promise<void> {
  await waitFor(async () => (await boot.node.libp2p.peerStore.get(member.libp2p.peerId)).protocols.includes(boot.node.kadProtocol), { what: `identify of ${member.peerId}` })
}

async function refusals (registry: Registry, reason: string): Promise<number> {
  const match = new RegExp(`subnet_bootnode_peers_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(await registry.metrics())
  return Number(match?.[1] ?? 0)
}

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

test('past the per-IP cap a newcomer from the same IP is not listed, and is counted; listed peers keep their place', async (t) => {
  const boot = await cappedBootnode(t, { maxPeersPerIp: 2 })
  const first = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  const second = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  await waitFor(() => boot.peers.peers().length === 2, { what: 'two peers listed' })
  const extra = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  await identified(boot, extra)
  await waitFor(async () => await refusals(boot.registry, 'ip-cap') === 1, { what: 'the refusal counted' })
  t.deepEqual(boot.peers.peers().map((p) => p.peerId), [first.peerId, second.peerId].sort())
  // Later updates of the refused peer neither list it nor count it again.
  await boot.node.libp2p.peerStore.merge(extra.libp2p.peerId, { tags: { poke: { value: 1 } } })
  t.false(boot.peers.peers().some((p) => p.peerId === extra.peerId))
  t.is(await refusals(boot.registry, 'ip-cap'), 1)
  t.is(await refusals(boot.registry, 'total-cap'), 0)
})

test('past the total cap a newcomer is not listed, and is counted', async (t) => {
  const boot = await cappedBootnode(t, { maxPeers: 1 })
  const first = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  await waitFor(() => boot.peers.peers().length === 1, { what: 'one peer listed' })
  const extra = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  await identified(boot, extra)
  await waitFor(async () => await refusals(boot.registry, 'total-cap') === 1, { what: 'the refusal counted' })
  t.deepEqual(boot.peers.peers().map((p) => p.peerId), [first.peerId])
})

test('a peer announcing 40 addresses, junk among them, is listed with at most the cap of dialable, distinct ones', async (t) => {
  const boot = await cappedBootnode(t)
  const port = await freePort()
  const real = `/ip4/127.0.0.1/tcp/${port}`
  // Ephemeral ports have 5 digits, so every port+k sorts after the real one.
  const others = Array.from({ length: 30 }, (_, k) => `/ip4/127.0.0.1/tcp/${port + k + 1}`)
  const junk = [
    '/ip4/0.0.0.0/tcp/4001', '/ip4/224.0.0.1/tcp/4001', '/ip4/255.255.255.255/tcp/4001', '/ip4/169.254.1.1/tcp/4001',
    '/ip6/::/tcp/4001', '/ip6/ff02::1/tcp/4001', '/ip6/fe80::1/tcp/4001'
  ]
  const announce = [real, ...others, ...junk, real, others[0]!]
  t.is(announce.length, 40)
  const member = await startNode(t, { subnetId: boot.node.subnetId, listen: [real], announce, bootstrap: boot.node.bootnodeAddrs() })
  const entry = await waitFor(() => boot.peers.peers().find((p) => p.peerId === member.peerId), { what: 'the member listed' })
  t.is(entry.multiaddrs.length, MAX_ADDRS_PER_PEER)
  t.is(new Set(entry.multiaddrs).size, entry.multiaddrs.length, 'no duplicates')
  t.true(entry.multiaddrs.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/')), 'junk dropped')
  t.is(entry.multiaddrs[0], real)
  // The listed address is dialable: a fresh node reaches the member through it.
  const dialer = await startNode(t, { subnetId: uniqueSubnetId('dialer') })
  const conn = await dialer.libp2p.dial(multiaddr(`${entry.multiaddrs[0]!}/p2p/${member.peerId}`), { signal: AbortSignal.timeout(5000) })
  t.is(conn.remotePeer.toString(), member.peerId)
})

test('without private addresses allowed, a loopback-only peer is listed with no addresses', async (t) => {
  const boot = await cappedBootnode(t, { allowPrivateAddrs: false })
  const member = await startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })
  const entry = await waitFor(() => boot.peers.peers().find((p) => p.peerId === member.peerId), { what: 'the member listed' })
  t.deepEqual(entry.multiaddrs, [])
})
