/**
 * Issue 14, chain-aware mode: a real sidecar (the CLI's parser, createSidecar) with real native
 * libp2p peers on 127.0.0.1 and a fake Hypertensor JSON-RPC node (test/helpers/fake-chain.ts)
 * answering with real SCALE. Covers: an unstaked peer is disconnected and never served, a staked
 * one is; the stake cache and its expiry; the chain down (fail-open, and --chain-fail closed);
 * malformed answers; the on-chain bootnode comparison in /healthz and get_bootnodes?source=chain;
 * a peer known to be unstaked refused by the connection gater, dropped from the routing table and
 * never handed out in FIND_NODE answers.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { parseConfig } from '../../src/config/index.js'
import { createLogger, silentLogger } from '../../src/log/index.js'
import { createSidecar } from '../../src/sidecar.js'
import { settleWithin } from '../../src/util/deadline.js'
import { freePort } from '../helpers/api.js'
import { startFakeChain } from '../helpers/fake-chain.js'
import { tempDir } from '../helpers/fs.js'
import { tempKeyFile } from '../helpers/keys.js'
import { startTestPeer } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { Logger } from '../../src/log/index.js'
import type { Peer } from '../../src/peer.js'
import type { Sidecar } from '../../src/sidecar.js'
import type { PeerId } from '@libp2p/interface'
import type { ExecutionContext } from 'ava'

let nextSubnet = 4000 + (process.pid % 1000) * 10

interface Running { sidecar: Sidecar, base: string, key: string, addr: string }

async function startSidecar (t: ExecutionContext, subnetId: number, extra: string[], opts: { logger?: Logger, listenPort?: number, chainErrorRetryMs?: number, allowPrivateAddrs?: boolean } = {}): Promise<Running> {
  const key = `key-chain-${randomBytes(16).toString('hex')}`
  const keysFile = await tempKeyFile(t, [{ owner: 'chain', key, active: true }])
  const args = [
    'run', '--subnet-id', String(subnetId), '--listen', `/ip4/127.0.0.1/tcp/${opts.listenPort ?? 0}`, '--api-host', '127.0.0.1', '--api-port', '0',
    '--geo', 'none', ...(opts.allowPrivateAddrs === false ? [] : ['--allow-private-addrs']), '--keys-file', keysFile, '--rate-limit', '100000/minute', '--refresh-interval', '100ms', ...extra
  ]
  const config = parseConfig(args, {}, await tempDir(t, 'sbn-chain-'))
  if (config.command !== 'run') throw new Error(`parsed as ${config.command}`)
  const sidecar = await createSidecar({ ...config, chainErrorRetryMs: opts.chainErrorRetryMs }, opts.logger ?? silentLogger)
  t.teardown(async () => { await sidecar.stop() })
  await sidecar.start()
  const addr = sidecar.node.bootnodeAddrs().find((a) => a.startsWith('/ip4/127.0.0.1/')) ?? ''
  return { sidecar, base: `http://127.0.0.1:${sidecar.api.address().port}`, key, addr }
}

async function getJson (s: Running, path: string): Promise<{ status: number, body: any }> {
  const res = await fetch(`${s.base}${path}`, { headers: { 'X-API-Key': s.key }, signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json() }
}

/** Peer ids in get_heartbeat and get_peers_info. */
async function served (s: Running): Promise<{ heartbeats: string[], peers: string[] }> {
  const hb = await getJson(s, '/v1/get_heartbeat')
  const info = await getJson(s, '/v1/get_peers_info')
  return { heartbeats: (hb.body.value as Array<{ peer_id: string }>).map((h) => h.peer_id), peers: Object.keys(info.body.value as object) }
}

async function metric (s: Running, line: string): Promise<number> {
  const text = await (await fetch(`${s.base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found === undefined ? NaN : Number(found.slice(line.length + 1))
}

/** Whether `peerId` is in the sidecar's DHT routing table (kad-dht's `find`, beyond its public type). */
async function inRoutingTable (s: Running, peerId: string): Promise<boolean> {
  const rt = s.sidecar.node.dht.routingTable as unknown as { find: (p: PeerId) => Promise<PeerId | undefined> }
  return (await rt.find(peerIdFromString(peerId))) !== undefined
}

function connected (s: Running, peer: Peer): boolean {
  return s.sidecar.node.libp2p.getConnections(peerIdFromString(peer.node.peerId)).length > 0
}

async function peer (t: ExecutionContext, subnetId: number, s: Running): Promise<Peer> {
  return await startTestPeer(t, { subnetId: String(subnetId), bootstrap: [s.addr] })
}

/** A logger whose JSON lines are kept, for the one-line-per-failure assertions. */
function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    }
  })
  return { logger: createLogger({ level: 'info', stream }), lines }
}

test('an unstaked peer is disconnected and never served; a staked one is served (ws, cache holds within its TTL)', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  // A slow chain: heartbeats arrive while the checks are in flight, and must wait for them.
  chain.delayMs = 300
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl])
  const [staked, unstaked] = [await peer(t, subnetId, s), await peer(t, subnetId, s)] as [Peer, Peer]
  chain.stake.set(staked.node.peerId, 'registered')

  let leaked: string | undefined
  await waitFor(async () => {
    const now = await served(s)
    if (now.heartbeats.includes(unstaked.node.peerId) || now.peers.includes(unstaked.node.peerId)) leaked = JSON.stringify(now)
    return now.heartbeats.includes(staked.node.peerId) && now.peers.includes(staked.node.peerId) && !connected(s, unstaked) && chain.stakeCalls(unstaked.node.peerId) > 0
  }, { timeoutMs: 15_000, what: 'the staked peer served and the unstaked one disconnected' })
  t.is(leaked, undefined, 'the unstaked peer never appeared in a route')
  t.true(connected(s, staked))
  // It keeps reconnecting (its bootstrap list); the cached verdict refuses it without asking again.
  const after = await served(s)
  t.false(after.heartbeats.includes(unstaked.node.peerId))
  t.false(after.peers.includes(unstaked.node.peerId))
  t.is(chain.stakeCalls(unstaked.node.peerId), 1)
  t.is(chain.stakeCalls(staked.node.peerId), 1)
  t.deepEqual(chain.calls.find((c) => c.peerId === staked.node.peerId), { method: 'network_proofOfStake', peerId: staked.node.peerId, minClass: 0 })
  t.true(await metric(s, 'subnet_bootnode_chain_stake_checks_total{outcome="staked"}') >= 1)
  t.true(await metric(s, 'subnet_bootnode_chain_stake_checks_total{outcome="unstaked"}') >= 1)
  t.true(await metric(s, 'subnet_bootnode_chain_unstaked_disconnects_total') >= 1)
})

test('--min-node-class: a peer of a lower class counts as unstaked; the cache expires and an unstaked peer goes (http)', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.httpUrl, '--min-node-class', 'included', '--chain-cache-ttl', '300ms'])
  const a = await peer(t, subnetId, s)
  const idle = await peer(t, subnetId, s)
  chain.stake.set(a.node.peerId, 'validator')
  chain.stake.set(idle.node.peerId, 'idle')
  await waitFor(async () => (await served(s)).heartbeats.includes(a.node.peerId) && !connected(s, idle), { what: 'the validator served, the idle node dropped' })
  t.false((await served(s)).peers.includes(idle.node.peerId))
  t.is(chain.calls.find((c) => c.peerId === a.node.peerId)?.minClass, 2)

  // Unstaked on chain: once the cached verdict expires the re-check drops it from every route.
  chain.stake.delete(a.node.peerId)
  await waitFor(async () => {
    const now = await served(s)
    return !now.heartbeats.includes(a.node.peerId) && !now.peers.includes(a.node.peerId) && !connected(s, a)
  }, { what: 'the peer dropped after its stake expired' })
  t.true(chain.stakeCalls(a.node.peerId) >= 2)
})

test('template profile: an unstaked JS template peer is dropped and its gossip heartbeats refused and never served', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  const s = await startSidecar(t, subnetId, ['--profile', 'template', '--chain-rpc', chain.wsUrl])
  const fast = { profile: 'template' as const, templateHeartbeatIntervalMs: 300, templatePeerStateIntervalMs: 300 }
  const staked = await startTestPeer(t, { subnetId: String(subnetId), bootstrap: [s.addr], subnetNodeId: 1, ...fast })
  chain.stake.set(staked.node.peerId, 'registered')
  const stakedAddr = staked.node.bootnodeAddrs().find((a) => a.startsWith('/ip4/127.0.0.1/')) ?? ''
  // Bootstraps through the staked peer too, so its messages can reach the sidecar relayed by gossip.
  const unstaked = await startTestPeer(t, { subnetId: String(subnetId), bootstrap: [s.addr, stakedAddr], subnetNodeId: 2, ...fast })

  let leaked: string | undefined
  await waitFor(async () => {
    const now = await served(s)
    if (now.heartbeats.includes(unstaked.node.peerId) || now.peers.includes(unstaked.node.peerId)) leaked = JSON.stringify(now)
    return now.heartbeats.includes(staked.node.peerId) && now.peers.includes(staked.node.peerId) && chain.stakeCalls(unstaked.node.peerId) > 0 && !connected(s, unstaked)
  }, { timeoutMs: 20_000, what: 'the staked template peer served, the unstaked one dropped' })
  t.is(leaked, undefined, 'the unstaked template peer never appeared in a route')
  const hb = (await getJson(s, '/v1/get_heartbeat')).body.value as Array<{ peer_id: string, protocol?: string }>
  t.is(hb.find((h) => h.peer_id === staked.node.peerId)?.protocol, 'template')
  // Its messages did reach the sidecar (directly before the verdict, or relayed by the staked peer) and were refused.
  await waitFor(async () => await metric(s, 'subnet_bootnode_heartbeat_rejections_total{reason="unstaked"}') >= 1, { what: 'unstaked heartbeats refused and counted' })
  t.false((await served(s)).heartbeats.includes(unstaked.node.peerId))
})

test('chain down: fail-open serves peers as the template lets them connect; --chain-fail closed hides them until the chain answers', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  await chain.down()
  const open = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl])
  const closed = await startSidecar(t, subnetId, ['--chain-rpc', chain.httpUrl, '--chain-fail', 'closed', '--bootstrap', open.addr], { chainErrorRetryMs: 200 })
  const p = await peer(t, subnetId, open)
  await p.node.libp2p.dial(multiaddr(closed.addr))

  await waitFor(async () => (await served(open)).heartbeats.includes(p.node.peerId), { what: 'fail-open: the peer served while the chain is down' })
  t.true(await metric(open, 'subnet_bootnode_chain_stake_checks_total{outcome="error"}') >= 1)
  const health = await getJson(open, '/healthz')
  t.is(health.status, 200)
  t.is(health.body.chain.status, 'error')
  t.true(health.body.chain.stake.unverified >= 1)

  // Fail-closed: retried every 200 ms, never served while the chain is down.
  await waitFor(async () => await metric(closed, 'subnet_bootnode_chain_stake_checks_total{outcome="error"}') >= 3, { what: 'retries against the down chain' })
  t.true(connected(closed, p))
  const hidden = await served(closed)
  t.false(hidden.heartbeats.includes(p.node.peerId))
  t.false(hidden.peers.includes(p.node.peerId))

  chain.stake.set(p.node.peerId, 'registered')
  await chain.up()
  await waitFor(async () => (await served(closed)).heartbeats.includes(p.node.peerId), { what: 'the peer served once the chain answers' })
  t.true(chain.stakeCalls(p.node.peerId) >= 1)
})

test('malformed answers: one clear log line each, counted, no crash', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  chain.mode = 'malformed'
  const { logger, lines } = capturingLogger()
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl], { logger, chainErrorRetryMs: 100 })
  const p = await peer(t, subnetId, s)
  await waitFor(async () => await metric(s, 'subnet_bootnode_chain_stake_checks_total{outcome="malformed"}') >= 3, { what: 'malformed stake answers counted' })
  t.true(await metric(s, 'subnet_bootnode_chain_bootnode_refreshes_total{outcome="malformed"}') >= 1)
  // The default fail-open applies to an answer that is not true or false.
  await waitFor(async () => (await served(s)).heartbeats.includes(p.node.peerId), { what: 'the peer served (fail-open)' })

  const stakeLines = lines.filter((l) => l.msg === 'proof of stake could not be checked')
  t.is(stakeLines.length, 1, 'one line per window, however many checks failed')
  t.regex(String((stakeLines[0]?.err as { message?: string })?.message), /network_proofOfStake answered "yes", not true or false/)
  const listLines = lines.filter((l) => l.msg === 'on-chain bootnode list is malformed; keeping the last one')
  t.is(listLines.length, 1)
  t.is((listLines[0]?.err as { code?: string })?.code, 'ERR_CHAIN_MALFORMED')
  const health = await getJson(s, '/healthz')
  t.is(health.status, 200)
  t.is(health.body.chain.status, 'error')
  t.regex(health.body.chain.error, /AllSubnetBootnodes/)
  t.is((await getJson(s, '/v1/get_bootnodes?source=chain')).status, 503)
})

test('/healthz compares the on-chain bootnodes with this sidecar; get_bootnodes?source=chain lists them', async t => {
  const subnetId = nextSubnet++
  const listenPort = await freePort()
  const chain = await startFakeChain(t, { subnetId })
  const ghost = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  // The sidecar's identity is made at creation: register it on chain before it starts (its refresh runs at start).
  const key = await generateKeyPair('Ed25519')
  const self = peerIdFromPrivateKey(key).toString()
  const dir = await tempDir(t, 'sbn-chain-id-')
  await writeFile(`${dir}/identity.key`, privateKeyToProtobuf(key), { mode: 0o600 })
  const other = await startTestPeer(t, { subnetId: String(subnetId) })
  const otherAddr = other.node.bootnodeAddrs().find((a) => a.startsWith('/ip4/127.0.0.1/')) ?? ''
  chain.stake.set(other.node.peerId, 'registered')
  chain.bootnodes = {
    subnet_bootnodes: { [self]: `/ip4/127.0.0.1/tcp/${listenPort}` },
    node_bootnodes: { [other.node.peerId]: otherAddr, [ghost]: `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${ghost}` },
    registered_bootnodes: { '12D3KooWNone': null, '12D3KooWJunk': 'not a multiaddr' }
  }
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl, '--identity-path', `${dir}/identity.key`, '--announce', `/ip4/127.0.0.1/tcp/${listenPort}`, '--announce', '/ip4/203.0.113.5/tcp/31330'], { listenPort })
  t.is(s.sidecar.node.peerId, self)

  const h = await waitFor(async () => {
    const r = await getJson(s, '/healthz')
    return r.body.chain?.status === 'ok' ? r.body.chain : undefined
  }, { what: 'the on-chain bootnode list read' })
  t.deepEqual(h.registered, { peer_id: true, addrs: [`/ip4/127.0.0.1/tcp/${listenPort}/p2p/${self}`], missing_addrs: [`/ip4/203.0.113.5/tcp/31330/p2p/${self}`] })
  t.is(h.bootnodes, 3)
  t.is(h.invalid_bootnodes, 1)
  t.deepEqual(h.unreachable_bootnodes, [chain.bootnodes.node_bootnodes?.[ghost]])
  t.is(await metric(s, 'subnet_bootnode_chain_registered'), 1)
  t.is(await metric(s, 'subnet_bootnode_chain_bootnodes{state="unreachable"}'), 1)
  t.is(await metric(s, 'subnet_bootnode_chain_own_addrs{state="missing"}'), 1)

  const list = await getJson(s, '/v1/get_bootnodes?source=chain')
  t.is(list.status, 200)
  // The subnet owner's first, then each map in its BTreeMap (peer id) order, as the chain encodes it.
  const nodeEntries = [[other.node.peerId, otherAddr], [ghost, chain.bootnodes.node_bootnodes?.[ghost] ?? '']].sort(([a], [b]) => (a ?? '') < (b ?? '') ? -1 : 1).map(([, addr]) => addr)
  t.deepEqual(list.body, { value: [`/ip4/127.0.0.1/tcp/${listenPort}/p2p/${self}`, ...nodeEntries] })
  t.deepEqual((await getJson(s, '/v1/get_bootnodes')).body.value, s.sidecar.node.bootnodeAddrs(), 'without ?source, this node\'s own list')
  t.is((await getJson(s, '/v1/get_bootnodes?source=dht')).status, 400)
})

test('without --allow-private-addrs an on-chain bootnode at a private address (or a name resolving to one) is never dialled, only reported unreachable', async t => {
  const subnetId = nextSubnet++
  // A TCP listener standing for a host of the sidecar's own network: it counts every connection.
  let dialled = 0
  const trap = createServer((socket) => { dialled += 1; socket.destroy() })
  await new Promise<void>((resolve) => { trap.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { await new Promise((resolve) => { trap.close(resolve) }) })
  const port = (trap.address() as { port: number }).port
  const [a, b] = [peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()]
  const chain = await startFakeChain(t, { subnetId, bootnodes: { node_bootnodes: { [a]: `/ip4/127.0.0.1/tcp/${port}/p2p/${a}`, [b]: `/dns4/localhost/tcp/${port}/p2p/${b}` } } })
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl, '--announce', '/ip4/203.0.113.5/tcp/31330'], { allowPrivateAddrs: false })

  const h = await waitFor(async () => {
    const r = await getJson(s, '/healthz')
    return r.body.chain?.status === 'ok' ? r.body.chain : undefined
  }, { what: 'the on-chain bootnode list read' })
  t.is(h.bootnodes, 2)
  t.deepEqual([...h.unreachable_bootnodes].sort(), [`/ip4/127.0.0.1/tcp/${port}/p2p/${a}`, `/dns4/localhost/tcp/${port}/p2p/${b}`].sort())
  t.is(dialled, 0, 'no connection reached the private host')
})

test('a hung chain does not hold up the stop: the bootnode read in flight is abandoned at once', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  // Far past the 10 s RPC timeout: the old stop waited for that timeout.
  chain.delayMs = 60_000
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.httpUrl])
  const outcome = await settleWithin(s.sidecar.stop().then(() => 'stopped'), 5_000, () => 'still stopping')
  t.is(outcome, 'stopped')
})

test('without --chain-rpc: get_bootnodes?source=chain is a 404 JSON and /healthz has no chain object', async t => {
  const s = await startSidecar(t, nextSubnet++, [])
  const r = await getJson(s, '/v1/get_bootnodes?source=chain')
  t.is(r.status, 404)
  t.regex(r.body.detail, /--chain-rpc/)
  t.is((await getJson(s, '/v1/get_bootnodes?source=node')).status, 200)
  const health = await getJson(s, '/healthz')
  t.is(health.body.chain, undefined)
})

test('a peer whose cached verdict is unstaked is refused before the muxer, both ways, logged once per window; a staked one still joins', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  const { logger, lines } = capturingLogger()
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.wsUrl], { logger })
  const opened: string[] = []
  s.sidecar.node.libp2p.addEventListener('connection:open', (evt) => { opened.push(evt.detail.remotePeer.toString()) })
  const staked = await peer(t, subnetId, s)
  chain.stake.set(staked.node.peerId, 'registered')
  const unstaked = await peer(t, subnetId, s)
  // Not yet checked: it connects, is checked in the background, then is disconnected.
  await waitFor(async () => chain.stakeCalls(unstaked.node.peerId) > 0 && !connected(s, unstaked) && (await served(s)).heartbeats.includes(staked.node.peerId),
    { what: 'the unstaked peer disconnected after its verdict, the staked one served' })
  t.true(opened.includes(unstaked.node.peerId), 'its first connection, before any verdict, was let through')

  // Known unstaked now: each new connection is refused once Noise proves its id, before the
  // sidecar sets up a muxer. Noise agrees on the muxer inside its handshake, so the dialer may
  // finish its own side first: then its connection is reset at once, never usable.
  const opensBefore = opened.filter((id) => id === unstaked.node.peerId).length
  for (let i = 0; i < 3; i++) {
    const conn = await unstaked.node.libp2p.dial(multiaddr(s.addr), { signal: AbortSignal.timeout(5_000) }).catch(() => undefined)
    if (conn !== undefined) await waitFor(() => conn.status !== 'open' && conn.status !== 'closing', { what: `redial ${i} reset by the sidecar` })
  }
  t.is(opened.filter((id) => id === unstaked.node.peerId).length, opensBefore, 'no connection:open for the refused peer')
  t.false(connected(s, unstaked))
  // Nor does the sidecar dial it (denyDialPeer: no packet sent).
  await t.throwsAsync(s.sidecar.node.libp2p.dial(peerIdFromString(unstaked.node.peerId), { signal: AbortSignal.timeout(5_000) }), { name: 'DialDeniedError' })
  const refusals = await metric(s, 'subnet_bootnode_connection_refusals_total{reason="peer-gate"}')
  t.true(refusals >= 4, `refusals counted: ${refusals}`)
  const gateLines = lines.filter((l) => l.msg === 'connection refused: the peer gate refuses this peer')
  t.true(gateLines.length >= 1 && gateLines.length < refusals, `logged once per window: ${gateLines.length} lines for ${refusals} refusals`)
  t.is(gateLines[0]?.peer_id, unstaked.node.peerId)
  // Refused from the cache: the chain was asked once.
  t.is(chain.stakeCalls(unstaked.node.peerId), 1)

  // The staked peer is untouched and a new connection of its own still goes through.
  t.true(connected(s, staked))
  const conn = await staked.node.libp2p.dial(multiaddr(s.addr), { signal: AbortSignal.timeout(5_000), force: true })
  t.is(conn.status, 'open')
  t.true((await served(s)).peers.includes(staked.node.peerId))
})

test('after an unstaked verdict the peer leaves the routing table and FIND_NODE answers through the sidecar never name it', async t => {
  const subnetId = nextSubnet++
  const chain = await startFakeChain(t, { subnetId })
  // The chain down at first: the peer is let in (fail-open) and joins the routing table before its verdict.
  await chain.down()
  const s = await startSidecar(t, subnetId, ['--chain-rpc', chain.httpUrl], { chainErrorRetryMs: 200 })
  const unstaked = await peer(t, subnetId, s)
  await waitFor(async () => await inRoutingTable(s, unstaked.node.peerId), { what: 'the unverified peer in the routing table' })
  await chain.up()
  await waitFor(() => chain.stakeCalls(unstaked.node.peerId) > 0 && !connected(s, unstaked), { what: 'the unstaked peer disconnected' })

  // Two staked peers join after the verdict: one to be handed out, one to ask.
  const other = await peer(t, subnetId, s)
  const asker = await peer(t, subnetId, s)
  chain.stake.set(other.node.peerId, 'registered')
  chain.stake.set(asker.node.peerId, 'registered')
  await waitFor(async () => await inRoutingTable(s, other.node.peerId), { what: 'the staked peer in the routing table' })

  // FIND_NODE for the unstaked peer's own id: kad-dht looks it up in the peer store, then the routing table.
  const key = peerIdFromString(unstaked.node.peerId).toMultihash().bytes
  const fromSidecar: string[] = []
  const found: string[] = []
  for await (const evt of asker.node.dht.getClosestPeers(key, { signal: AbortSignal.timeout(10_000) })) {
    if (evt.name === 'PEER_RESPONSE' && evt.from.toString() === s.sidecar.node.peerId) fromSidecar.push(...evt.closer.map((p) => p.id.toString()))
    if (evt.name === 'FINAL_PEER') found.push(evt.peer.id.toString())
  }
  t.true(fromSidecar.includes(other.node.peerId), `the sidecar answered with its peers: ${JSON.stringify(fromSidecar)}`)
  t.false(fromSidecar.includes(unstaked.node.peerId), 'the sidecar never names the unstaked peer')
  t.false(found.includes(unstaked.node.peerId))
  t.false(await inRoutingTable(s, unstaked.node.peerId), 'removed from the routing table')
})
