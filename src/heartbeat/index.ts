/**
 * Heartbeats (SPEC §5): the model the API serves (model.ts), the signed native record
 * (record.ts), the publisher (peer side) and the collector (sidecar side) with its sources.
 */
import { silentLogger } from '../log/index.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { DefaultHeartbeatCollector } from './collector.js'
import { REJECTION_LOG_WINDOW_MS } from './constants.js'
import { DHT_SOURCE, DhtHeartbeatSource } from './dht-source.js'
import { heartbeatDhtRecords } from './record.js'
import { DefaultHeartbeatPublisher } from './publisher.js'
import { PushHeartbeatSource } from './push-source.js'
import type { HeartbeatEntry, HeartbeatState } from './model.js'
import type { HeartbeatRejections } from './rejections.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { PeerAdmission } from '../view/index.js'
import type { Registry } from 'prom-client'

export {
  HEARTBEAT_STATES, ROLE_PATTERN, MAX_PUBLIC_NAME_LENGTH, MAX_VERSION_LENGTH, isPeerId
} from './model.js'
export type { HeartbeatEntry, HeartbeatProtocol, HeartbeatServer, HeartbeatState } from './model.js'
export {
  HEARTBEAT_PAYLOAD_TYPE, HEARTBEAT_NAMESPACE, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_TTL_S, HeartbeatRejectedError,
  heartbeatKey, peerIdFromHeartbeatKey, sealHeartbeat, validateHeartbeat, toHeartbeatEntry,
  heartbeatDhtRecords, heartbeatDhtSelector
} from './record.js'
export type {
  HeartbeatPayload, HeartbeatRejectReason, ValidHeartbeat, ValidateHeartbeatOptions
} from './record.js'
export { createHeartbeatRejections } from './rejections.js'
export type { HeartbeatRejections } from './rejections.js'
export {
  ACK_ACCEPTED, ACK_REJECTED, DEFAULT_HEARTBEAT_INTERVAL_MS, MAX_HEARTBEATS, MAX_HEARTBEATS_PER_IP, MAX_PING_PEERS, heartbeatProtocol
} from './constants.js'

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
  /**
   * Announces `state` from now on instead of following the node's own JOINING → ONLINE, and
   * publishes it at once if running (the demo's state-cycling peer; a node that knows better,
   * e.g. going into maintenance). stop() still ends with OFFLINE; the next start() announces `state` again.
   */
  setState: (state: HeartbeatState) => void
  /** Smoothed RTTs (seconds) to up to 5 other heartbeat peers (docs/PROTOCOL.md §6), or null before the first measurement. */
  nextPings: () => Record<string, number> | null
}

export interface PublisherComponents {
  node: SubnetNode
}

export function createHeartbeatPublisher (init: PublisherInit, components: PublisherComponents): HeartbeatPublisher {
  return new DefaultHeartbeatPublisher(init, components.node)
}

export interface CollectorInit {
  logger?: Logger
  /** How often expired heartbeats are dropped from the view. Default 5 s. (The DHT store is read per change: dht-source.ts.) */
  sweepIntervalMs?: number
  /** How often known peers without a heartbeat are looked up in the DHT. Default 30 s. */
  lookupIntervalMs?: number
  /**
   * Heartbeats held at once; a newcomer's past it is refused and counted as `total-cap`
   * (SPEC §5 "Member caps"). Default MAX_HEARTBEATS (10,000).
   */
  maxHeartbeats?: number
  /**
   * Heartbeats held at once per IP of the peer's connection (IPv6: per /64); a newcomer's past it
   * is refused and counted as `ip-cap`. Default MAX_HEARTBEATS_PER_IP (64).
   */
  maxHeartbeatsPerIp?: number
  /**
   * Heartbeats held at once of peers with no connection to this node (one shared bucket; relayed
   * template heartbeats, DHT records); past it `ip-cap`. Default MAX_UNATTRIBUTED_HEARTBEATS (1024).
   */
  maxUnattributedHeartbeats?: number
}

export interface CollectorComponents {
  node: SubnetNode
  /** Where the collector's series go (`/metrics`): rejections by reason, DHT query latency. */
  registry?: Registry
  /**
   * The rejection counts, when others count into them too (the DHT validator given to the node
   * by `heartbeatDhtRecords`); default a new set registered on `registry`.
   */
  rejections?: HeartbeatRejections
  /** Where heartbeats come from. Default the native ones: pushes and the DHT (`nativeHeartbeatSources`). */
  sources?: HeartbeatSource[]
  /**
   * Whose heartbeats may be served (chain-aware mode: staked peers', SPEC §4 `--chain-rpc`): a
   * `pending` peer's is held but not served, a `refused` one's is dropped and counted as
   * `unstaked` under its source. Default every peer's.
   */
  admission?: PeerAdmission
}

/** A heartbeat a source hands the collector. */
export interface CollectedHeartbeat {
  /** As `/v1/get_heartbeat` serves it; dropped at `entry.expiration_time`. */
  entry: HeartbeatEntry
  /** Orders one peer's heartbeats: a higher value replaces a lower or equal one's holder. */
  seq: number
}

/** What the collector offers its sources. */
export interface HeartbeatSink {
  /**
   * Keeps the heartbeat if its `seq` is above the one held for its peer and, for a peer not held
   * yet, a place is free under the member caps (else counts it under `source` as `ip-cap` or
   * `total-cap`); true if the view changed.
   */
  offer: (heartbeat: CollectedHeartbeat, source: string) => boolean
  /** The heartbeat held for a peer (possibly expired, until the next sweep). */
  held: (peerId: string) => CollectedHeartbeat | undefined
  /**
   * Counts a rejected record or message by source and stable reason (SPEC §5), and logs it at
   * debug level unless `loggedBySource` (the source logs that kind itself, e.g. at warn).
   */
  reject: (source: string, reason: string, peer: string | undefined, detail: string, loggedBySource?: boolean) => void
}

/**
 * A way heartbeats arrive (SPEC §5). Started after the node, in order, by the collector's
 * `start()`; stopped in reverse by its `stop()`. Both idempotent.
 */
export interface HeartbeatSource {
  /** Short name, used in logs and as the default rejection source. */
  readonly name: string
  /** The names this source counts rejections under, if more than `name` (shown before the first one). */
  readonly rejectionSources?: readonly string[]
  start: (sink: HeartbeatSink) => Promise<void>
  stop: () => Promise<void>
}

export interface HeartbeatCollector {
  /** Starts every source and the expiry sweep; idempotent. Start after the node. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Newest unexpired heartbeat per peer, sorted by peer id. */
  heartbeats: () => HeartbeatEntry[]
  /** Rejected records by reason, all sources together (the DHT validator's included when it shares `rejections`). */
  rejections: () => Record<string, number>
  /** The same, per source (`push`, `dht`, `store`, …). */
  rejectionsBySource: () => Record<string, Record<string, number>>
  /** Called whenever `heartbeats()` may have changed; returns an unsubscribe function. */
  onChange: (listener: () => void) => () => void
}

/** The native sources (SPEC §5): pushes on the subnet's heartbeat protocol, and the DHT (store scan and targeted gets). */
export function nativeHeartbeatSources (init: CollectorInit, components: { node: SubnetNode, registry?: Registry }): HeartbeatSource[] {
  const logger = init.logger ?? silentLogger
  return [
    new PushHeartbeatSource(components.node, logger),
    new DhtHeartbeatSource(components.node, {
      lookupIntervalMs: init.lookupIntervalMs, logger, registry: components.registry
    })
  ]
}

export function createHeartbeatCollector (init: CollectorInit, components: CollectorComponents): HeartbeatCollector {
  return new DefaultHeartbeatCollector(init, {
    ...components,
    sources: components.sources ?? nativeHeartbeatSources(init, components)
  })
}

/**
 * heartbeatDhtRecords for a collecting node: every record the DHT validator refuses is counted
 * under source `dht` in `rejections` (the collector's, so /metrics sums all sources) and logged at
 * debug level at most once per REJECTION_LOG_WINDOW_MS.
 */
export function collectedHeartbeatDhtRecords (subnetId: string, rejections: HeartbeatRejections, logger: Logger = silentLogger): ReturnType<typeof heartbeatDhtRecords> {
  const rejected = createWindowedLog(logger, 'debug', 'DHT heartbeat record rejected', REJECTION_LOG_WINDOW_MS)
  return heartbeatDhtRecords(subnetId, (err) => {
    rejections.record(DHT_SOURCE, err.reason)
    rejected.note({ reason: err.reason, detail: err.message })
  })
}
