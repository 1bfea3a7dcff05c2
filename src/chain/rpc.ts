/**
 * JSON-RPC to a Hypertensor node, over ws(s) with @polkadot/rpc-provider's WsProvider, or over
 * http(s) with `fetch` (a POST per request). Only the provider: `ApiPromise` would first fetch the
 * runtime metadata, which the sidecar does not need for two custom RPC methods (and which their
 * answers do not depend on). Not its HttpProvider: its `fetch` takes no abort signal, so a hung
 * request would keep its socket open for minutes after our timeout; here the timeout and `stop()`
 * abort it.
 *
 * The WebSocket connects lazily, on the first request and again after it drops: the provider's own
 * auto-reconnect logs a line to the console every few seconds while the chain is down; here a
 * failed connection is one error of the request that needed it, reported by the caller's log.
 */
import { WsProvider } from '@polkadot/rpc-provider'
import { SubnetBootnodeError } from '../errors.js'
import { deadline, untilAborted } from '../util/deadline.js'
import { firstLine } from './codec.js'
import { CHAIN_RPC_TIMEOUT_MS } from './constants.js'

/** The chain could not be asked: no connection, a timeout, an HTTP or JSON-RPC error. */
export class ChainRpcError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_CHAIN_RPC', options)
  }
}

export interface ChainRpcInit {
  /** `ws://`, `wss://`, `http://` or `https://`. */
  url: string
  /** One request's bound, connecting included. Default CHAIN_RPC_TIMEOUT_MS. */
  timeoutMs?: number
}

export interface ChainRpc {
  /**
   * The JSON-RPC `result`; rejects with ChainRpcError, also as soon as `signal` aborts (the request
   * itself is left to finish or time out: the providers take no signal).
   */
  send: (method: string, params: unknown[], options?: { signal?: AbortSignal }) => Promise<unknown>
  /** Aborts the requests in flight and closes the WebSocket, if any; idempotent. */
  stop: () => Promise<void>
}

export function createChainRpc (init: ChainRpcInit): ChainRpc {
  const timeoutMs = init.timeoutMs ?? CHAIN_RPC_TIMEOUT_MS
  const isWs = /^wss?:\/\//i.test(init.url)
  let ws: WsProvider | undefined
  try {
    // autoConnectMs false: connect only when a request needs it (see above).
    if (isWs) ws = new WsProvider(init.url, false, {}, timeoutMs)
  } catch {
    // The provider's message quotes the whole URL, which may hold a key (SPEC §4 --chain-rpc).
    throw new ChainRpcError('the chain RPC URL is refused: expected ws:// or wss:// in lower case (value not shown: it may hold a key)')
  }
  let connecting: Promise<void> | undefined
  let stopped = false
  const stopping = new AbortController()
  let nextId = 0

  const connect = async (provider: WsProvider): Promise<void> => {
    if (provider.isConnected) return
    connecting ??= new Promise<void>((resolve, reject) => {
      const offs: Array<() => void> = []
      const done = (err?: Error): void => {
        for (const off of offs) off()
        if (err === undefined) resolve()
        else reject(err)
      }
      offs.push(provider.on('connected', () => { done() }))
      offs.push(provider.on('disconnected', () => { done(new ChainRpcError('the WebSocket closed while connecting')) }))
      // The ws error event says why (e.g. `connect ECONNREFUSED 127.0.0.1:9944`): host and port, never the URL's path or query.
      offs.push(provider.on('error', (evt: unknown) => {
        const why = (evt as { message?: unknown } | undefined)?.message
        done(new ChainRpcError(typeof why === 'string' && why !== '' ? `cannot open the WebSocket: ${why}` : 'cannot open the WebSocket'))
      }))
      provider.connect().catch((err: unknown) => { done(new ChainRpcError(`cannot open the WebSocket: ${firstLine(err)}`)) })
    }).finally(() => { connecting = undefined })
    await connecting
  }

  const post = async (method: string, params: unknown[], signal: AbortSignal): Promise<unknown> => {
    let res: Response
    try {
      res = await fetch(init.url, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++nextId, method, params }),
        signal
      })
    } catch (err) {
      if (signal.aborted) throw err
      // fetch's own message may quote the URL (a key in it); its cause names host and port only.
      const why = (err as { cause?: { message?: unknown } }).cause?.message
      throw new ChainRpcError(`${method}: ${typeof why === 'string' && why !== '' ? why : 'the HTTP request failed'}`)
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {})
      throw new ChainRpcError(`${method}: HTTP ${res.status}`)
    }
    const answer = await res.json() as unknown
    if (typeof answer !== 'object' || answer === null) throw new ChainRpcError(`${method}: not a JSON-RPC answer`)
    const { error } = answer as { error?: { code?: unknown, message?: unknown } }
    if (error !== undefined && error !== null) throw new ChainRpcError(`${method}: ${String(error.code)}: ${String(error.message)}`)
    if (!('result' in answer)) throw new ChainRpcError(`${method}: no result in the JSON-RPC answer`)
    return answer.result
  }

  const request = async (method: string, params: unknown[], signal: AbortSignal): Promise<unknown> => {
    if (ws === undefined) return await post(method, params, signal)
    await connect(ws)
    return await ws.send(method, params)
  }

  return {
    send: async (method, params, options = {}) => {
      if (stopped) throw new ChainRpcError('the chain client is stopped')
      const bound = deadline(timeoutMs, stopping.signal, ...(options.signal === undefined ? [] : [options.signal]))
      try {
        return await untilAborted(request(method, params, bound.signal), bound.signal)
      } catch (err) {
        if (err instanceof ChainRpcError) throw err
        if (stopping.signal.aborted) throw new ChainRpcError(`${method}: the chain client is stopped`, { cause: err })
        if (options.signal?.aborted === true) throw new ChainRpcError(`${method}: aborted`, { cause: err })
        if (bound.signal.aborted) throw new ChainRpcError(`${method}: no answer within ${timeoutMs} ms`)
        throw new ChainRpcError(`${method}: ${firstLine(err)}`, { cause: err })
      } finally {
        bound.clear()
      }
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      stopping.abort()
      if (ws?.isConnected === true || connecting !== undefined) await ws?.disconnect().catch(() => {})
    }
  }
}

