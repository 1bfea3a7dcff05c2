/**
 * What a js-libp2p node needs to speak the Hypertensor subnet-template profile (issue 11): the
 * template's py-libp2p nodes (libp2p/py-libp2p c4abd7c, subnet-template e9c74f9) offer Noise
 * under `/pos-transport/1.0.0` when proof of stake is on, run a Kademlia DHT on
 * `/ipfs/kad/1.0.0` and gossip `heartbeat` and `peer_state` on `/meshsub/2.0.0` only.
 *
 * Each export is a libp2p component factory, to be placed in `createLibp2p`'s
 * `connectionEncrypters` and `services`; this module starts nothing.
 *
 * Template sources: subnet/utils/pos/pos_transport.py, subnet/server/server.py,
 * subnet/config.py, subnet/utils/pubsub/topics.py; py-libp2p libp2p/pubsub/pubsub.py
 * (`get_peer_and_seqno_msg_id`), libp2p/records/pubkey.py.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { StrictSign, gossipsub } from '@libp2p/gossipsub'
import { kadDHT } from '@libp2p/kad-dht'
import { InvalidParametersError } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { TEMPLATE_TOPICS } from './constants.js'
import { dhtPeerInfoMapper, withDatastore } from './dht-parts.js'
import type { NoiseComponents } from '@chainsafe/libp2p-noise'
import type { GossipSub, GossipSubComponents, GossipsubOpts, Message } from '@libp2p/gossipsub'
import type { AbortOptions, ConnectionEncrypter } from '@libp2p/interface'
import type { KadDHT, KadDHTComponents, ValidateFn } from '@libp2p/kad-dht'

/** The protocol id under which the template's POSTransport offers Noise (subnet/utils/pos/pos_transport.py). */
export const POS_TRANSPORT_PROTOCOL = '/pos-transport/1.0.0'

/** The only gossipsub protocol the template's nodes speak (subnet/config.py). */
export const TEMPLATE_GOSSIPSUB_PROTOCOL = '/meshsub/2.0.0'

/**
 * What the template gossipsub router advertises and proposes, in this order: `/meshsub/2.0.0`
 * first (template nodes answer `na` to anything else), then the 1.x versions for js/go peers.
 */
const TEMPLATE_GOSSIPSUB_PROTOCOLS: readonly string[] = [TEMPLATE_GOSSIPSUB_PROTOCOL, '/meshsub/1.2.0', '/meshsub/1.1.0', '/meshsub/1.0.0']

/** The template's DHT protocol: py-libp2p's default, the same id as the public IPFS DHT. */
export const TEMPLATE_KAD_PROTOCOL = '/ipfs/kad/1.0.0'

export { TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS } from './constants.js'

/**
 * The template's GossipSub parameters (subnet/server/server.py: degree 7, degree_low 5,
 * degree_high 10, time_to_live 60 s, gossip_window 2, gossip_history 5, heartbeat_interval 2 s).
 */
const TEMPLATE_GOSSIPSUB_PARAMS = {
  D: 7,
  Dlo: 5,
  Dhi: 10,
  fanoutTTL: 60_000,
  mcacheGossip: 2,
  mcacheLength: 5,
  heartbeatInterval: 2_000
} as const satisfies Partial<GossipsubOpts>

/**
 * One gossipsub RPC frame from a peer is refused past this size before it is decoded (the
 * package's own bound, that of its length-prefixed decoder, is 4 MiB). The template's messages are
 * ~100 bytes (plain) to ~1.5 KB (DAG nodes); 1 MiB leaves room for batched messages and control.
 */
const TEMPLATE_MAX_RPC_BYTES = 1024 * 1024

/** Records the template DHT keeps at most (oldest evicted first). */
const TEMPLATE_DHT_MAX_RECORDS = 1024

/** Largest `pk` record value accepted: an RSA-8192 public key in protobuf is about 1.1 KiB. */
const TEMPLATE_PK_MAX_BYTES = 2048

/**
 * Noise offered under `/pos-transport/1.0.0`. The template with proof of stake maps that id to
 * POSTransport(Noise), which is plain Noise (the stake check runs after the handshake, on the
 * remote peer id), so the same handshake under another id is all a bootnode needs. List it after
 * `noise()`, so outbound dials try `/noise` first and fall back to this.
 */
export function posNoise (): (components: NoiseComponents) => ConnectionEncrypter {
  return (components) => {
    const encrypter = noise()(components)
    encrypter.protocol = POS_TRANSPORT_PROTOCOL
    return encrypter
  }
}

/**
 * py-libp2p's and go-libp2p's default message id: `from` (the peer id's multihash bytes)
 * followed by the 8-byte big-endian seqno (py-libp2p `get_peer_and_seqno_msg_id`).
 * @libp2p/gossipsub's default (`msgIdFnStrictSign`) uses the protobuf public key instead of the
 * peer id bytes, so its ids never match a template node's in IHAVE/IWANT.
 */
export function templateMsgId (msg: Message): Uint8Array {
  if (msg.type !== 'signed') throw new Error('template gossipsub messages are signed (StrictSign)')
  const from = msg.from.toMultihash().bytes
  const id = new Uint8Array(from.byteLength + 8)
  id.set(from, 0)
  new DataView(id.buffer).setBigUint64(from.byteLength, msg.sequenceNumber)
  return id
}

/**
 * A gossipsub router that template nodes mesh with: `/meshsub/2.0.0` + 1.x, StrictSign,
 * `from + seqno` message ids, the template's parameters, only `TEMPLATE_TOPICS` accepted.
 *
 * @libp2p/gossipsub 17 silently ignores its `protocols` option (its class initialises
 * `protocols` from its own version ladder and registers exactly that list in `start()`), but
 * `protocols` is a public, mutable member of its `GossipSub` interface, read only from `start()`
 * on. So we set it right after construction, before libp2p can start the service; no
 * `start: false` dance at the call site. test/p2p/template-interop.test.ts fails if an
 * update stops registering `/meshsub/2.0.0` this way.
 *
 * `/meshsub/2.0.0` is not on the package's feature ladder, so towards a template peer the router
 * behaves as gossipsub 1.0 (no PRUNE back-off/PX, no IDONTWANT): safe, as py-libp2p accepts both.
 * The service does not subscribe: call `subscribe()` once libp2p has started. Topic validators
 * are its users' to install (`topicValidators`), as src/template/source.ts does.
 */
export function templateGossipsub (): (components: GossipSubComponents) => GossipSub {
  const factory = gossipsub({
    ...TEMPLATE_GOSSIPSUB_PARAMS,
    allowedTopics: [...TEMPLATE_TOPICS],
    maxInboundDataLength: TEMPLATE_MAX_RPC_BYTES,
    fallbackToFloodsub: false,
    // a publish before any peer subscribed resolves with no recipients instead of throwing
    allowPublishToZeroTopicPeers: true,
    globalSignaturePolicy: StrictSign,
    msgIdFn: templateMsgId
  })
  return (components) => {
    const router = factory(components)
    router.protocols = [...TEMPLATE_GOSSIPSUB_PROTOCOLS]
    return router
  }
}

/**
 * The `pk` record validator of the template DHT: the value is a protobuf public key of at most
 * `TEMPLATE_PK_MAX_BYTES`, and the key is `/pk/` followed by that key's peer-id multihash either
 * as raw bytes (go/js-libp2p) or as lowercase hex text (py-libp2p `libp2p/records/pubkey.py`,
 * which writes `"/pk/" + multihash.hex()`).
 */
export const templatePkValidator: ValidateFn = async (key, value) => {
  if (value.byteLength > TEMPLATE_PK_MAX_BYTES) throw new InvalidParametersError(`pk record value over ${TEMPLATE_PK_MAX_BYTES} bytes`)
  if (key.byteLength < 5 || uint8ArrayToString(key.subarray(0, 4)) !== '/pk/') throw new InvalidParametersError('key was not prefixed with /pk/')
  const multihash = publicKeyFromProtobuf(value).toMultihash().bytes
  const rest = key.subarray(4)
  if (uint8ArrayEquals(rest, multihash)) return
  const text = uint8ArrayToString(rest)
  if (/^(?:[0-9a-f]{2})+$/.test(text) && uint8ArrayEquals(uint8ArrayFromString(text, 'base16'), multihash)) return
  throw new InvalidParametersError('public key does not match the /pk/ key')
}

/**
 * An in-memory datastore that keeps at most `maxEntries` keys, evicting the oldest first. The
 * template DHT stores what any peer PUTs (`pk` records, provider records); this bounds it.
 */
export class BoundedMemoryDatastore extends MemoryDatastore {
  private readonly maxEntries: number
  /** Keys in write order (a Set iterates in insertion order). */
  private readonly order = new Set<string>()

  constructor (maxEntries: number) {
    super()
    this.maxEntries = maxEntries
  }

  override put (key: Key, val: Uint8Array, options?: AbortOptions): Key {
    const k = key.toString()
    this.order.delete(k)
    this.order.add(k)
    void super.put(key, val, options)
    for (const oldest of this.order) {
      if (this.order.size <= this.maxEntries) break
      this.order.delete(oldest)
      void super.delete(new Key(oldest))
    }
    return key
  }

  override delete (key: Key, options?: AbortOptions): void {
    this.order.delete(key.toString())
    void super.delete(key, options)
  }
}

export interface TemplateDhtInit {
  /** Keep loopback and private addresses (passthrough peer-info mapper). Default false. */
  allowPrivateAddrs?: boolean
  /** Debug namespace. Default `libp2p:template:kad-dht`. */
  logPrefix?: string
  /** The peer gate (dhtPeerInfoMapper): a refused peer is neither kept nor handed out. Default: none refused. */
  refusesPeer?: (peerId: string) => boolean
}

/**
 * A second kad-dht, server mode, on `/ipfs/kad/1.0.0`, as the template's
 * `KadDHT(host, DHTMode.SERVER, enable_random_walk=True)`.
 *
 * Storage: its own in-memory store of at most `TEMPLATE_DHT_MAX_RECORDS` records, oldest evicted first (never the node's datastore:
 * that one holds the native DHT's heartbeat records, which the collector scans, and is on disk),
 * so what peers PUT is bounded and forgotten on restart. Only `pk` records are accepted (the one
 * namespace py-libp2p's template validator knows), in both key forms; every other namespace is
 * refused by kad-dht for lack of a validator.
 *
 * Known gap: kad-dht's GET_VALUE handler decodes any `/pk/…` key as a binary multihash before
 * looking at the store, so a GET for py's hex form fails on that stream (py then tries other peers).
 */
export function templateDht (init: TemplateDhtInit = {}): (components: KadDHTComponents) => KadDHT {
  const factory = kadDHT({
    protocol: TEMPLATE_KAD_PROTOCOL,
    clientMode: false,
    peerInfoMapper: dhtPeerInfoMapper(init.allowPrivateAddrs === true, init.refusesPeer),
    validators: { pk: templatePkValidator },
    selectors: { pk: () => 0 },
    datastorePrefix: '/dht-template',
    logPrefix: init.logPrefix ?? 'libp2p:template:kad-dht'
  })
  return (components) => factory(withDatastore(components, new BoundedMemoryDatastore(TEMPLATE_DHT_MAX_RECORDS)))
}
