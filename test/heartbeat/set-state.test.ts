/**
 * HeartbeatPublisher.setState (issue 13, the demo's state-cycling peer): a set state is published
 * at once and kept (the node's own JOINING → ONLINE no longer overrides it); stop still ends OFFLINE.
 */
import test from 'ava'
import { startBootnode, startTestPeer, uniqueSubnetId } from '../helpers/p2p.js'
import { waitFor } from '../helpers/wait.js'

test('a set state reaches the collector at once and stays until set again; stop publishes OFFLINE', async (t) => {
  const subnetId = uniqueSubnetId('set-state')
  const boot = await startBootnode(t, { subnetId })
  // a long interval: only setState's own round can deliver the new state in time
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, heartbeatIntervalMs: 60_000 })
  const stateAt = (): string | undefined => boot.collector.heartbeats().find((h) => h.peer_id === peer.node.peerId)?.server.state
  await waitFor(() => stateAt() === 'ONLINE', { what: 'ONLINE at the collector', timeoutMs: 20_000 })
  for (const state of ['OFFLINE', 'JOINING', 'ONLINE'] as const) {
    peer.publisher.setState(state)
    t.is(peer.publisher.state(), state)
    await waitFor(() => stateAt() === state, { what: `${state} at the collector`, timeoutMs: 10_000 })
  }
  // JOINING stays JOINING although the node is in the subnet (it is pinned)
  peer.publisher.setState('JOINING')
  await waitFor(() => stateAt() === 'JOINING', { what: 'JOINING again', timeoutMs: 10_000 })
  t.is(peer.publisher.state(), 'JOINING')
  await peer.stop()
  await waitFor(() => stateAt() === 'OFFLINE', { what: 'OFFLINE after stop', timeoutMs: 10_000 })
  t.pass()
})

test('a set state survives a stop and a start of the publisher; set while stopped, it waits for the start', async (t) => {
  const subnetId = uniqueSubnetId('set-state')
  const boot = await startBootnode(t, { subnetId })
  const peer = await startTestPeer(t, { subnetId, bootstrap: boot.addrs, heartbeatIntervalMs: 60_000 })
  peer.publisher.setState('JOINING')
  await peer.publisher.stop()
  t.is(peer.publisher.state(), 'OFFLINE')
  peer.publisher.setState('ONLINE')
  t.is(peer.publisher.state(), 'OFFLINE', 'a stopped publisher announces OFFLINE')
  await peer.publisher.start()
  t.is(peer.publisher.state(), 'ONLINE', 'the state set while stopped')
  peer.publisher.setState('JOINING')
  await peer.publisher.stop()
  await peer.publisher.start()
  t.is(peer.publisher.state(), 'JOINING', 'pinned across the restart, not OFFLINE')
})
