import { readFile, stat, writeFile } from 'node:fs/promises'
import test from 'ava'
import { KeyFileError, readKeyFile, updateKeyFile } from '../../src/keys/index.js'
import { readEntries, tempKeyFile } from '../helpers/keys.js'

test('updateKeyFile creates a missing file with mode 0600', async t => {
  const file = await tempKeyFile(t)
  await updateKeyFile(file, entries => [...entries, { owner: 'a', key: 'key-a-1', active: true }])
  t.is((await stat(file)).mode & 0o777, 0o600)
  t.deepEqual(await readEntries(file), [{ owner: 'a', key: 'key-a-1', active: true }])
})

test('an existing file keeps its mode', async t => {
  const file = await tempKeyFile(t, [])
  const { chmod } = await import('node:fs/promises')
  await chmod(file, 0o640)
  await updateKeyFile(file, entries => [...entries, { owner: 'a', key: 'k' }])
  t.is((await stat(file)).mode & 0o777, 0o640)
})

test('unknown fields and their order survive a rewrite', async t => {
  const file = await tempKeyFile(t, [
    { owner: 'a', key: 'ka', team: 'red', active: true, extra: { nested: [1, 2] } },
    { owner: 'b', key: 'kb', active: false, rank: 3 }
  ])
  await updateKeyFile(file, entries => entries.map(e => e.owner === 'b' ? { ...e, active: true } : e))
  const after = await readEntries(file)
  t.deepEqual(after, [
    { owner: 'a', key: 'ka', team: 'red', active: true, extra: { nested: [1, 2] } },
    { owner: 'b', key: 'kb', active: true, rank: 3 }
  ])
  t.deepEqual(Object.keys(after[0] ?? {}), ['owner', 'key', 'team', 'active', 'extra'])
})

test('a malformed file is never overwritten and mutate is not called', async t => {
  const text = '[{"owner": "a", "key": "ka"}, {"owner": "a", "key": "kb"}]\n'
  const file = await tempKeyFile(t, text)
  let called = false
  const err = await t.throwsAsync(updateKeyFile(file, e => { called = true; return e }), { instanceOf: KeyFileError })
  t.regex(err?.message ?? '', /entry 2 \(line 1\): "owner" duplicates the owner of entry 1/)
  t.false(called)
  t.is(await readFile(file, 'utf8'), text)
})

test('a change that would make the file malformed is refused and nothing is written', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'ka' }])
  const before = await readFile(file, 'utf8')
  await t.throwsAsync(updateKeyFile(file, e => [...e, { owner: 'b', key: 'ka' }]), { instanceOf: KeyFileError, message: /"key" duplicates the key of entry 1/ })
  await t.throwsAsync(updateKeyFile(file, () => [{ owner: '', key: 'x' }]), { instanceOf: KeyFileError })
  t.is(await readFile(file, 'utf8'), before)
})

test('an error thrown by mutate leaves the file and releases the lock', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'ka' }])
  const before = await readFile(file, 'utf8')
  await t.throwsAsync(updateKeyFile(file, () => { throw new Error('nope') }), { message: 'nope' })
  t.is(await readFile(file, 'utf8'), before)
  // The lock was released: the next update goes through at once.
  await updateKeyFile(file, e => [...e, { owner: 'b', key: 'kb' }])
  t.is((await readKeyFile(file)).length, 2)
})

test('mutate gets a copy: mutating it and then throwing changes nothing', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'ka', active: true }])
  await t.throwsAsync(updateKeyFile(file, entries => {
    const first = entries[0]
    if (first !== undefined) first.active = false
    throw new Error('abort')
  }))
  t.is((await readKeyFile(file))[0]?.active, true)
})

test('no change, no write: the file is not replaced', async t => {
  const file = await tempKeyFile(t, [])
  await updateKeyFile(file, e => [...e, { owner: 'a', key: 'ka' }])
  const before = await stat(file)
  await updateKeyFile(file, e => e)
  const after = await stat(file)
  t.is(after.ino, before.ino)
  t.is(after.mtimeMs, before.mtimeMs)
})

test('concurrent updates in one process all land', async t => {
  const file = await tempKeyFile(t)
  await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    await updateKeyFile(file, e => [...e, { owner: `o${i}`, key: `k${i}` }])
  }))
  t.deepEqual((await readKeyFile(file)).map(e => e.owner).sort(), Array.from({ length: 10 }, (_, i) => `o${i}`).sort())
})

test('a missing directory and an unreadable path give one-line KeyFileErrors', async t => {
  const file = await tempKeyFile(t)
  const err = await t.throwsAsync(updateKeyFile(`${file}/nope/keys.json`, e => e), { instanceOf: KeyFileError })
  t.regex(err?.message ?? '', /cannot lock: its directory does not exist$/)
  await writeFile(file, '[]')
  const err2 = await t.throwsAsync(readKeyFile(`${file}/x.json`), { instanceOf: KeyFileError })
  t.regex(err2?.message ?? '', /: cannot read: /)
})
