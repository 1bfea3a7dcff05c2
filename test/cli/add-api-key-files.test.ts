/**
 * `subnet-add-api-key` against malformed key files (SPEC §2: never overwritten, exit 1
 * naming the file, entry and field) and many admins at once (no lost update).
 */
import { readFile } from 'node:fs/promises'
import test from 'ava'
import { ADD_KEY_BIN, runCli } from '../helpers/cli.js'
import { readEntries, tempKeyFile } from '../helpers/keys.js'

const SECRET = 'key-a-0123456789abcdef0123'

const malformed: Array<[string, string, RegExp]> = [
  ['bad JSON', `[\n  {"owner": "a", "key": "${SECRET}"},\n  {"owner": "b", "key": "kb",}\n]\n`, /keys\.json: invalid JSON at line 3, column 30: expected a double-quoted property name$/],
  ['empty file', '', /keys\.json: the file is empty/],
  ['not an array', `{"owner": "a", "key": "${SECRET}"}`, /keys\.json: must be a JSON array of entries, found an object$/],
  ['entry not an object', `[{"owner": "a", "key": "${SECRET}"}, "b"]`, /keys\.json: entry 2 \(line 1\): must be an object, found a string$/],
  ['missing owner', `[{"key": "${SECRET}"}]`, /keys\.json: entry 1 \(line 1\): "owner" must be a non-empty string$/],
  ['empty owner', `[{"owner": "", "key": "${SECRET}"}]`, /entry 1 \(line 1\): "owner" must be a non-empty string$/],
  ['missing key', `[\n{"owner": "a", "key": "${SECRET}"},\n{"owner": "b"},\n{"owner": "c"}\n]`, /keys\.json: entry 2 \(line 3\): "key" must be a non-empty string$/],
  ['empty key', `[{"owner": "a", "key": ""}]`, /entry 1 \(line 1\): "key" must be a non-empty string$/],
  ['non-boolean active', `[{"owner": "a", "key": "${SECRET}", "active": "true"}]`, /entry 1 \(line 1\): "active" must be true or false, found a string$/],
  ['bad expires_at', `[{"owner": "a", "key": "${SECRET}", "expires_at": "soon"}]`, /entry 1 \(line 1\): "expires_at" must be an ISO 8601 timestamp/],
  ['bad scopes', `[{"owner": "a", "key": "${SECRET}", "scopes": ["everything"]}]`, /entry 1 \(line 1\): "scopes" has unknown route "everything"/],
  ['duplicate owner', `[{"owner": "a", "key": "${SECRET}"}, {"owner": "a", "key": "kb"}]`, /entry 2 \(line 1\): "owner" duplicates the owner of entry 1$/],
  ['duplicate key', `[{"owner": "a", "key": "${SECRET}"}, {"owner": "b", "key": "${SECRET}"}]`, /entry 2 \(line 1\): "key" duplicates the key of entry 1$/]
]

// Each case runs one command, the commands taken in turn, to bound the number of processes.
const commands = [['--owner', 'new'], ['--owner', 'a', '--rotate'], ['--owner', 'a', '--remove'], ['--list'], ['--owner', 'a', '--inactive']]

for (const [index, [name, text, message]] of malformed.entries()) {
  test(`malformed file (${name}): exit 1, one line naming the fault, file byte-identical`, async t => {
    const file = await tempKeyFile(t, text)
    const before = await readFile(file)
    for (const args of [commands[index % commands.length] ?? []]) {
      const r = await runCli(ADD_KEY_BIN, [...args, '--keys-file', file])
      t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
      t.is(r.stdout, '')
      t.regex(r.stderr, /^subnet-add-api-key: [^\n]+\n$/, 'exactly one line')
      t.true(r.stderr.includes(`${file}: `), 'names the file')
      t.regex(r.stderr.trim(), message)
      t.false(r.stderr.includes(SECRET), 'never quotes a key')
    }
    t.true((await readFile(file)).equals(before), 'byte-identical')
  })
}

test('24 admins adding different owners at once: no update is lost', async t => {
  const file = await tempKeyFile(t, [{ owner: 'existing', key: 'key-existing-00000000001', team: 'kept' }])
  const owners = Array.from({ length: 24 }, (_, i) => `owner-${i}`)
  const runs = await Promise.all(owners.map(async owner => ({ owner, ...(await runCli(ADD_KEY_BIN, ['--owner', owner, '--keys-file', file], { timeoutMs: 40_000 })) })))
  for (const r of runs) t.is(r.code, 0, `${r.owner}: ${r.stderr}`)
  const entries = await readEntries(file)
  t.is(entries.length, owners.length + 1)
  t.deepEqual(entries[0], { owner: 'existing', key: 'key-existing-00000000001', team: 'kept' })
  const byOwner = new Map(entries.map(e => [e.owner, e.key]))
  for (const r of runs) t.is(byOwner.get(r.owner), r.stdout.trim(), `${r.owner}'s printed key is the stored one`)
  t.is(new Set(entries.map(e => e.key)).size, entries.length, 'keys unique')
})

test('concurrent changes to the same owner and to others all land consistently', async t => {
  const file = await tempKeyFile(t, [{ owner: 'shared', key: 'key-shared-00000000001', active: true }])
  const jobs: string[][] = [
    ['--owner', 'shared', '--note', 'from job'],
    ['--owner', 'shared', '--scopes', 'get_heartbeat'],
    ['--owner', 'shared', '--expires-in', '30d'],
    ...Array.from({ length: 5 }, (_, i) => ['--owner', `other-${i}`, '--inactive'])
  ]
  const runs = await Promise.all(jobs.map(async args => await runCli(ADD_KEY_BIN, [...args, '--keys-file', file], { timeoutMs: 40_000 })))
  for (const r of runs) t.is(r.code, 0, r.stderr)
  const entries = await readEntries(file)
  t.is(entries.length, 6)
  t.like(entries[0], { owner: 'shared', key: 'key-shared-00000000001', active: true, note: 'from job', scopes: ['get_heartbeat'] })
  t.is(typeof entries[0]?.expires_at, 'string', 'each field change landed')
  t.true(entries.slice(1).every(e => e.active === false))
})
