import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import test from 'ava'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { heartbeatKey, sealHeartbeat } from '../../src/heartbeat/index.js'
import { IdentityError, createSubnetNode } from '../../src/p2p/index.js'
import { ConfigError } from '../../src/errors.js'
import { createLogger } from '../../src/log/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { tempDir } from '../helpers/fs.js'
import { waitFor } from '../helpers/wait.js'
import { payloadFor } from '../heartbeat/fixtures.js'
import type { Logger } from '../../src/log/index.js'

test('the identity file is created 0600 and gives the same peer id after a restart', async (t) => {
  const dir = await tempDir(t, 'subnet-p2p-')
  const identityPath = join(dir, 'nested', 'identity.key')
  const init = { subnetId: uniqueSubnetId(), listen: ['/ip4/127.0.0.1/tcp/0'], identityPath }
  const first = await createSubnetNode(init)
  t.teardown(async () => { await first.stop() })
  await first.start()
  t.is((await stat(identityPath)).mode & 0o777, 0o600)
  const bytes = await readFile(identityPath)
  await first.stop()
  const second = await createSubnetNode(init)
  t.teardown(async () => { await second.stop() })
  await second.start()
  t.is(second.peerId, first.peerId)
  t.deepEqual(await readFile(identityPath), bytes, 'the key file is not rewritten')
  t.true(second.bootnodeAddrs().every((a) => a.endsWith(`/p2p/${first.peerId}`)))
})

test('a corrupt identity file is refused with a typed error and left untouched', async (t) => {
  const dir = await tempDir(t, 'subnet-p2p-')
  const identityPath = join(dir, 'identity.key')
  await writeFile(identityPath, 'not a key', { mode: 0o600 })
  const err = await t.throwsAsync(createSubnetNode({ subnetId: 'x', identityPath }), { instanceOf: IdentityError })
  t.is(err?.code, 'ERR_IDENTITY')
  t.is(await readFile(identityPath, 'utf8'), 'not a key')
})

test('bad settings are refused with ConfigError', async (t) => {
  await t.throwsAsync(createSubnetNode({ subnetId: 'has/slash' }), { instanceOf: ConfigError })
  await t.throwsAsync(createSubnetNode({ subnetId: 'ok', listen: ['not-a-multiaddr'] }), { instanceOf: ConfigError })
  const err = await t.throwsAsync(createSubnetNode({ subnetId: 'ok', bootstrap: ['/ip4/127.0.0.1/tcp/1'] }), { instanceOf: ConfigError })
  t.regex(err?.message ?? '', /\/p2p\/<peer id>/)
})

test('start and stop are idempotent; readiness follows the routing table', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  t.true(boot.isDhtReady(), 'no bootstrap list: ready once listening')
  await boot.start()
  const node = await createSubnetNode({ subnetId, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, bootstrap: boot.bootnodeAddrs() })
  t.teardown(async () => { await node.stop() })
  t.false(node.isDhtReady())
  t.deepEqual(node.bootnodeAddrs(), [])
  await Promise.all([node.start(), node.start()])
  await waitFor(() => node.isDhtReady(), { what: 'the routing table to fill' })
  await waitFor(() => boot.dht.routingTable.size >= 1, { what: 'the bootnode to add the node' })
  t.is(boot.dht.getMode(), 'server')
  await node.stop()
  await node.stop()
  t.false(node.isDhtReady())
})

test('bootstrap is retried until the bootnode comes up', async (t) => {
  const subnetId = uniqueSubnetId()
  // A bootnode whose identity we know before it listens.
  const boot = await createSubnetNode({ subnetId, listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true })
  t.teardown(async () => { await boot.stop() })
  await boot.start()
  const addr = boot.bootnodeAddrs()[0]!
  await boot.stop()
  const node = await startNode(t, { subnetId, bootstrap: [addr] })
  // Bring the bootnode back on the same port.
  const again = await createSubnetNode({ subnetId, listen: [addr.replace(/\/p2p\/.*$/, '')], allowPrivateAddrs: true, privateKey: boot.privateKey })
  t.teardown(async () => { await again.stop() })
  await again.start()
  await waitFor(() => node.isDhtReady(), { what: 'the retried bootstrap', timeoutMs: 20_000 })
  await waitFor(() => again.dht.routingTable.size >= 1, { what: 'the bootnode to add the node' })
  t.true(node.libp2p.getConnections(again.libp2p.peerId).length > 0)
})

test('announce addresses replace the listen addresses in bootnodeAddrs', async (t) => {
  const node = await startNode(t, { subnetId: uniqueSubnetId(), announce: ['/dns4/boot.example.org/tcp/31330'] })
  t.deepEqual(node.bootnodeAddrs(), [`/dns4/boot.example.org/tcp/31330/p2p/${node.peerId}`])
})

/** A logger whose lines are kept for assertions. */
function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = { write: (chunk: string): boolean => { lines.push(JSON.parse(chunk) as Record<string, unknown>); return true } }
  return { logger: createLogger({ level: 'warn', stream }), lines }
}

test('bootnodeAddrs drops loopback and private addresses of a 0.0.0.0 listener, and warns once when nothing is left', async (t) => {
  const { logger, lines } = capturingLogger()
  const node = await startNode(t, { subnetId: uniqueSubnetId(), listen: ['/ip4/0.0.0.0/tcp/0'], allowPrivateAddrs: false, logger })
  const all = node.libp2p.getMultiaddrs().map(String)
  t.true(all.some((a) => a.startsWith('/ip4/127.0.0.1/')), `libp2p lists loopback for 0.0.0.0: ${all.join(' ')}`)
  const addrs = node.bootnodeAddrs()
  t.false(addrs.some((a) => a.includes('/ip4/127.')), addrs.join(' '))
  t.false(addrs.some((a) => /\/ip4\/(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/.test(a)), addrs.join(' '))
  t.true(addrs.every((a) => a.endsWith(`/p2p/${node.peerId}`)))
  node.bootnodeAddrs()
  node.bootnodeAddrs()
  const warnings = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('--announce'))
  // This host may have a public interface address; then there is nothing to warn about.
  t.is(warnings.length, addrs.length === 0 ? 1 : 0, JSON.stringify(lines))
})

test('bootnodeAddrs keeps loopback with allowPrivateAddrs', async (t) => {
  const node = await startNode(t, { subnetId: uniqueSubnetId(), listen: ['/ip4/0.0.0.0/tcp/0'], allowPrivateAddrs: true })
  const port = /\/tcp\/(\d+)/.exec(node.libp2p.getMultiaddrs()[0]?.toString() ?? '')?.[1]
  t.true(node.bootnodeAddrs().includes(`/ip4/127.0.0.1/tcp/${port}/p2p/${node.peerId}`), node.bootnodeAddrs().join(' '))
})

test('announce addresses are returned as given, even loopback ones without allowPrivateAddrs', async (t) => {
  const node = await startNode(t, {
    subnetId: uniqueSubnetId(), listen: ['/ip4/0.0.0.0/tcp/0'], allowPrivateAddrs: false,
    announce: ['/ip4/127.0.0.1/tcp/4001', '/ip4/8.8.8.8/tcp/4001']
  })
  t.deepEqual(node.bootnodeAddrs(), [`/ip4/127.0.0.1/tcp/4001/p2p/${node.peerId}`, `/ip4/8.8.8.8/tcp/4001/p2p/${node.peerId}`])
})

test('a node stopped without ever starting releases its on-disk datastore (LevelDB opens and locks it at creation)', async (t) => {
  const dir = await tempDir(t, 'subnet-p2p-')
  const init = { subnetId: uniqueSubnetId(), listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: dir }
  const never = await createSubnetNode(init)
  await never.stop()
  const next = await createSubnetNode(init)
  t.teardown(async () => { await next.stop() })
  await t.notThrowsAsync(next.start(), 'the lock is free')
})

test('a datastore that cannot be opened says why: a lock held by another node, or LevelDB\'s own reason (issue 12)', async (t) => {
  const dir = await tempDir(t, 'subnet-p2p-')
  const init = { subnetId: uniqueSubnetId(), listen: ['/ip4/127.0.0.1/tcp/0'], dataDir: dir }
  const first = await createSubnetNode(init)
  t.teardown(async () => { await first.stop() })
  await first.start()
  const second = await createSubnetNode(init)
  t.teardown(async () => { await second.stop() })
  const locked = await t.throwsAsync(second.start(), { instanceOf: ConfigError })
  t.regex(locked?.message ?? '', /cannot open the datastore: .*another node using it\?$/)
  await first.stop()
  // A corrupt datastore is not "another node": the message carries LevelDB's reason.
  await writeFile(join(dir, 'datastore', 'CURRENT'), 'garbage')
  const corrupt = await t.throwsAsync(second.start(), { instanceOf: ConfigError })
  t.notRegex(corrupt?.message ?? '', /another node/)
  t.regex(corrupt?.message ?? '', /cannot open the datastore: Corruption: CURRENT file does not end with newline$/)
  t.false(corrupt?.message.includes('\n'), 'one line')
})

test('the native DHT stores only its caller\'s namespaces: a /pk/ record put by a peer is refused, a heartbeat stored (issue 12)', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  const peer = await startNode(t, { subnetId, bootstrap: boot.bootnodeAddrs() })
  await waitFor(() => peer.dht.routingTable.size > 0, { what: 'the peer to know the bootnode' })
  const put = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    try {
      for await (const _ of peer.dht.put(key, value, { signal: AbortSignal.timeout(5_000) })) {}
    } catch {}
  }
  // A valid public-key record (kad-dht's default `pk` validator accepts it): never stored.
  const pkKey = uint8ArrayConcat([uint8ArrayFromString('/pk/'), peer.privateKey.publicKey.toMultihash().bytes])
  await put(pkKey, publicKeyToProtobuf(peer.privateKey.publicKey))
  const hbKey = heartbeatKey(peer.peerId)
  await put(hbKey, await sealHeartbeat(payloadFor(peer.privateKey, subnetId), peer.privateKey))
  t.true(await waitFor(async () => boot.hasStoredRecord(hbKey), { what: 'the heartbeat record stored' }))
  t.false(await boot.hasStoredRecord(pkKey))
  let pkRecords = 0
  for await (const _ of boot.storedRecords(uint8ArrayFromString('/pk/'))) pkRecords++
  t.is(pkRecords, 0)
})
