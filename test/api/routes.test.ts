/**
 * SPEC §1 routes: bodies, legacy aliases, empty results, filters and their 400s, 404/405,
 * ETag/304, gzip and brotli, healthz, metrics.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import test from 'ava'
import { makePeerIds, makeSnapshot, startTestApi, type SnapshotInput } from '../helpers/api.js'
import { waitFor } from '../helpers/wait.js'
import { Counter, Registry } from 'prom-client'

const KEY = 'key-alice-0123456789abcdef'
const H = { 'X-API-Key': KEY }
const KEYS = [{ owner: 'alice', key: KEY, active: true }]
const ROOMY = { rateLimit: { limit: 1000, windowMs: 60_000 } }

let ids: string[] = []
let snap: SnapshotInput
test.before(async () => {
  ids = await makePeerIds(10)
  snap = makeSnapshot(ids)
})

test('bodies are the view, exactly, on /v1 and legacy paths', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  const expected: Record<string, unknown> = {
    get_heartbeat: snap.heartbeats,
    get_bootnodes: snap.bootnodes,
    get_peers_info: snap.peersInfo
  }
  for (const [route, value] of Object.entries(expected)) {
    const v1 = await api.get(`/v1/${route}`, { headers: H })
    const legacy = await api.get(`/${route}`, { headers: H })
    t.is(v1.status, 200)
    t.is(v1.headers['content-type'], 'application/json; charset=utf-8')
    t.deepEqual(v1.json(), { value })
    t.is(v1.text(), JSON.stringify({ value }))
    t.is(legacy.status, 200)
    t.is(legacy.text(), v1.text())
    t.is(legacy.headers.etag, v1.headers.etag)
    t.is(v1.headers['content-length'], String(v1.body.length))
  }
})

test('an empty view answers [] and {}', async (t) => {
  const api = await startTestApi(t, {
    keys: KEYS,
    snapshot: { heartbeats: [], peersInfo: {}, bootnodes: [], peerId: null, ready: false, peerCount: 0 },
    init: ROOMY
  })
  t.is((await api.get('/v1/get_heartbeat', { headers: H })).text(), '{"value":[]}')
  t.is((await api.get('/v1/get_bootnodes', { headers: H })).text(), '{"value":[]}')
  t.is((await api.get('/v1/get_peers_info', { headers: H })).text(), '{"value":{}}')
})

test('filters select, and a bad filter value is a 400 with a detail', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  const hb = async (q: string): Promise<Array<{ peer_id: string, server: { state: string, role: string } }>> => {
    const r = await api.get(`/v1/get_heartbeat?${q}`, { headers: H })
    t.is(r.status, 200, q)
    return (r.json() as { value: Array<{ peer_id: string, server: { state: string, role: string } }> }).value
  }
  const online = await hb('state=ONLINE')
  t.true(online.length > 0)
  t.deepEqual(online, snap.heartbeats.filter(h => h.server.state === 'ONLINE'))
  t.deepEqual(await hb('role=BOOTNODE'), snap.heartbeats.filter(h => h.server.role === 'BOOTNODE'))
  t.deepEqual(await hb('state=OFFLINE&role=VALIDATOR'), snap.heartbeats.filter(h => h.server.state === 'OFFLINE' && h.server.role === 'VALIDATOR'))
  const one = await hb(`peer_id=${ids[3] ?? ''}`)
  t.is(one.length, 1)
  t.is(one[0]?.peer_id, ids[3])
  // a well-formed id that is not in the view: empty, not an error
  const stranger = (await makePeerIds(1))[0] ?? ''
  t.deepEqual(await hb(`peer_id=${stranger}`), [])
  t.deepEqual(await hb('role=ARCHIVER'), [])
  // unknown parameters are ignored, as before
  t.is((await hb('foo=bar')).length, snap.heartbeats.length)

  const peers = await api.get(`/v1/get_peers_info?peer_id=${ids[2] ?? ''}`, { headers: H })
  t.deepEqual(peers.json(), { value: { [ids[2] ?? '']: snap.peersInfo[ids[2] ?? ''] } })
  t.deepEqual((await api.get(`/get_peers_info?peer_id=${stranger}`, { headers: H })).json(), { value: {} })

  for (const [path, word] of [
    ['/v1/get_heartbeat?state=online', 'state'],
    ['/v1/get_heartbeat?state=SLEEPING', 'state'],
    ['/v1/get_heartbeat?state=', 'state'],
    ['/v1/get_heartbeat?state=ONLINE&state=OFFLINE', 'state'],
    ['/v1/get_heartbeat?role=validator', 'role'],
    ['/v1/get_heartbeat?role=%3Cscript%3E', 'role'],
    ['/v1/get_heartbeat?peer_id=not-a-peer', 'peer_id'],
    ['/v1/get_heartbeat?peer_id=12D3KooW0000', 'peer_id'],
    ['/v1/get_peers_info?peer_id=QmNotBase58!!', 'peer_id'],
    [`/v1/get_peers_info?peer_id=${'1'.repeat(300)}`, 'peer_id']
  ] as const) {
    const r = await api.get(path, { headers: H })
    t.is(r.status, 400, path)
    t.is(r.headers['content-type'], 'application/json; charset=utf-8')
    const detail = (r.json() as { detail: string }).detail
    t.true(typeof detail === 'string' && detail.includes(word), `${path}: ${detail}`)
  }
})

test('?role= accepts every role a heartbeat record may carry (digits first, hyphens)', async (t) => {
  const roles = ['FULL-NODE', '2ND', 'VALIDATOR', '_X-1']
  const heartbeats = snap.heartbeats.map((h, i) => ({ ...h, server: { ...h.server, role: roles[i % roles.length] ?? 'VALIDATOR' } }))
  const api = await startTestApi(t, { keys: KEYS, snapshot: { ...snap, heartbeats }, init: ROOMY })
  for (const role of roles) {
    const r = await api.get(`/v1/get_heartbeat?role=${role}`, { headers: H })
    t.is(r.status, 200, role)
    const value = (r.json() as { value: typeof heartbeats }).value
    t.true(value.length > 0, role)
    t.deepEqual(value, heartbeats.filter(h => h.server.role === role), role)
  }
  for (const role of ['full-node', 'A'.repeat(65), 'A.B', 'A%20B']) {
    t.is((await api.get(`/v1/get_heartbeat?role=${role}`, { headers: H })).status, 400, role)
  }
  t.is((await api.get(`/v1/get_heartbeat?role=${'A'.repeat(64)}`, { headers: H })).status, 200)
})

test('404 and 405 bodies', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  // '/' is the status page since issue 13 (SPEC §1 "Status page")
  for (const path of ['/v1/', '/v2/get_heartbeat', '/V1/GET_HEARTBEAT', '/v1/get_heartbeats', '/v1/../etc/passwd', '/%E0%A4%A']) {
    const r = await api.get(path, { headers: H })
    t.is(r.status, 404, path)
    t.is(r.text(), '{"detail":"Not Found"}')
    t.is(r.headers['content-type'], 'application/json; charset=utf-8')
  }
  for (const [method, path] of [['POST', '/v1/get_heartbeat'], ['PUT', '/get_bootnodes'], ['DELETE', '/v1/get_peers_info'], ['POST', '/healthz'], ['PATCH', '/metrics'], ['OPTIONS', '/v1/get_heartbeat']]) {
    const r = await api.get(path ?? '', { method, headers: H })
    t.is(r.status, 405, `${method} ${path}`)
    t.is(r.text(), '{"detail":"Method Not Allowed"}')
    t.is(r.headers.allow, 'GET, HEAD')
  }
  const head = await api.get('/v1/get_bootnodes', { method: 'HEAD', headers: H })
  t.is(head.status, 200)
  t.is(head.body.length, 0)
})

test('ETag and If-None-Match: 304 until the view changes', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  const first = await api.get('/v1/get_peers_info', { headers: H })
  const etag = first.headers.etag ?? ''
  t.regex(etag, /^"[A-Za-z0-9_-]{20,}"$/, 'a strong, quoted ETag')
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const again = await api.get('/v1/get_peers_info', { headers: { ...H, 'If-None-Match': inm } })
    t.is(again.status, 304, inm)
    t.is(again.body.length, 0)
    t.is(again.headers.etag, etag)
  }
  t.is((await api.get('/v1/get_peers_info', { headers: { ...H, 'If-None-Match': '"stale"' } })).status, 200)
  // the same bytes after a rebuild keep their tag; different bytes get a new one
  api.view.set({ ...snap })
  t.is((await api.get('/v1/get_peers_info', { headers: { ...H, 'If-None-Match': etag } })).status, 304)
  const { [ids[0] ?? '']: _gone, ...fewer } = snap.peersInfo
  api.view.set({ ...snap, peersInfo: fewer })
  const changed = await api.get('/v1/get_peers_info', { headers: { ...H, 'If-None-Match': etag } })
  t.is(changed.status, 200)
  t.not(changed.headers.etag, etag)
  t.deepEqual(changed.json(), { value: fewer })
})

test('gzip and brotli variants decode to the same body, with Vary', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  const plain = await api.get('/v1/get_heartbeat', { headers: H })
  t.is(plain.headers['content-encoding'], undefined)
  t.is(plain.headers.vary, 'Accept-Encoding')
  const gz = await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'gzip' } })
  t.is(gz.headers['content-encoding'], 'gzip')
  t.is(gz.headers.vary, 'Accept-Encoding')
  t.true(gz.body.length < plain.body.length)
  t.is(gunzipSync(gz.body).toString('utf8'), plain.text())
  const br = await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'gzip, deflate, br' } })
  t.is(br.headers['content-encoding'], 'br')
  t.is(brotliDecompressSync(br.body).toString('utf8'), plain.text())
  t.not(br.headers.etag, gz.headers.etag, 'each coding is its own representation')
  t.is((await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'br;q=0, gzip;q=0.5' } })).headers['content-encoding'], 'gzip')
  t.is((await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'gzip;q=0, br;q=0' } })).headers['content-encoding'], undefined)
  t.is((await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'identity' } })).headers['content-encoding'], undefined)
  // a cached gzip copy revalidates
  t.is((await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag ?? '' } })).status, 304)
  // a tiny body is not worth compressing
  const boot = await api.get('/v1/get_bootnodes', { headers: { ...H, 'Accept-Encoding': 'gzip' } })
  t.is(boot.headers['content-encoding'], undefined)
  t.deepEqual(boot.json(), { value: snap.bootnodes })
})

/** A histogram's observation count for exactly these labels, read from the app's registry. */
async function observations (registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const { values } = await metric.get()
  // histogram values carry the series name (`_count`, `_sum`, `_bucket`) beside their labels
  const rows = values as Array<{ metricName?: string, labels: Record<string, string | number>, value: number }>
  const hit = rows.find(v => v.metricName === `${name}_count` && Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return hit?.value ?? 0
}

test('the unfiltered bodies and their gzip/br variants are prepared when the view changes, before any request', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: ROOMY })
  const registry = api.server.api.metrics
  const prepared = async (route: string): Promise<number> => await observations(registry, 'subnet_bootnode_api_body_prepare_seconds', { route })
  const compressed = async (route: string, encoding: string, trigger: string): Promise<number> =>
    await observations(registry, 'subnet_bootnode_api_body_compress_seconds', { route, encoding, trigger })
  const ready = async (n: number): Promise<boolean> => {
    for (const route of ['get_heartbeat', 'get_peers_info']) {
      if (await prepared(route) < n) return false
      for (const encoding of ['gzip', 'br']) if (await compressed(route, encoding, 'view_change') < n) return false
    }
    return true
  }
  // the snapshot the API started with, then a new one: no keyed request in between
  t.true(await waitFor(async () => await ready(1), { timeoutMs: 10_000, intervalMs: 25, what: 'bodies prepared at start' }), 'prepared at start')
  const { [ids[0] ?? '']: _gone, ...fewer } = snap.peersInfo
  api.view.set({ ...snap, peersInfo: fewer })
  t.true(await waitFor(async () => await ready(2), { timeoutMs: 10_000, intervalMs: 25, what: 'bodies prepared again' }), 'prepared again after the view change')

  const plain = await api.get('/v1/get_peers_info', { headers: H })
  t.deepEqual(plain.json(), { value: fewer })
  const br = await api.get('/v1/get_peers_info', { headers: { ...H, 'Accept-Encoding': 'br' } })
  t.is(br.headers['content-encoding'], 'br')
  t.is(brotliDecompressSync(br.body).toString('utf8'), plain.text())
  const gz = await api.get('/v1/get_heartbeat', { headers: { ...H, 'Accept-Encoding': 'gzip' } })
  t.is(gz.headers['content-encoding'], 'gzip')
  t.is(gunzipSync(gz.body).toString('utf8'), JSON.stringify({ value: snap.heartbeats }))
  t.is(await prepared('get_peers_info'), 2, 'the requests were served from the prepared bodies')
  for (const route of ['get_heartbeat', 'get_peers_info']) {
    for (const encoding of ['gzip', 'br']) t.is(await compressed(route, encoding, 'request'), 0, `${route} ${encoding}`)
  }
  // a filtered body is made on demand, and compressed by the request that needs it (the fallback path)
  const filtered = await api.get('/v1/get_heartbeat?role=VALIDATOR', { headers: { ...H, 'Accept-Encoding': 'gzip' } })
  t.is(filtered.headers['content-encoding'], 'gzip')
  t.deepEqual(JSON.parse(gunzipSync(filtered.body).toString('utf8')), { value: snap.heartbeats.filter(h => h.server.role === 'VALIDATOR') })
  t.is(await compressed('get_heartbeat', 'gzip', 'request'), 1)
})

test('healthz: 503 starting until ready, then ok with counts', async (t) => {
  const api = await startTestApi(t, {
    keys: KEYS,
    snapshot: { heartbeats: [], peersInfo: {}, bootnodes: [], peerId: null, ready: false, peerCount: 0 }
  })
  const starting = await api.get('/healthz')
  t.is(starting.status, 503)
  t.deepEqual(starting.json(), { status: 'starting' })
  t.is(starting.headers['content-type'], 'application/json; charset=utf-8')
  api.view.set(snap)
  const ok = await api.get('/healthz')
  t.is(ok.status, 200)
  const body = ok.json() as Record<string, unknown>
  t.like(body, { status: 'ok', peer_id: snap.peerId, peers: 10, heartbeats: 10 })
  t.true(Number.isInteger(body.uptime_s) && (body.uptime_s as number) >= 0)
  t.deepEqual(Object.keys(body).sort(), ['heartbeats', 'peer_id', 'peers', 'status', 'uptime_s'])
})

test('healthz carries the geolocation data attribution when there is one', async (t) => {
  const credit = 'IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0'
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { attribution: [credit] } })
  const ok = await api.get('/healthz')
  t.is(ok.status, 200)
  t.deepEqual((ok.json() as { attribution?: unknown }).attribution, [credit])
})

// Heartbeat rejections, DHT query latency and geolocation failures are registered by their own
// components: test/heartbeat/reject.test.ts, test/heartbeat/collect.test.ts, test/geo/ip-api.test.ts,
// and all of them together through the real sidecar in test/e2e/sidecar.test.ts.
test('metrics: requests by route and status, rejections, view sizes, and the series other components put in the registry', async (t) => {
  const registry = new Registry()
  const other = new Counter({ name: 'subnet_bootnode_other_component_total', help: 'a series another component registered', registers: [registry] })
  other.inc(3)
  const api = await startTestApi(t, {
    keys: KEYS,
    snapshot: snap,
    registry,
    init: {
      rateLimit: { limit: 2, windowMs: 60_000 }
    }
  })
  await api.get('/v1/get_heartbeat', { headers: H })
  await api.get('/get_heartbeat', { headers: H })
  await api.get('/v1/get_heartbeat', { headers: H })
  await api.get('/v1/get_bootnodes')
  await api.get('/nothing')
  const r = await api.get('/metrics')
  t.is(r.status, 200)
  t.regex(r.headers['content-type'] ?? '', /^text\/plain/)
  const text = r.text()
  for (const line of [
    'subnet_bootnode_http_requests_total{route="get_heartbeat",status="200"} 2',
    'subnet_bootnode_http_requests_total{route="get_heartbeat",status="429"} 1',
    'subnet_bootnode_http_requests_total{route="get_bootnodes",status="403"} 1',
    'subnet_bootnode_http_requests_total{route="other",status="404"} 1',
    'subnet_bootnode_auth_rejections_total{reason="missing"} 1',
    'subnet_bootnode_rate_limit_rejections_total{limiter="key_ip"} 1',
    'subnet_bootnode_peers 10',
    'subnet_bootnode_heartbeats 10',
    'subnet_bootnode_other_component_total 3',
    'subnet_bootnode_ready 1'
  ]) t.true(text.includes(line), line)
  t.regex(text, /subnet_bootnode_view_built_timestamp_seconds \d+/)
  t.false(text.includes(KEY))
  other.inc(2)
  t.true((await api.get('/metrics')).text().includes('subnet_bootnode_other_component_total 5'))
})

test('metrics can be turned off', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { metrics: false } })
  const r = await api.get('/metrics')
  t.is(r.status, 404)
  t.is(r.text(), '{"detail":"Not Found"}')
})
