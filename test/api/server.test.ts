/**
 * The server around the app: bind errors, idempotent start/stop, graceful stop with a response
 * in flight, the 500 path (cause in the log only), loopback detection for the exposure warning.
 */
import { connect } from 'node:net'
import test from 'ava'
import { createApiServer } from '../../src/api/index.js'
import { isLoopback } from '../../src/api/server.js'
import { createKeySet } from '../../src/keys/index.js'
import { createLogger } from '../../src/log/index.js'
import { createStaticView, type ViewSource } from '../../src/view/index.js'
import { makePeerIds, makeSnapshot } from '../helpers/api.js'
import { waitFor } from '../helpers/wait.js'

const KEY = 'key-alice-0123456789abcdef'
const keys = { current: () => createKeySet([{ owner: 'alice', key: KEY, active: true }]) }

test('start, address, stop are idempotent; a stopped server cannot restart', async (t) => {
  const server = createApiServer({ host: '127.0.0.1', port: 0 }, { view: createStaticView(), keys })
  t.is((t.throws(() => server.address()) as { code?: string }).code, 'ERR_API_NOT_STARTED')
  t.is((t.throws(() => server.api) as { code?: string }).code, 'ERR_API_NOT_STARTED')
  await Promise.all([server.start(), server.start()])
  t.teardown(async () => { await server.stop() })
  const { host, port } = server.address()
  t.is(host, '127.0.0.1')
  t.true(port > 0)
  await Promise.all([server.stop(), server.stop()])
  await server.stop()
  await t.throwsAsync(server.start(), { message: /stopped/ })
  // the port is free again
  const again = createApiServer({ host: '127.0.0.1', port }, { view: createStaticView(), keys })
  await again.start()
  await again.stop()
})

test('a taken port is a clear ApiListenError', async (t) => {
  const first = createApiServer({ host: '127.0.0.1', port: 0 }, { view: createStaticView(), keys })
  await first.start()
  t.teardown(async () => { await first.stop() })
  const second = createApiServer({ host: '127.0.0.1', port: first.address().port }, { view: createStaticView(), keys })
  const err = await t.throwsAsync(second.start())
  t.is((err as { code?: string }).code, 'ERR_API_LISTEN')
  t.regex(err?.message ?? '', /127\.0\.0\.1:\d+: address already in use/)
  await second.stop()
})

test('stop lets a response in flight finish, bounded by the grace period', async (t) => {
  const server = createApiServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 10_000 }, {
    view: createStaticView(makeSnapshot(await makePeerIds(300))),
    keys
  })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const { port } = server.address()
  // a client that asks for ~130 KB and does not read yet: the response stays in flight
  const socket = connect({ host: '127.0.0.1', port })
  socket.pause()
  await new Promise<void>((resolve) => { socket.once('connect', resolve) })
  socket.write(`GET /v1/get_peers_info HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\n\r\n`)
  // counted once the app has handed the whole response to the socket
  t.true(await waitFor(async () => (await server.api.metrics.getSingleMetricAsString('subnet_bootnode_http_requests_total')).includes('status="200"'), { timeoutMs: 5_000, intervalMs: 25, what: 'a 200 counted' }))
  let stopped = false
  const stopping = server.stop().then(() => { stopped = true })
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  const ended = new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
  socket.resume()
  await ended
  await stopping
  t.true(stopped)
  const raw = Buffer.concat(chunks).toString('utf8')
  t.true(raw.startsWith('HTTP/1.1 200 '))
  const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(raw)?.[1])
  t.is(Buffer.byteLength(raw.slice(raw.indexOf('\r\n\r\n') + 4)), length, 'the whole body arrived')
})

test('a client that sends its headers too slowly gets a 408 and its socket closed (headersTimeout enforced, issue 12 item 8)', async (t) => {
  // Node checks the timeouts only every connectionsCheckingInterval (30 s by default): a slow
  // client used to keep its socket ~30 s whatever headersTimeout said.
  const server = createApiServer({ host: '127.0.0.1', port: 0, headersTimeoutMs: 300 }, { view: createStaticView(), keys })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const socket = connect({ host: '127.0.0.1', port: server.address().port })
  t.teardown(() => { socket.destroy() })
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  let closed = false
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => { socket.once('connect', resolve) })
  // a request line and one header, then nothing: the headers never end
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
  t.true(await waitFor(() => closed, { timeoutMs: 10_000, intervalMs: 25, what: 'the server to close the slow socket' }))
  t.true(Buffer.concat(chunks).toString('utf8').startsWith('HTTP/1.1 408 '))
})

test('an unexpected failure is a 500 with the cause in the log only', async (t) => {
  const lines: string[] = []
  const logger = createLogger({ level: 'info', stream: { write: (l: string) => { lines.push(l); return true } } })
  const good = createStaticView(makeSnapshot(await makePeerIds(2)))
  let broken = false
  const view: ViewSource = {
    current: () => {
      if (broken) throw new Error('view exploded: secret internals')
      return good.current()
    },
    onChange: good.onChange
  }
  const server = createApiServer({ host: '127.0.0.1', port: 0, logger }, { view, keys })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const { port } = server.address()
  const { get } = await import('../helpers/api.js')
  t.is((await get(port, '/v1/get_bootnodes', { headers: { 'X-API-Key': KEY } })).status, 200)
  broken = true
  const r = await get(port, '/v1/get_bootnodes', { headers: { 'X-API-Key': KEY } })
  t.is(r.status, 500)
  t.is(r.text(), '{"detail":"Internal Server Error"}')
  t.is(r.headers['content-type'], 'application/json; charset=utf-8')
  t.is(r.headers.ratelimit, undefined, 'headers set before the failure are dropped')
  const logged = lines.find(l => l.includes('request failed'))
  t.truthy(logged)
  t.true(logged?.includes('view exploded'))
  t.false(logged?.includes(KEY))
  broken = false
  t.is((await get(port, '/healthz')).status, 200, 'still serving')
})

test('loopback detection for the exposure warning', (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) t.true(isLoopback(h), h)
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com']) t.false(isLoopback(h), h)
})
