/**
 * Bytes prepared once per view change (SPEC §1 "served from bytes prepared once per view change"):
 * the JSON body, its strong ETag, and gzip/brotli variants. The bodies module compresses the
 * unfiltered bodies on the libuv thread pool when the view changes (`precompress`), so no request
 * pays for it; a request that needs a variant before that is done (or a filtered body, made on
 * demand) compresses it synchronously, once, and the result is reused until the next snapshot.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, brotliCompressSync, constants as zlibConstants, gzip as gzipAsync, gzipSync, type BrotliOptions } from 'node:zlib'
import { BROTLI_QUALITY, MIN_COMPRESS_BYTES } from './constants.js'

export type Encoding = 'identity' | 'gzip' | 'br'
export type CompressedEncoding = Exclude<Encoding, 'identity'>
/** What made a variant: the view change (off the request path) or a request that needed it first. */
export type CompressTrigger = 'view_change' | 'request'

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
  /**
   * Makes the gzip and br variants a request has not made yet, on the thread pool (zlib's async
   * API), one after the other. Never rejects: on an error the variant is left to the lazy path.
   * `isCurrent` is asked before each: once it says no (a newer snapshot), the rest is skipped.
   */
  precompress: (isCurrent?: () => boolean) => Promise<void>
  /** True when `If-None-Match` names any variant of this content (the client holds these bytes, decoded). */
  matches: (ifNoneMatch: string) => boolean
}

export interface RepresentationHooks {
  /** Called with the seconds spent compressing a variant, and what made it. */
  onCompressed?: (encoding: CompressedEncoding, seconds: number, trigger: CompressTrigger) => void
}

const brotliAsync = promisify(brotliCompress)
const gzipPromise = promisify(gzipAsync)

export function createRepresentation (value: unknown, hooks: RepresentationHooks = {}): Representation {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 27)
  const identity: Variant = { encoding: 'identity', body, etag: `"${hash}"` }
  const compressed: { gzip?: Variant, br?: Variant } = {}
  const compressible = body.length >= MIN_COMPRESS_BYTES
  const brotliOptions: BrotliOptions = {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
      [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT
    }
  }

  /** The variant for compressed bytes; the identity one when compressing did not pay. */
  const toVariant = (encoding: CompressedEncoding, out: Buffer): Variant =>
    out.length >= body.length ? identity : { encoding, body: out, etag: `"${hash}-${encoding === 'gzip' ? 'gz' : 'br'}"` }

  const compressNow = (encoding: CompressedEncoding): Variant => {
    if (!compressible) return identity
    const t0 = performance.now()
    const out = encoding === 'gzip' ? gzipSync(body) : brotliCompressSync(body, brotliOptions)
    hooks.onCompressed?.(encoding, (performance.now() - t0) / 1000, 'request')
    return toVariant(encoding, out)
  }

  const tags = new Set([identity.etag, `"${hash}-gz"`, `"${hash}-br"`])

  return {
    identity,
    variant: (encoding) => {
      if (encoding === 'identity') return identity
      return (compressed[encoding] ??= compressNow(encoding))
    },
    precompress: async (isCurrent = () => true) => {
      if (!compressible) return
      for (const encoding of ['br', 'gzip'] as const) {
        if (compressed[encoding] !== undefined || !isCurrent()) continue
        const t0 = performance.now()
        let out: Buffer
        try {
          out = encoding === 'gzip' ? await gzipPromise(body) : await brotliAsync(body, brotliOptions)
        } catch {
          continue // the lazy path in `variant` remains
        }
        // a request may have made it meanwhile: same input and settings, same bytes; keep the first
        if (compressed[encoding] !== undefined) continue
        hooks.onCompressed?.(encoding, (performance.now() - t0) / 1000, 'view_change')
        compressed[encoding] = toVariant(encoding, out)
      }
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
