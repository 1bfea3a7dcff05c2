/**
 * A fake Hypertensor node for the chain-aware tests (issue 14): a JSON-RPC server on 127.0.0.1
 * port 0 speaking both WebSocket and HTTP, answering `network_proofOfStake` from a stake table and
 * `network_getBootnodes` with real SCALE bytes encoded by the sidecar's own @polkadot/types
 * registry (the template's `AllSubnetBootnodes`), and a JSON-RPC error to anything else. It can be
 * made slow, erroring, malformed, or taken down and brought back on the same port.
 */
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { encodeAllSubnetBootnodes, NODE_CLASSES, RPC_GET_BOOTNODES, RPC_PROOF_OF_STAKE } from '../../src/chain/index.js'
import type { NodeClass } from '../../src/chain/index.js'
import type { AddressInfo } from 'node:net'
import type { ExecutionContext } from 'ava'

export interface FakeBootnodes {
  subnet_bootnodes?: Record<string, string>
  node_bootnodes?: Record<string, string | null>
  registered_bootnodes?: Record<string, string | null>
}

/** `ok`: honest answers; `error`: a JSON-RPC error to every call; `malformed`: `"yes"` for stake, bytes that are not SCALE for bootnodes. */
export type FakeChainMode = 'ok' | 'error' | 'malformed'

export interface FakeChain {
  readonly wsUrl: string
  readonly httpUrl: string
  /** The chain's subnet id; other subnets have no stake and no bootnodes. */
  subnetId: number
  /** Peer id → its SubnetNodeClass; absent: not staked. */
  readonly stake: Map<string, NodeClass>
  bootnodes: FakeBootnodes
  mode: FakeChainMode
  /** Each answer waits this long first (a hung chain: longer than the test). */
  delayMs: number
  /** Every call received, in order (the peer id decoded from its bytes). */
  readonly calls: Array<{ method: string, peerId?: string, minClass?: number }>
  stakeCalls: (peerId: string) => number
  /** Stops answering: closes the listener and every connection. */
  down: () => Promise<void>
  /** Listens again on the same port. */
  up: () => Promise<void>
}

interface RpcRequest { id?: unknown, method?: unknown, params?: unknown }

export async function startFakeChain (t: ExecutionContext, init: { subnetId: number, stake?: Record<string, NodeClass>, bootnodes?: FakeBootnodes }): Promise<FakeChain> {
  const chain: Omit<FakeChain, 'wsUrl' | 'httpUrl' | 'down' | 'up'> = {
    subnetId: init.subnetId,
    stake: new Map(Object.entries(init.stake ?? {})),
    bootnodes: init.bootnodes ?? {},
    mode: 'ok',
    delayMs: 0,
    calls: [],
    stakeCalls: (peerId) => chain.calls.filter((c) => c.method === RPC_PROOF_OF_STAKE && c.peerId === peerId).length
  }

  const answer = async (raw: string): Promise<string> => {
    let req: RpcRequest
    try {
      req = JSON.parse(raw) as RpcRequest
    } catch {
      return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
    }
    const reply = (body: Record<string, unknown>): string => JSON.stringify({ jsonrpc: '2.0', id: req.id ?? null, ...body })
    const params = Array.isArray(req.params) ? req.params as unknown[] : []
    // Unref'd: a chain made to hang (a delay past every test) does not keep the test process alive.
    if (chain.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, chain.delayMs).unref())
    if (req.method === RPC_PROOF_OF_STAKE) {
      const peerId = Buffer.from(params[1] as number[]).toString('utf8')
      const minClass = params[2] as number
      chain.calls.push({ method: RPC_PROOF_OF_STAKE, peerId, minClass })
      if (chain.mode === 'error') return reply({ error: { code: -32000, message: 'fake chain: internal error' } })
      if (chain.mode === 'malformed') return reply({ result: 'yes' })
      const cls = chain.stake.get(peerId)
      return reply({ result: params[0] === chain.subnetId && cls !== undefined && NODE_CLASSES.indexOf(cls) >= minClass })
    }
    if (req.method === RPC_GET_BOOTNODES) {
      chain.calls.push({ method: RPC_GET_BOOTNODES })
      if (chain.mode === 'error') return reply({ error: { code: -32000, message: 'fake chain: internal error' } })
      if (chain.mode === 'malformed') return reply({ result: [9, 1, 2, 3] })
      return reply({ result: params[0] === chain.subnetId ? [...encodeAllSubnetBootnodes(chain.bootnodes)] : [] })
    }
    return reply({ error: { code: -32601, message: 'Method not found' } })
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void answer(Buffer.concat(chunks).toString('utf8')).then((body) => {
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(body)
      })
    })
  })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => { void answer(String(data)).then((body) => { if (ws.readyState === ws.OPEN) ws.send(body) }) })
    })
  })
  const listen = async (port: number): Promise<number> => await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
  const port = await listen(0)
  let listening = true
  const down = async (): Promise<void> => {
    if (!listening) return
    listening = false
    for (const ws of wss.clients) ws.terminate()
    const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    server.closeAllConnections()
    await closed
  }
  t.teardown(async () => {
    await down()
    wss.close()
  })
  return Object.assign(chain, {
    wsUrl: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    down,
    up: async () => {
      if (listening) return
      await listen(port)
      listening = true
    }
  })
}
