/**
 * `GET /v1/is_reachable/<peer_id>` (SPEC §1): for a subnet member, a fresh dial + ping to each
 * address it announced (the peers collector's list, as `/v1/get_peers_info` serves it), never to an
 * address a client names. Loopback and private addresses (DNS names resolved first) are refused
 * unless `--allow-private-addrs`, so a key holder cannot make the sidecar dial hosts of its network.
 * Bounded: at most MAX_REACHABILITY_ADDRS addresses per check, REACHABILITY_DIALS_PER_CHECK of
 * them at a time, each within the timeout, one check per peer at a time (a request for a peer
 * being checked gets that check's answer), and at most `maxConcurrent` checks at once across all
 * clients (past it 503 with Retry-After).
 */
import { isPeerId } from '../heartbeat/model.js'
import { dialTarget, mapConcurrent } from '../util/dial-target.js'
import { MAX_REACHABILITY_ADDRS, REACHABILITY_DIALS_PER_CHECK } from './constants.js'
import type { ProbeResult } from '../p2p/index.js'
import type { ViewSource } from '../view/index.js'

/** What dials: the subnet node's fresh dial + ping (src/p2p/probe.ts). Never rejects. */
export interface AddressProber {
  /** Dials `/ip4|ip6/<ip>/tcp/<port>` afresh, checks the remote is `peerId`, pings, closes. */
  probe: (peerId: string, addr: string, options: { timeoutMs: number }) => Promise<ProbeResult>
}

export interface ReachabilityInit {
  allowPrivateAddrs: boolean
  timeoutMs: number
  maxConcurrent: number
}

export interface AddressReport {
  multiaddr: string
  ok: boolean
  rtt_ms?: number
  error?: string
}

export interface ReachabilityReport {
  peer_id: string
  reachable: boolean
  addrs: AddressReport[]
}

/** What the route answers: a status and its JSON body. */
export type ReachabilityAnswer =
  | { status: 200, body: ReachabilityReport }
  | { status: 400 | 404 | 503, body: { detail: string } }

export interface Reachability {
  check: (peerId: string) => Promise<ReachabilityAnswer>
}

const INVALID_PEER_ID = 'Invalid peer id'
export const UNKNOWN_PEER = 'Unknown peer'
const CHECKS_BUSY = 'Too many reachability checks in progress; retry in a few seconds'
const CHECKS_UNAVAILABLE = 'Reachability checks are not available on this server'

export function createReachability (init: ReachabilityInit, components: { view: ViewSource, prober?: AddressProber | undefined }): Reachability {
  /** The checks running, by peer id. */
  const inFlight = new Map<string, Promise<ReachabilityAnswer>>()
  const { view, prober } = components

  const report = async (p: AddressProber, peerId: string, text: string): Promise<AddressReport> => {
    const t = await dialTarget(text, init.allowPrivateAddrs, init.timeoutMs)
    if ('error' in t) return { multiaddr: text, ok: false, error: t.error }
    const result = await p.probe(peerId, t.addr.toString(), { timeoutMs: init.timeoutMs })
    return result.ok ? { multiaddr: text, ok: true, rtt_ms: result.rttMs } : { multiaddr: text, ok: false, error: result.error }
  }

  return {
    check: async (peerId) => {
      if (!isPeerId(peerId)) return { status: 400, body: { detail: INVALID_PEER_ID } }
      const info = view.current().peersInfo
      const entry = Object.hasOwn(info, peerId) ? info[peerId] : undefined
      if (entry === undefined) return { status: 404, body: { detail: UNKNOWN_PEER } }
      if (prober === undefined) return { status: 503, body: { detail: CHECKS_UNAVAILABLE } }
      // one check per peer at a time: a second request for it shares the answer of the one running
      // (so concurrent checks never stack up connections on one peer past its per-peer cap)
      const shared = inFlight.get(peerId)
      if (shared !== undefined) return await shared
      if (inFlight.size >= init.maxConcurrent) return { status: 503, body: { detail: CHECKS_BUSY } }
      const listed = entry.multiaddrs
      const addrs = Array.isArray(listed) ? listed.slice(0, MAX_REACHABILITY_ADDRS) : []
      const answer = (async (): Promise<ReachabilityAnswer> => {
        const reports = await mapConcurrent(addrs, REACHABILITY_DIALS_PER_CHECK, async (addr) => await report(prober, peerId, addr))
        return { status: 200, body: { peer_id: peerId, reachable: reports.some((r) => r.ok), addrs: reports } }
      })()
      inFlight.set(peerId, answer)
      try {
        return await answer
      } finally {
        inFlight.delete(peerId)
      }
    }
  }
}
