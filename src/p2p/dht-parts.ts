/**
 * What both of the node's kad-dht instances share: the peer-info mapper (which addresses the DHT
 * hands out) and the way each gets a datastore of its own.
 */
import { passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { MAX_PEER_ADDRS_TO_DIAL } from './constants.js'
import type { PeerInfo } from '@libp2p/interface'
import type { KadDHTComponents } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'

/**
 * What a DHT hands out of a peer (FIND_NODE answers): kad-dht's default drops loopback and private
 * addresses, so a local subnet would never form; they are kept only when asked (SPEC §5,
 * --allow-private-addrs). Then at most MAX_PEER_ADDRS_TO_DIAL addresses: a peer that announced
 * hundreds (issue 12, fake members) must not cost every node that asks us for peers a peer-store
 * record of hundreds of addresses to rewrite on each failed dial; nobody dials more than that many
 * of one peer's addresses anyway.
 *
 * A peer `refusesPeer` refuses (the peer gate, SubnetNode.setPeerGate) gets no address at all:
 * kad-dht then leaves it out of FIND_NODE and GET_PROVIDERS answers, and does not add it to the
 * routing table when it connects.
 */
export function dhtPeerInfoMapper (allowPrivateAddrs: boolean, refusesPeer: (peerId: string) => boolean = () => false): (info: PeerInfo) => PeerInfo {
  const mapper = allowPrivateAddrs ? passthroughMapper : removePrivateAddressesMapper
  return (info) => {
    if (refusesPeer(info.id.toString())) return { ...info, multiaddrs: [] }
    const mapped = mapper(info)
    return mapped.multiaddrs.length <= MAX_PEER_ADDRS_TO_DIAL ? mapped : { ...mapped, multiaddrs: mapped.multiaddrs.slice(0, MAX_PEER_ADDRS_TO_DIAL) }
  }
}

/** `components` with its own `datastore`: libp2p's components object is a Proxy that resolves names on access, so inherit from it and shadow only that. */
export function withDatastore (components: KadDHTComponents, datastore: Datastore): KadDHTComponents {
  return Object.create(components, { datastore: { value: datastore, enumerable: true } }) as KadDHTComponents
}
