/**
 * A sidecar whose start fails (here: a malformed key file, read before the node starts) stops what
 * it built, including the subnet node's on-disk datastore, which LevelDB opens and locks as soon as
 * it is created: the same --data-dir serves the next sidecar of the same process.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { parseConfig } from '../../src/config/index.js'
import { silentLogger } from '../../src/log/index.js'
import { createSidecar } from '../../src/sidecar.js'
import { tempDir } from '../helpers/fs.js'
import { uniqueSubnetId } from '../helpers/p2p.js'

test('a failed start releases the data dir: a second sidecar on it starts', async (t) => {
  const dir = await tempDir(t, 'sbn-failed-start-')
  const keysFile = join(dir, 'bootnode_rest_keys.json')
  await writeFile(keysFile, '[{"owner": "alice", "key": ', { mode: 0o600 })
  const args = ['run', '--subnet-id', uniqueSubnetId('failed-start'), '--listen', '/ip4/127.0.0.1/tcp/0', '--allow-private-addrs',
    '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none', '--data-dir', join(dir, 'data')]
  const config = parseConfig(args, {}, dir)
  if (config.command !== 'run') throw new Error(`parsed as ${config.command}`)
  const first = await createSidecar(config, silentLogger)
  t.teardown(async () => { await first.stop() })
  await t.throwsAsync(first.start(), { message: /bootnode_rest_keys\.json/ })

  await writeFile(keysFile, JSON.stringify([{ owner: 'alice', key: `key-${'a'.repeat(32)}`, active: true }]), { mode: 0o600 })
  const second = await createSidecar(config, silentLogger)
  t.teardown(async () => { await second.stop() })
  await t.notThrowsAsync(second.start(), 'the datastore lock was released')
  t.true(second.node.isStarted())
})

test('a sidecar the chain client refuses to build throws without the URL and releases the data dir', async (t) => {
  const dir = await tempDir(t, 'sbn-failed-chain-')
  const keysFile = join(dir, 'bootnode_rest_keys.json')
  await writeFile(keysFile, JSON.stringify([{ owner: 'alice', key: `key-${'a'.repeat(32)}`, active: true }]), { mode: 0o600 })
  const args = ['run', '--subnet-id', '7', '--listen', '/ip4/127.0.0.1/tcp/0', '--allow-private-addrs',
    '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none', '--data-dir', join(dir, 'data')]
  const config = parseConfig(args, {}, dir)
  if (config.command !== 'run') throw new Error(`parsed as ${config.command}`)
  // An embedder's config, not the parser's (which normalises the scheme): the provider refuses it.
  const err = await t.throwsAsync(createSidecar({ ...config, chainRpc: 'WSS://rpc.example.org/?key=SECRET', chainSubnetId: 7 }, silentLogger), { name: 'ChainRpcError' })
  t.false(err?.message.includes('SECRET'), err?.message)

  const second = await createSidecar(config, silentLogger)
  t.teardown(async () => { await second.stop() })
  await t.notThrowsAsync(second.start(), 'the datastore lock was released')
})
