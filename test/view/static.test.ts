import test from 'ava'
import { createStaticView, EMPTY_SNAPSHOT } from '../../src/view/index.js'

const content = { ...EMPTY_SNAPSHOT, ready: true }

test('a throwing change listener does not stop the others; by default set throws its error after all have run', (t) => {
  const view = createStaticView()
  const seen: number[] = []
  view.onChange(() => { throw new Error('bad subscriber') })
  view.onChange((s) => { seen.push(s.version) })
  t.throws(() => view.set(content), { message: 'bad subscriber' })
  t.deepEqual(seen, [1])
  t.is(view.current().version, 1)
})

test('with onListenerError every listener error is reported there and set returns the new snapshot', (t) => {
  const errors: unknown[] = []
  const view = createStaticView(undefined, { onListenerError: (err) => { errors.push(err) } })
  const seen: number[] = []
  view.onChange(() => { throw new Error('one') })
  view.onChange(() => { throw new Error('two') })
  const off = view.onChange((s) => { seen.push(s.version) })
  t.is(view.set(content).version, 1)
  off()
  view.set(content)
  t.deepEqual(seen, [1])
  t.deepEqual(errors.map((e) => (e as Error).message), ['one', 'two', 'one', 'two'])
})
