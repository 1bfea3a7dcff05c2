import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { createLogger } from '../../src/log/index.js'
import { loadOrCreateIdentity } from '../../src/p2p/identity.js'

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
