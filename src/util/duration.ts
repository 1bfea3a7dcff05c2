/**
 * Durations as SPEC §4 writes them: an integer and one unit, `500ms`, `10s`, `5m`, `1h`, `90d`.
 * Shared by the config (`--refresh-interval`, `--peer-ttl`, …) and `subnet-add-api-key --expires-in`.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000
}

/** Accepted shape, for error messages: "expects a duration such as 500ms, 10s, 5m, 1h or 90d". */
export const DURATION_HINT = 'a duration such as 500ms, 10s, 5m, 1h or 90d'

const DURATION_RE = /^(\d{1,15})(ms|s|m|h|d)$/

/**
 * Milliseconds for `text`, or `undefined` when it is not one non-negative integer followed by
 * one of `ms|s|m|h|d` (no spaces, no sign, no fractions, no bare numbers: a bare `90` is
 * ambiguous, so callers report it with {@link DURATION_HINT}).
 */
export function parseDuration (text: string): number | undefined {
  const match = DURATION_RE.exec(text)
  if (match === null) return undefined
  const [, digits, unit] = match
  if (digits === undefined || unit === undefined) return undefined
  const factor = UNIT_MS[unit]
  if (factor === undefined) return undefined
  const ms = Number(digits) * factor
  return Number.isSafeInteger(ms) ? ms : undefined
}

/** The inverse of {@link parseDuration}: `ms` in the largest unit that divides it (`90d`, `10s`, `500ms`). */
export function formatDuration (ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const factor = UNIT_MS[unit] as number
    if (ms !== 0 && ms % factor === 0) return `${ms / factor}${unit}`
  }
  return `${ms}ms`
}
