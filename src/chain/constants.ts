/**
 * The chain-aware mode's names and defaults (SPEC §4 `--chain-rpc`), from the Hypertensor subnet
 * template (`subnet/hypertensor/chain_functions.py`, `subnet/utils/pos/proof_of_stake.py`).
 * A leaf file: the config reads it without loading the JSON-RPC client.
 */

/**
 * `SubnetNodeClass` as the chain orders it (`Registered = 0 … Validator = 3`); the index is the
 * `min_class: u8` that `network_proofOfStake` takes.
 */
export const NODE_CLASSES = ['registered', 'idle', 'included', 'validator'] as const
export type NodeClass = typeof NODE_CLASSES[number]
export const DEFAULT_MIN_NODE_CLASS: NodeClass = 'registered'

/**
 * What a peer whose stake could not be checked (the RPC failed or answered garbage) gets:
 * `open` lets it through as the template does (`POSTransport.proof_of_stake`: "If error with RPC,
 * allow connection"); `closed` hides it from every route until a check succeeds (it is not
 * disconnected: nothing says it is unstaked).
 */
export const CHAIN_FAIL_MODES = ['open', 'closed'] as const
export type ChainFailMode = typeof CHAIN_FAIL_MODES[number]
export const DEFAULT_CHAIN_FAIL_MODE: ChainFailMode = 'open'

/** The template keeps a proof-of-stake success, and a failure, for 300 s (`pos_success_cooldown`, `pos_fail_cooldown`). */
export const DEFAULT_STAKE_CACHE_TTL_MS = 300_000
/** A check that failed (RPC down, malformed answer) is retried after this long; meanwhile the fail mode decides. */
export const DEFAULT_STAKE_ERROR_RETRY_MS = 30_000
/** The on-chain bootnode list is fetched again this often. */
export const DEFAULT_BOOTNODE_REFRESH_MS = 300_000
/** One JSON-RPC request's bound (connecting included). */
export const CHAIN_RPC_TIMEOUT_MS = 10_000
/** Stake checks in flight at once; the rest wait in a queue of at most MAX_STAKE_CACHE peers. */
export const MAX_STAKE_CHECKS_IN_FLIGHT = 8
/** Peers whose verdict is cached; the least recently asked go first past it. */
export const MAX_STAKE_CACHE = 50_000
/** On-chain bootnode entries read per refresh (the rest are ignored and counted as invalid). */
export const MAX_CHAIN_BOOTNODES = 256
/** A dial to an on-chain bootnode, to tell whether this sidecar can reach it. */
export const BOOTNODE_DIAL_TIMEOUT_MS = 5_000
/** Dials to on-chain bootnodes at once in one refresh. */
export const BOOTNODE_DIALS_AT_ONCE = 8
/** Failed checks and malformed answers are logged at most once per this window. */
export const CHAIN_LOG_WINDOW_MS = 60_000

/** The JSON-RPC methods of the Hypertensor node (`chain_functions.py`). */
export const RPC_PROOF_OF_STAKE = 'network_proofOfStake'
export const RPC_GET_BOOTNODES = 'network_getBootnodes'
