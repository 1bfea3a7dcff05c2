/**
 * `subnet-bootnode` (SPEC §4): `run` (default), `peer` and `demo`.
 * Exit codes: 0 clean shutdown or help; 1 a start-up failure (bad key file, port in use, …); 2 bad usage.
 * No stack trace ever reaches the terminal; `--log-level debug` logs the cause.
 */
import { parseConfig, subnetNodeOptions } from '../config/index.js'
import { createLogger } from '../log/index.js'
import { describeError, runUntilSignal } from './process.js'
import type { Config } from '../config/index.js'
import type { Logger } from '../log/index.js'

/** After a clean stop, how long stray handles may keep the process alive. */
const LINGER_MS = 2_000

async function runCommand (config: Exclude<Config, { command: 'help' }>, logger: Logger): Promise<void> {
  switch (config.command) {
    // libp2p, express and the geo data load only once the flags are known to be good,
    // so `--help` and a bad flag answer at once.
    case 'run': {
      const { createSidecar } = await import('../sidecar.js')
      const sidecar = await createSidecar(config, logger)
      await runUntilSignal(logger, sidecar.start, sidecar.stop)
      return
    }
    case 'peer': {
      const { startPeer } = await import('../peer.js')
      let peer: Awaited<ReturnType<typeof startPeer>> | undefined
      const start = async (): Promise<void> => {
        peer = await startPeer({
          ...subnetNodeOptions(config),
          role: config.role,
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          publicName: config.publicName ?? null,
          version: config.versionString,
          subnetNodeId: config.subnetNodeId,
          logger: logger.child('peer')
        })
        logger.info('peer started', { peer_id: peer.node.peerId, subnet_id: config.subnetId, profile: config.profile, addrs: peer.node.bootnodeAddrs() })
      }
      await runUntilSignal(logger, start, async () => { await peer?.stop() })
      return
    }
    case 'demo': {
      const { runDemo } = await import('../demo.js')
      await runDemo(config, logger)
    }
  }
}

export async function main (argv: readonly string[]): Promise<void> {
  let config: Config
  try {
    config = parseConfig(argv.slice(2), process.env, process.cwd())
  } catch (err) {
    // One line, as README promises; the pointer to --help rides on it (as subnet-add-api-key's does).
    process.stderr.write(`subnet-bootnode: ${describeError(err)} (see --help)\n`)
    process.exitCode = 2
    return
  }
  if (config.command === 'help') {
    process.stdout.write(config.text.endsWith('\n') ? config.text : config.text + '\n')
    return
  }
  const logger = createLogger({ level: config.logLevel })
  try {
    await runCommand(config, logger)
    logger.info('stopped')
    // Everything was stopped; if a library still holds a handle open, do not hang the shell.
    setTimeout(() => process.exit(), LINGER_MS).unref()
  } catch (err) {
    logger.debug('start-up failed', { err })
    process.stderr.write(`subnet-bootnode: ${describeError(err)}\n`)
    process.exitCode = 1
  }
}
