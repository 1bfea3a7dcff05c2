/**
 * The two shapes of background work every component here needs (STYLE "Loops and single-flight
 * work come from one helper"):
 * - {@link createRepeatingTask}: run a function every interval, never two runs at once;
 * - {@link singleFlight}: run a function on demand, at most once at a time, coalescing the
 *   requests that arrive while it runs into exactly one more run.
 *
 * The loop keeps the shape of `repeatingTask` from `@libp2p/utils` (a function that takes
 * `{ signal }`, an interval, `timeout` / `runImmediately`, `run()` and `setInterval()`), but is
 * not built on it, because `repeatingTask` (7.4.1) lacks what STYLE rule 5 asks of a component's
 * timers, and none of it can be added from outside:
 * - its timers are not unref'd and are not reachable to unref, so a started task keeps the
 *   process alive;
 * - `stop()` returns `void`: it aborts the signal but cannot be awaited, so a run in flight
 *   outlives its component's `stop()`;
 * - a run's failure is swallowed without a trace;
 * - `setInterval()` called while a run is in flight (the back-off case: "retry sooner, then
 *   slower") schedules a timer of its own and the run's end schedules another, so two loops run
 *   from then on; and a debounced `run()` still fires after `stop()`.
 */
import { silentLogger } from '../log/index.js'
import { deadline } from './deadline.js'
import type { Logger } from '../log/index.js'

/** What a run of a {@link RepeatingTask} is given. */
export interface TaskRunOptions {
  /** Aborts when the task is stopped, or when the run exceeds {@link RepeatingTaskInit.timeoutMs}. */
  signal: AbortSignal
}

export interface RepeatingTaskInit {
  /** Rest between the end of one run and the start of the next, ms. Changeable with {@link RepeatingTask.setInterval}. */
  intervalMs: number
  /** A run's signal aborts after this many ms. Default: no bound but `stop()`. */
  timeoutMs?: number
  /**
   * Run as soon as started (in a microtask, as `repeatingTask` does, so the run begins before
   * the caller of `start()` goes on; e.g. a bootstrap dial is already pending when the node's
   * start resolves) instead of one interval later. Default false.
   */
  runImmediately?: boolean
  /** Where a failed run is reported (at `warn`; the loop goes on). Default: silent. */
  logger?: Logger
  /** Names the work in the failure line, `<name> failed`, e.g. `heartbeat round`. Default `task`. */
  name?: string
}

export interface RepeatingTask {
  /** Starts the loop (first run at once or after one interval, see `runImmediately`). Idempotent. */
  start: () => void
  /**
   * Stops the loop: clears the timer, aborts the signal of the run in flight and resolves once
   * that run has finished, so nothing the task does outlives it. Idempotent; never rejects.
   */
  stop: () => Promise<void>
  /**
   * Runs now instead of at the next tick; while a run is in flight, runs once more right after it
   * (however often it was asked). Ignored while stopped.
   */
  run: () => void
  /** Changes the rest before the next run; a timer already waiting is re-armed with it, counted from now. */
  setInterval: (ms: number) => void
  /** True between start() and stop(). */
  isStarted: () => boolean
}

/**
 * A loop that runs `fn` every `intervalMs` (measured from the end of a run, so runs never
 * overlap), with unref'd timers; a run that throws is logged and the loop goes on.
 */
export function createRepeatingTask (fn: (options: TaskRunOptions) => void | Promise<void>, init: RepeatingTaskInit): RepeatingTask {
  const log = init.logger ?? silentLogger
  const name = init.name ?? 'task'
  let intervalMs = init.intervalMs
  let started = false
  let controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> | undefined
  let again = false
  /** Bumped by start() and stop(), so a microtask queued by an earlier start() does nothing. */
  let generation = 0
  /** The runImmediately microtask is queued: a run() now is already served by it. */
  let immediate = false

  const schedule = (ms: number): void => {
    clearTimeout(timer)
    timer = setTimeout(tick, ms)
    timer.unref()
  }

  function tick (): void {
    timer = undefined
    if (!started) return
    if (inFlight !== undefined) {
      // A start() after a stop() whose run is still finishing: go once that run ends.
      again = true
      return
    }
    const stopSignal = controller.signal
    const bound = init.timeoutMs === undefined ? undefined : deadline(init.timeoutMs, stopSignal)
    const signal = bound?.signal ?? stopSignal
    inFlight = (async () => {
      try {
        await fn({ signal })
      } catch (err) {
        // Cut short by stop(): expected, not a failure.
        if (!stopSignal.aborted) log.warn(`${name} failed`, { err })
      } finally {
        bound?.clear()
      }
    })().finally(() => {
      inFlight = undefined
      if (!started) return
      const soon = again
      again = false
      schedule(soon ? 0 : intervalMs)
    })
  }

  return {
    start: () => {
      if (started) return
      started = true
      controller = new AbortController()
      const current = ++generation
      if (init.runImmediately === true) {
        immediate = true
        queueMicrotask(() => {
          if (current !== generation) return
          immediate = false
          tick()
        })
      } else {
        schedule(intervalMs)
      }
    },
    stop: async () => {
      started = false
      again = false
      generation++
      immediate = false
      clearTimeout(timer)
      timer = undefined
      controller.abort()
      await inFlight
    },
    run: () => {
      if (!started) return
      if (inFlight !== undefined) again = true
      else if (!immediate) schedule(0)
    },
    setInterval: (ms) => {
      intervalMs = ms
      if (timer !== undefined) schedule(ms)
    },
    isStarted: () => started
  }
}

/** A function run at most once at a time; see {@link singleFlight}. */
export interface SingleFlight {
  /**
   * Runs the function, or, while it runs, asks for exactly one more run after it (requests made
   * meanwhile are folded into that one). Resolves when a run that started after this call has
   * finished; never rejects (failures go to `onError`).
   */
  run: () => Promise<void>
  /** True while a run (or its follow-up) is in flight. */
  isRunning: () => boolean
  /** Drops a pending follow-up run and resolves when the run in flight has finished. Later `run()` calls work as before. */
  drain: () => Promise<void>
}

export interface SingleFlightInit {
  /** Told of a run that threw or rejected. Default: ignored. */
  onError?: (err: unknown) => void
}

/**
 * Single flight with a rerun: for work whose inputs may change while it runs (a rebuild, a
 * reload), a request during a run must not be lost, nor start a second run beside it.
 */
export function singleFlight (fn: () => Promise<void>, init: SingleFlightInit = {}): SingleFlight {
  let inFlight: Promise<void> | undefined
  let again = false

  const loop = async (): Promise<void> => {
    do {
      again = false
      try {
        await fn()
      } catch (err) {
        try { init.onError?.(err) } catch {}
      }
    } while (again)
  }

  return {
    run: async () => {
      if (inFlight !== undefined) {
        again = true
        await inFlight
        return
      }
      inFlight = loop().finally(() => { inFlight = undefined })
      await inFlight
    },
    isRunning: () => inFlight !== undefined,
    drain: async () => {
      again = false
      await inFlight
    }
  }
}
