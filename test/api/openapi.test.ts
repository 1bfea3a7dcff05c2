/**
 * Issue 13 item 4: the OpenAPI document is the contract. It validates against the OpenAPI 3.1
 * meta-schema, and live responses of every route of a real sidecar with real peers (200, 304,
 * 400, 403, 404, 405, 429, /v1/watch's stream and its 503 past --max-watchers) match the status, headers and body schema
 * it documents. `/docs` loads Swagger UI from this origin only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import test from 'ava'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { ROUTES } from '../../src/api/constants.js'
import { parseConfig } from '../../src/config/index.js'
import { silentLogger } from '../../src/log/index.js'
import { startPeer, type Peer } from '../../src/peer.js'
import { createSidecar, type Sidecar } from '../../src/sidecar.js'
import { get, makePeerIds, type HttpResult } from '../helpers/api.js'
import { LOOPBACK_LISTEN } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { ExecutionContext } from 'ava'

const KEY = 'key-openapi-0123456789abcdef0123456789abcdef'
const SCOPED_KEY = 'key-scoped-0123456789abcdef0123456789abcdef'
/** A second key for /v1/watch: its stream is past --max-watchers (1) while KEY's is open. */
const WATCH_KEY = 'key-watch2-0123456789abcdef0123456789abcdef'
/** A public address the peers announce, located by the bundled geo DB and never dialled. */
const PUBLIC_IP = '8.8.8.8'
const RATE = 60
const AUTH_FAIL = 6

type Json = Record<string, any>

interface Fixture { sidecar: Sidecar, peers: Peer[], port: number, dir: string, doc: Json }
let f: Fixture | undefined
const fixture = (): Fixture => {
  if (f === undefined) throw new Error('no fixture')
  return f
}

test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbn-openapi-'))
  const keysFile = join(dir, 'keys.json')
  await writeFile(keysFile, JSON.stringify([
    { owner: 'openapi', key: KEY, active: true },
    { owner: 'scoped', key: SCOPED_KEY, active: true, scopes: ['get_bootnodes'] },
    { owner: 'watch2', key: WATCH_KEY, active: true }
  ]), { mode: 0o600 })
  const config = parseConfig(['run', '--subnet-id', `openapi-${process.pid}`, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--allow-private-addrs', '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'offline',
    '--rate-limit', `${RATE}/minute`, '--auth-fail-limit', `${AUTH_FAIL}/minute`, '--max-watchers-per-key', '1', '--max-watchers', '1', '--refresh-interval', '1s'], {}, dir)
  if (config.command !== 'run') throw new Error(`unexpected config command ${config.command}`)
  const neverDialIps = [PUBLIC_IP]
  const sidecar = await createSidecar(config, silentLogger, { neverDialIps })
  f = { sidecar, peers: [], port: 0, dir, doc: {} }
  await sidecar.start()
  f.port = sidecar.api.address().port
  for (let i = 0; i < 2; i++) {
    f.peers.push(await startPeer({
      subnetId: config.subnetId, listen: LOOPBACK_LISTEN, allowPrivateAddrs: true, bootstrap: sidecar.node.bootnodeAddrs(),
      appendAnnounce: [`/ip4/${PUBLIC_IP}/tcp/4001`], neverDialIps, heartbeatIntervalMs: 500, publicName: `openapi-${i}`, logger: silentLogger
    }))
  }
  const ids = f.peers.map((p) => p.node.peerId)
  // every peer listed with its public address located, from a client of its own (no rate budget spent)
  await waitFor(async () => {
    const r = await get(f?.port ?? 0, '/v1/get_peers_info', { headers: { 'X-API-Key': KEY }, localAddress: '127.0.0.9' })
    const value = (r.json() as Json).value as Json
    return ids.every((id) => value[id]?.[PUBLIC_IP]?.location?.status === 'success')
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'both peers located in get_peers_info' })
  f.doc = (await get(f.port, '/openapi.json')).json() as Json
})

test.after.always(async () => {
  await Promise.allSettled((f?.peers ?? []).map(async (p) => { await p.stop() }))
  await f?.sidecar.stop()
  if (f !== undefined) await rm(f.dir, { recursive: true, force: true })
})

/** `~` and `/` escaped as JSON Pointer wants, then made safe for a URI fragment. */
const pointer = (...segments: string[]): string => segments.map((s) => '/' + encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('')

/** Follows a `#/components/...` reference; returns the object and its pointer. */
function deref (doc: Json, value: Json, at: string): { value: Json, at: string } {
  const target = value.$ref as string | undefined
  if (target === undefined) return { value, at }
  const segments = target.slice(2).split('/')
  let v: any = doc
  for (const s of segments) v = v?.[s]
  if (v === undefined) throw new Error(`unresolved ${target}`)
  return { value: v as Json, at: pointer(...segments) }
}

function validator (doc: Json): { check: (t: ExecutionContext, at: string, data: unknown, what: string) => void } {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ajv.addSchema(doc, 'openapi.json')
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>()
  return {
    check: (t, at, data, what) => {
      let validate = compiled.get(at)
      if (validate === undefined) {
        validate = ajv.compile({ $ref: `openapi.json#${at}` })
        compiled.set(at, validate)
      }
      t.true(validate(data), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(data).slice(0, 400)}`)
    }
  }
}

/** Paths and statuses whose live responses were checked, to prove every documented path was. */
const checkedPaths = new Set<string>()

/**
 * The documented response for (path, status) — on the operation, or the named component for the
 * answers any path gives (404, 405) — matches `res`: content type, required headers and their
 * schemas, and the body's schema (JSON bodies parsed; no body where none is documented).
 */
function expectDocumented (t: ExecutionContext, res: HttpResult, where: { path: string, status: number } | { component: string, status: number }): void {
  const { doc } = fixture()
  const v = validator(doc)
  t.is(res.status, where.status, 'path' in where ? `${where.path}: ${res.text().slice(0, 200)}` : where.component)
  let response: { value: Json, at: string }
  if ('path' in where) {
    const op = doc.paths?.[where.path]?.get as Json | undefined
    t.truthy(op, `${where.path} documented`)
    const raw = op?.responses?.[String(where.status)] as Json | undefined
    t.truthy(raw, `${where.path} documents ${where.status}`)
    if (raw === undefined) return
    response = deref(doc, raw, pointer('paths', where.path, 'get', 'responses', String(where.status)))
    checkedPaths.add(where.path)
  } else {
    response = { value: doc.components.responses[where.component], at: pointer('components', 'responses', where.component) }
  }
  for (const [name, raw] of Object.entries((response.value.headers ?? {}) as Json)) {
    const header = deref(doc, raw as Json, `${response.at}${pointer('headers', name)}`)
    const got = res.headers[name.toLowerCase()]
    if (header.value.required === true) t.not(got, undefined, `${name} on ${where.status}`)
    if (typeof got === 'string') v.check(t, `${header.at}/schema`, got, `header ${name}`)
  }
  const content = response.value.content as Json | undefined
  if (content === undefined) {
    t.is(res.body.length, 0, `no body on ${where.status}`)
    return
  }
  const type = String(res.headers['content-type'] ?? '').split(';')[0] ?? ''
  t.true(type in content, `content type ${type} documented for ${where.status}`)
  if (type === 'application/json') v.check(t, `${response.at}${pointer('content', type, 'schema')}`, res.json(), `${where.status} body`)
}

const keyed = { 'X-API-Key': KEY }

/** A client address of its own for each refused request, so they do not add up to the failed-key limit. */
let clients = 0
const stranger = (): { localAddress: string } => ({ localAddress: `127.0.1.${++clients}` })

/**
 * A 304 for `path`: the peers publish every 500 ms, so the view (and the ETag) may change between
 * the 200 and its revalidation; a few tries find a quiet moment.
 */
async function revalidated (port: number, path: string): Promise<HttpResult> {
  let last: HttpResult | undefined
  for (let i = 0; i < 8; i++) {
    const etag = String((await get(port, path, { headers: keyed })).headers.etag)
    last = await get(port, path, { headers: { ...keyed, 'If-None-Match': etag } })
    if (last.status === 304) return last
  }
  if (last === undefined) throw new Error('no response')
  return last
}

test.serial('the document validates against the OpenAPI 3.1 meta-schema and names every keyed route', async (t) => {
  const { doc } = fixture()
  const result = await new Validator().validate(structuredClone(doc))
  t.true(result.valid, JSON.stringify(result.errors)?.slice(0, 1000))
  t.is(doc.openapi, '3.1.0')
  // the validator does refuse a broken document
  const broken = structuredClone(doc)
  broken.paths['/v1/get_heartbeat'].get.responses['200'].content = 'not an object'
  t.false((await new Validator().validate(broken)).valid)
  // every keyed route: the view routes at /v1 and their legacy alias, the new ones at /v1
  for (const route of ROUTES) t.true(Object.keys(doc.paths as Json).some((p) => p.startsWith(`/v1/${route}`)), route)
  t.deepEqual(doc.components.securitySchemes.ApiKey, { type: 'apiKey', in: 'header', name: 'X-API-Key', description: doc.components.securitySchemes.ApiKey.description })
  t.regex(doc.components.responses.TooManyRequests.description as string, new RegExp(`${RATE} per 1 minute`))
})

test.serial('live responses of every route match the document', async (t) => {
  const { port, doc, peers } = fixture()
  const peerId = peers[0]?.node.peerId ?? ''

  for (const route of ['get_heartbeat', 'get_bootnodes', 'get_peers_info']) {
    for (const path of [`/v1/${route}`, `/${route}`]) {
      expectDocumented(t, await get(port, path, { headers: keyed }), { path, status: 200 })
      expectDocumented(t, await revalidated(port, path), { path, status: 304 })
      expectDocumented(t, await get(port, path, stranger()), { path, status: 403 })
    }
  }
  // gzip is documented too (Content-Encoding), and the schema holds for the filtered bodies
  expectDocumented(t, await get(port, `/v1/get_heartbeat?state=ONLINE&peer_id=${peerId}`, { headers: keyed }), { path: '/v1/get_heartbeat', status: 200 })
  expectDocumented(t, await get(port, `/v1/get_peers_info?peer_id=${peerId}`, { headers: keyed }), { path: '/v1/get_peers_info', status: 200 })
  expectDocumented(t, await get(port, '/v1/get_heartbeat?state=SLEEPING', { headers: keyed }), { path: '/v1/get_heartbeat', status: 400 })
  expectDocumented(t, await get(port, '/v1/get_peers_info?peer_id=nope', { headers: keyed }), { path: '/v1/get_peers_info', status: 400 })
  // get_bootnodes ?source: node is the default, chain is 404 without --chain-rpc, anything else 400
  expectDocumented(t, await get(port, '/v1/get_bootnodes?source=node', { headers: keyed }), { path: '/v1/get_bootnodes', status: 200 })
  expectDocumented(t, await get(port, '/v1/get_bootnodes?source=chain', { headers: keyed }), { path: '/v1/get_bootnodes', status: 404 })
  expectDocumented(t, await get(port, '/v1/get_bootnodes?source=moon', { headers: keyed }), { path: '/v1/get_bootnodes', status: 400 })
  // a key not scoped for the route
  expectDocumented(t, await get(port, '/v1/get_heartbeat', { headers: { 'X-API-Key': SCOPED_KEY }, ...stranger() }), { path: '/v1/get_heartbeat', status: 403 })
  expectDocumented(t, await get(port, '/v1/get_bootnodes', { headers: { Authorization: `Bearer ${SCOPED_KEY}` } }), { path: '/v1/get_bootnodes', status: 200 })

  // is_reachable: a member (loopback answers; the public address is never dialled), a stranger, a bad id
  const reach = '/v1/is_reachable/{peer_id}'
  const reachable = await get(port, `/v1/is_reachable/${peerId}`, { headers: keyed, timeoutMs: 20_000 })
  expectDocumented(t, reachable, { path: reach, status: 200 })
  const report = reachable.json() as Json
  t.true(report.reachable)
  t.true((report.addrs as Json[]).some((a) => a.ok === false && String(a.multiaddr).includes(PUBLIC_IP)))
  const [unknown] = await makePeerIds(1)
  expectDocumented(t, await get(port, `/v1/is_reachable/${unknown ?? ''}`, { headers: keyed }), { path: reach, status: 404 })
  expectDocumented(t, await get(port, '/v1/is_reachable/not-a-peer', { headers: keyed }), { path: reach, status: 400 })
  expectDocumented(t, await get(port, `/v1/is_reachable/${peerId}`, stranger()), { path: reach, status: 403 })

  // watch: the stream, whose events carry the bodies of the matching routes; a second stream past the key's cap
  // is 429, one of another key past the total cap 503
  const v = validator(doc)
  const controller = new AbortController()
  t.teardown(() => { controller.abort() })
  const stream = await fetch(`http://127.0.0.1:${port}/v1/watch`, { headers: keyed, signal: controller.signal })
  t.is(stream.status, 200)
  t.is(stream.headers.get('content-type')?.split(';')[0], 'text/event-stream')
  t.truthy(doc.paths['/v1/watch'].get.responses['200'].content['text/event-stream'])
  checkedPaths.add('/v1/watch')
  const events = new Map<string, string>()
  const reader = stream.body?.getReader()
  let text = ''
  const decoder = new TextDecoder()
  while (events.size < 3 && reader !== undefined) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
    for (const block of text.split('\n\n').slice(0, -1)) {
      const event = /^event: (.+)$/m.exec(block)?.[1]
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
      if (event !== undefined && data !== '') events.set(event, data)
    }
  }
  const bodyOf: Record<string, string> = { heartbeat: '/v1/get_heartbeat', peers_info: '/v1/get_peers_info', bootnodes: '/v1/get_bootnodes' }
  t.deepEqual([...events.keys()].sort(), Object.keys(bodyOf).sort())
  for (const [event, data] of events) {
    const path = bodyOf[event] ?? ''
    v.check(t, `${pointer('paths', path, 'get', 'responses', '200', 'content', 'application/json', 'schema')}`, JSON.parse(data), `watch event ${event}`)
  }
  const second = await get(port, '/v1/watch', { headers: keyed })
  t.is(second.status, 429)
  v.check(t, pointer('paths', '/v1/watch', 'get', 'responses', '429', 'content', 'application/json', 'schema'), second.json(), 'watch 429')
  expectDocumented(t, await get(port, '/v1/watch', { headers: { 'X-API-Key': WATCH_KEY } }), { path: '/v1/watch', status: 503 })
  controller.abort()
  expectDocumented(t, await get(port, '/v1/watch', stranger()), { path: '/v1/watch', status: 403 })

  // no key needed
  expectDocumented(t, await get(port, '/healthz'), { path: '/healthz', status: 200 })
  expectDocumented(t, await get(port, '/metrics'), { path: '/metrics', status: 200 })
  expectDocumented(t, await get(port, '/openapi.json'), { path: '/openapi.json', status: 200 })
  expectDocumented(t, await get(port, '/docs'), { path: '/docs', status: 200 })
  expectDocumented(t, await get(port, '/'), { path: '/', status: 200 })

  // what any path answers
  expectDocumented(t, await get(port, '/v1/no_such_route', { headers: keyed }), { component: 'NotFound', status: 404 })
  for (const path of ['/v1/get_heartbeat', '/get_peers_info', `/v1/is_reachable/${peerId}`, '/v1/watch', '/healthz', '/openapi.json', '/docs']) {
    expectDocumented(t, await get(port, path, { method: 'POST', headers: keyed }), { component: 'MethodNotAllowed', status: 405 })
  }

  // 429 from the key limiter (one client's own budget) and from the failed-key limiter (another client)
  let limited: HttpResult | undefined
  for (let i = 0; i <= RATE && limited === undefined; i++) {
    const r = await get(port, '/v1/get_bootnodes', { headers: keyed, localAddress: '127.0.0.3' })
    if (r.status === 429) limited = r
  }
  t.truthy(limited, `a 429 within ${RATE + 1} requests`)
  if (limited !== undefined) expectDocumented(t, limited, { path: '/v1/get_bootnodes', status: 429 })
  let blocked: HttpResult | undefined
  for (let i = 0; i <= AUTH_FAIL && blocked === undefined; i++) {
    const r = await get(port, '/v1/get_heartbeat', { headers: { 'X-API-Key': 'key-wrong' }, localAddress: '127.0.0.4' })
    if (r.status === 429) blocked = r
  }
  t.truthy(blocked, `a 429 within ${AUTH_FAIL + 1} failed attempts`)
  if (blocked !== undefined) {
    expectDocumented(t, blocked, { path: '/v1/get_heartbeat', status: 429 })
    t.regex((blocked.json() as Json).detail as string, /failed API key attempts/)
  }

  // every documented path was checked live
  t.deepEqual(Object.keys(doc.paths as Json).filter((p) => !checkedPaths.has(p)), [])
})

test.serial('/docs is Swagger UI from this origin only, under a self-only CSP', async (t) => {
  const { port } = fixture()
  const page = await get(port, '/docs')
  t.is(page.status, 200)
  t.regex(String(page.headers['content-type']), /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.regex(csp, /default-src 'self'/)
  t.regex(csp, /script-src 'self'(;|$)/)
  t.notRegex(csp, /unsafe-inline|unsafe-eval|https?:/)
  const html = page.text()
  // nothing from anywhere else: every absolute URL in the page is this host's
  const absolute = [...html.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]).filter((u) => !u.startsWith('http://127.0.0.1'))
  t.deepEqual(absolute, [])
  t.notRegex(html, /<script>(?!<\/script>)|<style|\sstyle=/, 'no inline script or style')
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '')
  t.true(assets.length >= 3, assets.join(' '))
  for (const asset of assets) {
    t.false(/^(?:[a-z]+:)?\/\//i.test(asset), `${asset} is relative`)
    const url = new URL(asset, `http://127.0.0.1:${port}/docs`)
    const r = await get(port, url.pathname)
    t.is(r.status, 200, asset)
    t.true(r.body.length > 0, asset)
  }
  const init = (await get(port, '/docs/init.js')).text()
  t.regex(init, /url: 'openapi\.json'/)
  t.regex(init, /validatorUrl: null/, 'no request to the online validator')
  // /docs/ sends the browser to /docs, so the relative asset URLs resolve as written
  const slash = await get(port, '/docs/')
  t.is(slash.status, 301)
  t.is(new URL(String(slash.headers.location), `http://127.0.0.1:${port}/docs/`).pathname, '/docs')
  // only the files the page uses are served from the package
  t.is((await get(port, '/docs/index.html')).status, 404)
  t.is((await get(port, '/docs/..%2Fpackage.json')).status, 404)
})
