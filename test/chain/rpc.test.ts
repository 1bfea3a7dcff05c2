/**
 * The chain's JSON-RPC client (src/chain/rpc.ts) over HTTP against local servers: the fake
 * Hypertensor node (test/helpers/fake-chain.ts) and a server that accepts a request and never answers.
 */
import { createServer } from 'node:http'
import test from 'ava'
import { createChainRpc } from '../../src/chain/rpc.js'
import { RPC_GET_BOOTNODES, RPC_PROOF_OF_STAKE } from '../../src/chain/index.js'
import { freePort } from '../helpers/api.js'
import { startFakeChain } from '../helpers/fake-chain.js'
import { waitFor } from '../helpers/wait.js'
import type { AddressInfo } from 'node:net'
import type { ExecutionContext } from 'ava'

/** An HTTP server that never answers; `open()` counts the sockets of requests it holds. */
async function hungServer (t: ExecutionContext): Promise<{ url: string, open: () => number }> {
  let open = 0
  const server = createServer((req) => {
    open += 1
    req.socket.once('close', () => { open -= 1 })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => { server.close(resolve) })
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/?key=SECRET`, open: () => open }
}

test('http: results and JSON-RPC errors as ChainRpcError', async t => {
  const chain = await startFakeChain(t, { subnetId: 5 })
  const rpc = createChainRpc({ url: chain.httpUrl })
  t.teardown(async () => { await rpc.stop() })
  t.false(await rpc.send(RPC_PROOF_OF_STAKE, [5, [...Buffer.from('12D3KooWNobody')], 0]))
  await t.throwsAsync(rpc.send('network_nothing', []), { name: 'ChainRpcError', message: 'network_nothing: -32601: Method not found' })
  chain.mode = 'error'
  await t.throwsAsync(rpc.send(RPC_GET_BOOTNODES, [5]), { name: 'ChainRpcError', message: /fake chain: internal error/ })
})

test('http: a request past the timeout is aborted, its socket closed; a stop aborts the ones in flight at once', async t => {
  const server = await hungServer(t)
  const rpc = createChainRpc({ url: server.url, timeoutMs: 300 })
  t.teardown(async () => { await rpc.stop() })
  const err = await t.throwsAsync(rpc.send(RPC_GET_BOOTNODES, [1]), { name: 'ChainRpcError', message: `${RPC_GET_BOOTNODES}: no answer within 300 ms` })
  t.false(err?.message.includes('SECRET'))
  await waitFor(() => server.open() === 0, { timeoutMs: 5_000, what: 'the timed-out request\'s socket closed' })

  const slow = createChainRpc({ url: server.url, timeoutMs: 60_000 })
  const pending = slow.send(RPC_GET_BOOTNODES, [1])
  await waitFor(() => server.open() === 1, { timeoutMs: 5_000, what: 'the request held by the server' })
  await slow.stop()
  await t.throwsAsync(pending, { name: 'ChainRpcError', message: /stopped/ })
  await waitFor(() => server.open() === 0, { timeoutMs: 5_000, what: 'the stopped request\'s socket closed' })
})

test('http: an unreachable endpoint is one line naming host and port, never the URL\'s query', async t => {
  const rpc = createChainRpc({ url: `http://127.0.0.1:${await freePort()}/?key=SECRET`, timeoutMs: 5_000 })
  t.teardown(async () => { await rpc.stop() })
  const err = await t.throwsAsync(rpc.send(RPC_GET_BOOTNODES, [1]), { name: 'ChainRpcError', message: /ECONNREFUSED 127\.0\.0\.1:\d+$/ })
  t.false(err?.message.includes('SECRET'))
})
