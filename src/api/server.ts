/**
 * The HTTP server around the app: binds (127.0.0.1 by default, SPEC §1), answers malformed
 * requests with a JSON 4xx instead of Node's bare one, bounds slow clients, shuts down gracefully.
 */
import { createServer, IncomingMessage, ServerResponse, STATUS_CODES, type Server } from 'node:http'
import { SubnetBootnodeError } from '../errors.js'
import { silentLogger } from '../log/index.js'
import { isLoopbackAddress } from '../util/ipaddr.js'
import { createApi } from './app.js'
import {
  CONNECTIONS_CHECKING_INTERVAL_MS, DEFAULT_API_HOST, DEFAULT_API_PORT, DEFAULT_SHUTDOWN_GRACE_MS, HEADERS_TIMEOUT_MS,
  JSON_CONTENT_TYPE, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS
} from './constants.js'
import type { Api, ApiComponents, ApiServer, ApiServerInit } from './index.js'
import type { Duplex } from 'node:stream'

/** The API could not listen (address in use, not available, no permission). */
class ApiListenError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_API_LISTEN', options)
  }
}

/** The server was used before start(). */
class ApiNotStartedError extends SubnetBootnodeError {
  constructor () {
    super('the API server is not started', 'ERR_API_NOT_STARTED')
  }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'address already in use; choose another --api-port or stop what uses it',
  EADDRNOTAVAIL: 'address not available on this host; check --api-host',
  EACCES: 'permission denied; use a port ≥ 1024',
  ENOTFOUND: 'host name not found; check --api-host'
}

/** Whether binding `host` keeps the API on this machine: `localhost` or a loopback address (IPv4-mapped included). */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host)
}

/** Node's default reply to a request it cannot parse, but with a JSON body like every other answer (SPEC §1). */
function onClientError (err: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket.bytesWritten ?? 0) > 0) {
    socket.destroy()
    return
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW'
    ? 431
    : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? 413 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const body = JSON.stringify({ detail: STATUS_CODES[status] })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Request and response classes whose prototypes are express's own `app.request`/`app.response`.
 * express sets exactly these prototypes on every request (`Object.setPrototypeOf` in app.handle);
 * when an object already has them V8 skips the change, so the objects keep one stable shape
 * instead of being reshaped per request, which costs more than everything else express does
 * (measured with bench/api.ts: ~75 → ~25 µs of server CPU per request for express alone).
 */
function expressClasses (app: Api['app']): { IncomingMessage: typeof IncomingMessage, ServerResponse: typeof ServerResponse } {
  function ApiRequest (this: IncomingMessage, ...args: ConstructorParameters<typeof IncomingMessage>): void {
    Reflect.apply(IncomingMessage, this, args)
  }
  ApiRequest.prototype = app.request
  function ApiResponse (this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>): void {
    Reflect.apply(ServerResponse, this, args)
  }
  ApiResponse.prototype = app.response
  return {
    IncomingMessage: ApiRequest as unknown as typeof IncomingMessage,
    ServerResponse: ApiResponse as unknown as typeof ServerResponse
  }
}

export function createApiServer (init: ApiServerInit, components: ApiComponents): ApiServer {
  const logger = init.logger ?? silentLogger
  const host = init.host ?? DEFAULT_API_HOST
  const port = init.port ?? DEFAULT_API_PORT
  const graceMs = init.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS
  const requestTimeout = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const headersTimeout = Math.min(init.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, requestTimeout)
  let api: Api | undefined
  let server: Server | undefined
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined

  const listen = async (srv: Server): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const hint = LISTEN_HINTS[err.code ?? ''] ?? err.message
        reject(new ApiListenError(`cannot listen on ${host}:${port}: ${hint} (${err.code ?? 'error'})`, { cause: err }))
      }
      srv.once('error', onError)
      srv.listen(port, host, () => {
        srv.off('error', onError)
        resolve()
      })
    })
  }

  const start = async (): Promise<void> => {
    const created = await createApi(init, components)
    const srv = createServer({
      headersTimeout,
      requestTimeout,
      // Node enforces both timeouts only when it checks the open connections (default every
      // 30 s); check often enough that a slow client is cut off within ~1 s of its timeout.
      connectionsCheckingInterval: Math.min(CONNECTIONS_CHECKING_INTERVAL_MS, headersTimeout),
      ...expressClasses(created.app)
    }, created.app)
    srv.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
    srv.on('clientError', onClientError)
    try {
      await listen(srv)
    } catch (err) {
      await created.close()
      throw err
    }
    srv.on('error', (err) => { logger.error('API server error', { err }) })
    api = created
    server = srv
    const { address, port: bound } = addressOf(srv)
    logger.info('API listening', { host: address, port: bound })
    if (!isLoopback(host)) {
      logger.warn('API bound to a non-loopback address: it is reachable from the network; keep the key file tight and consider a reverse proxy', { host })
    }
  }

  const addressOf = (srv: Server): { address: string, port: number } => {
    const a = srv.address()
    if (a === null || typeof a === 'string') return { address: host, port }
    return { address: a.address, port: a.port }
  }

  const stop = async (): Promise<void> => {
    if (starting !== undefined) await starting.catch(() => {})
    const srv = server
    if (srv === undefined) return
    // live streams never go idle by themselves: end them first (SPEC §1 /v1/watch `close` event)
    api?.endStreams()
    const closed = new Promise<void>((resolve) => { srv.close(() => { resolve() }) })
    srv.closeIdleConnections()
    // keep-alive sockets go idle as their in-flight responses finish: close them as they do,
    // and whatever is left when the grace period ends
    const sweep = setInterval(() => { srv.closeIdleConnections() }, 50)
    const deadline = setTimeout(() => { srv.closeAllConnections() }, graceMs)
    deadline.unref()
    try {
      await closed
    } finally {
      clearInterval(sweep)
      clearTimeout(deadline)
    }
    await api?.close()
    logger.info('API stopped')
  }

  return {
    start: async () => {
      if (stopping !== undefined) throw new SubnetBootnodeError('the API server was stopped; create a new one', 'ERR_API_STOPPED')
      starting ??= start()
      try {
        await starting
      } catch (err) {
        starting = undefined
        throw err
      }
    },
    stop: async () => {
      stopping ??= stop()
      await stopping
    },
    address: () => {
      if (server === undefined) throw new ApiNotStartedError()
      const { address, port: bound } = addressOf(server)
      return { host: address, port: bound }
    },
    get api () {
      if (api === undefined) throw new ApiNotStartedError()
      return api
    }
  }
}
