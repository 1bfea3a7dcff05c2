/**
 * Node 20 lacks `Promise.withResolvers` (added in Node 22), and js-libp2p 3 and its
 * dependencies call it at run time. Every entry point (bin/*, src/index.ts) and the
 * test runner (ava `require`) load this module first.
 *
 * Remove this file and its imports when `engines.node` no longer includes Node 20.
 */
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor): PromiseWithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}
