/**
 * util/regular-file: the one read of a small local file. Real FIFOs (`mkfifo`), a real device
 * behind a symlink, and a /proc file whose `stat` size (0) says nothing of its content.
 */
import { existsSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { readRegularFile, RegularFileError } from '../../src/util/regular-file.js'
import { mkfifo, tempDir } from '../helpers/fs.js'

test('a regular file, also behind a symlink, is read whole with its fstat', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'small.txt')
  await writeFile(file, 'hello', { mode: 0o640 })
  await symlink(file, join(dir, 'link'))
  for (const path of [file, join(dir, 'link')]) {
    const read = await readRegularFile(path, { maxBytes: 5 })
    t.is(read.bytes.toString('utf8'), 'hello')
    t.is(read.stats.size, 5)
    t.is(read.stats.mode & 0o777, 0o640)
  }
  const over = await t.throwsAsync(readRegularFile(join(dir, 'link'), { maxBytes: 4 }), { instanceOf: RegularFileError })
  t.is(over.reason, 'too-large')
})

test('a FIFO without a writer is refused without blocking', async t => {
  const fifo = join(await tempDir(t), 'fifo')
  await mkfifo(fifo)
  // A blocking open would never return here (no writer ever comes): the test would time out.
  const err = await t.throwsAsync(readRegularFile(fifo, { maxBytes: 1024 }), { instanceOf: RegularFileError })
  t.is(err.reason, 'not-regular')
  t.is(err.kind, 'a FIFO')
  t.is(err.code, 'ERR_REGULAR_FILE')
})

test('a symlink to /dev/zero and a directory are refused before anything is read', async t => {
  const dir = await tempDir(t)
  await symlink('/dev/zero', join(dir, 'zero'))
  const device = await t.throwsAsync(readRegularFile(join(dir, 'zero'), { maxBytes: 1024 }), { instanceOf: RegularFileError })
  t.is(device.reason, 'not-regular')
  t.is(device.kind, 'a device')
  await mkdir(join(dir, 'sub'))
  const directory = await t.throwsAsync(readRegularFile(join(dir, 'sub'), { maxBytes: 1024 }), { instanceOf: RegularFileError })
  t.is(directory.reason, 'not-regular')
  t.is(directory.kind, 'a directory')
})

test('a file over maxBytes is refused; one of exactly maxBytes is read', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'at'), Buffer.alloc(4096, 1))
  await writeFile(join(dir, 'over'), Buffer.alloc(4097, 1))
  t.is((await readRegularFile(join(dir, 'at'), { maxBytes: 4096 })).bytes.length, 4096)
  const err = await t.throwsAsync(readRegularFile(join(dir, 'over'), { maxBytes: 4096 }), { instanceOf: RegularFileError })
  t.is(err.reason, 'too-large')
  t.is(err.size, 4097)
})

test('the bound holds on the bytes read, not only on the size stat reports', async t => {
  // /proc files are regular files whose stat size is 0 whatever they hold (Linux only).
  const maps = '/proc/self/maps'
  if (!existsSync(maps)) {
    t.pass('no /proc here')
    return
  }
  const whole = await readRegularFile(maps, { maxBytes: 1024 * 1024 })
  t.is(whole.stats.size, 0)
  t.true(whole.bytes.length > 100, 'read past the stat size')
  const err = await t.throwsAsync(readRegularFile(maps, { maxBytes: 100 }), { instanceOf: RegularFileError })
  t.is(err.reason, 'too-large')
  t.is(err.size, 101, 'stopped one byte past the bound')
})

test('a missing file, or a dangling symlink, is "missing", not an I/O failure', async t => {
  const dir = await tempDir(t)
  await symlink(join(dir, 'nowhere'), join(dir, 'dangling'))
  for (const path of [join(dir, 'absent'), join(dir, 'dangling')]) {
    const err = await t.throwsAsync(readRegularFile(path, { maxBytes: 1024 }), { instanceOf: RegularFileError })
    t.is(err.reason, 'missing')
    t.is(err.errno, 'ENOENT')
  }
  const below = await t.throwsAsync(readRegularFile(join(dir, 'absent', 'x'), { maxBytes: 1024 }), { instanceOf: RegularFileError })
  t.is(below.reason, 'missing')
  await writeFile(join(dir, 'file'), 'x')
  const notDir = await t.throwsAsync(readRegularFile(join(dir, 'file', 'x'), { maxBytes: 1024 }), { instanceOf: RegularFileError })
  t.is(notDir.reason, 'io')
  t.is(notDir.errno, 'ENOTDIR')
})
