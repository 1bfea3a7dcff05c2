/**
 * The attack clients of issue 12, shared by the fault tests (test/e2e/attacks.test.ts) and the
 * "under attack" benchmark (bench/attack.ts): bare libp2p nodes whose TCP dials leave from their
 * own 127.0.0.x, so the sidecar's per-IP caps see each attack as one host. Every attack is bounded
 * in time (its loops end at `endAt`, each step under a 3 s abort signal) and in concurrency:
 *  1. conn-flood: one identity forces new connections, `concurrency` (8) at a time;
 *  2. sybil-push: fresh identities, each pushes one valid heartbeat then leaves;
 *  3. idle-streams: connections that open push streams and never write;
 *  4. pk-puts: valid /pk/ records (fresh keys) put into the sidecar's DHT;
 *  5. fake-members: fresh identities speaking the subnet DHT and announcing 200 addresses each.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { byteStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { heartbeatProtocol, sealHeartbeat } from '../../src/heartbeat/index.js'
import { kadProtocol } from '../../src/p2p/index.js'
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

export type AttackName = 'conn-flood' | 'sybil-push' | 'idle-streams' | 'pk-puts' | 'fake-members'

/** The loopback address each attack's dials leave from: one host per attack, none of them 127.0.0.1. */
export const ATTACK_SOURCE_IPS: Readonly<Record<AttackName, string>> = {
  'conn-flood': '127.0.0.2',
  'sybil-push': '127.0.0.3',
  'idle-streams': '127.0.0.4',
  'pk-puts': '127.0.0.5',
  'fake-members': '127.0.0.6'
}

export interface AttackTarget {
  /** A multiaddr of the sidecar, with its /p2p/ id. */
  addr: string
  subnetId: string
}

export interface AttackOptions {
  /** Loops run at once. Default: 8 (conn-flood, idle-streams, pk-puts), 4 (sybil-push, fake-members). */
  concurrency?: number
  /** Ends the attack before `endAt` (its loops finish the step in flight). */
  signal?: AbortSignal
}

export interface AttackResult {
  /** One line of what the attack achieved, for the bench table. */
  note: string
  /** The same, as numbers (attempts, successes, refusals), for the tests. */
  counts: Record<string, number>
}

export type Attack = (target: AttackTarget, endAt: number, opts?: AttackOptions) => Promise<AttackResult>

interface ClientOpts { sourceIp: string, subnetId: string, privateKey?: PrivateKey, kad?: boolean, announce?: string[] }
type Client = Libp2p<{ ping: unknown, identify: unknown, dht?: KadDHT }>

/** A bare libp2p node whose TCP dials leave from `sourceIp`. */
async function client (opts: ClientOpts): Promise<Client> {
  // A variable, not a literal: TCPSocketOptions does not name localAddress, which net.connect takes (as test/p2p/connection-limits).
  const dialOpts = { noDelay: true, localAddress: opts.sourceIp }
  const node = await createLibp2p({
    ...(opts.privateKey === undefined ? {} : { privateKey: opts.privateKey }),
    addresses: { listen: opts.kad === true ? [`/ip4/${opts.sourceIp}/tcp/0`] : [], announce: opts.announce ?? [] },
    transports: [tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 10_000 },
    services: {
      identify: identify(),
      ping: ping(),
      ...(opts.kad === true ? { dht: kadDHT({ protocol: kadProtocol(opts.subnetId), clientMode: false, peerInfoMapper: passthroughMapper }) } : {})
    }
  }) as unknown as Client
  return node
}

/** Runs `worker` on `concurrency` loops until `endAt` or `signal`; each loop ends on its own at the deadline. */
async function loops (concurrency: number, endAt: number, signal: AbortSignal | undefined, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < endAt && signal?.aborted !== true) {
      try { await worker() } catch {}
    }
  }))
}

const bounded = (ms = 3_000): AbortSignal => AbortSignal.timeout(ms)
const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export const ATTACKS: Readonly<Record<AttackName, Attack>> = {
  'conn-flood': async ({ addr, subnetId }, endAt, opts = {}) => {
    const node = await client({ sourceIp: ATTACK_SOURCE_IPS['conn-flood'], subnetId })
    let opened = 0
    let refused = 0
    try {
      await loops(opts.concurrency ?? 8, endAt, opts.signal, async () => {
        try {
          await node.dial(multiaddr(addr), { force: true, signal: bounded() })
          opened++
        } catch { refused++ }
      })
      const open = node.getConnections().filter((c) => c.status === 'open').length
      return { note: `${opened} opened, ${refused} refused; ${open} open at the end`, counts: { opened, refused, open } }
    } finally { await node.stop() }
  },
  'sybil-push': async ({ addr, subnetId }, endAt, opts = {}) => {
    let accepted = 0
    let other = 0
    await loops(opts.concurrency ?? 4, endAt, opts.signal, async () => {
      const key = await generateKeyPair('Ed25519')
      const node = await client({ sourceIp: ATTACK_SOURCE_IPS['sybil-push'], subnetId, privateKey: key })
      try {
        const payload = {
          subnet_id: subnetId, peer_id: node.peerId.toString(), seq: Date.now(),
          server: { state: 'ONLINE' as const, role: 'VALIDATOR', throughput: 1, public_name: null, version: '1.0.0', using_relay: false, next_pings: null },
          expiration_time: Date.now() / 1000 + 600
        }
        const signal = bounded()
        const stream = await node.dialProtocol(multiaddr(addr), heartbeatProtocol(subnetId), { signal })
        const lp = lpStream(stream)
        await lp.write(await sealHeartbeat(payload, key), { signal })
        const ack = (await byteStream(lp.unwrap()).read({ bytes: 1, signal })).get(0)
        if (ack === 0) accepted++
        else other++
      } catch { other++ } finally { await node.stop() }
    })
    return { note: `${accepted} pushes accepted (ack 0x00), ${other} refused or failed`, counts: { accepted, other } }
  },
  'idle-streams': async ({ addr, subnetId }, endAt, opts = {}) => {
    const node = await client({ sourceIp: ATTACK_SOURCE_IPS['idle-streams'], subnetId })
    const streams: Stream[] = []
    let failed = 0
    try {
      await loops(opts.concurrency ?? 8, endAt, opts.signal, async () => {
        try {
          const conn = await node.dial(multiaddr(addr), { force: streams.length % 8 === 0, signal: bounded() })
          streams.push(await conn.newStream(heartbeatProtocol(subnetId), { signal: bounded() }))
        } catch {
          failed++
          await pause(5)
        }
      })
      const open = streams.filter((s) => s.status === 'open').length
      return { note: `${streams.length} streams opened, ${failed} refused; ${open} still open at the end`, counts: { opened: streams.length, failed, open } }
    } finally { await node.stop() }
  },
  'pk-puts': async ({ addr, subnetId }, endAt, opts = {}) => {
    const node = await client({ sourceIp: ATTACK_SOURCE_IPS['pk-puts'], subnetId, kad: true })
    let puts = 0
    try {
      await node.start()
      await node.dial(multiaddr(addr), { signal: bounded(5_000) })
      const dht = node.services.dht as KadDHT
      const readyBy = Math.min(Date.now() + 5_000, endAt)
      while ((dht as unknown as { routingTable: { size: number } }).routingTable.size === 0 && Date.now() < readyBy) await pause(50)
      await loops(opts.concurrency ?? 8, endAt, opts.signal, async () => {
        // A valid public-key record (`/pk/` ‖ the key's multihash → its protobuf), which kad-dht's own pk validator accepts.
        const key = await generateKeyPair('Ed25519')
        puts++
        const pkKey = uint8ArrayConcat([uint8ArrayFromString('/pk/'), key.publicKey.toMultihash().bytes])
        for await (const _ of dht.put(pkKey, publicKeyToProtobuf(key.publicKey), { signal: bounded() })) {}
      })
      return { note: `${puts} /pk/ puts attempted`, counts: { puts } }
    } finally { await node.stop() }
  },
  'fake-members': async ({ addr, subnetId }, endAt, opts = {}) => {
    let joined = 0
    let failed = 0
    await loops(opts.concurrency ?? 4, endAt, opts.signal, async () => {
      const announce = Array.from({ length: 200 }, (_, i) => `/ip4/10.${i}.${Math.floor(Math.random() * 250)}.1/tcp/${4001 + i}`)
      const node = await client({ sourceIp: ATTACK_SOURCE_IPS['fake-members'], subnetId, kad: true, announce })
      try {
        await node.start()
        await node.dial(multiaddr(addr), { signal: bounded() })
        // identify runs on connect: the sidecar learns the protocols and the announced addresses.
        await pause(200)
        joined++
      } catch { failed++ } finally { await node.stop() }
    })
    return { note: `${joined} fake members connected (200 addresses each), ${failed} failed`, counts: { joined, failed } }
  }
}
