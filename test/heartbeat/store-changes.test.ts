/**
 * The DHT store is read per change, not per record held (issue 12 item 4): a record the DHT
 * stores reaches the view at once although the store sweep is slow, a record held before start
 * is read by the start scan, unchanged records are never validated again, and the sweep deletes
 * expired records without validating anything.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { createHeartbeatCollector, heartbeatKey, sealHeartbeat } from '../../src/heartbeat/index.js'
import { DhtHeartbeatSource } from '../../src/heartbeat/dht-source.js'
import { silentLogger } from '../../src/log/index.js'
import { startBootnode, startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { payloadFor } from './fixtures.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

/** A node bootstrapped to `boot` that puts heartbeats of fresh identities (never peers in anyone's peer store, so no lookup finds them). */
async function startPutter (t: ExecutionContext, subnetId: string, bootAddrs: string[]): Promise<(over?: { expiresInS?: number }) => Promise<string>> {
  const putter = await startNode(t, { subnetId, bootstrap: bootAddrs })
  await waitFor(() => putter.dht.routingTable.size > 0, { what: 'the putter to know the bootnode' })
  return async (over = {}) => {
    const key = await generateKeyPair('Ed25519')
    const payload = payloadFor(key, subnetId, over.expiresInS === undefined ? {} : { expiration_time: Date.now() / 1000 + over.expiresInS })
    const record = await sealHeartbeat(payload, key)
    try {
      for await (const _ of putter.dht.put(heartbeatKey(payload.peer_id), record, { signal: AbortSignal.timeout(5_000) })) {}
    } catch {}
    return peerIdFromPrivateKey(key).toString()
  }
}

test('a record put into the DHT reaches the view at once although the store sweep is slow', async (t) => {
  const subnetId = uniqueSubnetId()
  // Neither a sweep nor a lookup runs again within the test: only the change can bring it.
  const boot = await startBootnode(t, { subnetId }, { sweepIntervalMs: 60_000, lookupIntervalMs: 60_000 })
  const put = await startPutter(t, subnetId, boot.addrs)
  const peer = await put()
  await waitFor(() => boot.collector.heartbeats().some((h) => h.peer_id === peer), { what: 'the put heartbeat in the view', timeoutMs: 10_000 })
  t.deepEqual(boot.collector.rejections(), {})
})

async function startCollector (t: ExecutionContext, node: SubnetNode, storeSweepIntervalMs: number): Promise<{ source: DhtHeartbeatSource, heartbeats: () => string[] }> {
  const source = new DhtHeartbeatSource(node, { storeSweepIntervalMs, lookupIntervalMs: 60_000, logger: silentLogger })
  const collector = createHeartbeatCollector({ sweepIntervalMs: 60_000 }, { node, sources: [source] })
  t.teardown(async () => { await collector.stop() })
  await collector.start()
  return { source, heartbeats: () => collector.heartbeats().map((h) => h.peer_id) }
}

test('records held before start are read by the start scan; then only changes are validated, and the sweep validates nothing', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  const put = await startPutter(t, subnetId, boot.bootnodeAddrs())
  const before = [await put(), await put()]
  await waitFor(async () => (await Promise.all(before.map(async (p) => boot.hasStoredRecord(heartbeatKey(p))))).every(Boolean), { what: 'the records stored before start' })

  const { source, heartbeats } = await startCollector(t, boot, 100)
  await waitFor(() => before.every((p) => heartbeats().includes(p)), { what: 'the records held before start in the view' })
  t.is(source.stats().validated, 2)

  const later = await put()
  await waitFor(() => heartbeats().includes(later), { what: 'the later record in the view' })
  t.is(source.stats().validated, 3)

  // Several sweeps over the three records held: none of them is validated again.
  const sweeps = source.stats().sweeps
  await waitFor(() => source.stats().sweeps >= sweeps + 3, { what: 'three more sweeps' })
  t.is(source.stats().validated, 3)
  t.is(source.stats().removed, 0)
  t.is(heartbeats().length, 3)
})

test('the sweep deletes a record past its expiry from the store', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  const { source, heartbeats } = await startCollector(t, boot, 200)
  const put = await startPutter(t, subnetId, boot.bootnodeAddrs())
  const peer = await put({ expiresInS: 2 })
  await waitFor(() => heartbeats().includes(peer), { what: 'the short-lived record in the view' })
  await waitFor(async () => !(await boot.hasStoredRecord(heartbeatKey(peer))), { what: 'the expired record deleted from the store' })
  t.true(source.stats().removed >= 1)
  t.is(source.stats().validated, 1)
})
