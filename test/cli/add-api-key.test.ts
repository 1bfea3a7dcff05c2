/**
 * `subnet-add-api-key` run as a child process through its real bin (SPEC §3), against
 * real key files in temp directories.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { ADD_KEY_BIN, runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/fs.js'
import { readEntries, tempKeyFile } from '../helpers/keys.js'
import type { ExecutionContext } from 'ava'

const KEY_RE = /^key-([^\s]+)-([0-9a-f]{32})$/

async function cli (args: string[], opts: { cwd?: string, env?: Record<string, string> } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runCli(ADD_KEY_BIN, args, opts)
}

/** Exit code 0 and the one stdout line (the key) when one was printed. */
async function ok (t: ExecutionContext, args: string[], opts: { cwd?: string, env?: Record<string, string> } = {}): Promise<string> {
  const r = await cli(args, opts)
  t.is(r.code, 0, r.stderr)
  t.false(/\n\s+at /.test(r.stderr), 'no stack trace')
  return r.stdout
}

function noStack (t: ExecutionContext, r: { stderr: string }): void {
  t.is(r.stderr.trim().split('\n').length, 1, `one line on stderr: ${r.stderr}`)
  t.false(r.stderr.includes('    at '), 'no stack trace')
}

test('new owner: a fresh 128-bit key printed alone on stdout, created 0600, active, created_at set', async t => {
  const file = await tempKeyFile(t)
  const before = Date.now()
  const out = await ok(t, ['--owner', 'party1', '--keys-file', file])
  const key = out.trim()
  t.is(out, key + '\n', 'only the key line on stdout')
  const m = KEY_RE.exec(key)
  t.truthy(m, key)
  t.is(m?.[1], 'party1')
  t.is((await stat(file)).mode & 0o777, 0o600)
  const [entry] = await readEntries(file)
  t.is(entry?.owner, 'party1')
  t.is(entry?.key, key)
  t.is(entry?.active, true)
  const created = Date.parse(String(entry?.created_at))
  t.true(created >= before - 1000 && created <= Date.now() + 1000)
  // Two new owners never get the same key.
  const other = (await ok(t, ['--owner', 'party2', '--keys-file', file])).trim()
  t.not(other, key)
  t.is(KEY_RE.exec(other)?.[1], 'party2')
})

test('known owner: --inactive deactivates, a bare --owner reactivates with the same key (no output key)', async t => {
  const file = await tempKeyFile(t)
  const key = (await ok(t, ['--owner', 'p', '--keys-file', file])).trim()
  t.is(await ok(t, ['--owner', 'p', '--inactive', '--keys-file', file]), '')
  t.like((await readEntries(file))[0], { owner: 'p', key, active: false })
  t.is(await ok(t, ['--owner', 'p', '--keys-file', file]), '', 'reactivation prints no key')
  const entries = await readEntries(file)
  t.is(entries.length, 1)
  t.like(entries[0], { owner: 'p', key, active: true })
})

test('--inactive on a new owner creates it inactive; its generated key is still printed once', async t => {
  const file = await tempKeyFile(t)
  const key = (await ok(t, ['--owner', 'later', '--inactive', '--keys-file', file])).trim()
  t.regex(key, KEY_RE)
  t.like((await readEntries(file))[0], { owner: 'later', key, active: false })
})

test('--key sets an exact key, for a new owner and over an existing key; nothing on stdout', async t => {
  const file = await tempKeyFile(t)
  t.is(await ok(t, ['--owner', 'a', '--key', 'key-a-provided-0001', '--keys-file', file]), '')
  t.like((await readEntries(file))[0], { owner: 'a', key: 'key-a-provided-0001', active: true })
  await ok(t, ['--owner', 'a', '--key', 'key-a-provided-0002', '--keys-file', file])
  const entries = await readEntries(file)
  t.is(entries.length, 1)
  t.like(entries[0], { owner: 'a', key: 'key-a-provided-0002', active: true })
})

test('--rotate replaces the key with a fresh one, printed; created_at and other fields kept', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-old-000000000', active: false, created_at: '2025-01-01T00:00:00Z', team: 'x' }])
  const key = (await ok(t, ['--owner', 'a', '--rotate', '--keys-file', file])).trim()
  t.regex(key, KEY_RE)
  t.not(key, 'key-a-old-000000000')
  t.deepEqual(await readEntries(file), [{ owner: 'a', key, active: true, created_at: '2025-01-01T00:00:00Z', team: 'x' }])
  const r = await cli(['--owner', 'ghost', '--rotate', '--keys-file', file])
  t.is(r.code, 1)
  t.regex(r.stderr, /owner "ghost" is not in .*run without --rotate to create it/)
  noStack(t, r)
})

test('a key held by another owner is refused with exit 1 and the file unchanged', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-shared-0000000001' }, { owner: 'b', key: 'key-b-0000000000002' }])
  const before = await readFile(file, 'utf8')
  for (const owner of ['b', 'c']) {
    const r = await cli(['--owner', owner, '--key', 'key-shared-0000000001', '--keys-file', file])
    t.is(r.code, 1)
    t.regex(r.stderr, /refused: that key is already held by owner "a"/)
    noStack(t, r)
  }
  t.is(await readFile(file, 'utf8'), before)
})

test('--expires-in writes an ISO 8601 expires_at; "never" removes it; bad durations are usage errors', async t => {
  const file = await tempKeyFile(t)
  const before = Date.now()
  await ok(t, ['--owner', 'a', '--expires-in', '90d', '--keys-file', file])
  const expires = Date.parse(String((await readEntries(file))[0]?.expires_at))
  const expected = before + 90 * 86_400_000
  t.true(Math.abs(expires - expected) < 60_000, `expires_at ${expires} ~ ${expected}`)
  t.regex(String((await readEntries(file))[0]?.expires_at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  await ok(t, ['--owner', 'a', '--expires-in', '12h', '--keys-file', file])
  const twelve = Date.parse(String((await readEntries(file))[0]?.expires_at))
  t.true(Math.abs(twelve - (Date.now() + 12 * 3_600_000)) < 60_000)
  await ok(t, ['--owner', 'a', '--expires-in', 'never', '--keys-file', file])
  t.false('expires_at' in ((await readEntries(file))[0] ?? {}))
  for (const bad of ['90', '1w', '-1d', '0s', 'soon']) {
    const r = await cli(['--owner', 'a', `--expires-in=${bad}`, '--keys-file', file])
    t.is(r.code, 2, bad)
    t.regex(r.stderr, /--expires-in expects a duration such as 500ms, 10s, 5m, 1h or 90d/)
  }
})

test('--scopes is validated and stored; "all" removes it; --note is stored and "" removes it', async t => {
  const file = await tempKeyFile(t)
  await ok(t, ['--owner', 'a', '--scopes', 'get_heartbeat, get_peers_info', '--note', 'grafana box', '--keys-file', file])
  t.like((await readEntries(file))[0], { scopes: ['get_heartbeat', 'get_peers_info'], note: 'grafana box' })
  const r = await cli(['--owner', 'a', '--scopes', 'get_heartbeat,get_everything', '--keys-file', file])
  t.is(r.code, 2)
  t.regex(r.stderr, /--scopes: unknown route "get_everything"; routes are get_heartbeat, get_bootnodes, get_peers_info/)
  noStack(t, r)
  await ok(t, ['--owner', 'a', '--scopes', 'all', '--note', '', '--keys-file', file])
  const entry = (await readEntries(file))[0] ?? {}
  t.false('scopes' in entry)
  t.false('note' in entry)
})

test('--list shows owners, active flag, dates and keys masked but the last 4', async t => {
  const file = await tempKeyFile(t, [
    { owner: 'alpha', key: 'key-alpha-0123456789abcdef', active: true, created_at: '2025-01-01T00:00:00Z' },
    { owner: 'beta', key: 'key-beta-fedcba9876543210', active: false, expires_at: '2001-01-01T00:00:00Z', scopes: ['get_heartbeat'] },
    { owner: 'gamma', key: 'short' }
  ])
  const out = await ok(t, ['--list', '--keys-file', file])
  const lines = out.trim().split('\n')
  t.is(lines.length, 4)
  t.regex(lines[0] ?? '', /^OWNER\s+ACTIVE\s+CREATED\s+EXPIRES\s+SCOPES\s+KEY/)
  t.regex(lines[1] ?? '', /^alpha\s+yes\s+2025-01-01T00:00:00Z\s+-\s+all\s+\*\*\*\*cdef/)
  t.regex(lines[2] ?? '', /^beta\s+no\s+-\s+2001-01-01T00:00:00Z \(expired\)\s+get_heartbeat\s+\*\*\*\*3210/)
  t.regex(lines[3] ?? '', /^gamma\s+yes\s+-\s+-\s+all\s+\*\*\*\*$/)
  for (const secret of ['0123456789ab', 'fedcba987654', 'short']) t.false(out.includes(secret))
  // A missing file lists nothing, successfully.
  const empty = await cli(['--list', '--keys-file', join(await tempDir(t), 'none.json')])
  t.is(empty.code, 0)
  t.is(empty.stdout, '')
})

test('--remove deletes the owner; removing an unknown owner is refused', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'ka', note: 'x' }, { owner: 'b', key: 'kb' }])
  t.is(await ok(t, ['--owner', 'a', '--remove', '--keys-file', file]), '')
  t.deepEqual(await readEntries(file), [{ owner: 'b', key: 'kb' }])
  const r = await cli(['--owner', 'a', '--remove', '--keys-file', file])
  t.is(r.code, 1)
  t.regex(r.stderr, /owner "a" is not in .*nothing removed/)
})

test('key file path: --keys-file, else SUBNET_BOOTNODE_KEYS_FILE, else BOOTNODE_KEYS_FILE, else ./bootnode_rest_keys.json (the sidecar\'s order)', async t => {
  const dir = await tempDir(t)
  const envFile = join(dir, 'from-env.json')
  const flagFile = join(dir, 'from-flag.json')
  await ok(t, ['--owner', 'env'], { cwd: dir, env: { BOOTNODE_KEYS_FILE: envFile } })
  t.is((await readEntries(envFile))[0]?.owner, 'env')
  await ok(t, ['--owner', 'flag', '--keys-file', flagFile], { cwd: dir, env: { BOOTNODE_KEYS_FILE: envFile } })
  t.is((await readEntries(flagFile))[0]?.owner, 'flag')
  t.is((await readEntries(envFile)).length, 1, 'the flag wins over the variable')
  const sidecarFile = join(dir, 'sidecar.json')
  await ok(t, ['--owner', 'shared'], { cwd: dir, env: { BOOTNODE_KEYS_FILE: envFile, SUBNET_BOOTNODE_KEYS_FILE: sidecarFile } })
  t.is((await readEntries(sidecarFile))[0]?.owner, 'shared', 'the file the sidecar reads wins, as in the sidecar')
  t.is((await readEntries(envFile)).length, 1)
  await ok(t, ['--owner', 'default'], { cwd: dir })
  t.is((await readEntries(join(dir, 'bootnode_rest_keys.json')))[0]?.owner, 'default')
  t.is((await stat(join(dir, 'bootnode_rest_keys.json'))).mode & 0o777, 0o600)
})

test('unknown fields survive CLI rewrites', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-000000000001', active: true, team: 'blue', meta: { tier: 2 } }, { owner: 'b', key: 'kb', x: [1] }])
  await ok(t, ['--owner', 'a', '--inactive', '--keys-file', file])
  await ok(t, ['--owner', 'c', '--keys-file', file])
  const entries = await readEntries(file)
  t.like(entries[0], { owner: 'a', active: false, team: 'blue', meta: { tier: 2 } })
  t.deepEqual(entries[1], { owner: 'b', key: 'kb', x: [1] })
})

const usageCases: Array<[string, string[], RegExp]> = [
  ['no arguments', [], /--owner is required \(or --list\)/],
  ['empty owner', ['--owner', ''], /--owner must not be empty/],
  ['owner with a space', ['--owner', 'a b'], /--owner must not contain whitespace or control characters/],
  ['owner with a control character', ['--owner', 'a\u0007b'], /--owner must not contain whitespace/],
  ['owner too long', ['--owner', 'x'.repeat(65)], /--owner must be at most 64 characters/],
  ['owner twice', ['--owner', 'a', '--owner', 'b'], /--owner given more than once/],
  ['--rotate with --key', ['--owner', 'a', '--rotate', '--key', 'k-123'], /--rotate and --key cannot be combined/],
  ['--inactive with --remove', ['--owner', 'a', '--inactive', '--remove'], /--remove cannot be combined with --inactive/],
  ['--list with --owner', ['--list', '--owner', 'a'], /--list takes no other option than --keys-file, --data-dir, --status, --sort, --stale, --json \(got --owner\)/],
  ['unknown flag', ['--owner', 'a', '--bogus'], /Unknown argument: bogus/],
  ['stray positional', ['--owner', 'a', 'extra'], /Unknown argument: extra/],
  ['a switch given a value', ['--owner', 'a', '--inactive=yes'], /--inactive is a switch and takes no value/],
  ['a key with a space', ['--owner', 'a', '--key', 'has space'], /--key must be visible ASCII/],
  ['empty scopes', ['--owner', 'a', '--scopes', ','], /--scopes needs route names/]
]

test('bad usage: exit 2, one line on stderr, the file untouched', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-000000000001' }])
  const before = await readFile(file, 'utf8')
  await Promise.all(usageCases.map(async ([name, args, message]) => {
    const r = await cli([...args, '--keys-file', file])
    t.is(r.code, 2, name)
    t.regex(r.stderr, message, name)
    t.regex(r.stderr, /^subnet-add-api-key: .* \(see --help\)\n$/, name)
    t.is(r.stdout, '', name)
  }))
  t.is(await readFile(file, 'utf8'), before)
})

test('--help documents every flag and exits 0', async t => {
  const r = await cli(['--help'])
  t.is(r.code, 0)
  for (const flag of ['--owner', '--inactive', '--key', '--rotate', '--keys-file', '--expires-in', '--scopes', '--note', '--list', '--remove', '--help']) {
    t.true(r.stdout.includes(flag), flag)
  }
  t.regex(r.stdout, /BOOTNODE_KEYS_FILE/)
  t.regex(r.stdout, /Exit codes: 0 done; 1 .*; 2 bad usage/)
})

test('a missing directory is one line and exit 1', async t => {
  const dir = await tempDir(t)
  const r = await cli(['--owner', 'a', '--keys-file', join(dir, 'no', 'such', 'keys.json')])
  t.is(r.code, 1)
  t.regex(r.stderr, /keys\.json: cannot lock: its directory does not exist\n$/)
  noStack(t, r)
})
