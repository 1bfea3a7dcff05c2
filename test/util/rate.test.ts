import test from 'ava'
import { MAX_RATE_WINDOW_MS, parseRate } from '../../src/util/rate.js'

test('parseRate reads N/second|minute|hour|day (SPEC §4) with the 429 wording of SPEC §1', t => {
  t.deepEqual(parseRate('5/minute'), { limit: 5, windowMs: 60_000, text: '5 per 1 minute' })
  t.deepEqual(parseRate('30/minute'), { limit: 30, windowMs: 60_000, text: '30 per 1 minute' })
  t.deepEqual(parseRate('1/second'), { limit: 1, windowMs: 1_000, text: '1 per 1 second' })
  t.deepEqual(parseRate('1000/hour'), { limit: 1000, windowMs: 3_600_000, text: '1000 per 1 hour' })
  t.deepEqual(parseRate('10000/day'), { limit: 10000, windowMs: 86_400_000, text: '10000 per 1 day' })
})

test('parseRate accepts the Python limits notation the old server was configured with', t => {
  t.deepEqual(parseRate('5 per minute'), { limit: 5, windowMs: 60_000, text: '5 per 1 minute' })
  t.deepEqual(parseRate('100/5 minutes'), { limit: 100, windowMs: 300_000, text: '100 per 5 minutes' })
  t.deepEqual(parseRate('10 per 2 seconds'), { limit: 10, windowMs: 2_000, text: '10 per 2 seconds' })
  t.deepEqual(parseRate('5/MINUTE'), { limit: 5, windowMs: 60_000, text: '5 per 1 minute' })
  t.deepEqual(parseRate(' 5/minutes '), { limit: 5, windowMs: 60_000, text: '5 per 1 minute' })
  t.deepEqual(parseRate('5/m'), { limit: 5, windowMs: 60_000, text: '5 per 1 minute' })
  t.deepEqual(parseRate('2/s'), { limit: 2, windowMs: 1_000, text: '2 per 1 second' })
  t.deepEqual(parseRate('2/h'), { limit: 2, windowMs: 3_600_000, text: '2 per 1 hour' })
})

test('parseRate refuses anything else', t => {
  for (const bad of [
    '', '5', 'minute', '/minute', '5/', '0/minute', '-1/minute', '1.5/minute', '5/0 minutes', '5/fortnight',
    '5/ms', '5 per m', '5per minute', '5/minute/hour', '5/2/minute', '5/minute;drop', '1e3/minute',
    '9999999999/minute', '5/2 days'
  ]) {
    t.is(parseRate(bad), undefined, `"${bad}" should be refused`)
  }
})

test('parseRate caps the window at one day', t => {
  t.is(parseRate('1/24 hours')?.windowMs, MAX_RATE_WINDOW_MS)
  t.is(parseRate('1/25 hours'), undefined)
  t.is(parseRate('1/1441 minutes'), undefined)
})
