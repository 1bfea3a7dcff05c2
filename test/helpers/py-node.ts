/**
 * A real py-libp2p template node (../shared/interop/py-libp2p-node, README there) as a child
 * process for interop tests (issue 11). Its stdout carries one event per line (LISTEN,
 * CONNECTED, DISCONNECTED, PUB, RECV, DHT, DAG_*); we parse them and wait on them with a bound.
 * Every node is stopped in t.teardown (SIGTERM, bounded wait, SIGKILL).
 */
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import PQueue from 'p-queue'
import { killWithWorker } from './children.js'
import type { ChildProcess } from 'node:child_process'
import type { ExecutionContext, TestFn } from 'ava'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** setup.sh builds in 7–16 s the first time and takes 0.2 s once built. */
const SETUP_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 10_000

/** One stdout line of the harness, split into its kind and fields. */
export interface PyEvent {
  kind: string
  fields: string[]
  line: string
}

export interface PyListen {
  /** `/ip4/127.0.0.1/tcp/N/p2p/<peer id>` */
  multiaddr: string
  peerId: string
}

export interface PyNode {
  readonly child: ChildProcess
  /** Every stdout event so far. */
  readonly events: readonly PyEvent[]
  /** The first LISTEN line (bounded wait). */
  listen: (timeoutMs?: number) => Promise<PyListen>
  /** The first event (past or future) matching `predicate`. */
  waitForLine: (predicate: (event: PyEvent) => boolean, timeoutMs?: number) => Promise<PyEvent>
  stderr: () => string
  /** SIGTERM, wait for exit (bounded), then SIGKILL. Idempotent; resolves with the exit code. */
  stop: () => Promise<number | null>
}

/** The harness folder: env PY_LIBP2P_NODE_DIR, else <repo>/../shared/interop/py-libp2p-node, else /work/shared/…. */
export function pyNodeDir (): string | undefined {
  const candidates = [
    process.env.PY_LIBP2P_NODE_DIR,
    join(REPO_ROOT, '..', 'shared', 'interop', 'py-libp2p-node'),
    '/work/shared/interop/py-libp2p-node'
  ]
  return candidates.find((d): d is string => d !== undefined && d !== '' && existsSync(join(d, 'run.sh')))
}

let setupResult: Promise<string | undefined> | undefined

/**
 * Runs the harness's `setup.sh --quiet` once per process (bounded). Resolves undefined when the
 * harness is usable, else a one-line reason.
 */
export async function pyNodeAvailable (): Promise<string | undefined> {
  setupResult ??= (async () => {
    const dir = pyNodeDir()
    if (dir === undefined) return 'py-libp2p-node harness not found (set PY_LIBP2P_NODE_DIR or check out ../shared/interop/py-libp2p-node)'
    return await new Promise<string | undefined>((resolve) => {
      execFile(join(dir, 'setup.sh'), ['--quiet'], { timeout: SETUP_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err === null) { resolve(undefined); return }
        const last = stderr.trim().split('\n').pop() ?? ''
        resolve(`py-libp2p-node setup.sh failed${err.killed ? ` (timed out after ${SETUP_TIMEOUT_MS} ms)` : ''}: ${last !== '' ? last : err.message}`)
      })
    })
  })()
  return await setupResult
}

/**
 * At most this many py tests of one file run their bodies at once. A py node costs about 1 s of
 * CPU to start; ten at once beside a sidecar each (e2e/template) took 10–13 s to LISTEN on 2 cores,
 * and py-libp2p never retries a pubsub stream whose negotiation failed under that load. Queued
 * bodies cost no wall time on a busy machine (the work is CPU-bound either way).
 */
const PY_TESTS_AT_ONCE = 4
const pySlots = new PQueue({ concurrency: PY_TESTS_AT_ONCE })

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

/**
 * Declares `title` as a test that needs the py harness. Under CI=true an unusable harness fails
 * the test; elsewhere the test passes with one log line saying why it did not run.
 */
export function pyTest (test: TestFn, title: string, impl: (t: ExecutionContext) => Promise<void>): void {
  test(title, async (t) => {
    const reason = await pyNodeAvailable()
    if (reason !== undefined) {
      if (inCi) { t.fail(reason); return }
      t.log(`skipped: ${reason}`)
      t.pass()
      return
    }
    await pySlots.add(async () => { await impl(t) })
  })
}

export interface PyNodeOptions {
  /** --bootstrap multiaddrs. */
  bootstrap?: string[]
  /** --pos: the template's proof-of-stake security mapping. */
  pos?: boolean
  dag?: boolean
  keyFile?: string
  subnetId?: number
  subnetNodeId?: number
  /** Any other node.py arguments. */
  args?: string[]
}

/** Starts a harness node on 127.0.0.1 port 0; it is stopped in t.teardown. */
export function startPyNode (t: ExecutionContext, opts: PyNodeOptions = {}): PyNode {
  const dir = pyNodeDir()
  if (dir === undefined) throw new Error('py-libp2p-node harness not found')
  const args = ['--port', '0']
  for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b)
  if (opts.pos === true) args.push('--pos')
  if (opts.dag === true) args.push('--dag')
  if (opts.keyFile !== undefined) args.push('--key-file', opts.keyFile)
  if (opts.subnetId !== undefined) args.push('--subnet-id', String(opts.subnetId))
  if (opts.subnetNodeId !== undefined) args.push('--subnet-node-id', String(opts.subnetNodeId))
  // INFO: py-libp2p logs a failed dial or a failed pubsub negotiation at INFO; a failed test shows them.
  args.push('--log-level', 'INFO', ...(opts.args ?? []))

  const child = spawn(join(dir, 'run.sh'), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  killWithWorker(child)
  const events: PyEvent[] = []
  const waiters = new Set<() => void>()
  const wake = (): void => { for (const w of waiters) w() }
  let partial = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '') continue
      const [kind = '', ...fields] = line.split(' ')
      events.push({ kind, fields, line })
    }
    wake()
  })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-20_000) })
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => { resolve(code); wake() })
    child.on('error', () => { resolve(null); wake() })
  })
  const running = (): boolean => child.exitCode === null && child.signalCode === null

  const waitForLine = async (predicate: (event: PyEvent) => boolean, timeoutMs = 30_000): Promise<PyEvent> => {
    return await new Promise<PyEvent>((resolve, reject) => {
      const check = (): void => {
        const hit = events.find(predicate)
        if (hit !== undefined) { done(); resolve(hit); return }
        if (!running()) { done(); reject(new Error(`py node exited (${String(child.exitCode ?? child.signalCode)}) before the expected line; stderr tail: ${err.trim().split('\n').slice(-3).join(' | ')}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`py node: no expected line within ${timeoutMs} ms; stdout: ${events.map((e) => e.kind).join(',')}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      check()
    })
  }

  let stopping: Promise<number | null> | undefined
  const stop = async (): Promise<number | null> => {
    stopping ??= (async () => {
      if (running()) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => { if (running()) child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
        try { return await exited } finally { clearTimeout(timer) }
      }
      return await exited
    })()
    return await stopping
  }
  t.teardown(async () => { await stop() })

  return {
    child,
    events,
    listen: async (timeoutMs = 60_000) => {
      const e = await waitForLine((ev) => ev.kind === 'LISTEN' && ev.fields[0]?.includes('/p2p/') === true, timeoutMs)
      const multiaddr = e.fields[0] ?? ''
      return { multiaddr, peerId: multiaddr.slice(multiaddr.lastIndexOf('/p2p/') + 5) }
    },
    waitForLine,
    stderr: () => err,
    stop
  }
}
