/**
 * The one Redis connection helper (SPEC §1 `--redis-url`): the API's limiters and the key-usage
 * recorder each open their own client through it, with the same bounded connect and quiet retries.
 */
import { createClient } from 'redis'
import { ConfigError, SubnetBootnodeError } from '../errors.js'
import type { Logger } from '../log/index.js'

/** Bound on connecting to Redis at start-up, so a wrong `--redis-url` fails fast with a clear error. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000

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

export async function connectRedis (url: string, logger: Logger, purpose = 'rate limits pass requests until it is back'): Promise<RedisClient> {
  const shown = redactUrl(url)
  let client: RedisClient
  let connectedOnce = false
  try {
    client = createClient({
      url,
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
    // the client reconnects by itself; say so at most every 10 s instead of once per retry
    const now = Date.now()
    if (now - lastLogged < 10_000) return
    lastLogged = now
    logger.error(`redis connection error; ${purpose}`, { redis: shown, err })
  })
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.connect(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`no connection within ${REDIS_CONNECT_TIMEOUT_MS} ms`)) }, REDIS_CONNECT_TIMEOUT_MS)
      })
    ])
  } catch (err) {
    try {
      client.destroy()
    } catch {} // already closed by the failed connect
    throw new SubnetBootnodeError(`cannot connect to Redis at ${shown}: ${(err as Error).message}`, 'ERR_API_REDIS', { cause: err })
  } finally {
    clearTimeout(timer)
  }
  return client
}

