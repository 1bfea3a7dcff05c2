/**
 * New keys and owner names (SPEC §3): keys come from the CSPRNG with 128 bits of entropy,
 * shaped `key-<owner>-<32 hex digits>`.
 */
import { randomBytes } from 'node:crypto'
import { MAX_API_KEY_LENGTH } from './constants.js'

/** Bytes of CSPRNG output in a generated key (SPEC §3: at least 128 bits). */
const GENERATED_KEY_BYTES = 16

/** Longest owner name, in characters (owners end up in keys and logs). */
const MAX_OWNER_LENGTH = 64

/**
 * A fresh key for `owner`: `key-<owner>-<32 hex>`. Characters of the owner that cannot
 * travel in an HTTP header value as they are (anything outside visible ASCII) become `_`
 * in the key, so every generated key can be sent as `X-API-Key` unchanged.
 */
export function generateApiKey (owner: string): string {
  const label = owner.replace(/[^\x21-\x7e]/gu, '_')
  return `key-${label}-${randomBytes(GENERATED_KEY_BYTES).toString('hex')}`
}

/**
 * Why `owner` is not acceptable as a new owner name, or `undefined` when it is:
 * non-empty, at most {@link MAX_OWNER_LENGTH} characters, no whitespace and no control or
 * invisible formatting characters (they would garble logs and keys).
 */
export function checkOwnerName (owner: string): string | undefined {
  if (owner === '') return 'must not be empty'
  if ([...owner].length > MAX_OWNER_LENGTH) return `must be at most ${MAX_OWNER_LENGTH} characters`
  if (/[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(owner)) return 'must not contain whitespace or control characters'
  return undefined
}

/**
 * Why `key` is not acceptable as a key given on the command line, or `undefined`:
 * visible ASCII only (it travels in an HTTP header, SPEC §1), at most {@link MAX_API_KEY_LENGTH} characters.
 */
export function checkApiKeyText (key: string): string | undefined {
  if (key === '') return 'must not be empty'
  if (key.length > MAX_API_KEY_LENGTH) return `must be at most ${MAX_API_KEY_LENGTH} characters`
  if (!/^[\x21-\x7e]+$/.test(key)) return 'must be visible ASCII characters only (no spaces, it is sent in an HTTP header)'
  return undefined
}
