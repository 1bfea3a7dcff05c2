/**
 * "Today" and "this week" (SPEC §1 "Key usage"): UTC days and ISO 8601 weeks, and how the counts
 * roll over when the day or the week changes.
 */
import { join } from 'node:path'
import test from 'ava'
import { createMetricsRegistry } from '../../src/util/metrics.js'
import { createKeyUsage, isoWeek, readUsageFile, requestsThisWeek, requestsToday, utcDay } from '../../src/usage/index.js'
import { tempDir } from '../helpers/fs.js'

test('ISO weeks across year boundaries, in UTC', t => {
  t.is(isoWeek(Date.parse('2026-01-01T00:00:00Z')), '2026-W01', 'a Thursday: week 1')
  t.is(isoWeek(Date.parse('2027-01-01T12:00:00Z')), '2026-W53', 'a Friday: the last week of the year before')
  t.is(isoWeek(Date.parse('2024-12-30T00:00:00Z')), '2025-W01', 'a Monday: the first week of the next year')
  t.is(isoWeek(Date.parse('2026-12-06T23:59:59Z')), '2026-W49', 'Sunday ends the week')
  t.is(isoWeek(Date.parse('2026-12-07T00:00:00Z')), '2026-W50', 'Monday starts the next')
  t.is(utcDay(Date.parse('2026-12-01T23:30:00-02:00')), '2026-12-02', 'the UTC day, not the local one')
})

test('counts roll over at UTC midnight and on Mondays; totals and last use carry on', async t => {
  const dir = await tempDir(t)
  let now = Date.parse('2026-12-05T23:59:00Z') // a Saturday
  const usage = createKeyUsage({ dataDir: dir, flushIntervalMs: 600_000, now: () => now }, { registry: createMetricsRegistry() })
  await usage.start()
  t.teardown(async () => { await usage.stop() })
  usage.record('a', 200, '127.0.0.2')
  usage.record('a', 429, '127.0.0.2')
  await usage.flush()
  now = Date.parse('2026-12-06T00:01:00Z') // Sunday: a new day, the same week
  usage.record('a', 403, '127.0.0.3')
  await usage.flush()
  const sunday = (await readUsageFile(join(dir, 'key-usage.json')))?.owners.a
  t.like(sunday, { requests: 3, day: '2026-12-06', requests_today: 1, week: '2026-W49', requests_week: 3, forbidden: 1, rate_limited: 1, last_ip: '127.0.0.3', last_used_at: '2026-12-06T00:01:00.000Z' })
  if (sunday === undefined) return
  // read on Monday: nothing today, nothing this week
  const monday = Date.parse('2026-12-07T08:00:00Z')
  t.is(requestsToday(sunday, monday), 0)
  t.is(requestsThisWeek(sunday, monday), 0)
  t.is(requestsToday(sunday, Date.parse('2026-12-06T22:00:00Z')), 1)
  now = monday
  usage.record('a', 200, '127.0.0.2')
  t.like(usage.usage().a, { requests: 4, requests_today: 1, requests_week: 1, week: '2026-W50' })
})
