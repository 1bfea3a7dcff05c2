/**
 * Caps on concurrent inbound connections per remote IP (IPv6 per /64) and per peer id (SPEC §5,
 * connection limits; issue 12 item 1). libp2p 3's connection manager bounds only the total
 * (`maxConnections`), the handshakes in flight (`maxIncomingPendingConnections`) and the rate per
 * IP (`inboundConnectionThreshold`): one host opening connections just under that rate filled all
 * of `maxConnections` within seconds, and every newcomer was then reset. So this is a
 * `ConnectionGater`, the hook libp2p gives for such policies:
 *
 * - `denyInboundConnection` (the raw socket, before any handshake) counts the connection under
 *   its remote IP group and refuses it once that group holds `maxPerIp`: handshakes in flight
 *   count too, so one host cannot hold the pending slots either.
 * - `denyInboundEncryptedConnection` (after Noise, when the peer id is proven) does the same
 *   per peer id with `maxPerPeer`.
 *
 * A slot is held until the raw connection closes (its `close` event, however it ends). Outbound
 * connections are ours and are never counted. libp2p aborts a refused socket (the remote sees a
 * reset); each refusal is counted by reason and logged at most once per window.
 *
 * Besides the caps, the peer gate (`refusesPeer`, SubnetNode.setPeerGate) refuses a peer by id:
 * inbound at `denyInboundEncryptedConnection` (before the muxer and any protocol, and before it
 * takes a per-peer slot), outbound at `denyDialPeer` (no packet sent) and, for a dial by address
 * alone, `denyOutboundEncryptedConnection`.
 */
import { InvalidParametersError } from '@libp2p/interface'
import { registerMirroredCounter } from '../util/metrics.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { firstIp, ipBucket } from '../util/member-caps.js'
import { CONNECTION_REFUSAL_LOG_WINDOW_MS } from './constants.js'
import type { Logger } from '../log/index.js'
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Registry } from 'prom-client'

/**
 * Why a connection was refused: its IP group, or its peer id, held its maximum (inbound only); or
 * the peer gate refuses its peer (inbound or outbound).
 */
export type ConnectionRefusal = 'per-ip' | 'per-peer' | 'peer-gate'

export interface ConnectionLimiterInit {
  /** Concurrent inbound connections (pending ones included) from one IPv4 address or IPv6 /64. */
  maxPerIp: number
  /** Concurrent inbound connections from one peer id. */
  maxPerPeer: number
  /** The peer gate: true refuses the peer's connections both ways. Default: none refused. */
  refusesPeer?: (peerId: string) => boolean
  logger: Logger
}

export interface ConnectionLimiterComponents {
  /** Where `subnet_bootnode_connection_refusals_total{reason}` is registered; none: counted only. */
  registry?: Registry
}

export interface ConnectionLimiter {
  /** Handed to createLibp2p as its `connectionGater`; refusals are counted in the registry. */
  readonly gater: ConnectionGater
}

/** The keys one raw connection holds a slot under, released once when it closes. */
interface Slots { ip?: string, peer?: string }

export function createConnectionLimiter (init: ConnectionLimiterInit, components: ConnectionLimiterComponents = {}): ConnectionLimiter {
  for (const [name, max] of [['maxConnectionsPerIp', init.maxPerIp], ['maxConnectionsPerPeer', init.maxPerPeer]] as const) {
    // As libp2p refuses maxConnections < 1: a cap of 0 would refuse every inbound connection.
    if (!Number.isSafeInteger(max) || max < 1) throw new InvalidParametersError(`${name} must be a positive integer, got ${max}`)
  }
  const perIp = new Map<string, number>()
  const perPeer = new Map<string, number>()
  const slots = new WeakMap<MultiaddrConnection, Slots>()
  const refused: Record<ConnectionRefusal, number> = { 'per-ip': 0, 'per-peer': 0, 'peer-gate': 0 }
  const refusalLog = createWindowedLog(init.logger, 'warn', 'inbound connection refused: connection limit reached', CONNECTION_REFUSAL_LOG_WINDOW_MS)
  // A gated peer redials on its own schedule: expected, so info, and folded like the others.
  const gateLog = createWindowedLog(init.logger, 'info', 'connection refused: the peer gate refuses this peer', CONNECTION_REFUSAL_LOG_WINDOW_MS)
  const refusesPeer = init.refusesPeer ?? (() => false)
  if (components.registry !== undefined) {
    registerMirroredCounter(components.registry, 'subnet_bootnode_connection_refusals_total',
      'libp2p connections refused: inbound ones because their IP (IPv6: /64) or peer id held its maximum of concurrent connections (per-ip, per-peer), inbound or outbound ones because the peer gate refuses the peer (peer-gate; chain-aware mode: not staked)',
      'reason', () => ({ ...refused }))
  }

  const release = (counts: Map<string, number>, key: string | undefined): void => {
    if (key === undefined) return
    const n = (counts.get(key) ?? 0) - 1
    if (n > 0) counts.set(key, n)
    else counts.delete(key)
  }

  /** Takes a slot under `key` for `maConn` unless `counts` holds `max` there; false: refused. */
  const take = (maConn: MultiaddrConnection, kind: keyof Slots, counts: Map<string, number>, key: string, max: number): boolean => {
    // Already closed (the remote gave up mid-handshake): no close event will come to release it.
    if (maConn.status !== 'open' && maConn.status !== 'closing') return true
    const n = counts.get(key) ?? 0
    if (n >= max) return false
    counts.set(key, n + 1)
    let held = slots.get(maConn)
    if (held === undefined) {
      const own: Slots = {}
      held = own
      slots.set(maConn, own)
      maConn.addEventListener('close', () => {
        release(perIp, own.ip)
        release(perPeer, own.peer)
        own.ip = undefined
        own.peer = undefined
      }, { once: true })
    }
    held[kind] = key
    return true
  }

  const refuse = (reason: ConnectionRefusal, remoteAddr: Multiaddr, fields: Record<string, unknown>): true => {
    refused[reason] += 1
    refusalLog.note({ reason, remote_addr: remoteAddr.toString(), ...fields, refused_total: refused[reason] })
    return true
  }

  /** True (counted and logged) if the peer gate refuses `peerId`. */
  const gated = (peerId: PeerId, direction: 'inbound' | 'outbound', remoteAddr?: Multiaddr): boolean => {
    const peer = peerId.toString()
    if (!refusesPeer(peer)) return false
    refused['peer-gate'] += 1
    gateLog.note({ reason: 'peer-gate', direction, peer_id: peer, remote_addr: remoteAddr?.toString(), refused_total: refused['peer-gate'] })
    return true
  }

  const gater: ConnectionGater = {
    denyInboundConnection: (maConn) => {
      const ip = remoteIpGroup(maConn.remoteAddr)
      if (ip === undefined) return false
      if (take(maConn, 'ip', perIp, ip, init.maxPerIp)) return false
      return refuse('per-ip', maConn.remoteAddr, { ip_group: ip, max_per_ip: init.maxPerIp })
    },
    denyInboundEncryptedConnection: (peerId: PeerId, maConn) => {
      if (gated(peerId, 'inbound', maConn.remoteAddr)) return true
      const peer = peerId.toString()
      if (take(maConn, 'peer', perPeer, peer, init.maxPerPeer)) return false
      return refuse('per-peer', maConn.remoteAddr, { peer_id: peer, max_per_peer: init.maxPerPeer })
    },
    denyDialPeer: (peerId: PeerId) => gated(peerId, 'outbound'),
    // A dial by address alone learns the peer id only from Noise.
    denyOutboundEncryptedConnection: (peerId: PeerId, maConn) => gated(peerId, 'outbound', maConn.remoteAddr)
  }

  return { gater }
}

/**
 * The IPv4 address or IPv6 /64 a connection comes from, bucketed as the member caps bucket
 * members (one home: src/util/member-caps.ts); undefined for a transport without an IP.
 */
function remoteIpGroup (remoteAddr: Multiaddr): string | undefined {
  const ip = firstIp([remoteAddr])
  return ip === undefined ? undefined : ipBucket(ip)
}
