/**
 * Chain-aware mode (SPEC §4 `--chain-rpc`, README "Chain-aware mode"): the subnet template's proof
 * of stake for every peer, and the on-chain bootnode list compared with this sidecar, read from a
 * Hypertensor node's JSON-RPC (`network_proofOfStake`, `network_getBootnodes`).
 */
import { createChainBootnodes } from './bootnodes.js'
import { DEFAULT_CHAIN_FAIL_MODE, DEFAULT_MIN_NODE_CLASS } from './constants.js'
import { createChainRpc } from './rpc.js'
import { createStakeGate } from './stake.js'
import type { ChainBootnodeReport, ChainBootnodes } from './bootnodes.js'
import type { ChainFailMode, NodeClass } from './constants.js'
import type { StakeGate, StakeVerdict } from './stake.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { Registry } from 'prom-client'

export {
  CHAIN_FAIL_MODES, DEFAULT_BOOTNODE_REFRESH_MS, DEFAULT_CHAIN_FAIL_MODE, DEFAULT_MIN_NODE_CLASS, DEFAULT_STAKE_CACHE_TTL_MS,
  DEFAULT_STAKE_ERROR_RETRY_MS, NODE_CLASSES, RPC_GET_BOOTNODES, RPC_PROOF_OF_STAKE
} from './constants.js'
export type { ChainFailMode, NodeClass } from './constants.js'
export { ChainAnswerError, encodeAllSubnetBootnodes, decodeAllSubnetBootnodes } from './codec.js'
export { ChainRpcError } from './rpc.js'
export type { ChainBootnodeReport } from './bootnodes.js'
export type { StakeGate, StakeVerdict } from './stake.js'

export interface ChainInit {
  /** The Hypertensor node's JSON-RPC endpoint: ws://, wss://, http:// or https://. */
  url: string
  /** The chain's subnet id (u32). */
  subnetId: number
  /** The lowest `SubnetNodeClass` that counts as staked. Default `registered`. */
  minNodeClass?: NodeClass
  /** What a peer whose stake cannot be checked gets. Default `open` (as the template). */
  failMode?: ChainFailMode
  /** How long a stake verdict holds. Default 300 s. */
  stakeCacheTtlMs?: number
  /** How soon a failed stake check is tried again. Default 30 s. */
  stakeErrorRetryMs?: number
  /** How often the on-chain bootnode list is read. Default 5 min. */
  bootnodeRefreshMs?: number
  /** Dial loopback and private on-chain bootnode addresses too (`--allow-private-addrs`). Default false. */
  allowPrivateAddrs?: boolean
  /** One JSON-RPC request's bound. Default 10 s. */
  rpcTimeoutMs?: number
  logger?: Logger
}

export interface ChainComponents {
  node: SubnetNode
  registry?: Registry
}

/** `/healthz` `chain`: the bootnode comparison and the cached stake verdicts. */
export type ChainHealth = ChainBootnodeReport & { stake: Record<StakeVerdict, number> }

export interface Chain {
  /** Who the collectors may serve (PeerAdmission). */
  readonly stake: StakeGate
  readonly bootnodes: ChainBootnodes
  health: () => ChainHealth
  /** Start after the node: checks its connections and reads the bootnode list at once. Idempotent. */
  start: () => Promise<void>
  /** Idempotent. */
  stop: () => Promise<void>
}

export function createChain (init: ChainInit, components: ChainComponents): Chain {
  const rpc = createChainRpc({ url: init.url, timeoutMs: init.rpcTimeoutMs })
  const stake = createStakeGate({
    subnetId: init.subnetId,
    minNodeClass: init.minNodeClass ?? DEFAULT_MIN_NODE_CLASS,
    failMode: init.failMode ?? DEFAULT_CHAIN_FAIL_MODE,
    cacheTtlMs: init.stakeCacheTtlMs,
    errorRetryMs: init.stakeErrorRetryMs,
    logger: init.logger?.child('stake')
  }, { rpc, node: components.node, registry: components.registry })
  const bootnodes = createChainBootnodes({
    subnetId: init.subnetId, refreshMs: init.bootnodeRefreshMs, allowPrivateAddrs: init.allowPrivateAddrs, logger: init.logger?.child('bootnodes')
  }, { rpc, node: components.node, registry: components.registry })
  return {
    stake,
    bootnodes,
    health: () => ({ ...bootnodes.report(), stake: stake.counts() }),
    start: async () => {
      stake.start()
      bootnodes.start()
    },
    stop: async () => {
      await bootnodes.stop()
      await stake.stop()
      await rpc.stop()
    }
  }
}
