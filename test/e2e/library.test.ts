/**
 * The package as a library: `import { startPeer } from 'subnet-bootnode'` resolves to the built
 * dist/ through package.json `exports` and runs a peer (a subnet node embeds it this way).
 */
import test from 'ava'
import { REPO_ROOT } from '../helpers/cli.js'
import { spawn } from 'node:child_process'

const SCRIPT = `
import { startPeer } from 'subnet-bootnode'
const peer = await startPeer({ subnetId: 'embedded', listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddrs: true, heartbeatIntervalMs: 1000 })
console.log(JSON.stringify({ peerId: peer.node.peerId, addrs: peer.node.bootnodeAddrs(), state: peer.publisher.state() }))
await peer.stop()
console.log(JSON.stringify({ state: peer.publisher.state() }))
`

test('the package exports startPeer; an embedded peer starts and stops OFFLINE', async t => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  t.teardown(() => { clearTimeout(timer); child.kill('SIGKILL') })
  const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
  t.is(code, 0, err)
  const [started, stopped] = out.trim().split('\n').map(l => JSON.parse(l) as { peerId?: string, addrs?: string[], state: string })
  t.regex(started?.peerId ?? '', /^12D3KooW/)
  t.true(started?.addrs?.[0]?.startsWith('/ip4/127.0.0.1/tcp/') === true)
  t.is(stopped?.state, 'OFFLINE')
})
