/**
 * Push streams are bounded (issue 12 item 5, docs/PROTOCOL.md §5): per connection and in total
 * (refused past the cap, counted as `too-many-streams`, logged once per window), in time (an idle
 * stream is aborted at the read timeout and counted as `timeout`), and in size (any length prefix
 * above 8192, however long, is answered 0x01 and counted as `oversized`).
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { byteStream, lpStream } from '@libp2p/utils'
import test from 'ava'
import { ACK_ACCEPTED, ACK_REJECTED, createHeartbeatCollector, heartbeatProtocol, sealHeartbeat } from '../../src/heartbeat/index.js'
import { PushHeartbeatSource } from '../../src/heartbeat/push-source.js'
import { createLogger } from '../../src/log/index.js'
import { startBootnode, startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'
import { payloadFor, pushRaw } from './fixtures.js'
import type { HeartbeatCollector } from '../../src/heartbeat/index.js'
import type { PushSourceInit } from '../../src/heartbeat/push-source.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { Stream } from '@libp2p/interface'
import type { ExecutionContext } from 'ava'

interface Collector {
  node: SubnetNode
  collector: HeartbeatCollector
  addrs: string[]
  /** Log lines written by the collector, parsed. */
  lines: Array<Record<string, unknown>>
}

/** A node whose only heartbeat source is a push source with `init`, logging at debug level into `lines`. */
async function startCollector (t: ExecutionContext, subnetId: string, init: PushSourceInit): Promise<Collector> {
  const node = await startNode(t, { subnetId })
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ level: 'debug', stream: { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); return true } } })
  const collector = createHeartbeatCollector({ logger }, { node, sources: [new PushHeartbeatSource(node, logger, init)] })
  t.teardown(async () => { await collector.stop() })
  await collector.start()
  return { node, collector, addrs: node.bootnodeAddrs(), lines }
}

/** Opens `n` push streams from `from` to `to`, one after the other, and writes nothing on them. */
async function openIdle (from: SubnetNode, to: SubnetNode, n: number): Promise<Stream[]> {
  const streams: Stream[] = []
  for (let i = 0; i < n; i++) {
    try {
      streams.push(await from.libp2p.dialProtocol(peerIdFromPrivateKey(to.privateKey), heartbeatProtocol(to.subnetId), { signal: AbortSignal.timeout(5000) }))
    } catch {}
  }
  return streams
}

/** The push streams the collector holds open with `remote`. */
function serverStreams (collector: SubnetNode, remote: SubnetNode): number {
  return collector.libp2p.getConnections(peerIdFromPrivateKey(remote.privateKey))
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === heartbeatProtocol(collector.subnetId) && s.status === 'open').length
}

async function goodRecord (node: SubnetNode): Promise<Uint8Array> {
  return sealHeartbeat(payloadFor(node.privateKey, node.subnetId), node.privateKey)
}

test('idle push streams past the per-connection cap are refused and counted, logged once; an honest push is acked', async (t) => {
  const subnetId = uniqueSubnetId()
  // The default caps (4 per connection); a read timeout far longer than the test, so the idle
  // streams hold their slots however slowly a loaded machine opens the twelve (the default 5 s did not).
  const boot = await startCollector(t, subnetId, { readTimeoutMs: 60_000 })
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const honest = await startNode(t, { subnetId, bootstrap: boot.addrs })
  await openIdle(attacker, boot.node, 12)
  await waitFor(() => boot.collector.rejectionsBySource().push?.['too-many-streams'] === 8, { what: '8 refused streams counted' })
  t.is(serverStreams(boot.node, attacker), 4)

  t.is(await pushRaw(honest, boot.node, await goodRecord(honest)), ACK_ACCEPTED)
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), [honest.peerId])
  // Eight refusals, one warn line (the window is 10 s).
  t.is(boot.lines.filter((l) => l.msg === 'push streams refused').length, 1)
  t.is(boot.lines.find((l) => l.msg === 'push streams refused')?.level, 'warn')
  // Logged once, by the push source: the collector does not repeat it at debug level.
  t.is(boot.lines.filter((l) => l.msg === 'heartbeat rejected').length, 0)
})

test('past the total cap a stream of any connection is refused; streams that end free their slots', async (t) => {
  const subnetId = uniqueSubnetId()
  // A read timeout longer than the test: the slots are held until the streams end, not until a clock runs out.
  const boot = await startCollector(t, subnetId, { maxStreams: 6, readTimeoutMs: 60_000 })
  const a = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const b = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const honest = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const idle = [...await openIdle(a, boot.node, 4), ...await openIdle(b, boot.node, 4)]
  await waitFor(() => boot.collector.rejectionsBySource().push?.['too-many-streams'] === 2, { what: '2 streams refused past the total cap' })
  // While six idle streams hold every slot, an honest push is refused too: the total cap bounds memory.
  await t.throwsAsync(pushRaw(honest, boot.node, await goodRecord(honest)))
  t.is(boot.collector.rejectionsBySource().push?.['too-many-streams'], 3)
  // The idle streams end (their dialer aborts them): every slot is free again.
  for (const s of idle) s.abort(new Error('test: done'))
  await waitFor(() => serverStreams(boot.node, a) + serverStreams(boot.node, b) === 0, { what: 'no push stream left open' })
  t.is(await pushRaw(honest, boot.node, await goodRecord(honest)), ACK_ACCEPTED)
})

test('an idle stream holding the only slot is aborted at the read timeout, counted, and its slot serves the next push', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startCollector(t, subnetId, { maxStreams: 1, readTimeoutMs: 1_000 })
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const honest = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const [idle] = await openIdle(attacker, boot.node, 1)
  t.truthy(idle)
  await waitFor(() => boot.collector.rejectionsBySource().push?.timeout === 1, { what: 'the idle stream timed out' })
  await waitFor(() => serverStreams(boot.node, attacker) === 0, { what: 'the idle stream gone from the collector\'s side' })
  // The next push gets the slot. Retried as a publisher would: on a loaded machine a push can itself
  // outlast the 1 s read timeout and be reset (a refusal past the cap would be reset at every try).
  const record = await goodRecord(honest)
  await waitFor(async () => (await pushRaw(honest, boot.node, record).catch(() => undefined)) === ACK_ACCEPTED, { what: 'the next push accepted' })
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), [honest.peerId])
  t.is(boot.collector.rejectionsBySource().push?.['too-many-streams'], undefined)
})

test('an idle push stream is closed at the read timeout, and so is one whose publisher never closes after the ack', async (t) => {
  const subnetId = uniqueSubnetId()
  // 3 s: long enough for a loaded machine to write the record and read the ack on the second
  // stream before the timeout (at 300 ms the collector sometimes reset it mid-exchange).
  const boot = await startCollector(t, subnetId, { readTimeoutMs: 3_000 })
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  const [idle] = await openIdle(attacker, boot.node, 1)
  t.truthy(idle)
  await waitFor(() => idle!.status !== 'open', { what: 'the idle stream closed by the collector' })
  t.is(serverStreams(boot.node, attacker), 0)
  t.is(boot.collector.rejectionsBySource().push?.timeout, 1)

  // A record, the ack read, and the stream left open: the collector does not keep it past the timeout.
  const signal = AbortSignal.timeout(5000)
  const lingering = await attacker.libp2p.dialProtocol(peerIdFromPrivateKey(boot.node.privateKey), heartbeatProtocol(subnetId), { signal })
  const lp = lpStream(lingering)
  await lp.write(await goodRecord(attacker), { signal })
  t.is((await byteStream(lp.unwrap()).read({ bytes: 1, signal })).get(0), ACK_ACCEPTED)
  await waitFor(() => serverStreams(boot.node, attacker) === 0, { what: 'the lingering stream aborted' })
  t.deepEqual(boot.collector.heartbeats().map((h) => h.peer_id), [attacker.peerId])
})

test('a length prefix of 20,000 (three varint bytes) or an unterminated one is answered 0x01 and counted as oversized', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startBootnode(t, { subnetId })
  const attacker = await startNode(t, { subnetId, bootstrap: boot.addrs })
  t.is(await pushRaw(attacker, boot.node, new Uint8Array(20_000).fill(7)), ACK_REJECTED)
  t.is(boot.collector.rejectionsBySource().push?.oversized, 1)

  // 0x80 bytes never end a uvarint: refused at the third byte, not read until the timeout.
  const signal = AbortSignal.timeout(5000)
  const stream = await attacker.libp2p.dialProtocol(peerIdFromPrivateKey(boot.node.privateKey), heartbeatProtocol(subnetId), { signal })
  const bytes = byteStream(stream)
  await bytes.write(new Uint8Array(64).fill(0x80), { signal })
  t.is((await bytes.read({ bytes: 1, signal })).get(0), ACK_REJECTED)
  await stream.close({ signal }).catch(() => {})
  t.is(boot.collector.rejectionsBySource().push?.oversized, 2)
  t.deepEqual(boot.collector.heartbeats(), [])
})
