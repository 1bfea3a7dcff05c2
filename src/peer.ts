/**
 * The composition root of `subnet-bootnode peer` and of the library's embeddable subnet member
 * (SPEC §4): a subnet node and what it publishes, by profile (issue 11):
 * - `native`: a DHT that stores heartbeat records and the native heartbeat publisher;
 * - `template`: the template publisher (gossipsub `heartbeat` and `peer_state`, as a subnet
 *   template node publishes them);
 * - `both`: both publishers on one node.
 */
import { SubnetBootnodeError } from './errors.js'
import { createHeartbeatPublisher, heartbeatDhtRecords } from './heartbeat/index.js'
import { createSubnetNode } from './p2p/index.js'
import { DEFAULT_SUBNET_NODE_ID, createTemplatePublisher } from './template/index.js'
import type { HeartbeatPublisher, PublisherInit } from './heartbeat/index.js'
import type { SubnetNode, SubnetNodeInit } from './p2p/index.js'
import type { TemplatePublisher } from './template/index.js'

export interface Peer {
  node: SubnetNode
  /**
   * The heartbeat publisher: the native one (`native`, `both`); in the `template` profile the
   * template publisher seen through the same interface (its state; `nextPings()` is always null,
   * the template's messages carry none).
   */
  publisher: HeartbeatPublisher
  /** The template publisher (`template`, `both`), else undefined. */
  templatePublisher?: TemplatePublisher
  /** Publishes OFFLINE, then stops the node; idempotent. */
  stop: () => Promise<void>
}

/** What the template publisher takes beside the node (profiles `template` and `both`). */
export interface TemplatePeerInit {
  /** The `subnet_node_id` the template messages carry: the node's id on chain, a positive integer. Default 1. */
  subnetNodeId?: number
  /** Between template heartbeats. Default one template epoch, 120 s. */
  templateHeartbeatIntervalMs?: number
  /** Between template peer_state messages. Default 20 s. */
  templatePeerStateIntervalMs?: number
}

export type PeerInit = SubnetNodeInit & PublisherInit & TemplatePeerInit

/** Creates and starts a node, then publishes heartbeats until `stop()`. */
export async function startPeer (init: PeerInit): Promise<Peer> {
  const profile = init.profile ?? 'native'
  const native = profile !== 'template'
  const node = await createSubnetNode(native ? { ...heartbeatDhtRecords(init.subnetId), ...init } : init)
  const templatePublisher = profile === 'native'
    ? undefined
    : createTemplatePublisher({
      subnetId: init.subnetId,
      subnetNodeId: init.subnetNodeId ?? DEFAULT_SUBNET_NODE_ID,
      ...(init.templateHeartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: init.templateHeartbeatIntervalMs }),
      ...(init.templatePeerStateIntervalMs === undefined ? {} : { peerStateIntervalMs: init.templatePeerStateIntervalMs }),
      ...(init.logger === undefined ? {} : { logger: init.logger })
    }, { node })
  const nativePublisher = native ? createHeartbeatPublisher(init, { node }) : undefined
  // Each publisher's stop sends its OFFLINE (bounded) before the node goes.
  const publishers = [nativePublisher, templatePublisher].filter((p) => p !== undefined)
  await node.start()
  const started: Array<{ stop: () => Promise<void> }> = []
  try {
    for (const p of publishers) {
      await p.start()
      started.push(p)
    }
  } catch (err) {
    for (const p of started.reverse()) await p.stop().catch(() => {})
    await node.stop()
    throw err
  }
  let stopping: Promise<void> | undefined
  return {
    node,
    publisher: nativePublisher ?? asHeartbeatPublisher(templatePublisher!),
    ...(templatePublisher === undefined ? {} : { templatePublisher }),
    stop: async () => {
      stopping ??= (async () => {
        try {
          // Both OFFLINE messages at once: each is bounded, and neither needs the other.
          await Promise.all(publishers.map(async (p) => { await p.stop() }))
        } finally {
          await node.stop()
        }
      })()
      await stopping
    }
  }
}

/** setState on a template-only peer: the template's peer_state follows the node, it cannot be set. */
class TemplateStateError extends SubnetBootnodeError {
  constructor () {
    super('a template peer\'s state cannot be set: its peer_state messages follow the node (use a native or both-profile peer)', 'ERR_TEMPLATE_STATE')
  }
}

function asHeartbeatPublisher (p: TemplatePublisher): HeartbeatPublisher {
  return {
    start: async () => { await p.start() },
    stop: async () => { await p.stop() },
    state: () => p.state(),
    setState: () => { throw new TemplateStateError() },
    nextPings: () => null
  }
}
