/**
 * The JS template publisher (issue 11 item 7): a `template`-profile peer publishes what a subnet
 * template node publishes, so a sidecar's template source shows it, and a real py template node
 * receives its messages byte for byte.
 */
import test from 'ava'
import { createHeartbeatCollector } from '../../src/heartbeat/index.js'
import {
  createTemplateHeartbeatSource, encodeTemplateHeartbeat, encodeTemplatePeerState, parseTemplateHeartbeat,
  parseTemplatePeerState, templateMockEpoch, templateUid
} from '../../src/template/index.js'
import { LOOPBACK_LISTEN, startNode, startTestPeer } from '../helpers/p2p.js'
import { pyTest, startPyNode } from '../helpers/py-node.js'
import { waitFor } from '../helpers/wait.js'
import type { HeartbeatEntry } from '../../src/heartbeat/model.js'
import type { ExecutionContext } from 'ava'

const SUBNET_ID = '1'
/** Short intervals so every case sees several messages within its bound. */
const FAST = { templateHeartbeatIntervalMs: 300, templatePeerStateIntervalMs: 300 }

test('messages are the template\'s pydantic bytes', (t) => {
  const uid = templateUid()
  t.regex(uid, /^[0-9a-f]{32}$/)
  t.not(templateUid(), uid)
  const hb = encodeTemplateHeartbeat({ uid: 'u', epoch: 7, subnet_id: 1, subnet_node_id: 2 })
  // The harness's --check asserts these exact bytes against the template's models (node.py).
  t.is(new TextDecoder().decode(hb), '{"uid":"u","epoch":7,"subnet_id":1,"subnet_node_id":2}')
  const ps = encodeTemplatePeerState({ uid: 'u', epoch: 7, subnet_id: 1, subnet_node_id: 2, state: 1, role: 0 })
  t.is(new TextDecoder().decode(ps), '{"uid":"u","epoch":7,"subnet_id":1,"subnet_node_id":2,"state":1,"role":0}')
  t.is(parseTemplateHeartbeat(hb, { subnetId: 1 }).subnetNodeId, 2)
  t.is(parseTemplatePeerState(ps, { subnetId: 1 }).state, 'JOINING')
})

test('the epoch is the template mock chain\'s ((now // 6) - 3) // 20', (t) => {
  t.is(templateMockEpoch(0), -1) // Python: (0 - 3) // 20 == -1
  t.is(templateMockEpoch(18_000), 0) // block 3
  t.is(templateMockEpoch(137_999), 0) // block 22
  t.is(templateMockEpoch(138_000), 1) // block 23
  t.is(templateMockEpoch(1_765_331_991_757), Math.floor((Math.floor(1_765_331_991 / 6) - 3) / 20))
})

/** A template-profile node with the sidecar's template source and a collector over it. */
async function startTemplateCollector (t: ExecutionContext): Promise<{ addrs: string[], heartbeats: () => HeartbeatEntry[] }> {
  const node = await startNode(t, { subnetId: SUBNET_ID, profile: 'template' })
  const source = createTemplateHeartbeatSource({ subnetId: SUBNET_ID }, { node })
  const collector = createHeartbeatCollector({ sweepIntervalMs: 200 }, { node, sources: [source] })
  t.teardown(async () => { await collector.stop() })
  await collector.start()
  return { addrs: node.bootnodeAddrs(), heartbeats: () => collector.heartbeats() }
}

test('a js template peer shows up ONLINE with its subnet_node_id, and OFFLINE on stop', async (t) => {
  const collector = await startTemplateCollector(t)
  const peer = await startTestPeer(t, { subnetId: SUBNET_ID, profile: 'template', bootstrap: collector.addrs, subnetNodeId: 7, ...FAST })
  t.truthy(peer.templatePublisher)
  const mine = (): HeartbeatEntry | undefined => collector.heartbeats().find((h) => h.peer_id === peer.node.peerId)
  const online = await waitFor(() => mine()?.server.state === 'ONLINE' ? mine() : undefined, { what: 'the js template peer ONLINE', timeoutMs: 20_000 })
  t.is(online.subnet_node_id, 7)
  t.is(online.protocol, 'template')
  t.is(online.server.role, 'VALIDATOR')
  t.is(peer.publisher.state(), 'ONLINE')
  t.is(peer.publisher.nextPings(), null)

  await peer.stop()
  await waitFor(() => mine()?.server.state === 'OFFLINE', { what: 'the js template peer OFFLINE after stop', timeoutMs: 10_000 })
  t.pass()
})

test('a both-profile peer runs both publishers on one node; its template messages reach the collector', async (t) => {
  const collector = await startTemplateCollector(t)
  const peer = await startTestPeer(t, { subnetId: SUBNET_ID, profile: 'both', bootstrap: collector.addrs, subnetNodeId: 3, ...FAST })
  t.truthy(peer.templatePublisher)
  t.not(peer.node.pubsub, undefined)
  t.is(typeof peer.publisher.nextPings, 'function')
  const entry = await waitFor(() => collector.heartbeats().find((h) => h.peer_id === peer.node.peerId && h.server.state === 'ONLINE'), { what: 'the both peer ONLINE', timeoutMs: 20_000 })
  t.is(entry.subnet_node_id, 3)
})

test('a native peer has no template publisher', async (t) => {
  const peer = await startTestPeer(t, { subnetId: 'native-only', listen: LOOPBACK_LISTEN })
  t.is(peer.templatePublisher, undefined)
  t.is(peer.node.pubsub, undefined)
})

pyTest(test, 'a real py template node receives the js peer\'s heartbeat and peer_state byte for byte', async (t) => {
  const py = startPyNode(t, { subnetId: 1, subnetNodeId: 1, args: ['--heartbeat-interval', '0', '--peer-state-interval', '0'] })
  const { multiaddr } = await py.listen(60_000)
  const peer = await startTestPeer(t, { subnetId: SUBNET_ID, profile: 'template', bootstrap: [multiaddr], subnetNodeId: 5, ...FAST })
  const published = new Map<string, string[]>()
  // What the js peer publishes, as text (its PUB bytes), to compare with py's RECV lines. Wrapped
  // before it can reach py: until connected it publishes to nobody.
  const origPublish = peer.node.pubsub!.publish.bind(peer.node.pubsub!)
  peer.node.pubsub!.publish = async (topic, data) => {
    if (data !== undefined) published.set(topic, [...(published.get(topic) ?? []), new TextDecoder().decode(data)])
    return await origPublish(topic, data)
  }
  for (const topic of ['heartbeat', 'peer_state']) {
    const recv = await py.waitForLine((e) => e.kind === 'RECV' && e.fields[0] === topic && e.fields[1] === peer.node.peerId, 30_000)
    const json = recv.fields.slice(2).join(' ')
    t.true(published.get(topic)?.includes(json), `py RECV ${json} is one of the js PUB messages`)
  }
  const online = await py.waitForLine((e) => e.kind === 'RECV' && e.fields[0] === 'peer_state' && e.fields[1] === peer.node.peerId && (e.fields[2] ?? '').includes('"state":2'), 30_000)
  t.regex(online.fields[2] ?? '', /^\{"uid":"[0-9a-f]{32}","epoch":\d+,"subnet_id":1,"subnet_node_id":5,"state":2,"role":0\}$/)
  await peer.stop()
  const offline = await py.waitForLine((e) => e.kind === 'RECV' && e.fields[0] === 'peer_state' && e.fields[1] === peer.node.peerId && (e.fields[2] ?? '').includes('"state":0'), 15_000)
  t.true(published.get('peer_state')?.includes(offline.fields[2] ?? ''), offline.line)
})
