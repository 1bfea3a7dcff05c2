import { getEventListeners } from 'node:events'
import test from 'ava'
import { deadline, settleWithin, untilAborted } from '../../src/util/deadline.js'

test('aborts with a TimeoutError after ms, even with no reference kept to anything but the signal', async t => {
  const { signal } = deadline(20, new AbortController().signal)
  // Pressure the GC where it is exposed (node --expose-gc); the timer holds its controller anyway.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
  t.is((signal.reason as DOMException).name, 'TimeoutError')
})

test('aborts with the reason of a given signal first; clear() stops the timer', async t => {
  const outer = new AbortController()
  const bound = deadline(60_000, outer.signal)
  outer.abort(new Error('stopped'))
  t.true(bound.signal.aborted)
  t.is((bound.signal.reason as Error).message, 'stopped')
  bound.clear()
  const quiet = deadline(10)
  quiet.clear()
  await new Promise((resolve) => setTimeout(resolve, 40))
  t.false(quiet.signal.aborted)
})

test('clear() unlinks a long-lived source: nothing stays registered on it, and its later abort no longer reaches the deadline', t => {
  const owner = new AbortController()
  const bounds = Array.from({ length: 100 }, () => deadline(60_000, owner.signal))
  t.is(getEventListeners(owner.signal, 'abort').length, 100)
  for (const b of bounds) b.clear()
  t.is(getEventListeners(owner.signal, 'abort').length, 0)
  owner.abort(new Error('stopped'))
  t.false(bounds.some(b => b.signal.aborted))
  const already = deadline(60_000, owner.signal)
  t.true(already.signal.aborted, 'a source aborted before the call aborts at once')
  already.clear()
})

test('settleWithin: the work\'s value or rejection when it settles in time', async t => {
  t.is(await settleWithin(Promise.resolve('done'), 60_000, () => 'late'), 'done')
  await t.throwsAsync(settleWithin(Promise.reject(new Error('broken')), 60_000, () => 'late'), { message: 'broken' })
})

test('settleWithin: onTimeout\'s value, or its throw, when the work is too slow; a late rejection is handled', async t => {
  // Ref'd timers here: with nothing else pending, an unref'd one would let the worker exit first.
  const ref = { unref: false }
  const never = new Promise<string>(() => {})
  t.is(await settleWithin(never, 10, () => 'late', ref), 'late')
  await t.throwsAsync(settleWithin(never, 10, () => { throw new Error('no answer within 10 ms') }, ref), { message: 'no answer within 10 ms' })
  const slow = Promise.withResolvers<string>()
  t.false(await settleWithin(slow.promise, 10, () => false, ref))
  // Would fail the test as an unhandled rejection if nothing listened any more.
  slow.reject(new Error('too late to matter'))
  await new Promise((resolve) => setImmediate(resolve))
})

test.serial('settleWithin: the timer is cleared when the work wins, unref\'d unless asked not to be', async t => {
  let fired = 0
  for (const unref of [true, false]) {
    t.is(await settleWithin(Promise.resolve(1), 20, () => { fired++; return 2 }, { unref }), 1)
  }
  // A handle left behind would show here; and a cleared timer never calls onTimeout.
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.is(fired, 0)
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  const pending = Promise.withResolvers<number>()
  const unrefd = settleWithin(pending.promise, 60_000, () => 0)
  t.is(timers(), before, 'an unref\'d timer is not an active resource')
  const refd = settleWithin(pending.promise, 60_000, () => 0, { unref: false })
  t.is(timers(), before + 1, 'a ref\'d one is')
  pending.resolve(3)
  t.deepEqual(await Promise.all([unrefd, refd]), [3, 3])
  t.is(timers(), before, 'and it is cleared once the work settles')
})

test('untilAborted: the work\'s outcome, or the signal\'s reason as soon as it aborts; a late rejection is handled', async t => {
  t.is(await untilAborted(Promise.resolve(1), new AbortController().signal), 1)
  t.is(await untilAborted(Promise.resolve(2)), 2)
  const controller = new AbortController()
  let fail = (_err: Error): void => {}
  const hung = new Promise<never>((_resolve, reject) => { fail = reject })
  const raced = untilAborted(hung, controller.signal)
  controller.abort(new Error('stopped'))
  await t.throwsAsync(raced, { message: 'stopped' })
  fail(new Error('late'))
  await t.throwsAsync(untilAborted(Promise.resolve(3), controller.signal), { message: 'stopped' }, 'already aborted: at once')
})
