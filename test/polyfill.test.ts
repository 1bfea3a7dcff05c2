import test from 'ava'

test('Promise.withResolvers is available before any test runs (Node 20 polyfill)', async t => {
  t.is(typeof Promise.withResolvers, 'function')
  const { promise, resolve } = Promise.withResolvers<number>()
  resolve(42)
  t.is(await promise, 42)
})
