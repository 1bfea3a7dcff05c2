/**
 * Member caps on heartbeats (issue 12 item 2, SPEC §5 "Member caps"): per IP and in total, with
 * small caps so the counts stay small. Every identity here connects from 127.0.0.1.
 */
import test from 'ava'
import { Registry } from 'prom-client'
import { ACK_ACCEPTED, createHeartbeatCollector, sealHeartbeat } from '../../src/heartbeat/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { payloadFor, pushRaw } from './fixtures.js'
import type { CollectorInit, HeartbeatCollector } from '../../src/heartbeat/index.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

interface Capped { node: SubnetNode, collector: HeartbeatCollector, registry: Registry }

async function cappedBootnode (t: ExecutionContext, init: CollectorInit): Promise<Capped> {
  const node = await startNode(t, { subnetId: uniqueSubnetId() })
  const registry = new Registry()
  const collector = createHeartbeatCollector({ sweepIntervalMs: 200, lookupIntervalMs: 60_000, ...init }, { node, registry })
  t.teardown(async () => { await collector.stop() })
  await collector.start()
  return { node, collector, registry }
}

/** `n` fresh identities of the bootnode's subnet, connected to it from 127.0.0.1. */
async function connectNodes (t: ExecutionContext, boot: Capped, n: number): Promise<SubnetNode[]> {
  return Promise.all(Array.from({ length: n }, async () => startNode(t, { subnetId: boot.node.subnetId, bootstrap: boot.node.bootnodeAddrs() })))
}

/** Each node pushes one valid heartbeat, in order. */
async function pushEach (t: ExecutionContext, boot: Capped, nodes: SubnetNode[], over: { expiresInS?: number } = {}): Promise<void> {
  for (const node of nodes) {
    const expiration = over.expiresInS === undefined ? {} : { expiration_time: Date.now() / 1000 + over.expiresInS }
    const record = await sealHeartbeat(payloadFor(node.privateKey, node.subnetId, expiration), node.privateKey)
    // A record refused past a cap is still valid: the ack says so (docs/PROTOCOL.md §5).
    t.is(await pushRaw(node, boot.node, record), ACK_ACCEPTED)
  }
}

function ids (nodes: SubnetNode[]): string[] {
  return nodes.map((n) => n.peerId).sort()
}

test('past the per-IP cap a newcomer from the same IP is refused and counted; members keep their place', async (t) => {
  const boot = await cappedBootnode(t, { maxHeartbeatsPerIp: 3 })
  const nodes = await connectNodes(t, boot, 4)
  await pushEach(t, boot, nodes)
  const admitted = nodes.slice(0, 3)
  const extra = nodes[3]!
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), ids(admitted))
  t.is(boot.collector.rejectionsBySource().push?.['ip-cap'], 1)
  // The same refused record again is not counted twice; a newer one is.
  const again = await sealHeartbeat(payloadFor(extra.privateKey, extra.subnetId), extra.privateKey)
  t.is(await pushRaw(extra, boot.node, again), ACK_ACCEPTED)
  t.is(boot.collector.rejectionsBySource().push?.['ip-cap'], 2)
  t.false(boot.collector.heartbeats().some((h) => h.peer_id === extra.peerId))
  // A member at the cap still refreshes its heartbeat.
  const member = admitted[0]!
  const base = payloadFor(member.privateKey, member.subnetId)
  const refresh = await sealHeartbeat({ ...base, seq: base.seq + 1000, server: { ...base.server, role: 'MINER' } }, member.privateKey)
  t.is(await pushRaw(member, boot.node, refresh), ACK_ACCEPTED)
  t.is(boot.collector.heartbeats().find((h) => h.peer_id === member.peerId)?.server.role, 'MINER')
  t.regex(await boot.registry.metrics(), /subnet_bootnode_heartbeat_rejections_total\{reason="ip-cap"\} 2/)
})

test('past the total cap a newcomer is refused and counted; once a member expires a newcomer gets its place', async (t) => {
  const boot = await cappedBootnode(t, { maxHeartbeats: 2 })
  // All connected first, so the members cannot expire before the late one pushes; 10 s leaves a
  // loaded machine room for the three pushes (at 4 s the members once expired first).
  const [shortLived, other, late] = await connectNodes(t, boot, 3)
  await pushEach(t, boot, [shortLived!, other!], { expiresInS: 10 })
  t.is(boot.collector.heartbeats().length, 2)
  await pushEach(t, boot, [late!])
  t.is(boot.collector.rejectionsBySource().push?.['total-cap'], 1)
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), ids([shortLived!, other!]))
  // Both members expire and are swept; the late one's next heartbeat is accepted.
  t.regex(await boot.registry.metrics(), /subnet_bootnode_heartbeat_rejections_total\{reason="total-cap"\} 1/)
  await waitFor(() => boot.collector.heartbeats().length === 0, { what: 'the short-lived heartbeats to expire' })
  // Places free up at the next sweep (200 ms): the late peer publishes again, as it would each interval.
  await waitFor(async () => {
    const retry = await sealHeartbeat(payloadFor(late!.privateKey, late!.subnetId), late!.privateKey)
    await pushRaw(late!, boot.node, retry)
    return boot.collector.heartbeats().some((h) => h.peer_id === late!.peerId)
  }, { what: 'the late peer admitted', intervalMs: 100 })
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), [late!.peerId])
})
