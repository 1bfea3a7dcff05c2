/** Hand-made heartbeat records, valid and invalid, for the validation tests. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RecordEnvelope } from '@libp2p/peer-record'
import { byteStream, lpStream } from '@libp2p/utils'
import { fromString } from 'uint8arrays/from-string'
import { HEARTBEAT_PAYLOAD_TYPE, heartbeatProtocol, sealHeartbeat } from '../../src/heartbeat/index.js'
import type { HeartbeatPayload } from '../../src/heartbeat/index.js'
import type { SubnetNode } from '../../src/p2p/index.js'
import type { PrivateKey } from '@libp2p/interface'

export function payloadFor (key: PrivateKey, subnetId: string, over: Partial<HeartbeatPayload> = {}): HeartbeatPayload {
  return {
    subnet_id: subnetId,
    peer_id: peerIdFromPrivateKey(key).toString(),
    seq: Date.now(),
    server: {
      state: 'ONLINE', role: 'VALIDATOR', throughput: 1, public_name: null, version: '1.0.0', using_relay: false, next_pings: null
    },
    expiration_time: Date.now() / 1000 + 60,
    ...over
  }
}

/**
 * One record per rejection reason, all claiming to come from `key`'s peer
 * (`other` is a second key, used to forge).
 */
export async function badRecords (key: PrivateKey, subnetId: string): Promise<Record<string, Uint8Array>> {
  const other = await generateKeyPair('Ed25519')
  const good = payloadFor(key, subnetId)
  const nowS = Date.now() / 1000
  const unsigned = new RecordEnvelope({
    publicKey: key.publicKey,
    payloadType: HEARTBEAT_PAYLOAD_TYPE,
    payload: fromString(JSON.stringify(good)),
    signature: new Uint8Array(0)
  }).marshal()
  return {
    // signed by another key, naming our peer in the payload
    forged: await sealHeartbeat({ ...good }, other),
    'wrong-subnet': await sealHeartbeat(payloadFor(key, `${subnetId}-other`), key),
    oversized: await sealHeartbeat({ ...good, server: { ...good.server, public_name: 'x'.repeat(9000) } }, key),
    expired: await sealHeartbeat({ ...good, expiration_time: nowS - 1 }, key),
    'too-far-future': await sealHeartbeat({ ...good, expiration_time: nowS + 2 * 3600 }, key),
    malformed: await sealHeartbeat({ ...good, server: { ...good.server, state: 'DANCING' } }, key),
    unsigned
  }
}

/**
 * Payloads served as text that must be refused as `malformed` (docs/PROTOCOL.md §3.2, issue 12
 * item 7), by case name, each sealed by `key` and otherwise valid: a BOM before the JSON, a
 * `next_pings` key that is no peer id, a lone surrogate, a C1 control and each bidi control.
 */
export async function badContentRecords (key: PrivateKey, subnetId: string): Promise<Record<string, Uint8Array>> {
  const good = payloadFor(key, subnetId)
  const withServer = async (over: Partial<HeartbeatPayload['server']>): Promise<Uint8Array> =>
    sealHeartbeat({ ...good, server: { ...good.server, ...over } }, key)
  const json = JSON.stringify(good)
  const cases: Record<string, Uint8Array> = {
    bom: await sealHeartbeat(Uint8Array.of(0xef, 0xbb, 0xbf, ...fromString(json)), key),
    'next_pings markup key': await withServer({ next_pings: { '<img src=x onerror=alert(1)>': 0.01 } }),
    'next_pings non-canonical key': await withServer({ next_pings: { [`${good.peer_id} `]: 0.01 } }),
    // JSON.stringify escapes a lone surrogate as \ud800; JSON.parse turns it back into one.
    'lone high surrogate': await withServer({ public_name: 'a\ud800b' }),
    'lone low surrogate': await withServer({ version: '1.0\udc00' }),
    'lone surrogate in a key': await sealHeartbeat({ ...good, server: { ...good.server, next_pings: { '\ud800': 0.01 } } }, key),
    'C1 control': await withServer({ public_name: 'node\u0085' }),
    'C1 control, escaped': await sealHeartbeat(fromString(json.replace('"version":"1.0.0"', '"version":"1.0.0\\u009b"')), key)
  }
  for (const c of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
    cases[`bidi U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`] = await withServer({ public_name: `evil${c}gpj.exe` })
  }
  return cases
}

/** Pushes raw bytes over the collector protocol from `from` to `to`; resolves with the ack byte. */
export async function pushRaw (from: SubnetNode, to: SubnetNode, bytes: Uint8Array): Promise<number | undefined> {
  const signal = AbortSignal.timeout(5000)
  const stream = await from.libp2p.dialProtocol(peerIdFromPrivateKey(to.privateKey), heartbeatProtocol(to.subnetId), { signal })
  const lp = lpStream(stream, { maxDataLength: 1 << 20 })
  await lp.write(bytes, { signal })
  const ack = await byteStream(lp.unwrap()).read({ bytes: 1, signal })
  await stream.close({ signal }).catch(() => {})
  return ack.get(0)
}
