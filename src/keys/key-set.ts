/**
 * The read-only view of the key store the API uses (SPEC §1 "Authentication"): active
 * entries only, looked up by value with a constant-time comparison per candidate.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { parseRate, type Rate } from '../util/rate.js'
import { parseTimestamp } from './timestamp.js'
import type { ApiKeyEntry, ApiRoute } from './types.js'

export interface KeySet {
  /** Number of active entries. */
  readonly size: number
  /** Active entries only (a missing `active` counts as active), frozen. */
  entries: () => ReadonlyArray<Readonly<ApiKeyEntry>>
  /**
   * The active entry holding `key`, if any. Each candidate is compared in constant time
   * (SHA-256 digests of equal length through `crypto.timingSafeEqual`) and every
   * candidate is compared, so the time taken says nothing about which key, or which
   * prefix of one, came close. Expiry and scopes are checked by {@link keyRefusal}.
   */
  lookup: (key: string) => Readonly<ApiKeyEntry> | undefined
  /**
   * The limit of an entry of this set (as {@link lookup} returns it), parsed from its
   * `rate_limit` (SPEC §2) when the set was made; `undefined` when it has none (the default
   * applies), or one that does not parse (the key file's validation refuses those).
   */
  rate: (entry: Readonly<ApiKeyEntry>) => Rate | undefined
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** A snapshot of `entries`' active keys. The input is copied; later edits do not leak in. */
export function createKeySet (entries: readonly ApiKeyEntry[]): KeySet {
  const active = entries
    .filter(entry => entry.active !== false)
    .map(entry => deepFreeze(structuredClone(entry)))
  const frozen = Object.freeze(active) as ReadonlyArray<Readonly<ApiKeyEntry>>
  const candidates = active.map(entry => ({ entry, digest: digest(entry.key) }))
  // A reload makes a new set: an edited rate_limit is parsed again, once.
  const rates = new Map<Readonly<ApiKeyEntry>, Rate>()
  for (const entry of active) {
    const rate = typeof entry.rate_limit === 'string' ? parseRate(entry.rate_limit) : undefined
    if (rate !== undefined) rates.set(entry, rate)
  }

  return {
    size: active.length,
    entries: () => frozen,
    lookup: (key) => {
      if (typeof key !== 'string' || key === '') return undefined
      const wanted = digest(key)
      let found: Readonly<ApiKeyEntry> | undefined
      for (const candidate of candidates) {
        // No early exit: keys are unique, and stopping would time the position of a match.
        if (timingSafeEqual(wanted, candidate.digest) && found === undefined) found = candidate.entry
      }
      return found
    },
    rate: (entry) => rates.get(entry)
  }
}

/** The empty key set: what the API sees before a key file exists. */
export const EMPTY_KEY_SET: KeySet = createKeySet([])

/** Why a key is refused: deactivated, past its `expires_at`, or not scoped for the route. */
export type KeyRefusal = 'inactive' | 'expired' | 'scope'

/**
 * Whether `entry` is expired at `now` (ms, default `Date.now()`): `expires_at` is the first
 * instant it is refused (SPEC §2), and an unreadable `expires_at` counts as expired (fails closed).
 */
export function isKeyExpired (entry: Readonly<ApiKeyEntry>, now: number = Date.now()): boolean {
  if (entry.expires_at === undefined) return false
  const expires = typeof entry.expires_at === 'string' ? parseTimestamp(entry.expires_at) : undefined
  return expires === undefined || now >= expires
}

/**
 * Why `entry` may not call `route` at `now` (ms, default `Date.now()`), or `undefined` when it
 * may: the one decision (SPEC §1, §2), checked in this order: inactive, expired
 * ({@link isKeyExpired}), `route` not among its `scopes` when it has any.
 */
export function keyRefusal (entry: Readonly<ApiKeyEntry>, route: ApiRoute | string, now: number = Date.now()): KeyRefusal | undefined {
  if (entry.active === false) return 'inactive'
  if (isKeyExpired(entry, now)) return 'expired'
  if (entry.scopes !== undefined) {
    if (!Array.isArray(entry.scopes) || !entry.scopes.includes(route)) return 'scope'
  }
  return undefined
}

/** Whether `entry` may call `route` at `now`: {@link keyRefusal} finds nothing to refuse. */
export function isKeyUsable (entry: Readonly<ApiKeyEntry>, route: ApiRoute | string, now: number = Date.now()): boolean {
  return keyRefusal(entry, route, now) === undefined
}
