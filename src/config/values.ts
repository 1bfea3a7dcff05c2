/**
 * One parser per kind of flag value (SPEC §4). Each takes the text a user typed (flag or
 * environment variable) and returns the typed value, or throws {@link InvalidValue} with the
 * reason; the caller turns that into one line naming the flag.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { LOG_LEVELS } from '../log/index.js'
import { DURATION_HINT, formatDuration, parseDuration } from '../util/duration.js'
import { parseRate, RATE_HINT } from '../util/rate.js'
import { trustedRangeTooWide } from '../util/trust-proxy.js'
import { GEO_MODES } from '../geo/index.js'
// Leaf modules, not the front doors: those load libp2p, which parsing flags does not need.
import { MAX_PUBLIC_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_VERSION_LENGTH, ROLE_PATTERN } from '../heartbeat/model.js'
import { PROFILES, SUBNET_ID_PATTERN, SUBNET_ID_RULE, TEMPLATE_SUBNET_ID_RULE, templateSubnetId } from '../p2p/constants.js'
import { CHAIN_FAIL_MODES, NODE_CLASSES } from '../chain/constants.js'
import { MAX_SUBNET_NODE_ID, MAX_TRUST_PROXY_HOPS } from './constants.js'
import type { ChainFailMode, NodeClass } from '../chain/constants.js'
import type { GeoMode } from '../geo/index.js'
import type { LogLevel } from '../log/index.js'
import type { Profile } from '../p2p/constants.js'
import type { Rate } from '../util/rate.js'

/** A value a flag does not accept; `message` is the reason, without the flag's name. */
export class InvalidValue extends Error {}

/** How a value is shown in a message: quoted, one line, not too long. */
export function quote (text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text
  return JSON.stringify(shown)
}

function expected (what: string, text: string): never {
  throw new InvalidValue(`expected ${what}, got ${quote(text)}`)
}

// Subnet ids, roles, names and versions are checked with the subnet node's and the heartbeat's own
// rules, so a value refused there is refused here, at start, with the flag's name.

export function parseSubnetId (text: string): string {
  if (!SUBNET_ID_PATTERN.test(text)) expected(SUBNET_ID_RULE, text)
  return text
}

export function parseProfile (text: string): Profile {
  const profile = PROFILES.find(p => p === text)
  if (profile === undefined) expected(PROFILES.join('|'), text)
  return profile
}

/**
 * The template's messages carry the chain's subnet id as an integer (issue 11), so the `template`
 * and `both` profiles take only that form; the subnet node's own check is the same function.
 */
export function checkTemplateSubnetId (subnetId: string, profile: Profile): void {
  if (profile === 'native' || templateSubnetId(subnetId) !== undefined) return
  throw new InvalidValue(`--profile ${profile} needs ${TEMPLATE_SUBNET_ID_RULE}; got ${quote(subnetId)}`)
}

/** A multiaddr in its canonical text form (`/ip4/…/tcp/…`). */
export function parseMultiaddr (text: string): string {
  const hint = 'a multiaddr such as /ip4/0.0.0.0/tcp/31330'
  let addr
  try {
    addr = multiaddr(text)
  } catch {
    expected(hint, text)
  }
  if (addr.getComponents().length === 0) expected(hint, text)
  return addr.toString()
}

/** A multiaddr that names the peer to dial: it must end in `/p2p/<peer id>` (SPEC §4). */
export function parseBootstrapAddr (text: string): string {
  const hint = 'a multiaddr ending in /p2p/<peer id>, such as /ip4/1.2.3.4/tcp/31330/p2p/12D3KooW...'
  let addr: string
  try {
    addr = parseMultiaddr(text)
  } catch {
    expected(hint, text)
  }
  const last = multiaddr(addr).getComponents().at(-1)
  if (last?.name !== 'p2p' || last.value === undefined) expected(hint, text)
  try {
    peerIdFromString(last.value)
  } catch {
    throw new InvalidValue(`${quote(last.value)} in ${quote(text)} is not a peer id`)
  }
  return addr
}

export function parseLogLevel (text: string): LogLevel {
  const level = LOG_LEVELS.find(l => l === text)
  if (level === undefined) expected(LOG_LEVELS.join('|'), text)
  return level
}

const TRUE_WORDS = ['true', '1', 'yes', 'on']
const FALSE_WORDS = ['false', '0', 'no', 'off']

/** A boolean written in an environment variable. */
export function parseBoolean (text: string): boolean {
  const word = text.toLowerCase()
  if (TRUE_WORDS.includes(word)) return true
  if (FALSE_WORDS.includes(word)) return false
  expected('true or false', text)
}

/** An IP address or host name to bind; `[::1]` is accepted for `::1`. */
export function parseHost (text: string): string {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  if (isIP(host) !== 0) return host
  if (/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) return host
  expected('an IP address or host name, such as 127.0.0.1 or 0.0.0.0', text)
}

export function parsePort (text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) expected('a port number from 0 to 65535', text)
  return Number(text)
}

export function parseRateFlag (text: string): Rate {
  return parseRate(text) ?? expected(RATE_HINT, text)
}

/** A duration within bounds, in milliseconds. */
export function parseDurationWithin (minMs: number, maxMs: number): (text: string) => number {
  return (text) => {
    const ms = parseDuration(text)
    if (ms === undefined) expected(DURATION_HINT, text)
    if (ms < minMs || ms > maxMs) expected(`a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`, text)
    return ms
  }
}

/** An integer within bounds. */
export function parseIntegerWithin (min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) expected(`an integer from ${min} to ${max}`, text)
    return Number(text)
  }
}

/** Names express's `trust proxy` setting knows for well-known ranges. */
const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal']
const TRUST_EVERYTHING = ['true', '*', 'all', 'yes', 'on']

/**
 * `--trust-proxy` (SPEC §1): `off`, a hop count, or proxy addresses/CIDRs (and express's
 * `loopback|linklocal|uniquelocal`). "Trust everything" is refused: then any client could pick the
 * IP it is rate-limited as by sending `X-Forwarded-For` (express-rate-limit's own advice).
 */
export function parseTrustProxy (items: readonly string[]): number | string[] | false {
  const hint = `off, a hop count from 0 to ${MAX_TRUST_PROXY_HOPS}, or proxy IPs/CIDRs such as 10.0.0.1,192.168.0.0/16`
  const [first] = items
  if (items.length === 1 && first !== undefined) {
    const word = first.toLowerCase()
    if (word === 'off' || word === 'false' || word === 'none') return false
    if (TRUST_EVERYTHING.includes(word)) {
      throw new InvalidValue(`${quote(first)} would trust every client's X-Forwarded-For; give a hop count or the proxies' IPs/CIDRs`)
    }
    if (/^\d+$/.test(first)) {
      const hops = parseIntegerWithin(0, MAX_TRUST_PROXY_HOPS)(first)
      return hops === 0 ? false : hops
    }
  }
  return items.map(item => {
    if (TRUST_EVERYTHING.includes(item.toLowerCase())) {
      throw new InvalidValue(`${quote(item)} would trust every client's X-Forwarded-For; give a hop count or the proxies' IPs/CIDRs`)
    }
    if (TRUST_PROXY_NAMES.includes(item) || isIP(item) !== 0) return item
    if (isCidr(item)) {
      // 0.0.0.0/0 or ::/0 (or a block nearly as wide) trusts every client just like `true` would.
      const tooWide = trustedRangeTooWide(item)
      if (tooWide !== undefined) throw new InvalidValue(tooWide)
      return item
    }
    expected(hint, item)
  })
}

/** `10.0.0.0/8`, `fd00::/8`: an address in dotted-quad or IPv6 form and a prefix that fits it. */
function isCidr (text: string): boolean {
  const slash = text.lastIndexOf('/')
  if (slash < 0) return false
  const family = isIP(text.slice(0, slash))
  const bits = text.slice(slash + 1)
  return family !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

/**
 * `--redis-url`: `redis://` or `rediss://` with a host. The value is never echoed: it may hold
 * a password.
 */
export function parseRedisUrl (text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {}
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new InvalidValue('expected a URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6380 (value not shown: it may hold a password)')
  }
  return text
}

/**
 * `--chain-rpc`: a `ws://`, `wss://`, `http://` or `https://` URL with a host. Not echoed: an
 * RPC provider's URL often carries an API key.
 */
export function parseChainRpc (text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {}
  if (url === undefined || !['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol) || url.hostname === '') {
    throw new InvalidValue('expected a JSON-RPC URL such as ws://127.0.0.1:9944 or https://rpc.example.org (value not shown: it may hold a key)')
  }
  // The normalised form (lower-case scheme and host): the RPC providers test the scheme case-sensitively.
  return url.href
}

/** `--subnet-id` with `--chain-rpc`: the chain's u32 subnet id, as the template profile needs it. */
export function parseChainSubnetId (text: string): number {
  const id = templateSubnetId(text)
  if (id === undefined) throw new InvalidValue(`--chain-rpc needs ${TEMPLATE_SUBNET_ID_RULE}; got ${quote(text)}`)
  return id
}

export function parseNodeClass (text: string): NodeClass {
  const found = NODE_CLASSES.find(c => c === text.toLowerCase())
  if (found === undefined) expected(NODE_CLASSES.join('|'), text)
  return found
}

export function parseChainFail (text: string): ChainFailMode {
  const found = CHAIN_FAIL_MODES.find(m => m === text)
  if (found === undefined) expected(CHAIN_FAIL_MODES.join('|'), text)
  return found
}

export function parseGeo (text: string): GeoMode {
  const mode = GEO_MODES.find(m => m === text)
  if (mode === undefined) expected(GEO_MODES.join('|'), text)
  return mode
}

/** A path, made absolute against `cwd`. */
export function parsePath (cwd: string): (text: string) => string {
  return (text) => {
    if (text === '' || text.includes('\0')) expected('a file path', text)
    return isAbsolute(text) ? resolve(text) : resolve(cwd, text)
  }
}

/** `--geo-db`: an existing, readable file, checked at start so a typo fails now, not on the first lookup. */
export function parseReadableFile (cwd: string): (text: string) => string {
  return (text) => {
    const path = parsePath(cwd)(text)
    try {
      if (!statSync(path).isFile()) throw new InvalidValue(`${quote(path)} is not a file`)
      accessSync(path, fsConstants.R_OK)
    } catch (err) {
      if (err instanceof InvalidValue) throw err
      const code = (err as { code?: unknown }).code
      throw new InvalidValue(`cannot read ${quote(path)}${typeof code === 'string' ? ` (${code})` : ''}`)
    }
    return path
  }
}

/** A role name; lower case is upper-cased (`validator` → `VALIDATOR`). */
/** `--subnet-node-id`: the chain's u32 node id; the template's models require it > 0. */
export function parseSubnetNodeId (text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > MAX_SUBNET_NODE_ID) {
    expected(`an integer from 1 to ${MAX_SUBNET_NODE_ID}`, text)
  }
  return Number(text)
}

export function parseRole (text: string): string {
  const role = text.toUpperCase()
  if (!ROLE_PATTERN.test(role)) expected(`1 to ${MAX_ROLE_LENGTH} characters from A-Z 0-9 _ -, such as VALIDATOR`, text)
  return role
}

function printable (max: number, what: string): (text: string) => string {
  return (text) => {
    // No control characters: the value travels in every heartbeat and lands in dashboards.
    // eslint-disable-next-line no-control-regex
    if (text.length === 0 || text.length > max || /[\u0000-\u001f\u007f]/.test(text)) {
      expected(`${what} of 1 to ${max} printable characters`, text)
    }
    return text
  }
}

export const parsePublicName = printable(MAX_PUBLIC_NAME_LENGTH, 'a name')
export const parseVersionString = printable(MAX_VERSION_LENGTH, 'a version')
