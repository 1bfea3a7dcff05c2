import { execFile } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import test from 'ava'
import { createRepeatingTask, singleFlight } from '../../src/util/task.js'
import { createLogger } from '../../src/log/index.js'
import type { LogFields } from '../../src/log/index.js'

/** Polls `check` every 5 ms, at most `ms`; the test asserts the result. */
async function until (check: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

function recordingLogger (): { logger: ReturnType<typeof createLogger>, lines: Array<{ msg: string, fields?: LogFields }> } {
  const lines: Array<{ msg: string, fields?: LogFields }> = []
  const logger = createLogger({ level: 'debug', stream: { write: () => true } })
  return {
    lines,
    logger: { ...logger, warn: (msg, fields) => { lines.push({ msg, fields }) } }
  }
}

test('a repeating task never overlaps its runs, even when asked to run while one is in flight', async t => {
  let active = 0
  let maxActive = 0
  let runs = 0
  const task = createRepeatingTask(async () => {
    active++
    maxActive = Math.max(maxActive, active)
    await new Promise((resolve) => setTimeout(resolve, 20))
    runs++
    active--
  }, { intervalMs: 1, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  task.start()
  for (let i = 0; i < 20; i++) {
    task.run()
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  t.true(await until(() => runs >= 5))
  t.is(maxActive, 1)
})

test('run() during a run is coalesced into exactly one more run', async t => {
  let runs = 0
  const release = Promise.withResolvers<void>()
  const task = createRepeatingTask(async () => {
    runs++
    if (runs === 1) await release.promise
  }, { intervalMs: 60_000, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.true(await until(() => runs === 1))
  task.run()
  task.run()
  task.run()
  release.resolve()
  t.true(await until(() => runs === 2))
  // The follow-up ran once; the next run is an interval (a minute) away.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.is(runs, 2)
})

test('stop() aborts the run in flight and resolves only after it finished; stop is idempotent', async t => {
  let finished = false
  let sawAbort = false
  const started = Promise.withResolvers<void>()
  const task = createRepeatingTask(async ({ signal }) => {
    started.resolve()
    await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    sawAbort = signal.aborted
    // Cleanup after the abort still belongs to the run.
    await new Promise((resolve) => setTimeout(resolve, 30))
    finished = true
  }, { intervalMs: 10, runImmediately: true })
  task.start()
  await started.promise
  t.true(task.isStarted())
  await task.stop()
  t.true(sawAbort)
  t.true(finished)
  t.false(task.isStarted())
  await task.stop()
  await Promise.all([task.stop(), task.stop()])
  t.pass()
})

test('a task can be started again after stop()', async t => {
  let runs = 0
  const task = createRepeatingTask(() => { runs++ }, { intervalMs: 5, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.true(await until(() => runs >= 1))
  await task.stop()
  const stoppedAt = runs
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.is(runs, stoppedAt)
  task.start()
  t.true(await until(() => runs > stoppedAt))
})

test('runImmediately starts the first run in a microtask, before the caller of start() goes on', async t => {
  let runs = 0
  const task = createRepeatingTask(() => { runs++ }, { intervalMs: 60_000, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.is(runs, 0)
  await null
  t.is(runs, 1)
})

test('run() right after start() with runImmediately is one run, not two', async t => {
  let runs = 0
  const task = createRepeatingTask(() => { runs++ }, { intervalMs: 60_000, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  task.run()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.is(runs, 1)
})

test('a stop() and start() before the first run leave exactly one first run', async t => {
  let runs = 0
  const task = createRepeatingTask(() => { runs++ }, { intervalMs: 60_000, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  void task.stop()
  task.start()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.is(runs, 1)
})

test('a failed run is logged and the loop keeps going', async t => {
  const { logger, lines } = recordingLogger()
  let runs = 0
  const task = createRepeatingTask(() => {
    runs++
    if (runs <= 2) throw new Error(`boom ${runs}`)
  }, { intervalMs: 1, runImmediately: true, logger, name: 'test round' })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.true(await until(() => runs >= 4))
  t.is(lines.filter((l) => l.msg === 'test round failed').length, 2)
  t.is((lines[0]?.fields?.err as Error).message, 'boom 1')
})

test('timeoutMs aborts a run that takes too long', async t => {
  let aborted = false
  const task = createRepeatingTask(async ({ signal }) => {
    await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    aborted = true
  }, { intervalMs: 60_000, runImmediately: true, timeoutMs: 20 })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.true(await until(() => aborted))
})

test('setInterval while a run is in flight keeps one loop (no second timer chain)', async t => {
  let active = 0
  let maxActive = 0
  let runs = 0
  let interval = 5
  const task = createRepeatingTask(async () => {
    active++
    maxActive = Math.max(maxActive, active)
    runs++
    // Back-off from inside the run, as the bootstrap redial does.
    interval = interval === 5 ? 6 : 5
    task.setInterval(interval)
    await new Promise((resolve) => setTimeout(resolve, 5))
    active--
  }, { intervalMs: interval, runImmediately: true })
  t.teardown(async () => { await task.stop() })
  task.start()
  t.true(await until(() => runs >= 10))
  t.is(maxActive, 1)
})

test('setInterval re-arms a waiting timer', async t => {
  let runs = 0
  const task = createRepeatingTask(() => { runs++ }, { intervalMs: 60_000 })
  t.teardown(async () => { await task.stop() })
  task.start()
  task.setInterval(5)
  t.true(await until(() => runs >= 2))
})

test('a started task does not keep the process alive (its timers are unref\'d)', async t => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const module = pathToFileURL(fileURLToPath(new URL('../../src/util/task.ts', import.meta.url))).href
  const script = `
    import { createRepeatingTask } from ${JSON.stringify(module)}
    const task = createRepeatingTask(() => {}, { intervalMs: 20, runImmediately: true })
    task.start()
    const idle = createRepeatingTask(() => {}, { intervalMs: 600000 })
    idle.start()
  `
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 30_000 }, (err) => {
      if (err !== null && child.exitCode === null) reject(err)
      else resolve(child.exitCode)
    })
  })
  t.is(code, 0)
})

test('singleFlight runs one at a time and folds requests made meanwhile into one more run', async t => {
  let runs = 0
  let active = 0
  let maxActive = 0
  const gates: Array<PromiseWithResolvers<void>> = []
  const flight = singleFlight(async () => {
    active++
    maxActive = Math.max(maxActive, active)
    runs++
    const gate = Promise.withResolvers<void>()
    gates.push(gate)
    await gate.promise
    active--
  })
  const first = flight.run()
  t.true(flight.isRunning())
  const followers = [flight.run(), flight.run(), flight.run()]
  t.is(runs, 1)
  gates[0]?.resolve()
  t.true(await until(() => runs === 2))
  gates[1]?.resolve()
  await Promise.all([first, ...followers])
  t.is(runs, 2)
  t.is(maxActive, 1)
  t.false(flight.isRunning())
  // Idle again: the next request runs at once.
  const next = flight.run()
  t.is(runs, 3)
  gates[2]?.resolve()
  await next
})

test('singleFlight reports a failure, resolves its callers and runs again afterwards', async t => {
  const errors: unknown[] = []
  let runs = 0
  const flight = singleFlight(async () => {
    runs++
    if (runs === 1) throw new Error('first fails')
  }, { onError: (err) => { errors.push(err) } })
  await flight.run()
  await flight.run()
  t.is(runs, 2)
  t.is(errors.length, 1)
  t.is((errors[0] as Error).message, 'first fails')
})

test('singleFlight drain() drops the pending follow-up and awaits the run in flight', async t => {
  let runs = 0
  const gate = Promise.withResolvers<void>()
  let finished = false
  const flight = singleFlight(async () => {
    runs++
    await gate.promise
    finished = true
  })
  void flight.run()
  void flight.run()
  const drained = flight.drain()
  gate.resolve()
  await drained
  t.true(finished)
  t.is(runs, 1)
  t.false(flight.isRunning())
})
