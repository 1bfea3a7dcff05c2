import { chmod, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { createLogger } from '../../src/log/index.js'
import { loadOrCreateIdentity } from '../../src/p2p/identity.js'
import { mkfifo, tempDir } from '../helpers/fs.js'

const FIXTURES = fileURLToPath(new URL('fixtures/', import.meta.url))

/**
 * Key files as the subnet template writes them, with their peer ids. template-keys/: the
 * template's own files (ids from its run_node.py examples, re-checked with py-libp2p);
 * py-keys/: made by py-keys/generate.py in py-libp2p's byte forms (see expected.txt).
 */
const KEY_FILES: Array<[file: string, peerId: string]> = [
  ['template-keys/bootnode.key', '12D3KooWLGmub3LXuKQixBD5XwNW4PtSfnrysYzqs1oj19HxMUCF'],
  ['template-keys/alith.key', '12D3KooWMwW1VqH7uWtUc5UGoyMJp1dG26Nkosc6RkRJ7RNiW6Cb'],
  ['template-keys/baltathar.key', '12D3KooWM5J4zS17XR2LHGZgRpmzbeqg4Eibyq8sbRLwRuWxJqsV'],
  ['template-keys/charleth.key', '12D3KooWKxAhu5U8SreDZpokVkN6ciTBbsHxteo3Vmq6Cpuf8KEt'],
  ['template-keys/dorothy.key', '12D3KooWD1BgwEJGUXz3DsKVXGFq3VcmHRjeX56NKpyEa1QAP6uV'],
  ['py-keys/ed25519-full.key', '12D3KooWMwW1VqH7uWtUc5UGoyMJp1dG26Nkosc6RkRJ7RNiW6Cb'],
  ['py-keys/secp256k1.key', '16Uiu2HAmRRYmjByznVu4oGSFLfbrL9soTXDA76gYEe16d9Uh9Jun'],
  ['py-keys/rsa.key', 'QmQ14TKjey41vqGYJoVem1Dwp2ZLabYd4WXBnX5fnb4TFP']
]

function capture (): { logger: ReturnType<typeof createLogger>, warnings: () => string[] } {
  const lines: Array<{ level: string, msg: string }> = []
  const logger = createLogger({ level: 'debug', stream: { write: (l: string) => { lines.push(JSON.parse(l)); return true } } })
  return { logger, warnings: () => lines.filter((l) => l.level === 'warn').map((l) => l.msg) }
}

test('a new identity file draws no warning; an existing one readable by others does, and is still used', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'subnet-identity-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'identity.key')
  const first = capture()
  const created = await loadOrCreateIdentity(path, first.logger)
  t.deepEqual(first.warnings(), [])

  const again = capture()
  t.true((await loadOrCreateIdentity(path, again.logger)).equals(created))
  t.deepEqual(again.warnings(), [], 'the 0600 file it created is not too open')

  await chmod(path, 0o644)
  const open = capture()
  t.true((await loadOrCreateIdentity(path, open.logger)).equals(created))
  t.deepEqual(open.warnings(), ['identity file is readable by others; chmod 600 it'])
})

for (const [file, peerId] of KEY_FILES) {
  test(`${file} loads as ${peerId} and is left untouched`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'subnet-identity-'))
    t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
    const path = join(dir, 'node.key')
    await copyFile(join(FIXTURES, file), path)
    await chmod(path, 0o600)
    const before = await stat(path)
    const bytes = await readFile(path)

    const key = await loadOrCreateIdentity(path, capture().logger)
    t.is(peerIdFromPrivateKey(key).toString(), peerId)
    const signature = await key.sign(Uint8Array.from([1, 2, 3]))
    t.true(await key.publicKey.verify(Uint8Array.from([1, 2, 3]), signature), 'the loaded key signs')

    const after = await stat(path)
    t.deepEqual(await readFile(path), bytes, 'the file is not rewritten')
    t.is(after.mtimeMs, before.mtimeMs)
    t.is(after.ino, before.ino)
  })
}

async function rejection (t: import('ava').ExecutionContext, contents: Uint8Array): Promise<{ path: string, error: Error }> {
  const dir = await mkdtemp(join(tmpdir(), 'subnet-identity-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const path = join(dir, 'broken.key')
  await writeFile(path, contents, { mode: 0o600 })
  const error = await t.throwsAsync(loadOrCreateIdentity(path, capture().logger), { name: 'IdentityError' })
  t.true(error.message.includes(path), 'the message names the file')
  t.false(error.message.includes('\n'), 'one line')
  t.deepEqual(await readFile(path), Buffer.from(contents), 'the file is left as it was')
  return { path, error }
}

test('a truncated key file is an IdentityError naming the file', async (t) => {
  const bootnode = await readFile(join(FIXTURES, 'template-keys/bootnode.key'))
  const { error } = await rejection(t, bootnode.subarray(0, 20))
  t.regex(error.message, /is not a libp2p protobuf private key/)
  t.false(error.message.includes(bootnode.subarray(4, 20).toString('hex')), 'no key bytes in the message')
})

test('a garbage file is an IdentityError naming the file', async (t) => {
  const { error } = await rejection(t, Buffer.from('not a key at all\n'))
  t.regex(error.message, /is not a libp2p protobuf private key/)
})

test('an Ed25519 key of the wrong length, or whose halves disagree, is an IdentityError', async (t) => {
  const full = await readFile(join(FIXTURES, 'py-keys/ed25519-full.key'))
  t.regex((await rejection(t, Uint8Array.from([0x08, 0x01, 0x12, 0x10, ...full.subarray(4, 20)]))).error.message, /unsupported Ed25519 key of 16 bytes/)
  const mismatched = Buffer.from(full)
  mismatched.writeUInt8(mismatched.readUInt8(mismatched.length - 1) ^ 1, mismatched.length - 1)
  t.regex((await rejection(t, mismatched)).error.message, /public half does not match its seed/)
})

test('the template\'s ECDSA key file is recognised and refused in one line', async (t) => {
  const { error } = await rejection(t, await readFile(join(FIXTURES, 'py-keys/ecdsa.key')))
  t.regex(error.message, /holds an ECDSA P-256 key \(the subnet template's --key-type ecc\)/)
  t.false(error.message.includes('BEGIN'), 'no key text in the message')
})

test('a FIFO at the identity path is refused at once in one line, and left alone', async (t) => {
  const path = join(await tempDir(t), 'identity.key')
  await mkfifo(path)
  // No writer ever opens the FIFO: a blocking open or read would time the test out.
  const error = await t.throwsAsync(loadOrCreateIdentity(path, capture().logger), { name: 'IdentityError' })
  t.is(error.message, `cannot read identity file ${path}: it is a FIFO, not a regular file`)
  t.true((await stat(path)).isFIFO(), 'not replaced by a new key')
})

test('a file larger than any key file is refused without being read whole', async (t) => {
  const { error } = await rejection(t, Buffer.alloc(64 * 1024, 7))
  t.regex(error.message, /is 65536 bytes, more than any key file; move it away to create a new identity$/)
})
