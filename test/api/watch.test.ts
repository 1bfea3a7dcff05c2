/**
 * SPEC §1 `GET /v1/watch`: a real API server over a real key file and watcher, raw HTTP clients.
 * The stream carries the routes' very bytes, then only the changed ones; it ends with a `close`
 * event when its key is revoked (hot reload) or expires and on shutdown; the per-key cap is a 429,
 * the total cap a 503; keep-alive comments come at the (injected) interval; 200 streams all get a
 * change while the REST routes still answer. (A real peer's heartbeat reaching a stream: test/e2e/reachable.test.ts.)
 */
import test from 'ava'
import { updateKeyFile } from '../../src/keys/index.js'
import { makePeerIds, makeSnapshot, startTestApi } from '../helpers/api.js'
import { openWatch, type SseStream } from '../helpers/sse.js'
import { waitFor } from '../helpers/wait.js'

/** SPEC §1: a revoked key's stream ends within a second; allow for a busy machine, bounded. */
const CLOSE_BOUND_MS = 3_000
/** How far ahead the expiring key's expires_at is set. */
const EXPIRY_AHEAD_MS = 6_000
const KEY = 'key-watch-0123456789abcdef'
const ROOMY = { rateLimit: { limit: 100_000, windowMs: 60_000 }, authFailLimit: { limit: 1000, windowMs: 60_000 } }

/** A stream for `key` once one is let in again (a slot freed by a closed stream); refused tries are closed. */
async function openWhenFree (port: number, key: string, what: string): Promise<SseStream> {
  return await waitFor(async () => {
    const s = await openWatch(port, key)
    if (s.status === 200) return s
    s.close()
    return undefined
  }, { timeoutMs: 3_000, what })
}

function etagOf (header: string | string[] | undefined): string {
  return String(header).replace(/^"|"$/g, '')
}

test('the three events at connect carry the routes\' exact bytes; a change sends only what changed', async (t) => {
  const ids = await makePeerIds(3)
  const api = await startTestApi(t, { keys: [{ owner: 'w', key: KEY }], snapshot: makeSnapshot(ids), init: ROOMY })
  const s = await openWatch(api.port, KEY)
  t.teardown(() => { s.close() })
  t.is(s.status, 200)
  t.is(s.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.is(s.headers['cache-control'], 'no-cache')
  t.is(s.headers['x-accel-buffering'], 'no')
  await waitFor(() => s.events.length >= 3, { timeoutMs: 5_000, what: 'three initial events' })
  t.deepEqual(s.events.map(e => e.event).sort(), ['bootnodes', 'heartbeat', 'peers_info'])
  for (const [event, route] of [['heartbeat', 'get_heartbeat'], ['peers_info', 'get_peers_info'], ['bootnodes', 'get_bootnodes']] as const) {
    const r = await api.get(`/v1/${route}`, { headers: { 'X-API-Key': KEY } })
    const e = s.events.find(x => x.event === event)
    t.is(e?.data, r.text(), `${event} is the ${route} body`)
    t.is(e?.id, etagOf(r.headers.etag), `${event} id is the ${route} ETag`)
  }

  // one heartbeat changes state: only a new `heartbeat` event (peers_info and bootnodes bytes are unchanged)
  const from = s.events.length
  const base = makeSnapshot(ids)
  const first = base.heartbeats[0]
  if (first === undefined) throw new Error('fixture has no heartbeat')
  const next = { ...base, heartbeats: [{ ...first, server: { ...first.server, state: 'OFFLINE' as const } }, ...base.heartbeats.slice(1)] }
  api.view.set(next)
  const changed = await s.next(e => e.event === 'heartbeat', { from })
  t.is(changed.data, (await api.get('/v1/get_heartbeat', { headers: { 'X-API-Key': KEY } })).text())
  t.true(changed.data.includes('"state":"OFFLINE"'))
  // a later change to the bootnodes only: the bootnodes event comes, and no peers_info event came in between
  api.view.set({ ...next, bootnodes: [] })
  await s.next(e => e.event === 'bootnodes', { from })
  t.deepEqual(s.events.slice(from).map(e => e.event), ['heartbeat', 'bootnodes'])
})

test('keyed like every route: no key 403, a key out of scope 403, a key in the URL is not read', async (t) => {
  const api = await startTestApi(t, {
    keys: [{ owner: 'w', key: KEY }, { owner: 'narrow', key: 'key-narrow-1234567890', scopes: ['get_heartbeat'] }],
    snapshot: makeSnapshot(await makePeerIds(2)),
    init: ROOMY
  })
  const none = await openWatch(api.port, undefined)
  t.is(none.status, 403)
  await waitFor(() => none.ended(), { timeoutMs: 2_000, what: 'the 403 to end' })
  t.deepEqual(JSON.parse(none.body()), { detail: 'Invalid or missing API Key' })
  const inUrl = await openWatch(api.port, undefined, { path: `/v1/watch?api_key=${KEY}` })
  t.is(inUrl.status, 403)
  t.is((await openWatch(api.port, 'key-narrow-1234567890')).status, 403, 'scopes: watch is its own scope')
  const post = await api.get('/v1/watch', { method: 'POST', headers: { 'X-API-Key': KEY } })
  t.is(post.status, 405)
  t.is(post.headers.allow, 'GET, HEAD')
  t.is((await api.get('/v1/is_reachable/12D3KooWAbc', { method: 'DELETE', headers: { 'X-API-Key': KEY } })).status, 405)
  const head = await api.get('/v1/watch', { method: 'HEAD', headers: { 'X-API-Key': KEY } })
  t.is(head.status, 200)
  t.is(head.headers['content-type'], 'text/event-stream; charset=utf-8')
})

test('a stream ends with a close event when its key is deactivated, removed or expires', async (t) => {
  // Far enough ahead that the four streams are open before it passes, even on a loaded machine
  // (1.5 s was not: the expiring key was refused with 403 at connect).
  const expiresAt = Date.now() + EXPIRY_AHEAD_MS
  const api = await startTestApi(t, {
    keys: [
      { owner: 'a', key: 'key-deactivated-000001' },
      { owner: 'b', key: 'key-removed-00000002' },
      { owner: 'c', key: 'key-expiring-0000003', expires_at: new Date(expiresAt).toISOString() },
      { owner: 'd', key: 'key-kept-000000000004' }
    ],
    snapshot: makeSnapshot(await makePeerIds(2)),
    init: ROOMY
  })
  const [a, b, c, d] = await Promise.all(['key-deactivated-000001', 'key-removed-00000002', 'key-expiring-0000003', 'key-kept-000000000004'].map(async k => await openWatch(api.port, k)))
  if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('four streams')
  t.teardown(() => { for (const s of [a, b, c, d]) s.close() })
  for (const [i, s] of [a, b, c, d].entries()) t.is(s.status, 200, `stream ${"abcd"[i]} opened ${Date.now() - expiresAt} ms from the expiry`)
  await waitFor(() => [a, b, c, d].every(s => s.events.length >= 3), { timeoutMs: 5_000, what: 'initial events' })

  const closedWith = async (s: SseStream, what: string, atMs = Date.now()): Promise<void> => {
    const e = await s.next(x => x.event === 'close', { timeoutMs: Math.max(0, atMs - Date.now()) + CLOSE_BOUND_MS })
    t.deepEqual(JSON.parse(e.data), { detail: 'Invalid or missing API Key' }, what)
    await waitFor(() => s.ended(), { timeoutMs: CLOSE_BOUND_MS, what: `${what}: the response to end` })
  }
  await updateKeyFile(api.keysFile, (e) => e.filter(x => x.owner !== 'b').map(x => x.owner === 'a' ? { ...x, active: false } : x))
  await closedWith(a, 'deactivated')
  await closedWith(b, 'removed')
  await closedWith(c, 'expired (no file change)', expiresAt)
  t.false(d.ended(), 'the stream of a key still valid stays open')
  t.false(d.events.some(e => e.event === 'close'))
})

test('past --max-watchers-per-key open streams for one key: 429 JSON; a closed stream frees its slot', async (t) => {
  const api = await startTestApi(t, { keys: [{ owner: 'w', key: KEY }, { owner: 'o', key: 'key-other-00000000001' }], snapshot: makeSnapshot(await makePeerIds(2)), init: { ...ROOMY, maxWatchersPerKey: 2 } })
  const open = [await openWatch(api.port, KEY), await openWatch(api.port, KEY)]
  t.teardown(() => { for (const s of open) s.close() })
  t.deepEqual(open.map(s => s.status), [200, 200])
  const third = await openWatch(api.port, KEY)
  t.is(third.status, 429)
  await waitFor(() => third.ended(), { timeoutMs: 2_000, what: 'the 429 to end' })
  t.deepEqual(JSON.parse(third.body()), { detail: 'Too many watchers for this key: 2' })
  t.is(third.headers['content-type'], 'application/json; charset=utf-8')
  const other = await openWatch(api.port, 'key-other-00000000001')
  t.teardown(() => { other.close() })
  t.is(other.status, 200, 'the cap is per key')
  open[0]?.close()
  const again = await openWhenFree(api.port, KEY, 'a slot freed by the closed stream')
  t.teardown(() => { again.close() })
  t.is(again.status, 200)
})

test('past --max-watchers open streams across all keys: 503 JSON with Retry-After, counted in /metrics; a closed stream frees its slot', async (t) => {
  const keys = ['key-total-a-00000000001', 'key-total-b-00000000002', 'key-total-c-00000000003']
  const [a, b, c] = keys
  if (a === undefined || b === undefined || c === undefined) throw new Error('three keys')
  // no per-key cap given: its default (4) is lowered to the total (2)
  const api = await startTestApi(t, { keys: keys.map((key, i) => ({ owner: `t${i}`, key })), snapshot: makeSnapshot(await makePeerIds(2)), init: { ...ROOMY, maxWatchers: 2 } })
  const streams: SseStream[] = []
  const watch = async (key: string): Promise<SseStream> => {
    const s = await openWatch(api.port, key)
    streams.push(s)
    return s
  }
  t.teardown(() => { for (const s of streams) s.close() })
  const first = await watch(a)
  const second = await watch(b)
  t.deepEqual([first.status, second.status], [200, 200])

  // the third stream is refused whatever its key: one already streaming (a) or a new one (c)
  for (const key of [a, c]) {
    const refused = await watch(key)
    t.is(refused.status, 503, key)
    t.is(refused.headers['retry-after'], '15')
    t.is(refused.headers['content-type'], 'application/json; charset=utf-8')
    await waitFor(() => refused.ended(), { timeoutMs: 2_000, what: 'the 503 to end' })
    t.deepEqual(JSON.parse(refused.body()), { detail: 'Too many watchers on this server: 2; retry later' })
  }
  const metrics = (await api.get('/metrics')).text()
  t.regex(metrics, /^subnet_bootnode_api_watch_refusals_total\{reason="total"\} 2$/m)
  t.regex(metrics, /^subnet_bootnode_http_requests_total\{route="watch",status="503"\} 2$/m)
  t.regex(metrics, /^subnet_bootnode_api_watchers 2$/m)

  // b's stream ends: its slot is free at once for any key
  second.close()
  const again = await openWhenFree(api.port, c, 'a slot freed by the closed stream')
  streams.push(again)
  t.is(again.status, 200)
  t.false(first.ended(), 'the streams within the cap stay open')
  // full in total and for the key: the key's own cap answers (429), counted apart
  first.close()
  const twice = await openWhenFree(api.port, c, 'a slot freed by the first stream')
  streams.push(twice)
  t.is(twice.status, 200)
  const overOwn = await watch(c)
  t.is(overOwn.status, 429, 'c holds its 2 of 2: its own cap answers first')
  await waitFor(() => overOwn.ended(), { timeoutMs: 2_000, what: 'the 429 to end' })
  t.deepEqual(JSON.parse(overOwn.body()), { detail: 'Too many watchers for this key: 2' })
  const after = (await api.get('/metrics')).text()
  t.regex(after, /^subnet_bootnode_api_watch_refusals_total\{reason="per_key"\} 1$/m)
})

test('keep-alive comments at the interval, past the server\'s request timeout; shutdown ends every stream with a close event', async (t) => {
  // the request timeout bounds receiving a request, not a stream: one outlives it
  const api = await startTestApi(t, { keys: [{ owner: 'w', key: KEY }], snapshot: makeSnapshot(await makePeerIds(2)), init: { ...ROOMY, watchKeepAliveMs: 100, requestTimeoutMs: 500, headersTimeoutMs: 500 } })
  const s = await openWatch(api.port, KEY)
  t.teardown(() => { s.close() })
  const opened = performance.now()
  await waitFor(() => s.comments.filter(c => c === 'keep-alive').length >= 2 && performance.now() - opened > 1_500, { timeoutMs: 5_000, what: 'keep-alive comments for 1.5 s' })
  t.false(s.ended(), 'the stream outlives the request timeout')
  t.true(s.comments.every(c => c === 'keep-alive'))
  const stopped = api.server.stop()
  const e = await s.next(x => x.event === 'close', { timeoutMs: CLOSE_BOUND_MS })
  t.deepEqual(JSON.parse(e.data), { detail: 'Server shutting down' })
  await waitFor(() => s.ended(), { timeoutMs: CLOSE_BOUND_MS, what: 'the stream to end on shutdown' })
  // stop() does not wait for its grace period: the streams ended, so the server closes at once
  await waitFor(async () => { await stopped; return true }, { timeoutMs: CLOSE_BOUND_MS, what: 'stop() to finish' })
})

test('200 streams all get a change, and the REST routes still answer meanwhile', async (t) => {
  const ids = await makePeerIds(20)
  const api = await startTestApi(t, { keys: [{ owner: 'w', key: KEY }], snapshot: makeSnapshot(ids), init: { ...ROOMY, maxWatchersPerKey: 250 } })
  const streams = await Promise.all(Array.from({ length: 200 }, async (_v, i) => await openWatch(api.port, KEY, { localAddress: `127.0.0.${2 + (i % 50)}` })))
  t.teardown(() => { for (const s of streams) s.close() })
  t.true(streams.every(s => s.status === 200))
  await waitFor(() => streams.every(s => s.events.length >= 3), { timeoutMs: 10_000, what: 'initial events on 200 streams' })
  const base = makeSnapshot(ids)
  api.view.set({ ...base, heartbeats: base.heartbeats.slice(1) })
  await waitFor(() => streams.every(s => s.events.length >= 4), { timeoutMs: 10_000, what: 'the change on all 200 streams' })
  const want = (await api.get('/v1/get_heartbeat', { headers: { 'X-API-Key': KEY } })).text()
  t.true(streams.every(s => s.events[3]?.event === 'heartbeat' && s.events[3].data === want))
  const answers = await Promise.all(Array.from({ length: 20 }, async () => (await api.get('/v1/get_peers_info', { headers: { 'X-API-Key': KEY } })).status))
  t.true(answers.every(status => status === 200))
  const metrics = (await api.get('/metrics')).text()
  t.regex(metrics, /subnet_bootnode_api_watchers 200/)
})

test('a stream counts as one request of its key at connect, in the key usage too', async t => {
  const recorded: Array<[string, number]> = []
  const api = await startTestApi(t, {
    keys: [{ owner: 'w', key: KEY }],
    snapshot: makeSnapshot(await makePeerIds(2)),
    init: ROOMY,
    usage: { record: (owner, status) => { recorded.push([owner, status]) } }
  })
  const s = await openWatch(api.port, KEY)
  t.teardown(() => { s.close() })
  t.is(s.status, 200)
  await waitFor(() => s.events.length >= 3, { timeoutMs: 5_000, what: 'initial events' })
  t.deepEqual(recorded, [['w', 200]])
})
