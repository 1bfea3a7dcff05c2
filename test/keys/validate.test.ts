import test from 'ava'
import { KeyFileError, parseKeyFileText, parseTimestamp, readKeyFile } from '../../src/keys/index.js'
import { tempKeyFile } from '../helpers/keys.js'

function fault (t: import('ava').ExecutionContext, text: string): KeyFileError {
  const err = t.throws(() => parseKeyFileText(text, 'keys.json'), { instanceOf: KeyFileError })
  if (err === undefined) throw new Error('no error')
  t.is(err.code, 'ERR_KEY_FILE')
  t.is(err.file, 'keys.json')
  t.false(err.message.includes('\n'), 'one line')
  return err as KeyFileError
}

const good = (owner: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ owner, key: `key-${owner}-0123456789abcdef`, active: true, ...extra })

test('a valid file parses, a missing active counts as present, unknown fields are kept', t => {
  const entries = parseKeyFileText(JSON.stringify([
    good('a', { created_at: '2025-01-01T00:00:00Z', expires_at: '2030-01-01', scopes: ['get_heartbeat'], note: 'n', rate_limit: '60/minute', team: { x: 1 } }),
    { owner: 'b', key: 'k-b' }
  ]), 'keys.json')
  t.is(entries.length, 2)
  t.deepEqual(entries[0]?.team, { x: 1 })
  t.is(entries[1]?.active, undefined)
})

test('bad JSON names the line and column and never quotes the text', t => {
  const text = '[\n  {"owner": "a", "key": "secret-value-1234"},\n  {"owner": "b", "key": }\n]\n'
  const err = fault(t, text)
  t.is(err.line, 3)
  t.is(err.column, 25)
  t.regex(err.message, /^keys\.json: invalid JSON at line 3, column 25: expected a value$/)
  t.false(err.message.includes('secret'))
})

test('other JSON syntax faults are located too', t => {
  t.is(fault(t, '[{"owner": "a", "key": "k",}]').column, 28)
  t.regex(fault(t, '[{"owner": "a" "key": "k"}]').message, /line 1, column 16: expected ","$/)
  t.regex(fault(t, '[{"owner": "a"').message, /line 1, column 15: expected "}"$/)
  t.regex(fault(t, '[] // comment').message, /comments are not allowed/)
  t.regex(fault(t, "[{'owner': 'a'}]").message, /line 1, column 3: unexpected character$/)
  t.regex(fault(t, '[]\n[]').message, /line 2, column 1: unexpected text after the end/)
})

test('an empty file is an error, a BOM is skipped', t => {
  t.regex(fault(t, '').message, /the file is empty/)
  t.regex(fault(t, '  \n').message, /the file is empty/)
  t.is(parseKeyFileText('\uFEFF[]', 'keys.json').length, 0)
})

test('the top level must be an array', t => {
  t.is(fault(t, '{"owner": "a"}').message, 'keys.json: must be a JSON array of entries, found an object')
  t.is(fault(t, 'null').message, 'keys.json: must be a JSON array of entries, found null')
})

const cases: Array<[string, unknown[], RegExp, string | undefined]> = [
  ['entry not an object', [good('a'), 'x'], /^keys\.json: entry 2 \(line \d+\): must be an object, found a string$/, undefined],
  ['entry null', [null], /entry 1 \(line 2\): must be an object, found null/, undefined],
  ['entry an array', [[]], /entry 1 .*found an array/, undefined],
  ['missing owner', [{ key: 'k' }], /entry 1 .*"owner" must be a non-empty string/, 'owner'],
  ['empty owner', [good('a'), { owner: '', key: 'k' }], /entry 2 .*"owner" must be a non-empty string/, 'owner'],
  ['non-string owner', [{ owner: 7, key: 'k' }], /"owner" must be a non-empty string/, 'owner'],
  ['missing key', [good('a'), good('b'), { owner: 'c' }], /^keys\.json: entry 3 \(line \d+\): "key" must be a non-empty string$/, 'key'],
  ['empty key', [{ owner: 'c', key: '' }], /"key" must be a non-empty string/, 'key'],
  ['non-boolean active', [good('a', { active: 'yes' })], /"active" must be true or false, found a string/, 'active'],
  ['bad expires_at', [good('a', { expires_at: 'next tuesday' })], /"expires_at" must be an ISO 8601 timestamp/, 'expires_at'],
  ['impossible expires_at', [good('a', { expires_at: '2025-02-30T00:00:00Z' })], /"expires_at" must be an ISO 8601/, 'expires_at'],
  ['numeric created_at', [good('a', { created_at: 1700000000 })], /"created_at" must be an ISO 8601/, 'created_at'],
  ['scopes not an array', [good('a', { scopes: 'get_heartbeat' })], /"scopes" must be a non-empty array/, 'scopes'],
  ['empty scopes', [good('a', { scopes: [] })], /"scopes" must be a non-empty array/, 'scopes'],
  ['unknown scope', [good('a', { scopes: ['get_heartbeat', 'get_hearbeat'] })], /"scopes" has unknown route "get_hearbeat"/, 'scopes'],
  ['non-string scope', [good('a', { scopes: [1] })], /"scopes" has a number/, 'scopes'],
  ['non-string note', [good('a', { note: 5 })], /"note" must be a string/, 'note'],
  ['rate_limit not a rate', [good('a', { rate_limit: '60/fortnight' })], /"rate_limit" must be a rate \(N\/second\|minute\|hour\|day, e\.g\. 5\/minute\), found "60\/fortnight"/, 'rate_limit'],
  ['rate_limit a number', [good('a', { rate_limit: 60 })], /"rate_limit" must be a rate .*found a number/, 'rate_limit'],
  ['duplicate owner', [good('a'), good('b'), { owner: 'a', key: 'other' }], /entry 3 .*"owner" duplicates the owner of entry 1/, 'owner'],
  ['duplicate key', [good('a'), { owner: 'b', key: 'key-a-0123456789abcdef' }], /entry 2 .*"key" duplicates the key of entry 1/, 'key']
]

for (const [name, value, message, field] of cases) {
  test(`malformed entry: ${name}`, t => {
    const err = fault(t, JSON.stringify(value, null, 2))
    t.regex(err.message, message)
    t.is(err.field, field)
    t.false(err.message.includes('0123456789abcdef'), 'never quotes a key')
  })
}

test('the entry line points at the entry', t => {
  const text = '[\n  {"owner": "a", "key": "k1"},\n\n  {"owner": "b", "key": 3}\n]'
  const err = fault(t, text)
  t.is(err.entry, 2)
  t.is(err.line, 4)
})

test('readKeyFile: a missing file is an empty store, a malformed one throws with the path', async t => {
  const missing = await tempKeyFile(t)
  t.deepEqual(await readKeyFile(missing), [])
  const bad = await tempKeyFile(t, '[1]')
  const err = await t.throwsAsync(readKeyFile(bad), { instanceOf: KeyFileError })
  t.true(err?.message.startsWith(`${bad}: entry 1`))
})

test('parseTimestamp reads ISO 8601 with and without zone (UTC) and refuses the rest', t => {
  t.is(parseTimestamp('2025-01-02T03:04:05Z'), Date.UTC(2025, 0, 2, 3, 4, 5))
  t.is(parseTimestamp('2025-01-02T03:04:05.678+02:00'), Date.UTC(2025, 0, 2, 1, 4, 5, 678))
  t.is(parseTimestamp('2025-01-02T03:04:05.123456'), Date.UTC(2025, 0, 2, 3, 4, 5, 123))
  t.is(parseTimestamp('2025-01-02 03:04:05'), Date.UTC(2025, 0, 2, 3, 4, 5))
  t.is(parseTimestamp('2025-01-02'), Date.UTC(2025, 0, 2))
  t.is(parseTimestamp('2025-01-02T03:04-0130'), Date.UTC(2025, 0, 2, 4, 34))
  for (const bad of ['', '2025', '2025-13-01', '2025-02-29', '2025-01-01T24:00:00Z', '2025-01-01T00:00:00+25:00', 'Jan 1 2025', '2025-01-01T00:00:00ZZ']) {
    t.is(parseTimestamp(bad), undefined, bad)
  }
  t.is(parseTimestamp('2024-02-29'), Date.UTC(2024, 1, 29))
})
