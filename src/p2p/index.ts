/**
 * The subnet node (SPEC §5): a libp2p node (TCP, Noise, Yamux, identify, ping) that joins
 * one subnet's Kademlia DHT as a server on `/subnet/<subnet-id>/kad/1.0.0`, with a
 * persistent identity and, optionally, a persistent peer store.
 */
import { createDefaultSubnetNode } from './node.js'
import type { Logger } from '../log/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { KadDHT, SelectFn, SingleKadDHT, ValidateFn } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

export {
  kadProtocol, SUBNET_ID_PATTERN, DEFAULT_INBOUND_CONNECTION_THRESHOLD, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_CONNECTIONS_PER_PEER, templateSubnetId, requireTemplateSubnetId
} from './constants.js'

export { IdentityError } from './identity.js'
export type { ProbeResult } from './probe.js'
import type { ProbeResult } from './probe.js'
export {
  POS_TRANSPORT_PROTOCOL, TEMPLATE_GOSSIPSUB_PROTOCOL, TEMPLATE_KAD_PROTOCOL
} from './template.js'

// PROFILES lives in the leaf constants.ts so the config can read it without loading libp2p.
export { PROFILES } from './constants.js'
export type { Profile } from './constants.js'
import type { Profile } from './constants.js'

export interface SubnetServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  /** The native DHT, or in the `template` profile the template's. */
  dht: KadDHT
  /** `both` profile: the template's DHT beside the native one. */
  templateDht?: KadDHT
  /** `template` and `both` profiles: the gossipsub router (no topic subscribed until a source does). */
  pubsub?: GossipSub
}

export interface SubnetNodeInit {
  /** The subnet id; becomes part of the protocol ids (1-128 of `A-Za-z0-9._-`). */
  subnetId: string
  /** Default `native`. */
  profile?: Profile
  /** Listen multiaddrs. Default `['/ip4/0.0.0.0/tcp/31330']`. */
  listen?: string[]
  /** Addresses announced instead of the listen addresses (public IP, DNS name). Default none. */
  announce?: string[]
  /**
   * Addresses announced besides the listen (or `announce`) ones. Default none. The demo announces
   * well-known public addresses this way as demo data (SPEC §4), beside the loopback one peers dial.
   */
  appendAnnounce?: string[]
  /**
   * IP addresses this node never dials: its connection gater refuses them before any packet is
   * sent (libp2p `denyDialMultiaddr`). Default none. The demo's nodes refuse its demo addresses,
   * which name hosts that are not subnet members.
   */
  neverDialIps?: string[]
  /** `/…/p2p/<id>` multiaddrs, dialled at start and re-dialled (with back-off) while the routing table is empty. */
  bootstrap?: string[]
  /** Protobuf private key file, created 0600 if missing. */
  identityPath?: string
  /** A private key to use instead of `identityPath` (tests, embedding). A new one is generated if neither is given. */
  privateKey?: PrivateKey
  /** Persistent datastore directory (peer store and DHT records); in memory if absent. */
  dataDir?: string
  /** Keep loopback and private addresses in the DHT (passthrough peer-info mapper) and in `bootnodeAddrs()`. Default false. */
  allowPrivateAddrs?: boolean
  /** Inbound connections accepted per second per IP. Default 100 (libp2p's own default is 5). */
  inboundConnectionThreshold?: number
  /** Maximum open connections. Default 1000. */
  maxConnections?: number
  /**
   * Concurrent inbound connections (handshakes in flight included) from one IPv4 address or IPv6
   * /64; past it a new one is refused and counted. Default 16.
   */
  maxConnectionsPerIp?: number
  /** Concurrent inbound connections from one peer id; past it a new one is refused and counted. Default 4. */
  maxConnectionsPerPeer?: number
  /**
   * DHT record validators by key namespace, as kad-dht takes them: the caller decides which
   * records this subnet's DHT stores (the heartbeat module supplies its own). The only ones:
   * kad-dht's built-in `pk` namespace is refused unless given here. A record replaces the one
   * held under its key only if the namespace's selector prefers it (an older one never does).
   */
  validators?: Record<string, ValidateFn>
  /** DHT record selectors by key namespace (kad-dht `selectors`). */
  selectors?: Record<string, SelectFn>
  logger?: Logger
}

/**
 * Who the node refuses outright, whatever the connection limits say (SubnetNode.setPeerGate).
 * Chain-aware mode installs one that refuses peers known to be unstaked; src/p2p knows nothing of
 * why. Asked from inside libp2p's connection gater and kad-dht's peer-info mapper, so it must
 * answer at once from what it already knows, never wait on the network.
 */
export interface PeerGate {
  /** True: `peerId` (base58) is refused now. False for a peer it knows nothing about. */
  refuses: (peerId: string) => boolean
}

/** A record held in this node's own DHT store. */
export interface StoredRecord {
  /** The DHT key, e.g. UTF-8 `/heartbeat/<peer id>`. */
  key: Uint8Array
  value: Uint8Array
  /** Removes this record from the store (garbage the DHT accepted earlier). */
  remove: () => Promise<void>
}

export interface SubnetNode {
  /** The libp2p node; exists from creation, listens only after `start()`. */
  readonly libp2p: Libp2p<SubnetServices>
  readonly peerId: string
  readonly privateKey: PrivateKey
  readonly subnetId: string
  readonly profile: Profile
  /** `/subnet/<subnet-id>/kad/1.0.0`, spoken in the `native` and `both` profiles. */
  readonly kadProtocol: string
  /** The datastore behind the peer store and the DHT's records. */
  readonly datastore: Datastore
  /** The DHT service (routing table included): the native one, or the template's in the `template` profile. */
  readonly dht: SingleKadDHT
  /** The template's gossipsub router, in the `template` and `both` profiles. */
  readonly pubsub: GossipSub | undefined
  /** Idempotent. */
  start: () => Promise<void>
  /** Idempotent. */
  stop: () => Promise<void>
  isStarted: () => boolean
  /**
   * Own multiaddrs for `/v1/get_bootnodes`, each ending in `/p2p/<id>`; [] when stopped.
   * The announce addresses as given if any; else the listen addresses minus unspecified,
   * link-local and multicast ones, and minus loopback and private (RFC 1918, ULA, CGNAT) ones
   * unless `allowPrivateAddrs`. May be [] (a warning is logged once: set `announce`).
   */
  bootnodeAddrs: () => string[]
  /** Listening, and the routing table is non-empty (or no bootstrap list was configured). */
  isDhtReady: () => boolean
  /**
   * The records this node's DHT holds whose key starts with `keyPrefix` (kad-dht's store layout
   * stays private to src/p2p). Reads the store as it is; yields nothing once `signal` aborts.
   */
  storedRecords: (keyPrefix: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<StoredRecord>
  /** Whether this node's DHT store holds a record under exactly `key`. */
  hasStoredRecord: (key: Uint8Array, options?: { signal?: AbortSignal }) => Promise<boolean>
  /**
   * Calls `listener` after the native DHT stores a record whose key starts with `keyPrefix` (a put from a peer or from this node),
   * with the record as stored; returns an unsubscribe function. Records already held at start
   * (a persisted datastore) are not reported: read them with `storedRecords`.
   */
  onRecordStored: (keyPrefix: Uint8Array, listener: (record: StoredRecord) => void) => () => void
  /**
   * SPEC §1 `/v1/is_reachable`: dials `addr` (`/ip4|ip6/<ip>/tcp/<port>`, no `/p2p/`) on a fresh
   * connection (never one already open), checks the remote is `peerId`, pings once and closes it,
   * all within `timeoutMs`. Never rejects; aborted when the node stops.
   */
  probe: (peerId: string, addr: string, options: { timeoutMs: number }) => Promise<ProbeResult>
  /**
   * Installs `gate` (undefined: removes it; at most one). A peer it refuses is denied by the
   * connection gater as soon as its id is known, before the muxer and any protocol: inbound once
   * Noise has proven it, outbound before dialling (counted as
   * `subnet_bootnode_connection_refusals_total{reason="peer-gate"}`); and neither DHT adds it to
   * its routing table or hands out its addresses (FIND_NODE and GET_PROVIDERS answers). Peers it
   * does not refuse connect as before.
   */
  setPeerGate: (gate: PeerGate | undefined) => void
  /**
   * For a peer the gate has just started refusing: closes its connections, removes it from the
   * DHT routing table(s) and forgets its addresses (kad-dht's GET_VALUE answers are not mapped,
   * and a lookup of the peer's own id reads the peer store). Never rejects.
   */
  evictPeer: (peerId: string) => Promise<void>
}

export interface SubnetNodeComponents {
  /** Where the node registers its series (`subnet_bootnode_connection_refusals_total{reason}`); none: not exported. */
  registry?: Registry
}

/** Loads or creates the identity and builds (but does not start) the node. */
export async function createSubnetNode (init: SubnetNodeInit, components: SubnetNodeComponents = {}): Promise<SubnetNode> {
  return createDefaultSubnetNode(init, components)
}
