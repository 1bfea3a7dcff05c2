/**
 * The repository ships `bootnode_rest_keys.json` as `[]` at its root (the key store's default path,
 * SPEC §2), so `npx subnet-add-api-key --owner x` and `npx subnet-bootnode run` work from there. That
 * same file is where a real key would land by accident: these checks keep it from being committed,
 * packed or copied into an image.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import test from 'ava'
import { readRepoFile, REPO } from './dockerfile.js'

const run = promisify(execFile)
const cwd = new URL(REPO).pathname
const FILE = 'bootnode_rest_keys.json'

async function git (...args: string[]): Promise<{ code: number, stdout: string }> {
  try {
    const { stdout } = await run('git', args, { cwd, timeout: 10_000 })
    return { code: 0, stdout }
  } catch (err) {
    const e = err as { code?: number | string, stdout?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '' }
  }
}

test('the committed root key file is exactly an empty array, tracked and not git-ignored', async t => {
  const inRepo = await git('rev-parse', '--is-inside-work-tree')
  if (inRepo.code !== 0) {
    t.log('not a git checkout: only the working-tree file is checked')
    t.is(readRepoFile(FILE), '[]\n')
    return
  }
  const committed = await git('show', `HEAD:${FILE}`)
  t.is(committed.code, 0, `${FILE} is committed`)
  t.is(committed.stdout, '[]\n', `the committed ${FILE} must hold no keys`)
  t.is((await git('check-ignore', '-q', FILE)).code, 1, `${FILE} must not be git-ignored: the empty file is part of the layout`)
})

test('the key file and identities never reach the npm package or the image context', t => {
  const pkg = JSON.parse(readRepoFile('package.json')) as { files: string[] }
  t.false(pkg.files.some(f => f === FILE || f.endsWith('.json') || f.endsWith('.key')), 'package.json files ship no key store or identity')
  const ignored = readRepoFile('.dockerignore').split('\n').map(l => l.trim())
  t.true(ignored.includes(FILE) && ignored.includes('**/' + FILE))
  t.true(ignored.includes('*.key') && ignored.includes('**/*.key'))
})
