/**
 * The express app of the REST facade (SPEC §1). Every keyed route runs, in order:
 * failed-auth limiter (per client IP) → key check → (key owner, client IP) limiter → prepared bytes.
 * Every answer to a request that presented a known key is counted for its owner (SPEC §1 "Key usage").
 *
 * Per-request work is kept small (issue 5 "Speed"): no X-Powered-By, no etag/res.send/res.json
 * re-serialising, the query parsed only when there is one; bodies are Buffers prepared once per
 * view change and written with res.end.
 */
import { STATUS_CODES } from 'node:http'
import express from 'express'
import { ipKeyGenerator, rateLimit, type RateLimitRequestHandler, type Store } from 'express-rate-limit'
import { RedisStore } from 'rate-limit-redis'
import { ConfigError } from '../errors.js'
import { silentLogger, type Logger } from '../log/index.js'
import { describeRate, MAX_RATE_WINDOW_MS, parseRate } from '../util/rate.js'
import { formatDuration } from '../util/duration.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { createMetricsRegistry } from '../util/metrics.js'
import { authenticate } from './auth.js'
import { createBodies, FilterError, parseBootnodeSource } from './bodies.js'
import {
  BODY_ROUTES, DEFAULT_AUTH_FAIL_LIMIT, DEFAULT_MAX_WATCHERS, DEFAULT_RATE_LIMIT, FORBIDDEN_DETAIL, IPV6_SUBNET, JSON_CONTENT_TYPE, LIMITER_REDIS_TIMEOUT_MS,
  MAX_CONCURRENT_REACHABILITY_CHECKS, REACHABILITY_TIMEOUT_MS, REDIS_PREFIX_AUTH_FAIL, REDIS_PREFIX_RATE_LIMIT, WATCH_KEEP_ALIVE_MS,
  WATCH_REFUSAL_LOG_WINDOW_MS, WATCHERS_FULL_RETRY_AFTER_S, resolveWatcherCaps, tooManyWatchers, tooManyWatchersInTotal, type BodyRoute, type RouteName
} from './constants.js'
import { createReachability } from './reachability.js'
import { createWatchHub } from './watch.js'
import { createApiMetrics, type ApiMetrics } from './metrics.js'
import { negotiateEncoding } from './representation.js'
import { createStatusPageRouter } from './page.js'
import { createDocsRouter, DOCS_PATHS } from './docs.js'
import { trustedRangeTooWide } from '../util/trust-proxy.js'
import type { Api, ApiComponents, ApiInit, RateLimitInit } from './index.js'
import type { ApiKeyEntry } from '../keys/index.js'
import type { NextFunction, Request, Response } from 'express'
import { sendCommandWithin } from '../util/redis-command.js'
import type { RedisClient } from '../util/redis.js'

/** `res.locals` fields the pipeline passes along. */
interface Locals {
  /** Client IP as the limiters count it (IPv6 → its /64). */
  clientIp?: string
  /** Owner of the presented key (accepted, or known but refused): the rate-limit identity, what logs name and usage counts. Never the key. */
  owner?: string
  /** The accepted key's entry (the live feed re-checks it). */
  entry?: Readonly<ApiKeyEntry>
  /** The accepted key's limit: its own `rate_limit` (SPEC §2), else the default. */
  rate?: CheckedRate
}

/**
 * The key limiter's standard headers (SPEC §1 "the standard RateLimit/RateLimit-Policy headers"):
 * IETF draft-7, `RateLimit: limit=5, remaining=4, reset=60` and `RateLimit-Policy: 5;w=60`, one
 * policy per response. (draft-8 names policies but hashes the counter key on every request.)
 */
const RATE_LIMIT_HEADERS = 'draft-7'


/** A limit with the text its 429 says: `5 per 1 minute` (SPEC §1 `Rate limit exceeded: 5 per 1 minute`). */
interface CheckedRate {
  limit: number
  windowMs: number
  text: string
}

function checkRate (name: string, rate: RateLimitInit | undefined, fallback: RateLimitInit): CheckedRate {
  const r = rate ?? fallback
  if (!Number.isSafeInteger(r.limit) || r.limit < 1) throw new ConfigError(`${name}: limit must be an integer ≥ 1, got ${String(r.limit)}`)
  // the bound the rate parser applies to flags and key files (one home: util/rate.ts)
  if (!Number.isSafeInteger(r.windowMs) || r.windowMs < 1 || r.windowMs > MAX_RATE_WINDOW_MS) {
    throw new ConfigError(`${name}: window must be between 1 ms and ${formatDuration(MAX_RATE_WINDOW_MS)}, got ${String(r.windowMs)} ms`)
  }
  if (r.text === undefined) return { limit: r.limit, windowMs: r.windowMs, text: describeRate(r.limit, r.windowMs) }
  // the operator's wording goes to clients as is, so it must say this very limit
  const said = typeof r.text === 'string' ? parseRate(r.text) : undefined
  if (said === undefined || said.limit !== r.limit || said.windowMs !== r.windowMs) {
    throw new ConfigError(`${name}: text ${JSON.stringify(r.text)} does not describe ${describeRate(r.limit, r.windowMs)}`)
  }
  return { limit: r.limit, windowMs: r.windowMs, text: r.text.trim() }
}

/**
 * The `/v1/watch` caps (SPEC §4 `--max-watchers-per-key`, `--max-watchers`), as the flags take them:
 * a per-key cap above the total is refused; the per-key default is lowered to a smaller total.
 */
function checkWatcherCaps (init: ApiInit): { maxWatchersPerKey: number, maxWatchers: number } {
  const maxWatchers = init.maxWatchers ?? DEFAULT_MAX_WATCHERS
  if (!Number.isSafeInteger(maxWatchers) || maxWatchers < 1) throw new ConfigError(`max watchers must be an integer ≥ 1, got ${String(maxWatchers)}`)
  const perKey = init.maxWatchersPerKey
  if (perKey !== undefined && (!Number.isSafeInteger(perKey) || perKey < 1)) throw new ConfigError(`max watchers per key must be an integer ≥ 1, got ${String(perKey)}`)
  const caps = resolveWatcherCaps(maxWatchers, perKey)
  if (caps === undefined) throw new ConfigError(`max watchers per key (${String(perKey)}) is more than max watchers in total (${maxWatchers})`)
  return caps
}

/** Hop count or address/CIDR list for express's `trust proxy`; never `true` (SPEC §1). */
function checkTrustProxy (value: ApiInit['trustProxy']): number | string[] | false {
  if (value === undefined || value === false) return false
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`trust proxy: hop count must be an integer ≥ 0, got ${value}`)
    return value === 0 ? false : value
  }
  if (Array.isArray(value) && value.every(v => typeof v === 'string')) {
    // the addresses themselves are checked when express compiles the setting (createApi)
    for (const entry of value) {
      const tooWide = trustedRangeTooWide(entry)
      if (tooWide !== undefined) throw new ConfigError(`trust proxy: ${tooWide}`)
    }
    return value.length === 0 ? false : [...value]
  }
  throw new ConfigError('trust proxy: give a hop count or a list of proxy addresses/CIDRs; "trust everything" is refused')
}

/** The logger express-rate-limit reports store errors and misconfigurations to, at most once per 10 s per message. */
function limiterLogger (logger: Logger): { warn: (e: unknown, m?: string) => void, error: (e: unknown, m?: string) => void } {
  const last = new Map<string, number>()
  const emit = (level: 'warn' | 'error', err: unknown, msg?: string): void => {
    const text = msg ?? (err instanceof Error ? err.message : String(err))
    const now = Date.now()
    if ((last.get(text) ?? -Infinity) > now - 10_000) return
    if (last.size > 100) last.clear()
    last.set(text, now)
    logger[level](text, { err })
  }
  return { warn: (e, m) => { emit('warn', e, m) }, error: (e, m) => { emit('error', e, m) } }
}

function redisStore (client: RedisClient, prefix: string): Store {
  return new RedisStore({
    prefix,
    // Bounded: a hung server becomes a store error, which passOnStoreError lets through.
    sendCommand: async (...args: string[]) => await sendCommandWithin<boolean | number | string | Array<boolean | number | string>>(client, args, LIMITER_REDIS_TIMEOUT_MS)
  })
}

export async function createApi (init: ApiInit, components: ApiComponents): Promise<Api> {
  const logger = init.logger ?? silentLogger
  const rate = checkRate('rate limit', init.rateLimit, DEFAULT_RATE_LIMIT)
  const authFail = checkRate('auth fail limit', init.authFailLimit, DEFAULT_AUTH_FAIL_LIMIT)
  const trustProxy = checkTrustProxy(init.trustProxy)
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  // express reads NODE_ENV for this; pin it so no error page ever carries a stack trace
  app.set('env', 'production')
  app.set('query parser', 'simple')
  app.set('case sensitive routing', true)
  try {
    app.set('trust proxy', trustProxy)
  } catch (err) {
    throw new ConfigError(`trust proxy: ${(err as Error).message}; give proxy addresses or CIDRs, e.g. 10.0.0.0/8`)
  }

  const { view, keys } = components
  const startedAt = Date.now()
  const debug = logger.level === 'debug'

  const { maxWatchersPerKey, maxWatchers } = checkWatcherCaps(init)
  let watchers = (): number => 0
  const metrics: ApiMetrics = createApiMetrics({ snapshot: () => view.current(), watchers: () => watchers() }, { registry: components.registry ?? createMetricsRegistry() })
  // the sidecar's one client (it connects and closes it); the limiters only send commands
  const redis = components.redis

  const bodies = createBodies(view, {
    onPrepared: metrics.prepared,
    onCompressed: metrics.compressed,
    onError: (err) => { logger.warn('preparing bodies after a view change failed; requests build them on demand', { err }) }
  })
  const watchKeepAliveMs = init.watchKeepAliveMs ?? WATCH_KEEP_ALIVE_MS
  const watch = createWatchHub({ maxPerKey: maxWatchersPerKey, maxTotal: maxWatchers, keepAliveMs: watchKeepAliveMs }, { view, bodies, keys }, {
    onClosed: (reason) => { if (debug) logger.debug('watch stream ended', { reason }) },
    onError: (err) => { logger.warn('sending a view change to the watch streams failed; they get the next one', { err }) }
  })
  watchers = () => watch.size()
  const reachability = createReachability({
    allowPrivateAddrs: init.allowPrivateAddrs === true,
    timeoutMs: init.reachabilityTimeoutMs ?? REACHABILITY_TIMEOUT_MS,
    maxConcurrent: MAX_CONCURRENT_REACHABILITY_CHECKS
  }, { view, prober: components.prober })

  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8')
  const FORBIDDEN = json({ detail: FORBIDDEN_DETAIL })
  /** The 429 body per rate text; as many as distinct rates in the key file, plus the default. */
  const rateLimitedBodies = new Map<string, Buffer>([[rate.text, json({ detail: `Rate limit exceeded: ${rate.text}` })]])
  const rateLimited = (r: CheckedRate): Buffer => {
    let body = rateLimitedBodies.get(r.text)
    if (body === undefined) {
      body = json({ detail: `Rate limit exceeded: ${r.text}` })
      rateLimitedBodies.set(r.text, body)
    }
    return body
  }
  const usage = components.usage
  const AUTH_THROTTLED = json({ detail: `Rate limit exceeded: ${authFail.text} (failed API key attempts)` })
  const statusBodies = new Map<number, Buffer>()
  const statusBody = (status: number): Buffer => {
    let body = statusBodies.get(status)
    if (body === undefined) {
      body = json({ detail: STATUS_CODES[status] ?? 'Error' })
      statusBodies.set(status, body)
    }
    return body
  }

  /** Counts the answer for the owner of the presented key, if one was known (SPEC §1 "Key usage"). */
  const counted = (res: Response, route: string, status: number): void => {
    metrics.request(route, status)
    const locals = res.locals as Locals
    if (usage !== undefined && locals.owner !== undefined) usage.record(locals.owner, status, locals.clientIp ?? 'unknown')
  }

  /** Every JSON answer but the prepared bodies goes out here, so each is counted once. */
  const send = (res: Response, route: string, status: number, body: Buffer): void => {
    res.statusCode = status
    res.setHeader('Content-Type', JSON_CONTENT_TYPE)
    res.setHeader('Content-Length', body.length)
    res.end(body)
    counted(res, route, status)
  }

  const limiterLog = limiterLogger(logger)

  /** The 429 for an IP past its failed-auth budget, from the limiter or from the pre-check. */
  const refuseBlocked = (req: Request, res: Response, info: { totalHits: number, resetTime?: Date | undefined }): void => {
    const retry = Math.max(0, Math.ceil(((info.resetTime?.getTime() ?? Date.now() + authFail.windowMs) - Date.now()) / 1000))
    // the same draft-7 headers express-rate-limit gives the key limiter's 429, for this budget
    res.setHeader('Retry-After', String(retry))
    res.setHeader('RateLimit-Policy', `${authFail.limit};w=${Math.ceil(authFail.windowMs / 1000)}`)
    res.setHeader('RateLimit', `limit=${authFail.limit}, remaining=0, reset=${retry}`)
    metrics.rateLimited('auth_fail')
    if (info.totalHits === authFail.limit + 1) {
      logger.warn('client blocked after too many failed API key attempts', { ip: (res.locals as Locals).clientIp, limit: authFail.limit })
    }
    send(res, routeOf(req), 429, AUTH_THROTTLED)
  }

  /**
   * Counts failed key checks per client IP (SPEC §1 "Failed attempts are themselves rate-limited").
   * It runs only for a refused key, so successful requests never count and cost no store write;
   * requests with a valid key are checked against the same counter by `guard` below.
   */
  const authFailLimiter: RateLimitRequestHandler = rateLimit({
    windowMs: authFail.windowMs,
    limit: authFail.limit,
    keyGenerator: (req, res) => ((res.locals as Locals).clientIp ??= ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', IPV6_SUBNET)),
    standardHeaders: false,
    legacyHeaders: false,
    requestPropertyName: 'authFailLimit',
    passOnStoreError: true,
    logger: limiterLog,
    ...(redis === undefined ? {} : { store: redisStore(redis, REDIS_PREFIX_AUTH_FAIL) }),
    handler: (req, res) => {
      const info = (req as unknown as Record<string, { used: number, resetTime?: Date }>).authFailLimit
      refuseBlocked(req, res, { totalHits: info?.used ?? authFail.limit + 1, resetTime: info?.resetTime })
    }
  })

  /**
   * The (key owner, client IP) limiters, one per window length: a key's own `rate_limit` (SPEC §2)
   * sets the limit of its requests, so keys of one window share a limiter and a hot edit of the
   * limit keeps the count; a new window gets its own limiter (and store) when a key first needs it.
   * They are as many as distinct windows in the key file.
   */
  const keyLimiters = new Map<number, RateLimitRequestHandler>()
  const keyLimiterFor = (windowMs: number): RateLimitRequestHandler => {
    let limiter = keyLimiters.get(windowMs)
    if (limiter !== undefined) return limiter
    const prefix = windowMs === rate.windowMs ? REDIS_PREFIX_RATE_LIMIT : `${REDIS_PREFIX_RATE_LIMIT}w${windowMs}:`
    limiter = rateLimit({
      windowMs,
      limit: (_req, res) => ((res.locals as Locals).rate ?? rate).limit,
      // SPEC §1: per (API key, client IP) across all routes; the owner names the key, so no key reaches the store
      keyGenerator: (_req, res) => {
        const locals = res.locals as Locals
        return `${locals.clientIp ?? 'unknown'}|${locals.owner ?? ''}`
      },
      standardHeaders: RATE_LIMIT_HEADERS,
      legacyHeaders: false,
      passOnStoreError: true,
      logger: limiterLog,
      // made on the first request of a key with a new window (after a key-file change), not per request
      validate: { creationStack: false },
      ...(redis === undefined ? {} : { store: redisStore(redis, prefix) }),
      handler: (req, res) => {
        const info = (req as unknown as Record<string, { used: number }>).rateLimit
        const locals = res.locals as Locals
        const own = locals.rate ?? rate
        metrics.rateLimited('key_ip')
        if (info?.used === own.limit + 1) {
          logger.info('rate limit reached', { owner: locals.owner, ip: locals.clientIp, limit: own.limit })
        }
        send(res, routeOf(req), 429, rateLimited(own))
      }
    })
    keyLimiters.set(windowMs, limiter)
    return limiter
  }
  keyLimiterFor(rate.windowMs)
  const keyLimiter = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await keyLimiterFor(((res.locals as Locals).rate ?? rate).windowMs)(req, res, next)
  }

  // the view routes also answer without /v1 (the Python server's paths); the new routes only under /v1
  const routeNames = new Map<string, BodyRoute | 'watch'>()
  for (const r of BODY_ROUTES) { routeNames.set(`/v1/${r}`, r); routeNames.set(`/${r}`, r) }
  routeNames.set('/v1/watch', 'watch')
  const REACHABLE_PREFIX = '/v1/is_reachable/'
  const keyedRoute = (req: Request): RouteName | undefined => {
    const path = req.path
    if (path.startsWith(REACHABLE_PREFIX)) return 'is_reachable'
    return routeNames.get(path) ?? (path.endsWith('/') ? routeNames.get(path.slice(0, -1)) : undefined)
  }
  /** The metrics label for a request: a route name, never the raw path (bounded cardinality). */
  const routeOf = (req: Request): string => {
    const keyed = keyedRoute(req)
    if (keyed !== undefined) return keyed
    const path = req.path.length > 1 && req.path.endsWith('/') ? req.path.slice(0, -1) : req.path
    return path === '/healthz' ? 'healthz' : path === '/metrics' ? 'metrics' : 'other'
  }

  /**
   * Key check, in front of the per-(owner, IP) limiter. A refused key is counted by the
   * failed-auth limiter (403, or 429 past the budget); an accepted one still gets 429 while its
   * IP is past that budget, so a guesser that is blocked cannot tell a right key from a wrong one.
   */
  const guard = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const route = keyedRoute(req) as RouteName
    const locals = res.locals as Locals
    const ip = (locals.clientIp = ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', IPV6_SUBNET))
    const result = authenticate(keys, req.headers, route, Date.now())
    if (!result.ok) {
      metrics.authRejected(result.reason)
      // a known key refused (expired, not scoped) still counts for its owner's usage
      if (result.entry !== undefined) locals.owner = result.entry.owner
      if (debug) logger.debug('API key refused', { route, reason: result.reason, ip, owner: locals.owner })
      await authFailLimiter(req, res, (err?: unknown) => { if (err === undefined) send(res, route, 403, FORBIDDEN); else next(err) })
      return
    }
    let failures
    try {
      failures = await authFailLimiter.getKey(ip)
    } catch (err) {
      // same policy as passOnStoreError: an unreachable store does not take the API down
      limiterLog.error(err, 'failed-auth counter unavailable; request allowed')
    }
    locals.owner = result.entry.owner
    if (failures !== undefined && failures.totalHits >= authFail.limit) {
      refuseBlocked(req, res, failures)
      return
    }
    locals.entry = result.entry
    // the key's own rate_limit, parsed once per key-set load (SPEC §2), else the default
    locals.rate = result.rate ?? rate
    next()
  }

  const serve = (req: Request, res: Response): void => {
    const route = keyedRoute(req) as BodyRoute
    let rep
    try {
      const query = req.url.includes('?') ? req.query as Record<string, unknown> : undefined
      if (route === 'get_bootnodes' && query !== undefined && parseBootnodeSource(query) === 'chain') {
        serveChainBootnodes(res)
        return
      }
      rep = bodies.get(route, query)
    } catch (err) {
      if (!(err instanceof FilterError)) throw err
      send(res, route, 400, json({ detail: err.message }))
      return
    }
    const variant = rep.variant(negotiateEncoding(req.headers['accept-encoding']))
    res.setHeader('ETag', variant.etag)
    res.setHeader('Vary', 'Accept-Encoding')
    // keyed data: no shared cache may keep it; clients revalidate with If-None-Match (SPEC §1)
    res.setHeader('Cache-Control', 'private, no-cache')
    const inm = req.headers['if-none-match']
    if (inm !== undefined && rep.matches(inm)) {
      res.statusCode = 304
      res.end()
      counted(res, route, 304)
      return
    }
    res.statusCode = 200
    res.setHeader('Content-Type', JSON_CONTENT_TYPE)
    res.setHeader('Content-Length', variant.body.length)
    if (variant.encoding !== 'identity') res.setHeader('Content-Encoding', variant.encoding)
    res.end(variant.body)
    counted(res, route, 200)
    if (debug) logger.debug('served', { route, owner: (res.locals as Locals).owner, ip: (res.locals as Locals).clientIp, encoding: variant.encoding })
  }

  /**
   * `get_bootnodes?source=chain` (SPEC §1): the on-chain list in the same shape; 404 without
   * --chain-rpc (there is no such list here), 503 until it has been read once.
   */
  const NO_CHAIN = json({ detail: 'no on-chain bootnode list: this sidecar runs without --chain-rpc' })
  const CHAIN_NOT_READ = json({ detail: 'the on-chain bootnode list has not been read yet; try again shortly' })
  const serveChainBootnodes = (res: Response): void => {
    if (components.chain === undefined) {
      send(res, 'get_bootnodes', 404, NO_CHAIN)
      return
    }
    const list = components.chain.bootnodes()
    res.setHeader('Cache-Control', 'private, no-cache')
    if (list === undefined) send(res, 'get_bootnodes', 503, CHAIN_NOT_READ)
    else send(res, 'get_bootnodes', 200, json({ value: list }))
  }

  const bodyPaths = [...routeNames.keys()].filter((p) => routeNames.get(p) !== 'watch')
  app.get(bodyPaths, guard, keyLimiter, serve)

  // SPEC §1 /v1/watch: one request at connect (guard and limiter as every route), then a stream
  // past a cap: 429 when the key holds its own maximum (the client's doing), 503 when the server
  // holds its total (capacity, as /v1/is_reachable's 503); both counted, logged once per window
  const WATCHERS_PER_KEY_FULL = json({ detail: tooManyWatchers(maxWatchersPerKey) })
  const WATCHERS_FULL = json({ detail: tooManyWatchersInTotal(maxWatchers) })
  const watchRefusalLog = createWindowedLog(logger, 'warn', '/v1/watch stream refused: watcher cap reached', WATCH_REFUSAL_LOG_WINDOW_MS)
  app.get('/v1/watch', guard, keyLimiter, (req, res) => {
    const refusal = watch.refusal(req)
    if (refusal !== undefined) {
      metrics.watchRefused(refusal)
      const locals = res.locals as Locals
      watchRefusalLog.note({ reason: refusal, owner: locals.owner, ip: locals.clientIp, open: watch.size() })
      if (refusal === 'total') {
        res.setHeader('Retry-After', String(WATCHERS_FULL_RETRY_AFTER_S))
        send(res, 'watch', 503, WATCHERS_FULL)
      } else {
        send(res, 'watch', 429, WATCHERS_PER_KEY_FULL)
      }
      return
    }
    const entry = (res.locals as Locals).entry
    if (entry === undefined) throw new Error('watch: no accepted key entry')
    watch.open(req, res, entry)
    // counted like every keyed answer: in /metrics and in the key's usage (SPEC §1 "Key usage")
    counted(res, 'watch', 200)
  })

  // SPEC §1 /v1/is_reachable/<peer_id>
  app.get(`${REACHABLE_PREFIX}:peerId`, guard, keyLimiter, async (req, res) => {
    const answer = await reachability.check(String(req.params.peerId))
    if (answer.status === 503) res.setHeader('Retry-After', '5')
    res.setHeader('Cache-Control', 'no-store')
    send(res, 'is_reachable', answer.status, json(answer.body))
  })
  const attribution = [...(init.attribution ?? [])]
  app.get('/healthz', (_req, res) => {
    const s = view.current()
    if (!s.ready) {
      res.setHeader('Cache-Control', 'no-store')
      send(res, 'healthz', 503, json({ status: 'starting' }))
      return
    }
    res.setHeader('Cache-Control', 'no-store')
    send(res, 'healthz', 200, json({
      status: 'ok',
      peer_id: s.peerId,
      peers: s.peerCount,
      heartbeats: s.heartbeats.length,
      uptime_s: Math.floor((Date.now() - startedAt) / 1000),
      ...(components.chain === undefined ? {} : { chain: components.chain.health() }),
      ...(attribution.length > 0 ? { attribution } : {})
    }))
  })
  const knownPaths = ['/healthz']
  if (init.metrics !== false) {
    knownPaths.push('/metrics')
    app.get('/metrics', async (_req, res) => {
      const text = Buffer.from(await metrics.registry.metrics(), 'utf8')
      res.statusCode = 200
      res.setHeader('Content-Type', metrics.registry.contentType)
      res.setHeader('Content-Length', text.length)
      res.setHeader('Cache-Control', 'no-store')
      res.end(text)
      metrics.request('metrics', 200)
    })
  }
  // SPEC §1 "API description": /openapi.json and /docs (no key)
  app.use(createDocsRouter({ rateText: rate.text, authFailText: authFail.text, metrics: init.metrics !== false, maxWatchersPerKey, maxWatchers, watchKeepAliveMs }))
  knownPaths.push(...routeNames.keys(), `${REACHABLE_PREFIX}:peerId`, ...DOCS_PATHS)
  app.all(knownPaths, (req, res) => {
    res.setHeader('Allow', 'GET, HEAD')
    send(res, routeOf(req), 405, statusBody(405))
  })
  // the status page and its assets (SPEC §1 "Status page"): no key, no data
  app.use(createStatusPageRouter())
  app.use((req, res) => { send(res, 'other', 404, statusBody(404)) })
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const declared = (err as { status?: unknown, statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode
    const status = typeof declared === 'number' && declared >= 400 && declared < 500 ? declared : 500
    // the path only: a query string may carry a key someone put there by mistake
    if (status === 500) logger.error('request failed', { method: req.method, path: req.path, err })
    if (res.headersSent) {
      res.destroy()
      return
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    send(res, routeOf(req), status, statusBody(status))
  })

  let closing: Promise<void> | undefined
  return {
    app,
    metrics: metrics.registry,
    endStreams: () => { watch.close() },
    close: async () => {
      closing ??= (async () => {
        watch.close()
        bodies.close()
      })()
      await closing
    }
  }
}
