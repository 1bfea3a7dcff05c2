import { readFile } from 'node:fs/promises'
import test from 'ava'
import { startBootnode, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

test('without a version the library publishes the package version, as the CLI does', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  const subnetId = uniqueSubnetId('defaults')
  const boot = await startBootnode(t, { subnetId })
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs })
  const hb = await waitFor(() => boot.collector.heartbeats().find((h) => h.peer_id === peer.node.peerId), { what: "the peer's heartbeat" })
  t.is(hb.server.version, pkg.version)
})

test('an explicit version is published as given', async (t) => {
  const subnetId = uniqueSubnetId('defaults')
  const boot = await startBootnode(t, { subnetId })
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, version: 'v9.9.9-test' })
  const hb = await waitFor(() => boot.collector.heartbeats().find((h) => h.peer_id === peer.node.peerId), { what: "the peer's heartbeat" })
  t.is(hb.server.version, 'v9.9.9-test')
})
