/**
 * SPEC §1 "a Redis store serves several instances behind one load balancer": two API instances
 * on one real redis-server share each (key, IP) budget and each IP's failed-auth budget.
 * Needs the `redis-server` binary (Debian package redis-server; .ci/run installs it). Outside CI
 * the tests skip with the reason when it is absent; in CI (env CI set) its absence fails them.
 */
import test from 'ava'
import { createApi } from '../../src/api/index.js'
import { createKeySet } from '../../src/keys/index.js'
import { createStaticView } from '../../src/view/index.js'
import { freePort, makePeerIds, makeSnapshot, redisServerPath, startRedis, startTestApi } from '../helpers/api.js'

const KEY = 'key-alice-0123456789abcdef'
const KEYS = [{ owner: 'alice', key: KEY, active: true }]
const bin = redisServerPath()
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const redisTest = bin === undefined && !inCi ? test.skip : test

if (bin === undefined) {
  if (inCi) {
    test('redis-server is installed (CI)', (t) => { t.fail('redis-server not found in ' + ['/usr/bin', '/usr/local/bin', '/usr/sbin'].join(', ') + '; .ci/run should install the Debian package redis-server') })
  } else {
    process.stderr.write('test/api/redis.test.ts: skipping the Redis store tests: no redis-server binary (install the Debian package redis-server to run them)\n')
  }
}

redisTest('two instances on one Redis share the (key, IP) budget and the failed-auth budget', async (t) => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const snapshot = makeSnapshot(await makePeerIds(2))
  const init = { redisUrl: url, rateLimit: { limit: 5, windowMs: 60_000 }, authFailLimit: { limit: 2, windowMs: 60_000 } }
  const one = await startTestApi(t, { keys: KEYS, snapshot, init })
  const two = await startTestApi(t, { keys: KEYS, snapshot, init })
  const h = { 'X-API-Key': KEY }
  const statuses: number[] = []
  for (const api of [one, two, one, two, one]) statuses.push((await api.get('/v1/get_bootnodes', { localAddress: '127.0.0.2', headers: h })).status)
  t.deepEqual(statuses, [200, 200, 200, 200, 200])
  const over = await two.get('/get_heartbeat', { localAddress: '127.0.0.2', headers: h })
  t.is(over.status, 429, 'the 6th request, wherever it lands, is over the shared budget')
  t.is(over.text(), '{"detail":"Rate limit exceeded: 5 per 1 minute"}')
  t.is((await one.get('/v1/get_bootnodes', { localAddress: '127.0.0.2', headers: h })).status, 429)
  t.is((await one.get('/v1/get_bootnodes', { localAddress: '127.0.0.3', headers: h })).status, 200, 'another IP has its own budget')

  t.is((await one.get('/v1/get_bootnodes', { localAddress: '127.0.0.4', headers: { 'X-API-Key': 'guess-1' } })).status, 403)
  t.is((await two.get('/v1/get_bootnodes', { localAddress: '127.0.0.4', headers: { 'X-API-Key': 'guess-2' } })).status, 403)
  t.is((await one.get('/v1/get_bootnodes', { localAddress: '127.0.0.4', headers: { 'X-API-Key': 'guess-3' } })).status, 429)
  t.is((await two.get('/v1/get_bootnodes', { localAddress: '127.0.0.4', headers: h })).status, 429, 'blocked on the other instance too')
})

redisTest('an unreachable --redis-url fails at start with a clear error', async (t) => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const components = { view: createStaticView(), keys: { current: () => createKeySet([]) } }
  const err = await t.throwsAsync(createApi({ redisUrl: `redis://:hunter2@127.0.0.1:${await freePort()}` }, components))
  t.is((err as { code?: string }).code, 'ERR_API_REDIS')
  t.regex(err?.message ?? '', /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/)
  t.false(err?.message.includes('hunter2'), 'the password is not repeated')
  // and a reachable one works, and close() releases it
  const api = await createApi({ redisUrl: url }, components)
  t.truthy(api.app)
  await api.close()
  await api.close()
})
