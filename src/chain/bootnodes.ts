/**
 * The subnet's bootnodes as the chain lists them (`network_getBootnodes(subnet_id)` →
 * `AllSubnetBootnodes`: the subnet owner's `subnet_bootnodes`, and the bootnodes that subnet nodes
 * (`node_bootnodes`) and registered nodes (`registered_bootnodes`) declared), fetched every
 * `refreshMs`, compared with this sidecar: is its own peer id on chain, which of its own bootnode
 * addresses are and are not, and which on-chain bootnodes it cannot reach (not connected, and a
 * dial within BOOTNODE_DIAL_TIMEOUT_MS fails). SPEC §1 `/healthz` `chain`, `?source=chain`.
 *
 * Any registrant writes these addresses: as `/v1/is_reachable` does, a loopback or private address
 * (DNS names resolved first) is never dialled unless `allowPrivateAddrs`, only reported unreachable,
 * and at most BOOTNODE_DIALS_AT_ONCE dials run at a time.
 */
import { Gauge } from 'prom-client'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { silentLogger } from '../log/index.js'
import { deadline, untilAborted } from '../util/deadline.js'
import { dialTarget, mapConcurrent } from '../util/dial-target.js'
import { registerMirroredCounter } from '../util/metrics.js'
import { peerIdOfMultiaddr } from '../util/multiaddr.js'
import { createRepeatingTask } from '../util/task.js'
import { ChainAnswerError, BOOTNODE_KINDS, answerBytes, decodeAllSubnetBootnodes, utf8Text } from './codec.js'
import { BOOTNODE_DIAL_TIMEOUT_MS, BOOTNODE_DIALS_AT_ONCE, DEFAULT_BOOTNODE_REFRESH_MS, MAX_CHAIN_BOOTNODES, RPC_GET_BOOTNODES } from './constants.js'
import type { AllSubnetBootnodes } from './codec.js'
import type { ChainRpc } from './rpc.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { Registry } from 'prom-client'

export interface ChainBootnodesInit {
  subnetId: number
  /** Default 5 min. */
  refreshMs?: number
  /** Dial loopback and private on-chain addresses too (`--allow-private-addrs`). Default false. */
  allowPrivateAddrs?: boolean
  logger?: Logger
}

export interface ChainBootnodesComponents {
  rpc: ChainRpc
  node: SubnetNode
  registry?: Registry
}

/** What the last refresh found; `/healthz` shows it as `chain`. */
export interface ChainBootnodeReport {
  /** `ok`: the last refresh read the list; `error`: it failed (the last good list is kept); `pending`: none yet. */
  status: 'ok' | 'error' | 'pending'
  /** ISO time of the last refresh that read the list, or null. */
  checked_at: string | null
  /** One line: why the last refresh failed. */
  error?: string
  /** Whether this sidecar's own peer id is a key of any of the three maps, and which own addresses are listed. */
  registered: { peer_id: boolean, addrs: string[], missing_addrs: string[] }
  /** Valid on-chain bootnode multiaddrs. */
  bootnodes: number
  /** Entries that are not a multiaddr (not UTF-8, unparsable), skipped. */
  invalid_bootnodes: number
  /** On-chain bootnodes (other than this sidecar) it is not connected to and could not dial. */
  unreachable_bootnodes: string[]
}

export interface ChainBootnodes {
  start: () => void
  stop: () => Promise<void>
  /** The on-chain list in `/v1/get_bootnodes` shape, or undefined before the first successful read. */
  list: () => readonly string[] | undefined
  report: () => ChainBootnodeReport
}

export function createChainBootnodes (init: ChainBootnodesInit, components: ChainBootnodesComponents): ChainBootnodes {
  const log = init.logger ?? silentLogger
  const { rpc, node } = components
  let list: string[] | undefined
  let report: ChainBootnodeReport = {
    status: 'pending', checked_at: null, registered: { peer_id: false, addrs: [], missing_addrs: [] }, bootnodes: 0, invalid_bootnodes: 0, unreachable_bootnodes: []
  }
  const refreshes = { ok: 0, error: 0, malformed: 0 }

  const refresh = async (signal?: AbortSignal): Promise<void> => {
    let decoded: AllSubnetBootnodes
    try {
      decoded = decodeAllSubnetBootnodes(answerBytes(await rpc.send(RPC_GET_BOOTNODES, [init.subnetId], { signal })))
    } catch (err) {
      // Stopped: not a failed read.
      if (signal?.aborted === true) return
      const malformed = err instanceof ChainAnswerError
      refreshes[malformed ? 'malformed' : 'error'] += 1
      const reason = (err as Error).message
      // One line per failed refresh (every few minutes at most).
      log.warn(malformed ? 'on-chain bootnode list is malformed; keeping the last one' : 'cannot read the on-chain bootnode list; keeping the last one', { err })
      report = { ...report, status: 'error', error: reason }
      return
    }
    const { addrs, invalid, peerIds } = validAddrs(decoded, log)
    const own = node.bootnodeAddrs()
    const onChain = new Set(addrs)
    const unreachable = await unreachableOf(addrs, node, { allowPrivate: init.allowPrivateAddrs === true, log, signal })
    list = addrs
    refreshes.ok += 1
    report = {
      status: 'ok',
      checked_at: new Date().toISOString(),
      registered: { peer_id: peerIds.has(node.peerId), addrs: own.filter((a) => onChain.has(a)), missing_addrs: own.filter((a) => !onChain.has(a)) },
      bootnodes: addrs.length,
      invalid_bootnodes: invalid,
      unreachable_bootnodes: unreachable
    }
    if (!report.registered.peer_id) log.warn('this sidecar\'s peer id is not among the subnet\'s bootnodes on chain', { peer_id: node.peerId, on_chain: addrs.length })
  }

  const task: RepeatingTask = createRepeatingTask(async ({ signal }) => { await refresh(signal) }, {
    intervalMs: init.refreshMs ?? DEFAULT_BOOTNODE_REFRESH_MS, runImmediately: true, logger: log, name: 'on-chain bootnode refresh'
  })

  if (components.registry !== undefined) {
    const registers = [components.registry]
    registerMirroredCounter(components.registry, 'subnet_bootnode_chain_bootnode_refreshes_total',
      'Reads of the on-chain bootnode list (network_getBootnodes) by outcome: ok, error, malformed', 'outcome', () => refreshes)
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'subnet_bootnode_chain_registered',
      help: '1 if this sidecar\'s peer id is among the subnet\'s bootnodes on chain (at the last read), else 0',
      registers,
      collect () { this.set(report.registered.peer_id ? 1 : 0) }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'subnet_bootnode_chain_own_addrs',
      help: 'This sidecar\'s own bootnode addresses, by whether the chain lists them (registered, missing)',
      labelNames: ['state'],
      registers,
      collect () {
        this.set({ state: 'registered' }, report.registered.addrs.length)
        this.set({ state: 'missing' }, report.registered.missing_addrs.length)
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'subnet_bootnode_chain_bootnodes',
      help: 'On-chain bootnode multiaddrs at the last read, by state: reachable, unreachable (from this sidecar), invalid (not a multiaddr)',
      labelNames: ['state'],
      registers,
      collect () {
        this.set({ state: 'reachable' }, report.bootnodes - report.unreachable_bootnodes.length)
        this.set({ state: 'unreachable' }, report.unreachable_bootnodes.length)
        this.set({ state: 'invalid' }, report.invalid_bootnodes)
      }
    })
  }

  return {
    start: () => { task.start() },
    stop: async () => { await task.stop() },
    list: () => list,
    report: () => report
  }
}

/**
 * Every on-chain value that is a UTF-8 multiaddr, deduplicated, in map order (subnet owner's first),
 * ending in `/p2p/<the key>` (appended when the value lacks it, as `/v1/get_bootnodes` entries end);
 * at most MAX_CHAIN_BOOTNODES. The others are counted and logged in one line.
 */
function validAddrs (decoded: AllSubnetBootnodes, log: Logger): { addrs: string[], invalid: number, peerIds: Set<string> } {
  const out = new Set<string>()
  const peerIds = new Set<string>()
  const skipped: Array<{ kind: string, peer_id: string, reason: string }> = []
  for (const kind of BOOTNODE_KINDS) {
    for (const [peerId, value] of decoded[kind]) {
      peerIds.add(peerId)
      if (value === null) continue
      const text = utf8Text(value)
      const addr = text === undefined ? undefined : parseAddr(text, peerId)
      if (addr === undefined || out.size >= MAX_CHAIN_BOOTNODES) {
        skipped.push({ kind, peer_id: peerId.slice(0, 64), reason: addr === undefined ? 'not a multiaddr' : 'over the limit' })
        continue
      }
      out.add(addr)
    }
  }
  if (skipped.length > 0) log.warn('on-chain bootnode entries skipped', { count: skipped.length, first: skipped[0] })
  return { addrs: [...out], invalid: skipped.length, peerIds }
}

function parseAddr (text: string, peerId: string): string | undefined {
  try {
    const ma = multiaddr(text)
    if (peerIdOfMultiaddr(ma) !== undefined) return ma.toString()
    try {
      peerIdFromString(peerId)
    } catch {
      return ma.toString()
    }
    return `${ma.toString()}/p2p/${peerId}`
  } catch {
    return undefined
  }
}

/**
 * The addresses (not this node's) whose peer this node is not connected to and cannot dial now;
 * those it may not dial (private, not TCP) count as unreachable without a dial, logged in one line.
 */
async function unreachableOf (addrs: readonly string[], node: SubnetNode, options: { allowPrivate: boolean, log: Logger, signal?: AbortSignal }): Promise<string[]> {
  if (!node.isStarted()) return [...addrs]
  const { allowPrivate, log, signal } = options
  const refused: Array<{ addr: string, reason: string }> = []
  const results = await mapConcurrent(addrs, BOOTNODE_DIALS_AT_ONCE, async (addr) => {
    const ma = multiaddr(addr)
    const id = peerIdOfMultiaddr(ma)
    if (id === node.peerId) return undefined
    try {
      if (id !== undefined && node.libp2p.getConnections(peerIdFromString(id)).length > 0) return undefined
    } catch {}
    // A stop does not wait for a DNS lookup (bounded, but not abortable).
    const target = await untilAborted(dialTarget(addr, allowPrivate, BOOTNODE_DIAL_TIMEOUT_MS), signal).catch(() => undefined)
    if (target === undefined) return addr
    if ('error' in target) {
      refused.push({ addr, reason: target.error })
      return addr
    }
    const d = deadline(BOOTNODE_DIAL_TIMEOUT_MS, ...(signal === undefined ? [] : [signal]))
    try {
      await node.libp2p.dial(id === undefined ? target.addr : target.addr.encapsulate(`/p2p/${id}`), { signal: d.signal })
      return undefined
    } catch {
      return addr
    } finally {
      d.clear()
    }
  })
  if (refused.length > 0) log.info('on-chain bootnodes not dialled (reported unreachable)', { count: refused.length, first: refused[0] })
  return results.filter((a): a is string => a !== undefined)
}
