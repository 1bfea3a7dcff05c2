/**
 * The sidecar half of bench/attack.ts, in its own process so its RSS and CPU are its own.
 * Usage (by bench/attack.ts only): node --import tsx bench/attack-sidecar.ts <dir>. A real sidecar
 * (parseConfig + createSidecar, native profile, loopback, default caps) with its API on
 * 127.0.0.1:0; answers `usage` (cpuUsage, rss) and `stop` over IPC.
 */
import '../src/polyfill.js'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseConfig } from '../src/config/index.js'
import { silentLogger } from '../src/log/index.js'
import { createSidecar } from '../src/sidecar.js'

const [dir, apiKey] = process.argv.slice(2) as [string, string]
const keysFile = join(dir, 'keys.json')
await writeFile(keysFile, JSON.stringify([{ owner: 'bench', key: apiKey, active: true }]), { mode: 0o600 })
const config = parseConfig(['run', '--subnet-id', 'bench-attack', '--listen', '/ip4/127.0.0.1/tcp/0',
  '--allow-private-addrs', '--api-host', '127.0.0.1', '--api-port', '0', '--keys-file', keysFile, '--geo', 'none',
  '--rate-limit', '1000000/second', '--no-metrics'], {}, dir)
if (config.command !== 'run') throw new Error(`unexpected config command ${config.command}`)
const sidecar = await createSidecar(config, silentLogger)
await sidecar.start()
const send = (msg: unknown): void => { process.send?.(msg) }
send({ ready: true, port: sidecar.api.address().port, addrs: sidecar.node.bootnodeAddrs(), peerId: sidecar.node.peerId })
process.on('disconnect', () => { process.exit(0) })
process.on('message', (msg: { id: number, op: 'usage' | 'stop' }) => {
  void (async () => {
    if (msg.op === 'usage') {
      const cpu = process.cpuUsage()
      send({ id: msg.id, cpuMs: (cpu.user + cpu.system) / 1000, rss: process.memoryUsage().rss })
    } else {
      await sidecar.stop()
      send({ id: msg.id })
      process.exit(0)
    }
  })()
})
