/**
 * Defaults and bounds of `subnet-bootnode`'s flags (SPEC §4). Defaults are written as the text a
 * user would type, and go through the same parser as a typed value, so `--help` shows exactly what
 * is applied.
 */
// Leaf modules, not the front doors: those load libp2p, which parsing flags does not need.
import { DEFAULT_SUBNET_NODE_ID, DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS } from '../template/constants.js'
import { DEFAULT_BOOTNODE_REFRESH_MS, DEFAULT_STAKE_CACHE_TTL_MS } from '../chain/constants.js'
import { DEFAULT_MAX_CONNECTIONS_PER_PEER } from '../p2p/constants.js'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_ROLE as HEARTBEAT_DEFAULT_ROLE } from '../heartbeat/constants.js'
import { DEFAULT_REFRESH_INTERVAL_MS } from '../view/constants.js'
import { DEFAULT_MAX_WATCHERS as API_DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WATCHERS_PER_KEY as API_DEFAULT_MAX_WATCHERS_PER_KEY } from '../api/constants.js'
import type { Profile } from '../p2p/constants.js'

/** Prefix of every flag's environment variable: `--api-port` ↔ `SUBNET_BOOTNODE_API_PORT`. */
export const ENV_PREFIX = 'SUBNET_BOOTNODE_'
/** The key store's path order is the key store's own (SPEC §2), shared with subnet-add-api-key. */
export { DEFAULT_KEYS_FILE_NAME, LEGACY_KEYS_FILE_ENV } from '../keys/index.js'

export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/31330'
/** The demo stays on loopback and takes any free port (SPEC §4). */
export const DEMO_LISTEN = '/ip4/127.0.0.1/tcp/0'
/** An integer, as the demo's default profile `both` needs (the template's messages carry it as one). */
export const DEMO_SUBNET_ID = '1'
/** `run` and `peer` speak this project's own protocols unless told otherwise (SPEC §4 `--profile`). */
export const DEFAULT_PROFILE: Profile = 'native'
/** The demo shows both kinds of subnet at once. */
export const DEMO_PROFILE: Profile = 'both'
export const DEFAULT_LOG_LEVEL = 'info'
/** `peer --profile template|both`: the `subnet_node_id` its template messages carry. */
export const DEFAULT_SUBNET_NODE_ID_TEXT = String(DEFAULT_SUBNET_NODE_ID)
export { MAX_SUBNET_NODE_ID } from '../template/constants.js'

/** A local facade by default (SPEC §1): exposing it is a deliberate act. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = '8000'
export const DEFAULT_RATE_LIMIT = '5/minute'
/**
 * The demo's: its status page spends one request per live-feed connect and per reachability
 * check, and 5 a minute ran out after four clicks.
 */
export const DEMO_RATE_LIMIT = '60/minute'
/** SPEC §4 `--max-watchers-per-key`, from the API's own default (one home). */
export const DEFAULT_MAX_WATCHERS_PER_KEY = String(API_DEFAULT_MAX_WATCHERS_PER_KEY)
/** Upper bound of `--max-watchers-per-key`: each stream holds a socket and gets every change. */
export const MAX_WATCHERS_PER_KEY = 1000
/** SPEC §4 `--max-watchers` (open `/v1/watch` streams across all keys), from the API's own default. */
export const DEFAULT_MAX_WATCHERS = String(API_DEFAULT_MAX_WATCHERS)
/** Upper bound of `--max-watchers`: a socket and a file descriptor each, far past any descriptor limit in use. */
export const MAX_WATCHERS = 100_000
export const DEFAULT_AUTH_FAIL_LIMIT = '30/minute'
export const DEFAULT_TRUST_PROXY = 'off'
/** The view builder's own default (one home). */
export const DEFAULT_REFRESH_INTERVAL = `${DEFAULT_REFRESH_INTERVAL_MS / 1000}s`
export const DEFAULT_PEER_TTL = '1h'
/** As the subnet template caches proof of stake (300 s); the bootnode list is read every few minutes. */
export const DEFAULT_CHAIN_CACHE_TTL = `${DEFAULT_STAKE_CACHE_TTL_MS / 1000}s`
export const DEFAULT_CHAIN_REFRESH = `${DEFAULT_BOOTNODE_REFRESH_MS / 1000}s`
export const MIN_CHAIN_CACHE_TTL_MS = 100
export const MAX_CHAIN_CACHE_TTL_MS = 86_400_000
export const MIN_CHAIN_REFRESH_MS = 1_000
export const MAX_CHAIN_REFRESH_MS = 86_400_000
/** Two template epochs, written in seconds as the issue and SPEC §4 state it. */
export const DEFAULT_TEMPLATE_HEARTBEAT_TTL = `${DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS / 1000}s`

/** The heartbeat publisher's own defaults (one home). */
export const DEFAULT_ROLE = HEARTBEAT_DEFAULT_ROLE
export const DEFAULT_HEARTBEAT_INTERVAL = `${DEFAULT_HEARTBEAT_INTERVAL_MS / 1000}s`
/** Short in the demo so the view fills within seconds (SPEC §4). */
export const DEMO_HEARTBEAT_INTERVAL = '5s'
export const DEFAULT_DEMO_PEERS = '5'

export const MIN_REFRESH_INTERVAL_MS = 100
export const MAX_REFRESH_INTERVAL_MS = 3_600_000
export const MIN_PEER_TTL_MS = 1_000
/** One week: well inside the 24.8-day limit of a Node timer. */
export const MAX_PEER_TTL_MS = 7 * 86_400_000
/** A template heartbeat lives 1 s to 1 day after its peer's last message. */
export const MIN_TEMPLATE_HEARTBEAT_TTL_MS = 1_000
export const MAX_TEMPLATE_HEARTBEAT_TTL_MS = 86_400_000
/** 100 ms so tests can run fast heartbeats. */
export const MIN_HEARTBEAT_INTERVAL_MS = 100
/**
 * A heartbeat expires about twice its interval ahead and no record may expire more than
 * `MAX_HEARTBEAT_TTL` (1 h) ahead (SPEC §5), so the interval stops at 30 minutes.
 */
export const MAX_HEARTBEAT_INTERVAL_MS = 1_800_000
export const MIN_DEMO_PEERS = 1
export const MAX_DEMO_PEERS = 50
/**
 * `demo --max-connections-per-ip`: the demo's sidecar and peers all dial from 127.0.0.1, so each
 * node may hold the per-peer maximum with every other one.
 */
export const DEMO_MAX_CONNECTIONS_PER_IP = String(DEFAULT_MAX_CONNECTIONS_PER_PEER * (MAX_DEMO_PEERS + 1))
/** More hops than this is a mistake, not a proxy chain. */
export const MAX_TRUST_PROXY_HOPS = 255

/** `--max-inbound-rate`: inbound connections per second from one IP, at most. */
export const MAX_INBOUND_RATE = 100_000
/** `--max-connections`: at most. */
export const MAX_CONNECTIONS = 1_000_000
