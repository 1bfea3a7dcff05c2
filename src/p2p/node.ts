import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import { InvalidParametersError } from '@libp2p/interface'
import { Record as DhtRecord, kadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { ConfigError } from '../errors.js'
import { silentLogger } from '../log/index.js'
import { createListeners } from '../util/listeners.js'
import { createRepeatingTask } from '../util/task.js'
import {
  BOOTSTRAP_DIAL_TIMEOUT_MS, BOOTSTRAP_RETRY_MAX_MS, BOOTSTRAP_RETRY_MIN_MS, DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, MAX_PEER_ADDRS_TO_DIAL, MAX_STORED_ADDRS_PER_PEER, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_CONNECTIONS_PER_PEER,
  DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS, SUBNET_ID_PATTERN, SUBNET_ID_RULE, TEMPLATE_SUBNET_ID_RULE,
  kadProtocol, templateSubnetId
} from './constants.js'
import { dialableAddrs } from '../util/dialable.js'
import { capStoredAddresses } from './address-cap.js'
import { firstIp } from '../util/member-caps.js'
import { peerIdOfMultiaddr } from '../util/multiaddr.js'
import { createConnectionLimiter } from './connection-limits.js'
import { dhtPeerInfoMapper, withDatastore } from './dht-parts.js'
import { loadOrCreateIdentity } from './identity.js'
import { probeAddress, type ProbeResult } from './probe.js'
import { guardRecordStore } from './record-store.js'
import { posNoise, templateDht, templateGossipsub } from './template.js'
import type { PeerGate, Profile, StoredRecord, SubnetNode, SubnetNodeComponents, SubnetNodeInit, SubnetServices } from './index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Logger } from '../log/index.js'
import type { Listeners } from '../util/listeners.js'
import type { RepeatingTask } from '../util/task.js'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { SingleKadDHT, ValidateFn } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'

export async function createDefaultSubnetNode (init: SubnetNodeInit, components: SubnetNodeComponents = {}): Promise<SubnetNode> {
  const logger = init.logger ?? silentLogger
  if (!SUBNET_ID_PATTERN.test(init.subnetId)) {
    throw new ConfigError(`subnet id ${JSON.stringify(init.subnetId)} is invalid: use ${SUBNET_ID_RULE}`)
  }
  const profile = init.profile ?? 'native'
  if (profile !== 'native' && templateSubnetId(init.subnetId) === undefined) {
    throw new ConfigError(`subnet id ${JSON.stringify(init.subnetId)} is invalid for the ${profile} profile: use ${TEMPLATE_SUBNET_ID_RULE}`)
  }
  const bootstrap = parseMultiaddrs(init.bootstrap ?? [], 'bootstrap', true)
  const listen = parseMultiaddrs(init.listen ?? DEFAULT_LISTEN, 'listen', false)
  const announce = parseMultiaddrs(init.announce ?? [], 'announce', false)

  let privateKey: PrivateKey
  if (init.privateKey !== undefined) {
    privateKey = init.privateKey
  } else if (init.identityPath !== undefined) {
    privateKey = await loadOrCreateIdentity(init.identityPath, logger)
  } else {
    privateKey = await generateKeyPair('Ed25519')
  }

  // The datastore holds the peer store and the DHT records; on disk under --data-dir so the
  // bootnode remembers peers across restarts. We keep a handle on it: the heartbeat
  // collector scans the DHT records stored here (SPEC §5, collecting).
  const store: Datastore = init.dataDir !== undefined ? new LevelDatastore(join(init.dataDir, 'datastore')) : new MemoryDatastore()
  // The peer gate comes after the node (SubnetNode.setPeerGate): the gater and the DHTs' mappers ask this slot.
  const gate: PeerGateSlot = {}
  const refusesPeer = (peerId: string): boolean => gate.current?.refuses(peerId) === true
  // Caps per IP and per peer id, which libp2p's connection manager lacks (connection-limits.ts).
  const limiter = createConnectionLimiter({
    maxPerIp: init.maxConnectionsPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP,
    maxPerPeer: init.maxConnectionsPerPeer ?? DEFAULT_MAX_CONNECTIONS_PER_PEER,
    refusesPeer,
    logger
  }, { registry: components.registry })
  // Records the native DHT stores, reported by its datastore guard (SubnetNode.onRecordStored).
  const recordStored = createListeners<[StoredRecord]>((err) => { logger.warn('record-stored listener failed', { err }) })
  const onStored = (dsKey: Key, record: DhtRecord): void => {
    recordStored.emit({ key: record.key, value: record.value, remove: async () => { await store.delete(dsKey) } })
  }
  const node = await createLibp2p({
    privateKey,
    datastore: store,
    addresses: {
      listen: listen.map(String),
      announce: announce.map(String),
      appendAnnounce: parseMultiaddrs(init.appendAnnounce ?? [], 'appendAnnounce', false).map(String)
    },
    transports: [tcp()],
    // Template nodes with proof of stake offer Noise only as /pos-transport/1.0.0 (issue 11).
    connectionEncrypters: profile === 'native' ? [noise()] : [noise(), posNoise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxPeerAddrsToDial: MAX_PEER_ADDRS_TO_DIAL
    },
    connectionGater: neverDial(limiter.gater, init.neverDialIps ?? []),
    services: {
      identify: identify(),
      // Tells connected peers when our protocols change (the collector registers its push
      // protocol after the node has started).
      identifyPush: identifyPush(),
      ping: ping(),
      ...dhtServices(init, profile, onStored, refusesPeer),
      ...(profile === 'native' ? {} : { pubsub: templateGossipsub() })
    },
    start: false
  })
  // At most MAX_STORED_ADDRS_PER_PEER addresses kept per peer, however many it announces (issue 12).
  capStoredAddresses(node, { max: MAX_STORED_ADDRS_PER_PEER, allowPrivate: init.allowPrivateAddrs === true, logger })

  return new DefaultSubnetNode(init, { privateKey, bootstrap, announce, logger, node, store, recordStored, gate })
}

/** `gater`, also refusing every dial to one of `ips` (SubnetNodeInit.neverDialIps). */
function neverDial (gater: ConnectionGater, ips: readonly string[]): ConnectionGater {
  if (ips.length === 0) return gater
  const refused = new Set(ips)
  return {
    ...gater,
    denyDialMultiaddr: (ma: Multiaddr) => {
      const ip = firstIp([ma])
      return ip !== undefined && refused.has(ip)
    }
  }
}

type DhtFactory = ReturnType<typeof kadDHT>

/**
 * The native DHT on `/subnet/<id>/kad/1.0.0` with the caller's record validators, and/or the
 * template's on `/ipfs/kad/1.0.0` (`both`: the native one is `dht`, the template's `templateDht`).
 */
function dhtServices (init: SubnetNodeInit, profile: Profile, onStored: (dsKey: Key, record: DhtRecord) => void, refusesPeer: (peerId: string) => boolean): { dht: DhtFactory, templateDht?: DhtFactory } {
  const allowPrivateAddrs = init.allowPrivateAddrs === true
  const template = templateDht({ allowPrivateAddrs, refusesPeer, logPrefix: `libp2p:subnet:${init.subnetId}:template-kad-dht` })
  if (profile === 'template') return { dht: template }
  const selectors = init.selectors ?? {}
  const factory = kadDHT({
    protocol: kadProtocol(init.subnetId),
    clientMode: false,
    peerInfoMapper: dhtPeerInfoMapper(allowPrivateAddrs, refusesPeer),
    // Only the caller's namespaces (issue 12 item 4): kad-dht adds its `pk` validator to them,
    // and anyone could then fill the store with public-key records that never expire.
    validators: { pk: refuseNamespace('pk'), ...init.validators },
    selectors,
    logPrefix: `libp2p:subnet:${init.subnetId}:kad-dht`
  })
  // An older record never replaces a newer one (record-store.ts).
  const native: DhtFactory = (components) => factory(withDatastore(components, guardRecordStore(components.datastore, { recordPrefix: DHT_RECORD_PREFIX, selectors, onStored })))
  return profile === 'both' ? { dht: native, templateDht: template } : { dht: native }
}

/** A kad-dht validator that refuses every record of `namespace`, as kad-dht refuses a namespace it has no validator for. */
function refuseNamespace (namespace: string): ValidateFn {
  return async () => {
    throw new InvalidParametersError(`No validator available for key type "${namespace}"`)
  }
}

function parseMultiaddrs (values: readonly string[], flag: string, needPeerId: boolean): Multiaddr[] {
  return values.map((value) => {
    let ma: Multiaddr
    try {
      ma = multiaddr(value)
    } catch {
      throw new ConfigError(`--${flag} ${JSON.stringify(value)} is not a multiaddr (e.g. /ip4/1.2.3.4/tcp/31330${needPeerId ? '/p2p/12D3KooW...' : ''})`)
    }
    if (needPeerId && peerIdOfMultiaddr(ma) === undefined) {
      throw new ConfigError(`--${flag} ${JSON.stringify(value)} must end in /p2p/<peer id>`)
    }
    return ma
  })
}

/** Where the installed peer gate lives (SubnetNode.setPeerGate); shared with the gater and the DHT mappers. */
interface PeerGateSlot { current?: PeerGate }

/** kad-dht 16's routing table beyond its public type (`size` only): `remove` and the `peer:add` event. */
interface RoutingTableParts {
  remove: (peer: PeerId) => Promise<void>
  addEventListener: (type: 'peer:add', listener: (evt: CustomEvent<PeerId>) => void) => void
}

interface Resolved {
  privateKey: PrivateKey
  bootstrap: Multiaddr[]
  announce: Multiaddr[]
  logger: Logger
  node: Libp2p<SubnetServices>
  store: Datastore
  recordStored: Listeners<[StoredRecord]>
  gate: PeerGateSlot
}

class DefaultSubnetNode implements SubnetNode {
  readonly subnetId: string
  readonly privateKey: PrivateKey
  readonly peerId: string
  readonly kadProtocol: string
  readonly profile: Profile
  readonly libp2p: Libp2p<SubnetServices>
  readonly datastore: Datastore
  private readonly init: SubnetNodeInit
  private readonly bootstrap: Multiaddr[]
  private readonly announce: Multiaddr[]
  private readonly log: Logger
  private readonly recordStored: Listeners<[StoredRecord]>
  private readonly gate: PeerGateSlot
  private running = false
  private transition?: Promise<void>
  /** Redials the bootstrap list while the routing table is empty (see bootstrapRound); runs only with a bootstrap list. */
  private readonly bootstrapTask: RepeatingTask
  private bootstrapDelay = BOOTSTRAP_RETRY_MIN_MS
  /** bootnodeAddrs() found nothing dialable and said so; said once per node, not per call. */
  private warnedNoDialable = false
  /** Reachability probes in flight, aborted on stop. */
  private readonly probes = new Set<AbortController>()

  constructor (init: SubnetNodeInit, resolved: Resolved) {
    this.init = init
    this.subnetId = init.subnetId
    this.privateKey = resolved.privateKey
    this.peerId = peerIdFromPrivateKey(resolved.privateKey).toString()
    this.kadProtocol = kadProtocol(init.subnetId)
    this.profile = init.profile ?? 'native'
    this.libp2p = resolved.node
    this.datastore = resolved.store
    this.bootstrap = resolved.bootstrap
    this.announce = resolved.announce
    this.log = resolved.logger
    this.recordStored = resolved.recordStored
    this.gate = resolved.gate
    // The mapper keeps a refused peer out when it connects, but kad-dht also adds the peers that
    // answer its queries, and an add already queued may land after evictPeer: undo those.
    for (const rt of this.routingTables()) {
      rt.addEventListener('peer:add', (evt) => {
        if (this.gate.current?.refuses(evt.detail.toString()) !== true) return
        rt.remove(evt.detail).catch((err: unknown) => { this.log.debug('routing table removal failed', { peer: evt.detail.toString(), err }) })
      })
    }
    this.bootstrapTask = createRepeatingTask(async ({ signal }) => { await this.bootstrapRound(signal) }, {
      intervalMs: BOOTSTRAP_RETRY_MIN_MS,
      timeoutMs: BOOTSTRAP_DIAL_TIMEOUT_MS,
      runImmediately: true,
      logger: this.log,
      name: 'bootstrap round'
    })
  }

  get dht (): SingleKadDHT {
    return this.libp2p.services.dht as SingleKadDHT
  }

  get pubsub (): GossipSub | undefined {
    return this.libp2p.services.pubsub
  }

  isStarted (): boolean {
    return this.running
  }

  async start (): Promise<void> {
    await this.transition
    if (this.running) return
    this.transition = this.doStart()
    try { await this.transition } finally { this.transition = undefined }
  }

  async stop (): Promise<void> {
    await this.transition
    if (!this.running) {
      // Never started (a sidecar whose start failed earlier): LevelDB opens its database, and takes
      // its lock, as soon as the datastore is created, so release it here. Closing twice is a no-op.
      await this.closeStore()
      return
    }
    this.transition = this.doStop()
    try { await this.transition } finally { this.transition = undefined }
  }

  private async doStart (): Promise<void> {
    const store = this.datastore
    if (store instanceof LevelDatastore) await openLevelDatastore(store, this.init.dataDir ?? '')
    try {
      await this.libp2p.start()
    } catch (err) {
      try { await this.libp2p.stop() } catch {}
      if (store instanceof LevelDatastore) await store.close().catch(() => {})
      throw err
    }
    this.running = true
    this.log.info('subnet node started', {
      peer_id: this.peerId, subnet_id: this.subnetId, addrs: this.libp2p.getMultiaddrs().map(String)
    })
    if (this.bootstrap.length > 0) {
      // Known at once, so a dial by peer id made right after start() finds the address (the
      // first bootstrap round runs on the next tick).
      await this.rememberBootstrapAddrs()
      this.bootstrapDelay = BOOTSTRAP_RETRY_MIN_MS
      this.bootstrapTask.setInterval(BOOTSTRAP_RETRY_MIN_MS)
      this.bootstrapTask.start()
    }
  }

  private async doStop (): Promise<void> {
    this.running = false
    for (const probe of this.probes) probe.abort()
    // Aborts the dials in flight and waits for them, so none outlives the node.
    await this.bootstrapTask.stop()
    try {
      await this.libp2p.stop()
    } finally {
      await this.closeStore()
      this.log.info('subnet node stopped', { peer_id: this.peerId })
    }
  }

  private async closeStore (): Promise<void> {
    const store = this.datastore
    if (store instanceof LevelDatastore) {
      await store.close().catch((err: unknown) => { this.log.warn('datastore close failed', { err }) })
    }
  }

  /**
   * Dials the bootstrap list while the routing table is empty; backs off (doubling from
   * BOOTSTRAP_RETRY_MIN_MS to BOOTSTRAP_RETRY_MAX_MS) while it stays empty, and checks every
   * BOOTSTRAP_RETRY_MAX_MS once it has peers. `signal` ends at BOOTSTRAP_DIAL_TIMEOUT_MS or on stop().
   */
  private async rememberBootstrapAddrs (): Promise<void> {
    for (const ma of this.bootstrap) {
      const id = peerIdOfMultiaddr(ma)
      if (id === undefined || id === this.peerId) continue
      try {
        await this.libp2p.peerStore.merge(peerIdFromString(id), { multiaddrs: [ma] })
      } catch (err) {
        this.log.debug('could not remember bootstrap address', { addr: ma.toString(), err })
      }
    }
  }

  private async bootstrapRound (signal: AbortSignal): Promise<void> {
    const node = this.libp2p
    if (this.dht.routingTable.size === 0) {
      await Promise.all(this.bootstrap.map(async (ma) => {
        if (peerIdOfMultiaddr(ma) === this.peerId) return
        try {
          await node.dial(ma, { signal })
          this.log.debug('dialled bootstrap peer', { addr: ma.toString() })
        } catch (err) {
          this.log.debug('bootstrap dial failed', { addr: ma.toString(), err })
        }
      }))
      this.bootstrapDelay = Math.min(this.bootstrapDelay * 2, BOOTSTRAP_RETRY_MAX_MS)
    } else {
      this.bootstrapDelay = BOOTSTRAP_RETRY_MIN_MS
    }
    this.bootstrapTask.setInterval(this.dht.routingTable.size === 0 ? this.bootstrapDelay : BOOTSTRAP_RETRY_MAX_MS)
  }

  bootnodeAddrs (): string[] {
    if (!this.running) return []
    const suffix = `/p2p/${this.peerId}`
    const withId = (ma: Multiaddr): string => {
      const s = ma.toString()
      return s.endsWith(suffix) ? s : `${s}${suffix}`
    }
    // The operator's --announce list is the truth about how we are reached (public IP, DNS name).
    if (this.announce.length > 0) return this.announce.map(withId)
    // Otherwise our listen addresses, minus those nobody else could dial (SPEC §1 get_bootnodes):
    // `0.0.0.0` expands to 127.0.0.1 and LAN addresses, which would only mislead a joining node.
    const addrs = dialableAddrs(this.libp2p.getMultiaddrs(), this.init.allowPrivateAddrs === true)
    if (addrs.length === 0 && !this.warnedNoDialable) {
      this.warnedNoDialable = true
      this.log.warn('no publicly dialable listen address to hand out as a bootnode (get_bootnodes lists none); set --announce to this host\'s public address (e.g. /ip4/<public-ip>/tcp/31330), or --allow-private-addrs for a LAN subnet', {
        listen: this.libp2p.getMultiaddrs().map(String)
      })
    }
    return addrs.map(withId)
  }

  isDhtReady (): boolean {
    if (!this.running) return false
    if (this.libp2p.getMultiaddrs().length === 0) return false
    return this.bootstrap.length === 0 || this.dht.routingTable.size > 0
  }

  async * storedRecords (keyPrefix: Uint8Array, options: { signal?: AbortSignal } = {}): AsyncGenerator<StoredRecord> {
    const store = this.datastore
    for await (const { key: dsKey, value } of store.query({ prefix: DHT_RECORD_PREFIX }, options)) {
      let record: DhtRecord
      try {
        record = DhtRecord.deserialize(value)
      } catch {
        continue
      }
      if (!startsWith(record.key, keyPrefix)) continue
      yield { key: record.key, value: record.value, remove: async () => { await store.delete(dsKey) } }
    }
  }

  onRecordStored (keyPrefix: Uint8Array, listener: (record: StoredRecord) => void): () => void {
    return this.recordStored.add((record) => { if (startsWith(record.key, keyPrefix)) listener(record) })
  }

  async probe (peerId: string, addr: string, options: { timeoutMs: number }): Promise<ProbeResult> {
    if (!this.running) return { ok: false, error: 'node not running' }
    let ma: Multiaddr
    try {
      ma = multiaddr(addr)
    } catch {
      return { ok: false, error: 'not a multiaddr' }
    }
    const controller = new AbortController()
    this.probes.add(controller)
    try {
      return await probeAddress(this.libp2p, peerId, ma, { timeoutMs: options.timeoutMs, signal: controller.signal })
    } finally {
      this.probes.delete(controller)
    }
  }

  setPeerGate (gate: PeerGate | undefined): void {
    this.gate.current = gate
  }

  async evictPeer (peerId: string): Promise<void> {
    if (!this.running) return
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch {
      return
    }
    // Connections first, so identify cannot write its addresses back after they are forgotten.
    await this.libp2p.hangUp(id).catch((err: unknown) => { this.log.debug('hang-up failed', { peer: peerId, err }) })
    for (const rt of this.routingTables()) {
      await rt.remove(id).catch((err: unknown) => { this.log.debug('routing table removal failed', { peer: peerId, err }) })
    }
    await this.libp2p.peerStore.delete(id).catch((err: unknown) => { this.log.debug('peer store removal failed', { peer: peerId, err }) })
  }

  /**
   * The routing table of each DHT this node runs (the native one and/or the template's). Its
   * `remove` and `peer:add` are kad-dht 16's, beyond the public type: checked here, so an upgrade
   * that drops them fails the node's construction instead of quietly leaving refused peers in.
   */
  private routingTables (): RoutingTableParts[] {
    const dhts = [this.libp2p.services.dht, this.libp2p.services.templateDht]
    return dhts.flatMap((dht) => {
      if (dht === undefined) return []
      const rt = (dht as SingleKadDHT).routingTable as unknown as Partial<RoutingTableParts>
      if (typeof rt.remove !== 'function' || typeof rt.addEventListener !== 'function') {
        throw new Error('@libp2p/kad-dht: its routing table has no remove() or peer:add event (written for kad-dht 16); the peer gate needs them')
      }
      return [rt as RoutingTableParts]
    })
  }

  async hasStoredRecord (key: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      return await this.datastore.has(dhtRecordKey(key), options)
    } catch {
      return false
    }
  }
}

/**
 * Opens the on-disk datastore; a failure is one line with LevelDB's own reason. datastore-level
 * replaces it with "Database failed to open", so ask the database itself again (with
 * datastore-level's options): a lock held elsewhere is another node on the
 * same --data-dir; anything else (corruption, permissions, a full disk) is said as LevelDB says it.
 */
async function openLevelDatastore (store: LevelDatastore, dataDir: string): Promise<void> {
  let cause: unknown
  try {
    await store.open()
    return
  } catch (err) {
    cause = err
  }
  try {
    // Succeeds only if the obstacle went away meanwhile (the other node exited): then go on.
    await store.db.open({ createIfMissing: true, compression: false })
    return
  } catch (err) {
    cause = (err as { cause?: unknown }).cause ?? err
  }
  const { code, message } = cause as { code?: string, message?: string }
  const reason = code === 'LEVEL_LOCKED'
    ? 'it is locked; is another node using it?'
    : (message ?? String(cause)).replace(/\s+/g, ' ')
  throw new ConfigError(`--data-dir ${dataDir}: cannot open the datastore: ${reason}`, { cause })
}

/**
 * Where kad-dht keeps the records it stores: `<datastorePrefix>/record/<base32 of the key>`, with
 * its default datastorePrefix `/dht`. Known only here (SubnetNode.storedRecords).
 */
const DHT_RECORD_PREFIX = '/dht/record'

function dhtRecordKey (key: Uint8Array): Key {
  return new Key(`${DHT_RECORD_PREFIX}/${uint8ArrayToString(key, 'base32')}`, false)
}

function startsWith (bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.byteLength < prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
