/**
 * Against the REAL template code (py-libp2p harness, `--dag`: the template's own DagGossipSystem,
 * MerkleDagSyncProtocol and PeerStateDagPublisher): its startup sync_dag must finish against our
 * sync server (a peer without the protocol stalls it) and must fetch and accept the nodes we serve.
 */
import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { DAG_SYNC_PROTOCOL, createDagSyncService, verifyDagMessage } from '../../src/template/index.js'
import { startNode, uniqueSubnetId } from '../helpers/p2p.js'
import { pyTest, startPyNode } from '../helpers/py-node.js'
import { peerStatePayload, signDagMessage } from './fixtures.js'
import type { VerifiedDagNode } from '../../src/template/index.js'

pyTest(test, 'a template --dag node finishes its startup sync against us and fetches the nodes we serve', async (t) => {
  const server = await startNode(t, { subnetId: uniqueSubnetId('dag-py') })
  const service = createDagSyncService({}, { peerId: server.peerId })
  await server.libp2p.handle(DAG_SYNC_PROTOCOL, async (stream, connection) => { await service.handle(stream, connection) })

  // A root and its child, signed here exactly as the template signs its nodes.
  const key = await generateKeyPair('Ed25519')
  const nodes: VerifiedDagNode[] = []
  for (let i = 0; i < 2; i++) {
    const m = await signDagMessage(key, peerStatePayload({ epoch: i }), nodes.map((n) => n.nodeId).slice(-1))
    const r = await verifyDagMessage(m.bytes, { subnetId: 1, from: m.author })
    if (r.kind !== 'node_gossip') return t.fail()
    t.is(service.add(r), 'added')
    nodes.push(r)
  }
  const head = nodes[1]!.nodeId

  const addr = server.libp2p.getMultiaddrs()[0]!.toString()
  const py = startPyNode(t, { dag: true, bootstrap: [addr], args: ['--peer-state-interval', '2', '--dag-sync-settle', '0.5'] })
  await py.listen(60_000)
  // DAG_SYNC <peers> <node count> <head ids>: synced with us, holding our two nodes, our head its head.
  const synced = await py.waitForLine((e) => e.kind === 'DAG_SYNC', 45_000)
  t.is(synced.fields[0], server.peerId, synced.line)
  t.is(synced.fields[1], '2', synced.line)
  t.is(synced.fields[2], head, synced.line)
  // Its publisher then starts: its first node builds on our head (we never made it hold an orphan).
  const pub = await py.waitForLine((e) => e.kind === 'PUB' && e.fields[0] === 'peer_state' && (e.fields[1] ?? '').includes('"node_gossip"'), 30_000)
  t.true(pub.line.includes(head), 'the template node links its first node to the head we served')
  t.deepEqual(service.counts().rejected, {})
  t.true(service.counts().inventory >= 1)
  t.true(service.counts().servedNodes >= 2)
})
