/**
 * docs/PROTOCOL.md §9.5 must stay true: other implementations test against it. The vector is read
 * from the document itself, as test/heartbeat/vector.test.ts does for the native one.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairFromSeed, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromMultihash, peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import * as Digest from 'multiformats/hashes/digest'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { templateMsgId } from '../../src/p2p/template.js'
import { TEMPLATE_PEER_STATE_TOPIC, encodeTemplatePeerState, parseTemplatePeerState } from '../../src/template/index.js'
import { pyNodeDir, pyTest } from '../helpers/py-node.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'

/** What gossipsub StrictSign signs: this prefix, then the protobuf Message without signature and key. */
const SIGN_PREFIX = fromString('libp2p-pubsub:')

interface Vector { data: string, seqno: string, from: string, signature: string, message: string }

async function readVector (): Promise<{ doc: string, v: Vector }> {
  const doc = await readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const block = (name: string): string => {
    const text = new RegExp(`<!-- test-vector:template-${name} -->\\s*\`\`\`\\s*(\\S+)\\s*\`\`\``).exec(doc)?.[1]
    if (text === undefined) throw new Error(`docs/PROTOCOL.md has no test-vector:template-${name} block`)
    return text
  }
  return { doc, v: { data: block('data'), seqno: block('seqno'), from: block('from'), signature: block('signature'), message: block('message') } }
}

/** The key of docs/PROTOCOL.md §8: Ed25519 from the seed 00 01 … 1f. */
const seedKey = async (): Promise<Ed25519PrivateKey> =>
  await generateKeyPairFromSeed('Ed25519', Uint8Array.from({ length: 32 }, (_, i) => i))

test('the template test vector in docs/PROTOCOL.md: signing reproduces it, StrictSign accepts it, the data parses', async (t) => {
  const { doc, v } = await readVector()
  const key = await seedKey()
  const peerId = peerIdFromPrivateKey(key)
  t.true(doc.includes(peerId.toString()))
  t.is(toString(peerId.toMultihash().bytes, 'base16'), v.from)

  // The message decodes to the documented fields.
  const msg = RPC.Message.decode(fromString(v.message, 'base16'))
  t.is(toString(msg.from ?? new Uint8Array(), 'base16'), v.from)
  t.is(toString(msg.seqno ?? new Uint8Array(), 'base16'), v.seqno)
  t.is(toString(msg.data ?? new Uint8Array()), v.data)
  t.is(msg.topic, TEMPLATE_PEER_STATE_TOPIC)
  t.is(toString(msg.signature ?? new Uint8Array(), 'base16'), v.signature)
  t.true(equals(msg.key ?? new Uint8Array(), publicKeyToProtobuf(key.publicKey)))

  // Signing the documented fields reproduces the signature (Ed25519 is deterministic) and the message bytes.
  const unsigned = { from: fromString(v.from, 'base16'), data: fromString(v.data), seqno: fromString(v.seqno, 'base16'), topic: TEMPLATE_PEER_STATE_TOPIC }
  const signed = concat([SIGN_PREFIX, RPC.Message.encode(unsigned)])
  const signature = await key.sign(signed)
  t.is(toString(signature, 'base16'), v.signature)
  t.is(toString(RPC.Message.encode({ ...unsigned, signature, key: publicKeyToProtobuf(key.publicKey) }), 'base16'), v.message)

  // StrictSign's checks (@libp2p/gossipsub validateToRawMessage): 8-byte seqno, `from` a peer id,
  // `key` deriving to it, the signature over the message without signature and key.
  t.is(msg.seqno?.byteLength, 8)
  const from = peerIdFromMultihash(Digest.decode(msg.from ?? new Uint8Array()))
  const publicKey = publicKeyFromProtobuf(msg.key ?? new Uint8Array())
  t.true(from.equals(publicKey.toMultihash().bytes))
  const preSign = concat([SIGN_PREFIX, RPC.Message.encode({ from: msg.from, data: msg.data, seqno: msg.seqno, topic: msg.topic })])
  t.true(await publicKey.verify(preSign, msg.signature ?? new Uint8Array()))
  const tampered = concat([SIGN_PREFIX, RPC.Message.encode({ ...unsigned, data: fromString(v.data.replace('"state":2', '"state":0')) })])
  t.false(await publicKey.verify(tampered, signature))

  // The template message id (from ‖ seqno) is the one documented.
  const id = templateMsgId({ type: 'signed', from, data: msg.data ?? new Uint8Array(), sequenceNumber: BigInt(`0x${v.seqno}`), topic: msg.topic, signature, key: publicKey })
  t.true(doc.includes(toString(id, 'base16')))

  // The data is an ONLINE peer state of subnet 1, exactly as our template publisher encodes it.
  const state = parseTemplatePeerState(fromString(v.data), { subnetId: 1 })
  t.like(state, { uid: '271add8200ac8616bb7a0ed7ce65304d', epoch: 2, subnetId: 1, subnetNodeId: 1, state: 'ONLINE', role: 'VALIDATOR' })
  t.is(toString(encodeTemplatePeerState({ uid: state.uid, epoch: 2, subnet_id: 1, subnet_node_id: 1, state: 2, role: 0 })), v.data)
})

/** The harness's python (setup.sh --quiet prints it), or undefined. */
async function harnessPython (): Promise<string | undefined> {
  const dir = pyNodeDir()
  if (dir === undefined) return undefined
  return await new Promise((resolve) => {
    execFile(join(dir, 'setup.sh'), ['--quiet'], { timeout: 120_000 }, (err, stdout) => {
      resolve(err === null ? stdout.trim().split('\n').pop() : undefined)
    })
  })
}

const PY_VERIFY = `
import sys
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.validators import signature_validator
from libp2p.peer.id import ID
m = rpc_pb2.Message()
m.ParseFromString(bytes.fromhex(sys.argv[1]))
print(signature_validator(m), ID(m.from_id).to_base58(), m.seqno.hex())
m.data = m.data.replace(b'"state":2', b'"state":0')
print(signature_validator(m))
`

pyTest(test, 'py-libp2p\'s gossipsub signature_validator accepts the template test vector and refuses it altered', async (t) => {
  const { v } = await readVector()
  const python = await harnessPython()
  if (python === undefined) return t.fail('the harness python was not found')
  const out = await new Promise<string>((resolve, reject) => {
    execFile(python, ['-c', PY_VERIFY, v.message], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}: ${stderr.trim().split('\n').pop() ?? ''}`))
      else resolve(stdout)
    })
  })
  const peerId = peerIdFromPrivateKey(await seedKey()).toString()
  t.deepEqual(out.trim().split('\n'), [`True ${peerId} ${v.seqno}`, 'False'])
})
