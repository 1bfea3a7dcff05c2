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
