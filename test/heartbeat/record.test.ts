import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { fromString } from 'uint8arrays/from-string'
import {
  HeartbeatRejectedError, heartbeatDhtSelector, heartbeatKey, peerIdFromHeartbeatKey, sealHeartbeat, validateHeartbeat
} from '../../src/heartbeat/index.js'
import { badContentRecords, badRecords, payloadFor } from './fixtures.js'

test('a well-formed record validates and round-trips its payload', async (t) => {
  const key = await generateKeyPair('Ed25519')
  // next_pings keys are peer ids (docs/PROTOCOL.md §3.2); this one is another peer's.
  const pinged = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const payload = payloadFor(key, 'sub', { server: { ...payloadFor(key, 'sub').server, next_pings: { [pinged]: 0.005 } } })
  const bytes = await sealHeartbeat(payload, key)
  const valid = await validateHeartbeat(bytes, { subnetId: 'sub', expectedPeerId: payload.peer_id })
  t.deepEqual(valid.payload, payload)
})

test('each bad record is rejected with its own reason code', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const records = await badRecords(key, 'sub')
  for (const [reason, bytes] of Object.entries(records)) {
    const err = await t.throwsAsync(validateHeartbeat(bytes, { subnetId: 'sub', expectedPeerId: peerId }), { instanceOf: HeartbeatRejectedError }, reason)
    t.is(err?.reason as string | undefined, reason)
    t.is(err?.code, 'ERR_HEARTBEAT_REJECTED')
  }
  // A bare JSON payload, not in an envelope.
  const bare = fromString(JSON.stringify(payloadFor(key, 'sub')))
  const err = await t.throwsAsync(validateHeartbeat(bare, { subnetId: 'sub' }), { instanceOf: HeartbeatRejectedError })
  t.is(err?.reason, 'bad-envelope')
})

test('a record signed by its own key but naming another peer is forged', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const other = await generateKeyPair('Ed25519')
  const bytes = await sealHeartbeat(payloadFor(key, 'sub', { peer_id: peerIdFromPrivateKey(other).toString() }), key)
  const err = await t.throwsAsync(validateHeartbeat(bytes, { subnetId: 'sub' }), { instanceOf: HeartbeatRejectedError })
  t.is(err?.reason, 'forged')
})

test('payload limits: long strings, bad role, too many pings, wrong types', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const base = payloadFor(key, 'sub')
  const cases: unknown[] = [
    { ...base, server: { ...base.server, version: 'v'.repeat(65) } },
    { ...base, server: { ...base.server, role: 'validator' } },
    { ...base, server: { ...base.server, next_pings: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, 0.1])) } },
    { ...base, seq: '1' },
    { ...base, seq: 1.5 },
    { ...base, server: { ...base.server, throughput: -1 } },
    { ...base, server: { ...base.server, using_relay: 'no' } },
    [base],
    fromString('{not json')
  ]
  for (const c of cases) {
    const err = await t.throwsAsync(validateHeartbeat(await sealHeartbeat(c, key), { subnetId: 'sub' }), { instanceOf: HeartbeatRejectedError })
    t.is(err?.reason, 'malformed', JSON.stringify(c).slice(0, 80))
  }
})

test('DHT keys and the selector', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  t.is(new TextDecoder().decode(heartbeatKey(id)), `/heartbeat/${id}`)
  t.is(peerIdFromHeartbeatKey(heartbeatKey(id)), id)
  t.is(peerIdFromHeartbeatKey(fromString('/heartbeat/not-a-peer')), undefined)
  t.is(peerIdFromHeartbeatKey(fromString(`/pk/${id}`)), undefined)
  const older = await sealHeartbeat(payloadFor(key, 'sub', { seq: 10 }), key)
  const newer = await sealHeartbeat(payloadFor(key, 'sub', { seq: 11 }), key)
  t.is(heartbeatDhtSelector(heartbeatKey(id), [older, newer, older]), 1)
  t.is(heartbeatDhtSelector(heartbeatKey(id), [newer, older]), 0)
})

test('served content: a BOM, next_pings keys that are no peer ids, lone surrogates, C1 and bidi controls are malformed', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const records = await badContentRecords(key, 'sub')
  t.true(Object.keys(records).length >= 20)
  for (const [name, bytes] of Object.entries(records)) {
    const err = await t.throwsAsync(validateHeartbeat(bytes, { subnetId: 'sub', expectedPeerId: peerId }), { instanceOf: HeartbeatRejectedError }, name)
    t.is(err?.reason, 'malformed', name)
  }
})

test('text the content rules must not refuse: other scripts, emoji (a surrogate pair), U+00A0 and U+2065', async (t) => {
  const key = await generateKeyPair('Ed25519')
  const base = payloadFor(key, 'sub')
  for (const name of ['Zürich-ノード', 'node \u{1F680}', 'a\u00a0b', 'x\u2065y', 'עברית']) {
    const payload = { ...base, server: { ...base.server, public_name: name } }
    const valid = await validateHeartbeat(await sealHeartbeat(payload, key), { subnetId: 'sub' })
    t.is(valid.payload.server.public_name, name)
  }
})
