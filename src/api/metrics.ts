/**
 * Prometheus series for `/metrics` (SPEC §1 "request counts by route and status, auth and
 * rate-limit rejections, peers, heartbeats, heartbeat records rejected by reason, DHT query
 * latency"): the API's own series, registered on the registry the composition root gives it
 * (the heartbeat collector, the DHT and geolocation register theirs on the same one).
 */
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { BodyRoute } from './constants.js'
import type { CompressedEncoding, CompressTrigger } from './representation.js'
import type { WatchRefusal } from './watch.js'
import type { ViewSnapshot } from '../view/index.js'

export type AuthRejectReason = 'missing' | 'unknown' | 'expired' | 'scope'
export type LimiterName = 'key_ip' | 'auth_fail'

export interface ApiMetrics {
  readonly registry: Registry
  request: (route: string, status: number) => void
  authRejected: (reason: AuthRejectReason) => void
  rateLimited: (limiter: LimiterName) => void
  /** A new `/v1/watch` stream refused past a cap. */
  watchRefused: (reason: WatchRefusal) => void
  prepared: (route: BodyRoute, seconds: number) => void
  compressed: (route: BodyRoute, encoding: CompressedEncoding, seconds: number, trigger: CompressTrigger) => void
}

export interface ApiMetricsInit {
  snapshot: () => ViewSnapshot
  /** Open `/v1/watch` streams. */
  watchers?: () => number
}

export function createApiMetrics (init: ApiMetricsInit, components: { registry: Registry }): ApiMetrics {
  const registry = components.registry

  const requests = new Counter({
    name: 'subnet_bootnode_http_requests_total',
    help: 'HTTP responses sent by the REST API, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [registry]
  })
  const authRejections = new Counter({
    name: 'subnet_bootnode_auth_rejections_total',
    help: 'Requests refused with 403 for their API key, by reason',
    labelNames: ['reason'] as const,
    registers: [registry]
  })
  const rateLimited = new Counter({
    name: 'subnet_bootnode_rate_limit_rejections_total',
    help: 'Requests refused with 429, by limiter (key_ip: per key and client IP; auth_fail: failed auth attempts per IP)',
    labelNames: ['limiter'] as const,
    registers: [registry]
  })
  const watchRefusals = new Counter({
    name: 'subnet_bootnode_api_watch_refusals_total',
    help: 'New /v1/watch streams refused, by cap (per_key: 429 past --max-watchers-per-key; total: 503 past --max-watchers)',
    labelNames: ['reason'] as const,
    registers: [registry]
  })
  const prepare = new Histogram({
    name: 'subnet_bootnode_api_body_prepare_seconds',
    help: 'Time to serialise and hash a REST body after a view change',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry]
  })
  const compress = new Histogram({
    name: 'subnet_bootnode_api_body_compress_seconds',
    help: 'Time to gzip/brotli-compress a REST body, by trigger: view_change (prepared off the request path) or request (a request needed it first)',
    labelNames: ['route', 'encoding', 'trigger'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry]
  })
  const view = (name: string, help: string, read: (s: ViewSnapshot) => number): void => {
    // eslint-disable-next-line no-new
    new Gauge({ name, help, registers: [registry], collect () { this.set(read(init.snapshot())) } })
  }
  view('subnet_bootnode_peers', 'Peers known to the node (connected or seen within the peer TTL)', s => s.peerCount)
  view('subnet_bootnode_heartbeats', 'Live heartbeats in the view', s => s.heartbeats.length)
  view('subnet_bootnode_bootnodes', 'Own dialable multiaddrs served by get_bootnodes', s => s.bootnodes.length)
  view('subnet_bootnode_view_version', 'Version of the view snapshot being served', s => s.version)
  view('subnet_bootnode_view_built_timestamp_seconds', 'Unix time when the served view snapshot was built', s => s.builtAt / 1000)
  // eslint-disable-next-line no-new
  new Gauge({ name: 'subnet_bootnode_api_watchers', help: 'Open /v1/watch streams', registers: [registry], collect () { this.set(init.watchers?.() ?? 0) } })
  view('subnet_bootnode_ready', '1 once the node listens and the DHT is up, else 0', s => s.ready ? 1 : 0)

  // bound children per label pair, so a request costs a Map lookup, not a label hash
  const requestChildren = new Map<string, { inc: () => void }>()

  return {
    registry,
    request: (route, status) => {
      const id = `${route} ${status}`
      let child = requestChildren.get(id)
      if (child === undefined) {
        child = requests.labels(route, String(status))
        requestChildren.set(id, child)
      }
      child.inc()
    },
    authRejected: (reason) => { authRejections.inc({ reason }) },
    rateLimited: (limiter) => { rateLimited.inc({ limiter }) },
    watchRefused: (reason) => { watchRefusals.inc({ reason }) },
    prepared: (route, seconds) => { prepare.observe({ route }, seconds) },
    compressed: (route, encoding, seconds, trigger) => { compress.observe({ route, encoding, trigger }, seconds) }
  }
}
