import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  CanonicalJsonError, TemplateMessageRejectedError, canonicalJson, sha256Id, validatePeerStateTopicMessage, verifyDagMessage
} from '../../src/template/index.js'
import { ALITH, EXAMPLE_DAG_MESSAGE as example, enc, peerStatePayload, signDagMessage } from './fixtures.js'
import type { TemplateRejectReason } from '../../src/template/index.js'

const NODE_ID = 'sha256:6dba45dcff8776b8bcc5f8d006681e4987663874e87f049f3a575627452139f4'
const opts = { subnetId: 1, from: ALITH }

async function rejects (t: import('ava').ExecutionContext, p: Promise<unknown>, reason: TemplateRejectReason): Promise<void> {
  const err = await t.throwsAsync(p, { instanceOf: TemplateMessageRejectedError })
  t.is(err?.reason, reason, err?.message)
}

/** The example with one edit applied to its parsed form, re-serialised canonically. */
function tampered (edit: (m: any) => void): Uint8Array {
  const m = JSON.parse(example.toString('latin1'))
  edit(m)
  return enc(canonicalJson(m))
}

test('canonical JSON equals Python json.dumps(sort_keys, compact, ensure_ascii) byte for byte', (t) => {
  // Expected string computed once with CPython 3.11:
  // json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
  const v = { b: 'é𝄞\u0000\u007f"\\/\n\t\b\f\r\u001f', a: [1.5, 1e-5, 0.0001, -2.5e-7, 123.456, 0.1, 1e-7, 5e-324, -0, 12, true, false, null], '\uffff': 1, '\ud800\udc00': 2, '\ud800': 3, '': {} }
  t.is(canonicalJson(v), '{"":{},"a":[1.5,1e-05,0.0001,-2.5e-07,123.456,0.1,1e-07,5e-324,0,12,true,false,null],"b":"\\u00e9\\ud834\\udd1e\\u0000\\u007f\\"\\\\/\\n\\t\\b\\f\\r\\u001f","\\ud800":3,"\\uffff":1,"\\ud800\\udc00":2}')
  t.is(canonicalJson(JSON.parse(example.toString('latin1'))), example.toString('latin1'))
  for (const bad of [Number.NaN, Infinity, 2 ** 60, undefined, () => 1, new Date(0)]) t.throws(() => canonicalJson([bad]), { instanceOf: CanonicalJsonError })
})

test('verifies the real template DAG message and returns its peer state', async (t) => {
  t.is(sha256Id(example), 'sha256:613d497798cc7764775fbb82f48e728a8a6d5fc5293c8bd340bc12c571bc4478')
  const r = await verifyDagMessage(example, opts)
  if (r.kind !== 'node_gossip') return t.fail()
  t.is(r.nodeId, NODE_ID)
  t.is(r.author, ALITH)
  t.deepEqual(r.parentIds, ['sha256:3985494c3d3a78424e2f9b63b959c7e443d372c55f5fb14077b73eae777cbb51'])
  t.is(r.createdAtMs, 1796155786734)
  t.is(r.multiaddr, '/ip4/127.0.0.1/tcp/45655')
  t.deepEqual(r.peerState, { uid: '4f8ac05025553c30854cdfde23afb63f', epoch: 14967964, subnetId: 1, subnetNodeId: 2, state: 'JOINING', stateCode: 1, role: 'VALIDATOR', roleCode: 0 })
  // The node as served over sync is the message's node, byte for byte.
  t.true(example.toString('latin1').includes(canonicalJson(r.node)))
  const viaTopic = await validatePeerStateTopicMessage(example, opts)
  t.is(viaTopic.format, 'dag')
})

test('tampered copies fail with the right reason', async (t) => {
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.body.payload.state = 2 }), opts), 'bad_hash')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.metadata.state = 2 }), opts), 'bad_hash')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.body.node_id = 'sha256:00' }), opts), 'bad_hash')
  // node_id recomputed after an edit: the signature no longer matches.
  await rejects(t, verifyDagMessage(tampered((m) => {
    const h = m.node.header
    h.created_at_ms += 1
    const { node_id: _n, signature: _s, ...unsigned } = h
    h.node_id = sha256Id(enc(canonicalJson(unsigned)))
    m.node.body.node_id = h.node_id
  }), opts), 'bad_signature')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.signature = '00'.repeat(64) }), opts), 'bad_signature')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.public_key = 'zz' }), opts), 'bad_signature')
  await rejects(t, verifyDagMessage(example, { ...opts, from: '12D3KooWLGmub3LXuKQixBD5XwNW4PtSfnrysYzqs1oj19HxMUCF' }), 'sender_mismatch')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.author = '12D3KooWLGmub3LXuKQixBD5XwNW4PtSfnrysYzqs1oj19HxMUCF' }), opts), 'sender_mismatch')
  await rejects(t, verifyDagMessage(tampered((m) => { m.namespace = 'other' }), opts), 'wrong_namespace')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.schema_id = 'other' }), opts), 'wrong_schema')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.parent_ids = ['sha256:b', 'sha256:a'] }), opts), 'bad_parents')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.parent_ids.push(m.node.header.node_id) }), opts), 'bad_parents')
  await rejects(t, verifyDagMessage(tampered((m) => { m.node.header.body_size = '150' }), opts), 'malformed')
  await rejects(t, verifyDagMessage(tampered((m) => { m.kind = 'other' }), opts), 'malformed')
  await rejects(t, verifyDagMessage(enc('[]'), opts), 'malformed')
  await rejects(t, verifyDagMessage(example, { ...opts, subnetId: 2 }), 'wrong_subnet')
  await rejects(t, verifyDagMessage(example, { ...opts, nowMs: 1796155786734 - 60_001 }), 'future_timestamp')
  t.is((await verifyDagMessage(example, { ...opts, nowMs: 1796155786734 - 60_000 })).kind, 'node_gossip')
  await rejects(t, verifyDagMessage(new Uint8Array(64 * 1024 + 1), opts), 'oversized')
})

test('a node signed here with bad payload fields is invalid_field', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const from = peerIdFromPrivateKey(key).toString()
  const sign = async (over: Record<string, unknown>): Promise<Uint8Array> => (await signDagMessage(key, peerStatePayload(over))).bytes
  const ok = await verifyDagMessage(await sign({ uid: 'é' }), { subnetId: 1, from })
  t.is(ok.kind === 'node_gossip' ? ok.peerState.state : '', 'ONLINE')
  await rejects(t, verifyDagMessage(await sign({ state: 3 }), { subnetId: 1, from }), 'invalid_field')
  await rejects(t, verifyDagMessage(await sign({ multiaddr: 5 }), { subnetId: 1, from }), 'invalid_field')
  await rejects(t, verifyDagMessage(await sign({ subnet_node_id: 0 }), { subnetId: 1, from }), 'invalid_field')
  await rejects(t, verifyDagMessage(await sign({ subnet_id: 2 }), { subnetId: 1, from }), 'wrong_subnet')
})

test('announcements are recognised and checked, not used', async (t) => {
  const a = { created_at_ms: 1, head_ids: ['sha256:a'], kind: 'announcement', message_id: 'announcement:00', namespace: 'general-dag', node_count: 3, peer_id: ALITH }
  t.deepEqual(await verifyDagMessage(enc(canonicalJson(a)), opts), { kind: 'announcement', peerId: ALITH, headIds: ['sha256:a'], nodeCount: 3 })
  t.is((await validatePeerStateTopicMessage(enc(canonicalJson(a)), opts)).format, 'dag-announcement')
  await rejects(t, verifyDagMessage(enc(canonicalJson({ ...a, peer_id: 'x' })), opts), 'sender_mismatch')
  await rejects(t, verifyDagMessage(enc(canonicalJson({ ...a, namespace: 'x' })), opts), 'wrong_namespace')
})

test('the peer_state topic entry point takes plain JSON too, with the 1 KiB bound', async (t) => {
  const plain = '{"uid":"271add8200ac8616bb7a0ed7ce65304d","epoch":2,"subnet_id":1,"subnet_node_id":1,"state":2,"role":0}'
  const r = await validatePeerStateTopicMessage(enc(plain), opts)
  t.is(r.format === 'plain' ? r.peerState.state : '', 'ONLINE')
  await rejects(t, validatePeerStateTopicMessage(enc(plain.replace('"uid":"', `"uid":"${'a'.repeat(1000)}`)), opts), 'oversized')
})
