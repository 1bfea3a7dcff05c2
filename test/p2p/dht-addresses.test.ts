/**
 * The native DHT hands out at most 8 addresses per peer (issue 12): a peer announcing many
 * (fake members announced 200) must not make every node that asks the bootnode for peers
 * store, and redial, all of them.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import test from 'ava'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

const ANNOUNCED = 12
const HANDED_OUT = 8

for (const profile of ['native', 'template'] as const) {
test(`FIND_NODE answers list at most 8 addresses of a peer that announced more (${profile} DHT)`, async (t) => {
  // The template profile's one DHT is the template's, on /ipfs/kad/1.0.0, with integer subnet ids.
  const subnetId = profile === 'native' ? uniqueSubnetId() : '7'
  const boot = await startNode(t, { subnetId, profile })
  const announce = Array.from({ length: ANNOUNCED }, (_, i) => `/ip4/127.0.0.1/tcp/${20_000 + i}`)
  const member = await startNode(t, { subnetId, profile, announce, bootstrap: boot.bootnodeAddrs() })
  const memberId = peerIdFromString(member.peerId)
  await waitFor(async () => (await boot.libp2p.peerStore.get(memberId)).addresses.length >= ANNOUNCED && boot.dht.routingTable.size > 0,
    { what: 'the member and its addresses known to the bootnode' })

  const asker = await startNode(t, { subnetId, profile, bootstrap: boot.bootnodeAddrs() })
  await waitFor(() => asker.dht.routingTable.size > 0, { what: 'the asker to know the bootnode' })
  const listed: number[] = []
  for await (const event of asker.dht.getClosestPeers(memberId.toMultihash().bytes, { signal: AbortSignal.timeout(10_000) })) {
    if (event.name !== 'PEER_RESPONSE' || event.from.toString() !== boot.peerId) continue
    for (const peer of event.closer) if (peer.id.equals(memberId)) listed.push(peer.multiaddrs.length)
  }
  t.true(listed.length > 0, 'the bootnode listed the member')
  for (const n of listed) t.true(n > 0 && n <= HANDED_OUT, `${n} addresses handed out`)
})
}
