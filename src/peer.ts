/**
 * The composition root of `subnet-bootnode peer` and of the library's embeddable subnet member
 * (SPEC §4): a subnet node whose DHT stores heartbeat records, and a heartbeat publisher.
 */
import { createHeartbeatPublisher, heartbeatDhtRecords } from './heartbeat/index.js'
import { createSubnetNode } from './p2p/index.js'
import type { HeartbeatPublisher, PublisherInit } from './heartbeat/index.js'
import type { SubnetNode, SubnetNodeInit } from './p2p/index.js'

export interface Peer {
  node: SubnetNode
  publisher: HeartbeatPublisher
  /** Publishes OFFLINE, then stops the node; idempotent. */
  stop: () => Promise<void>
}

export type PeerInit = SubnetNodeInit & PublisherInit

/** Creates and starts a node, then publishes heartbeats until `stop()`. */
export async function startPeer (init: PeerInit): Promise<Peer> {
  const node = await createSubnetNode({ ...heartbeatDhtRecords(init.subnetId), ...init })
  const publisher = createHeartbeatPublisher(init, { node })
  await node.start()
  try {
    await publisher.start()
  } catch (err) {
    await node.stop()
    throw err
  }
  let stopping: Promise<void> | undefined
  return {
    node,
    publisher,
    stop: async () => {
      stopping ??= (async () => {
        try {
          await publisher.stop()
        } finally {
          await node.stop()
        }
      })()
      await stopping
    }
  }
}
