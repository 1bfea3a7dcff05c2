/**
 * Real libp2p subnets on 127.0.0.1 for tests (STYLE rule 9): a bootnode with a heartbeat
 * collector and N publishing peers bootstrapped to it. Every node is stopped in t.teardown.
 */
import { collectedHeartbeatDhtRecords, createHeartbeatCollector, createHeartbeatRejections, heartbeatDhtRecords } from '../../src/heartbeat/index.js'
import { createSubnetNode } from '../../src/p2p/index.js'
import { startPeer } from '../../src/peer.js'
import type { HeartbeatCollector, PublisherInit } from '../../src/heartbeat/index.js'
import type { Peer, PeerInit } from '../../src/peer.js'
import type { Registry } from 'prom-client'
import type { SubnetNode, SubnetNodeInit } from '../../src/p2p/index.js'
import type { ExecutionContext } from 'ava'

export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0']

let counter = 0
/** A subnet id unique to this process and call, so parallel tests never share a subnet. */
export function uniqueSubnetId (prefix = 'test'): string {
  counter += 1
  return `${prefix}-${process.pid}-${counter}`
}

/** Starts a subnet node on 127.0.0.1 (private addresses allowed) whose DHT stores heartbeats; stopped in teardown. */
export async function startNode (t: ExecutionContext, init: Partial<SubnetNodeInit> & { subnetId: string }): Promise<SubnetNode> {
  const node = await createSubnetNode({ listen: LOOPBACK_LISTEN, allowPrivateAddrs: true, ...heartbeatDhtRecords(init.subnetId), ...init })
  t.teardown(async () => { await node.stop() })
  await node.start()
  return node
}

export interface Bootnode {
  node: SubnetNode
  collector: HeartbeatCollector
  addrs: string[]
}

/**
 * A node with a started heartbeat collector, wired as the sidecar wires them: the node's DHT
 * validator counts into the collector's rejections (source `dht`), and both register their
 * series on `registry` when given. The collector and node stop in teardown.
 */
export async function startBootnode (t: ExecutionContext, init: Partial<SubnetNodeInit> & { subnetId: string }, collectorInit: { sweepIntervalMs?: number, lookupIntervalMs?: number } = {}, registry?: Registry): Promise<Bootnode> {
  const rejections = createHeartbeatRejections({ registry })
  const node = await startNode(t, { ...collectedHeartbeatDhtRecords(init.subnetId, rejections), ...init })
  const collector = createHeartbeatCollector({ sweepIntervalMs: 200, lookupIntervalMs: 500, ...collectorInit }, { node, registry, rejections })
  t.teardown(async () => { await collector.stop() })
  await collector.start()
  return { node, collector, addrs: node.bootnodeAddrs() }
}

/** Starts a publishing peer (heartbeat every 300 ms by default); stopped in teardown. */
export async function startTestPeer (t: ExecutionContext, init: Partial<PeerInit> & { subnetId: string }): Promise<Peer> {
  const peer = await startPeer({ listen: LOOPBACK_LISTEN, allowPrivateAddrs: true, heartbeatIntervalMs: 300, ...init })
  t.teardown(async () => { await peer.stop() })
  return peer
}

/** Starts `n` peers bootstrapped to `bootstrap`, in parallel. */
export async function startPeers (t: ExecutionContext, n: number, init: Partial<SubnetNodeInit & PublisherInit> & { subnetId: string }): Promise<Peer[]> {
  return Promise.all(Array.from({ length: n }, async () => startTestPeer(t, init)))
}
