import test from 'ava'
import { deadline } from '../../src/util/deadline.js'

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
