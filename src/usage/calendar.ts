/**
 * "Today" and "this week" of the usage counts (SPEC §1 "Key usage"): UTC calendar days and ISO 8601
 * weeks (Monday to Sunday, UTC; week 1 holds the year's first Thursday), so every instance and the
 * CLI agree whatever their time zone.
 */

/** `2026-12-01` for an instant (ms). */
export function utcDay (ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/** `2026-W49`: the ISO 8601 week of an instant (ms), in UTC. */
export function isoWeek (ms: number): string {
  const d = new Date(ms)
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  // Monday = 1 … Sunday = 7; the Thursday of this week decides the week's year.
  const weekday = day.getUTCDay() === 0 ? 7 : day.getUTCDay()
  day.setUTCDate(day.getUTCDate() + 4 - weekday)
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1)
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7)
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}
