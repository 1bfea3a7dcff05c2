/**
 * Caps on concurrent inbound connections per IP and per peer id (issue 12 item 1, SPEC §5).
 * Real attack clients on 127.0.0.1 force new connections to a real subnet node past its caps; an
 * honest newcomer dialling from 127.0.0.2 (its TCP source address bound there) still connects,
 * joins the DHT and is served.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'
import { createLogger } from '../../src/log/index.js'
import { createSubnetNode, kadProtocol } from '../../src/p2p/index.js'
import { LOOPBACK_LISTEN, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { Libp2p } from '@libp2p/interface'
import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { ExecutionContext } from 'ava'

const MAX_PER_IP = 4
const MAX_PER_PEER = 2
const DIAL_TIMEOUT_MS = 5_000

/** A subnet node with low caps, logging at debug level into `lines`. */
async function startBootnode (t: ExecutionContext, registry: Registry, lines: Array<Record<string, unknown>> = []): Promise<SubnetNode> {
  const logger = createLogger({ level: 'debug', stream: { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); return true } } })
  const node = await createSubnetNode({
    subnetId: uniqueSubnetId('conn-limits'),
    listen: LOOPBACK_LISTEN,
    allowPrivateAddrs: true,
    maxConnectionsPerIp: MAX_PER_IP,
    maxConnectionsPerPeer: MAX_PER_PEER,
    logger
  }, { registry })
  t.teardown(async () => { await node.stop() })
  await node.start()
  return node
}

/**
 * A bare libp2p node whose TCP dials leave from `sourceIp` (net.connect's `localAddress`, which
 * @libp2p/tcp passes through from `dialOpts`), speaking the subnet's DHT when `kad` is given.
 */
async function startClient (t: ExecutionContext, sourceIp: string, kad?: string): Promise<Libp2p<{ ping: Ping, dht?: KadDHT }>> {
  // noDelay as well: TCPSocketOptions does not name localAddress, and a type with none of its options would be refused.
  const dialOpts = { noDelay: true, localAddress: sourceIp }
  const node = await createLibp2p({
    addresses: { listen: kad === undefined ? [] : [`/ip4/${sourceIp}/tcp/0`] },
    transports: [tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      ...(kad === undefined ? {} : { dht: kadDHT({ protocol: kad, clientMode: false, peerInfoMapper: passthroughMapper }) })
    }
  })
  t.teardown(async () => { await node.stop() })
  return node
}

/** Forces `n` new connections to `addr`, one after another; how many the dialer saw open. */
async function forceDials (client: Libp2p, addr: string, n: number): Promise<number> {
  let opened = 0
  for (let i = 0; i < n; i++) {
    try {
      await client.dial(multiaddr(addr), { force: true, signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      opened += 1
    } catch {}
  }
  return opened
}

function inboundFrom (node: SubnetNode, ip: string): number {
  return node.libp2p.getConnections().filter((c) => c.direction === 'inbound' && c.remoteAddr.toString().startsWith(`/ip4/${ip}/`)).length
}

async function refusals (registry: Registry): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric('subnet_bootnode_connection_refusals_total')
  if (metric === undefined) return {}
  const { values } = await metric.get()
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]))
}

test('one peer id holds at most its per-peer maximum of connections; the extras are refused and counted', async (t) => {
  const registry = new Registry()
  const lines: Array<Record<string, unknown>> = []
  const bootnode = await startBootnode(t, registry, lines)
  const addr = bootnode.bootnodeAddrs()[0] ?? ''
  const attacker = await startClient(t, '127.0.0.1')

  await forceDials(attacker, addr, MAX_PER_PEER + 3)
  // Refused sockets close on the bootnode's side; poll until what is left is what it kept.
  await waitFor(async () => (await refusals(registry))['per-peer'] === 3, { what: '3 per-peer refusals', timeoutMs: 10_000 })
  await waitFor(() => bootnode.libp2p.getConnections(attacker.peerId).length === MAX_PER_PEER, { what: `${MAX_PER_PEER} connections kept` })
  t.is((await refusals(registry))['per-ip'], 0)
  // Three refusals, one warn line (the window is 10 s).
  const refusedLines = lines.filter((l) => l.msg === 'inbound connection refused: connection limit reached')
  t.is(refusedLines.length, 1)
  t.like(refusedLines[0], { level: 'warn', reason: 'per-peer', peer_id: attacker.peerId.toString() })
})

test('one IP holds at most its per-IP maximum; a newcomer from another IP still joins and is served; slots free on close', async (t) => {
  const registry = new Registry()
  const bootnode = await startBootnode(t, registry)
  const addr = bootnode.bootnodeAddrs()[0] ?? ''

  // Three identities on 127.0.0.1, each within its per-peer maximum: 6 attempts, 4 slots.
  const attackers = await Promise.all([0, 1, 2].map(async () => startClient(t, '127.0.0.1')))
  for (const attacker of attackers) await forceDials(attacker, addr, MAX_PER_PEER)
  await waitFor(async () => (await refusals(registry))['per-ip'] === 3 * MAX_PER_PEER - MAX_PER_IP, { what: 'per-IP refusals', timeoutMs: 10_000 })
  await waitFor(() => inboundFrom(bootnode, '127.0.0.1') === MAX_PER_IP, { what: `${MAX_PER_IP} connections kept from 127.0.0.1` })

  // While 127.0.0.1 holds its maximum, one more from there is refused at once…
  const late = await startClient(t, '127.0.0.1')
  t.is(await forceDials(late, addr, 1), 0)
  t.is(inboundFrom(bootnode, '127.0.0.1'), MAX_PER_IP)

  // …and a newcomer from 127.0.0.2 joins: connected, in its routing table, answered.
  const newcomer = await startClient(t, '127.0.0.2', kadProtocol(bootnode.subnetId))
  await newcomer.dial(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
  await waitFor(() => ((newcomer.services.dht as SingleKadDHT | undefined)?.routingTable.size ?? 0) > 0, { what: 'the bootnode in the newcomer\'s routing table' })
  const rtt = await newcomer.services.ping.ping(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
  t.true(rtt >= 0)
  t.is(inboundFrom(bootnode, '127.0.0.2'), 1)

  // The attackers leave: their slots are released and 127.0.0.1 is welcome again.
  await Promise.all(attackers.map(async (a) => { await a.stop() }))
  await waitFor(() => inboundFrom(bootnode, '127.0.0.1') === 0, { what: 'the attackers\' connections closed' })
  t.is(await forceDials(late, addr, 1), 1)
  await waitFor(() => bootnode.libp2p.getConnections(late.peerId).length === 1, { what: 'the late client connected' })
})

test('a cap below 1 is refused when the node is built', async (t) => {
  for (const init of [{ maxConnectionsPerIp: 0 }, { maxConnectionsPerPeer: 0 }, { maxConnectionsPerIp: 1.5 }]) {
    await t.throwsAsync(createSubnetNode({ subnetId: uniqueSubnetId('conn-limits'), listen: LOOPBACK_LISTEN, ...init }), { name: 'InvalidParametersError' })
  }
})
