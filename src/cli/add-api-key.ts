/**
 * `subnet-add-api-key` (SPEC §3): the admin CLI of the key file (SPEC §2).
 *
 * Output contract, so scripts can rely on it: a generated key is the only thing written
 * to stdout (one line); `--list` writes its table to stdout; every other message goes to
 * stderr. Exit codes: 0 done, 1 a bad file or a refused change (one line on stderr),
 * 2 bad usage (one line on stderr). Nothing ever prints a stack trace.
 */
import { stat } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import yargs from 'yargs'
import {
  API_ROUTES,
  DEFAULT_KEYS_FILE_NAME,
  KEYS_FILE_ENV,
  KeyFileError,
  KeysFilePathError,
  LEGACY_KEYS_FILE_ENV,
  checkApiKeyText,
  checkOwnerName,
  generateApiKey,
  isKeyExpired,
  parseTimestamp,
  readKeyFile,
  resolveKeysFile,
  updateKeyFile
} from '../keys/index.js'
import { DATA_DIR_ENV, USAGE_FILE_NAME, UsageFileError, readUsageFile, requestsThisWeek, requestsToday } from '../usage/index.js'
import { badBooleanToken } from '../util/argv.js'
import { DURATION_HINT, parseDuration } from '../util/duration.js'
import { RATE_HINT, parseRate } from '../util/rate.js'
import type { ApiKeyEntry, ApiRoute } from '../keys/index.js'
import type { OwnerUsage } from '../usage/index.js'

const PROGRAM = 'subnet-add-api-key'

/** SPEC §2: the key file when neither `--keys-file` nor a variable names one. */
const DEFAULT_KEYS_FILE = `./${DEFAULT_KEYS_FILE_NAME}`

export const EXIT_OK = 0
const EXIT_REFUSED = 1
export const EXIT_USAGE = 2

/** Bad usage: exit 2. */
/** The options that change an owner's entry: none goes with --list, nor with --remove. */
const CHANGE_OPTIONS = ['inactive', 'key', 'rotate', 'expires-in', 'scopes', 'note', 'rate-limit'] as const

class UsageError extends Error {}
/** A change the file's content does not allow (unknown owner, key held by another): exit 1. */
class RefusedError extends Error {}

export interface AddApiKeyIo {
  /** The environment, for `SUBNET_BOOTNODE_KEYS_FILE` and `BOOTNODE_KEYS_FILE`. */
  env: Readonly<Record<string, string | undefined>>
  /** Relative key-file paths are resolved against it, as the sidecar does. Default `process.cwd()`. */
  cwd?: string
  stdout: { write: (text: string) => unknown }
  stderr: { write: (text: string) => unknown }
  /** Clock, ms. Default `Date.now`. */
  now?: () => number
}

const BOOLEAN_FLAGS = ['inactive', 'rotate', 'list', 'remove', 'json', 'help'] as const

/** `--list --status`: what {@link keyStatus} says of an entry, or every entry. */
const LIST_STATUSES = ['active', 'inactive', 'expired', 'all'] as const
type ListStatus = typeof LIST_STATUSES[number]
/** `--list --sort`: by owner name; newest first; most recently used first; most requests today first. */
const LIST_SORTS = ['owner', 'created', 'last-used', 'requests'] as const
type ListSort = typeof LIST_SORTS[number]
/** The options only `--list` takes. */
const LIST_OPTIONS = ['data-dir', 'status', 'sort', 'stale', 'json'] as const

interface Options {
  owner?: string
  inactive: boolean
  key?: string
  rotate: boolean
  keysFile: string
  /** `null`: remove the expiry (`--expires-in never`). */
  expiresInMs?: number | null
  /** `null`: remove the restriction (`--scopes all`). */
  scopes?: ApiRoute[] | null
  /** `''`: remove the note. */
  note?: string
  /** `null`: back to the default (`--rate-limit default`). */
  rateLimit?: string | null
  list: boolean
  remove: boolean
  /** `--list` only. */
  listing?: ListOptions
}

interface ListOptions {
  /** The usage file (`--data-dir`, else the sidecar's variable); unset: neither was given. */
  usageFile?: string
  status: ListStatus
  /** Unset: the file's order. */
  sort?: ListSort
  /** Keys unused for at least this long (never-used ones included), ms. */
  staleMs?: number
  json: boolean
}

function buildParser (): ReturnType<typeof yargs> {
  return yargs()
    .scriptName(PROGRAM)
    .usage([
      `Usage: ${PROGRAM} --owner <name> [options]`,
      `       ${PROGRAM} --list [--keys-file <path>] [--data-dir <dir>] [--status …] [--sort …] [--stale 90d] [--json]`,
      '',
      'Manages the API keys of the bootnode REST API in bootnode_rest_keys.json.',
      'A new owner gets a fresh key, printed once on stdout; a known owner is (re)activated with its existing key.'
    ].join('\n'))
    .options({
      owner: { type: 'string', describe: 'Owner of the key: 1-64 characters, no whitespace or control characters' },
      inactive: { type: 'boolean', describe: 'Deactivate the owner\'s key without removing it' },
      key: { type: 'string', describe: 'Set this exact key for the owner (replaces its key; refused if another owner holds it)' },
      rotate: { type: 'boolean', describe: 'Replace the owner\'s key with a fresh one, printed on stdout' },
      'keys-file': { type: 'string', describe: `Key file [default: env ${KEYS_FILE_ENV}, else ${LEGACY_KEYS_FILE_ENV}, else ${DEFAULT_KEYS_FILE}]` },
      'expires-in': { type: 'string', describe: 'Expire the key this long from now (e.g. 90d, 12h, 30m); "never" removes the expiry' },
      scopes: { type: 'string', describe: `Comma-separated routes the key may call (${API_ROUTES.join(', ')}); "all" removes the restriction` },
      note: { type: 'string', describe: 'Free-text note stored with the key; "" removes it' },
      'rate-limit': { type: 'string', describe: `This key's own limit per client IP (${RATE_HINT}); "default" removes it` },
      list: { type: 'boolean', describe: 'List owners, active flag, created/expiry dates, scopes, rate limit and usage, with keys masked but the last 4 characters' },
      remove: { type: 'boolean', describe: 'Remove the owner and its key from the file' },
      'data-dir': { type: 'string', describe: `--list: the sidecar's --data-dir, holding its ${USAGE_FILE_NAME} [default: env ${DATA_DIR_ENV}]` },
      status: { type: 'string', describe: `--list: only keys that are ${LIST_STATUSES.join('|')} [default: all]` },
      sort: { type: 'string', describe: `--list: order by ${LIST_SORTS.join('|')} (created: newest first; last-used: latest first; requests: most today first) [default: file order]` },
      stale: { type: 'string', describe: '--list: only keys unused for at least this long, never-used ones included (e.g. 90d)' },
      json: { type: 'boolean', describe: '--list: one JSON document on stdout (keys still masked)' }
    })
    .example(`${PROGRAM} --owner party1`, 'new key for party1 (printed), or reactivate its existing key')
    .example(`${PROGRAM} --owner party1 --inactive`, 'deactivate party1\'s key')
    .example(`${PROGRAM} --owner party1 --rotate --expires-in 90d`, 'new key for party1, valid 90 days')
    .example(`${PROGRAM} --owner scanner --scopes get_heartbeat,get_peers_info`, 'key limited to two routes')
    .example(`${PROGRAM} --owner dashboard --rate-limit 60/minute`, 'give one key its own limit')
    .example(`${PROGRAM} --list`, 'show every owner, keys masked')
    .example(`${PROGRAM} --list --stale 90d --data-dir /data`, 'keys unused for 90 days')
    .example(`${PROGRAM} --list --status active --sort requests`, 'who made the most requests today')
    .epilogue('Exit codes: 0 done; 1 bad key file or refused change; 2 bad usage.')
    .strict()
    .exitProcess(false)
    .version(false)
    .help('help')
    .alias('help', 'h')
    .wrap(100) as unknown as ReturnType<typeof yargs>
}

interface Parsed { help?: string, argv?: Record<string, unknown> }

async function parseArgs (args: readonly string[]): Promise<Parsed> {
  const parser = buildParser()
  return await new Promise<Parsed>((resolve, reject) => {
    void parser.parse([...args], {}, (err: Error | undefined, argv: Record<string, unknown>, output: string) => {
      if (err != null) { reject(new UsageError(err.message)); return }
      if (argv.help === true) { resolve({ help: output }); return }
      resolve({ argv })
    })
  })
}

function stringOption (argv: Record<string, unknown>, name: string): string | undefined {
  const value = argv[name]
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw new UsageError(`--${name} given more than once`)
  if (typeof value !== 'string') throw new UsageError(`--${name} needs a value`)
  return value
}

function parseScopes (text: string): ApiRoute[] | null {
  if (text.trim() === 'all') return null
  const names = text.split(',').map(s => s.trim()).filter(s => s !== '')
  if (names.length === 0) throw new UsageError(`--scopes needs route names: ${API_ROUTES.join(', ')} (or "all")`)
  for (const name of names) {
    if (!(API_ROUTES as readonly string[]).includes(name)) {
      throw new UsageError(`--scopes: unknown route "${name}"; routes are ${API_ROUTES.join(', ')} (or "all")`)
    }
  }
  return [...new Set(names)] as ApiRoute[]
}

function toOptions (argv: Record<string, unknown>, rawArgs: readonly string[], env: AddApiKeyIo['env'], cwd: string): Options {
  // yargs reads `--inactive=yes` as false; a typo must not silently flip the meaning.
  const bad = badBooleanToken(rawArgs, BOOLEAN_FLAGS)
  if (bad !== undefined) throw new UsageError(`--${bad.flag} is a switch and takes no value`)

  const given = (name: string): boolean => argv[name] !== undefined && argv[name] !== false
  const owner = stringOption(argv, 'owner')
  const key = stringOption(argv, 'key')
  const keysFileFlag = stringOption(argv, 'keys-file')
  const expiresIn = stringOption(argv, 'expires-in')
  const scopesText = stringOption(argv, 'scopes')
  const note = stringOption(argv, 'note')
  const rateLimitText = stringOption(argv, 'rate-limit')
  const list = argv.list === true
  const remove = argv.remove === true
  const inactive = argv.inactive === true
  const rotate = argv.rotate === true

  if (list) {
    const others = ['owner', 'remove', ...CHANGE_OPTIONS].filter(given)
    if (others.length > 0) throw new UsageError(`--list takes no other option than --keys-file, --${LIST_OPTIONS.join(', --')} (got --${others.join(', --')})`)
  } else {
    const listOnly = LIST_OPTIONS.filter(given)
    if (listOnly.length > 0) throw new UsageError(`--${listOnly.join(', --')} ${listOnly.length === 1 ? 'goes' : 'go'} with --list only`)
    if (owner === undefined) throw new UsageError('--owner is required (or --list)')
    const problem = checkOwnerName(owner)
    if (problem !== undefined) throw new UsageError(`--owner ${problem}`)
  }
  if (remove) {
    const others = CHANGE_OPTIONS.filter(given)
    if (others.length > 0) throw new UsageError(`--remove cannot be combined with --${others.join(', --')}`)
  }
  if (rotate && key !== undefined) throw new UsageError('--rotate and --key cannot be combined: --rotate generates the key, --key sets it')
  if (key !== undefined) {
    const problem = checkApiKeyText(key)
    if (problem !== undefined) throw new UsageError(`--key ${problem}`)
  }

  let expiresInMs: number | null | undefined
  if (expiresIn !== undefined) {
    if (expiresIn.trim() === 'never') {
      expiresInMs = null
    } else {
      const ms = parseDuration(expiresIn.trim())
      if (ms === undefined || ms <= 0) throw new UsageError(`--expires-in expects ${DURATION_HINT} (or "never"), got "${expiresIn}"`)
      expiresInMs = ms
    }
  }
  const scopes = scopesText === undefined ? undefined : parseScopes(scopesText)
  let rateLimit: string | null | undefined
  if (rateLimitText !== undefined) {
    if (rateLimitText.trim() === 'default') {
      rateLimit = null
    } else {
      // the key file keeps the admin's wording; the sidecar parses it with the same parser
      if (parseRate(rateLimitText) === undefined) throw new UsageError(`--rate-limit expects ${RATE_HINT} (or "default"), got "${rateLimitText}"`)
      rateLimit = rateLimitText.trim()
    }
  }

  // The sidecar's order and resolution (SPEC §2), so the CLI edits the file the running sidecar reads.
  let keysFile: string
  try {
    keysFile = resolveKeysFile({ flag: keysFileFlag, env, cwd }).path
  } catch (err) {
    if (err instanceof KeysFilePathError) throw new UsageError(err.message)
    throw err
  }

  return {
    ...(owner === undefined ? {} : { owner }),
    inactive,
    ...(key === undefined ? {} : { key }),
    rotate,
    keysFile,
    ...(expiresInMs === undefined ? {} : { expiresInMs }),
    ...(scopes === undefined ? {} : { scopes }),
    ...(note === undefined ? {} : { note }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    list,
    remove,
    ...(list ? { listing: toListOptions(argv, env, cwd) } : {})
  }
}

function oneOf<T extends string> (name: string, text: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(text)) throw new UsageError(`--${name} expects ${values.join('|')}, got "${text}"`)
  return text as T
}

function toListOptions (argv: Record<string, unknown>, env: AddApiKeyIo['env'], cwd: string): ListOptions {
  const status = oneOf('status', stringOption(argv, 'status') ?? 'all', LIST_STATUSES)
  const sortText = stringOption(argv, 'sort')
  const sort = sortText === undefined ? undefined : oneOf('sort', sortText, LIST_SORTS)
  const staleText = stringOption(argv, 'stale')
  let staleMs: number | undefined
  if (staleText !== undefined) {
    staleMs = parseDuration(staleText.trim())
    if (staleMs === undefined || staleMs <= 0) throw new UsageError(`--stale expects ${DURATION_HINT}, got "${staleText}"`)
  }
  // The sidecar's data dir: the flag, else the variable the sidecar reads (SPEC §3).
  const dataDirFlag = stringOption(argv, 'data-dir')
  const envDir = env[DATA_DIR_ENV]
  const dataDir = dataDirFlag ?? (envDir === '' ? undefined : envDir)
  if (dataDir !== undefined && (dataDir === '' || dataDir.includes('\0'))) throw new UsageError(`--data-dir: expected a directory path, got ${JSON.stringify(dataDir.slice(0, 80))}`)
  return {
    ...(dataDir === undefined ? {} : { usageFile: join(isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir), USAGE_FILE_NAME) }),
    status,
    ...(sort === undefined ? {} : { sort }),
    ...(staleMs === undefined ? {} : { staleMs }),
    json: argv.json === true
  }
}

/** `****` and the last 4 characters; keys under 12 characters are fully masked (4 would give too much away). */
function maskKey (key: string): string {
  return key.length >= 12 ? `****${key.slice(-4)}` : '****'
}

function formatTable (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, [...cell].length) })
  return rows.map(row => row.map((cell, i) => i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)).join('  ').trimEnd()).join('\n') + '\n'
}

/** `expired` for an active key past its `expires_at`, else `active` / `inactive` by its flag. */
function keyStatus (entry: ApiKeyEntry, now: number): Exclude<ListStatus, 'all'> {
  if (entry.active === false) return 'inactive'
  return isKeyExpired(entry, now) ? 'expired' : 'active'
}

/** The usage file's counts, or `undefined` with the one line that says why there are none. */
async function loadUsage (listing: ListOptions): Promise<{ owners?: Record<string, OwnerUsage>, note?: string }> {
  if (listing.usageFile === undefined) return { note: `no usage shown: give --data-dir (the sidecar's) or set ${DATA_DIR_ENV}` }
  try {
    const content = await readUsageFile(listing.usageFile)
    if (content === undefined) return { note: `no usage recorded yet: ${listing.usageFile} does not exist` }
    return { owners: content.owners }
  } catch (err) {
    if (!(err instanceof UsageFileError)) throw err
    return { note: `no usage shown: ${err.message}` }
  }
}

interface ListedKey {
  entry: ApiKeyEntry
  status: Exclude<ListStatus, 'all'>
  usage?: OwnerUsage
  lastUsedMs: number | undefined
  today: number
}

const byOrder: Record<ListSort, (a: ListedKey, b: ListedKey) => number> = {
  owner: (a, b) => a.entry.owner < b.entry.owner ? -1 : a.entry.owner > b.entry.owner ? 1 : 0,
  created: (a, b) => (createdMs(b.entry) ?? 0) - (createdMs(a.entry) ?? 0),
  'last-used': (a, b) => (b.lastUsedMs ?? -1) - (a.lastUsedMs ?? -1),
  requests: (a, b) => (b.today - a.today) || ((b.usage?.requests ?? 0) - (a.usage?.requests ?? 0))
}

/** The key file's created_at, read as the key store reads timestamps (no zone: UTC); undefined if absent or unreadable. */
function createdMs (entry: ApiKeyEntry): number | undefined {
  return entry.created_at === undefined ? undefined : parseTimestamp(entry.created_at)
}

/** Unused for `staleMs`: its last use is that old, or it was never used and was created that long ago (or when, is unknown). */
function isStale (k: ListedKey, staleMs: number, now: number): boolean {
  const since = k.lastUsedMs ?? createdMs(k.entry)
  return since === undefined || now - since >= staleMs
}

async function list (opts: Options, io: AddApiKeyIo, now: number): Promise<void> {
  const listing = opts.listing as ListOptions
  const entries = await readKeyFile(opts.keysFile)
  const { owners, note } = await loadUsage(listing)
  // Without usage every key would look never used: --stale would name them all, and a script
  // removing stale keys would remove every key. Refuse instead of answering wrongly.
  const needsUsage = listing.staleMs !== undefined ? '--stale' : listing.sort === 'last-used' || listing.sort === 'requests' ? `--sort ${listing.sort}` : undefined
  if (owners === undefined && needsUsage !== undefined) throw new RefusedError(`${needsUsage} needs the sidecar's usage file: ${note ?? 'none found'}`)
  const all: ListedKey[] = entries.map((entry) => {
    const usage = owners?.[entry.owner]
    const lastUsedMs = usage?.last_used_at == null ? undefined : parseTimestamp(usage.last_used_at)
    return { entry, status: keyStatus(entry, now), ...(usage === undefined ? {} : { usage }), lastUsedMs, today: usage === undefined ? 0 : requestsToday(usage, now) }
  })
  const shown = all
    .filter(k => listing.status === 'all' || k.status === listing.status)
    .filter(k => listing.staleMs === undefined || isStale(k, listing.staleMs, now))
  // Array.prototype.sort is stable: ties keep the file's order.
  if (listing.sort !== undefined) shown.sort(byOrder[listing.sort])
  const summary = {
    active: all.filter(k => k.status === 'active').length,
    inactive: all.filter(k => k.status === 'inactive').length,
    expired: all.filter(k => k.status === 'expired').length,
    requests_today: owners === undefined ? null : all.reduce((n, k) => n + k.today, 0)
  }

  if (listing.json) {
    io.stdout.write(JSON.stringify({
      keys: shown.map(k => ({
        owner: k.entry.owner,
        key: maskKey(k.entry.key),
        status: k.status,
        active: k.entry.active !== false,
        created_at: k.entry.created_at ?? null,
        expires_at: k.entry.expires_at ?? null,
        scopes: k.entry.scopes ?? null,
        rate_limit: k.entry.rate_limit ?? null,
        note: k.entry.note ?? null,
        usage: owners === undefined
          ? null
          : {
              requests: k.usage?.requests ?? 0,
              requests_today: k.today,
              requests_week: k.usage === undefined ? 0 : requestsThisWeek(k.usage, now),
              last_used_at: k.usage?.last_used_at ?? null,
              last_ip: k.usage?.last_ip ?? null,
              forbidden: k.usage?.forbidden ?? 0,
              rate_limited: k.usage?.rate_limited ?? 0
            }
      })),
      summary,
      usage_file: listing.usageFile ?? null,
      ...(note === undefined ? {} : { usage_note: note })
    }, null, 2) + '\n')
    return
  }

  if (note !== undefined) io.stderr.write(`${PROGRAM}: ${note}\n`)
  if (entries.length === 0) {
    io.stderr.write(`${PROGRAM}: no keys in ${opts.keysFile}\n`)
    return
  }
  // RATE appears when a key has its own limit, the usage columns when there is a usage file.
  const withRate = entries.some(e => e.rate_limit !== undefined)
  const header = ['OWNER', 'ACTIVE', 'CREATED', 'EXPIRES', 'SCOPES', 'KEY']
  if (withRate) header.push('RATE')
  if (owners !== undefined) header.push('REQUESTS', 'TODAY', 'WEEK', 'LAST_USED', 'LAST_IP', '403', '429')
  header.push('NOTE')
  const rows = [header]
  for (const k of shown) {
    const e = k.entry
    const expires = e.expires_at === undefined ? '-' : e.expires_at + (isKeyExpired(e, now) ? ' (expired)' : '')
    const row = [
      e.owner,
      e.active === false ? 'no' : 'yes',
      e.created_at ?? '-',
      expires,
      e.scopes === undefined ? 'all' : e.scopes.join(','),
      maskKey(e.key)
    ]
    if (withRate) row.push(e.rate_limit ?? 'default')
    if (owners !== undefined) {
      const u = k.usage
      row.push(String(u?.requests ?? 0), String(k.today), String(u === undefined ? 0 : requestsThisWeek(u, now)),
        u?.last_used_at ?? 'never', u?.last_ip ?? '-', String(u?.forbidden ?? 0), String(u?.rate_limited ?? 0))
    }
    // One row per entry: a note's line breaks would break the table.
    row.push((e.note ?? '').replace(/[\r\n\t]+/g, ' '))
    rows.push(row)
  }
  if (shown.length > 0) io.stdout.write(formatTable(rows))
  else io.stderr.write(`${PROGRAM}: no key matches\n`)
  // On stderr like every message: stdout stays the table alone, for scripts.
  io.stderr.write(`${PROGRAM}: ${summary.active} active, ${summary.inactive} inactive, ${summary.expired} expired` +
    (summary.requests_today === null ? '' : `; ${summary.requests_today} requests today (UTC)`) + '\n')
}

interface ChangeResult {
  /** The key to print on stdout: set only when one was generated. */
  printKey?: string
  message: string
  warnings: string[]
}

function isoIn (now: number, ms: number): string {
  const when = new Date(now + ms)
  if (Number.isNaN(when.getTime())) throw new UsageError('--expires-in is too far in the future')
  return when.toISOString()
}

function applyOptionalFields (entry: ApiKeyEntry, opts: Options, now: number): void {
  if (opts.expiresInMs === null) delete entry.expires_at
  else if (opts.expiresInMs !== undefined) entry.expires_at = isoIn(now, opts.expiresInMs)
  if (opts.scopes === null) delete entry.scopes
  else if (opts.scopes !== undefined) entry.scopes = [...opts.scopes]
  if (opts.note === '') delete entry.note
  else if (opts.note !== undefined) entry.note = opts.note
  if (opts.rateLimit === null) delete entry.rate_limit
  else if (opts.rateLimit !== undefined) entry.rate_limit = opts.rateLimit
}

function freshKey (owner: string, entries: readonly ApiKeyEntry[]): string {
  // 128 random bits never collide in practice; the check is there so the file stays valid regardless.
  for (let i = 0; i < 3; i++) {
    const key = generateApiKey(owner)
    if (!entries.some(e => e.key === key)) return key
  }
  throw new RefusedError('could not generate a unique key')
}

async function change (opts: Options, io: AddApiKeyIo, now: number): Promise<ChangeResult> {
  const owner = opts.owner as string
  let result: ChangeResult | undefined
  // Validation of the mutation's input: a usage error found while parsing the options
  // (e.g. --expires-in too far) is thrown before the lock is taken.
  if (opts.expiresInMs !== undefined && opts.expiresInMs !== null) isoIn(now, opts.expiresInMs)

  await updateKeyFile(opts.keysFile, (entries) => {
    const index = entries.findIndex(e => e.owner === owner)
    const existing = index === -1 ? undefined : entries[index]
    const warnings: string[] = []

    if (opts.remove) {
      if (existing === undefined) throw new RefusedError(`owner "${owner}" is not in ${opts.keysFile}; nothing removed`)
      result = { message: `removed owner "${owner}"`, warnings }
      return entries.filter((_, i) => i !== index)
    }

    if (opts.key !== undefined) {
      const holder = entries.find(e => e.key === opts.key && e.owner !== owner)
      if (holder !== undefined) throw new RefusedError(`refused: that key is already held by owner "${holder.owner}"`)
      if (opts.key.length < 16) warnings.push('warning: a key shorter than 16 characters is easy to guess')
    }

    if (existing === undefined) {
      if (opts.rotate) throw new RefusedError(`owner "${owner}" is not in ${opts.keysFile}; run without --rotate to create it`)
      const key = opts.key ?? freshKey(owner, entries)
      const entry: ApiKeyEntry = { owner, key, active: !opts.inactive, created_at: new Date(now).toISOString() }
      applyOptionalFields(entry, opts, now)
      result = {
        ...(opts.key === undefined ? { printKey: key } : {}),
        message: `added owner "${owner}" (${opts.inactive ? 'inactive' : 'active'})${opts.key === undefined ? '' : ' with the given key'}${rateNote(opts.rateLimit)}`,
        warnings
      }
      return [...entries, entry]
    }

    const entry: ApiKeyEntry = { ...existing }
    let keyNote = 'its existing key kept'
    if (opts.rotate) {
      entry.key = freshKey(owner, entries)
      keyNote = 'new key generated'
    } else if (opts.key !== undefined) {
      keyNote = opts.key === existing.key ? 'the given key is already its key' : 'key replaced by the given key'
      entry.key = opts.key
    }
    const wasActive = existing.active !== false
    entry.active = !opts.inactive
    applyOptionalFields(entry, opts, now)
    const state = opts.inactive ? (wasActive ? 'deactivated' : 'already inactive') : (wasActive ? 'already active' : 're-activated')
    if (!opts.inactive && isKeyExpired(entry, now)) {
      warnings.push(`warning: the key of "${owner}" expired at ${entry.expires_at}; use --expires-in to extend it`)
    }
    result = {
      ...(opts.rotate ? { printKey: entry.key } : {}),
      message: `owner "${owner}" ${state}, ${keyNote} (key ${maskKey(entry.key)})${rateNote(opts.rateLimit)}`,
      warnings
    }
    const next = [...entries]
    next[index] = entry
    return next
  })
  if (result === undefined) throw new Error('update finished without a result')
  return result
}

/** What a `--rate-limit` did, for the one-line message; nothing when it was not given. */
function rateNote (rateLimit: string | null | undefined): string {
  if (rateLimit === undefined) return ''
  return rateLimit === null ? ', rate limit back to the default' : `, rate limit ${rateLimit}`
}

async function warnIfExposed (file: string, io: AddApiKeyIo): Promise<void> {
  try {
    const s = await stat(file)
    if (process.platform !== 'win32' && (s.mode & 0o077) !== 0) {
      io.stderr.write(`${PROGRAM}: warning: ${file} is readable by other users (mode ${(s.mode & 0o777).toString(8)}); chmod 600 it\n`)
    }
  } catch {
    // Removed meanwhile, or not stat-able: nothing to warn about.
  }
}

/**
 * Runs the CLI on `args` (the arguments after the program name) and returns the exit
 * code. Never throws; never writes a stack trace.
 */
export async function runAddApiKey (args: readonly string[], io: AddApiKeyIo): Promise<number> {
  const now = (io.now ?? Date.now)()
  try {
    const parsed = await parseArgs(args)
    if (parsed.help !== undefined) {
      io.stdout.write(parsed.help.endsWith('\n') ? parsed.help : parsed.help + '\n')
      return EXIT_OK
    }
    const opts = toOptions(parsed.argv ?? {}, args, io.env, io.cwd ?? process.cwd())
    if (opts.list) {
      await list(opts, io, now)
      return EXIT_OK
    }
    const result = await change(opts, io, now)
    if (result.printKey !== undefined) io.stdout.write(result.printKey + '\n')
    io.stderr.write(`${PROGRAM}: ${result.message} in ${opts.keysFile}\n`)
    for (const warning of result.warnings) io.stderr.write(`${PROGRAM}: ${warning}\n`)
    await warnIfExposed(opts.keysFile, io)
    return EXIT_OK
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${PROGRAM}: ${oneLine(err.message)} (see --help)\n`)
      return EXIT_USAGE
    }
    if (err instanceof RefusedError || err instanceof KeyFileError) {
      io.stderr.write(`${PROGRAM}: ${oneLine(err.message)}\n`)
      return EXIT_REFUSED
    }
    const message = err instanceof Error ? err.message : String(err)
    io.stderr.write(`${PROGRAM}: unexpected error: ${oneLine(message)}\n`)
    return EXIT_REFUSED
  }
}

function oneLine (text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/** Entry point used by `bin/subnet-add-api-key.js`: `main(process.argv)`. Sets `process.exitCode`. */
export async function main (argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await runAddApiKey(argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr })
  } catch {
    process.exitCode = EXIT_REFUSED
  }
}
