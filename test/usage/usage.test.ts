/**
 * SPEC §1 "Key usage": the real API over a real key file counts each owner's requests, 403s and
 * 429s, last use and client IP (clients on several 127.0.0.x), flushes them atomically to
 * <data dir>/key-usage.json, keeps them across a restart, and sums two instances in a real redis-server:
 * a script run only for an owner with a delta, and no file write when nothing changed.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { createMetricsRegistry } from '../../src/util/metrics.js'
import { createKeyUsage, isoWeek, readUsageFile, UsageFileError, utcDay, type KeyUsage, type KeyUsageInit } from '../../src/usage/index.js'
import { connectTestRedis, redisServerPath, startRedis, startRedisServer, startTestApi, type TestApi } from '../helpers/api.js'
import { mkfifo, tempDir } from '../helpers/fs.js'
import { waitFor } from '../helpers/wait.js'
import type { RedisClient } from '../../src/util/redis.js'
import type { ExecutionContext } from 'ava'

const ALICE = 'key-alice-0123456789abcdef'
const BOB = 'key-bob-0123456789abcdef01'
const KEYS = [
  { owner: 'alice', key: ALICE, active: true },
  // known but refused: every request is a 403 counted for bob
  { owner: 'bob', key: BOB, active: true, expires_at: '2001-01-01T00:00:00Z' }
]
const LIMITS = { rateLimit: { limit: 5, windowMs: 60_000 }, authFailLimit: { limit: 100, windowMs: 60_000 } }

/** A recorder on `dataDir` whose loop never fires during a test: only flush() and stop() write. */
async function startUsage (t: ExecutionContext, init: KeyUsageInit, redis?: RedisClient): Promise<KeyUsage> {
  const usage = createKeyUsage({ flushIntervalMs: 600_000, ...init }, { registry: createMetricsRegistry(), ...(redis === undefined ? {} : { redis }) })
  await usage.start()
  t.teardown(async () => { await usage.stop() })
  return usage
}

async function statuses (api: TestApi, key: string, ip: string, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await api.get('/v1/get_bootnodes', { localAddress: ip, headers: { 'X-API-Key': key } })).status)
  return out
}

test('a burst from several clients: counts, 403s, 429s, last use and IP per owner, in the file and on /metrics', async t => {
  const dir = await tempDir(t)
  const registry = createMetricsRegistry()
  const usage = createKeyUsage({ dataDir: dir, flushIntervalMs: 600_000 }, { registry })
  await usage.start()
  t.teardown(async () => { await usage.stop() })
  const api = await startTestApi(t, { keys: KEYS, init: LIMITS, usage, registry })
  const before = Date.now()
  t.deepEqual(await statuses(api, ALICE, '127.0.0.2', 7), [200, 200, 200, 200, 200, 429, 429])
  t.deepEqual(await statuses(api, ALICE, '127.0.0.3', 2), [200, 200])
  t.deepEqual(await statuses(api, BOB, '127.0.0.4', 3), [403, 403, 403])
  t.is((await api.get('/v1/get_bootnodes', { localAddress: '127.0.0.5', headers: { 'X-API-Key': 'nobody-holds-this' } })).status, 403)
  t.is((await api.get('/v1/get_bootnodes', { localAddress: '127.0.0.5' })).status, 403)

  await usage.flush()
  const file = await readUsageFile(join(dir, 'key-usage.json'))
  const now = Date.now()
  t.like(file?.owners.alice, { requests: 9, requests_today: 9, requests_week: 9, forbidden: 0, rate_limited: 2, last_ip: '127.0.0.3', day: utcDay(now), week: isoWeek(now) })
  t.like(file?.owners.bob, { requests: 3, forbidden: 3, rate_limited: 0, last_ip: '127.0.0.4' })
  t.deepEqual(Object.keys(file?.owners ?? {}).sort(), ['alice', 'bob'], 'keys nobody holds are not owners')
  const last = Date.parse(file?.owners.alice?.last_used_at ?? '')
  t.true(last >= before - 1000 && last <= now + 1000, 'last use is the burst')
  const text = await readFile(join(dir, 'key-usage.json'), 'utf8')
  t.false(text.includes(ALICE) || text.includes(BOB), 'no key in the usage file')

  const metrics = await (await api.get('/metrics')).text()
  t.regex(metrics, /subnet_bootnode_key_requests_total\{owner="alice"\} 9\b/)
  t.regex(metrics, /subnet_bootnode_key_requests_total\{owner="bob"\} 3\b/)
})

test('a restart within the flush window keeps the counts (stop flushes), and counting goes on', async t => {
  const dir = await tempDir(t)
  const first = await startUsage(t, { dataDir: dir })
  const one = await startTestApi(t, { keys: KEYS, init: LIMITS, usage: first })
  t.deepEqual(await statuses(one, ALICE, '127.0.0.2', 3), [200, 200, 200])
  await one.server.stop()
  // The loop never ran (10-minute interval): only the flush on stop wrote the file.
  await first.stop()
  t.like((await readUsageFile(join(dir, 'key-usage.json')))?.owners.alice, { requests: 3 })

  const second = await startUsage(t, { dataDir: dir })
  t.like(second.usage().alice, { requests: 3 }, 'loaded at start')
  const two = await startTestApi(t, { keys: KEYS, init: LIMITS, usage: second })
  t.deepEqual(await statuses(two, ALICE, '127.0.0.6', 2), [200, 200])
  await second.stop()
  t.like((await readUsageFile(join(dir, 'key-usage.json')))?.owners.alice, { requests: 5, requests_today: 5, last_ip: '127.0.0.6' })
})

test('an unreadable usage file is kept aside and counting starts again', async t => {
  const dir = await tempDir(t)
  const { writeFile } = await import('node:fs/promises')
  await writeFile(join(dir, 'key-usage.json'), '{"version":1,"owners":{"a":{"requests":"many"}}}')
  const usage = await startUsage(t, { dataDir: dir })
  t.deepEqual(usage.usage(), {})
  t.is(await readFile(join(dir, 'key-usage.json.invalid'), 'utf8'), '{"version":1,"owners":{"a":{"requests":"many"}}}')
})

test('a FIFO at the usage path is refused at once with the usage file\'s one line', async t => {
  const file = join(await tempDir(t), 'key-usage.json')
  await mkfifo(file)
  // No writer ever opens the FIFO: a blocking open or read would time the test out.
  const err = await t.throwsAsync(readUsageFile(file), { instanceOf: UsageFileError })
  t.is(err.message, `${file}: not a regular file`)
  t.is(err.code, 'ERR_USAGE_FILE')
})

const bin = redisServerPath()
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const redisTest = bin === undefined && !inCi ? test.skip : test

redisTest('two instances sharing a redis-server: each file holds the sums of both', async t => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const dirA = await tempDir(t)
  const dirB = await tempDir(t)
  const usageA = await startUsage(t, { dataDir: dirA }, await connectTestRedis(t, url))
  const usageB = await startUsage(t, { dataDir: dirB }, await connectTestRedis(t, url))
  const roomy = { ...LIMITS, rateLimit: { limit: 100, windowMs: 60_000 } }
  const a = await startTestApi(t, { keys: KEYS, init: roomy, usage: usageA })
  const b = await startTestApi(t, { keys: KEYS, init: roomy, usage: usageB })
  t.deepEqual(await statuses(a, ALICE, '127.0.0.2', 3), [200, 200, 200])
  t.deepEqual(await statuses(b, ALICE, '127.0.0.3', 4), [200, 200, 200, 200])
  t.deepEqual(await statuses(b, BOB, '127.0.0.4', 1), [403])
  await usageA.flush()
  await usageB.flush()
  await usageA.flush()
  for (const dir of [dirA, dirB]) {
    const owners = (await readUsageFile(join(dir, 'key-usage.json')))?.owners
    t.like(owners?.alice, { requests: 7, requests_today: 7, requests_week: 7, last_ip: '127.0.0.3' }, dir)
    t.like(owners?.bob, { requests: 1, forbidden: 1 }, dir)
  }
  // a flush with nothing new adds nothing
  await usageB.flush()
  t.like((await readUsageFile(join(dirB, 'key-usage.json')))?.owners.alice, { requests: 7 })
})

redisTest('Redis going away: a flush and the stop stay bounded, and the counts stay in the file', async t => {
  const redis = await startRedisServer(t, bin ?? 'redis-server')
  const dir = await tempDir(t)
  const usage = createKeyUsage({ dataDir: dir, flushIntervalMs: 600_000 }, { registry: createMetricsRegistry(), redis: await connectTestRedis(t, redis.url) })
  await usage.start()
  t.teardown(async () => { await usage.stop() })
  usage.record('alice', 200, '127.0.0.2')
  await usage.flush()
  await redis.kill()
  usage.record('alice', 429, '127.0.0.3')
  // each Redis command of a flush is bounded (2 s), so this returns, and the file gets the local view
  await usage.flush()
  t.like((await readUsageFile(join(dir, 'key-usage.json')))?.owners.alice, { requests: 2, rate_limited: 1, last_ip: '127.0.0.3' })
  await usage.stop()
  t.like(usage.usage().alice, { requests: 2 }, 'kept for the next flush that reaches Redis')
})

/** Lua script runs the server has executed (EVAL and EVALSHA, `INFO commandstats`). */
async function scriptRuns (redis: RedisClient): Promise<number> {
  const info = String(await redis.sendCommand(['INFO', 'commandstats']))
  let runs = 0
  for (const m of info.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)) runs += Number(m[1])
  return runs
}

redisTest('with Redis, only an owner with a delta runs the script; the others come back from the change log', async t => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const probe = await connectTestRedis(t, url)
  const dirB = await tempDir(t)
  const a = await startUsage(t, {}, await connectTestRedis(t, url))
  const b = await startUsage(t, { dataDir: dirB }, await connectTestRedis(t, url))
  a.record('alice', 200, '127.0.0.2')
  a.record('bob', 403, '127.0.0.3')
  await a.flush()
  await b.flush()
  t.like((await readUsageFile(join(dirB, 'key-usage.json')))?.owners, { alice: { requests: 1 }, bob: { requests: 1, forbidden: 1 } }, 'B shows what A added')

  let before = await scriptRuns(probe)
  a.record('alice', 200, '127.0.0.2')
  await a.flush()
  t.is(await scriptRuns(probe) - before, 1, 'alice had a delta, bob none')
  before = await scriptRuns(probe)
  await a.flush()
  await b.flush()
  t.is(await scriptRuns(probe) - before, 0, 'idle flushes run no script')
  t.like((await readUsageFile(join(dirB, 'key-usage.json')))?.owners.alice, { requests: 2 }, 'yet B read alice\'s new sum')

  // Redis forgot the script (a restart, SCRIPT FLUSH): the flush sends it again
  await probe.sendCommand(['SCRIPT', 'FLUSH'])
  a.record('bob', 200, '127.0.0.4')
  await a.flush()
  t.like(a.usage().bob, { requests: 2, last_ip: '127.0.0.4' })
})

redisTest('with Redis, a flush with nothing new leaves the file alone', async t => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const dir = await tempDir(t)
  const file = join(dir, 'key-usage.json')
  // each flush reads the clock once: counting the reads counts the flushes
  let clockReads = 0
  const usage = createKeyUsage({ dataDir: dir, flushIntervalMs: 50, now: () => { clockReads++; return Date.now() } }, { registry: createMetricsRegistry(), redis: await connectTestRedis(t, url) })
  t.teardown(async () => { await usage.stop() })
  await usage.start()
  usage.record('alice', 200, '127.0.0.2')
  await waitFor(async () => (await readUsageFile(file))?.owners.alice?.requests === 1, { timeoutMs: 5_000, what: 'the first flush to write the file' })
  const written = await stat(file)
  const reads = clockReads
  await waitFor(() => clockReads >= reads + 5, { timeoutMs: 5_000, what: 'four more flushes' })
  const after = await stat(file)
  t.is(after.ino, written.ino, 'not replaced')
  t.is(after.mtimeMs, written.mtimeMs, 'not rewritten')
})

redisTest('a flush that timed out on a hung Redis runs once it wakes, and its resend is not counted again', async t => {
  const redis = await startRedisServer(t, bin ?? 'redis-server')
  const probe = await connectTestRedis(t, redis.url)
  const usage = await startUsage(t, {}, await connectTestRedis(t, redis.url))
  usage.record('alice', 200, '127.0.0.2')
  await usage.flush()
  // SIGSTOP: the scripts are written but nothing answers; each flush gives up after its 2 s bound.
  redis.signal('SIGSTOP')
  t.teardown(() => { redis.signal('SIGCONT') })
  usage.record('alice', 200, '127.0.0.2')
  usage.record('alice', 429, '127.0.0.2')
  await usage.flush()
  usage.record('alice', 200, '127.0.0.3')
  await usage.flush()
  redis.signal('SIGCONT')
  // The timed-out script runs on waking; the resends (same batch) and the newer counts land once each.
  await usage.flush()
  await usage.flush()
  const requests = async (): Promise<string> => String(await probe.sendCommand(['HGET', 'subnet-bootnode:usage:owner:alice', 'requests']))
  t.is(await requests(), '4')
  t.is(String(await probe.sendCommand(['HGET', 'subnet-bootnode:usage:owner:alice', 'rate_limited'])), '1')
  t.like(usage.usage().alice, { requests: 4, rate_limited: 1, last_ip: '127.0.0.3' })
})
