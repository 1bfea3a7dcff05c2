import test from 'ava'
import { formatDuration, parseDuration } from '../../src/util/duration.js'

test('parseDuration accepts every SPEC §4 unit', t => {
  t.is(parseDuration('500ms'), 500)
  t.is(parseDuration('10s'), 10_000)
  t.is(parseDuration('5m'), 300_000)
  t.is(parseDuration('1h'), 3_600_000)
  t.is(parseDuration('90d'), 90 * 86_400_000)
  t.is(parseDuration('0s'), 0)
})

test('parseDuration rejects anything else', t => {
  for (const bad of ['', '90', 'd', '1.5h', '-1h', ' 1h', '1h ', '1 h', '1H', '1w', '1y', '1h30m', 'ms', '1e3s', '99999999999999999d']) {
    t.is(parseDuration(bad), undefined, `"${bad}" should be refused`)
  }
})

test('formatDuration is the inverse of parseDuration, in the largest whole unit', t => {
  for (const text of ['500ms', '10s', '5m', '1h', '90d', '1500ms', '90m']) t.is(formatDuration(parseDuration(text) ?? -1), text)
  t.is(formatDuration(0), '0ms')
})
