/**
 * SPEC §1 / issue 5: malformed requests (garbage bytes, bad headers, oversized headers) get a
 * JSON 4xx, never a 5xx, and never stop the server. Raw TCP sockets, no HTTP client in between.
 */
import { randomBytes } from 'node:crypto'
import test from 'ava'
import { makePeerIds, makeSnapshot, rawExchange, startTestApi } from '../helpers/api.js'

const KEY = 'key-alice-0123456789abcdef'

function statusOf (raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(raw)
  return m?.[1] === undefined ? 0 : Number(m[1])
}

function bodyOf (raw: string): string {
  const i = raw.indexOf('\r\n\r\n')
  return i < 0 ? '' : raw.slice(i + 4)
}

test('junk on the wire gets a JSON 4xx and the server keeps serving', async (t) => {
  const api = await startTestApi(t, { keys: [{ owner: 'alice', key: KEY, active: true }], snapshot: makeSnapshot(await makePeerIds(2)) })
  const cases: Array<[string, string | Buffer, number]> = [
    ['not HTTP', 'GARBAGE\r\n\r\n', 400],
    ['random bytes', randomBytes(2048), 400],
    ['unknown method', 'BREW /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['bad version', 'GET /v1/get_heartbeat HTTP/9.9\r\nHost: x\r\n\r\n', 400],
    ['control byte in a header value', `GET /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\x01\r\n\r\n`, 400],
    ['header without colon', 'GET /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n', 400],
    ['oversized header', `GET /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 431],
    ['oversized URL', `GET /v1/get_heartbeat?${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['many headers', `GET /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`, 431],
    ['bad chunked body (answered before the body is read)', 'POST /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n', 405],
    ['content-length and chunked', 'POST /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400]
  ]
  for (const [name, bytes, status] of cases) {
    const raw = await rawExchange(api.port, bytes)
    t.is(statusOf(raw), status, `${name}: ${raw.slice(0, 80)}`)
    t.true(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i.test(raw), name)
    t.true(bodyOf(raw).startsWith('{"detail":'), name)
  }
  // requests that parse but make no sense are still plain 4xx from the app
  for (const [name, bytes] of [
    ['absolute-form target', `GET http://evil.example/v1/get_bootnodes HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nConnection: close\r\n\r\n`],
    ['asterisk target', 'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['bad percent-encoding', 'GET /v1/get_heartbeat?state=%E0%A4%A HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nConnection: close\r\n\r\n'],
    ['latin-1 key bytes', Buffer.concat([Buffer.from('GET /v1/get_heartbeat HTTP/1.1\r\nHost: x\r\nX-API-Key: '), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from('\r\nConnection: close\r\n\r\n')])],
    ['HTTP/1.0 without Host', 'GET /v1/get_bootnodes HTTP/1.0\r\n\r\n']
  ] as const) {
    const raw = await rawExchange(api.port, bytes)
    const status = statusOf(raw)
    t.true(status >= 200 && status < 500, `${name}: ${raw.slice(0, 80)}`)
    t.true(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i.test(raw), name)
  }
  // a client that connects and says nothing, or half a request, then goes away
  await rawExchange(api.port, '', 100)
  await rawExchange(api.port, 'GET /v1/get_heart', 100)

  const health = await api.get('/healthz')
  t.is(health.status, 200)
  const ok = await api.get('/v1/get_bootnodes', { headers: { 'X-API-Key': KEY } })
  t.is(ok.status, 200)
  const metrics = (await api.get('/metrics')).text()
  t.false(/status="5\d\d"/.test(metrics), 'no 5xx was ever sent')
})
