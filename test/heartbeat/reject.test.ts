import test from 'ava'
import { Registry } from 'prom-client'
import { ACK_ACCEPTED, ACK_REJECTED, heartbeatKey, sealHeartbeat } from '../../src/heartbeat/index.js'
import { startBootnode, startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { badRecords, payloadFor, pushRaw } from './fixtures.js'

const REASONS = ['forged', 'wrong-subnet', 'oversized', 'expired', 'too-far-future', 'malformed', 'unsigned']

test('bad records are rejected by the push handler and by the DHT validator, counted by reason', async (t) => {
  const subnetId = uniqueSubnetId()
  const registry = new Registry()
  const boot = await startBootnode(t, { subnetId }, {}, registry)
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  await waitFor(() => attacker.dht.routingTable.size > 0 && boot.node.dht.routingTable.size > 0, { what: 'routing tables' })
  const records = await badRecords(attacker.privateKey, subnetId)
  t.deepEqual(Object.keys(records).sort(), [...REASONS].sort())

  for (const reason of REASONS) {
    const bytes = records[reason]!
    t.is(await pushRaw(attacker, boot.node, bytes), ACK_REJECTED, `push ${reason}`)
    // kad-dht stores a put locally before sending it, and our store keeps the newer of two records
    // under one key (as go's does): drop the attacker's own copy first, so every bad record is
    // sent, as by an attacker whose store takes anything.
    for await (const held of attacker.storedRecords(heartbeatKey(attacker.peerId))) await held.remove()
    try {
      for await (const _ of attacker.dht.put(heartbeatKey(attacker.peerId), bytes, { signal: AbortSignal.timeout(5000) })) { void _ }
    } catch {}
  }
  const bySource = await waitFor(() => {
    const s = boot.collector.rejectionsBySource()
    return REASONS.every((r) => (s.dht?.[r] ?? 0) >= 1) ? s : undefined
  }, { what: 'every reason counted by the DHT validator' })
  for (const reason of REASONS) {
    t.is(bySource.push?.[reason], 1, `push count of ${reason}`)
    t.true((bySource.dht?.[reason] ?? 0) >= 1, `dht count of ${reason}`)
    t.true((boot.collector.rejections()[reason] ?? 0) >= 2, `total count of ${reason}`)
  }
  t.deepEqual(boot.collector.heartbeats(), [])
  // /metrics shows the same totals (the collector registers its own series).
  const text = await registry.metrics()
  for (const [reason, n] of Object.entries(boot.collector.rejections())) {
    t.true(text.includes(`subnet_bootnode_heartbeat_rejections_total{reason="${reason}"} ${n}`), `metric of ${reason}`)
  }

  // The same peer with a good record is accepted: the rejections were about the records.
  const good = await sealHeartbeat(payloadFor(attacker.privateKey, subnetId), attacker.privateKey)
  t.is(await pushRaw(attacker, boot.node, good), ACK_ACCEPTED)
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), [attacker.peerId])
})

test('a pushed record signed by the pushing peer but about another peer is forged', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const victim = await startNode(t, { subnetId })
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  // A genuine record of the victim, replayed by the attacker over its own connection.
  const replay = await sealHeartbeat(payloadFor(victim.privateKey, subnetId), victim.privateKey)
  t.is(await pushRaw(attacker, boot.node, replay), ACK_REJECTED)
  t.is(boot.collector.rejectionsBySource().push?.forged, 1)
  t.deepEqual(boot.collector.heartbeats(), [])
})
