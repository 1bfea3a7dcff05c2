/**
 * The peer store keeps at most 16 addresses per remote peer (issue 12, fake members announced 200
 * each and every later use of them decoded all 200).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import test from 'ava'
import { keptAddresses } from '../../src/p2p/address-cap.js'
import { MAX_STORED_ADDRS_PER_PEER } from '../../src/p2p/constants.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

const ANNOUNCED = 40

test('a peer announcing 40 addresses is stored with at most 16', async (t) => {
  const subnetId = uniqueSubnetId()
  const boot = await startNode(t, { subnetId })
  const announce = Array.from({ length: ANNOUNCED }, (_, i) => `/ip4/127.0.0.1/tcp/${21_000 + i}`)
  const member = await startNode(t, { subnetId, announce, bootstrap: boot.bootnodeAddrs() })
  const memberId = peerIdFromString(member.peerId)
  const stored = async (): Promise<number> => (await boot.libp2p.peerStore.get(memberId).catch(() => undefined))?.addresses.length ?? 0
  // identify has run once the member's protocols are known; its addresses arrive with them.
  await waitFor(async () => ((await boot.libp2p.peerStore.get(memberId).catch(() => undefined))?.protocols.length ?? 0) > 0,
    { what: 'the member identified by the bootnode' })
  await waitFor(async () => { const n = await stored(); return n > 0 && n <= MAX_STORED_ADDRS_PER_PEER },
    { what: `at most ${MAX_STORED_ADDRS_PER_PEER} of the member's ${ANNOUNCED} addresses stored` })
  t.is(MAX_STORED_ADDRS_PER_PEER, 16)
  t.true(await stored() <= MAX_STORED_ADDRS_PER_PEER)
})

test('keptAddresses keeps certified, then dialable addresses, deduplicated, at most max', (t) => {
  const a = (s: string, isCertified = false): { multiaddr: ReturnType<typeof multiaddr>, isCertified: boolean } => ({ multiaddr: multiaddr(s), isCertified })
  const addrs = [
    a('/ip4/10.0.0.1/tcp/1'), a('/ip4/8.8.8.8/tcp/1'), a('/ip4/8.8.8.8/tcp/1'),
    a('/ip4/10.0.0.2/tcp/1', true), a('/ip4/1.1.1.1/tcp/2'), a('/ip4/0.0.0.0/tcp/3')
  ]
  const kept = keptAddresses(addrs, 3, false).map((x) => x.multiaddr.toString())
  t.deepEqual(kept, ['/ip4/10.0.0.2/tcp/1', '/ip4/8.8.8.8/tcp/1', '/ip4/1.1.1.1/tcp/2'])
  t.deepEqual(keptAddresses(addrs, 10, true).map((x) => x.multiaddr.toString()),
    ['/ip4/10.0.0.2/tcp/1', '/ip4/10.0.0.1/tcp/1', '/ip4/8.8.8.8/tcp/1', '/ip4/1.1.1.1/tcp/2', '/ip4/0.0.0.0/tcp/3'])
})
