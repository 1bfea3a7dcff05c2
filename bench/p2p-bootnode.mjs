/**
 * The bootnode half of bench/p2p.ts, in plain JavaScript so that its RSS can be measured on
 * the compiled code the `subnet-bootnode` binary runs (dist/), without the tsx loader.
 * Usage (by bench/p2p.ts only): node p2p-bootnode.mjs <module base dir> <subnet id>
 * The base dir is dist/ (compiled) or src/ (run under `--import tsx`). Talks over IPC.
 */
const [base, subnetId] = process.argv.slice(2)
const ext = base.endsWith('/src') ? '.ts' : '.js'
const load = async (path) => import(`${base}/${path}${ext}`)

await load('polyfill')
const { createSubnetNode } = await load('p2p/index')
const { createHeartbeatCollector, heartbeatKey, sealHeartbeat } = await load('heartbeat/index')
const { createPeerCollector, LAST_SEEN_METADATA_KEY } = await load('peers/index')
const { createViewBuilder } = await load('view/builder')
const { createLocator } = await load('geo/index')
const { generateKeyPair } = await import('@libp2p/crypto/keys')
const { Record: DhtRecord } = await import('@libp2p/kad-dht')
const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
const { multiaddr } = await import('@multiformats/multiaddr')
const { Key } = await import('interface-datastore')
const { toString: uint8ArrayToString } = await import('uint8arrays/to-string')

const PHASE_TIMEOUT_MS = 45_000
// All 50 bench peers dial from 127.0.0.1: room for each to hold the per-peer maximum (as the demo).
const node = await createSubnetNode({ subnetId, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, maxConnectionsPerIp: 256 })
await node.start()
const heartbeats = createHeartbeatCollector({ sweepIntervalMs: 1000 }, { node })
await heartbeats.start()
const peers = createPeerCollector({}, { node })
await peers.start()
const view = createViewBuilder({}, { node, heartbeats, peers, locator: createLocator({ mode: 'none' }) })
await view.start()
const send = (msg) => { process.send?.(msg) }
send({ ready: true, addrs: node.bootnodeAddrs() })
// The parent went away (cap reached, crash): do not linger.
process.on('disconnect', () => { process.exit(0) })

/**
 * 1,000 synthetic subnet peers: a peer store entry each (one private IPv4 address, our kad
 * protocol, last seen now) and a genuinely signed heartbeat stored exactly as kad-dht stores
 * a record it was sent (`/dht/record/<base32 key>` → serialised DHT record).
 */
async function synthesise (count) {
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key)
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    await node.libp2p.peerStore.merge(id, {
      multiaddrs: [multiaddr(`/ip4/${ip}/tcp/4001`)],
      protocols: [node.kadProtocol],
      metadata: { [LAST_SEEN_METADATA_KEY]: new TextEncoder().encode(String(now)) }
    })
    const envelope = await sealHeartbeat({
      subnet_id: node.subnetId,
      peer_id: id.toString(),
      seq: now,
      server: { state: 'ONLINE', role: 'VALIDATOR', throughput: 1, public_name: `peer-${i}`, version: '1.0.0', using_relay: false, next_pings: { [node.peerId]: 0.005 } },
      expiration_time: now / 1000 + 600
    }, key)
    const dhtKey = heartbeatKey(id.toString())
    await node.datastore.put(new Key(`/dht/record/${uint8ArrayToString(dhtKey, 'base32')}`, false), new DhtRecord(dhtKey, envelope, new Date()).serialize())
  }
}

process.on('message', (msg) => {
  void (async () => {
    if (msg.op === 'status') {
      globalThis.gc?.()
      const s = view.current()
      send({ id: msg.id, heartbeats: s.heartbeats.length, online: s.heartbeats.filter((h) => h.server.state === 'ONLINE').length, peers: s.peerCount, rss: process.memoryUsage().rss })
    } else if (msg.op === 'gets') {
      // As the collector does: time to the first record a peer returns (kad-dht's own
      // VALUE event only comes once the whole query has ended).
      const times = []
      let found = 0
      for (const peer of msg.peers) {
        const t0 = performance.now()
        const done = new AbortController()
        try {
          for await (const e of node.dht.get(heartbeatKey(peer), { signal: AbortSignal.any([done.signal, AbortSignal.timeout(10_000)]) })) {
            if ((e.name === 'PEER_RESPONSE' && e.record != null) || e.name === 'VALUE') {
              found += 1
              break
            }
          }
        } catch {}
        done.abort()
        times.push(performance.now() - t0)
      }
      send({ id: msg.id, times, found })
    } else if (msg.op === 'synth') {
      const t0 = performance.now()
      await synthesise(msg.count)
      const t1 = performance.now()
      await heartbeats.stop()
      await heartbeats.start() // sweeps, and so scans the store, at once
      await peers.stop()
      await peers.start() // loads the peer store
      const deadline = Date.now() + PHASE_TIMEOUT_MS
      while (view.current().heartbeats.length < msg.count && Date.now() < deadline) {
        await view.refresh()
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const t2 = performance.now()
      globalThis.gc?.()
      const s = view.current()
      send({ id: msg.id, heartbeats: s.heartbeats.length, peers: s.peerCount, synthMs: t1 - t0, viewMs: t2 - t1, rss: process.memoryUsage().rss, body: JSON.stringify(s.peersInfo).length + JSON.stringify(s.heartbeats).length })
    } else if (msg.op === 'stop') {
      await view.stop()
      await peers.stop()
      await heartbeats.stop()
      await node.stop()
      send({ id: msg.id })
      process.exit(0)
    }
  })()
})
