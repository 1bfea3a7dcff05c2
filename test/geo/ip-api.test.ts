/**
 * ip-api mode against a local server speaking ip-api's batch protocol (no test reaches the
 * internet): batches, fields, the cache, rate limits (429 + X-Ttl, X-Rl 0, the local window),
 * a hanging server, malformed answers, and fallback to the offline data, which never throws.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import test from 'ava'
import { Registry } from 'prom-client'
import { createLocator } from '../../src/geo/index.js'
import { createLogger } from '../../src/log/index.js'
import { answerFor, normal, startFakeIpApi } from './helpers/fake-ip-api.js'
import { mkfifo, tempDir } from '../helpers/fs.js'
import { SUCCESS_KEYS } from './helpers/index.js'
import type { IpApiFailureReason, LocatorInit } from '../../src/geo/index.js'
import type { ExecutionContext } from 'ava'

const FIELDS = 'status,message,country,countryCode,region,regionName,city,zip,lat,lon,timezone,isp,org,as,query'

/** What the locator reported about one ip-api batch it could not use (its log line's fields). */
interface LookupFailure { reason: IpApiFailureReason, addresses: number, detail?: string }

/**
 * An ip-api mode locator whose `failures` are the batches it logged as not answered by ip-api,
 * in order; reading them also checks that `stats().failures` counts exactly those, by reason.
 */
function ipApiLocator (t: ExecutionContext, init: LocatorInit): ReturnType<typeof createLocator> & { readonly failures: LookupFailure[] } {
  const logged: LookupFailure[] = []
  const logger = createLogger({
    level: 'debug',
    stream: {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg: string } & LookupFailure
        if (/^ip-api (deferred|lookup failed)/.test(entry.msg)) logged.push({ reason: entry.reason, addresses: entry.addresses, detail: entry.detail })
        return true
      }
    }
  })
  const locator = createLocator({ mode: 'ip-api', logger, ...init })
  t.teardown(async () => { await locator.stop() })
  return Object.defineProperty(locator, 'failures', {
    get: () => {
      const counted = { ...locator.stats().failures }
      for (const reason of Object.keys(counted) as IpApiFailureReason[]) counted[reason] = logged.filter((f) => f.reason === reason).length
      t.deepEqual(locator.stats().failures, counted, 'stats().failures counts the failures reported')
      return logged
    }
  }) as ReturnType<typeof createLocator> & { readonly failures: LookupFailure[] }
}

/** `n` distinct public addresses in 45.0.0.0/8, which the bundled data knows. */
function publicIps (n: number, offset = 0): string[] {
  return Array.from({ length: n }, (_, i) => `45.${(i + offset) >> 8 & 255}.${(i + offset) & 255}.1`)
}

test('a normal batch: one POST with the SPEC fields, public addresses only, answers in SPEC order', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  const result = await locator.locate(['8.8.8.8', '10.0.0.1', '127.0.0.1', '::ffff:8.8.8.8', '45.1.2.3', 'nope'])
  t.is(fake.requests.length, 1)
  const req = fake.requests[0]
  t.is(req?.method, 'POST')
  t.is(req?.fields, FIELDS)
  t.regex(req?.contentType ?? '', /application\/json/)
  // Private, reserved and invalid addresses never leave the process; the mapped address is one query.
  t.deepEqual(req?.queries, ['8.8.8.8', '45.1.2.3'])
  const google = result.get('8.8.8.8')
  t.deepEqual(google, { ...answerFor('8.8.8.8') })
  t.deepEqual(Object.keys(google ?? {}), SUCCESS_KEYS)
  t.deepEqual(result.get('::ffff:8.8.8.8'), { ...google, query: '::ffff:8.8.8.8' })
  t.is(result.get('45.1.2.3')?.city, 'Paris')
  t.deepEqual(result.get('10.0.0.1'), { status: 'fail', message: 'private range', query: '10.0.0.1' })
  t.deepEqual(result.get('127.0.0.1'), { status: 'fail', message: 'reserved range', query: '127.0.0.1' })
  t.deepEqual(result.get('nope'), { status: 'fail', message: 'invalid query', query: 'nope' })
  t.like(locator.stats(), { requests: 1, answeredByIpApi: 2, fallbacks: 0 })
  t.deepEqual(locator.failures, [])
  t.true(locator.attribution[0]?.includes('ip-api.com'))
})

test('ip-api "fail" answers are kept as ip-api gave them', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  // 203.0.1.1 is public to us; the fake plays an ip-api that disagrees.
  t.deepEqual((await locator.locate(['203.0.1.1'])).get('203.0.1.1'), { status: 'fail', message: 'reserved range', query: '203.0.1.1' })
})

test('the cache: a second locate of the same addresses sends no request', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  const first = await locator.locate(['8.8.8.8', '45.0.0.9'])
  t.is(fake.requests.length, 1)
  const second = await locator.locate(['45.0.0.9', '8.8.8.8'])
  t.is(fake.requests.length, 1)
  t.deepEqual(second, new Map([['45.0.0.9', first.get('45.0.0.9')], ['8.8.8.8', first.get('8.8.8.8')]]))
  t.is(locator.stats().cacheHits, 2)
  // Only the new address goes out.
  await locator.locate(['8.8.8.8', '45.0.0.10'])
  t.deepEqual(fake.requests.map((r) => r.queries), [['8.8.8.8', '45.0.0.9'], ['45.0.0.10']])
})

test('an expired cache entry is asked again', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, cacheTtlMs: 1 })
  await locator.locate(['8.8.8.8'])
  await sleep(5)
  await locator.locate(['8.8.8.8'])
  t.is(fake.requests.length, 2)
})

test('150 addresses go out as two requests of at most 100', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  const ips = publicIps(150)
  const result = await locator.locate(ips)
  t.deepEqual(fake.requests.map((r) => (r.queries as string[]).length), [100, 50])
  t.deepEqual(fake.requests.flatMap((r) => r.queries as string[]), ips)
  t.is(result.size, 150)
  for (const ip of ips) t.like(result.get(ip), { status: 'success', city: 'Paris', query: ip })
})

test('429 with X-Ttl: falls back to the offline data, counts and reports it, and waits before asking again', async (t) => {
  const fake = await startFakeIpApi(t, (_q, res) => {
    res.writeHead(429, { 'x-rl': '0', 'x-ttl': '42', 'content-type': 'text/plain' })
    res.end('Too Many Requests')
  })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  const result = await locator.locate(['8.8.8.8'])
  // The bundled data's answer, not ip-api's (which says Ashburn).
  t.like(result.get('8.8.8.8'), { status: 'success', countryCode: 'US', city: 'Mountain View', as: 'AS15169 Google LLC', query: '8.8.8.8' })
  t.is(locator.failures.length, 1)
  t.like(locator.failures[0], { reason: 'rate-limited', addresses: 1 })
  t.regex(locator.failures[0]?.detail ?? '', /retry in 42 s/)
  // Inside the X-Ttl window nothing goes out; the answers still come, from offline data.
  fake.behaviour = normal()
  const again = await locator.locate(['8.8.8.8', '1.1.1.1'])
  t.is(fake.requests.length, 1)
  t.is(again.get('1.1.1.1')?.status, 'success')
  t.like(locator.stats(), { requests: 1, fallbacks: 3, answeredByIpApi: 0 })
  t.is(locator.stats().failures['rate-limited'], 1)
  t.is(locator.stats().failures.deferred, 1)
  // Fallback answers are not cached as ip-api's.
  t.is(locator.stats().cacheSize, 0)
})

test('X-Rl 0 defers the next request until X-Ttl has passed', async (t) => {
  const fake = await startFakeIpApi(t, normal(0, 30))
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  t.is((await locator.locate(['8.8.8.8'])).get('8.8.8.8')?.city, 'Ashburn')
  const next = await locator.locate(['45.0.0.1'])
  t.is(fake.requests.length, 1)
  t.is(next.get('45.0.0.1')?.status, 'success')
  t.not(next.get('45.0.0.1')?.city, 'Paris')
  t.like(locator.failures[0], { reason: 'deferred', addresses: 1 })
})

test('the local window: no more requests per minute than allowed, even without headers', async (t) => {
  const fake = await startFakeIpApi(t, (queries, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(queries.map(answerFor)))
  })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, requestsPerMinute: 1 })
  const ips = publicIps(150)
  const result = await locator.locate(ips)
  t.is(fake.requests.length, 1)
  t.is(result.size, 150)
  t.is(result.get(ips[0] as string)?.city, 'Paris')
  t.is(result.get(ips[149] as string)?.status, 'success')
  t.not(result.get(ips[149] as string)?.city, 'Paris')
  t.like(locator.failures[0], { reason: 'deferred', addresses: 50 })
})

test('a hanging server: the timeout fires and the answers come from the offline data', async (t) => {
  const fake = await startFakeIpApi(t, () => { /* never answers */ })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, timeoutMs: 200 })
  const result = await locator.locate(['8.8.8.8'])
  t.like(result.get('8.8.8.8'), { status: 'success', city: 'Mountain View' })
  t.like(locator.failures[0], { reason: 'timeout', addresses: 1 })
})

test('a server that sends headers and then stalls is caught by the same timeout', async (t) => {
  const fake = await startFakeIpApi(t, (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('[{"status":')
  })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, timeoutMs: 200 })
  t.like((await locator.locate(['8.8.8.8'])).get('8.8.8.8'), { status: 'success', city: 'Mountain View' })
  t.like(locator.failures[0], { reason: 'timeout' })
})

const broken: Array<[string, (queries: string[]) => string]> = [
  ['malformed JSON', () => '[{"status": "success", "country": '],
  ['an object instead of an array', () => '{"status":"fail","message":"invalid query"}'],
  ['fewer answers than queries', (q) => JSON.stringify(q.slice(1).map(answerFor))],
  ['an answer without a status', (q) => JSON.stringify(q.map(() => ({ country: 'X' })))]
]
for (const [what, body] of broken) {
  test(`${what}: falls back to the offline data`, async (t) => {
    const fake = await startFakeIpApi(t, (queries, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(body(queries))
    })
    const locator = ipApiLocator(t, { ipApiUrl: fake.url })
    const result = await locator.locate(['8.8.8.8', '1.1.1.1'])
    t.like(result.get('8.8.8.8'), { status: 'success', city: 'Mountain View' })
    t.like(result.get('1.1.1.1'), { status: 'success', as: 'AS13335 Cloudflare, Inc.' })
    t.like(locator.failures[0], { reason: 'malformed', addresses: 2 })
    t.is(locator.stats().cacheSize, 0)
  })
}

test('a 500 falls back, and after the backoff ip-api is asked again', async (t) => {
  const fake = await startFakeIpApi(t, (_q, res) => { res.writeHead(500); res.end() })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, failureBackoffMs: 20 })
  t.like((await locator.locate(['8.8.8.8'])).get('8.8.8.8'), { city: 'Mountain View' })
  t.like(locator.failures[0], { reason: 'http-status', detail: 'status 500' })
  fake.behaviour = normal()
  // Poll, bounded, until the backoff has passed and ip-api answers.
  let city: unknown
  for (let i = 0; i < 100 && city !== 'Ashburn'; i++) {
    city = (await locator.locate(['8.8.8.8'])).get('8.8.8.8')?.city
    if (city !== 'Ashburn') await sleep(10)
  }
  t.is(city, 'Ashburn')
})

test('an unreachable ip-api falls back without throwing', async (t) => {
  // A port that was just free: nothing listens there.
  const fake = await startFakeIpApi(t)
  const url = fake.url
  const locator = ipApiLocator(t, { ipApiUrl: url.replace(/:\d+\//, ':1/') })
  t.like((await locator.locate(['8.8.8.8'])).get('8.8.8.8'), { status: 'success', city: 'Mountain View' })
  t.like(locator.failures[0], { reason: 'network' })
})

test('stop() aborts a request in flight; the pending locate still resolves', async (t) => {
  const fake = await startFakeIpApi(t, () => { /* never answers */ })
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, timeoutMs: 30_000 })
  const pending = locator.locate(['8.8.8.8'])
  for (let i = 0; i < 400 && fake.requests.length === 0; i++) await sleep(10)
  t.is(fake.requests.length, 1)
  await locator.stop()
  t.like((await pending).get('8.8.8.8'), { status: 'success', countryCode: 'US' })
  await t.notThrowsAsync(locator.stop())
})

test('concurrent locates of the same addresses send one request', async (t) => {
  const fake = await startFakeIpApi(t)
  const locator = ipApiLocator(t, { ipApiUrl: fake.url })
  const [a, b] = await Promise.all([locator.locate(['8.8.8.8']), locator.locate(['8.8.8.8'])])
  t.is(fake.requests.length, 1)
  t.deepEqual(a, b)
})

test('the cache persists in cacheDir: a restarted locator does not re-query', async (t) => {
  const fake = await startFakeIpApi(t)
  const dir = await tempDir(t)
  const first = createLocator({ mode: 'ip-api', ipApiUrl: fake.url, cacheDir: dir })
  const before = await first.locate(['8.8.8.8', '45.0.0.1'])
  await first.stop()
  const file = JSON.parse(await readFile(join(dir, 'ip-api-cache.json'), 'utf8')) as { entries: unknown[] }
  t.is(file.entries.length, 2)

  const second = ipApiLocator(t, { ipApiUrl: fake.url, cacheDir: dir })
  const after = await second.locate(['45.0.0.1', '8.8.8.8'])
  t.is(fake.requests.length, 1)
  t.deepEqual(after.get('8.8.8.8'), before.get('8.8.8.8'))
  t.deepEqual(after.get('45.0.0.1'), before.get('45.0.0.1'))
})

test('a corrupt cache file is ignored, not fatal', async (t) => {
  const fake = await startFakeIpApi(t)
  const dir = await tempDir(t)
  const { writeFile } = await import('node:fs/promises')
  await writeFile(join(dir, 'ip-api-cache.json'), '{ not json')
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, cacheDir: dir })
  t.is((await locator.locate(['8.8.8.8'])).get('8.8.8.8')?.city, 'Ashburn')
  t.is(fake.requests.length, 1)
})

test('a FIFO at the cache path is ignored at once, not read (it would block the read for good)', async (t) => {
  const fake = await startFakeIpApi(t)
  const dir = await tempDir(t)
  await mkfifo(join(dir, 'ip-api-cache.json'))
  const locator = ipApiLocator(t, { ipApiUrl: fake.url, cacheDir: dir })
  t.is((await locator.locate(['8.8.8.8'])).get('8.8.8.8')?.city, 'Ashburn')
  t.is(fake.requests.length, 1)
})

test('check() in ip-api mode: passes with the bundled fallback, refuses a bad --geo-db', async (t) => {
  const fake = await startFakeIpApi(t)
  await t.notThrowsAsync(ipApiLocator(t, { ipApiUrl: fake.url }).check())
  const dir = await tempDir(t)
  const bad = ipApiLocator(t, { ipApiUrl: fake.url, geoDbPath: join(dir, 'gone.mmdb') })
  const err = await t.throwsAsync(bad.check())
  t.is((err as { code?: string }).code, 'ERR_GEO_DATABASE')
  t.is(fake.requests.length, 0)
})

test('a bad ip-api URL or setting is refused at construction with ERR_CONFIG', (t) => {
  for (const init of [{ ipApiUrl: 'not a url' }, { ipApiUrl: 'ftp://example.org/batch' }, { timeoutMs: 0 }, { requestsPerMinute: -1 }]) {
    const err = t.throws(() => createLocator({ mode: 'ip-api', ...init }))
    t.is((err as { code?: string }).code, 'ERR_CONFIG')
  }
})

test('failures reach /metrics through the registry the locator is given, read at each scrape', async (t) => {
  const registry = new Registry()
  const fake = await startFakeIpApi(t, (_q, res) => { res.writeHead(500); res.end() })
  const locator = createLocator({ mode: 'ip-api', ipApiUrl: fake.url, failureBackoffMs: 1 }, { registry })
  t.teardown(async () => { await locator.stop() })
  await locator.locate(['8.8.8.8'])
  const first = await registry.metrics()
  t.true(first.includes('# TYPE subnet_bootnode_geo_lookup_failures_total counter'))
  t.true(first.includes('subnet_bootnode_geo_lookup_failures_total{reason="http-status"} 1'))
  t.true(first.includes('subnet_bootnode_geo_lookup_failures_total{reason="timeout"} 0'))
  // Counts that move between scrapes show up: a second failed batch after the (1 ms) backoff.
  for (let i = 0; i < 100 && locator.stats().failures['http-status'] < 2; i++) {
    await sleep(5)
    await locator.locate([`45.0.0.${i + 1}`])
  }
  t.is(locator.stats().failures['http-status'], 2)
  t.true((await registry.metrics()).includes('subnet_bootnode_geo_lookup_failures_total{reason="http-status"} 2'))
})
