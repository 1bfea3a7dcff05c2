/**
 * A signal that aborts when any of `signals` does, or `ms` after it is made, whichever is first.
 *
 * Why not `AbortSignal.any([..., AbortSignal.timeout(ms)])`: Node holds an `AbortSignal.timeout`
 * signal only weakly, and `AbortSignal.any` holds its sources weakly too, so the timeout signal can
 * be garbage-collected before it fires and the combined signal then never times out (seen here as a
 * flaky test under GC pressure; nodejs/node#48951). Here the timer holds its controller strongly
 * until it fires or `clear()` is called; the timer is unref'd, so it never keeps the process alive.
 */
export interface Deadline {
  signal: AbortSignal
  /** Cancels the timer (call it when the work is done). Idempotent. */
  clear: () => void
}

export function deadline (ms: number, ...signals: AbortSignal[]): Deadline {
  const controller = new AbortController()
  const timer = setTimeout(() => {
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  timer.unref()
  // Linked by listeners that clear() removes, not AbortSignal.any: that registers each combined
  // signal on its sources until they go away, so a long-lived source (a component's stop signal)
  // grew by ~53 bytes per call, once per push, ping or sync stream.
  const links: Array<{ source: AbortSignal, onAbort: () => void }> = []
  for (const source of signals) {
    if (source.aborted) {
      controller.abort(source.reason)
      break
    }
    const onAbort = (): void => { controller.abort(source.reason) }
    source.addEventListener('abort', onAbort, { once: true })
    links.push({ source, onAbort })
  }
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      for (const { source, onAbort } of links.splice(0)) source.removeEventListener('abort', onAbort)
    }
  }
}

export interface SettleWithinOptions {
  /** Unref the timer, so it never keeps the process alive (default `true`, as {@link deadline}'s). */
  unref?: boolean
}

/**
 * `work`'s outcome, or `onTimeout()`'s if `work` has not settled within `ms`: its value, or its
 * throw as the rejection. The timer is cleared as soon as either side wins. `work` is not
 * cancelled (pass it a {@link deadline} signal for that); its later rejection is handled here.
 */
export async function settleWithin<T, U> (work: PromiseLike<T>, ms: number, onTimeout: () => U, options: SettleWithinOptions = {}): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout())
      } catch (err) {
        reject(err)
      }
    }, ms)
    if (options.unref !== false) timer.unref()
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `work`'s outcome, or a rejection with `signal`'s reason as soon as it aborts (at once if it
 * already has). `work` is not cancelled; its later rejection is handled here.
 */
export async function untilAborted<T> (work: PromiseLike<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await work
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
