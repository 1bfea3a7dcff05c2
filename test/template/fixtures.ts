/** Builders for template DAG messages signed in the test (the template's `create_node` rules). */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { canonicalJson, sha256Id } from '../../src/template/index.js'
import type { PrivateKey } from '@libp2p/interface'

const here = dirname(fileURLToPath(import.meta.url))
/** The harness example (examples/README.md): 1408 bytes, published by alith.key, one parent. */
export const EXAMPLE_DAG_MESSAGE = readFileSync(join(here, 'fixtures', 'peer_state_dag_message.json'))
export const ALITH = '12D3KooWMwW1VqH7uWtUc5UGoyMJp1dG26Nkosc6RkRJ7RNiW6Cb'

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

export function peerStatePayload (over: Record<string, unknown> = {}): Record<string, unknown> {
  return { epoch: 1, multiaddr: '/ip4/1.2.3.4/tcp/1', role: 0, state: 2, subnet_id: 1, subnet_node_id: 4, uid: 'ab', ...over }
}

/** A `node_gossip` message as the template's DagPublisherBase publishes it (canonical JSON bytes). */
export async function signDagMessage (key: PrivateKey, payload: Record<string, unknown>, parentIds: string[] = [], createdAtMs = Date.now()): Promise<{ bytes: Uint8Array, nodeId: string, author: string }> {
  const author = peerIdFromPrivateKey(key).toString()
  const body = enc(canonicalJson(payload))
  const unsigned = {
    author, body_hash: sha256Id(body), body_size: body.byteLength, created_at_ms: createdAtMs, metadata: payload, namespace: 'general-dag',
    parent_ids: [...new Set(parentIds)].sort(), public_key: Buffer.from(publicKeyToProtobuf(key.publicKey)).toString('hex'), schema_id: 'peer-state', version: 1
  }
  const s = enc(canonicalJson(unsigned))
  const nodeId = sha256Id(s)
  const signature = Buffer.from(await key.sign(s)).toString('hex')
  const bytes = enc(canonicalJson({
    created_at_ms: createdAtMs + 1, kind: 'node_gossip', message_id: `node-gossip:${author}:${nodeId}:${createdAtMs + 1}`, namespace: 'general-dag', peer_id: author,
    node: { header: { ...unsigned, node_id: nodeId, signature }, body: { node_id: nodeId, payload } }
  }))
  return { bytes, nodeId, author }
}
