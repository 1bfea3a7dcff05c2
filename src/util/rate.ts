/**
 * Rate strings as SPEC §4 writes them (`--rate-limit 5/minute`, `--auth-fail-limit 30/minute`).
 *
 * The grammar is the subset of the Python `limits` library's notation that the old Bootnode API's
 * settings used, so a value copied from there still works: `N/unit`, `N per unit`, and an optional
 * window multiplier (`100/5 minutes`, `10 per 2 seconds`). Units: second, minute, hour, day (plural
 * allowed, and the short forms s, m, h, d after a slash). Surrounding spaces are ignored.
 */

/** A parsed rate: `limit` requests per `windowMs` milliseconds. */
export interface Rate {
  /** Requests allowed per window, ≥ 1. */
  limit: number
  /** Window length in milliseconds. */
  windowMs: number
  /**
   * Canonical text in the `limits` library's wording, e.g. `5 per 1 minute`: what the 429 body says
   * (SPEC §1: `{"detail": "Rate limit exceeded: 5 per 1 minute"}`).
   */
  text: string
}

/** Accepted shape, for error messages. */
export const RATE_HINT = 'N/second|minute|hour|day, e.g. 5/minute'

/**
 * Longest window accepted: one day. Larger windows would outgrow the 32-bit timers that
 * in-memory rate-limit stores use for their resets.
 */
export const MAX_RATE_WINDOW_MS = 86_400_000

const UNIT_MS: Readonly<Record<string, number>> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000
}

const SHORT_UNITS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day' }

// `5/minute`, `5 / minute`, `5 per minute`, `100/5 minutes`, `5/m`; case-insensitive.
const RATE_RE = /^(\d{1,9})\s*(\/|\s+per\s+)\s*(?:(\d{1,6})\s*)?([a-z]+)$/i

/** `minute`, `minutes`, and (after a slash only: `5/m`, clear there, not in "5 per m") `m`. */
function unitName (word: string, afterSlash: boolean): string | undefined {
  if (UNIT_MS[word] !== undefined) return word
  if (word.endsWith('s') && UNIT_MS[word.slice(0, -1)] !== undefined) return word.slice(0, -1)
  return afterSlash ? SHORT_UNITS[word] : undefined
}

/** The rate `text` describes, or `undefined` when it is not one (see {@link RATE_HINT}). */
export function parseRate (text: string): Rate | undefined {
  const match = RATE_RE.exec(text.trim())
  if (match === null) return undefined
  const [, limitDigits, separator, multiplierDigits, word] = match
  if (limitDigits === undefined || separator === undefined || word === undefined) return undefined
  const unit = unitName(word.toLowerCase(), separator === '/')
  const unitMs = unit === undefined ? undefined : UNIT_MS[unit]
  if (unit === undefined || unitMs === undefined) return undefined
  const limit = Number(limitDigits)
  const multiplier = multiplierDigits === undefined ? 1 : Number(multiplierDigits)
  const windowMs = multiplier * unitMs
  if (limit < 1 || multiplier < 1 || windowMs > MAX_RATE_WINDOW_MS) return undefined
  return { limit, windowMs, text: `${limit} per ${multiplier} ${unit}${multiplier === 1 ? '' : 's'}` }
}

/** Units from the largest, for {@link describeRate}. */
const UNITS_DESCENDING: ReadonlyArray<[name: string, ms: number]> = Object.entries(UNIT_MS).sort((a, b) => b[1] - a[1])

/**
 * The canonical text of a rate given as numbers, in the same wording as {@link parseRate}'s `text`
 * (`5 per 1 minute`, `100 per 5 minutes`), using the largest unit that divides the window; a window
 * of a fraction of a second is written in seconds (`1 per 1.5 seconds`). For a rate that did not
 * come from text, e.g. a default or one set in code.
 */
export function describeRate (limit: number, windowMs: number): string {
  for (const [unit, ms] of UNITS_DESCENDING) {
    if (windowMs % ms === 0) {
      const n = windowMs / ms
      return `${limit} per ${n} ${unit}${n === 1 ? '' : 's'}`
    }
  }
  return `${limit} per ${windowMs / 1000} seconds`
}
