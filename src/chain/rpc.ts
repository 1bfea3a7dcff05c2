/**
 * JSON-RPC to a Hypertensor node with @polkadot/rpc-provider, over ws(s) or http(s) as the URL says.
 * Only the provider: `ApiPromise` would first fetch the runtime metadata, which the sidecar does not
 * need for two custom RPC methods (and which their answers do not depend on).
 *
 * The WebSocket connects lazily, on the first request and again after it drops: the provider's own
 * auto-reconnect logs a line to the console every few seconds while the chain is down; here a
 * failed connection is one error of the request that needed it, reported by the caller's log.
 */
import { HttpProvider, WsProvider } from '@polkadot/rpc-provider'
import { SubnetBootnodeError } from '../errors.js'
import { settleWithin, untilAborted } from '../util/deadline.js'
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
  /** Closes the WebSocket, if any; idempotent. */
  stop: () => Promise<void>
}

export function createChainRpc (init: ChainRpcInit): ChainRpc {
  const timeoutMs = init.timeoutMs ?? CHAIN_RPC_TIMEOUT_MS
  const isWs = /^wss?:\/\//i.test(init.url)
  let ws: WsProvider | undefined
  let http: HttpProvider | undefined
  try {
    // autoConnectMs false: connect only when a request needs it (see above).
    if (isWs) ws = new WsProvider(init.url, false, {}, timeoutMs)
    else http = new HttpProvider(init.url)
  } catch {
    // The providers' message quotes the whole URL, which may hold a key (SPEC §4 --chain-rpc).
    throw new ChainRpcError('the chain RPC URL is refused: expected ws://, wss://, http:// or https:// in lower case (value not shown: it may hold a key)')
  }
  let connecting: Promise<void> | undefined
  let stopped = false

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

  const request = async (method: string, params: unknown[]): Promise<unknown> => {
    if (ws !== undefined) {
      await connect(ws)
      return await ws.send(method, params)
    }
    return await (http as HttpProvider).send(method, params)
  }

  return {
    send: async (method, params, options = {}) => {
      if (stopped) throw new ChainRpcError('the chain client is stopped')
      try {
        return await settleWithin(untilAborted(request(method, params), options.signal), timeoutMs, () => { throw new ChainRpcError(`${method}: no answer within ${timeoutMs} ms`) })
      } catch (err) {
        if (err instanceof ChainRpcError) throw err
        if (options.signal?.aborted === true) throw new ChainRpcError(`${method}: aborted`, { cause: err })
        throw new ChainRpcError(`${method}: ${firstLine(err)}`, { cause: err })
      }
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      if (ws?.isConnected === true || connecting !== undefined) await ws?.disconnect().catch(() => {})
    }
  }
}

