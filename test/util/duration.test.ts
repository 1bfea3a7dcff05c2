import test from 'ava'
import { parseDuration } from '../../src/util/duration.js'

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
