/**
 * API key authentication (SPEC §1 "Authentication"): the key comes from `X-API-Key`,
 * `Authorization: X-API-Key <k>` or `Authorization: Bearer <k>`, never from the query string.
 * The key store compares in constant time and returns active entries only; expiry and scope
 * are decided by the key store's `keyRefusal`, whose answer is also the metrics reason.
 */
import { MAX_API_KEY_LENGTH, keyRefusal, type ApiKeyEntry, type KeySet } from '../keys/index.js'
import type { RouteName } from './constants.js'
import type { Rate } from '../util/rate.js'
import type { AuthRejectReason } from './metrics.js'
import type { IncomingHttpHeaders } from 'node:http'

/** Where the key store is read from on every request, so a hot reload applies at once. */
export interface KeySource {
  current: () => KeySet
}

export type AuthResult =
  /** `rate`: the key's own limit (SPEC §2 `rate_limit`), from the same key set; absent: the default. */
  | { ok: true, entry: Readonly<ApiKeyEntry>, rate: Rate | undefined }
  /** `entry`: the key's entry when the key is known but refused (expired, not scoped), for its usage counts. */
  | { ok: false, reason: AuthRejectReason, entry?: Readonly<ApiKeyEntry> }

/** The presented key, or undefined when none of the accepted forms carries one. */
export function presentedKey (headers: IncomingHttpHeaders): string | undefined {
  const direct = headers['x-api-key']
  if (typeof direct === 'string') {
    const k = direct.trim()
    if (k !== '') return k
  }
  const authorization = headers.authorization
  if (typeof authorization === 'string') {
    const space = authorization.indexOf(' ')
    if (space > 0) {
      // auth scheme names are case-insensitive (RFC 9110 §11.1)
      const scheme = authorization.slice(0, space).toLowerCase()
      if (scheme === 'bearer' || scheme === 'x-api-key') {
        const k = authorization.slice(space + 1).trim()
        if (k !== '' && !k.includes(' ')) return k
      }
    }
  }
  return undefined
}

export function authenticate (keys: KeySource, headers: IncomingHttpHeaders, route: RouteName, now: number): AuthResult {
  const key = presentedKey(headers)
  if (key === undefined) return { ok: false, reason: 'missing' }
  if (key.length > MAX_API_KEY_LENGTH) return { ok: false, reason: 'unknown' }
  const set = keys.current()
  const entry = set.lookup(key)
  if (entry === undefined) return { ok: false, reason: 'unknown' }
  const refusal = keyRefusal(entry, route, now)
  if (refusal === undefined) return { ok: true, entry, rate: set.rate(entry) }
  // lookup() only returns active entries; were one inactive, it is refused as a key nobody holds.
  return refusal === 'inactive' ? { ok: false, reason: 'unknown' } : { ok: false, reason: refusal, entry }
}
