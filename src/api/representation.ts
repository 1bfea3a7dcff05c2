/**
 * Bytes prepared once per view change (SPEC §1 "served from bytes prepared once per view change"):
 * the JSON body, its strong ETag, and gzip/brotli variants made on first demand and then reused
 * until the next snapshot.
 */
import { createHash } from 'node:crypto'
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib'
import { BROTLI_QUALITY, MIN_COMPRESS_BYTES } from './constants.js'

export type Encoding = 'identity' | 'gzip' | 'br'

export interface Variant {
  readonly encoding: Encoding
  readonly body: Buffer
  /** Strong ETag, quoted. Each content-coding is a different representation, so its own tag (RFC 9110 §8.8.3). */
  readonly etag: string
}

export interface Representation {
  readonly identity: Variant
  /** The variant to send for a negotiated encoding; the identity one when compressing would not pay. */
  variant: (encoding: Encoding) => Variant
  /** True when `If-None-Match` names any variant of this content (the client holds these bytes, decoded). */
  matches: (ifNoneMatch: string) => boolean
}

export function createRepresentation (value: unknown): Representation {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 27)
  const identity: Variant = { encoding: 'identity', body, etag: `"${hash}"` }
  let gzip: Variant | undefined
  let br: Variant | undefined
  const compressible = body.length >= MIN_COMPRESS_BYTES

  const compress = (encoding: 'gzip' | 'br'): Variant => {
    if (!compressible) return identity
    const out = encoding === 'gzip'
      ? gzipSync(body)
      : brotliCompressSync(body, {
        params: {
          [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
          [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT
        }
      })
    if (out.length >= body.length) return identity
    return { encoding, body: out, etag: `"${hash}-${encoding === 'gzip' ? 'gz' : 'br'}"` }
  }

  const tags = new Set([identity.etag, `"${hash}-gz"`, `"${hash}-br"`])

  return {
    identity,
    variant: (encoding) => {
      if (encoding === 'gzip') return (gzip ??= compress('gzip'))
      if (encoding === 'br') return (br ??= compress('br'))
      return identity
    },
    matches: (ifNoneMatch) => {
      if (tags.has(ifNoneMatch)) return true
      // If-None-Match uses the weak comparison (RFC 9110 §13.1.2): a list, `*`, `W/` prefixes
      for (const raw of ifNoneMatch.split(',')) {
        let tag = raw.trim()
        if (tag === '*') return true
        if (tag.startsWith('W/')) tag = tag.slice(2)
        if (tags.has(tag)) return true
      }
      return false
    }
  }
}

const negotiated = new Map<string, Encoding>()
const NEGOTIATED_CACHE_SIZE = 128

/**
 * Picks br, then gzip, then identity from an `Accept-Encoding` header, honouring `q=0`
 * and `*` (RFC 9110 §12.5.3). Clients send few distinct headers, so results are memoised.
 */
export function negotiateEncoding (header: string | undefined): Encoding {
  if (header === undefined || header === '') return 'identity'
  const cached = negotiated.get(header)
  if (cached !== undefined) return cached
  let br = -1
  let gzip = -1
  let star = -1
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';')
    const name = (rawName ?? '').trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)
      if (m?.[1] !== undefined) q = Number.parseFloat(m[1])
    }
    if (!Number.isFinite(q)) q = 0
    if (name === 'br') br = q
    else if (name === 'gzip' || name === 'x-gzip') gzip = q
    else if (name === '*') star = q
  }
  if (br < 0) br = star
  if (gzip < 0) gzip = star
  let result: Encoding = 'identity'
  if (br > 0 && br >= gzip) result = 'br'
  else if (gzip > 0) result = 'gzip'
  if (negotiated.size >= NEGOTIATED_CACHE_SIZE) negotiated.clear()
  // bound the memo by header length too: an attacker's unique long headers must not pin memory
  if (header.length <= 256) negotiated.set(header, result)
  return result
}
