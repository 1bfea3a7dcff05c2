/** The key store's path order (SPEC §2), shared by the sidecar's config and subnet-add-api-key. */
import test from 'ava'
import { KeysFilePathError, resolveKeysFile } from '../../src/keys/index.js'
import type { KeysFileSource, ResolveKeysFileInit } from '../../src/keys/index.js'

const cwd = '/srv/bootnode'

test('--keys-file, then SUBNET_BOOTNODE_KEYS_FILE, then BOOTNODE_KEYS_FILE, then ./bootnode_rest_keys.json', t => {
  const both = { SUBNET_BOOTNODE_KEYS_FILE: '/k/new.json', BOOTNODE_KEYS_FILE: 'legacy.json' }
  t.deepEqual(resolveKeysFile({ flag: 'flag.json', env: both, cwd }), { path: '/srv/bootnode/flag.json', source: '--keys-file' })
  t.deepEqual(resolveKeysFile({ env: both, cwd }), { path: '/k/new.json', source: 'SUBNET_BOOTNODE_KEYS_FILE' })
  t.deepEqual(resolveKeysFile({ env: { BOOTNODE_KEYS_FILE: 'legacy.json' }, cwd }), { path: '/srv/bootnode/legacy.json', source: 'BOOTNODE_KEYS_FILE' })
  t.deepEqual(resolveKeysFile({ env: {}, cwd }), { path: '/srv/bootnode/bootnode_rest_keys.json', source: 'default' })
})

test('an empty variable counts as unset; paths are made absolute and normalised', t => {
  t.is(resolveKeysFile({ env: { SUBNET_BOOTNODE_KEYS_FILE: '', BOOTNODE_KEYS_FILE: '' }, cwd }).path, '/srv/bootnode/bootnode_rest_keys.json')
  t.is(resolveKeysFile({ env: { SUBNET_BOOTNODE_KEYS_FILE: '', BOOTNODE_KEYS_FILE: 'x.json' }, cwd }).path, '/srv/bootnode/x.json')
  t.is(resolveKeysFile({ flag: '../etc/./k.json', env: {}, cwd }).path, '/srv/etc/k.json')
  t.is(resolveKeysFile({ flag: '/a//b/../k.json', env: {}, cwd }).path, '/a/k.json')
})

test('an empty flag or a NUL byte is refused with one line naming the source', t => {
  const cases: Array<[ResolveKeysFileInit, KeysFileSource]> = [
    [{ flag: '', env: {}, cwd }, '--keys-file'],
    [{ flag: 'a\0b.json', env: {}, cwd }, '--keys-file'],
    [{ env: { SUBNET_BOOTNODE_KEYS_FILE: 'a\0b.json' }, cwd }, 'SUBNET_BOOTNODE_KEYS_FILE'],
    [{ env: { BOOTNODE_KEYS_FILE: 'a\0b.json' }, cwd }, 'BOOTNODE_KEYS_FILE']
  ]
  for (const [init, source] of cases) {
    const err = t.throws(() => resolveKeysFile(init), { instanceOf: KeysFilePathError })
    t.is(err?.name, 'KeysFilePathError')
    t.is(err?.code, 'ERR_KEYS_FILE_PATH')
    t.is(err?.source, source)
    t.true(err?.message.startsWith(`${source}: expected a file path`), err?.message)
    t.false(err?.message.includes('\n'))
    t.false(err?.message.includes('\0'), 'the NUL is shown escaped')
  }
})
