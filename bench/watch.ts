/**
 * Live feed benchmark (issue 13): `node --import tsx bench/watch.ts` (or `npm run bench -- watch`).
 *
 * Three processes: the API over a 20-peer view (as bench/api.ts), the 200 watchers, and this one
 * (autocannon and the orchestration), so parsing the streams never takes CPU from the load generator.
 *   - fan-out: 200 `/v1/watch` streams open; the server changes one heartbeat (asked over IPC) and
 *     notes when; the watchers note when each stream has the new `heartbeat` event; the figure is
 *     the time from the change to the LAST of the 200 (one clock: performance.timeOrigin + now),
 *     over CHANGES changes; goal ≤ 100 ms on loopback.
 *   - REST cost: autocannon req/s on /v1/get_heartbeat with no stream open, then with 200 streams
 *     open, a change every CHANGE_EVERY_MS in both; alternating rounds, best of each; goal: the
 *     streams cost under 10 % of req/s.
 */
import '../src/polyfill.js'
import { fork, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const WATCHERS = 200
const PEERS = 20
const CHANGES = 20
const CHANGE_EVERY_MS = 500
const DURATION_S = 4
const ROUNDS = 2
const CONNECTIONS = 10
const BENCH_KEY = 'key-bench-watch-0123456789abcdef0123456789'
const CHILD_START_TIMEOUT_MS = 30_000
const FANOUT_GOAL_MS = 100
const REST_COST_GOAL = 0.10

const self = fileURLToPath(import.meta.url)
/** A wall clock with sub-millisecond resolution that every process on the machine shares. */
const now = (): number => performance.timeOrigin + performance.now()

interface AutocannonResult { requests: { average: number, total: number }, latency: { p99: number }, non2xx: number, errors: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>
type Run = AutocannonResult & { cpuUsPerRequest: number }

/** Child role: the API over a static view; `change` makes one heartbeat newer and answers with when. */
async function serve (): Promise<void> {
  const { createApiServer } = await import('../src/api/index.js')
  const { createKeySet } = await import('../src/keys/index.js')
  const { createStaticView } = await import('../src/view/index.js')
  const { makePeerIds, makeSnapshot } = await import('../test/helpers/api.js')
  const base = makeSnapshot(await makePeerIds(PEERS))
  const view = createStaticView(base)
  const keySet = createKeySet([{ owner: 'bench', key: BENCH_KEY, active: true }])
  const server = createApiServer({
    host: '127.0.0.1', port: 0, rateLimit: { limit: 1e9, windowMs: 60_000 }, authFailLimit: { limit: 1e9, windowMs: 60_000 }, maxWatchersPerKey: WATCHERS + 10, maxWatchers: WATCHERS + 10
  }, { view, keys: { current: () => keySet } })
  await server.start()
  let n = 0
  process.on('message', (m: { change?: number, cpu?: true }) => {
    if (m.cpu === true) {
      const c = process.cpuUsage()
      process.send?.({ cpuUs: c.user + c.system })
      return
    }
    if (m.change === undefined) return
    n++
    const at = now()
    view.set({ ...base, heartbeats: base.heartbeats.map((h, i) => i === 0 ? { ...h, expiration_time: h.expiration_time + n } : h) })
    process.send?.({ changedAt: at, change: m.change })
  })
  process.send?.({ port: server.address().port })
}

/** Child role: WATCHERS streams; `{ wait: counts }` answers once every stream has more heartbeats, with the arrival times. */
async function watch (port: number): Promise<void> {
  const { openWatch } = await import('../test/helpers/sse.js')
  const counts = new Array<number>(WATCHERS).fill(0)
  const events = new Array<number>(WATCHERS).fill(0)
  const arrivals = new Array<number>(WATCHERS).fill(0)
  let waiting: { before: number[], resolve: () => void } | undefined
  const check = (): void => {
    if (waiting !== undefined && counts.every((c, i) => c > (waiting?.before[i] ?? 0))) waiting.resolve()
  }
  await Promise.all(Array.from({ length: WATCHERS }, async (_v, i) => await openWatch(port, BENCH_KEY, {
    localAddress: `127.0.0.${2 + (i % 50)}`,
    keep: false,
    onEvent: (e) => {
      events[i] = (events[i] ?? 0) + 1
      if (e.event !== 'heartbeat') return
      counts[i] = (counts[i] ?? 0) + 1
      arrivals[i] = performance.timeOrigin + e.at
      check()
    }
  })))
  const { waitFor } = await import('../test/helpers/wait.js')
  await waitFor(() => events.every(n => n >= 3), { timeoutMs: 20_000, what: 'initial events on every stream' })
  process.on('message', (m: { wait?: number[], counts?: true }) => {
    if (m.counts === true) {
      process.send?.({ counts: [...counts] })
      return
    }
    const done = Promise.withResolvers<void>()
    waiting = { before: m.wait ?? [], resolve: done.resolve }
    check()
    void done.promise.then(() => {
      waiting = undefined
      process.send?.({ arrivals: [...arrivals] })
    })
  })
  process.send?.({ ready: true })
}

async function startChild (args: string[], what: string): Promise<{ child: ChildProcess, first: Record<string, unknown> }> {
  // WATCH_CPU_PROF=<dir>: each child writes its CPU profile there (node --cpu-prof), as bench/attack.ts.
  const prof = process.env.WATCH_CPU_PROF
  const execArgv = ['--import', 'tsx', ...(prof === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', prof])]
  const child = fork(self, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} did not start within ${CHILD_START_TIMEOUT_MS} ms`)) }, CHILD_START_TIMEOUT_MS)
    child.once('message', (m: Record<string, unknown>) => { clearTimeout(timer); resolve(m) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}`)) })
  })
  return { child, first }
}

/** Sends `message` and waits for the answer carrying `key` (and, when `id` is given, `change: id`). */
async function ask<T> (child: ChildProcess, message: unknown, key: string, id?: number): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ${key} answer within 15 s`)) }, 15_000)
    const onMessage = (m: Record<string, unknown>): void => {
      if (!(key in m) || (id !== undefined && m.change !== id)) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(m[key] as T)
    }
    child.on('message', onMessage)
    child.send(message as Record<string, unknown>)
  })
}

async function stop (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  // SIGTERM ends a child through process.exit, so that --cpu-prof can write its profile.
  child.kill(process.env.WATCH_CPU_PROF === undefined ? 'SIGKILL' : 'SIGTERM')
  await exited
}

function signed (n: number): string {
  return `${n >= 0 ? '+' : ''}${n.toFixed(1)}`
}

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

async function main (): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
  process.stdout.write(`watch bench: node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}; ` +
    `${PEERS}-peer view, ${WATCHERS} streams from 127.0.0.2-51; API, watchers and load generator in three processes\n`)
  const server = await startChild(['--serve'], 'the API')
  const port = server.first.port as number
  let watchers: ChildProcess | undefined
  try {
    const rest = async (): Promise<AutocannonResult> => await autocannon({
      url: `http://127.0.0.1:${port}/v1/get_heartbeat`, headers: { 'x-api-key': BENCH_KEY }, connections: CONNECTIONS, duration: DURATION_S
    })
    await rest() // warm-up
    let changes = 0
    const change = (): void => { server.child.send({ change: ++changes }) }

    // REST without and with the streams open, a change every CHANGE_EVERY_MS in both, alternating
    /** A REST run with the changes going on, and the server's CPU per request over it (its own cost, whatever else runs). */
    const changing = async (): Promise<Run> => {
      const cpu0 = await ask<number>(server.child, { cpu: true }, 'cpuUs')
      const ticker = setInterval(change, CHANGE_EVERY_MS)
      try {
        const r = await rest()
        const cpu1 = await ask<number>(server.child, { cpu: true }, 'cpuUs')
        return { ...r, cpuUsPerRequest: (cpu1 - cpu0) / Math.max(1, r.requests.total) }
      } finally {
        clearInterval(ticker)
      }
    }
    const without: Run[] = []
    const withStreams: Run[] = []
    for (let round = 0; round < ROUNDS; round++) {
      without.push(await changing())
      watchers = (await startChild(['--watch', String(port)], 'the watchers')).child
      withStreams.push(await changing())
      if (round === ROUNDS - 1) {
        // the streams have caught up with the changes of the REST run: their counts stand still
        let seen = await ask<number[]>(watchers, { counts: true }, 'counts')
        for (let i = 0; i < 50; i++) {
          await new Promise((resolve) => setTimeout(resolve, 200))
          const again = await ask<number[]>(watchers, { counts: true }, 'counts')
          if (again.join() === seen.join()) break
          seen = again
        }
        const lastMs: number[] = []
        const everyMs: number[] = []
        for (let c = 0; c < CHANGES; c++) {
          const before = await ask<number[]>(watchers, { counts: true }, 'counts')
          const arrived = ask<number[]>(watchers, { wait: before }, 'arrivals')
          const id = ++changes
          const changedAt = await ask<number>(server.child, { change: id }, 'changedAt', id)
          const delays = (await arrived).map(a => a - changedAt)
          everyMs.push(...delays)
          lastMs.push(Math.max(...delays))
        }
        const p50Last = percentile(lastMs, 0.5)
        process.stdout.write(`fan-out to ${WATCHERS} streams, ${CHANGES} changes: the last stream has it after p50 ${p50Last.toFixed(1)} ms, ` +
          `max ${Math.max(...lastMs).toFixed(1)} ms; a stream p50 ${percentile(everyMs, 0.5).toFixed(1)} ms ` +
          `(goal ≤ ${FANOUT_GOAL_MS} ms: ${p50Last <= FANOUT_GOAL_MS ? 'met' : 'NOT met'})\n`)
      }
      await stop(watchers)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const a = without.reduce((x, y) => y.requests.average > x.requests.average ? y : x)
    const b = withStreams.reduce((x, y) => y.requests.average > x.requests.average ? y : x)
    const cost = 1 - b.requests.average / a.requests.average
    process.stdout.write(`  REST /v1/get_heartbeat, no stream open      ${a.requests.average.toFixed(0).padStart(7)} req/s  p99 ${a.latency.p99.toFixed(1)} ms  server CPU ${a.cpuUsPerRequest.toFixed(0)} µs/req  (a change every ${CHANGE_EVERY_MS} ms in both)\n`)
    process.stdout.write(`  REST /v1/get_heartbeat, ${WATCHERS} streams open    ${b.requests.average.toFixed(0).padStart(7)} req/s  p99 ${b.latency.p99.toFixed(1)} ms  server CPU ${b.cpuUsPerRequest.toFixed(0)} µs/req ` +
      `(${signed((b.cpuUsPerRequest / a.cpuUsPerRequest - 1) * 100)} %: the streams' own cost on the server, which unlike req/s the watchers' process on the same cores does not disturb)\n`)
    process.stdout.write(`  cost of ${WATCHERS} streams: ${(cost * 100).toFixed(1)} % of req/s (goal < ${REST_COST_GOAL * 100} %: ${cost < REST_COST_GOAL ? 'met' : 'NOT met'})` +
      `${a.non2xx + b.non2xx + a.errors + b.errors > 0 ? '  (some responses were not 200!)' : ''}\n`)
  } finally {
    await stop(watchers)
    await stop(server.child)
  }
}

if (process.argv[2] === '--serve' || process.argv[2] === '--watch') process.once('SIGTERM', () => { process.exit(0) })
if (process.argv[2] === '--serve') {
  await serve()
} else if (process.argv[2] === '--watch') {
  await watch(Number(process.argv[3]))
} else {
  await main()
}
