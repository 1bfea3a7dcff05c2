/**
 * The key file is read only when it is a regular file of at most MAX_KEY_FILE_BYTES (SPEC §2),
 * and no message or log line quotes its content (issue 12, item 6).
 */
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import test from 'ava'
import { KeyFileError, createKeyStoreWatcher, readKeyFile } from '../../src/keys/index.js'
import { createLogger } from '../../src/log/index.js'
import { ADD_KEY_BIN, BOOTNODE_BIN, runCli, startCli } from '../helpers/cli.js'
import { mkfifo } from '../helpers/fs.js'
import { tempKeyFile } from '../helpers/keys.js'
import { waitFor } from '../helpers/wait.js'

const MIB = 1024 * 1024
const SECRET = 'key-SeCrEt-tail-0123456789abcdef'

/** Every message in an error and its cause chain. */
function messages (err: unknown): string {
  const out: string[] = []
  for (let e = err, i = 0; e instanceof Error && i < 10; e = e.cause, i++) out.push(e.message)
  return out.join(' | ')
}

test('a FIFO at the path is refused without opening it', async t => {
  const file = await tempKeyFile(t)
  await mkfifo(file)
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.regex(err.message, /it is a FIFO, not a regular file/)
})

test('a directory at the path is refused', async t => {
  const file = await tempKeyFile(t)
  await mkdir(file)
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.regex(err.message, /it is a directory/)
})

test('a symlink to /dev/zero is refused before anything is read', async t => {
  const file = await tempKeyFile(t)
  await symlink('/dev/zero', file)
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.regex(err.message, /it is a device, not a regular file/)
})

test('a file over 1 MiB is refused before it is parsed', async t => {
  // Valid JSON: refused for its size, not its content.
  const entry = JSON.stringify({ owner: 'o', key: 'k', note: 'x'.repeat(1000) })
  const file = await tempKeyFile(t, '[' + Array.from({ length: 2 * 1024 }, (_, i) => entry.replace('"o"', `"o${i}"`).replace('"k"', `"k${i}"`)).join(',') + ']')
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.regex(err.message, /larger than 1048576 bytes/)
})

test('a symlink to a valid regular file is read', async t => {
  const target = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-1' }])
  const link = join(dirname(target), 'link.json')
  await symlink(target, link)
  t.deepEqual(await readKeyFile(link), [{ owner: 'a', key: 'key-a-1' }])
})

test('an invalid file just under 1 MiB is located by line and column', async t => {
  const entry = '{"owner":"o","key":"key-abcdefghijklmnop"},\n'
  const count = Math.floor((MIB - 100) / entry.length)
  const file = await tempKeyFile(t, '[' + entry.repeat(count) + '{"owner":"x" "key":"k"}]')
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.is(err.line, count + 1)
  t.is(err.column, 14)
  t.regex(err.message, /invalid JSON at line \d+, column 14: expected ","/)
})

test('a deeply nested invalid file is located (no recursion)', async t => {
  const file = await tempKeyFile(t, '['.repeat(MIB - 1))
  const err = await t.throwsAsync(readKeyFile(file), { instanceOf: KeyFileError })
  t.regex(err.message, /invalid JSON at line 1, column 1048576: expected "]"/)
})

test('a malformed file never has its content in the error, its cause, or the debug log', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-good-0000' }])
  let raw = ''
  const logger = createLogger({ level: 'debug', stream: { write: (chunk: string) => { raw += chunk; return true } } })
  const watcher = createKeyStoreWatcher({ path: file, logger, pollIntervalMs: 20 })
  t.teardown(async () => { await watcher.stop() })
  await watcher.start()

  // V8's SyntaxError for these quotes the text around the error.
  let warned = 0
  for (const text of [`[{"owner":"b","key":"${SECRET}" x}]`, `[{"owner":"b","key":"${SECRET}`, `[{"owner":"b","key":${SECRET}}]`, `[{"owner":"b","key":"k","scopes":["${SECRET}"]}]`]) {
    const err = await t.throwsAsync(readKeyFile(file + '.missing').then(async () => {
      await writeFile(`${file}.tmp`, text)
      await rename(`${file}.tmp`, file)
      return await readKeyFile(file)
    }), { instanceOf: KeyFileError })
    t.false(messages(err).includes('SeCrEt'), messages(err))
    t.false(messages(err).includes('0123456789'), messages(err))
    warned++
    await waitFor(async () => raw.split('"level":"warn"').length - 1 >= warned ? true : undefined, { timeoutMs: 10_000, intervalMs: 20, what: `warning ${warned}` })
  }
  t.false(raw.includes('SeCrEt'), raw)
  t.false(raw.includes('0123456789'), raw)
  t.is(watcher.current().lookup('key-a-good-0000')?.owner, 'a')
})

test('a FIFO swapped in for a running watcher: the last keys stay, it is reported once, stop returns', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-good-0000' }])
  let raw = ''
  const logger = createLogger({ level: 'debug', stream: { write: (chunk: string) => { raw += chunk; return true } } })
  const watcher = createKeyStoreWatcher({ path: file, logger, pollIntervalMs: 20 })
  await watcher.start()
  const fifo = join(dirname(file), 'fifo')
  await mkfifo(fifo)
  await rename(fifo, file)
  await waitFor(async () => raw.includes('it is a FIFO') ? true : undefined, { timeoutMs: 10_000, intervalMs: 20, what: 'the FIFO warning' })
  t.is(watcher.current().lookup('key-a-good-0000')?.owner, 'a')
  // Bounded by the test's timeout: a wedged reload would never let stop resolve.
  await watcher.stop()
  t.is(raw.split('it is a FIFO').length - 1, 1)
})

test('CLI: subnet-add-api-key with a FIFO as --keys-file exits non-zero with one line', async t => {
  const file = await tempKeyFile(t)
  await mkfifo(file)
  for (const args of [['--list'], ['--owner', 'x']]) {
    const r = await runCli(ADD_KEY_BIN, [...args, '--keys-file', file], { timeoutMs: 15_000 })
    t.not(r.code, 0)
    t.not(r.code, null, 'exited by itself, not killed by the helper')
    t.regex(r.stderr, /it is a FIFO, not a regular file/)
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr)
  }
})

test('sidecar: a FIFO at the key path refuses to start with one line', async t => {
  const file = await tempKeyFile(t)
  await mkfifo(file)
  const r = await runCli(BOOTNODE_BIN, ['run', '--keys-file', file, '--subnet-id', 'sn', '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'], { timeoutMs: 30_000 })
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /it is a FIFO, not a regular file/)
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr)
})

test('sidecar: a FIFO replacing a good key file keeps the last keys and SIGTERM exits 0', async t => {
  const file = await tempKeyFile(t, [{ owner: 'a', key: 'key-a-good-0000' }])
  const cli = startCli(t, BOOTNODE_BIN, ['run', '--keys-file', file, '--subnet-id', 'sn', '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'debug'])
  await cli.waitForLine(/key file loaded/, 30_000)
  await cli.waitForLine(/"msg":"sidecar started"/, 30_000)
  const fifo = join(dirname(file), 'fifo')
  await mkfifo(fifo)
  await rename(fifo, file)
  await cli.waitForLine(/it is a FIFO/, 15_000)
  cli.child.kill('SIGTERM')
  t.is(await cli.exited, 0, cli.stderr())
})
