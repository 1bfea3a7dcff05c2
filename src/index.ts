/** Public library entry of `subnet-bootnode`. The polyfill loads first (Node 20). */
import './polyfill.js'

export { createLogger, silentLogger } from './log/index.js'
export type { Logger, LogLevel, LoggerInit } from './log/index.js'
export type { HeartbeatEntry, HeartbeatServer, PeerEntry, Location, PeersInfo, ViewSnapshot, ViewSource } from './view/index.js'
export { SubnetBootnodeError, ConfigError } from './errors.js'
