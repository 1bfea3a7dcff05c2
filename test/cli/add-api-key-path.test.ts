/**
 * subnet-add-api-key's key-file path, run in process (a child process cannot be given a NUL in
 * its arguments or environment): the sidecar's order, resolved against the working directory,
 * and a NUL refused as bad usage.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { EXIT_OK, EXIT_USAGE, runAddApiKey } from '../../src/cli/add-api-key.js'
import { tempDir } from '../helpers/fs.js'
import { readEntries } from '../helpers/keys.js'

async function run (args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runAddApiKey(args, {
    env,
    cwd,
    stdout: { write: (text: string) => { stdout += text } },
    stderr: { write: (text: string) => { stderr += text } }
  })
  return { code, stdout, stderr }
}

test('relative paths are resolved against the working directory, in the sidecar\'s order', async t => {
  const dir = await tempDir(t)
  t.is((await run(['--owner', 'flag', '--keys-file', 'flag.json'], { BOOTNODE_KEYS_FILE: 'legacy.json' }, dir)).code, EXIT_OK)
  t.is((await run(['--owner', 'sidecar'], { SUBNET_BOOTNODE_KEYS_FILE: 'sidecar.json', BOOTNODE_KEYS_FILE: 'legacy.json' }, dir)).code, EXIT_OK)
  t.is((await run(['--owner', 'legacy'], { SUBNET_BOOTNODE_KEYS_FILE: '', BOOTNODE_KEYS_FILE: 'legacy.json' }, dir)).code, EXIT_OK)
  const r = await run(['--owner', 'default'], {}, dir)
  t.is(r.code, EXIT_OK)
  t.true(r.stderr.includes(join(dir, 'bootnode_rest_keys.json')), 'messages name the absolute path')
  for (const [file, owner] of [['flag.json', 'flag'], ['sidecar.json', 'sidecar'], ['legacy.json', 'legacy'], ['bootnode_rest_keys.json', 'default']] as const) {
    t.deepEqual((await readEntries(join(dir, file))).map(e => e.owner), [owner], file)
  }
})

test('a NUL byte or an empty --keys-file is bad usage: exit 2, one line naming the source, nothing written', async t => {
  const dir = await tempDir(t)
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--owner', 'a', '--keys-file', 'k\0.json'], {}, '--keys-file'],
    [['--owner', 'a', '--keys-file', ''], {}, '--keys-file'],
    [['--owner', 'a'], { SUBNET_BOOTNODE_KEYS_FILE: 'k\0.json' }, 'SUBNET_BOOTNODE_KEYS_FILE'],
    [['--list'], { BOOTNODE_KEYS_FILE: 'k\0.json' }, 'BOOTNODE_KEYS_FILE']
  ]
  for (const [args, env, source] of cases) {
    const r = await run(args, env, dir)
    t.is(r.code, EXIT_USAGE, source)
    t.is(r.stdout, '')
    t.regex(r.stderr, /^subnet-add-api-key: \S+: expected a file path, got .* \(see --help\)\n$/)
    t.true(r.stderr.startsWith(`subnet-add-api-key: ${source}: `), r.stderr)
    t.false(r.stderr.includes('\0'))
  }
  t.deepEqual(await readdir(dir), [])
})
