/**
 * The stake gate's cache cap (src/chain/stake.ts): past it the least recently *asked* peer is
 * forgotten, not the least recently recorded. A real subnet node, the real JSON-RPC client and the
 * fake Hypertensor node (test/helpers/fake-chain.ts); the cap made small through its init.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { createChainRpc } from '../../src/chain/rpc.js'
import { createStakeGate } from '../../src/chain/stake.js'
import { startFakeChain } from '../helpers/fake-chain.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

const newPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

test('past the cache cap the least recently asked verdict goes, not the least recently recorded', async t => {
  const [a, b, c] = [await newPeerId(), await newPeerId(), await newPeerId()] as [string, string, string]
  const chain = await startFakeChain(t, { subnetId: 9, stake: { [a]: 'registered', [b]: 'registered', [c]: 'registered' } })
  const rpc = createChainRpc({ url: chain.httpUrl })
  t.teardown(async () => { await rpc.stop() })
  const node = await startNode(t, { subnetId: uniqueSubnetId('stake-cap') })
  const gate = createStakeGate({ subnetId: 9, minNodeClass: 'registered', failMode: 'closed', maxCacheEntries: 2 }, { rpc, node })
  gate.start()
  t.teardown(async () => { await gate.stop() })

  const verdictOf = async (peerId: string): Promise<void> => {
    await waitFor(() => gate.admission(peerId) === 'admitted', { what: `the verdict on ${peerId}` })
  }
  await verdictOf(a)
  await verdictOf(b)
  t.is(gate.admission(a), 'admitted', 'a asked again: now b is the least recently asked')
  await verdictOf(c)
  t.deepEqual(gate.counts(), { staked: 2, unstaked: 0, unverified: 0 })
  t.is(gate.admission(a), 'admitted', 'a, asked after b, is kept')
  t.is(gate.admission(b), 'pending', 'b is forgotten: not cached, checked again')
  t.is(chain.stakeCalls(a), 1)
})
