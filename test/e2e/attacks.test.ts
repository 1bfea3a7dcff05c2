/**
 * Fault tests of issue 12 ("How to test it"): one real sidecar (parseConfig + createSidecar, default
 * caps, API on 127.0.0.1:0), two honest native peers (startPeer) and, one after the other, the five
 * attacks of test/helpers/attacks.ts (shared with bench/attack.ts), each for ATTACK_MS from its own
 * 127.0.0.x. While each attack runs: a fresh honest newcomer (from 127.0.0.1) shows in
 * /v1/get_heartbeat within NEWCOMER_WAIT_MS; the honest peers' heartbeats stay listed and
 * unexpired; /healthz answers 200 (within the client's timeout; its latency is the bench's figure);
 * the process's RSS stays under RSS_BOUND_MB (sidecar, peers and attackers share this process, so
 * the bound covers them all). After it: the attack's own effect is bounded, by the sidecar's caps.
 */
import { writeFile } from 'node:fs/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { parseConfig } from '../../src/config/index.js'
import { MAX_HEARTBEATS_PER_IP } from '../../src/heartbeat/index.js'
import { silentLogger } from '../../src/log/index.js'
import { DEFAULT_MAX_CONNECTIONS_PER_IP } from '../../src/p2p/index.js'
import { startPeer } from '../../src/peer.js'
import { MAX_PEERS_PER_IP } from '../../src/peers/index.js'
import { createSidecar } from '../../src/sidecar.js'
import { ATTACKS, ATTACK_SOURCE_IPS } from '../helpers/attacks.js'
import { LOOPBACK_LISTEN, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { Peer } from '../../src/peer.js'
import type { Sidecar } from '../../src/sidecar.js'
import type { AttackName, AttackResult } from '../helpers/attacks.js'
import type { ExecutionContext } from 'ava'

/** Each attack runs at least this long, and until its newcomer is served. */
const ATTACK_MS = 4_000
/** An honest newcomer is served within this while an attack runs. */
const NEWCOMER_WAIT_MS = 10_000
/** The attack's own deadline: past the newcomer's wait, so the newcomer is always served (or not) under attack. */
const ATTACK_CAP_MS = NEWCOMER_WAIT_MS + ATTACK_MS
const PROBE_INTERVAL_MS = 250
/** The HTTP client's timeout: /healthz must answer within it. */
const HTTP_TIMEOUT_MS = 5_000
/** RSS of this whole process (sidecar, honest peers, attack clients, ava worker). */
const RSS_BOUND_MB = 600
const HONEST_INTERVAL_MS = 1_000
const API_KEY = 'key-attacks-0123456789abcdef0123456789abcdef'
const MB = 1024 * 1024

interface Heartbeat { peer_id: string, expiration_time: number }

interface Fixture { sidecar: Sidecar, base: string, addr: string, subnetId: string, honest: Peer[], dir: string }
let fixture: Fixture | undefined
const extraPeers = new Set<Peer>()
/** Every newcomer's peer id: each stays listed (OFFLINE) after it leaves. */
const newcomerIds = new Set<string>()

async function getJson (url: string, key?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(url, { headers: key === undefined ? {} : { 'X-API-Key': key }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })
  return { status: res.status, body: await res.json() }
}

async function heartbeats (base: string): Promise<Heartbeat[]> {
  return (await getJson(`${base}/v1/get_heartbeat`, API_KEY)).body.value as Heartbeat[]
}

/** The sum of a counter's samples on /metrics whose labels include `label` (e.g. `reason="per-peer"`). */
async function counter (base: string, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (label !== '' && !line.includes(label)) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

async function startHonest (f: Fixture): Promise<Peer> {
  const peer = await startPeer({ subnetId: f.subnetId, listen: LOOPBACK_LISTEN, allowPrivateAddrs: true, bootstrap: f.sidecar.node.bootnodeAddrs(), heartbeatIntervalMs: HONEST_INTERVAL_MS, logger: silentLogger })
  extraPeers.add(peer)
  return peer
}

test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbn-attacks-'))
  const keysFile = join(dir, 'keys.json')
  await writeFile(keysFile, JSON.stringify([{ owner: 'attacks', key: API_KEY, active: true }]), { mode: 0o600 })
  const subnetId = uniqueSubnetId('attacks')
  const config = parseConfig(['run', '--subnet-id', subnetId, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--allow-private-addrs', '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none',
    '--rate-limit', '1000000/second'], {}, dir)
  if (config.command !== 'run') throw new Error(`unexpected config command ${config.command}`)
  const sidecar = await createSidecar(config, silentLogger)
  fixture = { sidecar, base: '', addr: '', subnetId, honest: [], dir }
  await sidecar.start()
  fixture.base = `http://127.0.0.1:${sidecar.api.address().port}`
  fixture.addr = sidecar.node.bootnodeAddrs()[0] ?? ''
  for (let i = 0; i < 2; i++) fixture.honest.push(await startHonest(fixture))
  const { base, honest } = fixture
  await waitFor(async () => {
    const hbs = await heartbeats(base)
    return honest.every((p) => hbs.some((h) => h.peer_id === p.node.peerId))
  }, { timeoutMs: 20_000, intervalMs: 200, what: 'both honest heartbeats in get_heartbeat' })
})

test.after.always(async () => {
  await Promise.allSettled([...extraPeers].map(async (p) => { await p.stop() }))
  await fixture?.sidecar.stop()
  if (fixture !== undefined) await rm(fixture.dir, { recursive: true, force: true })
})

interface UnderAttack {
  result: AttackResult
  /** Problems seen by the probe while the attack ran (empty: none). */
  violations: string[]
  /** Probe rounds run (each: /healthz, honest heartbeats, RSS, and `sample`). */
  probes: number
  peakRssMb: number
}

/**
 * Runs `name` for ATTACK_MS and until a newcomer that joins meanwhile is served (at most
 * ATTACK_CAP_MS); a probe checks /healthz, the honest heartbeats, RSS and `sample` every
 * PROBE_INTERVAL_MS until the attack ends.
 */
async function underAttack (t: ExecutionContext, name: AttackName, sample: () => void = () => {}): Promise<UnderAttack> {
  const f = fixture
  if (f === undefined) throw new Error('no sidecar')
  const started = Date.now()
  const endAt = started + ATTACK_CAP_MS
  const stop = new AbortController()
  let done = false
  const attack = ATTACKS[name]({ addr: f.addr, subnetId: f.subnetId }, endAt, { signal: stop.signal }).finally(() => { done = true })
  const violations: string[] = []
  let probes = 0
  let peakRssMb = 0
  const probe = (async () => {
    // Bounded: the attack ends by endAt plus one 3 s step and its nodes' stop.
    const probeUntil = endAt + 20_000
    while (!done && Date.now() < probeUntil) {
      probes++
      try {
        const health = await getJson(`${f.base}/healthz`)
        if (health.status !== 200) violations.push(`/healthz ${health.status}`)
      } catch (err) { violations.push(`/healthz: ${(err as Error).message}`) }
      try {
        const hbs = await heartbeats(f.base)
        const now = Date.now() / 1000
        for (const p of f.honest) {
          const hb = hbs.find((h) => h.peer_id === p.node.peerId)
          if (hb === undefined) violations.push(`honest ${p.node.peerId} missing`)
          else if (hb.expiration_time <= now) violations.push(`honest ${p.node.peerId} expired`)
        }
      } catch (err) { violations.push(`get_heartbeat: ${(err as Error).message}`) }
      const rssMb = process.memoryUsage().rss / MB
      peakRssMb = Math.max(peakRssMb, rssMb)
      if (rssMb >= RSS_BOUND_MB) violations.push(`rss ${rssMb.toFixed(0)} MB`)
      sample()
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS))
    }
  })()
  let newcomer: Peer | undefined
  try {
    newcomer = await startHonest(f)
    const id = newcomer.node.peerId
    newcomerIds.add(id)
    await waitFor(async () => (await heartbeats(f.base)).some((h) => h.peer_id === id),
      { timeoutMs: NEWCOMER_WAIT_MS, intervalMs: 100, what: `the newcomer's heartbeat under ${name}` })
    t.false(done, `the newcomer was served while ${name} still ran`)
    // The attack's minimum run: its duration, not a wait for some state.
    const left = started + ATTACK_MS - Date.now()
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
  } finally {
    stop.abort()
    await newcomer?.stop()
    if (newcomer !== undefined) extraPeers.delete(newcomer)
  }
  const [result] = await Promise.all([attack, probe])
  t.log(`${name}: ${result.note}; ${probes} probes, peak RSS ${peakRssMb.toFixed(0)} MB`)
  t.deepEqual(violations, [], `${name}: /healthz 200, honest heartbeats listed and unexpired, RSS < ${RSS_BOUND_MB} MB`)
  t.true(probes > 0)
  return { result, violations, probes, peakRssMb }
}

/** Connections the sidecar holds from `ip` now. */
function connectionsFrom (ip: string): number {
  return fixture?.sidecar.node.libp2p.getConnections().filter((c) => c.remoteAddr.toString().startsWith(`/ip4/${ip}/`)).length ?? 0
}

/** The sidecar, the honest peers and every newcomer: anything else listed came from an attack. */
const known = (): Set<string> => new Set([fixture?.sidecar.node.peerId ?? '', ...(fixture?.honest ?? []).map((p) => p.node.peerId), ...newcomerIds])

test.serial('conn-flood: honest service holds; connections from the flooding IP stay within the per-IP cap, refusals counted', async (t) => {
  const base = fixture?.base ?? ''
  const before = await counter(base, 'subnet_bootnode_connection_refusals_total')
  let peak = 0
  const { result } = await underAttack(t, 'conn-flood', () => { peak = Math.max(peak, connectionsFrom(ATTACK_SOURCE_IPS['conn-flood'])) })
  t.true(result.counts.opened! > 0, 'the flood opened connections')
  t.true(peak <= DEFAULT_MAX_CONNECTIONS_PER_IP, `at most ${DEFAULT_MAX_CONNECTIONS_PER_IP} connections from the flooding IP, saw ${peak}`)
  t.true(await counter(base, 'subnet_bootnode_connection_refusals_total') > before, 'refused connections counted')
})

test.serial('sybil-push: honest service holds; heartbeats from the sybil IP stay within the per-IP cap, newcomers past it counted as ip-cap', async (t) => {
  const base = fixture?.base ?? ''
  const label = 'reason="ip-cap"'
  const before = await counter(base, 'subnet_bootnode_heartbeat_rejections_total', label)
  const { result } = await underAttack(t, 'sybil-push')
  t.true(result.counts.accepted! + result.counts.other! > 0, 'the sybils pushed')
  const ours = known()
  const foreign = (await heartbeats(base)).filter((h) => !ours.has(h.peer_id))
  t.true(foreign.length <= MAX_HEARTBEATS_PER_IP, `at most ${MAX_HEARTBEATS_PER_IP} sybil heartbeats listed, saw ${foreign.length}`)
  // A valid newcomer refused past a member cap is still acked 0x00 (docs/PROTOCOL.md §5), and counted as ip-cap.
  const refused = await counter(base, 'subnet_bootnode_heartbeat_rejections_total', label) - before
  t.true(refused >= result.counts.accepted! - MAX_HEARTBEATS_PER_IP, `${result.counts.accepted} sybil pushes acked, ${refused} counted as ip-cap`)
})

test.serial('idle-streams: honest service holds; push streams past the per-connection cap are refused and counted', async (t) => {
  const base = fixture?.base ?? ''
  const label = 'reason="too-many-streams"'
  const before = await counter(base, 'subnet_bootnode_heartbeat_rejections_total', label)
  let peak = 0
  const { result } = await underAttack(t, 'idle-streams', () => { peak = Math.max(peak, connectionsFrom(ATTACK_SOURCE_IPS['idle-streams'])) })
  t.true(result.counts.opened! > 0, 'the attacker opened streams')
  t.true(peak <= DEFAULT_MAX_CONNECTIONS_PER_IP, `at most ${DEFAULT_MAX_CONNECTIONS_PER_IP} connections from the attacking IP, saw ${peak}`)
  t.true(await counter(base, 'subnet_bootnode_heartbeat_rejections_total', label) > before, 'idle push streams refused (too-many-streams) and counted')
})

test.serial('pk-puts: honest service holds; no /pk/ record is stored', async (t) => {
  const { result } = await underAttack(t, 'pk-puts')
  t.true(result.counts.puts! > 0, 'the attacker put /pk/ records')
  let stored = 0
  for await (const _ of fixture!.sidecar.node.storedRecords(new TextEncoder().encode('/pk/'), { signal: AbortSignal.timeout(5_000) })) stored++
  t.is(stored, 0)
})

test.serial('fake-members: honest service holds; members listed from the fake IP stay within the per-IP cap', async (t) => {
  const { result } = await underAttack(t, 'fake-members')
  t.true(result.counts.joined! > 0, 'fake members connected')
  const ours = known()
  const info = (await getJson(`${fixture?.base ?? ''}/v1/get_peers_info`, API_KEY)).body.value as Record<string, unknown>
  const foreign = Object.keys(info).filter((id) => !ours.has(id))
  t.true(foreign.length <= MAX_PEERS_PER_IP, `at most ${MAX_PEERS_PER_IP} fake members listed, saw ${foreign.length}`)
})
