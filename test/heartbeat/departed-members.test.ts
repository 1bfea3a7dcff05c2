/**
 * Fake members that connect, announce many addresses and leave do not keep the bootnode dialling
 * them (issue 12, bench/attack 'fake-members': the idle-after row stayed at ~6 s CPU per 10 s).
 * Their announced addresses point at plain TCP servers that count the connections they get, so a
 * dial to a departed member is seen as it happens.
 */
import { createServer } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { createLibp2p } from 'libp2p'
import { kadProtocol } from '../../src/p2p/index.js'
import { startBootnode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import type { Server } from 'node:net'

const FAKE_MEMBERS = 3
const ADDRS_PER_MEMBER = 12
/** Lookup rounds watched after the members left (the lookup runs every LOOKUP_INTERVAL_MS). */
const LOOKUP_INTERVAL_MS = 200
const WATCH_ROUNDS = 10

test('members that announced many addresses and left are not dialled again', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId }, { lookupIntervalMs: LOOKUP_INTERVAL_MS })

  // Where the fake members say they are: servers that count and drop every connection.
  let dials = 0
  const servers: Server[] = []
  for (let i = 0; i < ADDRS_PER_MEMBER; i++) {
    const server = createServer((socket) => { dials++; socket.destroy() })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
  }
  t.teardown(async () => { await Promise.all(servers.map(async (s) => new Promise((resolve) => s.close(resolve)))) })
  const announce = servers.map((s) => {
    const address = s.address()
    if (address === null || typeof address === 'string') throw new Error('no tcp address')
    return `/ip4/127.0.0.1/tcp/${address.port}`
  })

  const members = await Promise.all(Array.from({ length: FAKE_MEMBERS }, async () => {
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'], announce },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({ protocol: kadProtocol(subnetId), clientMode: false, peerInfoMapper: passthroughMapper })
      }
    })
    t.teardown(async () => { await node.stop() })
    return node
  }))
  for (const member of members) await member.dial(multiaddr(boot.addrs[0] ?? ''), { signal: AbortSignal.timeout(5_000) })
  // The bootnode knows them as subnet peers (identify: the kad protocol and the announced addresses).
  await waitFor(async () => {
    const known = await boot.node.libp2p.peerStore.all({ filters: [(p) => p.protocols.includes(boot.node.kadProtocol) && p.addresses.length >= ADDRS_PER_MEMBER] })
    return known.length >= FAKE_MEMBERS
  }, { what: 'the fake members in the bootnode peer store' })
  await Promise.all(members.map(async (m) => { await m.stop() }))
  await waitFor(() => boot.node.libp2p.getConnections().length === 0, { what: 'the fake members gone' })

  // Dialling them stops: at most one attempt each (a dial records its failure, and a member
  // whose last dial failed is not looked up), then WATCH_ROUNDS lookup rounds without a dial.
  // Before the fix every round looked each of them up, and each get dialled them again.
  let seen = dials
  let quietSince = Date.now()
  await waitFor(() => {
    if (dials !== seen) {
      seen = dials
      quietSince = Date.now()
    }
    return Date.now() - quietSince >= LOOKUP_INTERVAL_MS * WATCH_ROUNDS
  }, { what: `${WATCH_ROUNDS} lookup rounds without a dial to a departed member (${dials} dials so far)`, timeoutMs: 15_000 })
  t.pass()
})
