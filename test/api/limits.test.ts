/**
 * SPEC §1 "Rate limiting": per (key, client IP) budgets across routes, the exact 429, the
 * failed-auth limit per IP, trust proxy (hop count and CIDR list) and IPv6 /64 counting.
 * Different clients are different source addresses on 127.0.0.0/8.
 */
import test from 'ava'
import { createApi } from '../../src/api/index.js'
import { createKeySet } from '../../src/keys/index.js'
import { createLogger } from '../../src/log/index.js'
import { describeRate, MAX_RATE_WINDOW_MS, parseRate } from '../../src/util/rate.js'
import { createStaticView } from '../../src/view/index.js'
import { makePeerIds, makeSnapshot, startTestApi, type SnapshotInput } from '../helpers/api.js'

const A = 'key-alice-0123456789abcdef'
const B = 'key-bob-fedcba9876543210'
const KEYS = [{ owner: 'alice', key: A, active: true }, { owner: 'bob', key: B, active: true }]
const RATE_LIMITED = '{"detail":"Rate limit exceeded: 5 per 1 minute"}'

let snap: SnapshotInput
test.before(async () => { snap = makeSnapshot(await makePeerIds(3)) })

test('5 per minute per (key, IP) across all routes, then the exact 429 with Retry-After and RateLimit headers', async (t) => {
  const logs: string[] = []
  const logger = createLogger({ level: 'info', stream: { write: (l: string) => { logs.push(l); return true } } })
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { logger } })
  const from = (ip: string, key: string, path = '/v1/get_heartbeat') => api.get(path, { localAddress: ip, headers: { 'X-API-Key': key } })
  const paths = ['/v1/get_heartbeat', '/get_bootnodes', '/v1/get_peers_info', '/get_heartbeat', '/v1/get_bootnodes']
  for (const [i, path] of paths.entries()) {
    const r = await from('127.0.0.2', A, path)
    t.is(r.status, 200, path)
    t.is(r.headers['ratelimit-policy'], '5;w=60')
    t.regex(String(r.headers.ratelimit), new RegExp(`^limit=5, remaining=${4 - i}, reset=\\d+$`))
  }
  const over = await from('127.0.0.2', A, '/v1/get_peers_info')
  t.is(over.status, 429)
  t.is(over.text(), RATE_LIMITED)
  t.is(over.headers['content-type'], 'application/json; charset=utf-8')
  const retry = Number(over.headers['retry-after'])
  t.true(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${over.headers['retry-after']}`)
  t.regex(String(over.headers.ratelimit), /^limit=5, remaining=0, reset=\d+$/)
  t.is(over.headers['ratelimit-policy'], '5;w=60')

  // another IP with the same key, and another key from the same IP, have their own budgets
  t.is((await from('127.0.0.3', A)).status, 200)
  t.is((await from('127.0.0.2', B)).status, 200)
  // and the exhausted pair stays refused
  t.is((await from('127.0.0.2', A, '/get_bootnodes')).status, 429)
  const line = logs.find(l => l.includes('rate limit reached'))
  t.truthy(line)
  t.true(line?.includes('"owner":"alice"'))
  t.false(logs.join('').includes(A))
})

test('failed key checks are limited per IP; successes do not count; a blocked IP is refused even with a good key', async (t) => {
  const api = await startTestApi(t, {
    keys: KEYS,
    snapshot: snap,
    init: { rateLimit: { limit: 100, windowMs: 60_000 }, authFailLimit: { limit: 3, windowMs: 60_000 } }
  })
  const get = (ip: string, headers: Record<string, string>) => api.get('/v1/get_bootnodes', { localAddress: ip, headers })
  for (let i = 0; i < 6; i++) t.is((await get('127.0.0.4', { 'X-API-Key': A })).status, 200)
  t.is((await get('127.0.0.4', { 'X-API-Key': 'guess-1' })).status, 403)
  t.is((await get('127.0.0.4', {})).status, 403)
  t.is((await get('127.0.0.4', { Authorization: 'Bearer guess-3' })).status, 403)
  t.is((await get('127.0.0.4', { 'X-API-Key': A })).status, 429, 'past the failure budget, even a good key is refused')
  const blocked = await get('127.0.0.4', { 'X-API-Key': 'guess-4' })
  t.is(blocked.status, 429)
  t.is(blocked.text(), '{"detail":"Rate limit exceeded: 3 per 1 minute (failed API key attempts)"}')
  t.true(Number(blocked.headers['retry-after']) >= 1)
  t.is(blocked.headers['ratelimit-policy'], '3;w=60')
  t.regex(String(blocked.headers.ratelimit), /^limit=3, remaining=0, reset=\d+$/)
  // other clients are unaffected
  t.is((await get('127.0.0.5', { 'X-API-Key': A })).status, 200)
  t.is((await get('127.0.0.5', { 'X-API-Key': 'guess' })).status, 403)
  const metrics = (await api.get('/metrics')).text()
  t.true(metrics.includes('subnet_bootnode_rate_limit_rejections_total{limiter="auth_fail"} 2'))
})

test('trust proxy by hop count: the client is the X-Forwarded-For address, IPv6 counted per /64', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { trustProxy: 1, rateLimit: { limit: 2, windowMs: 60_000 } } })
  const via = (xff: string) => api.get('/v1/get_bootnodes', { headers: { 'X-API-Key': A, 'X-Forwarded-For': xff } })
  t.is((await via('198.51.100.7')).status, 200)
  t.is((await via('198.51.100.7')).status, 200)
  t.is((await via('198.51.100.7')).status, 429)
  t.is((await via('198.51.100.8')).status, 200, 'another forwarded client has its own budget')
  // only the last hop is trusted: a spoofed left-most entry does not change the client
  t.is((await via('203.0.113.1, 198.51.100.7')).status, 429)
  t.is((await via('2001:db8:1:2::1')).status, 200)
  t.is((await via('2001:db8:1:2:ffff:ffff:ffff:ffff')).status, 200)
  t.is((await via('2001:db8:1:2::abcd')).status, 429, 'same /64: one budget')
  t.is((await via('2001:db8:1:3::1')).status, 200, 'next /64: its own budget')
})

test('trust proxy as an address list; without it X-Forwarded-For is ignored', async (t) => {
  const listed = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { trustProxy: ['127.0.0.0/8'], rateLimit: { limit: 1, windowMs: 60_000 } } })
  const h = (xff: string) => ({ 'X-API-Key': A, 'X-Forwarded-For': xff })
  t.is((await listed.get('/get_bootnodes', { headers: h('192.0.2.1') })).status, 200)
  t.is((await listed.get('/get_bootnodes', { headers: h('192.0.2.2') })).status, 200)
  const off = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { rateLimit: { limit: 1, windowMs: 60_000 } } })
  t.is((await off.get('/get_bootnodes', { headers: h('192.0.2.1') })).status, 200)
  t.is((await off.get('/get_bootnodes', { headers: h('192.0.2.2') })).status, 429, 'a client cannot pick its own IP')
})

test('bad limiter and proxy settings are refused up front', async (t) => {
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  for (const init of [
    { trustProxy: true as unknown as false },
    { trustProxy: ['not-an-address'] },
    { trustProxy: -1 },
    { rateLimit: { limit: 0, windowMs: 60_000 } },
    { authFailLimit: { limit: 5, windowMs: 0 } }
  ]) {
    const err = await t.throwsAsync(createApi(init, components))
    t.is((err as { code?: string }).code, 'ERR_CONFIG', JSON.stringify(init))
  }
})

test('a rate window longer than a day is refused in code as the flags refuse it (one bound, util/rate.ts)', async (t) => {
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  t.is(MAX_RATE_WINDOW_MS, 86_400_000)
  t.is(parseRate('1/2 days'), undefined, 'the parser: at most 1 day')
  for (const init of [
    { rateLimit: { limit: 5, windowMs: MAX_RATE_WINDOW_MS + 1 } },
    { authFailLimit: { limit: 5, windowMs: 2 * MAX_RATE_WINDOW_MS } }
  ]) {
    const err = await t.throwsAsync(createApi(init, components))
    t.is((err as { code?: string }).code, 'ERR_CONFIG', JSON.stringify(init))
    t.regex(err?.message ?? '', /window must be between 1 ms and 1d/)
  }
  const api = await createApi({ rateLimit: { limit: 5, windowMs: MAX_RATE_WINDOW_MS } }, components)
  await api.close()
  t.pass('a window of exactly a day is taken')
})

test('watcher caps: each a positive integer, the per-key one at most the total one (its default lowered to it)', async (t) => {
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  for (const init of [{ maxWatchers: 0 }, { maxWatchers: 1.5 }, { maxWatchersPerKey: 0 }, { maxWatchersPerKey: 5, maxWatchers: 4 }]) {
    const err = await t.throwsAsync(createApi(init, components))
    t.is((err as { code?: string }).code, 'ERR_CONFIG', JSON.stringify(init))
  }
  const err = await t.throwsAsync(createApi({ maxWatchersPerKey: 5, maxWatchers: 4 }, components))
  t.is(err?.message, 'max watchers per key (5) is more than max watchers in total (4)')
  for (const init of [{ maxWatchers: 2 }, { maxWatchersPerKey: 4, maxWatchers: 4 }, {}]) {
    const api = await createApi(init, components)
    await api.close()
    t.pass(JSON.stringify(init))
  }
})

test('a trust-proxy range that would trust (nearly) every client is refused, saying why', async (t) => {
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  for (const range of ['0.0.0.0/0', '::/0', '0.0.0.0/1', '1.0.0.0/7', '128.0.0.0/128.0.0.0', '::/15', '2000::/3', '::ffff:0.0.0.0/96', '::ffff:0.0.0.0/103']) {
    const err = await t.throwsAsync(createApi({ trustProxy: ['10.1.2.3', range] }, components), undefined, range)
    t.is((err as { code?: string }).code, 'ERR_CONFIG', range)
    t.regex(err?.message ?? '', /every client/, range)
    t.true(err?.message.includes(range), range)
  }
  // proxies' own addresses and ranges of at least /8 (IPv4), /16 (IPv6), or private ULA space are fine
  for (const ok of [['10.0.0.0/8'], ['10.0.0.0/255.0.0.0'], ['2001:db8::/16'], ['fd00::/8'], ['fc00::/7'], ['::ffff:10.0.0.0/104'], ['192.0.2.1', '::1'], ['loopback']]) {
    const api = await createApi({ trustProxy: ok }, components)
    await api.close()
    t.pass(ok.join(','))
  }
})

test('the 429 text follows the configured window', async (t) => {
  const api = await startTestApi(t, { keys: KEYS, snapshot: snap, init: { rateLimit: { limit: 1, windowMs: 3_600_000 } } })
  await api.get('/get_bootnodes', { headers: { 'X-API-Key': A } })
  t.is((await api.get('/get_bootnodes', { headers: { 'X-API-Key': A } })).text(), '{"detail":"Rate limit exceeded: 1 per 1 hour"}')
})

test('the 429 says the rate as the operator wrote it, when given its text', async (t) => {
  const api = await startTestApi(t, {
    keys: KEYS,
    snapshot: snap,
    init: { rateLimit: { limit: 1, windowMs: 60_000, text: '1 per 60 seconds' }, authFailLimit: { limit: 1, windowMs: 120_000, text: '1 per 120 seconds' } }
  })
  t.is((await api.get('/get_bootnodes', { headers: { 'X-API-Key': A } })).status, 200)
  t.is((await api.get('/get_bootnodes', { headers: { 'X-API-Key': A } })).text(), '{"detail":"Rate limit exceeded: 1 per 60 seconds"}')
  const from = { localAddress: '127.0.0.6', headers: { 'X-API-Key': 'guess' } }
  t.is((await api.get('/get_bootnodes', from)).status, 403)
  t.is((await api.get('/get_bootnodes', from)).text(), '{"detail":"Rate limit exceeded: 1 per 120 seconds (failed API key attempts)"}')
})

test('a rate text that does not say the configured limit is refused', async (t) => {
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  for (const rateLimit of [
    { limit: 5, windowMs: 60_000, text: '6 per 1 minute' },
    { limit: 5, windowMs: 60_000, text: '5 per 1 hour' },
    { limit: 5, windowMs: 60_000, text: 'five a minute' },
    { limit: 5, windowMs: 60_000, text: 5 as unknown as string }
  ]) {
    const err = await t.throwsAsync(createApi({ rateLimit }, components))
    t.is((err as { code?: string }).code, 'ERR_CONFIG', JSON.stringify(rateLimit))
    t.regex(err?.message ?? '', /does not describe 5 per 1 minute/)
  }
  const api = await createApi({ rateLimit: { limit: 5, windowMs: 60_000, text: '5 per 60 seconds' } }, components)
  await api.close()
  t.pass()
})

test('describeRate (the default 429 text) words a rate as parseRate does', (t) => {
  // written in the largest unit that divides the window, parseRate's text and describeRate agree
  for (const written of ['5/minute', '30/minute', '1/second', '1000/hour', '2/day', '100/5 minutes', '7/90 seconds', '3/2 hours', '1/12 hours']) {
    const rate = parseRate(written)
    if (rate === undefined) { t.fail(written); continue }
    t.is(describeRate(rate.limit, rate.windowMs), rate.text, written)
  }
  // and whatever describeRate says parses back to the same limit and window
  for (const [limit, windowMs] of [[5, 60_000], [10, 90_000], [1, 86_400_000], [3, 7_200_000], [9, 1_000]] as const) {
    t.like(parseRate(describeRate(limit, windowMs)), { limit, windowMs })
  }
})
