/**
 * `subnet-bootnode demo` (SPEC §4): the embedded default. On 127.0.0.1 only, with no network
 * beyond it: the sidecar (default profile `both`) plus `--peers N` publishing peers on subnet `1`, a demo key
 * (owner `demo`, added only if that owner is absent), and ready-to-paste curl lines. With profile
 * `both` the peers are of both kinds: the first half native peers, the rest JS template peers
 * (gossipsub heartbeats and peer_state as a subnet template node publishes them, each with its own
 * subnet_node_id 1, 2, …); with `native` or `template` all peers are of that kind.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runUntilSignal } from './cli/process.js'
import { connectionLimits } from './config/index.js'
import { startPeer } from './peer.js'
import { API_ROUTES, DEFAULT_KEYS_FILE_NAME, generateApiKey, updateKeyFile } from './keys/index.js'
import { createSidecar } from './sidecar.js'
import type { Config, Profile } from './config/index.js'
import type { Logger } from './log/index.js'

export const DEMO_OWNER = 'demo'

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
export function demoPeerProfile (profile: Profile, i: number, n: number): 'native' | 'template' {
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

function banner (key: string, base: string, config: DemoConfig, keysFile: string, kinds: ReadonlyArray<'native' | 'template'>, dataDir: string, tempDir: boolean): string {
  const rate = config.rateLimit.text
  return [
    '',
    `subnet-bootnode demo: ${describePeers(kinds)} and the sidecar (profile ${config.profile}) on subnet "${config.subnetId}", 127.0.0.1 only`,
    `  API        ${base}   (rate limit ${rate} per key and client IP)`,
    `  key file   ${keysFile}`,
    `  data dir   ${dataDir}${tempDir ? ' (temporary, removed on exit)' : ''}`,
    `  demo key   ${key}`,
    '',
    'Try:',
    ...API_ROUTES.map(r => `  curl -s -H 'X-API-Key: ${key}' ${base}/v1/${r}`),
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
    const sidecar = await createSidecar({ ...config, keysFile, dataDir: join(dataDir, 'bootnode') }, logger.child('sidecar'))
    await sidecar.start()
    cleanups.push(sidecar.stop)

    const bootstrap = sidecar.node.bootnodeAddrs()
    // allSettled, not all: every peer that did start must be stopped even if another failed.
    const kinds = Array.from({ length: config.peers }, (_, i) => demoPeerProfile(config.profile, i, config.peers))
    const results = await Promise.allSettled(kinds.map(async (profile, i) => {
      const peer = await startPeer({
        subnetId: config.subnetId,
        profile,
        // Each template peer its own subnet_node_id (1, 2, …), as each template node has its own on chain.
        ...(profile === 'template' ? { subnetNodeId: kinds.slice(0, i + 1).filter(k => k === 'template').length } : {}),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        allowPrivateAddrs: true,
        ...connectionLimits(config),
        role: config.role,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        publicName: config.publicName ?? `demo-peer-${i + 1}`,
        version: config.versionString,
        logger: logger.child(`peer-${i + 1}`)
      })
      cleanups.push(peer.stop)
      return peer
    }))
    const failed = results.find(r => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason

    const { host, port } = sidecar.api.address()
    process.stdout.write(banner(key, `http://${host}:${port}`, config, keysFile, kinds, dataDir, tempDir))
  }

  try {
    await runUntilSignal(logger, start, cleanup)
  } finally {
    await cleanup()
  }
}
