/**
 * Offline lookups: a city database (the bundled DB-IP Lite, or the operator's `--geo-db`) and
 * an ASN source (the bundled CSV, or `--asn-db`). Every file is opened once, lazily, when the
 * first address of its family needs it (issue 6: the IPv6 city file alone is 71 MB, and a subnet
 * with no IPv6 peer never loads it), and shared by every later lookup. No network, ever.
 */
import { createRequire } from 'node:module'
import { stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Reader } from 'maxmind'
import { loadIpv4AsnCsv, loadIpv6AsnCsv } from './asn-csv.js'
import { fail } from './classify.js'
import {
  BUNDLED_ASN_IPV4_FILE, BUNDLED_ASN_IPV6_FILE, BUNDLED_ASN_PACKAGE, BUNDLED_ATTRIBUTION,
  BUNDLED_CITY_IPV4_FILE, BUNDLED_CITY_IPV6_FILE, BUNDLED_CITY_PACKAGE, MAX_MMDB_BYTES, MMDB_CACHE_ENTRIES
} from './constants.js'
import { GeoDatabaseError } from './errors.js'
import { readRegularFile, RegularFileError } from '../util/regular-file.js'
import { shapeCity, shapeNetwork } from './shape.js'
import type { AsnTable } from './asn-csv.js'
import type { PublicAddress } from './classify.js'
import type { NetworkFields } from './shape.js'
import type { Logger } from '../log/index.js'
import type { Location } from '../view/index.js'
import type { Response } from 'maxmind'

/** A public address none of the data knows. */
const MESSAGE_NO_DATA = 'no data'
/** The data could not be opened (its error was logged once, at start or first use). */
export const MESSAGE_UNAVAILABLE = 'geolocation unavailable'

export type Family = 4 | 6

/**
 * Opens a MaxMind DB file, with one clear line for each way it can be wrong.
 * `label` names the setting in the message (`--geo-db`, `--asn-db`).
 */
export async function openMmdb (path: string, label: string): Promise<Reader<Response>> {
  // util/regular-file: a FIFO or device is refused instead of read until it ends (or blocking
  // the open), and the type check runs on the handle that is then read.
  let buffer: Buffer
  try {
    buffer = (await readRegularFile(path, { maxBytes: MAX_MMDB_BYTES })).bytes
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err
    switch (err.reason) {
      case 'missing': throw new GeoDatabaseError(`${label} ${path} does not exist`, { cause: err.cause })
      case 'not-regular': throw new GeoDatabaseError(`${label} ${path} is not a file`)
      case 'too-large': throw new GeoDatabaseError(`${label} ${path} is larger than ${MAX_MMDB_BYTES} bytes`)
      case 'io': throw new GeoDatabaseError(`${label} ${path} cannot be read (${err.errno ?? String(err.cause)})`, { cause: err.cause })
    }
  }
  if (buffer[0] === 0x1f && buffer[1] === 0x8b) {
    throw new GeoDatabaseError(`${label} ${path} is gzip-compressed: decompress it to a .mmdb file first`)
  }
  try {
    return new Reader<Response>(buffer, { cache: new GenerationalCache(MMDB_CACHE_ENTRIES) })
  } catch (err) {
    throw new GeoDatabaseError(`${label} ${path} is not a MaxMind DB (.mmdb) file`, { cause: err })
  }
}

/**
 * The decoded-record cache handed to maxmind's reader: two generations of plain Maps, the
 * older dropped whole when the younger fills. Cheaper per lookup than an exact LRU, and hot
 * records survive; the same decoded object coming back lets shape.ts reuse its shaped fields.
 */
class GenerationalCache {
  private young = new Map<string | number, unknown>()
  private old = new Map<string | number, unknown>()
  constructor (private readonly max: number) {}

  get (key: string | number): unknown {
    const hit = this.young.get(key)
    if (hit !== undefined) return hit
    const older = this.old.get(key)
    if (older !== undefined) this.set(key, older)
    return older
  }

  set (key: string | number, value: unknown): void {
    if (this.young.size >= this.max) {
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(key, value)
  }
}

/** Where an installed data package keeps `file`, or a GeoDatabaseError saying how to get it. */
function bundledFile (pkg: string, file: string): string {
  let root: string
  try {
    root = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`))
  } catch (err) {
    throw new GeoDatabaseError(
      `bundled geolocation data ${pkg} is not installed: run npm install (without --omit=optional), or pass --geo-db PATH, or use --geo none`,
      { cause: err })
  }
  return join(root, file)
}

async function checkBundled (pkg: string, file: string): Promise<void> {
  const path = bundledFile(pkg, file)
  try {
    await stat(path)
  } catch (err) {
    throw new GeoDatabaseError(`bundled geolocation data ${pkg} is incomplete (${file} missing): reinstall it`, { cause: err })
  }
}

/**
 * Data shared by every locator in the process, by file: two locators (a test suite, or the
 * sidecar and a tool) never hold two copies of a 70 MB database. Counted, so the last user to
 * stop frees it; a failed open is forgotten so a later locator can try again.
 */
const shared = new Map<string, { refs: number, promise: Promise<unknown> }>()

async function acquire<T> (key: string, open: () => Promise<T>): Promise<T> {
  let entry = shared.get(key)
  if (entry === undefined) {
    const created = { refs: 0, promise: open() as Promise<unknown> }
    created.promise.catch(() => { if (shared.get(key) === created) shared.delete(key) })
    shared.set(key, created)
    entry = created
  }
  entry.refs++
  return await (entry.promise as Promise<T>)
}

function release (key: string): void {
  const entry = shared.get(key)
  if (entry !== undefined && --entry.refs <= 0) shared.delete(key)
}

/** One lazily opened thing: opened at most once; a failure is logged once and remembered. */
class Lazy<T> {
  private promise: Promise<T | undefined> | undefined
  value: T | undefined
  failed = false
  error: unknown

  constructor (private readonly open: () => Promise<T>, private readonly onError: (err: unknown) => void) {}

  get settled (): boolean {
    return this.value !== undefined || this.failed
  }

  async get (): Promise<T | undefined> {
    this.promise ??= this.open().then(
      (v) => { this.value = v; return v },
      (err: unknown) => { this.failed = true; this.error = err; this.onError(err); return undefined })
    return await this.promise
  }
}

/** A city or ASN source: one file for both families, or one per family. */
interface Source<T> {
  forFamily: (family: Family) => Lazy<T>
}

function singleSource<T> (lazy: Lazy<T>): Source<T> {
  return { forFamily: () => lazy }
}
function perFamilySource<T> (v4: Lazy<T>, v6: Lazy<T>): Source<T> {
  return { forFamily: (f) => f === 4 ? v4 : v6 }
}

type AsnSource = { kind: 'mmdb', reader: Reader<Response> } | { kind: 'csv', table: AsnTable }

export interface OfflineInit {
  geoDbPath?: string
  asnDbPath?: string
  logger: Logger
}

export class OfflineGeo {
  readonly attribution: readonly string[]
  private readonly init: OfflineInit
  private city!: Source<Reader<Response>>
  private asn!: Source<AsnSource>
  /** The operator's files, which `check` opens at start. */
  private userFiles: Array<Lazy<Reader<Response>>> = []
  /** Keys this instance holds in the shared registry, released by `reset`. */
  private held: string[] = []

  /** Whether `--geo-db` or `--asn-db` names a file of the operator's (which must then work). */
  get usesOwnFiles (): boolean {
    return this.init.geoDbPath !== undefined || this.init.asnDbPath !== undefined
  }

  constructor (init: OfflineInit) {
    this.init = init
    const bundledCity = init.geoDbPath === undefined
    const bundledAsn = init.asnDbPath === undefined
    // CC BY 4.0: credit each bundled source actually used (the operator's own files carry their own terms).
    this.attribution = Object.freeze([
      ...(bundledCity ? [BUNDLED_ATTRIBUTION[0] as string] : []),
      ...(bundledAsn ? [BUNDLED_ATTRIBUTION[1] as string] : [])
    ])
    this.reset()
  }

  /** Forgets every opened file (they are plain buffers: dropping the last reference frees them). */
  reset (): void {
    for (const key of this.held) release(key)
    this.held = []
    const { geoDbPath, asnDbPath, logger } = this.init
    const hold = async <T>(key: string, open: () => Promise<T>): Promise<T> => {
      this.held.push(key)
      return await acquire(key, open)
    }
    const opened = (what: string, path: string, started: number, extra: Record<string, unknown> = {}): void => {
      logger.info('geolocation data opened', { what, path, ms: Math.round(performance.now() - started), ...extra })
    }
    const failed = (what: string) => (err: unknown): void => {
      logger.error('geolocation data unavailable; lookups answer "geolocation unavailable"', { what, err })
    }
    const mmdb = (what: string, path: () => string, label: string): Lazy<Reader<Response>> => new Lazy(async () => {
      const p = path()
      return await hold(`mmdb:${p}`, async () => {
        const started = performance.now()
        const reader = await openMmdb(p, label)
        opened(what, p, started, { databaseType: reader.metadata.databaseType, built: reader.metadata.buildEpoch.toISOString() })
        return reader
      })
    }, failed(what))
    const csv = (what: string, file: string, load: (p: string) => Promise<AsnTable>): Lazy<AsnSource> => new Lazy(async () => {
      const p = bundledFile(BUNDLED_ASN_PACKAGE, file)
      const table = await hold(`csv:${p}`, async () => {
        const started = performance.now()
        const t = await load(p)
        opened(what, p, started, { ranges: t.size })
        return t
      })
      return { kind: 'csv', table }
    }, failed(what))

    this.userFiles = []
    if (geoDbPath !== undefined) {
      const reader = mmdb('city', () => geoDbPath, '--geo-db')
      this.userFiles.push(reader)
      this.city = singleSource(reader)
    } else {
      this.city = perFamilySource(
        mmdb('city ipv4', () => bundledFile(BUNDLED_CITY_PACKAGE, BUNDLED_CITY_IPV4_FILE), 'bundled database'),
        mmdb('city ipv6', () => bundledFile(BUNDLED_CITY_PACKAGE, BUNDLED_CITY_IPV6_FILE), 'bundled database'))
    }
    if (asnDbPath !== undefined) {
      const reader = mmdb('asn', () => asnDbPath, '--asn-db')
      this.userFiles.push(reader)
      const asMmdb = new Lazy<AsnSource>(async () => {
        const r = await reader.get()
        if (r === undefined) throw new GeoDatabaseError(`--asn-db ${asnDbPath} could not be opened`)
        return { kind: 'mmdb', reader: r }
      }, () => {}) // the reader has logged its own failure
      this.asn = singleSource(asMmdb)
    } else {
      this.asn = perFamilySource(
        csv('asn ipv4', BUNDLED_ASN_IPV4_FILE, loadIpv4AsnCsv),
        csv('asn ipv6', BUNDLED_ASN_IPV6_FILE, loadIpv6AsnCsv))
    }
  }

  /**
   * Verifies at start that the configured data can be used, throwing a GeoDatabaseError
   * otherwise. The operator's files are opened now (and kept for the lookups); the bundled ones
   * are only checked to be installed, so memory is spent when an address needs them.
   */
  async check (): Promise<void> {
    const { geoDbPath, asnDbPath } = this.init
    for (const file of this.userFiles) {
      await file.get()
      if (file.failed) throw file.error
    }
    if (geoDbPath === undefined) {
      await checkBundled(BUNDLED_CITY_PACKAGE, BUNDLED_CITY_IPV4_FILE)
      await checkBundled(BUNDLED_CITY_PACKAGE, BUNDLED_CITY_IPV6_FILE)
    }
    if (asnDbPath === undefined) {
      await checkBundled(BUNDLED_ASN_PACKAGE, BUNDLED_ASN_IPV4_FILE)
      await checkBundled(BUNDLED_ASN_PACKAGE, BUNDLED_ASN_IPV6_FILE)
    }
  }

  /** Whether everything the given families need has been opened (or has failed for good). */
  ready (families: Iterable<Family>): boolean {
    for (const f of families) {
      if (!this.city.forFamily(f).settled || !this.asn.forFamily(f).settled) return false
    }
    return true
  }

  /** Opens what the given families need; never rejects (failures are logged and remembered). */
  async prepare (families: Iterable<Family>): Promise<void> {
    const waits: Array<Promise<unknown>> = []
    for (const f of new Set(families)) {
      waits.push(this.city.forFamily(f).get(), this.asn.forFamily(f).get())
    }
    await Promise.all(waits)
  }

  /** Synchronous lookup with what `prepare` opened. `query` is echoed as ip-api does. */
  lookup (addr: PublicAddress, query: string): Location {
    const cityLazy = this.city.forFamily(addr.family)
    const asnLazy = this.asn.forFamily(addr.family)
    const city = shapeCity(readerGet(cityLazy.value, addr))
    const network = city?.network ?? this.network(asnLazy.value, addr)
    if (city === undefined && network === undefined) {
      return fail(cityLazy.failed && asnLazy.failed ? MESSAGE_UNAVAILABLE : MESSAGE_NO_DATA, query)
    }
    return {
      status: 'success',
      country: city?.country ?? '',
      countryCode: city?.countryCode ?? '',
      region: city?.region ?? '',
      regionName: city?.regionName ?? '',
      city: city?.city ?? '',
      zip: city?.zip ?? '',
      lat: city?.lat ?? '',
      lon: city?.lon ?? '',
      timezone: city?.timezone ?? '',
      isp: network?.isp ?? '',
      org: network?.org ?? '',
      as: network?.as ?? '',
      query
    }
  }

  private network (source: AsnSource | undefined, addr: PublicAddress): NetworkFields | undefined {
    if (source === undefined) return undefined
    if (source.kind === 'mmdb') return shapeNetwork(readerGet(source.reader, addr))
    return source.table.lookup(addr.address)
  }
}

function readerGet (reader: Reader<Response> | undefined, addr: PublicAddress): unknown {
  if (reader === undefined) return undefined
  // An IPv4-only tree walked with 128 bits answers nonsense (maxmind does not check).
  if (addr.family === 6 && reader.metadata.ipVersion === 4) return undefined
  try {
    return reader.get(addr.address) ?? undefined
  } catch {
    return undefined
  }
}
