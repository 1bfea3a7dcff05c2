/**
 * The subnet-template profile's libp2p layer (src/p2p/template.ts, issue 11) against REAL
 * py-libp2p template nodes (../shared/interop/py-libp2p-node): both security modes, both dial
 * directions, signed gossipsub messages on /meshsub/2.0.0 both ways, and discovery of two
 * template nodes through the js node's /ipfs/kad/1.0.0 DHT.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import {
  BoundedMemoryDatastore, POS_TRANSPORT_PROTOCOL, TEMPLATE_GOSSIPSUB_PROTOCOL, TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_KAD_PROTOCOL,
  TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS, posNoise, templateDht, templateGossipsub, templateMsgId, templatePkValidator
} from '../../src/p2p/template.js'
import { pyTest, startPyNode } from '../helpers/py-node.js'
import type { PyNode } from '../helpers/py-node.js'
import type { GossipSub, Message, SignedMessage } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ExecutionContext } from 'ava'

interface TemplateServices extends Record<string, unknown> {
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
  pubsub: GossipSub
  dht: KadDHT
}

interface JsNode {
  node: Libp2p<TemplateServices>
  addr: string
  /** Every gossipsub message received, in order. */
  messages: Message[]
}

/**
 * Polls `check` until it returns a truthy value, at most `timeoutMs`. (Not test/helpers/p2p.ts's
 * waitFor: importing that module loads src/heartbeat, and this file tests only src/p2p/template.ts.)
 */
async function waitFor<T> (check: () => T | Promise<T>, opts: { timeoutMs?: number, intervalMs?: number, what?: string } = {}): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000)
  while (true) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}`)
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 50))
  }
}

/** A js-libp2p node with the template factories on 127.0.0.1, subscribed to the template topics. */
async function startJsNode (t: ExecutionContext): Promise<JsNode> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise(), posNoise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: templateGossipsub(),
      dht: templateDht({ allowPrivateAddrs: true })
    }
  })
  t.teardown(async () => { await node.stop() })
  const messages: Message[] = []
  node.services.pubsub.addEventListener('message', (evt) => { messages.push(evt.detail) })
  for (const topic of TEMPLATE_TOPICS) node.services.pubsub.subscribe(topic)
  const addr = node.getMultiaddrs()[0]?.toString()
  if (addr === undefined) throw new Error('js node has no listen address')
  return { node, addr, messages }
}

/** Resolves with a signed message from `peerId` on `topic` whose bytes equal one of py's PUB lines. */
async function receivedFrom (js: JsNode, py: PyNode, peerId: string, topic: string): Promise<SignedMessage> {
  return await waitFor(() => js.messages.find((m): m is SignedMessage => {
    if (m.type !== 'signed' || m.topic !== topic || m.from.toString() !== peerId) return false
    const text = uint8ArrayToString(m.data)
    return py.events.some((e) => e.kind === 'PUB' && e.fields[0] === topic && e.line === `PUB ${topic} ${text}`)
  }), { timeoutMs: 30_000, what: `a ${topic} message from ${peerId}` })
}

/** Whether the js node's template DHT holds a record under the UTF-8 key `key` itself. */
async function storedLocally (js: JsNode, key: string): Promise<boolean> {
  for await (const event of js.node.services.dht.get(uint8ArrayFromString(key), { signal: AbortSignal.timeout(5_000) })) {
    if (event.name === 'VALUE') return event.from.equals(js.node.peerId)
  }
  return false
}

/** js publishes on `topic` until py prints it as RECV from the js node (the mesh may still be forming). */
async function jsPublishReaches (js: JsNode, py: PyNode, topic: string): Promise<void> {
  const text = `{"from":"js","n":${Date.now()}}`
  await waitFor(async () => {
    if (py.events.some((e) => e.line === `RECV ${topic} ${js.node.peerId.toString()} ${text}`)) return true
    try { await js.node.services.pubsub.publish(topic, uint8ArrayFromString(text)) } catch {}
    return false
  }, { timeoutMs: 30_000, intervalMs: 1_000, what: `py to RECV the js node's ${topic} message` })
}

test('the template gossipsub router registers /meshsub/2.0.0 (fails if a dependency update drops it)', async (t) => {
  const js = await startJsNode(t)
  const protocols = js.node.getProtocols()
  t.true(protocols.includes(TEMPLATE_GOSSIPSUB_PROTOCOL), protocols.join(' '))
  t.true(protocols.includes('/meshsub/1.2.0'))
  t.true(protocols.includes(TEMPLATE_KAD_PROTOCOL))
  t.is(js.node.services.pubsub.protocols[0], TEMPLATE_GOSSIPSUB_PROTOCOL, 'proposed first on outbound streams')
})

test('two js nodes mesh over /meshsub/2.0.0 with posNoise as the only common encrypter', async (t) => {
  const a = await startJsNode(t)
  const b = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [posNoise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: templateGossipsub() }
  })
  t.teardown(async () => { await b.stop() })
  b.services.pubsub.subscribe(TEMPLATE_HEARTBEAT_TOPIC)
  const conn = await b.dial(multiaddr(a.addr))
  t.is(conn.encryption, POS_TRANSPORT_PROTOCOL)
  await waitFor(async () => {
    if (a.messages.some((m) => m.type === 'signed' && m.from.equals(b.peerId))) return true
    try { await b.services.pubsub.publish(TEMPLATE_HEARTBEAT_TOPIC, uint8ArrayFromString('{}')) } catch {}
    return false
  }, { timeoutMs: 15_000, intervalMs: 500, what: 'a message from b' })
  const stream = await waitFor(() => b.getConnections(a.node.peerId).flatMap((c) => c.streams).find((s) => s.protocol?.startsWith('/meshsub/') === true))
  t.is(stream.protocol, TEMPLATE_GOSSIPSUB_PROTOCOL)
})

test('templateMsgId is from (peer id multihash) + 8-byte big-endian seqno, as py-libp2p get_peer_and_seqno_msg_id', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const from = peerIdFromPrivateKey(key)
  const id = templateMsgId({ type: 'signed', from, topic: 'x', data: new Uint8Array(), sequenceNumber: 0x0102n, signature: new Uint8Array(), key: key.publicKey })
  t.deepEqual(id, Uint8Array.from([...from.toMultihash().bytes, 0, 0, 0, 0, 0, 0, 1, 2]))
})

test('the template pk validator accepts the raw and py hex key forms and refuses a mismatch', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const mh = peerIdFromPrivateKey(key).toMultihash().bytes
  const value = publicKeyToProtobuf(key.publicKey)
  const raw = Uint8Array.from([...uint8ArrayFromString('/pk/'), ...mh])
  const hex = uint8ArrayFromString('/pk/' + uint8ArrayToString(mh, 'base16'))
  await t.notThrowsAsync(async () => { await templatePkValidator(raw, value) })
  await t.notThrowsAsync(async () => { await templatePkValidator(hex, value) })
  await t.throwsAsync(async () => { await templatePkValidator(hex, publicKeyToProtobuf(other.publicKey)) })
  await t.throwsAsync(async () => { await templatePkValidator(hex, new Uint8Array(4096)) })
})

test('BoundedMemoryDatastore keeps at most its bound, evicting the oldest write', async (t) => {
  const store = new BoundedMemoryDatastore(2)
  for (const k of ['/a', '/b', '/a', '/c']) store.put(new Key(k), uint8ArrayFromString(k))
  t.false(await store.has(new Key('/b')))
  t.true(await store.has(new Key('/a')))
  t.true(await store.has(new Key('/c')))
})

for (const pos of [true, false]) {
  pyTest(test, `a py template node${pos ? ' with --pos' : ''} dials the js node; signed heartbeat and peer_state flow both ways`, async (t) => {
    const js = await startJsNode(t)
    const py = startPyNode(t, { bootstrap: [js.addr], pos })
    const { peerId } = await py.listen()
    await py.waitForLine((e) => e.kind === 'CONNECTED' && e.fields[0] === js.node.peerId.toString())
    const conn = await waitFor(() => js.node.getConnections().find((c) => c.remotePeer.toString() === peerId))
    t.is(conn.encryption, pos ? POS_TRANSPORT_PROTOCOL : '/noise')
    const hb = await receivedFrom(js, py, peerId, TEMPLATE_HEARTBEAT_TOPIC)
    const ps = await receivedFrom(js, py, peerId, TEMPLATE_PEER_STATE_TOPIC)
    // StrictSign: gossipsub verified the signature against `from` before emitting the message.
    t.true(hb.from.publicKey?.equals(hb.key) === true)
    t.regex(uint8ArrayToString(ps.data), /^\{"uid":"[0-9a-f]{32}","epoch":\d+,"subnet_id":1,"subnet_node_id":1,"state":2,"role":0\}$/)
    const stream = conn.streams.find((s) => s.protocol?.startsWith('/meshsub/') === true)
    t.is(stream?.protocol, TEMPLATE_GOSSIPSUB_PROTOCOL)
    await jsPublishReaches(js, py, TEMPLATE_PEER_STATE_TOPIC)
  })
}

pyTest(test, 'the js node dials a py --pos template node (Noise falls back to /pos-transport/1.0.0) and receives its messages', async (t) => {
  const js = await startJsNode(t)
  const py = startPyNode(t, { pos: true })
  const { multiaddr: pyAddr, peerId } = await py.listen()
  const conn = await js.node.dial(multiaddr(pyAddr), { signal: AbortSignal.timeout(15_000) })
  t.is(conn.encryption, POS_TRANSPORT_PROTOCOL)
  await py.waitForLine((e) => e.kind === 'CONNECTED' && e.fields[0] === js.node.peerId.toString())
  await receivedFrom(js, py, peerId, TEMPLATE_HEARTBEAT_TOPIC)
  await jsPublishReaches(js, py, TEMPLATE_HEARTBEAT_TOPIC)
})

pyTest(test, 'two py template nodes that only know the js node find and connect to each other through its DHT', async (t) => {
  t.timeout(100_000)
  const t0 = Date.now()
  const js = await startJsNode(t)
  const a = startPyNode(t, { bootstrap: [js.addr], args: ['--dht-test'] })
  const b = startPyNode(t, { bootstrap: [js.addr], args: ['--dht-test'], subnetNodeId: 2 })
  const [la, lb] = await Promise.all([a.listen(), b.listen()])
  try {
    await Promise.all([
      a.waitForLine((e) => e.kind === 'CONNECTED' && e.fields[0] === lb.peerId, 90_000),
      b.waitForLine((e) => e.kind === 'CONNECTED' && e.fields[0] === la.peerId, 90_000)
    ])
    // py's --dht-test PUTs its `/pk/<hex multihash>` record to its routing table (the js node):
    // the template DHT accepted and stored it under that UTF-8 key.
    for (const py of [a, b]) {
      const put = py.events.find((e) => e.kind === 'DHT' && e.fields[0] === 'put_value')
      t.is(put?.fields[1], 'ok', put?.line)
      t.true(await storedLocally(js, put?.fields[2] ?? ''), `js holds ${put?.fields[2] ?? '?'}`)
    }
  } finally {
    for (const py of [a, b]) t.log(py.events.filter((e) => e.kind === 'DHT' || e.kind === 'CONNECTED').map((e) => e.line).join('\n'))
    t.log(`discovery took ${Date.now() - t0} ms (py-libp2p refreshes its routing table every 60 s)`)
  }
  t.pass()
})
