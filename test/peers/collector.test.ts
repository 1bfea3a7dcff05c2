import { join } from 'node:path'
import test from 'ava'
import { createPeerCollector } from '../../src/peers/index.js'
import { createSubnetNode } from '../../src/p2p/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { tempDir } from '../helpers/fs.js'
import { waitFor } from '../helpers/wait.js'
import type { PeerCollector } from '../../src/peers/index.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

async function collect (t: ExecutionContext, node: SubnetNode, peerTtlMs?: number): Promise<PeerCollector> {
  // The nodes listen on 127.0.0.1 and ::1, listed only with private addresses allowed (as the node allows them).
  const peers = createPeerCollector({ peerTtlMs, sweepIntervalMs: 100, allowPrivateAddrs: true }, { node })
  t.teardown(async () => { await peers.stop() })
  await peers.start()
  return peers
}

test('lists subnet peers with their listen addresses, IPv4 and IPv6, not the inbound port', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  const peers = await collect(t, boot)
  let changes = 0
  peers.onChange(() => { changes += 1 })
  const member = await startNode(t, { subnetId, listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'], bootstrap: boot.bootnodeAddrs() })
  const own = member.libp2p.getMultiaddrs().map((ma) => ma.toString().replace(`/p2p/${member.peerId}`, '')).sort()
  t.true(own.some((a) => a.startsWith('/ip6/::1/tcp/')), 'the member listens on ::1')
  const entry = await waitFor(() => peers.peers().find((p) => p.peerId === member.peerId && p.multiaddrs.length === 2), { what: 'the member with both addresses' })
  t.deepEqual(entry.multiaddrs, own)
  // The bootnode sees the member's connection from an ephemeral port, which is not listed.
  const inbound = boot.libp2p.getConnections(member.libp2p.peerId)[0]!.remoteAddr.toString()
  t.false(entry.multiaddrs.includes(inbound))
  t.false(peers.peers().some((p) => p.peerId === boot.peerId), 'the node itself is not listed')
  t.true(changes >= 1)
})

test('a node of another subnet connected to us is not listed', async (t) => {
  const boot = await startNode(t, { subnetId: uniqueSubnetId() })
  const peers = await collect(t, boot)
  const member = await startNode(t, { subnetId: boot.subnetId, bootstrap: boot.bootnodeAddrs() })
  const stranger = await startNode(t, { subnetId: uniqueSubnetId('other'), bootstrap: boot.bootnodeAddrs() })
  await waitFor(() => peers.peers().some((p) => p.peerId === member.peerId), { what: 'the member' })
  await waitFor(() => boot.libp2p.getConnections(stranger.libp2p.peerId).length > 0, { what: 'the stranger to connect' })
  // Identify has run for the stranger once its protocols are in our peer store.
  await waitFor(async () => (await boot.libp2p.peerStore.get(stranger.libp2p.peerId)).protocols.length > 0, { what: 'identify of the stranger' })
  t.deepEqual(peers.peers().map((p) => p.peerId), [member.peerId])
})

test('a disconnected peer stays for the TTL, then leaves', async (t) => {
  const boot = await startNode(t, { subnetId: uniqueSubnetId() })
  const peers = await collect(t, boot, 1500)
  const member = await startNode(t, { subnetId: boot.subnetId, bootstrap: boot.bootnodeAddrs() })
  await waitFor(() => peers.peers().some((p) => p.peerId === member.peerId), { what: 'the member' })
  await member.stop()
  await waitFor(() => boot.libp2p.getConnections(member.libp2p.peerId).length === 0, { what: 'the disconnect' })
  t.true(peers.peers().some((p) => p.peerId === member.peerId), 'still listed right after the disconnect')
  await waitFor(() => !peers.peers().some((p) => p.peerId === member.peerId), { what: 'the member to age out' })
  t.pass()
})

test('with a data dir, the bootnode remembers peers across a restart', async (t) => {
  const dir = await tempDir(t, 'subnet-peers-')
  const subnetId = uniqueSubnetId()
  const init = { subnetId, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, dataDir: join(dir, 'data'), identityPath: join(dir, 'key') }
  const first = await createSubnetNode(init)
  t.teardown(async () => { await first.stop() })
  await first.start()
  const firstPeers = await collect(t, first)
  const member = await startNode(t, { subnetId, bootstrap: first.bootnodeAddrs() })
  const entry = await waitFor(() => firstPeers.peers().find((p) => p.peerId === member.peerId), { what: 'the member' })
  await member.stop()
  await firstPeers.stop()
  await first.stop()

  const second = await createSubnetNode(init)
  t.teardown(async () => { await second.stop() })
  await second.start()
  t.is(second.peerId, first.peerId)
  const secondPeers = await collect(t, second)
  const remembered = secondPeers.peers().find((p) => p.peerId === member.peerId)
  t.deepEqual(remembered?.multiaddrs, entry.multiaddrs)
})
