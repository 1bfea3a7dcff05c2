/**
 * Public library entry of `subnet-bootnode`: embed a publishing subnet peer (`startPeer`), or
 * the whole sidecar (`createSidecar`), in a Node.js program. The polyfill loads first (Node 20).
 */
import './polyfill.js'

export { startPeer } from './peer.js'
export type { Peer, PeerInit } from './peer.js'
export { createHeartbeatPublisher, createHeartbeatCollector, validateHeartbeat, sealHeartbeat, heartbeatKey, heartbeatDhtRecords, HeartbeatRejectedError } from './heartbeat/index.js'
export type { PublisherInit, HeartbeatPublisher, HeartbeatCollector, HeartbeatSource, HeartbeatSink, CollectedHeartbeat } from './heartbeat/index.js'
export { createSubnetNode } from './p2p/index.js'
export type { SubnetNode, SubnetNodeInit } from './p2p/index.js'
export { createPeerCollector } from './peers/index.js'
export type { PeerCollector } from './peers/index.js'
export { createSidecar } from './sidecar.js'
export type { Sidecar, SidecarConfig } from './sidecar.js'
export { createLogger, silentLogger } from './log/index.js'
export type { Logger, LogLevel, LoggerInit } from './log/index.js'
export type { HeartbeatEntry, HeartbeatServer } from './heartbeat/index.js'
export type { PeerEntry, Location, PeersInfo, ViewSnapshot, ViewSource } from './view/index.js'
export { SubnetBootnodeError, ConfigError } from './errors.js'
