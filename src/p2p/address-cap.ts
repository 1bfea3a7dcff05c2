/**
 * A bound on the addresses the peer store keeps per remote peer (issue 12, fake members).
 *
 * A peer announces what it likes through identify, and other peers hand out what they like in
 * DHT answers: fake members announced 200 addresses each. libp2p keeps them all, and every later
 * use of that peer decodes the whole list: DHT answers (FIND_NODE), each dial (which sorts all of
 * them before trying MAX_PEER_ADDRS_TO_DIAL), the collectors' peer-store scans. Departed fake
 * members stay in kad-dht's routing table, so that cost went on after the attack.
 * libp2p 3's `addressFilter` sees one address at a time and cannot count, so this trims after
 * the fact: on each `peer:update` of a remote peer holding more than `max` addresses, the store
 * keeps `max` of them (certified ones first, then those another node could dial, in the order
 * stored). An honest node has a few; `/v1/get_peers_info` lists at most as many.
 */
import { dialableAddrs } from '../util/dialable.js'
import type { Logger } from '../log/index.js'
import type { Address, Libp2p, PeerUpdate } from '@libp2p/interface'

export interface AddressCapInit {
  max: number
  allowPrivate: boolean
  logger: Logger
}

/** Trims from now on, for the node's whole life (the listener goes with the node; a restarted node keeps it). */
export function capStoredAddresses (libp2p: Libp2p, init: AddressCapInit): void {
  const onUpdate = (evt: CustomEvent<PeerUpdate>): void => {
    const { peer } = evt.detail
    if (peer.addresses.length <= init.max || peer.id.equals(libp2p.peerId)) return
    const kept = keptAddresses(peer.addresses, init.max, init.allowPrivate)
    libp2p.peerStore.patch(peer.id, { addresses: kept }).catch((err: unknown) => {
      // The store closes on stop; anything else is worth a line, never a crash.
      if (libp2p.status === 'started') init.logger.debug('trimming a peer\'s stored addresses failed', { peer_id: peer.id.toString(), err })
    })
  }
  libp2p.addEventListener('peer:update', onUpdate)
}

/** At most `max` distinct addresses: certified first, then dialable ones, each group in stored order. */
export function keptAddresses (addresses: readonly Address[], max: number, allowPrivate: boolean): Address[] {
  const dialable = new Set(dialableAddrs(addresses.map((a) => a.multiaddr), allowPrivate))
  const rank = (a: Address): number => (a.isCertified ? 0 : 2) + (dialable.has(a.multiaddr) ? 0 : 1)
  const seen = new Set<string>()
  const kept: Address[] = []
  for (const a of [...addresses].sort((x, y) => rank(x) - rank(y))) {
    const key = a.multiaddr.toString()
    if (seen.has(key)) continue
    seen.add(key)
    kept.push(a)
    if (kept.length === max) break
  }
  return kept
}
