/**
 * SPEC §1 "a Redis store serves several instances behind one load balancer": two API instances
 * on one real redis-server share each (key, IP) budget and each IP's failed-auth budget; a sidecar
 * with --redis-url opens one connection for its limiters and its key usage, and a wrong URL fails
 * its start with one line.
 * Needs the `redis-server` binary (Debian package redis-server; .ci/run installs it). Outside CI
 * the tests skip with the reason when it is absent; in CI (env CI set) its absence fails them.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { parseConfig } from '../../src/config/index.js'
import { silentLogger } from '../../src/log/index.js'
import { createSidecar } from '../../src/sidecar.js'
import { settleWithin } from '../../src/util/deadline.js'
import { createRedisConnection, type RedisClient } from '../../src/util/redis.js'
import { connectTestRedis, freePort, get, makePeerIds, makeSnapshot, redisServerPath, startRedis, startRedisServer, startTestApi } from '../helpers/api.js'
import { tempDir } from '../helpers/fs.js'
import { uniqueSubnetId } from '../helpers/p2p.js'
import type { ExecutionContext } from 'ava'

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

/** A sidecar (`run`, loopback only, no geolocation, no --data-dir) with `--redis-url url`, stopped in teardown. */
async function makeSidecar (t: ExecutionContext, url: string): Promise<Awaited<ReturnType<typeof createSidecar>>> {
  const dir = await tempDir(t, 'sbn-redis-')
  const keysFile = join(dir, 'bootnode_rest_keys.json')
  await writeFile(keysFile, JSON.stringify(KEYS), { mode: 0o600 })
  const config = parseConfig(['run', '--subnet-id', uniqueSubnetId('redis'), '--listen', '/ip4/127.0.0.1/tcp/0', '--allow-private-addrs',
    '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none', '--redis-url', url], {}, dir)
  if (config.command !== 'run') throw new Error(`unexpected config command ${config.command}`)
  const sidecar = await createSidecar(config, silentLogger)
  t.teardown(async () => { await sidecar.stop() })
  return sidecar
}

/** The clients connected to the server, other than `self`. */
async function otherClients (self: RedisClient): Promise<string[]> {
  const id = String(await self.sendCommand(['CLIENT', 'ID']))
  const list = String(await self.sendCommand(['CLIENT', 'LIST']))
  return list.split('\n').filter(line => line.startsWith('id=') && !line.startsWith(`id=${id} `))
}

redisTest('two instances on one Redis share the (key, IP) budget and the failed-auth budget', async (t) => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const snapshot = makeSnapshot(await makePeerIds(2))
  const init = { rateLimit: { limit: 5, windowMs: 60_000 }, authFailLimit: { limit: 2, windowMs: 60_000 } }
  const one = await startTestApi(t, { keys: KEYS, snapshot, init, redis: await connectTestRedis(t, url) })
  const two = await startTestApi(t, { keys: KEYS, snapshot, init, redis: await connectTestRedis(t, url) })
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
  const wrong = `redis://:hunter2@127.0.0.1:${await freePort()}`
  const err = await t.throwsAsync(createRedisConnection(wrong, silentLogger).start())
  t.is((err as { code?: string }).code, 'ERR_API_REDIS')
  t.regex(err?.message ?? '', /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/)
  t.false(err?.message.includes('hunter2'), 'the password is not repeated')
  // the sidecar's start fails with that same line, before its node or API starts
  const sidecar = await makeSidecar(t, wrong)
  const failed = await t.throwsAsync(sidecar.start())
  t.is((failed as { code?: string }).code, 'ERR_API_REDIS')
  t.regex(failed?.message ?? '', /^cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: [^\n]+$/)
  t.false(failed?.message.includes('hunter2'))
})

redisTest('a sidecar with --redis-url connects once for its limiters and key usage, and closes that client after both stopped', async (t) => {
  const url = await startRedis(t, bin ?? 'redis-server')
  const probe = await connectTestRedis(t, url)
  const sidecar = await makeSidecar(t, url)
  await sidecar.start()
  t.is((await otherClients(probe)).length, 1, 'one connection, not one per user')
  const { port } = sidecar.api.address()
  // a keyed request counts in the Redis limiter (its key appears) and, at the stop, in the shared usage
  t.not((await get(port, '/v1/get_heartbeat', { localAddress: '127.0.0.2', headers: { 'X-API-Key': KEY } })).status, 429)
  t.true((await probe.sendCommand(['KEYS', 'subnet-bootnode:rl:*']) as string[]).length > 0, 'the limiter counts in Redis')
  await sidecar.stop()
  t.is(String(await probe.sendCommand(['HGET', 'subnet-bootnode:usage:owner:alice', 'requests'])), '1', 'the last usage flush ran before the client closed')
  t.deepEqual(await otherClients(probe), [], 'closed at stop')
})

/** A redis-server and a started sidecar using it, with the sidecar's API port. */
async function sidecarOnRedisServer (t: ExecutionContext): Promise<{ redis: Awaited<ReturnType<typeof startRedisServer>>, sidecar: Awaited<ReturnType<typeof makeSidecar>>, port: number }> {
  const redis = await startRedisServer(t, bin ?? 'redis-server')
  const sidecar = await makeSidecar(t, redis.url)
  await sidecar.start()
  return { redis, sidecar, port: sidecar.api.address().port }
}

const AS_KEY = { 'X-API-Key': KEY }

redisTest('a hung Redis holds neither keyed requests (they pass, as with Redis down) nor the sidecar\'s stop', async (t) => {
  const { redis, sidecar, port } = await sidecarOnRedisServer(t)
  t.is((await get(port, '/v1/get_bootnodes', { localAddress: '127.0.0.2', headers: AS_KEY })).status, 200)
  // SIGSTOP: the connection stays up and nothing answers; each limiter command gives up after its bound.
  redis.signal('SIGSTOP')
  t.teardown(() => { redis.signal('SIGCONT') })
  const during = await settleWithin(get(port, '/v1/get_bootnodes', { localAddress: '127.0.0.2', headers: AS_KEY }).then(r => r.status), 20_000, () => 'no answer within 20 s')
  t.is(during, 200, 'the request passes (passOnStoreError) once its limiter command times out')
  t.is(await settleWithin(sidecar.stop().then(() => 'stopped'), 20_000, () => 'stop still waiting after 20 s'), 'stopped')
})

redisTest('with Redis killed, keyed requests still pass (a limiter store error lets them through)', async (t) => {
  const { redis, port } = await sidecarOnRedisServer(t)
  await redis.kill()
  const statuses = await settleWithin(Promise.all([2, 3, 4].map(async (n) => (await get(port, '/v1/get_bootnodes', { localAddress: `127.0.0.${n}`, headers: AS_KEY })).status)),
    20_000, () => 'no answers within 20 s')
  t.deepEqual(statuses, [200, 200, 200])
})
