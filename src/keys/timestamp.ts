/**
 * ISO 8601 timestamps as the key file holds them (SPEC §2 `created_at`, `expires_at`):
 * `2025-06-01`, `2025-06-01T12:00:00Z`, `2025-06-01T12:00:00.123456+02:00`, and the
 * space-separated form Python's `str(datetime)` writes.
 *
 * A timestamp without a zone is read as UTC, not local time: files written by the Python
 * tooling hold naive `datetime.utcnow()` values, and an expiry must not move with the
 * server's time zone.
 */
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i

/** Milliseconds since the epoch, or `undefined` when `text` is not such a timestamp. */
export function parseTimestamp (text: string): number | undefined {
  const m = ISO_RE.exec(text)
  if (m === null) return undefined
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined
  const ms = Number((frac + '000').slice(0, 3))
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  // Date.UTC rolls 31 February over into March: refuse instead.
  if (new Date(utc).getUTCDate() !== day) return undefined
  let offsetMin = 0
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    const oh = Number(digits.slice(0, 2))
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0
    if (oh > 23 || om > 59) return undefined
    offsetMin = sign * (oh * 60 + om)
  }
  const value = utc - offsetMin * 60_000
  return Number.isFinite(value) ? value : undefined
}
