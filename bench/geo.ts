/**
 * Geolocation figures (issue 6): open time of each bundled file, offline lookups per second for
 * 100,000 random public addresses (goal ≥ 100,000/s, zero network calls), and RSS with the data
 * loaded. Standalone: `node --import tsx bench/geo.ts`. Fixed work, so bounded in time.
 */
import '../src/polyfill.js'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { cpus, loadavg } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { classifyIp, createLocator } from '../src/geo/index.js'

const LOOKUPS = 100_000
const SINGLE_CALLS = 20_000

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`
const rss = (): string => {
  gc()
  const m = process.memoryUsage()
  return `${mb(m.rss)} (heap ${mb(m.heapUsed)}, buffers ${mb(m.arrayBuffers)})`
}
const line = (s: string): void => { process.stdout.write(s + '\n') }

let networkCalls = 0
const onNet = (): void => { networkCalls++ }
const channels = ['net.client.socket', 'undici:request:create']
for (const c of channels) subscribe(c, onNet)

/** Deterministic pseudo-random numbers (mulberry32), so runs compare. */
function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomPublicIpv4 (n: number, rand: () => number): string[] {
  const out: string[] = []
  while (out.length < n) {
    const x = Math.floor(rand() * 2 ** 32)
    const ip = `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`
    if (classifyIp(ip) === undefined) out.push(ip)
  }
  return out
}

function randomPublicIpv6 (n: number, rand: () => number): string[] {
  // Inside 2400::/6 (APNIC, ARIN, RIPE blocks), where the data has real coverage.
  const out: string[] = []
  const hex = (): string => Math.floor(rand() * 0x10000).toString(16)
  while (out.length < n) {
    const first = (0x2400 + Math.floor(rand() * 0x0c00)).toString(16)
    const ip = `${first}:${hex()}:${hex()}:${hex()}::${hex()}`
    if (classifyIp(ip) === undefined) out.push(ip)
  }
  return out
}

/**
 * Times `fn` in wall-clock and in this process's CPU time: on a shared machine the wall-clock
 * rate falls with the load, the CPU rate much less.
 */
async function rate (label: string, n: number, fn: () => Promise<unknown>): Promise<void> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await fn()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  const cpuMs = (cpu.user + cpu.system) / 1000
  line(`${label}: ${Math.round(n / (wallMs / 1000))} lookups/s wall (${wallMs.toFixed(0)} ms), ${Math.round(n / (cpuMs / 1000))} lookups/s per CPU second`)
}

line(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
const rand = rng(6)
const v4 = randomPublicIpv4(LOOKUPS, rand)
const v6 = randomPublicIpv6(LOOKUPS / 10, rand)

line(`rss before data: ${rss()}`)
const locator = createLocator({ mode: 'offline' })

let t0 = performance.now()
await locator.locate(['8.8.8.8'])
line(`open IPv4 data (city mmdb + ASN csv, first lookup): ${(performance.now() - t0).toFixed(0)} ms`)
line(`rss with IPv4 data: ${rss()}`)
t0 = performance.now()
await locator.locate(['2001:200::1'])
line(`open IPv6 data (city mmdb + ASN csv, first lookup): ${(performance.now() - t0).toFixed(0)} ms`)
line(`rss with IPv4 + IPv6 data: ${rss()}`)

let result = new Map<string, unknown>()
await rate(`offline IPv4, one call of ${LOOKUPS} random public addresses`, LOOKUPS, async () => { result = await locator.locate(v4) })
line(`  located: ${[...result.values()].filter((l) => (l as { status: string }).status === 'success').length} of ${LOOKUPS}`)
// Second pass: the reader's record cache and the shaped-record cache are warm.
await rate('offline IPv4, same addresses again', LOOKUPS, async () => { result = await locator.locate(v4) })
await rate(`offline IPv6, one call of ${v6.length}`, v6.length, async () => { result = await locator.locate(v6) })
line(`  located: ${[...result.values()].filter((l) => (l as { status: string }).status === 'success').length} of ${v6.length}`)
await rate(`offline IPv4, ${SINGLE_CALLS} calls of one address each`, SINGLE_CALLS, async () => {
  for (let i = 0; i < SINGLE_CALLS; i++) await locator.locate([v4[i] as string])
})
result = new Map()

line(`rss after lookups: ${rss()}`)
line(`network calls during offline lookups: ${networkCalls}`)
for (const c of channels) unsubscribe(c, onNet)
await locator.stop()
if (networkCalls !== 0) process.exitCode = 1
