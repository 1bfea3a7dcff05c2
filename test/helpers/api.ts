/**
 * Shared pieces of the API tests and the API benchmark: view fixtures of a given size, a real
 * API server on 127.0.0.1 port 0 with a real key file and the real key store watcher, a raw HTTP
 * client that can pick its source address (different clients = different 127.0.0.x), and a
 * throwaway redis-server. Everything started here is stopped in `t.teardown`; every wait is bounded.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { createServer, connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createApiServer, type ApiServer, type ApiServerInit } from '../../src/api/index.js'
import { createKeyStoreWatcher, type ApiKeyEntry, type KeyStoreWatcher } from '../../src/keys/index.js'
import { createStaticView, type HeartbeatEntry, type MutableViewSource, type PeersInfo, type ViewSnapshot } from '../../src/view/index.js'
import { silentLogger, type Logger } from '../../src/log/index.js'
import { createRedisConnection, type RedisClient } from '../../src/util/redis.js'
import { tempDir } from './fs.js'
import { waitFor } from './wait.js'
import { killWithWorker } from './children.js'
import type { Registry } from 'prom-client'
import type { KeyUsageSink } from '../../src/usage/index.js'
import type { ExecutionContext } from 'ava'

export type SnapshotInput = Omit<ViewSnapshot, 'version' | 'builtAt'>

/** `n` distinct real Ed25519 peer ids. */
export async function makePeerIds (n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
  return ids
}

const ROLES = ['VALIDATOR', 'VALIDATOR', 'VALIDATOR', 'BOOTNODE']
const STATES = ['ONLINE', 'ONLINE', 'ONLINE', 'JOINING', 'OFFLINE'] as const

/**
 * A ready snapshot of `ids.length` peers, each with a heartbeat (3 pings), a public IPv4 with a
 * full ip-api location and two multiaddrs: ~400 bytes of get_peers_info per peer, so
 * 1,000 peers ≈ 400 KB and 20 peers ≈ 8 KB, the sizes issue 5's benchmark names.
 */
export function makeSnapshot (ids: readonly string[], selfId?: string): SnapshotInput {
  const heartbeats: HeartbeatEntry[] = []
  const peersInfo: PeersInfo = {}
  ids.forEach((id, i) => {
    const pings: Record<string, number> = {}
    for (let k = 1; k <= 3; k++) {
      const other = ids[(i + k) % ids.length]
      if (other !== undefined && other !== id) pings[other] = 0.004 + ((i * 7 + k) % 50) / 10_000
    }
    heartbeats.push({
      peer_id: id,
      server: {
        state: STATES[i % STATES.length] ?? 'ONLINE',
        role: ROLES[i % ROLES.length] ?? 'VALIDATOR',
        throughput: 1,
        public_name: i % 3 === 0 ? `node-${i}` : null,
        version: '1.0.0',
        using_relay: false,
        next_pings: pings
      },
      expiration_time: 1_765_332_171.7576787 + i
    })
    const ip = `203.0.${(i >> 8) & 255}.${i & 255}`
    peersInfo[id] = {
      [ip]: {
        location: {
          status: 'success', country: 'United States', countryCode: 'US', region: 'CA', regionName: 'California',
          city: 'Los Angeles', zip: '90001', lat: 34.0549, lon: -118.2426, timezone: 'America/Los_Angeles',
          isp: 'Verizon', org: 'Level 3', as: 'AS701 Verizon', query: ip
        }
      },
      multiaddrs: [`/ip4/${ip}/tcp/34490`, '/ip4/10.0.0.7/tcp/34490']
    }
  })
  const self = selfId ?? ids[0] ?? '12D3KooWSelf'
  return {
    heartbeats,
    peersInfo,
    bootnodes: [`/ip4/127.0.0.1/tcp/31330/p2p/${self}`, `/ip4/203.0.113.9/tcp/31330/p2p/${self}`],
    peerId: self,
    ready: true,
    peerCount: ids.length
  }
}

export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: () => string
  json: () => unknown
}

export interface GetOptions {
  method?: string
  headers?: Record<string, string | string[]>
  /** Source address, to play a different client: 127.0.0.2, 127.0.0.3, … */
  localAddress?: string
  timeoutMs?: number
}

/** One HTTP request on a fresh connection; the body is returned raw (not decompressed). */
export async function get (port: number, path: string, opts: GetOptions = {}): Promise<HttpResult> {
  return await new Promise<HttpResult>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      agent: false,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress })
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: () => JSON.parse(body.toString('utf8')) as unknown
        })
      })
      res.on('error', reject)
    })
    req.setTimeout(opts.timeoutMs ?? 10_000, () => { req.destroy(new Error(`timeout on ${path}`)) })
    req.on('error', reject)
    req.end()
  })
}

/** Writes raw bytes on a TCP connection and returns everything the server sends until it closes (bounded). */
export async function rawExchange (port: number, bytes: string | Buffer, timeoutMs = 5_000): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) }, timeoutMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
    socket.on('connect', () => { socket.end(bytes) })
  })
}

export interface TestApi {
  server: ApiServer
  port: number
  view: MutableViewSource
  keysFile: string
  watcher: KeyStoreWatcher
  get: (path: string, opts?: GetOptions) => Promise<HttpResult>
}

export interface TestApiOptions {
  keys?: ApiKeyEntry[]
  snapshot?: SnapshotInput
  init?: Omit<ApiServerInit, 'port' | 'host'>
  /** Given to the watcher (and to the API unless `init.logger` is set). */
  logger?: Logger
  /** The metrics registry the API adds its series to. Default: the API's own. */
  registry?: Registry
  /** Told of every answer to a request with a known key (the key-usage recorder). */
  usage?: KeyUsageSink
  /** Where the limiters count (connectTestRedis). Default: in memory. */
  redis?: RedisClient
}

/** An API server on 127.0.0.1:0 over a real key file watched by the real watcher. */
export async function startTestApi (t: ExecutionContext, opts: TestApiOptions = {}): Promise<TestApi> {
  const dir = await tempDir(t, 'sb-api-')
  const keysFile = join(dir, 'bootnode_rest_keys.json')
  await writeFile(keysFile, JSON.stringify(opts.keys ?? [], null, 2) + '\n', { mode: 0o600 })
  const watcher = createKeyStoreWatcher({ path: keysFile, pollIntervalMs: 50, ...(opts.logger === undefined ? {} : { logger: opts.logger }) })
  await watcher.start()
  t.teardown(async () => { await watcher.stop() })
  const view = createStaticView(opts.snapshot)
  const logger = opts.init?.logger ?? opts.logger
  const server = createApiServer({ ...opts.init, ...(logger === undefined ? {} : { logger }), host: '127.0.0.1', port: 0 }, { view, keys: watcher, ...(opts.registry === undefined ? {} : { registry: opts.registry }), ...(opts.usage === undefined ? {} : { usage: opts.usage }), ...(opts.redis === undefined ? {} : { redis: opts.redis }) })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const { port } = server.address()
  return { server, port, view, keysFile, watcher, get: async (path, o) => await get(port, path, o) }
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export async function freePort (): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo
      srv.close(() => { resolve(port) })
    })
  })
}

const REDIS_CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']

/** Where redis-server is, or undefined. */
export function redisServerPath (): string | undefined {
  return REDIS_CANDIDATES.find(p => existsSync(p))
}

/**
 * A private redis-server on 127.0.0.1 and a free port, no persistence; killed in teardown.
 * Returns its URL.
 */
export async function startRedis (t: ExecutionContext, bin: string): Promise<string> {
  return (await startRedisServer(t, bin)).url
}

/** A client connected to `url` (as the sidecar connects it), closed in teardown. */
export async function connectTestRedis (t: ExecutionContext, url: string): Promise<RedisClient> {
  const connection = createRedisConnection(url, silentLogger)
  t.teardown(async () => { await connection.stop() })
  await connection.start()
  return connection.client
}

/** {@link startRedis}, with a way to kill the server early (a Redis outage) or signal it (SIGSTOP: a hung server). */
export async function startRedisServer (t: ExecutionContext, bin: string): Promise<{ url: string, kill: () => Promise<void>, signal: (signal: NodeJS.Signals) => void }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    killWithWorker(child)
    const exited = new Promise<void>((resolve) => { child.on('exit', () => { resolve() }) })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    })
    const ready = await waitFor(() => out.includes('Ready to accept connections') || child.exitCode !== null, { timeoutMs: 10_000, intervalMs: 25, what: 'redis-server to start' }).catch(() => false)
    const kill = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    }
    if (ready && child.exitCode === null) return { url: `redis://127.0.0.1:${port}`, kill, signal: (signal) => { child.kill(signal) } }
    // the port was taken between freePort() and the bind: try another
  }
  throw new Error('redis-server did not start on a free port after 3 attempts')
}
