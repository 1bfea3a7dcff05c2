import { readFile } from 'node:fs/promises'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { sealHeartbeat, validateHeartbeat } from '../../src/heartbeat/index.js'

// docs/PROTOCOL.md §8 must stay true: other implementations test against it.
test('the test vector in docs/PROTOCOL.md validates and is what we seal', async (t) => {
  const doc = await readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const hex = /<!-- test-vector:envelope -->\s*```\s*([0-9a-f]+)\s*```/.exec(doc)?.[1]
  t.truthy(hex)
  const envelope = fromString(hex!, 'base16')
  const key = await generateKeyPairFromSeed('Ed25519', Uint8Array.from({ length: 32 }, (_, i) => i))
  const peerId = peerIdFromPrivateKey(key).toString()
  t.true(doc.includes(peerId))
  const valid = await validateHeartbeat(envelope, { subnetId: 'example', expectedPeerId: peerId, now: 1765331991757 })
  t.is(valid.payload.seq, 1765331991757)
  const again = await sealHeartbeat(valid.payload, key)
  t.is(toString(again, 'base16'), hex!)
  // The same bytes an hour later are expired.
  const err = await t.throwsAsync(validateHeartbeat(envelope, { subnetId: 'example', now: 1765331991757 + 3_600_000 }))
  t.is((err as { reason?: string } | undefined)?.reason, 'expired')
})
