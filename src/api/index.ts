/**
 * The REST facade (SPEC §1): an express 5 app serving the in-memory view behind API keys
 * and rate limits, plus `/healthz` and `/metrics`, and the HTTP server that runs it.
 */
import type { KeySet } from '../keys/index.js'
import type { KeyUsageSink } from '../usage/index.js'
import type { Logger } from '../log/index.js'
import type { ViewSource } from '../view/index.js'
import type { Express } from 'express'
import type { Registry } from 'prom-client'
import type { RedisClient } from '../util/redis.js'

export { createApi } from './app.js'
export { createApiServer } from './server.js'
export type { RouteName } from './constants.js'
export type { AddressProber } from './reachability.js'
import type { AddressProber } from './reachability.js'

/** `limit` requests per `windowMs` milliseconds. */
export interface RateLimitInit {
  limit: number
  windowMs: number
  /**
   * How the 429 names this limit, `Rate limit exceeded: <text>`: the operator's rate as src/util/rate.ts
   * parseRate words it (e.g. `10 per 60 seconds` for `10/60 seconds`). It must parse back to this limit
   * and window. Default: describeRate(limit, windowMs), e.g. `5 per 1 minute`.
   */
  text?: string
}

export interface ApiInit {
  /** Per (key owner, client IP) across all keyed routes, for keys without their own `rate_limit`. Default 5 per 60 s (SPEC §1). */
  rateLimit?: RateLimitInit
  /** Failed key checks per client IP; past it every request from that IP gets 429. Default 30 per 60 s. */
  authFailLimit?: RateLimitInit
  /**
   * Hop count, or proxy addresses/CIDRs, for express `trust proxy`. Default false; `true` is refused,
   * and so is a CIDR shorter than /8 (IPv4) or /16 (IPv6): it would trust (nearly) every client.
   */
  trustProxy?: number | string[] | false
  /** Serve `/metrics`. Default true. */
  metrics?: boolean
  /** Default: silent. */
  logger?: Logger
  /** Credits the geolocation data's licence requires (CC BY 4.0), shown in `/healthz` when not empty. */
  attribution?: readonly string[]
  /**
   * SPEC §4 `--max-watchers-per-key`: open `/v1/watch` streams per API key; past it 429. Default 4,
   * or `maxWatchers` when that is smaller; a value above `maxWatchers` is refused.
   */
  maxWatchersPerKey?: number
  /** SPEC §4 `--max-watchers`: open `/v1/watch` streams across all keys; past it 503 with `Retry-After`. Default 256. */
  maxWatchers?: number
  /** Between the `/v1/watch` keep-alive comments. Default 15 s. */
  watchKeepAliveMs?: number
  /** `/v1/is_reachable` may dial loopback and private addresses (SPEC §4 `--allow-private-addrs`). Default false. */
  allowPrivateAddrs?: boolean
  /** `/v1/is_reachable`: each address's dial and ping must finish within this. Default 5 s. */
  reachabilityTimeoutMs?: number
}

export interface ApiComponents {
  view: ViewSource
  /** Read on every request, so a reloaded key file applies at once (the key store watcher). */
  keys: { current: () => KeySet }
  /**
   * The registry `/metrics` serves, holding the other components' series too; the API adds its
   * own. Default a new one with Node's process metrics.
   */
  registry?: Registry
  /** Chain-aware mode (SPEC §4 `--chain-rpc`): `/healthz` `chain` and `get_bootnodes?source=chain`. Default none. */
  chain?: ChainView
  /** What `/v1/is_reachable` dials with (the subnet node); without it the route answers 503. */
  prober?: AddressProber
  /** Told of every answer to a request that presented a known key (SPEC §1 "Key usage"). Default: none. */
  usage?: KeyUsageSink
  /**
   * `--redis-url`: both limiters count in this Redis (distinct key prefixes), shared by every
   * instance using it. Connected by whoever passes it, who also closes it after the API stopped.
   * Default: in memory.
   */
  redis?: RedisClient
}

/** What the API reads of the chain-aware mode. */
export interface ChainView {
  /** `/healthz`'s `chain` object. */
  health: () => object
  /** The on-chain bootnode multiaddrs, or undefined before the first successful read. */
  bootnodes: () => readonly string[] | undefined
}

export interface Api {
  app: Express
  metrics: Registry
  /** Ends every `/v1/watch` stream with its `close` event (the server calls it first on stop). Idempotent. */
  endStreams: () => void
  /** Stops preparing bodies on view changes (the Redis client, if any, is its owner's to close). Idempotent. */
  close: () => Promise<void>
}

export interface ApiServerInit extends ApiInit {
  /** Default `127.0.0.1`; any other address is logged as a warning at start. */
  host?: string
  /** Default 8000; 0 picks a free port. */
  port?: number
  /** How long `stop()` lets in-flight requests finish. Default 5 s. */
  shutdownGraceMs?: number
  /**
   * A client must send its request headers within this time, or gets a 408 and the socket is
   * closed (enforced within ~1 s of it). Default 10 s; at most `requestTimeoutMs`.
   */
  headersTimeoutMs?: number
  /** A client must send its whole request within this time (408 and close otherwise). Default 30 s. */
  requestTimeoutMs?: number
}

export interface ApiServer {
  /** Builds the app and listens; rejects with ApiListenError (code ERR_API_LISTEN) when it cannot bind. Idempotent. */
  start: () => Promise<void>
  /** Stops accepting, lets in-flight requests finish (bounded by shutdownGraceMs), closes the app. Idempotent. */
  stop: () => Promise<void>
  /** Where it listens; throws before start(). */
  address: () => { host: string, port: number }
  /** The app; throws before start(). */
  readonly api: Api
}
