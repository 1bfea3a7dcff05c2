/**
 * Live feed benchmark (issue 13): `node --import tsx bench/watch.ts` (or `npm run bench -- watch`).
 *
 * The API runs in a child process over a 20-peer view (as bench/api.ts), this process holds the
 * watchers and drives the load, so the server has its own core.
 *   - fan-out: 200 `/v1/watch` streams open; the parent asks the child (IPC) to change one heartbeat,
 *     and times from that request to the moment the LAST of the 200 streams has the new `heartbeat`
 *     event (IPC included), over CHANGES changes; goal ≤ 100 ms on loopback.
 *   - REST cost: autocannon req/s on /v1/get_heartbeat with no stream open, then with 200 streams
 *     open receiving a change every CHANGE_EVERY_MS; alternating rounds, best of each; goal: the
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

interface AutocannonResult { requests: { average: number, total: number }, latency: { p99: number }, non2xx: number, errors: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>

/** Child role: the API over a static view; `change` makes one heartbeat newer and answers `changed`. */
async function serve (): Promise<void> {
  const { createApiServer } = await import('../src/api/index.js')
  const { createKeySet } = await import('../src/keys/index.js')
  const { createStaticView } = await import('../src/view/index.js')
  const { makePeerIds, makeSnapshot } = await import('../test/helpers/api.js')
  const base = makeSnapshot(await makePeerIds(PEERS))
  const view = createStaticView(base)
  const keySet = createKeySet([{ owner: 'bench', key: BENCH_KEY, active: true }])
  const server = createApiServer({
    host: '127.0.0.1', port: 0, rateLimit: { limit: 1e9, windowMs: 60_000 }, authFailLimit: { limit: 1e9, windowMs: 60_000 }, maxWatchersPerKey: WATCHERS + 10
  }, { view, keys: { current: () => keySet } })
  await server.start()
  let n = 0
  process.on('message', (m: unknown) => {
    if (m !== 'change') return
    n++
    view.set({ ...base, heartbeats: base.heartbeats.map((h, i) => i === 0 ? { ...h, expiration_time: h.expiration_time + n } : h) })
    process.send?.('changed')
  })
  process.send?.({ port: server.address().port })
}

async function startChild (): Promise<{ child: ChildProcess, port: number }> {
  const child = fork(self, ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`watch bench server did not start within ${CHILD_START_TIMEOUT_MS} ms`)) }, CHILD_START_TIMEOUT_MS)
    child.once('message', (m: { port: number }) => { clearTimeout(timer); resolve(m.port) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`watch bench server exited with ${code}`)) })
  })
  return { child, port }
}

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

async function main (): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
  const { openWatch } = await import('../test/helpers/sse.js')
  const { waitFor } = await import('../test/helpers/wait.js')
  process.stdout.write(`watch bench: node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}; ` +
    `${PEERS}-peer view, ${WATCHERS} streams from 127.0.0.2-51, API in its own process\n`)
  const { child, port } = await startChild()
  const heartbeats = (s: { events: Array<{ event: string }> }): number => s.events.filter(e => e.event === 'heartbeat').length
  const change = (): void => { child.send('change') }
  try {
    const rest = async (): Promise<AutocannonResult> => await autocannon({
      url: `http://127.0.0.1:${port}/v1/get_heartbeat`, headers: { 'x-api-key': BENCH_KEY }, connections: CONNECTIONS, duration: DURATION_S
    })
    await rest() // warm-up

    // REST alone, then with the streams open, alternating
    const without: AutocannonResult[] = []
    const withStreams: AutocannonResult[] = []
    for (let round = 0; round < ROUNDS; round++) {
      without.push(await rest())
      const streams = await Promise.all(Array.from({ length: WATCHERS }, async (_v, i) => await openWatch(port, BENCH_KEY, { localAddress: `127.0.0.${2 + (i % 50)}` })))
      await waitFor(() => streams.every(s => s.events.length >= 3), { timeoutMs: 20_000, what: 'initial events on every stream' })
      const ticker = setInterval(change, CHANGE_EVERY_MS)
      try {
        withStreams.push(await rest())
      } finally {
        clearInterval(ticker)
      }
      const got = streams.map(heartbeats)
      if (round === ROUNDS - 1) {
        // fan-out, on these streams: one change at a time, timed to the last stream having it
        const lastMs: number[] = []
        const everyMs: number[] = []
        await waitFor(() => { const now = streams.map(heartbeats); const ok = now.every((c, i) => c === now[0] && c >= (got[i] ?? 0)); return ok }, { timeoutMs: 10_000, what: 'the streams to settle' })
        for (let c = 0; c < CHANGES; c++) {
          const before = streams.map(heartbeats)
          const t0 = performance.now()
          change()
          await waitFor(() => streams.every((s, i) => heartbeats(s) > (before[i] ?? 0)), { timeoutMs: 10_000, intervalMs: 5, what: 'the change on every stream' })
          const arrivals = streams.map(s => (s.events.filter(e => e.event === 'heartbeat').at(-1)?.at ?? t0) - t0)
          everyMs.push(...arrivals)
          lastMs.push(Math.max(...arrivals))
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        const p50Last = percentile(lastMs, 0.5)
        process.stdout.write(`fan-out to ${WATCHERS} streams, ${CHANGES} changes: last stream has it after p50 ${p50Last.toFixed(1)} ms, ` +
          `max ${Math.max(...lastMs).toFixed(1)} ms; any stream p50 ${percentile(everyMs, 0.5).toFixed(1)} ms ` +
          `(goal ≤ ${FANOUT_GOAL_MS} ms: ${p50Last <= FANOUT_GOAL_MS ? 'met' : 'NOT met'})\n`)
      }
      for (const s of streams) s.close()
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const a = without.reduce((x, y) => y.requests.average > x.requests.average ? y : x)
    const b = withStreams.reduce((x, y) => y.requests.average > x.requests.average ? y : x)
    const cost = 1 - b.requests.average / a.requests.average
    process.stdout.write(`  REST /v1/get_heartbeat, no stream open      ${a.requests.average.toFixed(0).padStart(7)} req/s  p99 ${a.latency.p99.toFixed(1)} ms\n`)
    process.stdout.write(`  REST /v1/get_heartbeat, ${WATCHERS} streams open    ${b.requests.average.toFixed(0).padStart(7)} req/s  p99 ${b.latency.p99.toFixed(1)} ms  (a change every ${CHANGE_EVERY_MS} ms)\n`)
    process.stdout.write(`  cost of ${WATCHERS} streams: ${(cost * 100).toFixed(1)} % of req/s (goal < ${REST_COST_GOAL * 100} %: ${cost < REST_COST_GOAL ? 'met' : 'NOT met'})` +
      `${a.non2xx + b.non2xx + a.errors + b.errors > 0 ? '  (some responses were not 200!)' : ''}\n`)
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
      child.kill('SIGKILL')
      await exited
    }
  }
}

if (process.argv[2] === '--serve') {
  await serve()
} else {
  await main()
}
