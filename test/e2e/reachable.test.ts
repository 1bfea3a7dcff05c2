/**
 * SPEC §1 `/v1/is_reachable/<peer_id>` and `/v1/watch` against a real sidecar (parseConfig +
 * createSidecar, loopback, --allow-private-addrs) and a real peer that announces its own address
 * and one where nothing listens. The check dials afresh (the peer sees a new inbound connection,
 * and the sidecar holds no extra one afterwards); a real heartbeat reaches a watch stream. Private
 * addresses are refused without the flag (an API over a real node, nothing dialled). Loopback only.
 */
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import test from 'ava'
import { createApiServer } from '../../src/api/index.js'
import { MAX_CONCURRENT_REACHABILITY_CHECKS } from '../../src/api/constants.js'
import { parseConfig } from '../../src/config/index.js'
import { createKeySet } from '../../src/keys/index.js'
import { silentLogger } from '../../src/log/index.js'
import { createSidecar } from '../../src/sidecar.js'
import { createStaticView } from '../../src/view/index.js'
import { freePort, get, makePeerIds, makeSnapshot } from '../helpers/api.js'
import { tempDir } from '../helpers/fs.js'
import { startNode, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { openWatch } from '../helpers/sse.js'
import { waitFor } from '../helpers/wait.js'
import type { Peer } from '../../src/peer.js'
import type { Sidecar } from '../../src/sidecar.js'
import type { ExecutionContext } from 'ava'

const KEY = 'key-reachable-0123456789abcdef'
const H = { headers: { 'X-API-Key': KEY } }

interface AddrReport { multiaddr: string, ok: boolean, rtt_ms?: number, error?: string }
interface Report { peer_id: string, reachable: boolean, addrs: AddrReport[] }

interface Fixture { sidecar: Sidecar, port: number, peer: Peer, live: string, dead: string }

async function startFixture (t: ExecutionContext): Promise<Fixture> {
  const dir = await tempDir(t, 'sb-reach-')
  const keysFile = join(dir, 'keys.json')
  await writeFile(keysFile, JSON.stringify([{ owner: 'r', key: KEY }]), { mode: 0o600 })
  const subnetId = uniqueSubnetId('reach')
  const config = parseConfig(['run', '--subnet-id', subnetId, '--listen', '/ip4/127.0.0.1/tcp/0', '--allow-private-addrs',
    '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none', '--rate-limit', '10000/minute',
    '--refresh-interval', '200ms', '--log-level', 'error'], {}, dir)
  if (config.command !== 'run') throw new Error(`unexpected command ${config.command}`)
  const sidecar = await createSidecar(config, silentLogger)
  t.teardown(async () => { await sidecar.stop() })
  await sidecar.start()
  const port = sidecar.api.address().port
  const [livePort, deadPort] = [await freePort(), await freePort()]
  const live = `/ip4/127.0.0.1/tcp/${livePort}`
  const dead = `/ip4/127.0.0.1/tcp/${deadPort}`
  const peer = await startTestPeer(t, { subnetId, bootstrap: sidecar.node.bootnodeAddrs(), listen: [live], announce: [live, dead] })
  await waitFor(async () => {
    const r = await get(port, `/v1/get_peers_info?peer_id=${peer.node.peerId}`, H)
    const info = (r.json() as { value: Record<string, { multiaddrs?: string[] }> }).value[peer.node.peerId]
    return info?.multiaddrs?.includes(live) === true && info.multiaddrs.includes(dead)
  }, { timeoutMs: 20_000, intervalMs: 100, what: 'the peer and both its announced addresses in get_peers_info' })
  return { sidecar, port, peer, live, dead }
}

test.serial('is_reachable: a fresh dial + ping per announced address; nothing listening is ok:false; the existing connection is not reused', async (t) => {
  const { sidecar, port, peer, live, dead } = await startFixture(t)
  const sidecarId = sidecar.node.peerId
  const existing = await waitFor(() => sidecar.node.libp2p.getConnections(peer.node.libp2p.peerId).filter(c => c.status === 'open').length, { timeoutMs: 10_000, what: 'a connection between sidecar and peer' })
  let inbound = 0
  peer.node.libp2p.addEventListener('connection:open', (evt) => {
    if (evt.detail.direction === 'inbound' && evt.detail.remotePeer.toString() === sidecarId) inbound++
  })

  const r = await get(port, `/v1/is_reachable/${peer.node.peerId}`, { ...H, timeoutMs: 15_000 })
  t.is(r.status, 200)
  t.is(r.headers['content-type'], 'application/json; charset=utf-8')
  const report = r.json() as Report
  t.is(report.peer_id, peer.node.peerId)
  t.true(report.reachable)
  const ok = report.addrs.find(a => a.multiaddr === live)
  t.true(ok?.ok)
  t.true(typeof ok?.rtt_ms === 'number' && ok.rtt_ms >= 0)
  t.deepEqual(report.addrs.find(a => a.multiaddr === dead), { multiaddr: dead, ok: false, error: 'connection refused' })

  t.is(inbound, 1, 'the peer saw one new inbound connection from the sidecar')
  // the probe's connection is closed again; the one that existed before is still there
  await waitFor(() => sidecar.node.libp2p.getConnections(peer.node.libp2p.peerId).filter(c => c.status === 'open').length <= existing,
    { timeoutMs: 5_000, what: 'the probe connection to close' })
  t.true(sidecar.node.libp2p.getConnections(peer.node.libp2p.peerId).length >= 1, 'the existing connection stays')

  // errors: a malformed id, a well-formed id of no member
  const bad = await get(port, '/v1/is_reachable/not-a-peer-id', H)
  t.is(bad.status, 400)
  t.deepEqual(bad.json(), { detail: 'Invalid peer id' })
  const [stranger] = await makePeerIds(1)
  const unknown = await get(port, `/v1/is_reachable/${stranger ?? ''}`, H)
  t.is(unknown.status, 404)
  t.deepEqual(unknown.json(), { detail: 'Unknown peer' })
  t.is((await get(port, `/v1/is_reachable/${peer.node.peerId}`)).status, 403, 'keyed')
})

test.serial('watch: a real peer\'s new heartbeat reaches an open stream', async (t) => {
  const { port, peer } = await startFixture(t)
  const s = await openWatch(port, KEY)
  t.teardown(() => { s.close() })
  t.is(s.status, 200)
  await waitFor(() => s.events.length >= 3, { timeoutMs: 5_000, what: 'the initial events' })
  const from = s.events.length
  // the peer publishes every 300 ms: its next heartbeat (a new expiration_time) is a new heartbeat event
  const e = await s.next(x => x.event === 'heartbeat' && x.data.includes(peer.node.peerId), { from, timeoutMs: 10_000 })
  const value = (JSON.parse(e.data) as { value: Array<{ peer_id: string }> }).value
  t.true(value.some(h => h.peer_id === peer.node.peerId))
  t.not(e.id, s.events.find(x => x.event === 'heartbeat')?.id, 'a new ETag')
})

test('is_reachable without --allow-private-addrs: loopback and private addresses are listed as refused, nothing is dialled', async (t) => {
  const node = await startNode(t, { subnetId: uniqueSubnetId('reach-private') })
  const [member] = await makePeerIds(1)
  if (member === undefined) throw new Error('one id')
  const snapshot = { ...makeSnapshot([member]), peersInfo: { [member]: { multiaddrs: ['/ip4/127.0.0.1/tcp/1', '/ip4/10.0.0.7/tcp/34490', '/ip6/::1/tcp/1', '/ip4/192.168.1.2/udp/1/quic-v1'] } } }
  let dialled = 0
  node.libp2p.addEventListener('connection:open', () => { dialled++ })
  const server = createApiServer({ host: '127.0.0.1', port: 0 }, { view: createStaticView(snapshot), keys: { current: () => createKeySet([{ owner: 'r', key: KEY }]) }, prober: node })
  t.teardown(async () => { await server.stop() })
  await server.start()
  const r = await get(server.address().port, `/v1/is_reachable/${member}`, H)
  t.is(r.status, 200)
  t.deepEqual(r.json(), {
    peer_id: member,
    reachable: false,
    addrs: [
      { multiaddr: '/ip4/127.0.0.1/tcp/1', ok: false, error: 'private address' },
      { multiaddr: '/ip4/10.0.0.7/tcp/34490', ok: false, error: 'private address' },
      { multiaddr: '/ip6/::1/tcp/1', ok: false, error: 'private address' },
      { multiaddr: '/ip4/192.168.1.2/udp/1/quic-v1', ok: false, error: 'unsupported transport' }
    ]
  })
  t.is(dialled, 0)
})

test('is_reachable: an address that accepts but never answers times out; one check per peer at a time; past the concurrent-check cap 503 with Retry-After', async (t) => {
  const node = await startNode(t, { subnetId: uniqueSubnetId('reach-busy') })
  // a TCP server that accepts and stays silent: the dial's handshake can only time out
  const sockets = new Set<Socket>()
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { for (const s of sockets) s.destroy(); await new Promise((resolve) => silent.close(resolve)) })
  const silentAddr = `/ip4/127.0.0.1/tcp/${(silent.address() as AddressInfo).port}`
  const members = await makePeerIds(MAX_CONCURRENT_REACHABILITY_CHECKS + 1)
  const snapshot = { ...makeSnapshot(members), peersInfo: Object.fromEntries(members.map(id => [id, { multiaddrs: [silentAddr] }])) }
  const server = createApiServer({ host: '127.0.0.1', port: 0, allowPrivateAddrs: true, reachabilityTimeoutMs: 2_000, rateLimit: { limit: 100, windowMs: 60_000 } },
    { view: createStaticView(snapshot), keys: { current: () => createKeySet([{ owner: 'r', key: KEY }]) }, prober: node })
  t.teardown(async () => { await server.stop() })
  await server.start()
  const port = server.address().port
  const first = members[0] ?? ''
  // the first member's check is running (its dial reached the silent server); a second request for it shares
  // that check; one request for each other member: the fifth peer at once is refused
  const firstAnswer = get(port, `/v1/is_reachable/${first}`, H)
  await waitFor(() => sockets.size === 1, { timeoutMs: 5_000, intervalMs: 10, what: 'the first check to dial' })
  const answers = await Promise.all([firstAnswer, ...[first, ...members.slice(1)].map(async (id) => await get(port, `/v1/is_reachable/${id}`, H))])
  const busy = answers.filter(r => r.status === 503)
  t.is(busy.length, 1, 'the fifth peer checked at once is refused')
  t.deepEqual(busy[0]?.json(), { detail: 'Too many reachability checks in progress; retry in a few seconds' })
  t.is(busy[0]?.headers['retry-after'], '5')
  const done = answers.filter(a => a.status === 200)
  t.is(done.length, MAX_CONCURRENT_REACHABILITY_CHECKS + 1)
  for (const r of done) t.deepEqual((r.json() as Report).addrs, [{ multiaddr: silentAddr, ok: false, error: 'timeout' }])
  t.is(answers[0]?.text() ?? 'no answer', answers[1]?.text() ?? 'no second answer', 'the two requests for one peer got the one check\'s answer')
  t.is(sockets.size, MAX_CONCURRENT_REACHABILITY_CHECKS, 'one dial per peer checked: the shared check dialled once')
})
