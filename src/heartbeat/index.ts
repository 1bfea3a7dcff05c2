/**
 * Heartbeats (SPEC §5): the signed record, the publisher (peer side), the collector
 * (sidecar side) and `startPeer`, the embeddable subnet member.
 */
import { createSubnetNode } from '../p2p/index.js'
import { HeartbeatCollectorImpl } from './collector.js'
import { HeartbeatPublisherImpl } from './publisher.js'
import type { HeartbeatState } from './record.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode, SubnetNodeInit } from '../p2p/index.js'
import type { HeartbeatEntry } from '../view/index.js'

export {
  HEARTBEAT_DOMAIN, HEARTBEAT_PAYLOAD_TYPE, HEARTBEAT_PAYLOAD_TYPE_STRING, HEARTBEAT_NAMESPACE, HEARTBEAT_STATES,
  HEARTBEAT_REJECT_REASONS, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_TTL_S, ROLE_PATTERN, HeartbeatRejectedError,
  heartbeatKey, isPeerId, peerIdFromHeartbeatKey, sealHeartbeat, validateHeartbeat, toHeartbeatEntry,
  createHeartbeatDhtValidator, heartbeatDhtSelector
} from './record.js'
export type {
  HeartbeatPayload, HeartbeatRejectReason, HeartbeatState, ValidHeartbeat, ValidateHeartbeatOptions
} from './record.js'
export { ACK_ACCEPTED, ACK_REJECTED, DEFAULT_HEARTBEAT_INTERVAL_MS } from './constants.js'

export interface PublisherInit {
  /** Role name, upper-cased. Default `VALIDATOR`. */
  role?: string
  /** Default 60 s (SPEC §4 `--heartbeat-interval`). Records expire about twice that ahead. */
  heartbeatIntervalMs?: number
  /** Default null. */
  publicName?: string | null
  /** Default: the package version (SPEC §4 `--version-string`). */
  version?: string
  /** Default 1.0. */
  throughput?: number
  /** Default false. */
  usingRelay?: boolean
  /** Push each heartbeat to connected collectors. Default true (false: DHT only, for tests). */
  push?: boolean
  /** Put each heartbeat into the DHT. Default true. */
  dhtPut?: boolean
  logger?: Logger
}

export interface HeartbeatPublisher {
  /** Publishes JOINING at once, then every interval; idempotent. */
  start: () => Promise<void>
  /** Publishes a bounded OFFLINE round (push + put), then stops; idempotent. Stop it before the node. */
  stop: () => Promise<void>
  state: () => HeartbeatState
  /** Smoothed RTTs (seconds) to up to 5 other heartbeat peers (docs/PROTOCOL.md §6), or null before the first measurement. */
  nextPings: () => Record<string, number> | null
}

export interface PublisherComponents {
  node: SubnetNode
}

export function createHeartbeatPublisher (init: PublisherInit, components: PublisherComponents): HeartbeatPublisher {
  return new HeartbeatPublisherImpl(init, components.node)
}

export interface CollectorInit {
  logger?: Logger
  /** How often expired records are dropped and the local DHT store is scanned. Default 5 s. */
  sweepIntervalMs?: number
  /** How often known peers without a heartbeat are looked up in the DHT. Default 30 s. */
  lookupIntervalMs?: number
}

export interface CollectorComponents {
  node: SubnetNode
  /** Reports the duration of each targeted DHT get (metrics, SPEC §1 /metrics). */
  onDhtQuery?: (seconds: number) => void
}

export interface HeartbeatCollector {
  /** Registers the push protocol and starts the sweeps; idempotent. Start after the node. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Newest unexpired record per peer, sorted by peer id. */
  heartbeats: () => HeartbeatEntry[]
  /** Rejected records by reason, from the DHT validator, the push handler and the store scan together. */
  rejections: () => Record<string, number>
  /** The same, per source. */
  rejectionsBySource: () => Record<'dht' | 'push' | 'store', Record<string, number>>
  /** Called whenever `heartbeats()` may have changed; returns an unsubscribe function. */
  onChange: (listener: () => void) => () => void
}

export function createHeartbeatCollector (init: CollectorInit, components: CollectorComponents): HeartbeatCollector {
  return new HeartbeatCollectorImpl(init, components)
}

export interface Peer {
  node: SubnetNode
  publisher: HeartbeatPublisher
  /** Publishes OFFLINE, then stops the node; idempotent. */
  stop: () => Promise<void>
}

/**
 * The embeddable subnet member (SPEC §4 `subnet-bootnode peer`): creates and starts a node,
 * then publishes heartbeats until `stop()`.
 */
export async function startPeer (init: SubnetNodeInit & PublisherInit): Promise<Peer> {
  const node = await createSubnetNode(init)
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
