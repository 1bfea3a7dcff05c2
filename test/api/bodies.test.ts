/**
 * The bodies' serialiser and compression budget (issue 12 item 3): a body is a join of cached
 * per-entry parts, byte for byte JSON.stringify({ value }); a change from one peer serialises only
 * that peer's parts; large bodies are compressed at a bounded rate, never stale.
 */
import { brotliDecompressSync } from 'node:zlib'
import test from 'ava'
import { BodyParts, createBodies } from '../../src/api/bodies.js'
import { createCompressBudget } from '../../src/api/representation.js'
import { createStaticView, type HeartbeatEntry } from '../../src/view/index.js'
import { makePeerIds, makeSnapshot, type SnapshotInput } from '../helpers/api.js'
import { waitFor } from '../helpers/wait.js'

let ids: string[] = []
let snap: SnapshotInput
test.before(async () => {
  ids = await makePeerIds(40)
  snap = makeSnapshot(ids)
})

test('a body of cached parts is byte for byte JSON.stringify({ value })', (t) => {
  const parts = new BodyParts()
  const odd = { 10: { a: 1 }, b: { c: 'é"\u2028' }, 2: { d: null } }
  for (let round = 0; round < 2; round++) {
    t.is(parts.body({ list: snap.heartbeats }).toString('utf8'), JSON.stringify({ value: snap.heartbeats }))
    t.is(parts.body({ list: [] }).toString('utf8'), '{"value":[]}')
    t.is(parts.body({ members: snap.peersInfo }).toString('utf8'), JSON.stringify({ value: snap.peersInfo }))
    t.is(parts.body({ members: {} }).toString('utf8'), '{"value":{}}')
    t.is(parts.body({ members: odd }).toString('utf8'), JSON.stringify({ value: odd }), 'integer-like keys first, as JSON.stringify orders them')
    t.is(parts.body({ plain: snap.bootnodes }).toString('utf8'), JSON.stringify({ value: snap.bootnodes }))
  }
  // one object under another key is serialised again, not served under the old one
  const shared = { x: 1 }
  t.is(parts.body({ members: { a: shared } }).toString('utf8'), '{"value":{"a":{"x":1}}}')
  t.is(parts.body({ members: { b: shared } }).toString('utf8'), '{"value":{"b":{"x":1}}}')
})

test('a change from one peer re-serialises only that peer\'s entries', async (t) => {
  const view = createStaticView(snap)
  const bodies = createBodies(view)
  t.teardown(() => { bodies.close() })
  bodies.get('get_heartbeat', undefined)
  bodies.get('get_peers_info', undefined)
  const first = bodies.partStats()
  t.is(first.serialised, 2 * ids.length, 'every entry once at first')

  const changed = ids[7] ?? ''
  const heartbeats = snap.heartbeats.map((h): HeartbeatEntry => h.peer_id === changed ? { ...h, expiration_time: h.expiration_time + 10 } : h)
  const peersInfo = { ...snap.peersInfo, [changed]: { multiaddrs: ['/ip4/203.0.113.77/tcp/4001'] } }
  view.set({ ...snap, heartbeats, peersInfo })
  const hb = bodies.get('get_heartbeat', undefined)
  const pi = bodies.get('get_peers_info', undefined)
  const after = bodies.partStats()
  t.is(after.serialised - first.serialised, 2, 'one heartbeat and one peer info serialised')
  t.is(after.reused - first.reused, 2 * (ids.length - 1))
  t.is(hb.identity.body.toString('utf8'), JSON.stringify({ value: heartbeats }))
  t.is(pi.identity.body.toString('utf8'), JSON.stringify({ value: peersInfo }))
  // a filtered body reuses the same parts
  bodies.get('get_heartbeat', { peer_id: changed })
  t.is(bodies.partStats().serialised, after.serialised)
})

test('the compression budget: small bodies are free, a large one waits in proportion to the time it took', (t) => {
  let now = 1_000
  const budget = createCompressBudget({ duty: 0.2, freeBytes: 1000, now: () => now })
  t.is(budget.waitMs(5000), 0)
  budget.charge(999, 10)
  t.is(budget.waitMs(5000), 0, 'a small body costs nothing')
  budget.charge(5000, 0.1)
  t.is(Math.round(budget.waitMs(5000)), 400, '100 ms of work at a 20 % duty: 400 ms of rest')
  t.is(budget.waitMs(999), 0)
  now += 400
  t.is(budget.waitMs(5000), 0)
})

test('a large body is never served stale: identity until its variant for this snapshot is made', async (t) => {
  const big = makeSnapshot(await makePeerIds(200))
  const view = createStaticView(big)
  // a budget that never lets a large body be compressed: requests get the current identity bytes
  const bodies = createBodies(view, { budget: { waitMs: (bytes) => bytes < 1024 ? 0 : 3_600_000, charge: () => {} } })
  t.teardown(() => { bodies.close() })
  const rep = bodies.get('get_peers_info', undefined)
  t.true(rep.identity.body.length > 64 * 1024)
  t.is(rep.variant('br'), rep.identity)
  t.is(rep.variant('gzip').encoding, 'identity')
  t.is(bodies.get('get_bootnodes', undefined).variant('gzip').encoding, 'identity', 'tiny: not worth compressing')

  // with a free budget the variants are made on the thread pool and decode to the current bytes
  const open = createBodies(view)
  t.teardown(() => { open.close() })
  const r = open.get('get_peers_info', undefined)
  const br = await waitFor(() => { const v = r.variant('br'); return v.encoding === 'br' ? v : undefined }, { what: 'br variant' })
  t.is(brotliDecompressSync(br.body).toString('utf8'), r.identity.body.toString('utf8'))
  t.not(br.etag, r.identity.etag)
})
