/**
 * Proof of stake for every subnet peer, as a subnet-template node checks it
 * (`subnet/utils/pos/proof_of_stake.py`, `pos_transport.py`): `network_proofOfStake(subnet_id,
 * peer_id as the base58 string's bytes, min_class)`, a success and a failure each cached for the
 * TTL (300 s). Unlike the template, which blocks the handshake on the RPC, a check runs in the
 * background: a peer is *pending* (held, not served) until its verdict, an unstaked one is
 * disconnected (inbound or outbound, like POSTransport), dropped from the DHT routing tables and
 * refused by every collector, and a verdict past its TTL stays in force until the re-check answers
 * (no flapping while the chain is slow). While its `unstaked` verdict is cached the node's peer
 * gate (SubnetNode.setPeerGate) refuses it before any muxer or protocol, both ways, and the DHTs
 * never hand it out; a peer not yet checked connects and is checked in the background.
 *
 * A check that fails (RPC down, timeout, a non-boolean answer) gives `unverified`, retried after
 * `errorRetryMs`: the fail mode decides (`open` admits as the template does, `closed` keeps it
 * pending). Every outcome is counted; failures are logged once per window.
 */
import { Counter, Gauge } from 'prom-client'
import { peerIdFromString } from '@libp2p/peer-id'
import { silentLogger } from '../log/index.js'
import { createListeners } from '../util/listeners.js'
import { createRepeatingTask } from '../util/task.js'
import { registerMirroredCounter } from '../util/metrics.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { ChainAnswerError, peerIdBytes } from './codec.js'
import {
  CHAIN_LOG_WINDOW_MS, DEFAULT_STAKE_CACHE_TTL_MS, DEFAULT_STAKE_ERROR_RETRY_MS, MAX_STAKE_CACHE, MAX_STAKE_CHECKS_IN_FLIGHT,
  NODE_CLASSES, RPC_PROOF_OF_STAKE
} from './constants.js'
import type { ChainFailMode, NodeClass } from './constants.js'
import type { ChainRpc } from './rpc.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { WindowedLog } from '../util/windowed-log.js'
import type { Admission, PeerAdmission } from '../view/index.js'
import type { Connection } from '@libp2p/interface'
import type { Registry } from 'prom-client'

export type StakeVerdict = 'staked' | 'unstaked' | 'unverified'
export type StakeCheckOutcome = 'staked' | 'unstaked' | 'error' | 'malformed'

export interface StakeGateInit {
  /** The chain's subnet id (u32). */
  subnetId: number
  minNodeClass: NodeClass
  failMode: ChainFailMode
  /** How long a `staked` or `unstaked` verdict holds. Default 300 s, as the template. */
  cacheTtlMs?: number
  /** How long an `unverified` verdict holds before the check is tried again. Default 30 s. */
  errorRetryMs?: number
  /** Peers whose verdict is cached; past it the least recently asked is forgotten. Default MAX_STAKE_CACHE. */
  maxCacheEntries?: number
  logger?: Logger
}

export interface StakeGateComponents {
  rpc: ChainRpc
  node: SubnetNode
  registry?: Registry
}

export interface StakeGate extends PeerAdmission {
  start: () => void
  stop: () => Promise<void>
  /** Cached verdicts by kind (for /healthz). */
  counts: () => Record<StakeVerdict, number>
}

interface Entry {
  verdict: StakeVerdict
  expiresAt: number
  /** Last time a collector or a connection asked; a verdict nobody asks for is forgotten. */
  askedAt: number
}

export function createStakeGate (init: StakeGateInit, components: StakeGateComponents): StakeGate {
  return new DefaultStakeGate(init, components)
}

class DefaultStakeGate implements StakeGate {
  private readonly init: StakeGateInit
  private readonly rpc: ChainRpc
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly ttlMs: number
  private readonly errorRetryMs: number
  private readonly minClass: number
  private readonly maxCache: number
  /** In the order last asked (least recently asked first), so the cap forgets the first. */
  private readonly cache = new Map<string, Entry>()
  private readonly inFlight = new Set<string>()
  private readonly queued = new Set<string>()
  private readonly outcomes: Record<StakeCheckOutcome, number> = { staked: 0, unstaked: 0, error: 0, malformed: 0 }
  private disconnected = 0
  private readonly listeners = createListeners<[string, Admission]>((err) => { this.log.warn('admission listener failed', { err }) })
  private readonly failLog: WindowedLog
  private readonly sweeper: RepeatingTask
  private running = false
  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const id = evt.detail.remotePeer.toString()
    if (this.admission(id) === 'refused') this.evict(id)
  }

  constructor (init: StakeGateInit, components: StakeGateComponents) {
    this.init = init
    this.rpc = components.rpc
    this.node = components.node
    this.log = init.logger ?? silentLogger
    this.ttlMs = init.cacheTtlMs ?? DEFAULT_STAKE_CACHE_TTL_MS
    this.errorRetryMs = init.errorRetryMs ?? DEFAULT_STAKE_ERROR_RETRY_MS
    this.minClass = NODE_CLASSES.indexOf(init.minNodeClass)
    this.maxCache = init.maxCacheEntries ?? MAX_STAKE_CACHE
    this.failLog = createWindowedLog(this.log, 'warn', 'proof of stake could not be checked', CHAIN_LOG_WINDOW_MS)
    this.sweeper = createRepeatingTask(() => { this.sweep() }, {
      intervalMs: Math.max(100, Math.min(this.ttlMs, this.errorRetryMs) / 2), logger: this.log, name: 'stake re-check'
    })
    const registry = components.registry
    if (registry !== undefined) {
      const outcomes = this.outcomes
      const gate = this
      registerMirroredCounter(registry, 'subnet_bootnode_chain_stake_checks_total',
        'network_proofOfStake checks by outcome: staked, unstaked, error (RPC unreachable or failed), malformed (not a boolean)', 'outcome', () => outcomes)
      // eslint-disable-next-line no-new
      new Counter({
        name: 'subnet_bootnode_chain_unstaked_disconnects_total',
        help: 'Connections closed because the peer is not staked on chain',
        registers: [registry],
        collect () {
          this.reset()
          this.inc(gate.disconnected)
        }
      })
      // eslint-disable-next-line no-new
      new Gauge({
        name: 'subnet_bootnode_chain_stake_cache_peers',
        help: 'Peers with a cached proof-of-stake verdict, by verdict',
        labelNames: ['verdict'],
        registers: [registry],
        collect () {
          this.reset()
          for (const [verdict, n] of Object.entries(gate.counts())) this.set({ verdict }, n)
        }
      })
    }
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.node.setPeerGate({ refuses: (peerId) => this.refuses(peerId) })
    this.node.libp2p.addEventListener('connection:open', this.onOpen)
    // Peers connected before the gate started (none in the sidecar's order, but an embedder's).
    for (const c of this.node.libp2p.getConnections()) this.onOpen(new CustomEvent('connection:open', { detail: c }))
    this.sweeper.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.node.libp2p.removeEventListener('connection:open', this.onOpen)
    this.node.setPeerGate(undefined)
    this.queued.clear()
    await this.sweeper.stop()
  }

  admission (peerId: string): Admission {
    if (peerId === this.node.peerId) return 'admitted'
    const now = Date.now()
    const entry = this.cache.get(peerId)
    if (entry === undefined) {
      this.schedule(peerId)
      return 'pending'
    }
    this.asked(peerId, entry, now)
    if (entry.expiresAt <= now) this.schedule(peerId)
    return this.toAdmission(entry.verdict)
  }

  /**
   * The node's peer gate: true while this peer's cached verdict is `unstaked`. Never schedules a
   * first check (the connection or collector that meets the peer does); a refused peer keeps its
   * verdict alive, and one past its TTL is re-checked, the old verdict holding until the answer.
   */
  private refuses (peerId: string): boolean {
    const entry = this.cache.get(peerId)
    if (entry?.verdict !== 'unstaked') return false
    const now = Date.now()
    this.asked(peerId, entry, now)
    if (entry.expiresAt <= now) this.schedule(peerId)
    return true
  }

  /** Notes the ask and moves the entry to the end of the cache's order (most recently asked). */
  private asked (peerId: string, entry: Entry, now: number): void {
    entry.askedAt = now
    this.cache.delete(peerId)
    this.cache.set(peerId, entry)
  }

  onChange (listener: (peerId: string, admission: Admission) => void): () => void {
    return this.listeners.add(listener)
  }

  counts (): Record<StakeVerdict, number> {
    const out: Record<StakeVerdict, number> = { staked: 0, unstaked: 0, unverified: 0 }
    for (const e of this.cache.values()) out[e.verdict] += 1
    return out
  }

  private toAdmission (verdict: StakeVerdict): Admission {
    if (verdict === 'staked') return 'admitted'
    if (verdict === 'unstaked') return 'refused'
    return this.init.failMode === 'open' ? 'admitted' : 'pending'
  }

  private schedule (peerId: string): void {
    if (!this.running || this.inFlight.has(peerId) || this.queued.has(peerId)) return
    if (this.inFlight.size < MAX_STAKE_CHECKS_IN_FLIGHT) {
      void this.check(peerId)
    } else if (this.queued.size < this.maxCache) {
      this.queued.add(peerId)
    }
  }

  private async check (peerId: string): Promise<void> {
    this.inFlight.add(peerId)
    let verdict: StakeVerdict
    try {
      const result = await this.rpc.send(RPC_PROOF_OF_STAKE, [this.init.subnetId, peerIdBytes(peerId), this.minClass])
      if (typeof result !== 'boolean') {
        throw new ChainAnswerError(`${RPC_PROOF_OF_STAKE} answered ${String(JSON.stringify(result)).slice(0, 80)}, not true or false`)
      }
      verdict = result ? 'staked' : 'unstaked'
      this.outcomes[verdict] += 1
    } catch (err) {
      verdict = 'unverified'
      const outcome = err instanceof ChainAnswerError ? 'malformed' : 'error'
      this.outcomes[outcome] += 1
      this.failLog.note({ peer: peerId, outcome, fail_mode: this.init.failMode, err })
    } finally {
      this.inFlight.delete(peerId)
    }
    if (this.running) this.record(peerId, verdict)
    const next = this.queued.values().next()
    if (next.done !== true) {
      this.queued.delete(next.value)
      this.schedule(next.value)
    }
  }

  private record (peerId: string, verdict: StakeVerdict): void {
    const now = Date.now()
    const previous = this.cache.get(peerId)
    // A known peer keeps its place in the order last asked (a re-check is not an ask); a new one was just asked.
    this.cache.set(peerId, { verdict, expiresAt: now + (verdict === 'unverified' ? this.errorRetryMs : this.ttlMs), askedAt: previous?.askedAt ?? now })
    if (this.cache.size > this.maxCache) {
      const leastRecentlyAsked = this.cache.keys().next()
      if (leastRecentlyAsked.done !== true) this.cache.delete(leastRecentlyAsked.value)
    }
    const admission = this.toAdmission(verdict)
    if (previous === undefined || this.toAdmission(previous.verdict) !== admission) {
      this.log.debug('proof of stake', { peer: peerId, verdict, admission })
      this.listeners.emit(peerId, admission)
    }
    if (verdict === 'unstaked') this.evict(peerId)
  }

  /** Disconnects an unstaked peer (counted and logged if it was connected) and drops it from the DHTs. */
  private evict (peerId: string): void {
    if (!this.node.isStarted()) return
    if (this.node.libp2p.getConnections(peerIdFromString(peerId)).length > 0) {
      this.disconnected += 1
      this.log.info('peer disconnected: not staked on chain', { peer: peerId, min_node_class: this.init.minNodeClass })
    }
    void this.node.evictPeer(peerId)
  }

  /** Re-checks expired verdicts of peers still connected or asked about; forgets the others. */
  private sweep (): void {
    const now = Date.now()
    const connected = new Set(this.node.isStarted() ? this.node.libp2p.getConnections().map((c) => c.remotePeer.toString()) : [])
    for (const [id, entry] of this.cache) {
      if (entry.expiresAt > now) continue
      if (connected.has(id) || entry.askedAt > now - 2 * this.ttlMs) this.schedule(id)
      else this.cache.delete(id)
    }
  }
}
