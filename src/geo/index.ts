/**
 * Geolocation (SPEC §1 `location`, §4 `--geo`, `--geo-db`; issue 6): turns IPs into ip-api.com
 * shaped location objects for `/v1/get_peers_info`. Used by the view builder when peers or
 * addresses appear, never on a request path.
 *
 * - `offline` (default): bundled DB-IP Lite city data and RouteViews/NRO/DB-IP ASN data, or the
 *   operator's MaxMind-format files (`geoDbPath`, `asnDbPath`). No network, ever.
 * - `ip-api`: ip-api.com's batch endpoint, rate-limited, with a timeout, cached by address;
 *   anything it cannot answer comes from the offline data.
 * - `none`: every address gets `{"status": "fail", "message": "geolocation disabled"}`.
 *
 * Every address is classified first (invalid / private / reserved never leave the process).
 */
import { GeoDatabaseError } from './errors.js'
import { DefaultGeoLocator } from './locator.js'
import { openMmdb } from './offline.js'
import { registerMirroredCounter } from '../util/metrics.js'
import type { GeoMode } from './constants.js'
import type { IpApiFailureReason } from './ip-api.js'
import type { Logger } from '../log/index.js'
import type { Locator as ViewLocator } from '../view/index.js'
import type { Registry } from 'prom-client'

export { classifyIp } from './classify.js'
export { GeoDatabaseError } from './errors.js'
export type { IpApiFailureReason } from './ip-api.js'

export { DEFAULT_GEO_MODE, GEO_MODES } from './constants.js'
export type { GeoMode } from './constants.js'

export interface LocatorInit {
  /** Default `offline`. */
  mode?: GeoMode
  /** The operator's MaxMind-format city database (GeoLite2-City layout, or ip-location-db's) instead of the bundled one. */
  geoDbPath?: string
  /** The operator's MaxMind-format ASN database (GeoLite2-ASN layout) instead of the bundled CSV. */
  asnDbPath?: string
  /** Default `http://ip-api.com/batch`; tests point it at a loopback server. */
  ipApiUrl?: string
  /** Per ip-api request, headers and body. Default 5000 ms. */
  timeoutMs?: number
  /** How long an ip-api answer is kept. Default 24 h. */
  cacheTtlMs?: number
  /** Where to persist the ip-api cache (`ip-api-cache.json`) so a restart does not re-query. Default: not persisted. */
  cacheDir?: string
  /** Local cap on ip-api requests per minute, on top of its `X-Rl`/`X-Ttl` headers. Default 15 (free tier). */
  requestsPerMinute?: number
  /** First pause after an ip-api failure; doubles up to 10 minutes, resets on success. Default 5000 ms. */
  failureBackoffMs?: number
  /** Default: silent. */
  logger?: Logger
}

export interface GeoStats {
  mode: GeoMode
  /** ip-api requests sent. */
  requests: number
  /** Addresses answered by ip-api. */
  answeredByIpApi: number
  /** Addresses answered from the ip-api cache. */
  cacheHits: number
  /** Addresses that ip-api mode answered from the offline data. */
  fallbacks: number
  /** ip-api batches not answered, by reason. */
  failures: Record<IpApiFailureReason, number>
  cacheSize: number
}

export interface GeoLocator extends ViewLocator {
  readonly mode: GeoMode
  /**
   * Credits owed for the data in use (CC BY 4.0 for the bundled data): for `/healthz` or an
   * attribution field, and the README. Empty in `none` mode and for the operator's own files.
   */
  readonly attribution: readonly string[]
  /** Verifies at start that the configured data can be used; throws GeoDatabaseError with one clear line. */
  check: () => Promise<void>
  stats: () => GeoStats
}

export interface LocatorComponents {
  /** Where `subnet_bootnode_geo_lookup_failures_total{reason}` is registered (`stats().failures`, read at each scrape). */
  registry?: Registry
}

export function createLocator (init: LocatorInit = {}, components: LocatorComponents = {}): GeoLocator {
  const locator = new DefaultGeoLocator(init)
  if (components.registry !== undefined) {
    registerMirroredCounter(components.registry, 'subnet_bootnode_geo_lookup_failures_total',
      'Geolocation lookups that failed, by reason', 'reason', () => locator.stats().failures)
  }
  return locator
}

/**
 * Verifies that `path` is a readable MaxMind DB file (for `--geo-db`/`--asn-db` at start);
 * throws GeoDatabaseError naming the file and the problem. `label` names the setting.
 */
export async function checkGeoDatabase (path: string, label = 'geolocation database'): Promise<void> {
  const reader = await openMmdb(path, label)
  if (reader.metadata.nodeCount <= 0) throw new GeoDatabaseError(`${label} ${path} is an empty MaxMind DB`)
}
