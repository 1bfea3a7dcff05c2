/**
 * p2p benchmark (issue 4 limits): `node --import tsx bench/p2p.ts`.
 *
 * - For 10, 25 and 50 loopback peers: time from starting the peers until the bootnode's view
 *   holds every peer's heartbeat (and every one ONLINE), the bootnode's RSS, and DHT get latency.
 *   The bootnode runs in a child process (bench/p2p-bootnode.mjs) so its RSS is its own; the
 *   peers share this process.
 * - RSS with 1,000 known peers in the view: the child fills its peer store with 1,000
 *   synthetic subnet peers (one private IPv4 address each, our kad protocol, last seen now)
 *   and its DHT record store with 1,000 genuinely signed heartbeats, exactly as kad-dht stores
 *   records it was sent; the collector picks them up by its store scan (each signature is
 *   verified), the peer collector from the peer store, and the view builder builds one
 *   snapshot (no geolocation: `locator` absent).
 * Goals: 50 peers within 30 s; bootnode RSS < 150 MB with 1,000 peers.
 * Bounded: each phase has its own deadline and the whole run is capped at 3 minutes.
 */
import '../src/polyfill.js'
import { fork } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startPeer } from '../src/peer.js'
import type { Peer } from '../src/peer.js'
import type { ChildProcess } from 'node:child_process'

const OVERALL_CAP_MS = 180_000
const PHASE_TIMEOUT_MS = 45_000
const PEER_COUNTS = [10, 25, 50]
const SYNTHETIC_PEERS = 1000
const GET_SAMPLES = 10
/** The production default: the first heartbeats go out at once, and on ONLINE. */
const HEARTBEAT_INTERVAL_MS = 60_000
const MB = 1024 * 1024

type Op = 'status' | 'gets' | 'synth' | 'stop'

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
const CHILD = fileURLToPath(new URL('./p2p-bootnode.mjs', import.meta.url))
const COMPILED = ['p2p/index', 'p2p/node', 'heartbeat/index', 'heartbeat/collector', 'heartbeat/record', 'peers/collector', 'view/builder']

/**
 * The bootnode runs the compiled dist/ (what the binary runs) when it is at least as new as
 * src/; otherwise src/ under tsx, whose loader adds some 45 MB of RSS (said in the output).
 */
function childRuntime (): { base: string, execArgv: string[], label: string } {
  const fresh = COMPILED.every((m) => {
    const js = `${ROOT}/dist/${m}.js`
    return existsSync(js) && statSync(js).mtimeMs >= statSync(`${ROOT}/src/${m}.ts`).mtimeMs
  })
  return fresh
    ? { base: `${ROOT}/dist`, execArgv: ['--expose-gc'], label: 'compiled dist/' }
    : { base: `${ROOT}/src`, execArgv: ['--import', 'tsx', '--expose-gc'], label: 'src/ under tsx, incl. ~45 MB of loader; run `npm run build` first for the shipped figure' }
}
const RUNTIME = childRuntime()

// ---------------------------------------------------------------- parent
class Bootnode {
  private readonly proc: ChildProcess
  private next = 1
  private readonly pending = new Map<number, (msg: any) => void>()
  readonly ready: Promise<string[]>

  constructor (subnetId: string) {
    this.proc = fork(CHILD, [RUNTIME.base, subnetId], {
      execArgv: RUNTIME.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('error', reject)
      this.proc.once('exit', (code) => { reject(new Error(`bootnode child exited with ${code}`)) })
      this.proc.on('message', (msg: any) => {
        if (msg.ready === true) resolve(msg.addrs)
        const waiter = this.pending.get(msg.id)
        if (waiter !== undefined) {
          this.pending.delete(msg.id)
          waiter(msg)
        }
      })
    })
  }

  async ask (req: Record<string, unknown> & { op: Op }, timeoutMs = PHASE_TIMEOUT_MS): Promise<any> {
    const id = this.next++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`bootnode child did not answer ${req.op}`)) }, timeoutMs)
      this.pending.set(id, (msg) => { clearTimeout(timer); resolve(msg) })
      this.proc.send({ ...req, id })
    })
  }

  async stop (): Promise<void> {
    try { await this.ask({ op: 'stop' }, 10_000) } catch { this.proc.kill('SIGKILL') }
  }
}

const fmt = (ms: number): string => (ms / 1000).toFixed(1)
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
}

async function subnet (n: number): Promise<void> {
  const subnetId = `bench-${process.pid}-${n}`
  const boot = new Bootnode(subnetId)
  const peers: Peer[] = []
  try {
    const addrs = await boot.ready
    const t0 = performance.now()
    const started = await Promise.allSettled(Array.from({ length: n }, async () => startPeer({
      // maxConnectionsPerIp: every peer dials from 127.0.0.1 (as in the demo).
      subnetId, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, bootstrap: addrs, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, maxConnectionsPerIp: 256
    })))
    for (const s of started) if (s.status === 'fulfilled') peers.push(s.value)
    let allSeen: number | undefined
    let allOnline: number | undefined
    let last: any
    const deadline = Date.now() + PHASE_TIMEOUT_MS
    while (Date.now() < deadline && allOnline === undefined) {
      last = await boot.ask({ op: 'status' })
      const now = performance.now()
      if (allSeen === undefined && last.heartbeats >= n) allSeen = now - t0
      if (last.online >= n) allOnline = now - t0
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    if (allSeen !== undefined) {
      console.log(`p2p: ${n} peers all heartbeats seen in ${fmt(allSeen)} s${allOnline !== undefined ? `, all ONLINE in ${fmt(allOnline)} s` : ''}`)
    } else {
      console.log(`p2p: ${n} peers: only ${last?.heartbeats ?? 0}/${n} heartbeats seen within ${fmt(PHASE_TIMEOUT_MS)} s`)
    }
    if (allOnline === undefined) {
      const online = peers.filter((p) => p.publisher.state() === 'ONLINE').length
      console.log(`p2p: ${n} peers: ${last?.online ?? 0}/${n} ONLINE in the view, ${online}/${peers.length} publishers ONLINE locally`)
    }
    const status = await boot.ask({ op: 'status' })
    console.log(`p2p: ${n} peers bootnode RSS ${(status.rss / MB).toFixed(0)} MB (peers known: ${status.peers})`)
    const sample = peers.slice(0, GET_SAMPLES).map((p) => p.node.peerId)
    const gets = await boot.ask({ op: 'gets', peers: sample }, 15_000 * GET_SAMPLES)
    console.log(`p2p: ${n} peers DHT get latency median ${pct(gets.times, 0.5).toFixed(0)} ms, p90 ${pct(gets.times, 0.9).toFixed(0)} ms (${gets.found} values for ${sample.length} gets)`)
  } finally {
    await Promise.allSettled(peers.map(async (p) => { await p.stop() }))
    await boot.stop()
  }
}

async function thousand (): Promise<void> {
  const boot = new Bootnode(`bench-${process.pid}-synth`)
  try {
    await boot.ready
    const idle = await boot.ask({ op: 'status' })
    console.log(`p2p: idle bootnode RSS ${(idle.rss / MB).toFixed(0)} MB`)
    const r = await boot.ask({ op: 'synth', count: SYNTHETIC_PEERS }, 120_000)
    console.log(`p2p: ${r.peers} known peers / ${r.heartbeats} heartbeats in the view: bootnode RSS ${(r.rss / MB).toFixed(0)} MB (synthesised in ${fmt(r.synthMs)} s; store scan + view in ${fmt(r.viewMs)} s; ${(r.body / 1024).toFixed(0)} KiB of JSON)`)
  } finally {
    await boot.stop()
  }
}

async function main (): Promise<void> {
  const cap = setTimeout(() => {
    console.log(`p2p: stopped at the ${OVERALL_CAP_MS / 1000} s cap`)
    process.exit(1)
  }, OVERALL_CAP_MS)
  cap.unref()
  console.log(`p2p: bootnode runs ${RUNTIME.label}`)
  if (process.argv[2] !== 'synth') for (const n of PEER_COUNTS) await subnet(n)
  await thousand()
  clearTimeout(cap)
}

await main()
process.exit(0)
