/**
 * The one Redis connection (SPEC §1 `--redis-url`): the sidecar opens one client and hands it to
 * the API's limiters and the key-usage recorder, so start-up connects once and an outage is logged
 * once. Whoever creates the connection starts and stops it; the users only send commands.
 */
import { createClient } from 'redis'
import { ConfigError, SubnetBootnodeError } from '../errors.js'
import { settleWithin } from './deadline.js'
import type { Logger } from '../log/index.js'

/** Bound on connecting to Redis at start-up, so a wrong `--redis-url` fails fast with a clear error. */
const REDIS_CONNECT_TIMEOUT_MS = 5_000
/** Bound on node-redis's queue of commands awaiting a reply; past it a command fails at once (and the limiters let the request pass). */
const REDIS_MAX_QUEUED_COMMANDS = 10_000
/** Bound on closing the client at stop (close() waits for replies still due). */
const REDIS_CLOSE_TIMEOUT_MS = 2_000

/** `redis://user:secret@host` → `redis://user:***@host` for messages. */
function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparseable URL)'
  }
}

export type RedisClient = ReturnType<typeof createClient>

/** A Redis client and its bounded start-up connect. */
export interface RedisConnection {
  /** The client; not connected before {@link RedisConnection.start}, so hand it to components that start after it. */
  readonly client: RedisClient
  /** Connects within {@link REDIS_CONNECT_TIMEOUT_MS}; a wrong URL fails at once with `ERR_API_REDIS` and one line. */
  start: () => Promise<void>
  /** Closes the client (destroys it if closing fails). Idempotent. */
  stop: () => Promise<void>
}

/** What the users of the connection do while Redis is away (the one log line says both). */
const WHILE_AWAY = 'rate limits pass requests and key usage is kept locally until it is back'

/** Throws {@link ConfigError} for a URL node-redis refuses; connects nothing yet. */
export function createRedisConnection (url: string, logger: Logger): RedisConnection {
  const shown = redactUrl(url)
  let client: RedisClient
  let connectedOnce = false
  try {
    client = createClient({
      url,
      // While it reconnects, commands fail at once instead of queueing: the limiters then pass
      // requests (passOnStoreError) without waiting, usage keeps its counts locally, and close()
      // has no queue to wait for.
      disableOfflineQueue: true,
      // Commands left pending by a hung server (sendCommandWithin gave up on them) stay bounded too.
      commandsQueueMaxLength: REDIS_MAX_QUEUED_COMMANDS,
      socket: {
        connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
        // at start-up a wrong URL fails at once; once connected, a lost connection is retried with backoff
        reconnectStrategy: (retries: number, cause: Error) => connectedOnce ? Math.min(100 * 2 ** retries, 5_000) : cause
      }
    })
  } catch (err) {
    throw new ConfigError(`--redis-url ${shown}: ${(err as Error).message}`)
  }
  client.on('ready', () => { connectedOnce = true })
  let lastLogged = 0
  client.on('error', (err: Error) => {
    // before the first connection start() reports the failure, in one line; after it the client
    // reconnects by itself: say so at most every 10 s instead of once per retry
    if (!connectedOnce) return
    const now = Date.now()
    if (now - lastLogged < 10_000) return
    lastLogged = now
    logger.error(`redis connection error; ${WHILE_AWAY}`, { redis: shown, err })
  })
  let stopping: Promise<void> | undefined
  return {
    client,
    start: async () => {
      try {
        // Not unref'd: the first connection is what start waits for, so its bound must fire.
        await settleWithin(client.connect(), REDIS_CONNECT_TIMEOUT_MS, () => { throw new Error(`no connection within ${REDIS_CONNECT_TIMEOUT_MS} ms`) }, { unref: false })
      } catch (err) {
        try {
          client.destroy()
        } catch {} // already closed by the failed connect
        throw new SubnetBootnodeError(`cannot connect to Redis at ${shown}: ${(err as Error).message}`, 'ERR_API_REDIS', { cause: err })
      }
    },
    stop: async () => {
      stopping ??= (async () => {
        if (!client.isOpen) return
        // close() waits for replies still due; a server that stopped answering must not hold the stop.
        try {
          await settleWithin(client.close(), REDIS_CLOSE_TIMEOUT_MS, () => { client.destroy() })
        } catch {
          client.destroy()
        }
      })()
      await stopping
    }
  }
}
