/**
 * Issue 15 end to end with the real executables: `subnet-bootnode run --data-dir` counts each
 * owner's requests from several clients, flushes them on SIGTERM (so a restart within the flush
 * window loses nothing; loading them again at start is test/usage/usage.test.ts's), and
 * `subnet-add-api-key --list` finds them through SUBNET_BOOTNODE_DATA_DIR. One sidecar start: they are slow.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { get } from '../helpers/api.js'
import { ADD_KEY_BIN, BOOTNODE_BIN, runCli, startCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/fs.js'

const KEY = 'key-scanner-abcdef0123456789'

test('run: usage is flushed on SIGTERM and subnet-add-api-key --list shows it', async t => {
  const dir = await tempDir(t)
  const keysFile = join(dir, 'keys.json')
  const dataDir = join(dir, 'data')
  await writeFile(keysFile, JSON.stringify([{ owner: 'scanner', key: KEY }, { owner: 'idle', key: 'key-idle-abcdef0123456789' }]), { mode: 0o600 })
  const args = ['run', '--subnet-id', 'usage-test', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir, '--api-port', '0',
    '--keys-file', keysFile, '--allow-private-addrs', '--geo', 'none', '--log-level', 'info']
  const run = startCli(t, BOOTNODE_BIN, args)
  const started = JSON.parse(await run.waitForLine(l => l.includes('"msg":"sidecar started"'), 30_000)) as { api: string }
  const port = Number(new URL(started.api).port)
  for (const [ip, n] of [['127.0.0.2', 3], ['127.0.0.3', 2]] as const) {
    for (let i = 0; i < n; i++) t.is((await get(port, '/v1/get_bootnodes', { localAddress: ip, headers: { 'X-API-Key': KEY } })).status, 200)
  }
  // well within the 5-s flush interval: the flush on shutdown saves these
  run.child.kill('SIGTERM')
  t.is(await run.exited, 0)
  const r = await runCli(ADD_KEY_BIN, ['--list', '--json', '--keys-file', keysFile, '--sort', 'requests'], { env: { SUBNET_BOOTNODE_DATA_DIR: dataDir } })
  t.is(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as { keys: Array<{ owner: string, usage: Record<string, unknown> }>, summary: Record<string, unknown> }
  t.deepEqual(doc.keys.map(k => k.owner), ['scanner', 'idle'])
  t.like(doc.keys[0]?.usage, { requests: 5, requests_today: 5, requests_week: 5, last_ip: '127.0.0.3', forbidden: 0, rate_limited: 0 })
  t.like(doc.keys[1]?.usage, { requests: 0, last_used_at: null })
  t.like(doc.summary, { active: 2, requests_today: 5 })
})
