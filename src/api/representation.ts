/**
 * Bytes prepared once per view change (SPEC §1 "served from bytes prepared once per view change"):
 * the JSON body, its strong ETag, and gzip/brotli variants. The bodies module compresses the
 * unfiltered bodies on the libuv thread pool when the view changes (`precompress`), so no request
 * pays for it. A request that needs a variant before that is done (or a filtered body, made on
 * demand) compresses a small body synchronously, once, and the result is reused until the next
 * snapshot; a large body is never compressed on the request path: until its variant is ready the
 * request gets the identity bytes (always current), and the variant is made on the thread pool.
 *
 * Compressing a large body costs ~30 ms (gzip) to ~120 ms (br q5) per 4 MB, whatever changed in it,
 * so a {@link CompressBudget} bounds how often large bodies are compressed (issue 12 item 3): a
 * stream of changes cannot turn every push into a recompression of the whole subnet.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, brotliCompressSync, constants as zlibConstants, gzip as gzipAsync, gzipSync, type BrotliOptions } from 'node:zlib'
import { BROTLI_QUALITY, MIN_COMPRESS_BYTES } from './constants.js'
import { singleFlight } from '../util/task.js'

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
   * `isCurrent` is asked before each: once it says no (a newer snapshot), the rest is skipped;
   * a large body also stops while the {@link CompressBudget} says wait (the caller retries later).
   */
  precompress: (isCurrent?: () => boolean) => Promise<void>
  /** True when `If-None-Match` names any variant of this content (the client holds these bytes, decoded). */
  matches: (ifNoneMatch: string) => boolean
}

export interface RepresentationHooks {
  /** Called with the seconds spent compressing a variant, and what made it. */
  onCompressed?: (encoding: CompressedEncoding, seconds: number, trigger: CompressTrigger) => void
  /** Bounds how often large bodies are compressed. Default: no bound (every body is compressed when asked). */
  budget?: CompressBudget
}

/**
 * Bodies below this size are compressed whenever needed, synchronously on a request if need be:
 * it costs well under a millisecond. Larger ones go through the {@link CompressBudget}.
 */
export const FREE_COMPRESS_BYTES = 64 * 1024

/**
 * Share of the time large-body compression may take (issue 12 item 3): after compressing for
 * `d` seconds, the next large body waits `d × (1 − duty) / duty`: under a stream of changes
 * compression takes at most a fifth of one thread-pool thread. A 4 MB body's br (~120 ms) is then
 * followed by a ~0.5 s pause; the identity bytes are current meanwhile (SPEC §1: a change is
 * visible within 1 s), only their compressed copies lag.
 */
const COMPRESS_DUTY = 0.2

/** When the next large body may be compressed; shared by every body of one API. */
export interface CompressBudget {
  /** Milliseconds until a body of `bytes` may be compressed; 0 means now. */
  waitMs: (bytes: number) => number
  /** Records `seconds` spent compressing a body of `bytes`. */
  charge: (bytes: number, seconds: number) => void
}

export interface CompressBudgetInit {
  /** Default {@link COMPRESS_DUTY}. */
  duty?: number
  /** Default {@link FREE_COMPRESS_BYTES}. */
  freeBytes?: number
  /** Default `Date.now`. */
  now?: () => number
}

export function createCompressBudget (init: CompressBudgetInit = {}): CompressBudget {
  const duty = init.duty ?? COMPRESS_DUTY
  const freeBytes = init.freeBytes ?? FREE_COMPRESS_BYTES
  const now = init.now ?? Date.now
  let nextAt = 0
  return {
    waitMs: (bytes) => bytes < freeBytes ? 0 : Math.max(0, nextAt - now()),
    charge: (bytes, seconds) => {
      if (bytes < freeBytes) return
      nextAt = Math.max(nextAt, now()) + seconds * 1000 * (1 - duty) / duty
    }
  }
}

const brotliAsync = promisify(brotliCompress)
const gzipPromise = promisify(gzipAsync)

export function createRepresentation (value: unknown, hooks: RepresentationHooks = {}): Representation {
  return representBytes(Buffer.from(JSON.stringify(value), 'utf8'), hooks)
}

/** A representation of JSON bytes already serialised (the bodies module joins cached parts). */
export function representBytes (body: Buffer, hooks: RepresentationHooks = {}): Representation {
  const budget = hooks.budget
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
    const t0 = performance.now()
    const out = encoding === 'gzip' ? gzipSync(body) : brotliCompressSync(body, brotliOptions)
    const seconds = (performance.now() - t0) / 1000
    budget?.charge(body.length, seconds)
    hooks.onCompressed?.(encoding, seconds, 'request')
    return toVariant(encoding, out)
  }

  /** The variants not made yet, on the thread pool, while the budget and `isCurrent` allow. */
  const compressAhead = async (isCurrent: () => boolean, trigger: CompressTrigger): Promise<void> => {
    for (const encoding of ['br', 'gzip'] as const) {
      if (compressed[encoding] !== undefined || !isCurrent()) continue
      if (budget !== undefined && budget.waitMs(body.length) > 0) return
      const t0 = performance.now()
      let out: Buffer
      try {
        out = encoding === 'gzip' ? await gzipPromise(body) : await brotliAsync(body, brotliOptions)
      } catch {
        continue // the lazy path in `variant` remains
      }
      const seconds = (performance.now() - t0) / 1000
      budget?.charge(body.length, seconds)
      // a request may have made it meanwhile: same input and settings, same bytes; keep the first
      if (compressed[encoding] !== undefined) continue
      hooks.onCompressed?.(encoding, seconds, trigger)
      compressed[encoding] = toVariant(encoding, out)
    }
  }
  /** One compressAhead at a time; a call during one gets one more run after it, with the latest arguments. */
  let next: { isCurrent: () => boolean, trigger: CompressTrigger } = { isCurrent: () => true, trigger: 'request' }
  const flight = singleFlight(async () => { await compressAhead(next.isCurrent, next.trigger) })
  const ahead = async (isCurrent: () => boolean, trigger: CompressTrigger): Promise<void> => {
    if (!compressible) return
    next = { isCurrent, trigger }
    await flight.run()
  }

  const tags = new Set([identity.etag, `"${hash}-gz"`, `"${hash}-br"`])

  return {
    identity,
    variant: (encoding) => {
      if (encoding === 'identity' || !compressible) return identity
      const made = compressed[encoding]
      if (made !== undefined) return made
      if (budget === undefined || body.length < FREE_COMPRESS_BYTES) return (compressed[encoding] = compressNow(encoding))
      // a large body: never compressed on the request path; the current bytes go out uncompressed
      // and the variants are made on the thread pool if the budget allows (else a later request or
      // the bodies' own run makes them)
      if (!flight.isRunning()) void ahead(() => true, 'request')
      return identity
    },
    precompress: async (isCurrent = () => true) => { await ahead(isCurrent, 'view_change') },
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
