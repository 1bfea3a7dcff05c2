/**
 * Every flag of `subnet-bootnode` (SPEC §4) in one table: the sub-commands that take it, its
 * kind, its default per sub-command and its help line. yargs' help, the environment variable
 * names and the README's flag table are all generated from here.
 */
import { DEFAULT_GEO_MODE } from '../geo/index.js'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_CONNECTIONS_PER_PEER,
  PROFILES, SUBNET_ID_RULE, TEMPLATE_SUBNET_ID_RULE
} from '../p2p/constants.js'
import { CHAIN_FAIL_MODES, DEFAULT_CHAIN_FAIL_MODE, DEFAULT_MIN_NODE_CLASS, NODE_CLASSES } from '../chain/constants.js'
import { USAGE_FILE_NAME } from '../usage/constants.js'
import { formatDuration } from '../util/duration.js'
import {
  DEFAULT_API_HOST, DEFAULT_API_PORT, DEFAULT_AUTH_FAIL_LIMIT, DEFAULT_DEMO_PEERS,
  DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_KEYS_FILE_NAME, DEFAULT_LISTEN, DEFAULT_LOG_LEVEL, DEFAULT_PEER_TTL,
  DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WATCHERS_PER_KEY, DEFAULT_PROFILE, DEFAULT_RATE_LIMIT, DEFAULT_REFRESH_INTERVAL, DEFAULT_ROLE, DEFAULT_SUBNET_NODE_ID_TEXT, DEFAULT_TEMPLATE_HEARTBEAT_TTL,
  DEFAULT_CHAIN_CACHE_TTL, DEFAULT_CHAIN_REFRESH, DEFAULT_TRUST_PROXY, DEMO_HEARTBEAT_INTERVAL, DEMO_LISTEN, DEMO_MAX_CONNECTIONS_PER_IP, DEMO_PROFILE, DEMO_RATE_LIMIT, DEMO_SUBNET_ID, ENV_PREFIX,
  LEGACY_KEYS_FILE_ENV, MAX_DEMO_PEERS, MAX_SUBNET_NODE_ID, MAX_TEMPLATE_HEARTBEAT_TTL_MS, MIN_DEMO_PEERS, MIN_TEMPLATE_HEARTBEAT_TTL_MS
} from './constants.js'

export type Command = 'run' | 'peer' | 'demo'
export const COMMANDS: readonly Command[] = ['run', 'peer', 'demo']

/** `string`: one value; `list`: repeatable, or comma-separated; `boolean`: `--x` / `--no-x`. */
export type FlagKind = 'string' | 'list' | 'boolean'
export type FlagGroup = 'Subnet' | 'API' | 'Chain' | 'Peer' | 'Demo'

export interface FlagSpec {
  /** Kebab-case name, without the dashes. */
  readonly name: string
  readonly kind: FlagKind
  readonly group: FlagGroup
  readonly commands: readonly Command[]
  readonly describe: string
  /** The default as typed text, per sub-command; absent: unset. `version-string`'s is filled in at parse time. */
  readonly defaults?: Readonly<Partial<Record<Command, string>>>
  /** What `--help` shows as the default where it is not a plain value. */
  readonly shownDefaults?: Readonly<Partial<Record<Command, string>>>
}

const ALL: readonly Command[] = COMMANDS
const API: readonly Command[] = ['run', 'demo']
const PEER: readonly Command[] = ['peer', 'demo']

const every = (value: string, commands: readonly Command[]): Partial<Record<Command, string>> =>
  Object.fromEntries(commands.map(c => [c, value]))

export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'subnet-id',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: `Subnet to join; part of the DHT protocol id /subnet/<id>/kad/1.0.0 (${SUBNET_ID_RULE}); ` +
      `with --profile template or both ${TEMPLATE_SUBNET_ID_RULE}`,
    defaults: { demo: DEMO_SUBNET_ID },
    shownDefaults: { run: '(required)', peer: '(required)' }
  },
  {
    name: 'profile',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: `Protocols to speak: ${PROFILES.join('|')}; native is this project's own, template the Hypertensor ` +
      'subnet template\'s (its kad-dht and gossipsub heartbeats), both the two at once',
    defaults: { run: DEFAULT_PROFILE, peer: DEFAULT_PROFILE, demo: DEMO_PROFILE }
  },
  {
    name: 'listen',
    kind: 'list',
    group: 'Subnet',
    commands: ALL,
    describe: 'Multiaddr to listen on (repeatable, or comma-separated)',
    defaults: { run: DEFAULT_LISTEN, peer: DEFAULT_LISTEN, demo: DEMO_LISTEN }
  },
  {
    name: 'announce',
    kind: 'list',
    group: 'Subnet',
    commands: ALL,
    describe: 'Multiaddr to announce to peers instead of the listen addresses, e.g. the public IP (repeatable)',
    shownDefaults: every('(the listen addresses)', ALL)
  },
  {
    name: 'bootstrap',
    kind: 'list',
    group: 'Subnet',
    commands: ALL,
    describe: 'Peer to join the subnet through, a multiaddr ending in /p2p/<peer id> (repeatable)',
    shownDefaults: every('(none)', ALL)
  },
  {
    name: 'identity-path',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: 'Private key file; created (mode 0600) if missing, so the peer id survives restarts',
    shownDefaults: every('(a new identity each start)', ALL)
  },
  {
    name: 'data-dir',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: `Directory for the persistent peer store and records (run: also ${USAGE_FILE_NAME}, the per-key usage subnet-add-api-key --list shows)`,
    shownDefaults: { run: '(in memory)', peer: '(in memory)', demo: '(a temporary directory, removed on exit)' }
  },
  {
    name: 'log-level',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: 'error|warn|info|debug; logs are one JSON object per line on stdout',
    // The demo prints its key and curl lines; info logs from six nodes would bury them.
    defaults: { run: DEFAULT_LOG_LEVEL, peer: DEFAULT_LOG_LEVEL, demo: 'warn' }
  },
  {
    name: 'allow-private-addrs',
    kind: 'boolean',
    group: 'Subnet',
    commands: ALL,
    describe: 'Keep loopback and private addresses in the DHT (for local and LAN subnets); /v1/is_reachable dials such addresses only with it',
    defaults: { run: 'false', peer: 'false', demo: 'true' }
  },
  {
    name: 'max-inbound-rate',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: 'Inbound libp2p connections accepted per second from one IP (libp2p\'s own default is 5; a bootnode behind NAT or next to many nodes needs more)',
    // The subnet node applies its own default when the flag is unset; shown from the same constant.
    shownDefaults: every(String(DEFAULT_INBOUND_CONNECTION_THRESHOLD), ALL)
  },
  {
    name: 'max-connections',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: 'Most libp2p connections open at once',
    shownDefaults: every(String(DEFAULT_MAX_CONNECTIONS), ALL)
  },
  {
    name: 'max-connections-per-ip',
    kind: 'string',
    group: 'Subnet',
    commands: ALL,
    describe: 'Most inbound libp2p connections open at once from one IPv4 address or IPv6 /64, handshakes included; ' +
      `further ones are refused (one peer id holds at most ${DEFAULT_MAX_CONNECTIONS_PER_PEER}). Raise it when many nodes share one address (NAT)`,
    // The subnet node applies its own default when unset; the demo's nodes all share 127.0.0.1.
    defaults: { demo: DEMO_MAX_CONNECTIONS_PER_IP },
    shownDefaults: { run: String(DEFAULT_MAX_CONNECTIONS_PER_IP), peer: String(DEFAULT_MAX_CONNECTIONS_PER_IP) }
  },
  {
    name: 'api-host',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Address the REST API binds to; 0.0.0.0 exposes it to the network',
    defaults: every(DEFAULT_API_HOST, API)
  },
  {
    name: 'api-port',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Port of the REST API (0: any free port)',
    defaults: every(DEFAULT_API_PORT, API)
  },
  {
    name: 'keys-file',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'API key store (JSON array), re-read when it changes (demo: only this flag is read, never a variable, so a demo key never lands in a real key store)',
    shownDefaults: { run: `$${LEGACY_KEYS_FILE_ENV}, else ./${DEFAULT_KEYS_FILE_NAME}`, demo: `<data dir>/${DEFAULT_KEYS_FILE_NAME}` }
  },
  {
    name: 'rate-limit',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Requests per API key and client IP: N/second|minute|hour|day',
    defaults: { run: DEFAULT_RATE_LIMIT, demo: DEMO_RATE_LIMIT }
  },
  {
    name: 'auth-fail-limit',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Failed key checks per client IP before 429: N/second|minute|hour|day',
    defaults: every(DEFAULT_AUTH_FAIL_LIMIT, API)
  },
  {
    name: 'max-watchers-per-key',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Open /v1/watch streams per API key; past it 429 (at most --max-watchers; its default is lowered to that)',
    defaults: every(DEFAULT_MAX_WATCHERS_PER_KEY, API)
  },
  {
    name: 'max-watchers',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Open /v1/watch streams across all keys; past it 503 with Retry-After',
    defaults: every(DEFAULT_MAX_WATCHERS, API)
  },
  {
    name: 'trust-proxy',
    kind: 'list',
    group: 'API',
    commands: API,
    describe: 'Take the client IP from X-Forwarded-For: off, a hop count, or the proxies\' IPs/CIDRs (comma-separated)',
    defaults: every(DEFAULT_TRUST_PROXY, API)
  },
  {
    name: 'redis-url',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Shared rate-limit and key-usage store for several instances: redis://host:port or rediss://…',
    shownDefaults: every('(in memory)', API)
  },
  {
    name: 'geo',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'Geolocation of peer IPs: offline (bundled database), ip-api (ip-api.com), none',
    defaults: every(DEFAULT_GEO_MODE, API)
  },
  {
    name: 'geo-db',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'MaxMind-format city database (.mmdb) to use instead of the bundled one (--geo offline)',
    shownDefaults: every('(the bundled database)', API)
  },
  {
    name: 'asn-db',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'MaxMind-format ASN database (.mmdb) for as/isp/org instead of the bundled data (--geo offline)',
    shownDefaults: every('(the bundled data)', API)
  },
  {
    name: 'refresh-interval',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'How often the served view is rebuilt: 500ms, 10s, 5m, 1h, …',
    defaults: every(DEFAULT_REFRESH_INTERVAL, API)
  },
  {
    name: 'peer-ttl',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'How long a peer seen in the subnet stays in get_peers_info after it leaves',
    defaults: every(DEFAULT_PEER_TTL, API)
  },
  {
    name: 'template-heartbeat-ttl',
    kind: 'string',
    group: 'API',
    commands: API,
    describe: 'How long a template node\'s heartbeat stays live after its last heartbeat or peer_state message ' +
      `(--profile template or both; ${formatDuration(MIN_TEMPLATE_HEARTBEAT_TTL_MS)} to ${formatDuration(MAX_TEMPLATE_HEARTBEAT_TTL_MS)})`,
    defaults: every(DEFAULT_TEMPLATE_HEARTBEAT_TTL, API)
  },
  {
    name: 'metrics',
    kind: 'boolean',
    group: 'API',
    commands: API,
    describe: 'Serve Prometheus metrics on /metrics (--no-metrics to turn off)',
    defaults: every('true', API)
  },
  {
    name: 'chain-rpc',
    kind: 'string',
    group: 'Chain',
    commands: ['run'],
    describe: 'A Hypertensor node\'s JSON-RPC (ws://, wss://, http://, https://): serve only peers with proof of stake ' +
      '(network_proofOfStake), disconnect the others, compare the on-chain bootnodes (network_getBootnodes) in /healthz; ' +
      'needs the chain\'s integer --subnet-id',
    shownDefaults: { run: '(off)' }
  },
  {
    name: 'min-node-class',
    kind: 'string',
    group: 'Chain',
    commands: ['run'],
    describe: `The lowest SubnetNodeClass that counts as staked: ${NODE_CLASSES.join('|')} (--chain-rpc)`,
    defaults: { run: DEFAULT_MIN_NODE_CLASS }
  },
  {
    name: 'chain-fail',
    kind: 'string',
    group: 'Chain',
    commands: ['run'],
    describe: `When a stake check fails (chain unreachable, a malformed answer): ${CHAIN_FAIL_MODES.join('|')}; ` +
      'open serves the peer as the template lets it connect, closed hides it until a check succeeds (--chain-rpc)',
    defaults: { run: DEFAULT_CHAIN_FAIL_MODE }
  },
  {
    name: 'chain-cache-ttl',
    kind: 'string',
    group: 'Chain',
    commands: ['run'],
    describe: 'How long a proof-of-stake answer (staked or not) is kept before the peer is checked again (--chain-rpc)',
    defaults: { run: DEFAULT_CHAIN_CACHE_TTL }
  },
  {
    name: 'chain-refresh',
    kind: 'string',
    group: 'Chain',
    commands: ['run'],
    describe: 'How often the on-chain bootnode list is read and compared (--chain-rpc)',
    defaults: { run: DEFAULT_CHAIN_REFRESH }
  },
  {
    name: 'role',
    kind: 'string',
    group: 'Peer',
    commands: PEER,
    describe: 'Role published in the heartbeat (A-Z 0-9 _ -; lower case is upper-cased)',
    defaults: every(DEFAULT_ROLE, PEER)
  },
  {
    name: 'heartbeat-interval',
    kind: 'string',
    group: 'Peer',
    commands: PEER,
    describe: 'How often the heartbeat is published; it expires about twice that ahead (100ms to 30m)',
    defaults: { peer: DEFAULT_HEARTBEAT_INTERVAL, demo: DEMO_HEARTBEAT_INTERVAL }
  },
  {
    name: 'public-name',
    kind: 'string',
    group: 'Peer',
    commands: PEER,
    describe: 'Name published in the heartbeat (public_name)',
    shownDefaults: { peer: '(none)', demo: '(demo-peer-<n>)' }
  },
  {
    name: 'version-string',
    kind: 'string',
    group: 'Peer',
    commands: PEER,
    describe: 'Version published in the heartbeat',
    shownDefaults: every('(this package\'s version)', PEER)
  },
  {
    name: 'subnet-node-id',
    kind: 'string',
    group: 'Peer',
    commands: ['peer'],
    describe: `With --profile template or both: the node's subnet_node_id on chain, carried in its template messages (1 to ${MAX_SUBNET_NODE_ID})`,
    defaults: { peer: DEFAULT_SUBNET_NODE_ID_TEXT }
  },
  {
    name: 'peers',
    kind: 'string',
    group: 'Demo',
    commands: ['demo'],
    describe: `Number of demo peers (${MIN_DEMO_PEERS} to ${MAX_DEMO_PEERS})`,
    defaults: { demo: DEFAULT_DEMO_PEERS }
  }
]

/** `--api-port` ↔ `SUBNET_BOOTNODE_API_PORT`. */
export function envName (flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replaceAll('-', '_')
}

export function flagsOf (command: Command): FlagSpec[] {
  return FLAGS.filter(f => f.commands.includes(command))
}

/** The default `--help` shows for `flag` under `command`, if any. */
export function shownDefault (flag: FlagSpec, command: Command): string | undefined {
  return flag.shownDefaults?.[command] ?? flag.defaults?.[command]
}
