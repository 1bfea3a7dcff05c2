/**
 * `subnet-add-api-key --list` with the sidecar's usage file (SPEC §3), and `--rate-limit`, run as
 * the real executable against real files: text and --json, each --status and --sort, --stale, the
 * summary, the usage file found by --data-dir or SUBNET_BOOTNODE_DATA_DIR, and without one.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { runAddApiKey } from '../../src/cli/add-api-key.js'
import { envName } from '../../src/config/flags.js'
import { DATA_DIR_ENV, isoWeek, utcDay } from '../../src/usage/index.js'
import { ADD_KEY_BIN, runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/fs.js'
import { readEntries, tempKeyFile } from '../helpers/keys.js'
import type { ExecutionContext } from 'ava'

const DAY = 86_400_000

interface Fixture { keysFile: string, dataDir: string, now: number }

async function fixture (t: ExecutionContext): Promise<Fixture> {
  const keysFile = await tempKeyFile(t, [
    { owner: 'alpha', key: 'key-alpha-0123456789abcdef', active: true, created_at: '2025-01-01T00:00:00Z' },
    { owner: 'beta', key: 'key-beta-fedcba9876543210', active: false },
    { owner: 'gamma', key: 'key-gamma-00000000aaaa1111', active: true, expires_at: '2001-01-01T00:00:00Z' },
    { owner: 'delta', key: 'key-delta-11111111bbbb2222', rate_limit: '60/minute', created_at: '2026-06-01T00:00:00Z' }
  ])
  const dataDir = await tempDir(t)
  const now = Date.now()
  const used = (ms: number, requests: number, today: number, ip: string): Record<string, unknown> => ({
    requests, day: utcDay(ms), requests_today: today, week: isoWeek(ms), requests_week: today, last_used_at: new Date(ms).toISOString(), last_ip: ip, forbidden: 1, rate_limited: 2
  })
  // gamma was never used: it has no counts
  await writeFile(join(dataDir, 'key-usage.json'), JSON.stringify({
    version: 1,
    updated_at: new Date(now).toISOString(),
    owners: { alpha: used(now - 1000, 100, 5, '127.0.0.2'), beta: used(now - 200 * DAY, 50, 9, '127.0.0.3'), delta: used(now - 100 * DAY, 7, 3, '127.0.0.4') }
  }))
  return { keysFile, dataDir, now }
}

async function list (f: Fixture, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runCli(ADD_KEY_BIN, ['--list', '--keys-file', f.keysFile, ...args], { env })
}

/**
 * The CLI in this process (its `runAddApiKey` with real files and a given environment): the
 * matrices below would spawn a dozen executables; the executable itself is covered by the other tests.
 */
async function inProcess (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runAddApiKey(args, { env, stdout: { write: (s: string) => { stdout += s } }, stderr: { write: (s: string) => { stderr += s } } })
  return { code, stdout, stderr }
}

const owners = (stdout: string): string[] => stdout.trim().split('\n').slice(1).map(l => l.split(/\s+/)[0] ?? '')

test('text: usage and RATE columns, the summary on stderr, keys masked', async t => {
  const f = await fixture(t)
  const r = await list(f, ['--data-dir', f.dataDir])
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  t.regex(lines[0] ?? '', /^OWNER\s+ACTIVE\s+CREATED\s+EXPIRES\s+SCOPES\s+KEY\s+RATE\s+REQUESTS\s+TODAY\s+WEEK\s+LAST_USED\s+LAST_IP\s+403\s+429\s+NOTE$/)
  t.regex(lines[1] ?? '', /^alpha\s+yes\s+2025-01-01T00:00:00Z\s+-\s+all\s+\*\*\*\*cdef\s+default\s+100\s+5\s+5\s+\S+Z\s+127\.0\.0\.2\s+1\s+2$/)
  t.regex(lines[3] ?? '', /^gamma\s+yes\s+-\s+2001-01-01T00:00:00Z \(expired\)\s+all\s+\*\*\*\*1111\s+default\s+0\s+0\s+0\s+never\s+-\s+0\s+0$/)
  t.regex(lines[4] ?? '', /^delta\s+yes\s+2026-06-01T00:00:00Z\s+-\s+all\s+\*\*\*\*2222\s+60\/minute\s+7\s+0\s+0\s+/, 'counts of an earlier day/week are not today\'s')
  t.is(r.stderr, 'subnet-add-api-key: 2 active, 1 inactive, 1 expired; 5 requests today (UTC)\n')
  for (const secret of ['0123456789ab', 'fedcba987654', '00000000aaaa', '11111111bbbb']) t.false(r.stdout.includes(secret))
})

test('--status, --sort and --stale select and order; the variable finds the usage file', async t => {
  const f = await fixture(t)
  t.is(DATA_DIR_ENV, envName('data-dir'), 'the variable the sidecar reads for --data-dir')
  const env = { [DATA_DIR_ENV]: f.dataDir }
  const cases: Array<[string[], string[]]> = [
    [['--status', 'active'], ['alpha', 'delta']],
    [['--status', 'inactive'], ['beta']],
    [['--status', 'expired'], ['gamma']],
    [['--status', 'all', '--sort', 'owner'], ['alpha', 'beta', 'delta', 'gamma']],
    [['--sort', 'created'], ['delta', 'alpha', 'beta', 'gamma']],
    [['--sort', 'last-used'], ['alpha', 'delta', 'beta', 'gamma']],
    [['--sort', 'requests'], ['alpha', 'beta', 'delta', 'gamma']],
    [['--stale', '90d'], ['beta', 'gamma', 'delta']],
    [['--stale', '150d', '--sort', 'owner'], ['beta', 'gamma']]
  ]
  for (const [args, expected] of cases) {
    const r = await inProcess(['--list', '--keys-file', f.keysFile, ...args], env)
    t.is(r.code, 0, r.stderr)
    t.deepEqual(owners(r.stdout), expected, args.join(' '))
  }
  // and through the executable, with the variable
  t.deepEqual(owners((await list(f, ['--stale', '90d', '--status', 'active'], env)).stdout), ['delta'])
})

test('--stale counts a never-used key from its creation: one made today is not stale, one with no created_at is', async t => {
  const keysFile = await tempKeyFile(t, [
    { owner: 'fresh', key: 'key-fresh-0123456789abcdef', active: true, created_at: new Date().toISOString() },
    { owner: 'old', key: 'key-old-fedcba9876543210ab', active: true, created_at: '2020-01-01T00:00:00' },
    { owner: 'undated', key: 'key-undated-00000000aaaa11', active: true }
  ])
  const dataDir = await tempDir(t)
  await writeFile(join(dataDir, 'key-usage.json'), JSON.stringify({ version: 1, updated_at: new Date().toISOString(), owners: {} }))
  const r = await inProcess(['--list', '--keys-file', keysFile, '--data-dir', dataDir, '--stale', '1d'])
  t.is(r.code, 0, r.stderr)
  t.deepEqual(owners(r.stdout), ['old', 'undated'])
})

test('--json: masked keys, usage, summary; one document on stdout', async t => {
  const f = await fixture(t)
  const r = await list(f, ['--data-dir', f.dataDir, '--json', '--stale', '90d', '--sort', 'last-used'])
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const doc = JSON.parse(r.stdout) as { keys: Array<Record<string, any>>, summary: unknown, usage_file: string }
  t.deepEqual(doc.keys.map(k => k.owner), ['delta', 'beta', 'gamma'])
  t.like(doc.keys[0], { key: '****2222', status: 'active', active: true, rate_limit: '60/minute', created_at: '2026-06-01T00:00:00Z', expires_at: null, scopes: null })
  t.like(doc.keys[0]?.usage, { requests: 7, requests_today: 0, requests_week: 0, last_ip: '127.0.0.4', forbidden: 1, rate_limited: 2 })
  t.like(doc.keys[1], { owner: 'beta', status: 'inactive', active: false })
  t.like(doc.keys[2], { owner: 'gamma', status: 'expired', usage: { requests: 0, last_used_at: null, last_ip: null } })
  t.deepEqual(doc.summary, { active: 2, inactive: 1, expired: 1, requests_today: 5 })
  t.is(doc.usage_file, join(f.dataDir, 'key-usage.json'))
  t.false(/0123456789ab|fedcba987654|00000000aaaa|11111111bbbb/.test(r.stdout), 'keys stay masked')
})

test('without a usage file: one line says so, and the list still comes', async t => {
  const f = await fixture(t)
  const none = await list(f, [])
  t.is(none.code, 0)
  t.deepEqual(owners(none.stdout), ['alpha', 'beta', 'gamma', 'delta'])
  t.false(none.stdout.includes('REQUESTS'), 'no usage columns')
  t.is(none.stderr.split('\n')[0], 'subnet-add-api-key: no usage shown: give --data-dir (the sidecar\'s) or set SUBNET_BOOTNODE_DATA_DIR')
  t.regex(none.stderr, /2 active, 1 inactive, 1 expired\n$/)

  const empty = await tempDir(t)
  const missing = await list(f, ['--json', '--data-dir', empty])
  t.is(missing.code, 0)
  const doc = JSON.parse(missing.stdout) as { keys: Array<{ usage: unknown }>, usage_note: string, summary: { requests_today: unknown } }
  t.is(doc.keys.length, 4)
  t.true(doc.keys.every(k => k.usage === null))
  t.is(doc.summary.requests_today, null)
  t.regex(doc.usage_note, /no usage recorded yet: .*key-usage\.json does not exist/)

  // Without usage every key would look unused: --stale and the usage sorts refuse rather than answer wrongly.
  for (const args of [['--stale', '90d'], ['--sort', 'requests', '--data-dir', empty], ['--sort', 'last-used']]) {
    const refused = await list(f, args)
    t.is(refused.code, 1, args.join(' '))
    t.is(refused.stdout, '', args.join(' '))
    t.regex(refused.stderr, /^subnet-add-api-key: --(stale|sort \S+) needs the sidecar's usage file: no usage (shown|recorded yet)[^\n]*\n$/, args.join(' '))
  }
  t.is((await list(f, ['--sort', 'owner'])).code, 0, 'sorting by owner needs no usage')
})

test('--rate-limit sets and clears a key\'s own limit; bad values and misplaced list options are usage errors', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-000000000001' }])
  const set = await runCli(ADD_KEY_BIN, ['--owner', 'a', '--rate-limit', '60/minute', '--keys-file', file])
  t.is(set.code, 0, set.stderr)
  t.is((await readEntries(file))[0]?.rate_limit, '60/minute')
  t.regex(set.stderr, /owner "a" already active, its existing key kept \(key \*{4}0001\), rate limit 60\/minute/)
  const cleared = await runCli(ADD_KEY_BIN, ['--owner', 'a', '--rate-limit', 'default', '--keys-file', file])
  t.is(cleared.code, 0, cleared.stderr)
  t.false('rate_limit' in ((await readEntries(file))[0] ?? {}))
  t.regex(cleared.stderr, /, rate limit back to the default/)
  const bad: Array<[string[], RegExp]> = [
    [['--owner', 'a', '--rate-limit', 'lots'], /--rate-limit expects N\/second\|minute\|hour\|day, e\.g\. 5\/minute \(or "default"\), got "lots"/],
    [['--list', '--status', 'stale'], /--status expects active\|inactive\|expired\|all, got "stale"/],
    [['--list', '--sort', 'age'], /--sort expects owner\|created\|last-used\|requests, got "age"/],
    [['--list', '--stale', '90'], /--stale expects a duration such as/],
    [['--owner', 'a', '--json'], /--json goes with --list only/]
  ]
  for (const [args, message] of bad) {
    const r = await inProcess([...args, '--keys-file', file])
    t.is(r.code, 2, args.join(' '))
    t.regex(r.stderr, message)
    t.is(r.stderr.trim().split('\n').length, 1, 'one line')
  }
  t.false('rate_limit' in ((await readEntries(file))[0] ?? {}), 'the file untouched')
})
