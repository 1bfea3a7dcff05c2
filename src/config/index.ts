/**
 * The one typed configuration of `subnet-bootnode` (SPEC §4, STYLE rule 3): flags, then
 * `SUBNET_BOOTNODE_*` environment variables, then defaults, parsed and validated here and nowhere
 * else. yargs reads the command line (sub-commands, `--x=y`, `--no-x`, repeats, unknown-flag
 * checks, help text); every value then goes through one parser of `values.ts`, so a flag and its
 * environment variable are checked alike and a bad one fails with one line naming the flag.
 *
 * Nothing here prints or exits: `--help`/`--version` come back as `{ command: 'help', text }`
 * and bad input as a thrown {@link ConfigError}; the caller writes them and picks the exit code.
 */
import yargs from 'yargs'
import { resolveWatcherCaps } from '../api/constants.js'
import { ConfigError } from '../errors.js'
import { KeysFilePathError, resolveKeysFile } from '../keys/index.js'
import {
  ENV_PREFIX, MAX_DEMO_PEERS, MAX_WATCHERS, MAX_WATCHERS_PER_KEY, MAX_HEARTBEAT_INTERVAL_MS,
  MAX_PEER_TTL_MS, MAX_REFRESH_INTERVAL_MS, MIN_DEMO_PEERS, MIN_HEARTBEAT_INTERVAL_MS, MIN_PEER_TTL_MS,
  MIN_REFRESH_INTERVAL_MS, MAX_INBOUND_RATE, MAX_CHAIN_CACHE_TTL_MS, MAX_CHAIN_REFRESH_MS, MIN_CHAIN_CACHE_TTL_MS, MIN_CHAIN_REFRESH_MS, MAX_CONNECTIONS, MAX_TEMPLATE_HEARTBEAT_TTL_MS, MIN_TEMPLATE_HEARTBEAT_TTL_MS
} from './constants.js'
import { COMMANDS, envName, FLAGS, flagsOf, shownDefault } from './flags.js'
import {
  checkTemplateSubnetId, InvalidValue, parseBoolean, parseChainFail, parseChainRpc, parseChainSubnetId, parseNodeClass, parseBootstrapAddr, parseDurationWithin, parseGeo, parseHost, parseIntegerWithin,
  parseLogLevel, parseMultiaddr, parsePath, parsePort, parseProfile, parsePublicName, parseRateFlag, parseReadableFile,
  parseRedisUrl, parseRole, parseSubnetId, parseSubnetNodeId, parseTrustProxy, parseVersionString, quote
} from './values.js'
import { badBooleanToken } from '../util/argv.js'
import { packageVersion } from '../util/package-version.js'
import type { Command, FlagGroup, FlagSpec } from './flags.js'
import type { ChainFailMode, NodeClass } from '../chain/constants.js'
import type { GeoMode } from '../geo/index.js'
import type { LogLevel } from '../log/index.js'
import type { Profile } from '../p2p/constants.js'
import type { Rate } from '../util/rate.js'
import type { Argv } from 'yargs'

export { COMMANDS, envName, FLAGS, flagsOf, shownDefault } from './flags.js'
export type { Command, FlagGroup, FlagKind, FlagSpec } from './flags.js'
export type { GeoMode } from '../geo/index.js'
export type { Profile } from '../p2p/constants.js'
export type { Rate } from '../util/rate.js'

/** Flags every sub-command takes. */
export interface CommonConfig {
  subnetId: string
  /** Which subnets' protocols the node speaks; `template`/`both`: `subnetId` is a positive integer. */
  profile: Profile
  /** Canonical multiaddr strings. */
  listen: string[]
  announce: string[]
  /** Each ends in `/p2p/<peer id>`. */
  bootstrap: string[]
  /** Absolute. Unset: a new identity each start. */
  identityPath?: string
  /** Absolute. Unset: in memory (`demo`: the caller makes a temporary directory). */
  dataDir?: string
  logLevel: LogLevel
  allowPrivateAddrs: boolean
  /** Inbound connections per second from one IP; unset: the subnet node's default. */
  maxInboundRate?: number
  /** Open connections at most; unset: the subnet node's default. */
  maxConnections?: number
  /** Inbound connections open at once from one IP (IPv6: /64); unset: the subnet node's default. */
  maxConnectionsPerIp?: number
}

/** The subnet-node part of the config, shaped as the subnet node's init takes it (`run` and `peer`). */
export function subnetNodeOptions (config: CommonConfig): Omit<CommonConfig, 'logLevel' | 'maxInboundRate'> & ConnectionLimits {
  // Listed, not spread: `run`/`demo` configs carry many more fields that the node must not see.
  const { subnetId, profile, listen, announce, bootstrap, identityPath, dataDir, allowPrivateAddrs } = config
  return { subnetId, profile, listen, announce, bootstrap, identityPath, dataDir, allowPrivateAddrs, ...connectionLimits(config) }
}

/** The connection-limit flags in the subnet node's terms (libp2p calls the per-IP rate a threshold). */
export interface ConnectionLimits { inboundConnectionThreshold?: number, maxConnections?: number, maxConnectionsPerIp?: number }

/** `--max-inbound-rate`, `--max-connections` and `--max-connections-per-ip`, for any node the command starts (the demo's peers too). */
export function connectionLimits (config: Pick<CommonConfig, 'maxInboundRate' | 'maxConnections' | 'maxConnectionsPerIp'>): ConnectionLimits {
  return {
    ...(config.maxInboundRate === undefined ? {} : { inboundConnectionThreshold: config.maxInboundRate }),
    ...(config.maxConnections === undefined ? {} : { maxConnections: config.maxConnections }),
    ...(config.maxConnectionsPerIp === undefined ? {} : { maxConnectionsPerIp: config.maxConnectionsPerIp })
  }
}

/** Flags of the sidecar's REST API and view (`run`, `demo`). */
export interface ApiConfig {
  apiHost: string
  apiPort: number
  /** Absolute path of the key store. */
  keysFile: string
  /** Per (API key, client IP); `text` is the 429 wording, e.g. `5 per 1 minute` (SPEC §1). */
  rateLimit: Rate
  /** Failed key checks per client IP. */
  authFailLimit: Rate
  /** express `trust proxy`: a hop count, proxy addresses/CIDRs, or `false` (off). Never `true`. */
  trustProxy: number | string[] | false
  redisUrl?: string
  geo: GeoMode
  /** Absolute path of a readable file (checked at parse time); only with `geo: 'offline'`. */
  geoDb?: string
  /** Absolute path of a readable file, like `geoDb`: the operator's own ASN database. */
  asnDb?: string
  refreshIntervalMs: number
  peerTtlMs: number
  /** `template`/`both` profiles: how long a template heartbeat lives after the peer's last message. */
  templateHeartbeatTtlMs: number
  metrics: boolean
  /** Open `/v1/watch` streams per API key (SPEC §4 `--max-watchers-per-key`); at most `maxWatchers`. */
  maxWatchersPerKey: number
  /** Open `/v1/watch` streams across all keys (SPEC §4 `--max-watchers`). */
  maxWatchers: number
}

/** Chain-aware mode (`run`; SPEC §4 `--chain-rpc`). */
export interface ChainConfig {
  /** Off when absent. */
  chainRpc?: string
  /** The chain's subnet id, `--subnet-id` as an integer (set with `chainRpc`). */
  chainSubnetId?: number
  minNodeClass: NodeClass
  chainFail: ChainFailMode
  chainCacheTtlMs: number
  chainRefreshMs: number
}

/**
 * The demo's API flags: without `--keys-file` (or its variables) the demo keeps its key file in its
 * data dir, so a demo key never lands in a key store that a real sidecar would later serve.
 */
export type DemoApiConfig = Omit<ApiConfig, 'keysFile'> & { keysFile?: string }

/** Flags of the publishing side (`peer`, `demo`). */
export interface PeerOptions {
  /** Upper case. */
  role: string
  heartbeatIntervalMs: number
  publicName?: string
  versionString: string
}

/** `--help` or `--version`: print `text` on stdout and exit 0. */
export interface HelpOutput {
  command: 'help'
  text: string
}

export type Config =
  | ({ command: 'run' } & CommonConfig & ApiConfig & ChainConfig)
  | ({ command: 'peer' } & CommonConfig & PeerOptions & { subnetNodeId: number })
  | ({ command: 'demo', peers: number } & CommonConfig & DemoApiConfig & PeerOptions)
  | HelpOutput

const SCRIPT_NAME = 'subnet-bootnode'
const HELP_WIDTH = 100

const COMMAND_SUMMARY: Record<Command, string> = {
  run: 'Run the sidecar: join the subnet as a DHT server, collect heartbeats and peers, serve the REST API (default)',
  peer: 'Run a subnet member that publishes its signed heartbeat (the reference peer)',
  demo: 'Run N local peers and the sidecar on 127.0.0.1, with a demo API key, until Ctrl-C'
}

const GROUP_TITLES: Record<FlagGroup, string> = {
  Subnet: 'Subnet:',
  API: 'REST API:',
  Chain: 'Chain (Hypertensor proof of stake and bootnodes):',
  Peer: 'Heartbeat:',
  Demo: 'Demo:'
}

const EPILOGUE = `Every flag can also be set as an environment variable ${ENV_PREFIX}<FLAG> in upper snake case ` +
  `(e.g. ${envName('api-port')}=8080); repeatable flags take a comma-separated list there. A flag wins over its variable.`

/**
 * Reads `argv` (without node and the script: `process.argv.slice(2)`), `env` and the defaults into
 * one typed config. Relative paths are resolved against `cwd`. Throws {@link ConfigError} with one
 * line naming the flag and what it accepts.
 */
export function parseConfig (argv: readonly string[], env: Readonly<Record<string, string | undefined>>, cwd: string): Config {
  const first = argv[0]
  if (first !== undefined && !first.startsWith('-') && !COMMANDS.some(c => c === first)) {
    throw new ConfigError(`unknown sub-command ${quote(first)}: expected ${COMMANDS.join(', ')}`)
  }
  checkEnvNames(env)
  checkBooleanTokens(argv)

  const parsed = runYargs(argv)
  if (parsed.output !== undefined) return { command: 'help', text: parsed.output }
  const command = parsed.command
  const input = new Input(command, parsed.values, env)

  const subnetId = input.one('subnet-id', parseSubnetId)
  if (subnetId === undefined) {
    throw new ConfigError(`--subnet-id is required for '${command}' (or set ${envName('subnet-id')})`)
  }
  const profile = input.required('profile', parseProfile)
  parseWith(input.origin('subnet-id'), subnetId, text => { checkTemplateSubnetId(text, profile) })
  const common: CommonConfig = {
    subnetId,
    profile,
    listen: input.list('listen', parseMultiaddr),
    announce: input.list('announce', parseMultiaddr),
    bootstrap: input.list('bootstrap', parseBootstrapAddr),
    identityPath: input.one('identity-path', parsePath(cwd)),
    dataDir: input.one('data-dir', parsePath(cwd)),
    logLevel: input.required('log-level', parseLogLevel),
    allowPrivateAddrs: input.bool('allow-private-addrs'),
    maxInboundRate: input.one('max-inbound-rate', parseIntegerWithin(1, MAX_INBOUND_RATE)),
    maxConnections: input.one('max-connections', parseIntegerWithin(1, MAX_CONNECTIONS)),
    maxConnectionsPerIp: input.one('max-connections-per-ip', parseIntegerWithin(1, MAX_CONNECTIONS))
  }
  if (command === 'run') return { command, ...common, ...apiConfig(input, cwd), ...chainConfig(input, subnetId), keysFile: keysFile(input, env, cwd) }
  if (command === 'peer') return { command, ...common, ...peerOptions(input), subnetNodeId: input.required('subnet-node-id', parseSubnetNodeId) }
  if (!common.allowPrivateAddrs) {
    throw new ConfigError(`${input.origin('allow-private-addrs')}: the demo runs on 127.0.0.1 and needs private addresses; leave it on`)
  }
  return {
    command,
    peers: input.required('peers', parseIntegerWithin(MIN_DEMO_PEERS, MAX_DEMO_PEERS)),
    ...common,
    ...apiConfig(input, cwd),
    // Only the flag: the image and shells set the key-file variables for the real key store.
    keysFile: input.fromCommandLine('keys-file') ? keysFile(input, {}, cwd) : undefined,
    ...peerOptions(input)
  }
}

/** The key store's own path order (SPEC §2), shared with subnet-add-api-key; messages name the flag. */
function keysFile (input: Input, env: Readonly<Record<string, string | undefined>>, cwd: string): string {
  try {
    return resolveKeysFile({ flag: input.commandLineText('keys-file'), env, cwd }).path
  } catch (err) {
    if (!(err instanceof KeysFilePathError)) throw err
    const origin = err.source === '--keys-file' || err.source === 'default' ? '--keys-file' : `--keys-file (from ${err.source})`
    throw new ConfigError(`${origin}: ${err.reason}`)
  }
}

function apiConfig (input: Input, cwd: string): Omit<ApiConfig, 'keysFile'> {
  const geo = input.required('geo', parseGeo)
  const geoDb = input.one('geo-db', parseReadableFile(cwd))
  const asnDb = input.one('asn-db', parseReadableFile(cwd))
  for (const [flag, value] of [['geo-db', geoDb], ['asn-db', asnDb]] as const) {
    if (value !== undefined && geo !== 'offline') {
      throw new ConfigError(`${input.origin(flag)}: only used with --geo offline, but --geo is ${geo}`)
    }
  }
  return {
    apiHost: input.required('api-host', parseHost),
    apiPort: input.required('api-port', parsePort),
    rateLimit: input.required('rate-limit', parseRateFlag),
    authFailLimit: input.required('auth-fail-limit', parseRateFlag),
    trustProxy: input.whole('trust-proxy', parseTrustProxy),
    redisUrl: input.one('redis-url', parseRedisUrl),
    geo,
    geoDb,
    asnDb,
    refreshIntervalMs: input.required('refresh-interval', parseDurationWithin(MIN_REFRESH_INTERVAL_MS, MAX_REFRESH_INTERVAL_MS)),
    peerTtlMs: input.required('peer-ttl', parseDurationWithin(MIN_PEER_TTL_MS, MAX_PEER_TTL_MS)),
    templateHeartbeatTtlMs: input.required('template-heartbeat-ttl',
      parseDurationWithin(MIN_TEMPLATE_HEARTBEAT_TTL_MS, MAX_TEMPLATE_HEARTBEAT_TTL_MS)),
    metrics: input.bool('metrics'),
    ...watcherCaps(input)
  }
}

/**
 * `--max-watchers-per-key` and `--max-watchers` (SPEC §4). A per-key cap above the total one could
 * never be reached, so one given that way is refused; the per-key default is lowered to the total.
 */
function watcherCaps (input: Input): Pick<ApiConfig, 'maxWatchersPerKey' | 'maxWatchers'> {
  const maxWatchers = input.required('max-watchers', parseIntegerWithin(1, MAX_WATCHERS))
  const perKey = input.required('max-watchers-per-key', parseIntegerWithin(1, MAX_WATCHERS_PER_KEY))
  const caps = resolveWatcherCaps(maxWatchers, input.defaulted('max-watchers-per-key') ? undefined : perKey)
  if (caps !== undefined) return caps
  throw new ConfigError(`${input.origin('max-watchers-per-key')}: ${perKey} is more than ${input.origin('max-watchers')} (${maxWatchers}); ` +
    'lower it or raise --max-watchers')
}

function chainConfig (input: Input, subnetId: string): ChainConfig {
  const chainRpc = input.one('chain-rpc', parseChainRpc)
  const config: ChainConfig = {
    chainRpc,
    minNodeClass: input.required('min-node-class', parseNodeClass),
    chainFail: input.required('chain-fail', parseChainFail),
    chainCacheTtlMs: input.required('chain-cache-ttl', parseDurationWithin(MIN_CHAIN_CACHE_TTL_MS, MAX_CHAIN_CACHE_TTL_MS)),
    chainRefreshMs: input.required('chain-refresh', parseDurationWithin(MIN_CHAIN_REFRESH_MS, MAX_CHAIN_REFRESH_MS))
  }
  if (chainRpc === undefined) {
    // As --geo-db without --geo offline: a chain setting with no chain would silently do nothing.
    for (const flag of ['min-node-class', 'chain-fail', 'chain-cache-ttl', 'chain-refresh'] as const) {
      if (!input.defaulted(flag)) throw new ConfigError(`${input.origin(flag)}: only used with --chain-rpc`)
    }
    return config
  }
  // The chain knows subnets by their u32 id, as the template profile does (checkTemplateSubnetId).
  config.chainSubnetId = parseWith(input.origin('subnet-id'), subnetId, parseChainSubnetId)
  return config
}

function peerOptions (input: Input): PeerOptions {
  return {
    role: input.required('role', parseRole),
    heartbeatIntervalMs: input.required('heartbeat-interval', parseDurationWithin(MIN_HEARTBEAT_INTERVAL_MS, MAX_HEARTBEAT_INTERVAL_MS)),
    publicName: input.one('public-name', parsePublicName),
    versionString: input.one('version-string', parseVersionString) ?? packageVersion()
  }
}

/** The text of one flag, where it came from (for messages), after flag > env > default. */
interface Raw {
  texts: string[]
  origin: string
  /** The flag's default, not a value given on the command line or in its variable. */
  fromDefault?: true
}

type YargsValue = string | boolean | Array<string | boolean> | undefined

/** Flag values from yargs, environment variables and defaults, for one sub-command. */
class Input {
  constructor (
    private readonly command: Command,
    private readonly values: Readonly<Record<string, unknown>>,
    private readonly env: Readonly<Record<string, string | undefined>>
  ) {}

  private spec (name: string): FlagSpec {
    const spec = FLAGS.find(f => f.name === name && f.commands.includes(this.command))
    if (spec === undefined) throw new Error(`flag --${name} is not defined for '${this.command}'`)
    return spec
  }

  /** Whether the flag was given on the command line (not by a variable or a default). */
  fromCommandLine (name: string): boolean {
    return this.values[name] !== undefined
  }

  /** The flag's text as given on the command line (not by a variable or a default), if it was. */
  commandLineText (name: string): string | undefined {
    return this.fromCommandLine(name) ? this.raw(name)?.texts[0] : undefined
  }

  /** Whether the flag's value is its default (neither on the command line nor in its variable). */
  defaulted (name: string): boolean {
    return this.raw(name)?.fromDefault === true
  }

  /** How a message names the source of `name`'s value. */
  origin (name: string): string {
    return this.raw(name)?.origin ?? `--${name}`
  }

  private raw (name: string): Raw | undefined {
    const spec = this.spec(name)
    const given = this.values[name] as YargsValue
    if (given !== undefined) {
      const texts = (Array.isArray(given) ? given : [given]).map(String)
      if (spec.kind === 'string' && texts.length > 1) {
        throw new ConfigError(`--${name}: given ${texts.length} times; it takes one value`)
      }
      if (spec.kind === 'list') return { texts: texts.flatMap(splitList), origin: `--${name}` }
      // A repeated boolean (`--metrics --no-metrics`): the last one wins, as in most CLIs.
      return { texts: texts.slice(-1), origin: `--${name}` }
    }
    const variable = envName(name)
    const fromEnv = this.env[variable]
    // An empty variable counts as unset (as compose files write `NAME=` for "not set").
    if (fromEnv !== undefined && fromEnv !== '') {
      return { texts: spec.kind === 'list' ? splitList(fromEnv) : [fromEnv], origin: `--${name} (from ${variable})` }
    }
    const fallback = spec.defaults?.[this.command]
    if (fallback !== undefined) return { texts: splitList(fallback), origin: `--${name} (default)`, fromDefault: true }
    return undefined
  }

  /** A one-value flag; `undefined` when unset with no default. */
  one<T>(name: string, parse: (text: string) => T): T | undefined {
    const raw = this.raw(name)
    const text = raw?.texts[0]
    return raw === undefined || text === undefined ? undefined : parseWith(raw.origin, text, parse)
  }

  /** A one-value flag that has a default. */
  required<T>(name: string, parse: (text: string) => T): T {
    const value = this.one(name, parse)
    if (value === undefined) throw new Error(`flag --${name} has no default for '${this.command}'`)
    return value
  }

  /** A repeatable flag, each item parsed. */
  list<T>(name: string, parse: (text: string) => T): T[] {
    const raw = this.raw(name)
    return raw === undefined ? [] : raw.texts.map(text => parseWith(raw.origin, text, parse))
  }

  /** A repeatable flag whose items are read together (`--trust-proxy`). */
  whole<T>(name: string, parse: (texts: readonly string[]) => T): T {
    const raw = this.raw(name)
    if (raw === undefined) throw new Error(`flag --${name} has no default for '${this.command}'`)
    try {
      return parse(raw.texts)
    } catch (err) {
      if (err instanceof InvalidValue) throw new ConfigError(`${raw.origin}: ${err.message}`)
      throw err
    }
  }

  bool (name: string): boolean {
    const raw = this.raw(name)
    const text = raw?.texts[0]
    return raw !== undefined && text !== undefined && parseWith(raw.origin, text, parseBoolean)
  }
}

function splitList (text: string): string[] {
  return text.split(',').map(item => item.trim())
}

function parseWith<T> (origin: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text)
  } catch (err) {
    if (err instanceof InvalidValue) throw new ConfigError(`${origin}: ${err.message}`)
    throw err
  }
}

/** A `SUBNET_BOOTNODE_*` variable that no flag reads is a typo: say so rather than ignore it. */
function checkEnvNames (env: Readonly<Record<string, string | undefined>>): void {
  const known = new Set(FLAGS.map(f => envName(f.name)))
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name) && env[name] !== undefined) {
      throw new ConfigError(`unknown environment variable ${name}: no flag --${name.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-')}`)
    }
  }
}

/**
 * yargs reads `--metrics=maybe` as false; a boolean written with `=` must say true or false.
 * (`--metrics false` is fine: yargs only takes a following `true`/`false` as the value.)
 */
function checkBooleanTokens (argv: readonly string[]): void {
  const bad = badBooleanToken(argv, FLAGS.filter(f => f.kind === 'boolean').map(f => f.name))
  if (bad !== undefined) throw new ConfigError(`--${bad.flag}: expected true or false, got ${quote(bad.value)}`)
}

interface Parsed {
  command: Command
  values: Record<string, unknown>
  /** Help or version text, when asked for. */
  output?: string
}

function runYargs (argv: readonly string[]): Parsed {
  const version = packageVersion()
  const parser = yargs()
    .scriptName(SCRIPT_NAME)
    .usage(`$0 [${COMMANDS.join('|')}] [flags]`)
    .locale('en')
    .detectLocale(false)
    .wrap(HELP_WIDTH)
    .parserConfiguration({
      // One spelling per flag (`--api-port`, not also `--apiPort`); values stay text for our parsers.
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': true,
      'duplicate-arguments-array': true
    })
    .strict()
    .exitProcess(false)
    .help()
    .alias('h', 'help')
    .version(version)
    .epilogue(EPILOGUE)
    .fail((msg: string | null, err: Error | null) => {
      throw new ConfigError(describeFailure(msg ?? err?.message ?? 'bad command line', argv))
    })
  for (const command of COMMANDS) {
    parser.command(command === 'run' ? ['run', '$0'] : command, COMMAND_SUMMARY[command], (y: Argv) => declareFlags(y, command, version))
  }

  let result: Parsed | undefined
  // With a callback yargs hands back help/version text instead of printing it.
  parser.parse([...argv], {}, (_err: Error | undefined, values: Record<string, unknown>, output: string) => {
    const named = Array.isArray(values._) ? values._.map(String) : []
    const command = COMMANDS.find(c => named[0] === c) ?? 'run'
    // strict() lets words after `--` through; no sub-command takes positional arguments.
    const extra = named.slice(named[0] === command ? 1 : 0)[0]
    if (extra !== undefined) throw new ConfigError(`unexpected argument ${quote(extra)}`)
    const asked = values.help === true || values.version === true
    result = { command, values, output: asked ? output : undefined }
  })
  if (result === undefined) throw new ConfigError('bad command line')
  return result
}

function declareFlags (y: Argv, command: Command, version: string): Argv {
  const groups = new Map<FlagGroup, string[]>()
  for (const flag of flagsOf(command)) {
    y.option(flag.name, {
      type: flag.kind === 'boolean' ? 'boolean' : 'string',
      describe: flag.describe,
      // `version-string`'s default is this package's version, known only at run time.
      defaultDescription: flag.name === 'version-string' ? version : shownDefault(flag, command)
    })
    groups.set(flag.group, [...(groups.get(flag.group) ?? []), flag.name])
  }
  for (const [group, names] of groups) y.group(names, GROUP_TITLES[group])
  return y
}

/** yargs' "Unknown argument: x" as a line that says what `x` was. */
function describeFailure (message: string, argv: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]
  if (unknown === undefined) return message
  const written = (token: string, flag: string): boolean => token === flag || token.startsWith(`${flag}=`)
  return unknown.split(', ').map(name => {
    const flag = [`--${name}`, `--no-${name}`, `-${name}`].find(f => argv.some(token => written(token, f)))
    if (flag === undefined) return `unexpected argument ${quote(name)} (sub-commands come first: ${COMMANDS.join('|')})`
    const owners = FLAGS.filter(f => f.name === name).flatMap(f => f.commands)
    return owners.length > 0 ? `${flag} is a flag of ${owners.join(', ')} only` : `unknown flag ${flag}`
  }).join('; ')
}
