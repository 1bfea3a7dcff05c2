import test from 'ava'
import { Registry } from 'prom-client'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { ACK_ACCEPTED, ACK_REJECTED, heartbeatKey, sealHeartbeat } from '../../src/heartbeat/index.js'
import { startBootnode, startNode, startPeers, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { payloadFor, pushRaw } from './fixtures.js'

test('a peer that does not push is still seen through the DHT', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const [quiet] = await startPeers(t, 1, { subnetId, bootstrap: boot.addrs, push: false })
  const hb = await waitFor(() => boot.collector.heartbeats().find((h) => h.peer_id === quiet!.node.peerId), { what: 'the DHT-only heartbeat' })
  t.is(hb.peer_id, quiet!.node.peerId)
  t.deepEqual(boot.collector.rejections(), {})
})

test('a targeted DHT get finds a known peer whose heartbeat is missing, and its latency reaches the metrics', async (t) => {
  const subnetId = uniqueSubnetId()
  const registry = new Registry()
  // The store scan runs once at start, then not again within the test: only a get can find it.
  const boot = await startBootnode(t, { subnetId }, { sweepIntervalMs: 60_000, lookupIntervalMs: 300 }, registry)
  const [quiet] = await startPeers(t, 1, { subnetId, bootstrap: boot.addrs, push: false })
  await waitFor(() => boot.collector.heartbeats().find((h) => h.peer_id === quiet!.node.peerId), { what: 'the heartbeat found by a get' })
  const histogram = ((await registry.getSingleMetric('subnet_bootnode_dht_query_seconds')?.get())?.values ?? []) as Array<{ metricName?: string, value: number }>
  const count = histogram.find((v) => v.metricName === 'subnet_bootnode_dht_query_seconds_count')?.value ?? 0
  const sum = histogram.find((v) => v.metricName === 'subnet_bootnode_dht_query_seconds_sum')?.value ?? -1
  t.true(count >= 1)
  t.true(sum >= 0)
  // Recorded from the first query on, whether or not an API exists (the registry is the collector's).
  t.regex(await registry.metrics(), /subnet_bootnode_dht_query_seconds_count [1-9]/)
})

test('two subnets on one host never mix', async (t) => {
  const a = uniqueSubnetId('a')
  const b = uniqueSubnetId('b')
  const bootA = await startBootnode(t, { subnetId: a })
  const bootB = await startBootnode(t, { subnetId: b })
  const peersA = await startPeers(t, 2, { subnetId: a, bootstrap: bootA.addrs })
  // A peer of subnet b that also dials bootnode a directly.
  const peerB = await startTestPeer(t, { subnetId: b, bootstrap: [...bootB.addrs, ...bootA.addrs] })
  const idsA = peersA.map((p) => p.node.peerId).sort()
  await waitFor(() => bootA.collector.heartbeats().length >= 2, { what: 'subnet a heartbeats' })
  await waitFor(() => bootB.collector.heartbeats().length >= 1, { what: 'subnet b heartbeat' })
  await waitFor(() => peerB.node.libp2p.getConnections().some((c) => c.remotePeer.toString() === bootA.node.peerId), { what: 'b peer connected to bootnode a' })
  // Even pushed straight at bootnode a over a's protocol, b's genuine record is refused.
  const recordB = await sealHeartbeat(payloadFor(peerB.node.privateKey, b), peerB.node.privateKey)
  t.is(await pushRaw(peerB.node, bootA.node, recordB), ACK_REJECTED)
  t.is(bootA.collector.rejectionsBySource().push?.['wrong-subnet'], 1)
  t.deepEqual(bootA.collector.heartbeats().map((h) => h.peer_id), idsA)
  t.deepEqual(bootB.collector.heartbeats().map((h) => h.peer_id), [peerB.node.peerId])
  // Subnet b's DHT protocol is not a's: the b peer never enters a's routing table.
  const rtA = await bootA.node.libp2p.peerStore.all({ filters: [(p) => p.protocols.includes(bootA.node.kadProtocol)] })
  t.false(rtA.some((p) => p.id.toString() === peerB.node.peerId))
})

test('a newer record replaces an older one, an older one never replaces a newer', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const pusher = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const key = pusher.privateKey
  const base = payloadFor(key, subnetId)
  const older = await sealHeartbeat({ ...base, seq: 100, server: { ...base.server, role: 'MINER' } }, key)
  const newer = await sealHeartbeat({ ...base, seq: 200, server: { ...base.server, role: 'VALIDATOR' } }, key)
  t.is(await pushRaw(pusher, boot.node, older), ACK_ACCEPTED)
  t.is(boot.collector.heartbeats()[0]?.server.role, 'MINER')
  t.is(await pushRaw(pusher, boot.node, newer), ACK_ACCEPTED)
  t.is(boot.collector.heartbeats()[0]?.server.role, 'VALIDATOR')
  t.is(await pushRaw(pusher, boot.node, older), ACK_ACCEPTED)
  t.is(boot.collector.heartbeats()[0]?.server.role, 'VALIDATOR')
  t.is(boot.collector.heartbeats().length, 1)
})

test('JOINING/ONLINE while running, OFFLINE after a clean stop; expired records leave the view', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const changes: number[] = []
  const off = boot.collector.onChange(() => { changes.push(Date.now()) })
  t.teardown(off)
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs })
  await waitFor(() => boot.collector.heartbeats().find((h) => h.server.state === 'ONLINE'), { what: 'ONLINE' })
  await peer.stop()
  const last = await waitFor(() => boot.collector.heartbeats().find((h) => h.server.state === 'OFFLINE'), { what: 'OFFLINE' })
  t.is(last.peer_id, peer.node.peerId)
  // The bootnode publishes no heartbeat: it is no "other heartbeat peer" (SPEC §5; pings.test.ts).
  t.is(last.server.next_pings?.[boot.node.peerId], undefined)
  t.true(changes.length >= 2)

  // An accepted record that expires is dropped by the sweep.
  const pusher = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const shortLived = await sealHeartbeat(payloadFor(pusher.privateKey, subnetId, { expiration_time: Date.now() / 1000 + 3 }), pusher.privateKey)
  t.is(await pushRaw(pusher, boot.node, shortLived), ACK_ACCEPTED)
  t.true(boot.collector.heartbeats().some((h) => h.peer_id === pusher.peerId))
  await waitFor(() => !boot.collector.heartbeats().some((h) => h.peer_id === pusher.peerId), { what: 'the expired record to go' })
  t.pass()
})

test('an older record put into the DHT never replaces the newer one the bootnode stores (issue 12)', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  // Two putters: each kad-dht put also stores locally, and the second must not hold the newer record.
  const first = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const replayer = await startNode(t, { subnetId, bootstrap: boot.addrs })
  await waitFor(() => first.dht.routingTable.size > 0 && replayer.dht.routingTable.size > 0, { what: 'the putters to know the bootnode' })
  const key = first.privateKey
  const base = payloadFor(key, subnetId)
  const older = await sealHeartbeat({ ...base, seq: 100, server: { ...base.server, role: 'MINER' } }, key)
  const newer = await sealHeartbeat({ ...base, seq: 200, server: { ...base.server, role: 'VALIDATOR' } }, key)
  const dhtKey = heartbeatKey(first.peerId)
  const put = async (node: typeof first, value: Uint8Array): Promise<void> => {
    try {
      for await (const _ of node.dht.put(dhtKey, value, { signal: AbortSignal.timeout(5_000) })) {}
    } catch {}
  }
  const stored = async (): Promise<Uint8Array | undefined> => {
    for await (const record of boot.node.storedRecords(dhtKey)) if (uint8ArrayEquals(record.key, dhtKey)) return record.value
    return undefined
  }
  await put(first, newer)
  await waitFor(async () => { const v = await stored(); return v !== undefined && uint8ArrayEquals(v, newer) }, { what: 'the newer record stored' })
  await put(replayer, older)
  // Both are validly signed; the older one reached the bootnode and was refused there.
  t.true(uint8ArrayEquals((await stored()) ?? new Uint8Array(), newer))
  await waitFor(() => boot.collector.heartbeats()[0]?.server.role === 'VALIDATOR', { what: 'the newer heartbeat in the view' })
  t.true(uint8ArrayEquals((await stored()) ?? new Uint8Array(), newer))
})
