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

/** Bound on each limiter command in Redis: a hung server becomes a store error, and the request passes (passOnStoreError). */
export const LIMITER_REDIS_TIMEOUT_MS = 2_000
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

/**
 * The keyed routes that serve a body of the view (SPEC §1), prepared once per view change; also
 * the events of `/v1/watch`, which sends these very bytes. Served at `/v1/<name>` and `/<name>`.
 */
export const BODY_ROUTES = ['get_heartbeat', 'get_bootnodes', 'get_peers_info'] as const
export type BodyRoute = typeof BODY_ROUTES[number]

/** SPEC §1 `/v1/watch`: a keep-alive comment this often, so proxies and browsers keep the stream open. */
export const WATCH_KEEP_ALIVE_MS = 15_000

/** SPEC §4 `--max-watchers-per-key`: open `/v1/watch` streams per API key. */
export const DEFAULT_MAX_WATCHERS_PER_KEY = 4

/**
 * SPEC §4 `--max-watchers`: open `/v1/watch` streams across all keys (issue 12: every resource
 * bounded in total, not only per key). Each stream holds a socket and a file descriptor, gets every
 * change written to it in one synchronous loop, and may hold up to WATCH_MAX_PENDING_BYTES unread;
 * 256 leaves room above the 200 streams issue 13's bench shows to cost the REST routes little (64
 * dashboards at the per-key default), and stays far below a default 1024-descriptor limit.
 */
export const DEFAULT_MAX_WATCHERS = 256

/**
 * The `/v1/watch` caps as the flags and createApi both take them: a per-key cap above the total
 * could never be reached, so one given that way is refused (undefined); none given: the per-key
 * default, lowered to a smaller total.
 */
export function resolveWatcherCaps (maxWatchers: number, perKey: number | undefined): { maxWatchersPerKey: number, maxWatchers: number } | undefined {
  const maxWatchersPerKey = perKey ?? Math.min(DEFAULT_MAX_WATCHERS_PER_KEY, maxWatchers)
  return maxWatchersPerKey > maxWatchers ? undefined : { maxWatchersPerKey, maxWatchers }
}

/**
 * `Retry-After` of the 503 past `--max-watchers`: a slot frees only when some stream ends, and each
 * connect costs a request of the key's budget, so a client that follows it stays within the
 * default 5/minute (one keep-alive period).
 */
export const WATCHERS_FULL_RETRY_AFTER_S = 15

/** At most one log line per this long about refused `/v1/watch` streams (issue 12: no log floods). */
export const WATCH_REFUSAL_LOG_WINDOW_MS = 10_000

/**
 * How often open streams are checked against the key store (a reloaded file, an expiry): SPEC §1
 * "ends within a second" = the key watcher's poll (250 ms) + this + the close.
 */
export const WATCH_KEY_CHECK_MS = 250

/**
 * A stream whose client reads slower than the changes come is closed once this many bytes wait
 * in its socket buffer (the frames are shared Buffers, but a stuck client must not pin them forever).
 */
export const WATCH_MAX_PENDING_BYTES = 16 * 1024 * 1024

export const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8'

/** SPEC §1 `/v1/is_reachable`: each address's dial + ping must finish within this. */
export const REACHABILITY_TIMEOUT_MS = 5_000

/** Reachability checks (requests) in progress at once, across all keys; past it 503 with Retry-After. */
export const MAX_CONCURRENT_REACHABILITY_CHECKS = 4

/**
 * Addresses of one peer dialled at once by one check: with the connection the sidecar already
 * holds, it stays under a peer's own per-peer inbound cap (4 by default, SPEC §5), which would
 * otherwise reset the probes past it and report a reachable address as failed.
 */
export const REACHABILITY_DIALS_PER_CHECK = 2

/** Addresses checked per request: the most the peers collector lists for a peer (one home for the bound). */
// From the leaf constants.ts, so loading the API does not pull in libp2p.
export { MAX_ADDRS_PER_PEER as MAX_REACHABILITY_ADDRS } from '../peers/constants.js'

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/** The 429 `detail` past `--max-watchers-per-key` open `/v1/watch` streams (SPEC §1). */
export function tooManyWatchers (max: number | string): string {
  return `Too many watchers for this key: ${max}`
}

/** The 503 `detail` past `--max-watchers` open `/v1/watch` streams across all keys (SPEC §1). */
export function tooManyWatchersInTotal (max: number | string): string {
  return `Too many watchers on this server: ${max}; retry later`
}

/** The 403 body's `detail` (SPEC §1), also the reason a live feed is closed with when its key goes. */
export const FORBIDDEN_DETAIL = 'Invalid or missing API Key'

/**
 * Headers of the sidecar's own pages and their assets (the status page, the API docs): `csp` is
 * the page's Content-Security-Policy; nothing may frame, sniff or embed them elsewhere.
 */
export function setPageHeaders (res: { setHeader: (name: string, value: string) => unknown }, csp: string): void {
  res.setHeader('Content-Security-Policy', csp)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
}
