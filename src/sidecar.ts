/**
 * The composition root (STYLE rule 2): builds every component of `subnet-bootnode run`
 * from one typed config, starts them in order and stops them in reverse (SPEC §4).
 *
 *   Redis (--redis-url) → key store watcher → key usage → geolocator → subnet node → chain (--chain-rpc) → heartbeat + peer collectors → view → REST API
 *
 * Data flows one way: network → collectors → view → pre-serialised REST bodies. The metrics
 * registry comes first: every component registers its own series on it (SPEC §1 `/metrics`).
 */
import { join } from 'node:path'
import { createApiServer } from './api/index.js'
import { SubnetBootnodeError } from './errors.js'
import { createLocator } from './geo/index.js'
import { collectedHeartbeatDhtRecords, createHeartbeatCollector, createHeartbeatRejections, nativeHeartbeatSources } from './heartbeat/index.js'
import { createKeyStoreWatcher } from './keys/index.js'
import { createSubnetNode } from './p2p/index.js'
import { createPeerCollector } from './peers/index.js'
import { createTemplateHeartbeatSource } from './template/index.js'
import { subnetNodeOptions } from './config/index.js'
import { createMetricsRegistry } from './util/metrics.js'
import { createRedisConnection } from './util/redis.js'
import { createKeyUsage } from './usage/index.js'
import { createViewBuilder } from './view/builder.js'
import type { ApiServer } from './api/index.js'
import type { Chain } from './chain/index.js'
import type { ApiConfig, ChainConfig, CommonConfig } from './config/index.js'
import type { Logger } from './log/index.js'
import type { SubnetNode } from './p2p/index.js'
import type { ViewSource } from './view/index.js'

/** Without the chain fields (the demo), chain-aware mode is off. */
export type SidecarConfig = CommonConfig & ApiConfig & Partial<ChainConfig> & {
  /** Tests: how long an unverified stake check holds before it is retried (default 30 s). */
  chainErrorRetryMs?: number
}

export interface Sidecar {
  readonly node: SubnetNode
  readonly api: ApiServer
  readonly view: ViewSource
  /** Starts every component in order; on failure stops what was started and rethrows. Once only. */
  start: () => Promise<void>
  /** Stops HTTP first, then the view, collectors, node, geolocator, key usage (last flush), key watcher and Redis; idempotent. */
  stop: () => Promise<void>
}

interface Part { name: string, start: () => Promise<void> | void, stop: () => Promise<void> | void }

/** What a composition around the sidecar (the demo) adds to its config. */
export interface SidecarOptions {
  /** IP addresses the subnet node never dials (SubnetNodeInit.neverDialIps): the demo's public demo addresses. */
  neverDialIps?: string[]
}

export async function createSidecar (config: SidecarConfig, logger: Logger, options: SidecarOptions = {}): Promise<Sidecar> {
  const registry = createMetricsRegistry()
  // One Redis client for the limiters and key usage: connected first, closed after both stopped.
  const redis = config.redisUrl === undefined ? undefined : createRedisConnection(config.redisUrl, logger.child('redis'))
  const keys = createKeyStoreWatcher({ path: config.keysFile, logger: logger.child('keys') })
  // Per-owner usage (SPEC §1 "Key usage"): flushed to <data dir>/key-usage.json, summed in Redis if set.
  const usage = createKeyUsage({ dataDir: config.dataDir, logger: logger.child('usage') }, { registry, redis: redis?.client })
  const locator = createLocator({
    mode: config.geo,
    geoDbPath: config.geoDb,
    asnDbPath: config.asnDb,
    // ip-api answers survive restarts, so a restart does not spend the free tier's budget again.
    cacheDir: config.dataDir === undefined ? undefined : join(config.dataDir, 'geo-cache'),
    logger: logger.child('geo')
  }, { registry })
  // Heartbeat records the DHT validator refuses are counted with the collector's own rejections.
  const rejections = createHeartbeatRejections({ registry })
  const heartbeatLog = logger.child('heartbeat')
  const node = await createSubnetNode({
    ...subnetNodeOptions(config),
    ...(options.neverDialIps === undefined ? {} : { neverDialIps: options.neverDialIps }),
    ...collectedHeartbeatDhtRecords(config.subnetId, rejections, heartbeatLog),
    logger: logger.child('p2p')
  }, { registry })
  // From here on the node's on-disk datastore is open and locked (since its creation): anything that
  // throws before the sidecar is returned stops the node, so the same --data-dir serves again.
  try {
    // Heartbeat sources by profile (SPEC §4 --profile): the native push + DHT, the template's gossipsub.
    const template = node.profile === 'native' ? undefined : createTemplateHeartbeatSource({ subnetId: config.subnetId, ttlMs: config.templateHeartbeatTtlMs, logger: logger.child('template') }, { node, registry })
    const sources = [
      ...(node.profile === 'template' ? [] : nativeHeartbeatSources({ logger: heartbeatLog }, { node, registry })),
      ...(template === undefined ? [] : [template])
    ]
    // Chain-aware mode (SPEC §4 --chain-rpc): the collectors serve only peers with proof of stake.
    // Loaded only then: @polkadot/types takes seconds to import.
    const chain: Chain | undefined = config.chainRpc === undefined || config.chainSubnetId === undefined
      ? undefined
      : (await import('./chain/index.js')).createChain({
        url: config.chainRpc,
        subnetId: config.chainSubnetId,
        minNodeClass: config.minNodeClass,
        failMode: config.chainFail,
        stakeCacheTtlMs: config.chainCacheTtlMs,
        stakeErrorRetryMs: config.chainErrorRetryMs,
        bootnodeRefreshMs: config.chainRefreshMs,
        allowPrivateAddrs: config.allowPrivateAddrs,
        logger: logger.child('chain')
      }, { node, registry })
    const admission = chain?.stake
    const heartbeats = createHeartbeatCollector({ logger: heartbeatLog }, { node, registry, rejections, sources, admission })
    const peers = createPeerCollector({ peerTtlMs: config.peerTtlMs, allowPrivateAddrs: config.allowPrivateAddrs, logger: logger.child('peers') }, { node, members: template, registry, admission })
    const view = createViewBuilder({ refreshIntervalMs: config.refreshIntervalMs, logger: logger.child('view') }, {
      node, heartbeats, peers, locator
    })
    const api = createApiServer({
      host: config.apiHost,
      port: config.apiPort,
      rateLimit: config.rateLimit,
      authFailLimit: config.authFailLimit,
      trustProxy: config.trustProxy,
      metrics: config.metrics,
      logger: logger.child('api'),
      attribution: locator.attribution,
      maxWatchersPerKey: config.maxWatchersPerKey,
      maxWatchers: config.maxWatchers,
      allowPrivateAddrs: config.allowPrivateAddrs
    }, {
      view,
      keys,
      registry,
      usage,
      redis: redis?.client,
      prober: node,
      chain: chain === undefined ? undefined : { health: () => chain.health(), bootnodes: () => chain.bootnodes.list() }
    })

    const parts: Part[] = [
      // A wrong --redis-url fails the start at once, before anything else runs.
      ...(redis === undefined ? [] : [{ name: 'redis', start: async () => { await redis.start() }, stop: async () => { await redis.stop() } }]),
      { name: 'keys', start: async () => { await keys.start() }, stop: async () => { await keys.stop() } },
      // Stopped after the API, so the last flush holds every answered request.
      { name: 'usage', start: async () => { await usage.start() }, stop: async () => { await usage.stop() } },
      // A missing or unreadable database fails the start with one line, not the first lookup.
      { name: 'geo', start: async () => { await locator.check() }, stop: async () => { await locator.stop() } },
      { name: 'node', start: async () => { await node.start() }, stop: async () => { await node.stop() } },
      // Before the collectors, so the first connections are already being checked.
      ...(chain === undefined ? [] : [{ name: 'chain', start: async () => { await chain.start() }, stop: async () => { await chain.stop() } }]),
      { name: 'heartbeats', start: async () => { await heartbeats.start() }, stop: async () => { await heartbeats.stop() } },
      { name: 'peers', start: async () => { await peers.start() }, stop: async () => { await peers.stop() } },
      { name: 'view', start: async () => { await view.start() }, stop: async () => { await view.stop() } },
      { name: 'api', start: async () => { await api.start() }, stop: async () => { await api.stop() } }
    ]

    let started: Part[] = []
    let stopping: Promise<void> | undefined

    const stop = async (): Promise<void> => {
      stopping ??= (async () => {
        for (const part of [...started].reverse()) {
          try {
            await part.stop()
          } catch (err) {
            logger.warn('component failed to stop cleanly', { component: part.name, err })
          }
        }
        // A start that failed before the node's turn: its on-disk datastore is open since creation.
        if (!started.some(part => part.name === 'node')) await node.stop().catch((err: unknown) => { logger.warn('component failed to stop cleanly', { component: 'node', err }) })
        started = []
      })()
      await stopping
    }

    return {
      node,
      api,
      view,
      start: async () => {
        if (started.length > 0) return
        // One life per instance (as libp2p and the HTTP server): build a new sidecar to run again.
        if (stopping !== undefined) throw new SubnetBootnodeError('this sidecar was stopped; create a new one to start again', 'ERR_SIDECAR_STOPPED')
        try {
          for (const part of parts) {
            await part.start()
            started.push(part)
          }
        } catch (err) {
          await stop()
          throw err
        }
        const { host, port } = api.address()
        logger.info('sidecar started', {
          peer_id: node.peerId, subnet_id: config.subnetId, api: `http://${host}:${port}`, bootnodes: node.bootnodeAddrs()
        })
      },
      stop
    }
  } catch (err) {
    await node.stop().catch((stopErr: unknown) => { logger.warn('component failed to stop cleanly', { component: 'node', err: stopErr }) })
    throw err
  }
}
