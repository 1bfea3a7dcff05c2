/**
 * ip-api.com's batch protocol (https://ip-api.com/docs/api:batch): `POST /batch?fields=…` with a
 * JSON array of up to 100 queries, answered by an array of location objects in the same order.
 * The free tier allows 15 requests per minute and says how many remain in `X-Rl` and how many
 * seconds until the window resets in `X-Ttl`; going over gives 429, and repeated 429s a ban.
 * So: a local window limit, the server's counters obeyed, a timeout on every call, and a
 * backoff after failures. This client never throws: a batch it cannot answer is `undefined`
 * with a reason, and the locator answers those addresses from the offline data.
 */
import {
  DEFAULT_RATE_LIMIT_BACKOFF_MS, FAILURE_BACKOFF_MAX_MS, IP_API_FIELDS, IP_API_WINDOW_MS
} from './constants.js'
import type { Location } from '../view/index.js'

export type IpApiFailureReason =
  /** No answer within the timeout. */
  | 'timeout'
  /** Connection refused, reset, DNS… */
  | 'network'
  /** 429, or another status than 200. */
  | 'rate-limited'
  | 'http-status'
  /** Not JSON, or not an array of location objects of the right length. */
  | 'malformed'
  /** Not sent at all: the rate window is spent or ip-api is in backoff. */
  | 'deferred'

export type BatchResult =
  | { ok: true, locations: Location[] }
  | { ok: false, reason: IpApiFailureReason, detail?: string }

export interface IpApiClientInit {
  url: string
  timeoutMs: number
  requestsPerWindow: number
  failureBackoffMs: number
}

const STRING_FIELDS = ['country', 'countryCode', 'region', 'regionName', 'city', 'zip', 'timezone', 'isp', 'org', 'as'] as const

/** One answer in SPEC §1's field order; "" for a missing field, as ip-api itself does. */
function normalise (raw: unknown, query: string): Location | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined
  const r = raw as Record<string, unknown>
  if (r.status === 'fail') {
    return { status: 'fail', message: typeof r.message === 'string' ? r.message : '', query }
  }
  if (r.status !== 'success') return undefined
  const str = (k: string): string => typeof r[k] === 'string' ? r[k] : ''
  const num = (k: string): number | '' => typeof r[k] === 'number' && Number.isFinite(r[k]) ? r[k] : ''
  const loc: Location = { status: 'success' }
  for (const k of STRING_FIELDS.slice(0, 6)) loc[k] = str(k)
  loc.lat = num('lat')
  loc.lon = num('lon')
  for (const k of STRING_FIELDS.slice(6)) loc[k] = str(k)
  loc.query = query
  return loc
}

function headerInt (h: Headers, name: string): number | undefined {
  const v = h.get(name)
  if (v === null || !/^\s*\d+\s*$/.test(v)) return undefined
  return Number(v)
}

export class IpApiClient {
  private readonly init: IpApiClientInit
  private readonly endpoint: string
  /** No request before this time (Unix ms): the server's window, a 429, or a failure backoff. */
  private blockedUntil = 0
  private backoffMs: number
  private windowStart = 0
  private windowCount = 0
  private readonly inflight = new Set<AbortController>()

  constructor (init: IpApiClientInit) {
    this.init = init
    this.backoffMs = init.failureBackoffMs
    const u = new URL(init.url)
    u.searchParams.set('fields', IP_API_FIELDS)
    this.endpoint = u.toString()
  }

  /** Whether a request may go out now; if so, it is counted against the local window. */
  private take (now: number): boolean {
    if (now < this.blockedUntil) return false
    if (now - this.windowStart >= IP_API_WINDOW_MS) {
      this.windowStart = now
      this.windowCount = 0
    }
    if (this.windowCount >= this.init.requestsPerWindow) {
      this.blockedUntil = this.windowStart + IP_API_WINDOW_MS
      return false
    }
    this.windowCount++
    return true
  }

  /** Unix ms until which no request will be sent (0 if none is blocked). */
  get retryAt (): number {
    return this.blockedUntil
  }

  private backoff (now: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, now + this.backoffMs)
    this.backoffMs = Math.min(this.backoffMs * 2, FAILURE_BACKOFF_MAX_MS)
  }

  /** Obeys the server's counters: nothing is left in this window → wait for its end. */
  private obeyHeaders (h: Headers, now: number, force: boolean): void {
    const remaining = headerInt(h, 'x-rl')
    const ttl = headerInt(h, 'x-ttl')
    if (force || remaining === 0) {
      const waitMs = ttl !== undefined ? ttl * 1000 : DEFAULT_RATE_LIMIT_BACKOFF_MS
      this.blockedUntil = Math.max(this.blockedUntil, now + waitMs)
    }
  }

  /** Asks for one batch (≤ 100 addresses, the caller splits). Never rejects. */
  async batch (addresses: readonly string[]): Promise<BatchResult> {
    if (!this.take(Date.now())) return { ok: false, reason: 'deferred' }
    const controller = new AbortController()
    this.inflight.add(controller)
    const timeout = AbortSignal.timeout(this.init.timeoutMs)
    const signal = AbortSignal.any([timeout, controller.signal])
    try {
      let res: Response
      let text: string
      try {
        res = await fetch(this.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(addresses),
          signal
        })
        // The timeout covers the body too: a server that sends headers and then stalls is caught.
        text = await res.text()
      } catch (err) {
        this.backoff(Date.now())
        if (timeout.aborted) return { ok: false, reason: 'timeout', detail: `no answer within ${this.init.timeoutMs} ms` }
        if (controller.signal.aborted) return { ok: false, reason: 'network', detail: 'stopped' }
        return { ok: false, reason: 'network', detail: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) }
      }
      const now = Date.now()
      if (res.status === 429) {
        this.obeyHeaders(res.headers, now, true)
        return { ok: false, reason: 'rate-limited', detail: `429, retry in ${Math.ceil((this.blockedUntil - now) / 1000)} s` }
      }
      this.obeyHeaders(res.headers, now, false)
      if (res.status !== 200) {
        this.backoff(now)
        return { ok: false, reason: 'http-status', detail: `status ${res.status}` }
      }
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        this.backoff(now)
        return { ok: false, reason: 'malformed', detail: 'not JSON' }
      }
      if (!Array.isArray(body) || body.length !== addresses.length) {
        this.backoff(now)
        return { ok: false, reason: 'malformed', detail: 'not an array of one answer per query' }
      }
      const locations: Location[] = []
      for (let i = 0; i < addresses.length; i++) {
        const loc = normalise(body[i], addresses[i] as string)
        if (loc === undefined) {
          this.backoff(now)
          return { ok: false, reason: 'malformed', detail: `answer ${i} is not a location object` }
        }
        locations.push(loc)
      }
      this.backoffMs = this.init.failureBackoffMs
      return { ok: true, locations }
    } finally {
      this.inflight.delete(controller)
    }
  }

  /** Aborts requests in flight (their batches fall back offline). */
  abort (): void {
    for (const c of this.inflight) c.abort()
  }
}
