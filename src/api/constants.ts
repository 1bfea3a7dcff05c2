/**
 * Defaults of the REST facade (SPEC §1). Each is resolved once, in createApi/createApiServer.
 */

/** Per (key owner, client IP) budget across all keyed routes: SPEC §1 "default 5/minute". */
export const DEFAULT_RATE_LIMIT = Object.freeze({ limit: 5, windowMs: 60_000 })

/** Failed auth attempts per client IP: SPEC §1 "default 30/minute". */
export const DEFAULT_AUTH_FAIL_LIMIT = Object.freeze({ limit: 30, windowMs: 60_000 })

/** SPEC §1 `--api-host` / `--api-port`. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 8000

/** How long `stop()` lets in-flight requests finish before closing their sockets. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000

/** IPv6 clients are counted per /64 (SPEC §1), via express-rate-limit's `ipKeyGenerator`. */
export const IPV6_SUBNET = 64


/** Prefixes of the two limiters' keys in a shared Redis (one store per limiter). */
export const REDIS_PREFIX_RATE_LIMIT = 'subnet-bootnode:rl:'
export const REDIS_PREFIX_AUTH_FAIL = 'subnet-bootnode:auth-fail:'

/** Filtered bodies (per distinct filter value) kept per view snapshot; FIFO beyond this. */
export const FILTER_CACHE_SIZE = 64

/** Brotli quality for prepared bodies: q5 compresses a 400 KB body in a few ms, far better than gzip -6 still. */
export const BROTLI_QUALITY = 5

/** Bodies smaller than this are not compressed: the gzip/br framing would outweigh the saving. */
export const MIN_COMPRESS_BYTES = 256

/** Node http server timeouts: bound slow or stalled clients (slowloris) without hurting real ones. */
export const HEADERS_TIMEOUT_MS = 10_000
export const REQUEST_TIMEOUT_MS = 30_000
export const KEEP_ALIVE_TIMEOUT_MS = 5_000
/**
 * How often Node's http server looks for connections past headersTimeout/requestTimeout. Node
 * checks only then (default 30 s), so a slow-header client held its socket ~30 s although
 * headersTimeout is 10 s (issue 12 item 8); each check walks the open connections, cheap at 1/s.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000

/** The keyed routes: the key store's one list, since these names are also its `scopes` values (SPEC §2). */
export { API_ROUTES as ROUTES } from '../keys/index.js'
export type { ApiRoute as RouteName } from '../keys/index.js'

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
