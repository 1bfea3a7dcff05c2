import test from 'ava'
import { createLocator } from '../../src/geo/index.js'
import { createPeerCollector } from '../../src/peers/index.js'
import { ipsOfMultiaddr as ipsOf } from '../../src/util/multiaddr.js'
import { createViewBuilder } from '../../src/view/builder.js'
import { startBootnode, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { Location, Locator, ViewSnapshot } from '../../src/view/index.js'

test('ipsOfMultiaddr takes ip4 and ip6 components only', (t) => {
  t.deepEqual(ipsOf('/ip4/1.2.3.4/tcp/1'), ['1.2.3.4'])
  t.deepEqual(ipsOf('/ip6/::1/tcp/1'), ['::1'])
  t.deepEqual(ipsOf('/dns4/example.org/tcp/1'), [])
  t.deepEqual(ipsOf('garbage'), [])
})

test('the view holds SPEC §1 shapes: heartbeats, peers info with every IP located, bootnodes, readiness', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const peers = createPeerCollector({ allowPrivateAddrs: true }, { node: boot.node })
  t.teardown(async () => { await peers.stop() })
  await peers.start()
  const asked: string[][] = []
  const locator: Locator = {
    locate: async (ips) => {
      asked.push([...ips])
      return new Map(ips.map((ip): [string, Location] => [ip, { status: 'success', country: 'Testland', query: ip }]))
    },
    stop: async () => {}
  }
  const view = createViewBuilder({ refreshIntervalMs: 60_000 }, { node: boot.node, heartbeats: boot.collector, peers, locator })
  t.teardown(async () => { await view.stop() })
  const snapshots: ViewSnapshot[] = []
  view.onChange((s) => { snapshots.push(s) })
  await view.start()

  const dual = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'], role: 'miner', publicName: 'dual' })
  const dnsOnly = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, announce: ['/dns4/peer.example.org/tcp/4001'] })

  const snap = await waitFor(() => {
    const s = view.current()
    const info = s.peersInfo[dual.node.peerId]
    return s.heartbeats.length === 2 && s.peerCount === 2 && info !== undefined && Object.keys(info).length === 3 ? s : undefined
  }, { what: 'both heartbeats and peers in the view' })

  t.is(snap.peerId, boot.node.peerId)
  t.true(snap.ready)
  t.deepEqual(snap.bootnodes, boot.node.bootnodeAddrs())
  t.true(snap.bootnodes.every((a) => a.endsWith(`/p2p/${boot.node.peerId}`)))
  t.false(boot.node.peerId in snap.peersInfo)

  const hb = snap.heartbeats.find((h) => h.peer_id === dual.node.peerId)!
  t.deepEqual(Object.keys(hb).sort(), ['expiration_time', 'peer_id', 'server'])
  t.deepEqual(Object.keys(hb.server).sort(), ['next_pings', 'public_name', 'role', 'state', 'throughput', 'using_relay', 'version'])
  t.is(hb.server.role, 'MINER')
  t.is(hb.server.public_name, 'dual')
  t.is(typeof hb.expiration_time, 'number')

  const info = snap.peersInfo[dual.node.peerId]!
  t.deepEqual(Object.keys(info).sort(), ['127.0.0.1', '::1', 'multiaddrs'].sort())
  t.deepEqual(info['127.0.0.1'], { location: { status: 'success', country: 'Testland', query: '127.0.0.1' } })
  t.deepEqual(info['::1'], { location: { status: 'success', country: 'Testland', query: '::1' } })
  t.is((info.multiaddrs as string[]).length, 2)
  // A peer with no IP address at all still appears, with its multiaddrs.
  t.deepEqual(snap.peersInfo[dnsOnly.node.peerId], { multiaddrs: ['/dns4/peer.example.org/tcp/4001'] })
  t.true(asked.every((batch) => new Set(batch).size === batch.length), 'each IP asked once per build')

  t.true(snapshots.length >= 2)
  for (let i = 1; i < snapshots.length; i++) t.is(snapshots[i]!.version, snapshots[i - 1]!.version + 1)
})

test('with geolocation off (locator mode none) every IP gets a geolocation-disabled fail object; a stopped peer goes OFFLINE in the view', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const peers = createPeerCollector({ allowPrivateAddrs: true }, { node: boot.node })
  t.teardown(async () => { await peers.stop() })
  await peers.start()
  const view = createViewBuilder({}, { node: boot.node, heartbeats: boot.collector, peers, locator: createLocator({ mode: 'none' }) })
  t.teardown(async () => { await view.stop() })
  await view.start()
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs })
  const info = await waitFor(() => view.current().peersInfo[peer.node.peerId], { what: 'the peer in the view' })
  t.deepEqual(info['127.0.0.1'], { location: { status: 'fail', message: 'geolocation disabled', query: '127.0.0.1' } })
  await waitFor(() => view.current().heartbeats.some((h) => h.server.state === 'ONLINE'), { what: 'ONLINE' })
  await peer.stop()
  await waitFor(() => view.current().heartbeats.some((h) => h.server.state === 'OFFLINE'), { what: 'OFFLINE in the view' })
  // Nothing changes any more: rebuilding publishes no new snapshot.
  const version = view.current().version
  await view.refresh()
  await view.refresh()
  t.is(view.current().version, version)
})

test('a slow geolocator never holds heartbeats back: the address shows once its lookup finishes', async (t) => {
  // ip-api mode against a local server that never answers (the edge we cannot reach here):
  // the locator times out and falls back to the offline data; meanwhile the view goes out without it.
  const { createServer } = await import('node:http')
  const { createLocator } = await import('../../src/geo/index.js')
  const hanging = createServer(() => {})
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hanging.closeAllConnections(); hanging.close() })
  const { port } = hanging.address() as { port: number }
  const locator = createLocator({ mode: 'ip-api', ipApiUrl: `http://127.0.0.1:${port}/batch`, timeoutMs: 4_000 })
  t.teardown(async () => { await locator.stop() })

  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const peers = createPeerCollector({ allowPrivateAddrs: true }, { node: boot.node })
  t.teardown(async () => { await peers.stop() })
  await peers.start()
  const view = createViewBuilder({ refreshIntervalMs: 60_000 }, { node: boot.node, heartbeats: boot.collector, peers, locator })
  t.teardown(async () => { await view.stop() })
  await view.start()
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, announce: ['/ip4/8.8.8.8/tcp/4001'] })

  // The heartbeat and the peer's multiaddrs are served while the lookup of 8.8.8.8 still hangs.
  const early = await waitFor(() => {
    const s = view.current()
    return s.heartbeats.some((h) => h.peer_id === peer.node.peerId) && s.peersInfo[peer.node.peerId] !== undefined ? s : undefined
  }, { what: 'the heartbeat and the peer in the view' })
  t.deepEqual(early.peersInfo[peer.node.peerId], { multiaddrs: ['/ip4/8.8.8.8/tcp/4001'] }, 'not located yet: only its multiaddrs')

  // Once ip-api times out, the offline fallback locates it and the view is rebuilt on its own.
  const located = await waitFor(() => {
    const entry = view.current().peersInfo[peer.node.peerId]?.['8.8.8.8']
    return entry !== undefined && !Array.isArray(entry) ? entry.location : undefined
  }, { what: '8.8.8.8 located after the ip-api timeout', timeoutMs: 20_000 })
  t.is(located.status, 'success')
  t.is(located.countryCode, 'US')
})

test('a change from one peer rebuilds only that peer: the others keep their info objects, only its new address is located (issue 12 item 3)', async (t) => {
  const { createListeners } = await import('../../src/util/listeners.js')
  type Hb = ViewSnapshot['heartbeats'][number]
  type Peer = ReturnType<Parameters<typeof createViewBuilder>[1]['peers']['peers']>[number]
  const hbEvents = createListeners<[]>((err) => { throw err })
  const peerEvents = createListeners<[]>((err) => { throw err })
  const ids = Array.from({ length: 50 }, (_, i) => `12D3KooWFake${String(i).padStart(4, '0')}`)
  const hb = (id: string, exp: number): Hb => ({
    peer_id: id,
    server: { state: 'ONLINE', role: 'VALIDATOR', throughput: 1, public_name: null, version: '1', using_relay: false, next_pings: null },
    expiration_time: exp
  })
  let heartbeatList = ids.map((id) => hb(id, 2e9))
  const peer = (id: string, i: number): Peer => ({ peerId: id, multiaddrs: [`/ip4/203.0.113.${i}/tcp/4001`], lastSeen: 1 })
  let peerList = ids.map(peer)
  const asked: string[][] = []
  const locator: Locator = {
    // a new object per answer, as the real locator gives
    locate: async (ips) => { asked.push([...ips]); return new Map(ips.map((ip): [string, Location] => [ip, { status: 'success', query: ip }])) },
    stop: async () => {}
  }
  const node = { isDhtReady: () => true, isStarted: () => true, peerId: 'self', bootnodeAddrs: () => ['/ip4/127.0.0.1/tcp/1/p2p/self'] }
  const view = createViewBuilder({ refreshIntervalMs: 60_000 }, {
    node: node as unknown as Parameters<typeof createViewBuilder>[1]['node'],
    heartbeats: { heartbeats: () => heartbeatList, onChange: (l: () => void) => hbEvents.add(l) } as unknown as Parameters<typeof createViewBuilder>[1]['heartbeats'],
    peers: { peers: () => peerList, onChange: (l: () => void) => peerEvents.add(l) } as unknown as Parameters<typeof createViewBuilder>[1]['peers'],
    locator
  })
  t.teardown(async () => { await view.stop() })
  await view.start()
  const s1 = view.current()
  t.is(Object.keys(s1.peersInfo).length, 50)
  t.is(asked.length, 1)

  // nothing changed: no new snapshot, nothing located again
  await view.refresh()
  t.is(view.current(), s1)
  t.is(asked.length, 1)

  // peer 7 moves and re-publishes; every peer entry is a new object with the same content (as the collector gives)
  const moved = ids[7] ?? ''
  peerList = ids.map((id, i) => id === moved ? { peerId: id, multiaddrs: ['/ip4/198.51.100.7/tcp/4001'], lastSeen: 2 } : peer(id, i))
  heartbeatList = heartbeatList.map((h) => h.peer_id === moved ? hb(moved, 2e9 + 1) : h)
  await view.refresh()
  const s2 = view.current()
  t.is(s2.version, s1.version + 1)
  t.deepEqual(asked.at(-1), ['198.51.100.7'], 'only the new address is located')
  for (const id of ids) {
    if (id === moved) t.not(s2.peersInfo[id], s1.peersInfo[id])
    else t.is(s2.peersInfo[id], s1.peersInfo[id], `${id} keeps its info object`)
  }
  t.deepEqual(s2.peersInfo[moved], { '198.51.100.7': { location: { status: 'success', query: '198.51.100.7' } }, multiaddrs: ['/ip4/198.51.100.7/tcp/4001'] })
  t.is(s2.heartbeats.filter((h, i) => h !== s1.heartbeats[i]).length, 1)
})
