import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { DAG_SYNC_PROTOCOL, canonicalJson, createDagSyncService, verifyDagMessage } from '../../src/template/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { ALITH, EXAMPLE_DAG_MESSAGE, enc, peerStatePayload, signDagMessage } from './fixtures.js'
import type { DagSyncService, VerifiedDagNode } from '../../src/template/index.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

async function verified (bytes: Uint8Array, from: string): Promise<VerifiedDagNode> {
  const r = await verifyDagMessage(bytes, { subnetId: 1, from })
  if (r.kind !== 'node_gossip') throw new Error('not a node')
  return r
}

/** A chain root ← child ← grandchild signed by one fresh key. */
async function chain (n: number): Promise<VerifiedDagNode[]> {
  const key = await generateKeyPair('Ed25519')
  const out: VerifiedDagNode[] = []
  for (let i = 0; i < n; i++) {
    const parents = out.length > 0 ? [out[out.length - 1]!.nodeId] : []
    const m = await signDagMessage(key, peerStatePayload({ epoch: i }), parents)
    out.push(await verified(m.bytes, m.author))
  }
  return out
}

/** Two real js-libp2p nodes on 127.0.0.1; `server` answers the sync protocol with `sync`. */
async function pair (t: ExecutionContext, sync: (peerId: string) => DagSyncService): Promise<{ server: SubnetNode, client: SubnetNode, service: DagSyncService }> {
  const subnetId = uniqueSubnetId('dag-sync')
  const server = await startNode(t, { subnetId })
  const client = await startNode(t, { subnetId })
  const service = sync(server.peerId)
  await server.libp2p.handle(DAG_SYNC_PROTOCOL, async (stream, connection) => { await service.handle(stream, connection) })
  return { server, client, service }
}

/** One request/response exactly as the template's MerkleDagSyncProtocol.call_remote does it. */
async function call (client: SubnetNode, server: SubnetNode, request: unknown): Promise<any> {
  const signal = AbortSignal.timeout(10_000)
  const stream = await client.libp2p.dialProtocol(server.libp2p.getMultiaddrs(), DAG_SYNC_PROTOCOL, { signal })
  const lp = lpStream(stream)
  await lp.write(enc(canonicalJson(request)), { signal })
  const response = (await lp.read({ signal })).subarray()
  await stream.close({ signal })
  const text = new TextDecoder().decode(response)
  return { json: JSON.parse(text), text }
}

function inventoryRequest (client: SubnetNode, server: SubnetNode, namespace = 'general-dag'): Record<string, unknown> {
  // DagInventoryRequest.to_primitive() as MerkleDagSyncCoordinator.reconcile_with_peer builds it.
  return { created_at_ms: 1796155786000, kind: 'inventory_request', known_heads: [], message_id: `inventory:${client.peerId}:${server.peerId}:1796155786000`, namespace, node_count: 0, peer_id: client.peerId }
}

function fetchRequest (client: SubnetNode, server: SubnetNode, nodeIds: string[], depth = 0): Record<string, unknown> {
  // DagFetchRequest.to_primitive() as MerkleDagSyncCoordinator.fetch_missing builds it.
  return { created_at_ms: 1796155786001, include_bodies: true, kind: 'fetch_request', max_ancestor_depth: depth, message_id: `fetch:${client.peerId}:${server.peerId}:1796155786001`, namespace: 'general-dag', node_ids: nodeIds, peer_id: client.peerId }
}

test('an empty store answers an empty inventory and not_found, with every shared field', async (t) => {
  const { server, client } = await pair(t, (peerId) => createDagSyncService({ now: () => 42 }, { peerId }))
  const inv = await call(client, server, inventoryRequest(client, server))
  t.is(inv.text, canonicalJson(inv.json)) // canonical JSON on the wire
  t.deepEqual(inv.json, {
    created_at_ms: 42, kind: 'inventory_response', message_id: `inventory:${client.peerId}:${server.peerId}:1796155786000`, namespace: 'general-dag', peer_id: server.peerId,
    summary: { generated_at_ms: 42, head_ids: [], namespace: 'general-dag', node_count: 0, orphan_count: 0 }
  })
  const fetch = await call(client, server, fetchRequest(client, server, ['sha256:b', 'sha256:a', 'sha256:a']))
  t.deepEqual(fetch.json, {
    created_at_ms: 42, kind: 'fetch_response', message_id: `fetch:${client.peerId}:${server.peerId}:1796155786001`, namespace: 'general-dag', peer_id: server.peerId,
    nodes: [], not_found: ['sha256:a', 'sha256:b']
  })
})

test('advertises and serves only nodes whose whole ancestry is held', async (t) => {
  const { server, client, service } = await pair(t, (peerId) => createDagSyncService({}, { peerId }))
  // The real template node: its parent is not held, so it is neither advertised nor served.
  const example = await verified(EXAMPLE_DAG_MESSAGE, ALITH)
  t.is(service.add(example), 'added')
  t.is(service.add(example), 'duplicate')
  const [root, child, grandchild] = await chain(3) as [VerifiedDagNode, VerifiedDagNode, VerifiedDagNode]
  t.is(service.add(grandchild), 'added') // arrives before its parent: not anchored yet
  t.deepEqual(service.summary().head_ids, [])
  service.add(root)
  service.add(child)
  const inv = await call(client, server, inventoryRequest(client, server))
  t.deepEqual(inv.json.summary.head_ids, [grandchild.nodeId])
  t.is(inv.json.summary.node_count, 3)
  t.is(service.size(), 4)

  const fetch = await call(client, server, fetchRequest(client, server, [grandchild.nodeId, example.nodeId]))
  t.is(fetch.json.nodes.length, 1)
  // Served byte for byte as the publisher signed it (DagNode.to_primitive()).
  t.is(canonicalJson(fetch.json.nodes[0]), canonicalJson(grandchild.node))
  t.deepEqual(fetch.json.not_found, [example.nodeId])
  // A served node re-verifies as the template would verify it after a fetch.
  const again = enc(canonicalJson({ created_at_ms: 1, kind: 'node_gossip', message_id: 'm', namespace: 'general-dag', node: fetch.json.nodes[0], peer_id: grandchild.author }))
  t.is((await verified(again, grandchild.author)).nodeId, grandchild.nodeId)

  // Ancestors first with max_ancestor_depth, as snapshots_for_fetch orders them.
  const deep = await call(client, server, { ...fetchRequest(client, server, [grandchild.nodeId], 5), include_bodies: false })
  t.deepEqual(deep.json.nodes.map((n: any) => n.header.node_id), [root.nodeId, child.nodeId, grandchild.nodeId])
  t.true(deep.json.nodes.every((n: any) => n.body === null))
  t.like(service.counts(), { inventory: 1, fetch: 2, servedNodes: 4 })
})

test('eviction of an ancestor withdraws its descendants; roles and namespaces the template refuses are not stored', async (t) => {
  const service = createDagSyncService({ maxNodes: 2 }, { peerId: ALITH })
  const [root, child, grandchild] = await chain(3) as [VerifiedDagNode, VerifiedDagNode, VerifiedDagNode]
  service.add(root)
  service.add(child)
  t.is(service.summary().node_count, 2)
  service.add(grandchild) // evicts root
  t.false(service.has(root.nodeId))
  t.like(service.summary(), { node_count: 0, head_ids: [] })

  const key = await generateKeyPair('Ed25519')
  const m = await signDagMessage(key, peerStatePayload({ role: 3 }))
  t.is(service.add(await verified(m.bytes, m.author)), 'refused')
  const open = createDagSyncService({ servableRoles: [0, 3], advertiseInventory: false }, { peerId: peerIdFromString(ALITH) })
  t.is(open.add(await verified(m.bytes, m.author)), 'added')
  t.is(open.summary().node_count, 0) // advertiseInventory: false
})

test('refuses bad requests without an answer and counts them by reason', async (t) => {
  const { server, client, service } = await pair(t, (peerId) => createDagSyncService({ maxRequestBytes: 512 }, { peerId }))
  const refused = async (request: Uint8Array): Promise<void> => {
    const signal = AbortSignal.timeout(10_000)
    const stream = await client.libp2p.dialProtocol(server.libp2p.getMultiaddrs(), DAG_SYNC_PROTOCOL, { signal })
    const lp = lpStream(stream)
    await lp.write(request, { signal })
    await t.throwsAsync(lp.read({ signal }))
  }
  await refused(enc('{"kind":'))
  await refused(enc(canonicalJson(inventoryRequest(client, server, 'other'))))
  await refused(enc(canonicalJson({ ...inventoryRequest(client, server), kind: 'announcement' })))
  await refused(enc(canonicalJson({ ...fetchRequest(client, server, []), include_bodies: 1 })))
  await refused(new Uint8Array(513).fill(0x20))
  t.deepEqual(service.counts().rejected, { malformed: 2, wrong_namespace: 1, unsupported_kind: 1, oversized: 1 })
})

test('a sync stream left open ends when its owner aborts, long before the read timeout', async (t) => {
  const subnetId = uniqueSubnetId('dag-sync')
  const server = await startNode(t, { subnetId })
  const client = await startNode(t, { subnetId })
  const service = createDagSyncService({ readTimeoutMs: 60_000 }, { peerId: server.peerId })
  const closing = new AbortController()
  const served: Array<Promise<void>> = []
  await server.libp2p.handle(DAG_SYNC_PROTOCOL, async (stream, connection) => {
    const p = service.handle(stream, connection, { signal: closing.signal })
    served.push(p)
    await p
  })
  // Open, but the request never comes: the handler waits on its read.
  await client.libp2p.dialProtocol(server.libp2p.getMultiaddrs(), DAG_SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  await waitFor(() => served.length === 1, { what: 'the server serving the stream' })
  let done = false
  void served[0]!.then(() => { done = true })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.false(done, 'still waiting for the request before the abort')
  closing.abort()
  const bound = new Promise<'timeout'>((resolve) => setTimeout(() => { resolve('timeout') }, 10_000).unref())
  t.not(await Promise.race([served[0]!.then(() => 'ended' as const), bound]), 'timeout', 'the stream ended on abort, not at its 60-s read timeout')
  t.is(service.counts().rejected.stream_error, 1)
})
