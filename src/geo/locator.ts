/**
 * The locator (issue 6): classification first, then one of three modes. Offline lookups are
 * synchronous once the data is open; ip-api lookups go through the cache, one rate-limited
 * request at a time, and whatever ip-api cannot answer is answered offline. `locate` never
 * rejects and gives every input address exactly one entry (the Locator contract, view/index.ts).
 */
import { join } from 'node:path'
import { ConfigError } from '../errors.js'
import { silentLogger } from '../log/index.js'
import { LocationCache } from './cache.js'
import { classify, fail } from './classify.js'
import {
  CACHE_FILE_NAME, CACHE_WRITE_DELAY_MS, DEFAULT_CACHE_TTL_MS, DEFAULT_GEO_MODE,
  DEFAULT_IP_API_TIMEOUT_MS, DEFAULT_IP_API_URL, FAILURE_BACKOFF_MIN_MS, GEO_MODES, IP_API_ATTRIBUTION,
  IP_API_MAX_BATCH, IP_API_MAX_REQUESTS_PER_WINDOW, MAX_CACHE_ENTRIES
} from './constants.js'
import { IpApiClient } from './ip-api.js'
import { MESSAGE_UNAVAILABLE, OfflineGeo } from './offline.js'
import type { PublicAddress } from './classify.js'
import type { Family } from './offline.js'
import type { GeoMode } from './constants.js'
import type { GeoLocator, GeoStats, LocatorInit } from './index.js'
import type { IpApiFailureReason } from './ip-api.js'
import type { Logger } from '../log/index.js'
import type { Location } from '../view/index.js'

const MESSAGE_DISABLED = 'geolocation disabled'

function positive (name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`geo: ${name} must be a positive number, got ${value}`)
  return value
}

interface Pending { address: PublicAddress, queries: string[] }

/** The one GeoLocator implementation; `createLocator` in index.ts is its front door. */
export class DefaultGeoLocator implements GeoLocator {
  readonly mode: GeoMode
  readonly attribution: readonly string[]
  private readonly log: Logger
  private readonly offline: OfflineGeo
  private readonly client: IpApiClient | undefined
  private readonly cache: LocationCache
  private readonly cacheDir: string | undefined
  private cacheLoaded: Promise<void> | undefined
  private saveTimer: NodeJS.Timeout | undefined
  /** ip-api requests go one at a time, so rate accounting and the cache stay exact. */
  private chain: Promise<void> = Promise.resolve()
  private readonly counters = {
    requests: 0,
    answeredByIpApi: 0,
    cacheHits: 0,
    fallbacks: 0,
    failures: { timeout: 0, network: 0, 'rate-limited': 0, 'http-status': 0, malformed: 0, deferred: 0 } satisfies Record<IpApiFailureReason, number>
  }

  constructor (init: LocatorInit) {
    const mode = init.mode ?? DEFAULT_GEO_MODE
    if (!(GEO_MODES as readonly string[]).includes(mode)) throw new ConfigError(`geo: mode must be one of ${GEO_MODES.join(', ')}, got ${String(mode)}`)
    this.mode = mode
    this.log = init.logger ?? silentLogger
    this.offline = new OfflineGeo({ geoDbPath: init.geoDbPath, asnDbPath: init.asnDbPath, logger: this.log })
    this.cache = new LocationCache(positive('cacheTtlMs', init.cacheTtlMs, DEFAULT_CACHE_TTL_MS), MAX_CACHE_ENTRIES)
    this.cacheDir = init.cacheDir
    if (mode === 'ip-api') {
      const url = init.ipApiUrl ?? DEFAULT_IP_API_URL
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new ConfigError(`geo: ipApiUrl must be an http(s) URL, got ${url}`)
      this.client = new IpApiClient({
        url,
        timeoutMs: positive('timeoutMs', init.timeoutMs, DEFAULT_IP_API_TIMEOUT_MS),
        requestsPerWindow: positive('requestsPerMinute', init.requestsPerMinute, IP_API_MAX_REQUESTS_PER_WINDOW),
        failureBackoffMs: positive('failureBackoffMs', init.failureBackoffMs, FAILURE_BACKOFF_MIN_MS)
      })
    }
    this.attribution = mode === 'none'
      ? []
      : mode === 'ip-api' ? Object.freeze([IP_API_ATTRIBUTION, ...this.offline.attribution]) : this.offline.attribution
  }

  async check (): Promise<void> {
    if (this.mode === 'offline') {
      await this.offline.check()
    } else if (this.mode === 'ip-api') {
      try {
        await this.offline.check()
      } catch (err) {
        // The operator's own file must work; missing bundled data only means no fallback.
        if (this.offline.usesOwnFiles) throw err
        this.log.warn('no offline data to fall back on when ip-api fails', { err })
      }
    }
  }

  stats (): GeoStats {
    return {
      mode: this.mode,
      ...this.counters,
      failures: { ...this.counters.failures },
      cacheSize: this.cache.size
    }
  }

  async locate (ips: readonly string[]): Promise<Map<string, Location>> {
    try {
      return await this.locateAll(ips)
    } catch (err) {
      // Never rejects (Locator contract): whatever went wrong, every address gets an answer.
      this.log.error('geolocation failed', { err })
      const out = new Map<string, Location>()
      for (const ip of ips) out.set(ip, fail(MESSAGE_UNAVAILABLE, ip))
      return out
    }
  }

  private async locateAll (ips: readonly string[]): Promise<Map<string, Location>> {
    const out = new Map<string, Location>()
    if (this.mode === 'none') {
      for (const ip of ips) out.set(ip, fail(MESSAGE_DISABLED, ip))
      return out
    }
    if (this.client === undefined) return await this.locateOffline(ips, out)
    // Addresses to ask ip-api, by canonical form: `::ffff:1.2.3.4` and `1.2.3.4` are one query.
    const pending = new Map<string, Pending>()
    for (const ip of ips) {
      if (out.has(ip)) continue
      const c = classify(ip)
      if (c.kind === 'fail') {
        out.set(ip, c.location)
        continue
      }
      const p = pending.get(c.address.address)
      if (p === undefined) pending.set(c.address.address, { address: c.address, queries: [ip] })
      else if (!p.queries.includes(ip)) p.queries.push(ip)
    }
    if (pending.size === 0) return out
    const left = await this.viaIpApi([...pending.values()], out)
    if (left.length > 0) {
      await this.offline.prepare(left.map((p) => p.address.family))
      for (const p of left) {
        for (const q of p.queries) out.set(q, this.offline.lookup(p.address, q))
      }
      this.counters.fallbacks += left.length
    }
    return out
  }

  /**
   * Offline mode: lookups cost microseconds, so no de-duplication beyond the output map;
   * this is the path the ≥100,000 lookups/s goal is measured on (bench/geo.ts).
   */
  private async locateOffline (ips: readonly string[], out: Map<string, Location>): Promise<Map<string, Location>> {
    const queries: string[] = []
    const addresses: PublicAddress[] = []
    let v4 = false
    let v6 = false
    for (const ip of ips) {
      const c = classify(ip)
      if (c.kind === 'fail') {
        out.set(ip, c.location)
      } else {
        queries.push(ip)
        addresses.push(c.address)
        if (c.address.family === 4) v4 = true
        else v6 = true
      }
    }
    if (queries.length === 0) return out
    const families: Family[] = v4 && v6 ? [4, 6] : v4 ? [4] : [6]
    // Once the data is open, a lookup never waits on anything (no await, no extra tick).
    if (!this.offline.ready(families)) await this.offline.prepare(families)
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i] as string
      out.set(q, this.offline.lookup(addresses[i] as PublicAddress, q))
    }
    return out
  }

  /** Answers what the cache and ip-api can; returns the rest, for the offline data. */
  private async viaIpApi (list: Pending[], out: Map<string, Location>): Promise<Pending[]> {
    this.cacheLoaded ??= this.loadCache()
    await this.cacheLoaded
    const emit = (p: Pending, loc: Location): void => {
      for (const q of p.queries) out.set(q, { ...loc, query: q })
    }
    const fromCache = (items: Pending[]): Pending[] => {
      const now = Date.now()
      const missing: Pending[] = []
      for (const p of items) {
        const loc = this.cache.get(p.address.address, now)
        if (loc === undefined) {
          missing.push(p)
        } else {
          this.counters.cacheHits++
          emit(p, loc)
        }
      }
      return missing
    }
    const missing = fromCache(list)
    if (missing.length === 0) return []
    return await this.serial(async () => {
      // Another locate may have asked for the same addresses while this one waited its turn.
      const ask = fromCache(missing)
      const left: Pending[] = []
      const client = this.client as IpApiClient
      for (let i = 0; i < ask.length; i += IP_API_MAX_BATCH) {
        const chunk = ask.slice(i, i + IP_API_MAX_BATCH)
        const result = await client.batch(chunk.map((p) => p.address.address))
        if (result.ok || result.reason !== 'deferred') this.counters.requests++
        if (!result.ok) {
          this.failed(result.reason, chunk.length, result.detail, client.retryAt)
          left.push(...chunk)
          continue
        }
        const now = Date.now()
        result.locations.forEach((loc, k) => {
          const p = chunk[k] as Pending
          this.cache.set(p.address.address, loc, now)
          emit(p, loc)
        })
        this.counters.answeredByIpApi += chunk.length
        this.scheduleSave()
      }
      return left
    })
  }

  private failed (reason: IpApiFailureReason, addresses: number, detail: string | undefined, retryAt: number): void {
    this.counters.failures[reason]++
    const fields = { reason, detail, addresses, retryInMs: Math.max(0, retryAt - Date.now()) }
    // Deferral is the rate limit working as intended; the rest deserve an operator's eye.
    if (reason === 'deferred') this.log.debug('ip-api deferred; answering from offline data', fields)
    else this.log.warn('ip-api lookup failed; answering from offline data', fields)
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.then(() => {}, () => {})
    return await run
  }

  private cacheFile (): string | undefined {
    return this.cacheDir === undefined ? undefined : join(this.cacheDir, CACHE_FILE_NAME)
  }

  private async loadCache (): Promise<void> {
    const file = this.cacheFile()
    if (file === undefined) return
    try {
      const n = await this.cache.load(file, Date.now())
      this.log.info('ip-api cache loaded', { file, entries: n })
    } catch (err) {
      this.log.warn('ip-api cache unreadable; starting empty', { file, err })
    }
  }

  private scheduleSave (): void {
    if (this.cacheDir === undefined || this.saveTimer !== undefined) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined
      void this.save()
    }, CACHE_WRITE_DELAY_MS)
    this.saveTimer.unref()
  }

  private async save (): Promise<void> {
    const file = this.cacheFile()
    if (file === undefined || this.cacheDir === undefined) return
    try {
      if (await this.cache.save(this.cacheDir, file, Date.now())) this.log.debug('ip-api cache saved', { file, entries: this.cache.size })
    } catch (err) {
      this.log.warn('ip-api cache not saved', { file, err })
    }
  }

  /**
   * Aborts ip-api requests in flight, writes the cache, and drops the opened databases
   * (a later `locate` opens them again). Idempotent.
   */
  async stop (): Promise<void> {
    this.client?.abort()
    await this.chain
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer)
      this.saveTimer = undefined
    }
    await this.save()
    this.offline.reset()
  }
}
