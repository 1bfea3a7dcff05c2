/**
 * SPEC §1 "Authentication": the three header forms, every refusal, exact 403, no key in logs.
 */
import test from 'ava'
import { createLogger } from '../../src/log/index.js'
import { makePeerIds, makeSnapshot, startTestApi } from '../helpers/api.js'

const FORBIDDEN = '{"detail":"Invalid or missing API Key"}'
const GOOD = 'key-alice-0123456789abcdef0123456789abcdef'
const HOUR = 3_600_000

async function setup (t: Parameters<typeof startTestApi>[0]): Promise<{ api: Awaited<ReturnType<typeof startTestApi>>, logs: string[] }> {
  const logs: string[] = []
  const logger = createLogger({ level: 'debug', stream: { write: (line: string) => { logs.push(line); return true } } })
  const api = await startTestApi(t, {
    keys: [
      { owner: 'alice', key: GOOD, active: true },
      { owner: 'nofield', key: 'key-nofield-aaaa1111' },
      { owner: 'off', key: 'key-off-bbbb2222', active: false },
      { owner: 'old', key: 'key-old-cccc3333', active: true, expires_at: new Date(Date.now() - HOUR).toISOString() },
      { owner: 'later', key: 'key-later-dddd4444', active: true, expires_at: new Date(Date.now() + HOUR).toISOString() },
      { owner: 'hb', key: 'key-hb-eeee5555', active: true, scopes: ['get_heartbeat'] }
    ],
    snapshot: makeSnapshot(await makePeerIds(3)),
    init: { logger, rateLimit: { limit: 1000, windowMs: 60_000 }, authFailLimit: { limit: 1000, windowMs: 60_000 } }
  })
  return { api, logs }
}

test('each accepted header form gets 200', async (t) => {
  const { api } = await setup(t)
  const forms: Array<Record<string, string>> = [
    { 'X-API-Key': GOOD },
    { Authorization: `X-API-Key ${GOOD}` },
    { Authorization: `Bearer ${GOOD}` },
    { Authorization: `bearer ${GOOD}` }
  ]
  for (const headers of forms) {
    const r = await api.get('/v1/get_heartbeat', { headers })
    t.is(r.status, 200, JSON.stringify(Object.keys(headers)))
    t.is(r.headers['content-type'], 'application/json; charset=utf-8')
  }
  // a missing "active" field counts as active (SPEC §1); an unexpired key works
  t.is((await api.get('/v1/get_bootnodes', { headers: { 'X-API-Key': 'key-nofield-aaaa1111' } })).status, 200)
  t.is((await api.get('/v1/get_bootnodes', { headers: { 'X-API-Key': 'key-later-dddd4444' } })).status, 200)
})

test('every refusal is the exact 403 body', async (t) => {
  const { api } = await setup(t)
  const cases: Array<[string, string, Record<string, string>]> = [
    ['missing', '/v1/get_heartbeat', {}],
    ['unknown', '/v1/get_heartbeat', { 'X-API-Key': 'key-nobody-0000' }],
    ['inactive', '/v1/get_heartbeat', { 'X-API-Key': 'key-off-bbbb2222' }],
    ['expired', '/v1/get_heartbeat', { 'X-API-Key': 'key-old-cccc3333' }],
    ['out of scope', '/v1/get_peers_info', { 'X-API-Key': 'key-hb-eeee5555' }],
    ['out of scope (legacy path)', '/get_bootnodes', { 'X-API-Key': 'key-hb-eeee5555' }],
    ['prefix of a key', '/v1/get_heartbeat', { 'X-API-Key': GOOD.slice(0, -1) }],
    ['empty header', '/v1/get_heartbeat', { 'X-API-Key': '' }],
    ['unknown scheme', '/v1/get_heartbeat', { Authorization: `Basic ${GOOD}` }],
    ['scheme without key', '/v1/get_heartbeat', { Authorization: 'Bearer' }],
    ['oversized key', '/v1/get_heartbeat', { 'X-API-Key': 'k'.repeat(5000) }]
  ]
  for (const [name, path, headers] of cases) {
    const r = await api.get(path, { headers })
    t.is(r.status, 403, name)
    t.is(r.text(), FORBIDDEN, name)
    t.is(r.headers['content-type'], 'application/json; charset=utf-8', name)
  }
  // the scoped key does work on its own route
  t.is((await api.get('/v1/get_heartbeat', { headers: { 'X-API-Key': 'key-hb-eeee5555' } })).status, 200)
})

test('a key in the query string is not accepted', async (t) => {
  const { api, logs } = await setup(t)
  for (const q of [`api_key=${GOOD}`, `key=${GOOD}`, `x-api-key=${GOOD}`, `X-API-Key=${GOOD}`]) {
    const r = await api.get(`/v1/get_bootnodes?${q}`)
    t.is(r.status, 403, q)
    t.is(r.text(), FORBIDDEN)
  }
  t.false(logs.join('').includes(GOOD))
})

test('logs name the owner and never contain a key', async (t) => {
  const { api, logs } = await setup(t)
  await api.get('/v1/get_heartbeat', { headers: { 'X-API-Key': GOOD } })
  await api.get('/v1/get_heartbeat', { headers: { 'X-API-Key': 'key-nobody-0000' } })
  await api.get('/v1/get_heartbeat', { headers: { Authorization: 'Bearer key-off-bbbb2222' } })
  await api.get(`/nowhere?api_key=${GOOD}`)
  const all = logs.join('')
  t.true(all.includes('"owner":"alice"'), 'the debug access line names the owner')
  t.true(all.includes('"reason":"unknown"'))
  for (const k of [GOOD, 'key-nobody-0000', 'key-off-bbbb2222']) t.false(all.includes(k), `log contains ${k}`)
})
