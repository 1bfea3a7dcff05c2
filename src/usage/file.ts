/**
 * The usage file (SPEC §2 "Usage file"): `<data dir>/key-usage.json`, written by the sidecar only,
 * atomically (write-file-atomic: temp file, fsync, rename), and read by `subnet-add-api-key --list`.
 * It is validated on every read; a missing file counts as "no usage recorded yet".
 */
import writeFileAtomic from 'write-file-atomic'
import { SubnetBootnodeError } from '../errors.js'
import { readRegularFile, RegularFileError } from '../util/regular-file.js'
import { isoWeek, utcDay } from './calendar.js'
import { MAX_USAGE_FILE_BYTES, USAGE_FILE_VERSION } from './constants.js'

/** One owner's counts, as the file holds them. */
export interface OwnerUsage {
  /** Requests that presented this owner's key, whatever the answer. */
  requests: number
  /** UTC day `requests_today` counts (`2026-12-01`); on a later day "today" is 0. */
  day: string
  requests_today: number
  /** ISO week `requests_week` counts (`2026-W49`); in a later week "this week" is 0. */
  week: string
  requests_week: number
  /** ISO 8601 UTC of the last request that presented the key; `null`: never. */
  last_used_at: string | null
  /** Client IP of that request (IPv6: its /64, as the rate limiter counts it). */
  last_ip: string | null
  /** Of `requests`, answered 403 (key expired or not scoped for the route). */
  forbidden: number
  /** Of `requests`, answered 429 (the key's rate limit, or the IP's failed-auth budget). */
  rate_limited: number
}

export interface UsageFileContent {
  version: typeof USAGE_FILE_VERSION
  /** When the sidecar wrote it, ISO 8601 UTC. */
  updated_at: string
  owners: Record<string, OwnerUsage>
}

/** A usage file that cannot be read or is not one this version wrote. */
export class UsageFileError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_USAGE_FILE', options)
  }
}

/** Counts of an owner that never made a request, dated `now`. */
export function emptyUsage (now: number): OwnerUsage {
  return { requests: 0, day: utcDay(now), requests_today: 0, week: isoWeek(now), requests_week: 0, last_used_at: null, last_ip: null, forbidden: 0, rate_limited: 0 }
}

/** Requests today (UTC) at `now`: 0 when the counts are from an earlier day. */
export function requestsToday (usage: OwnerUsage, now: number): number {
  return usage.day === utcDay(now) ? usage.requests_today : 0
}

/** Requests this ISO week (UTC) at `now`: 0 when the counts are from an earlier week. */
export function requestsThisWeek (usage: OwnerUsage, now: number): number {
  return usage.week === isoWeek(now) ? usage.requests_week : 0
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isTextOrNull = (v: unknown): boolean => v === null || typeof v === 'string'

function checkOwnerUsage (v: unknown): v is OwnerUsage {
  if (typeof v !== 'object' || v === null) return false
  const u = v as Record<string, unknown>
  return isCount(u.requests) && isCount(u.requests_today) && isCount(u.requests_week) && isCount(u.forbidden) && isCount(u.rate_limited) &&
    typeof u.day === 'string' && typeof u.week === 'string' && isTextOrNull(u.last_used_at) && isTextOrNull(u.last_ip)
}

/** The validated content of `text`; throws {@link UsageFileError} naming the file and the fault. */
function parseUsageText (text: string, file: string): UsageFileContent {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UsageFileError(`${file}: not JSON`)
  }
  const v = value as Partial<UsageFileContent> | null
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageFileError(`${file}: not a usage file (expected an object)`)
  if (v.version !== USAGE_FILE_VERSION) throw new UsageFileError(`${file}: usage file version ${String(v.version)}, this version reads ${USAGE_FILE_VERSION}`)
  if (typeof v.owners !== 'object' || v.owners === null || Array.isArray(v.owners)) throw new UsageFileError(`${file}: "owners" must be an object`)
  const owners: Record<string, OwnerUsage> = Object.create(null) as Record<string, OwnerUsage>
  for (const [owner, usage] of Object.entries(v.owners)) {
    if (!checkOwnerUsage(usage)) throw new UsageFileError(`${file}: the counts of owner ${JSON.stringify(owner.slice(0, 64))} are malformed`)
    owners[owner] = usage
  }
  return { version: USAGE_FILE_VERSION, updated_at: typeof v.updated_at === 'string' ? v.updated_at : '', owners }
}

/** The usage file's content, or `undefined` when it does not exist. Throws {@link UsageFileError}. */
export async function readUsageFile (file: string): Promise<UsageFileContent | undefined> {
  let text: string
  try {
    // util/regular-file: a FIFO or device is refused without blocking, at most the bound is read
    text = (await readRegularFile(file, { maxBytes: MAX_USAGE_FILE_BYTES })).bytes.toString('utf8')
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err
    switch (err.reason) {
      case 'missing': return undefined
      case 'not-regular': throw new UsageFileError(`${file}: not a regular file`)
      case 'too-large': throw new UsageFileError(`${file}: larger than ${MAX_USAGE_FILE_BYTES} bytes`)
      case 'io': throw new UsageFileError(`${file}: cannot read: ${err.errno ?? (err.cause as Error).message}`, { cause: err.cause })
    }
  }
  return parseUsageText(text, file)
}

/** Writes the usage file atomically (a reader sees the old or the new file, never a mix). */
export async function writeUsageFile (file: string, owners: Readonly<Record<string, OwnerUsage>>, now: number): Promise<void> {
  const content: UsageFileContent = { version: USAGE_FILE_VERSION, updated_at: new Date(now).toISOString(), owners: { ...owners } }
  try {
    await writeFileAtomic(file, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 })
  } catch (err) {
    throw new UsageFileError(`${file}: cannot write: ${(err as { code?: string }).code ?? (err as Error).message}`, { cause: err })
  }
}
