import test from 'ava'
import { startBootnode, startPeers, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

test('heartbeats of several peers reach the collector by push', async (t) => {
  const subnetId = uniqueSubnetId()
  // Lookups and store scans effectively off: only pushes can fill the view.
  const boot = await startBootnode(t, { subnetId }, { sweepIntervalMs: 60_000, lookupIntervalMs: 60_000 })
  const peers = await startPeers(t, 4, { subnetId, bootstrap: boot.addrs, dhtPut: false })
  const ids = peers.map((p) => p.node.peerId).sort()
  const seen = await waitFor(() => {
    const hb = boot.collector.heartbeats()
    return ids.every((id) => hb.some((h) => h.peer_id === id && h.server.state === 'ONLINE')) ? hb : undefined
  }, { what: 'all four ONLINE heartbeats' })
  t.deepEqual(seen.map((h) => h.peer_id), ids)
  for (const h of seen) {
    t.is(h.server.role, 'VALIDATOR')
    t.true(h.expiration_time > Date.now() / 1000)
  }
  t.deepEqual(boot.collector.rejections(), {})
})
