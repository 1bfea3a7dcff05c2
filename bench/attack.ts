/**
 * "Under attack" benchmark (issue 12): `node --import tsx bench/attack.ts` (or `npm run bench -- attack`).
 *
 * A real sidecar (bench/attack-sidecar.ts: parseConfig + createSidecar, default caps) runs in a
 * child process so its RSS and CPU are its own; two honest native peers (startPeer, from
 * 127.0.0.1) publish every HONEST_INTERVAL_MS. Each attack runs ATTACK_MS from its own loopback
 * address (bare libp2p nodes whose TCP dials leave from 127.0.0.x; test/helpers/attacks.ts, shared
 * with the fault tests in test/e2e/attacks.test.ts), bounded in count and time:
 *  1. conn-flood: one identity forces new connections, 8 at a time;
 *  2. sybil-push: fresh identities, each pushes one valid heartbeat then leaves;
 *  3. idle-streams: connections that open push streams and never write;
 *  4. pk-puts: /pk/ records put into the sidecar's DHT;
 *  5. fake-members: fresh identities speaking the subnet DHT and announcing 200 addresses each.
 * Per row: the sidecar's peak RSS, its CPU per 10 s, honest-heartbeat latency (when a heartbeat
 * shows in /v1/get_heartbeat minus when it was made, read from its expiration_time; polled every
 * POLL_MS), /healthz latency (p50/max, one request every POLL_MS), and what the attack achieved.
 * Run some attacks only by naming them: `node --import tsx bench/attack.ts fake-members`.
 * ATTACK_CPU_PROF=<dir> writes the sidecar child's CPU profile there (node --cpu-prof); ATTACK_CHILD_DEBUG
 * is the child's DEBUG (libp2p's log namespaces), so its logs are not mixed with the clients'.
 */
import '../src/polyfill.js'
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startPeer } from '../src/peer.js'
import { ATTACKS } from '../test/helpers/attacks.js'
import type { AttackName } from '../test/helpers/attacks.js'
import type { Peer } from '../src/peer.js'
import type { ChildProcess } from 'node:child_process'

const OVERALL_CAP_MS = 240_000
const ATTACK_MS = 12_000
const SETTLE_MS = 3_000
const POLL_MS = 100
const HONEST_INTERVAL_MS = 2_000
/** The publisher's TTL for that interval: max(2 intervals, 10 s) (heartbeat/constants.ts). */
const HONEST_TTL_S = 10
const SUBNET_ID = 'bench-attack'
const API_KEY = 'key-bench-attack-0123456789abcdef0123456789'
const MB = 1024 * 1024
const CHILD = fileURLToPath(new URL('./attack-sidecar.ts', import.meta.url))

// ---------------------------------------------------------------- the sidecar process
class SidecarProcess {
  private readonly proc: ChildProcess
  private next = 1
  private readonly pending = new Map<number, (msg: any) => void>()
  readonly ready: Promise<{ port: number, addrs: string[], peerId: string }>

  constructor (dir: string) {
    const prof = process.env.ATTACK_CPU_PROF
    const execArgv = ['--import', 'tsx', ...(prof === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', prof])]
    const env = process.env.ATTACK_CHILD_DEBUG === undefined ? process.env : { ...process.env, DEBUG: process.env.ATTACK_CHILD_DEBUG }
    this.proc = fork(CHILD, [dir, API_KEY], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('error', reject)
      this.proc.once('exit', (code) => { reject(new Error(`sidecar child exited with ${code}`)) })
      this.proc.on('message', (msg: any) => {
        if (msg.ready === true) resolve(msg)
        const waiter = this.pending.get(msg.id)
        if (waiter !== undefined) {
          this.pending.delete(msg.id)
          waiter(msg)
        }
      })
    })
  }

  async ask (op: 'usage' | 'stop', timeoutMs = 10_000): Promise<any> {
    const id = this.next++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`sidecar child did not answer ${op}`)) }, timeoutMs)
      this.pending.set(id, (msg) => { clearTimeout(timer); resolve(msg) })
      this.proc.send({ op, id })
    })
  }

  async stop (): Promise<void> {
    try { await this.ask('stop') } catch { this.proc.kill('SIGKILL') }
  }
}

const bounded = (ms = 3_000): AbortSignal => AbortSignal.timeout(ms)

// ---------------------------------------------------------------- measuring
interface Row { name: string, rssMb: number, cpuPer10s: number, hbMedian: number, hbMax: number, hbSeen: number, healthP50: number, healthMax: number, note: string }

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
}

async function measure (name: string, sidecar: SidecarProcess, port: number, honest: string[], durationMs: number, during: (endAt: number) => Promise<string>): Promise<Row> {
  const base = `http://127.0.0.1:${port}`
  const endAt = Date.now() + durationMs
  const before = await sidecar.ask('usage')
  const ownBefore = process.cpuUsage()
  const t0 = performance.now()
  let peakRss = before.rss as number
  const health: number[] = []
  const hb: number[] = []
  const lastExpiry = new Map<string, number>()
  const probe = (async () => {
    while (Date.now() < endAt) {
      const h0 = performance.now()
      try { await fetch(`${base}/healthz`, { signal: bounded(10_000) }) } catch {}
      health.push(performance.now() - h0)
      try {
        const res = await fetch(`${base}/v1/get_heartbeat`, { headers: { 'X-API-Key': API_KEY }, signal: bounded(10_000) })
        const body = await res.json() as { value: Array<{ peer_id: string, expiration_time: number }> }
        const now = Date.now()
        for (const e of body.value) {
          if (!honest.includes(e.peer_id)) continue
          const prev = lastExpiry.get(e.peer_id)
          // A new heartbeat (not the first seen: its arrival time is unknown): made at expiration - TTL.
          if (prev !== undefined && e.expiration_time > prev) hb.push(now - (e.expiration_time - HONEST_TTL_S) * 1000)
          lastExpiry.set(e.peer_id, e.expiration_time)
        }
      } catch {}
      try { peakRss = Math.max(peakRss, (await sidecar.ask('usage')).rss) } catch {}
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  })()
  const [achieved] = await Promise.all([during(endAt), probe])
  const after = await sidecar.ask('usage')
  const elapsed = performance.now() - t0
  // The honest peers, the attack clients and the probe share this process: its load delays them too.
  const own = process.cpuUsage(ownBefore)
  const ownNote = `bench process (honest peers, clients) ${((own.user + own.system) / 1000 * 10_000 / elapsed).toFixed(0)} ms/10s`
  const note = achieved === '' ? ownNote : `${achieved}; ${ownNote}`
  return {
    name,
    rssMb: Math.max(peakRss, after.rss) / MB,
    cpuPer10s: (after.cpuMs - before.cpuMs) * 10_000 / elapsed,
    hbMedian: pct(hb, 0.5),
    hbMax: hb.length === 0 ? NaN : Math.max(...hb),
    hbSeen: hb.length,
    healthP50: pct(health, 0.5),
    healthMax: Math.max(...health),
    note
  }
}

function print (rows: Row[]): void {
  const head = ['attack', 'RSS MB', 'CPU ms/10s', 'honest hb ms p50/max (n)', '/healthz ms p50/max', 'attack achieved']
  const lines = rows.map((r) => [
    r.name, r.rssMb.toFixed(0), r.cpuPer10s.toFixed(0),
    `${r.hbMedian.toFixed(0)}/${r.hbMax.toFixed(0)} (${r.hbSeen})`,
    `${r.healthP50.toFixed(1)}/${r.healthMax.toFixed(1)}`, r.note
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)))
  const fmt = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join(' | ')
  console.log(fmt(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const l of lines) console.log(fmt(l))
}

async function main (): Promise<void> {
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((name) => !(name in ATTACKS))
  if (unknown.length > 0) throw new Error(`unknown attack ${unknown.join(', ')}; choose from ${Object.keys(ATTACKS).join(', ')}`)
  const selected = (Object.entries(ATTACKS) as Array<[AttackName, (typeof ATTACKS)[AttackName]]>).filter(([name]) => wanted.length === 0 || wanted.includes(name))
  const cap = setTimeout(() => {
    console.log(`attack: stopped at the ${OVERALL_CAP_MS / 1000} s cap`)
    process.exit(1)
  }, OVERALL_CAP_MS)
  cap.unref()
  const dir = await mkdtemp(join(tmpdir(), 'subnet-bootnode-bench-attack-'))
  const sidecar = new SidecarProcess(dir)
  const peers: Peer[] = []
  try {
    const { port, addrs } = await sidecar.ready
    const addr = addrs[0]
    if (addr === undefined) throw new Error('the sidecar has no loopback address')
    for (let i = 0; i < 2; i++) {
      peers.push(await startPeer({ subnetId: SUBNET_ID, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, bootstrap: addrs, heartbeatIntervalMs: HONEST_INTERVAL_MS }))
    }
    const honest = peers.map((p) => p.node.peerId)
    const seenBy = Date.now() + 30_000
    while (Date.now() < seenBy) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/get_heartbeat`, { headers: { 'X-API-Key': API_KEY } })
      const body = await res.json() as { value: Array<{ peer_id: string }> }
      if (honest.every((id) => body.value.some((e) => e.peer_id === id))) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    console.log(`attack: sidecar in its own process (src/ under tsx), default caps; 2 honest peers publishing every ${HONEST_INTERVAL_MS / 1000} s; each attack ${ATTACK_MS / 1000} s from its own 127.0.0.x`)
    const rows: Row[] = [await measure('idle', sidecar, port, honest, ATTACK_MS, async () => '')]
    for (const [name, attack] of selected) {
      rows.push(await measure(name, sidecar, port, honest, ATTACK_MS, async (endAt) => (await attack({ addr, subnetId: SUBNET_ID }, endAt)).note))
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    }
    rows.push(await measure('idle after', sidecar, port, honest, ATTACK_MS, async () => ''))
    print(rows)
  } finally {
    await Promise.allSettled(peers.map(async (p) => { await p.stop() }))
    await sidecar.stop()
    await rm(dir, { recursive: true, force: true })
    clearTimeout(cap)
  }
}

await main()
process.exit(0)
