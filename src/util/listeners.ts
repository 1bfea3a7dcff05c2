/**
 * The change-notification set every component with `onChange` keeps: add returns an
 * unsubscribe function; emit calls each listener, and one that throws is reported through
 * `onError` without stopping the others (a bad subscriber must not break a collector).
 */
export interface Listeners<A extends unknown[]> {
  add: (listener: (...args: A) => void) => () => void
  emit: (...args: A) => void
}

export function createListeners<A extends unknown[]> (onError: (err: unknown) => void): Listeners<A> {
  const set = new Set<(...args: A) => void>()
  return {
    add: (listener) => {
      set.add(listener)
      return () => { set.delete(listener) }
    },
    emit: (...args) => {
      // A copy: a listener may unsubscribe itself while we iterate.
      for (const listener of [...set]) {
        try {
          listener(...args)
        } catch (err) {
          onError(err)
        }
      }
    }
  }
}
