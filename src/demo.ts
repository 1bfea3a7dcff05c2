/**
 * `subnet-bootnode demo` (SPEC §4): the embedded default. On 127.0.0.1 only, with no network
 * beyond it: the sidecar (default profile `both`) plus `--peers N` publishing peers on subnet `1`, a demo key
 * (owner `demo`, added only if that owner is absent), and ready-to-paste curl lines. With profile
 * `both` the peers are of both kinds: the first half native peers, the rest JS template peers
 * (gossipsub heartbeats and peer_state as a subnet template node publishes them, each with its own
 * subnet_node_id 1, 2, …); with `native` or `template` all peers are of that kind.
 *
 * Issue 13 item 5, so the status page has something to show: each peer also announces one
 * well-known public address ({@link DEMO_PUBLIC_IPS}, demo data: public DNS resolvers and root
 * servers, not subnet members) so get_peers_info and the map show real locations from the offline
 * geo database; no node of the demo ever dials them (the connection gater refuses them), so
 * nothing leaves 127.0.0.1. The native peers ping each other (next_pings), and the last native
 * peer, when there are two or more, cycles its announced state ONLINE → OFFLINE → JOINING → ONLINE
 * every {@link DEMO_STATE_CYCLE_MS}.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runUntilSignal } from './cli/process.js'
import { connectionLimits } from './config/index.js'
import { startPeer } from './peer.js'
import { MAX_PING_PEERS } from './heartbeat/index.js'
import { DEFAULT_KEYS_FILE_NAME, generateApiKey, updateKeyFile } from './keys/index.js'
import { createRepeatingTask } from './util/task.js'
import { createSidecar } from './sidecar.js'
import type { Config, Profile } from './config/index.js'
import type { HeartbeatState } from './heartbeat/index.js'
import type { Logger } from './log/index.js'

const DEMO_OWNER = 'demo'

/**
 * Demo data (SPEC §4): well-known public addresses the demo peers announce beside their loopback
 * one, one each in turn, so the offline geo database locates them on four continents. They are
 * public DNS resolvers and root name servers (Google, Cloudflare, Quad9, Freenom, Yandex, KT,
 * the M and K roots, NIC.br, AfriNIC), not subnet members, and no demo node dials them.
 */
export const DEMO_PUBLIC_IPS = [
  '8.8.8.8', '1.1.1.1', '9.9.9.9', '80.80.80.80', '77.88.8.8',
  '168.126.63.1', '202.12.27.33', '200.160.2.3', '196.216.2.1', '193.0.14.129'
] as const

/** The tcp port of the announced demo addresses (never dialled). */
const DEMO_PUBLIC_PORT = 4001

/** How long the demo's state-cycling peer stays in each state. */
const DEMO_STATE_CYCLE_MS = 10_000

/** The order the cycling peer goes through, starting from the ONLINE it reaches by itself. */
const CYCLE: readonly HeartbeatState[] = ['OFFLINE', 'JOINING', 'ONLINE']

/** The public name of demo peer `i` (0-based); the state-cycling one says so. */
export function demoPeerName (i: number, cycling: boolean): string {
  return `demo-peer-${i + 1}${cycling ? '-cycling' : ''}`
}

/** The index of the peer that cycles its state: the last native one, if there are at least two; else none. */
function demoCyclingPeer (kinds: ReadonlyArray<'native' | 'template'>): number | undefined {
  const native = kinds.flatMap((k, i) => k === 'native' ? [i] : [])
  return native.length >= 2 ? native.at(-1) : undefined
}

type DemoConfig = Extract<Config, { command: 'demo' }>

/** Adds the `demo` owner with a fresh key unless present; returns the demo owner's key. */
async function ensureDemoKey (keysFile: string): Promise<string> {
  let key = ''
  await updateKeyFile(keysFile, (entries) => {
    const existing = entries.find(e => e.owner === DEMO_OWNER)
    if (existing !== undefined) {
      key = existing.key
      return entries
    }
    key = generateApiKey(DEMO_OWNER)
    return [...entries, { owner: DEMO_OWNER, key, active: true, created_at: new Date().toISOString() }]
  })
  return key
}

/** The profile of demo peer `i` (0-based) of `n`: `both` splits them, native first, template after. */
function demoPeerProfile (profile: Profile, i: number, n: number): 'native' | 'template' {
  if (profile !== 'both') return profile
  return i < Math.ceil(n / 2) ? 'native' : 'template'
}

function describePeers (kinds: ReadonlyArray<'native' | 'template'>): string {
  const native = kinds.filter(k => k === 'native').length
  const template = kinds.length - native
  if (template === 0) return `${native} native peers`
  if (native === 0) return `${template} template peers`
  return `${native} native + ${template} template peers`
}

/** The routes the banner shows a plain curl line for. */
const DATA_ROUTES = ['get_heartbeat', 'get_bootnodes', 'get_peers_info'] as const

function banner (key: string, base: string, config: DemoConfig, keysFile: string, kinds: ReadonlyArray<'native' | 'template'>, dataDir: string, tempDir: boolean, somePeer: string): string {
  const rate = config.rateLimit.text
  return [
    '',
    `subnet-bootnode demo: ${describePeers(kinds)} and the sidecar (profile ${config.profile}) on subnet "${config.subnetId}", 127.0.0.1 only`,
    `  status     ${base}/   (the page asks for the key below)`,
    `  API docs   ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
    `  API        ${base}   (rate limit ${rate} per key and client IP)`,
    `  key file   ${keysFile}`,
    `  data dir   ${dataDir}${tempDir ? ' (temporary, removed on exit)' : ''}`,
    `  demo key   ${key}`,
    '',
    'Try:',
    ...DATA_ROUTES.map(r => `  curl -s -H 'X-API-Key: ${key}' ${base}/v1/${r}`),
    `  curl -N -H 'X-API-Key: ${key}' ${base}/v1/watch`,
    `  curl -s -H 'X-API-Key: ${key}' ${base}/v1/is_reachable/${somePeer}`,
    `  curl -s ${base}/healthz`,
    '',
    'Ctrl-C stops everything.',
    ''
  ].join('\n')
}

export async function runDemo (config: DemoConfig, logger: Logger): Promise<void> {
  const tempDir = config.dataDir === undefined
  const dataDir = config.dataDir ?? await mkdtemp(join(tmpdir(), 'subnet-bootnode-demo-'))
  // Without --keys-file the key lives in the (temporary) data dir, never in a real key store.
  const keysFile = config.keysFile ?? join(dataDir, DEFAULT_KEYS_FILE_NAME)
  const cleanups: Array<() => Promise<void>> = []
  if (tempDir) cleanups.push(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try { await fn() } catch (err) { logger.warn('demo cleanup failed', { err }) }
    }
    cleanups.length = 0
  }

  const start = async (): Promise<void> => {
    const key = await ensureDemoKey(keysFile)
    const neverDialIps = [...DEMO_PUBLIC_IPS]
    const sidecar = await createSidecar({ ...config, keysFile, dataDir: join(dataDir, 'bootnode') }, logger.child('sidecar'), { neverDialIps })
    await sidecar.start()
    cleanups.push(sidecar.stop)

    const bootstrap = sidecar.node.bootnodeAddrs()
    // allSettled, not all: every peer that did start must be stopped even if another failed.
    const kinds = Array.from({ length: config.peers }, (_, i) => demoPeerProfile(config.profile, i, config.peers))
    const cycling = demoCyclingPeer(kinds)
    const results = await Promise.allSettled(kinds.map(async (profile, i) => {
      const peer = await startPeer({
        subnetId: config.subnetId,
        profile,
        // Each template peer its own subnet_node_id (1, 2, …), as each template node has its own on chain.
        ...(profile === 'template' ? { subnetNodeId: kinds.slice(0, i + 1).filter(k => k === 'template').length } : {}),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        appendAnnounce: [`/ip4/${DEMO_PUBLIC_IPS[i % DEMO_PUBLIC_IPS.length] ?? '8.8.8.8'}/tcp/${DEMO_PUBLIC_PORT}`],
        neverDialIps,
        bootstrap,
        allowPrivateAddrs: true,
        ...connectionLimits(config),
        role: config.role,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        publicName: config.publicName ?? demoPeerName(i, i === cycling),
        version: config.versionString,
        logger: logger.child(`peer-${i + 1}`)
      })
      cleanups.push(peer.stop)
      return peer
    }))
    const failed = results.find(r => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const peers = results.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
    // The native peers connect to each other now rather than when a DHT query happens to meet them,
    // so their next_pings fill from the next round: each dials the next few (a ring, as many as it pings).
    const natives = peers.filter((_, i) => kinds[i] === 'native')
    await Promise.allSettled(natives.flatMap((peer, i) =>
      Array.from({ length: Math.min(MAX_PING_PEERS, natives.length - 1) }, async (_, k) => {
        const other = natives[(i + k + 1) % natives.length]
        if (other !== undefined) await peer.node.libp2p.dial(other.node.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })
      })))

    const cycler = cycling === undefined ? undefined : peers[cycling]
    if (cycler !== undefined) {
      let step = 0
      const cycle = createRepeatingTask(() => {
        const state = CYCLE[step++ % CYCLE.length] ?? 'ONLINE'
        cycler.publisher.setState(state)
      }, { intervalMs: DEMO_STATE_CYCLE_MS, logger, name: 'demo state cycle' })
      cycle.start()
      // before the peers' own cleanups run (they are stopped in reverse order)
      cleanups.push(async () => { await cycle.stop() })
    }

    const { host, port } = sidecar.api.address()
    process.stdout.write(banner(key, `http://${host}:${port}`, config, keysFile, kinds, dataDir, tempDir, peers[0]?.node.peerId ?? sidecar.node.peerId))
  }

  try {
    await runUntilSignal(logger, start, cleanup)
  } finally {
    await cleanup()
  }
}
