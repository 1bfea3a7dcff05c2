/**
 * ip-api answers by address, with a TTL and a size bound (issue 6: a restart or a new request
 * must not re-query). Optionally persisted as one JSON file, written atomically; the file is a
 * cache, so one that is missing, stale or unreadable is simply ignored (and later replaced).
 */
import { mkdir } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { readRegularFile, RegularFileError } from '../util/regular-file.js'
import { CACHE_FILE_VERSION, MAX_CACHE_FILE_BYTES } from './constants.js'
import type { Location } from '../view/index.js'

interface Entry { location: Location, expiresAt: number }

interface CacheFile {
  version: number
  /** [address, expiresAt (Unix ms), location] */
  entries: Array<[string, number, Location]>
}

const FIELD_TYPES = new Set(['string', 'number'])

function isLocation (v: unknown): v is Location {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const rec = v as Record<string, unknown>
  if (rec.status !== 'success' && rec.status !== 'fail') return false
  return Object.values(rec).every((x) => FIELD_TYPES.has(typeof x))
}

export class LocationCache {
  private readonly entries = new Map<string, Entry>()
  private dirty = false

  constructor (private readonly ttlMs: number, private readonly maxEntries: number) {}

  get size (): number {
    return this.entries.size
  }

  get (address: string, now: number): Location | undefined {
    const e = this.entries.get(address)
    if (e === undefined) return undefined
    if (e.expiresAt <= now) {
      this.entries.delete(address)
      return undefined
    }
    return e.location
  }

  set (address: string, location: Location, now: number): void {
    this.entries.delete(address)
    this.entries.set(address, { location, expiresAt: now + this.ttlMs })
    this.dirty = true
    // Map keeps insertion order: the first keys are the oldest answers.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }

  /**
   * Loads a persisted cache; returns how many live entries were read. A missing file is 0; one that
   * is not a regular file (a FIFO would block the read for good), too large or unreadable throws.
   */
  async load (path: string, now: number): Promise<number> {
    let text: string
    try {
      text = (await readRegularFile(path, { maxBytes: MAX_CACHE_FILE_BYTES })).bytes.toString('utf8')
    } catch (err) {
      if (err instanceof RegularFileError && err.reason === 'missing') return 0
      throw err
    }
    const data = JSON.parse(text) as Partial<CacheFile>
    if (data.version !== CACHE_FILE_VERSION || !Array.isArray(data.entries)) return 0
    let n = 0
    for (const item of data.entries) {
      if (!Array.isArray(item) || item.length !== 3) continue
      const [address, expiresAt, location] = item as unknown[]
      if (typeof address !== 'string' || typeof expiresAt !== 'number' || expiresAt <= now || !isLocation(location)) continue
      // Never trust a persisted TTL beyond ours.
      this.entries.set(address, { location, expiresAt: Math.min(expiresAt, now + this.ttlMs) })
      n++
    }
    return n
  }

  /** Writes the live entries if anything changed since the last save. */
  async save (dir: string, path: string, now: number): Promise<boolean> {
    if (!this.dirty) return false
    this.dirty = false
    const entries: CacheFile['entries'] = []
    for (const [address, e] of this.entries) {
      if (e.expiresAt > now) entries.push([address, e.expiresAt, e.location])
    }
    try {
      await mkdir(dir, { recursive: true })
      await writeFileAtomic(path, JSON.stringify({ version: CACHE_FILE_VERSION, entries } satisfies CacheFile), { mode: 0o600 })
    } catch (err) {
      this.dirty = true
      throw err
    }
    return true
  }
}
