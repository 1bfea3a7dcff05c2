/**
 * `subnet-bootnode` (SPEC §4): `run` (default), `peer` and `demo`.
 * Exit codes: 0 clean shutdown or help; 1 a start-up failure (bad key file, port in use, …); 2 bad usage.
 * No stack trace ever reaches the terminal; `--log-level debug` logs the cause.
 */
import { parseConfig } from '../config/index.js'
import { runDemo } from '../demo.js'
import { SubnetBootnodeError } from '../errors.js'
import { startPeer } from '../heartbeat/index.js'
import { createLogger } from '../log/index.js'
import { createSidecar } from '../sidecar.js'
import type { Config } from '../config/index.js'
import type { Logger } from '../log/index.js'

/** Bound on a graceful shutdown: past it the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 15_000
/** After a clean stop, how long stray handles may keep the process alive. */
const LINGER_MS = 2_000

/** One line for a user: our typed errors carry their own message; anything else is described, not dumped. */
export function describeError (err: unknown): string {
  if (err instanceof SubnetBootnodeError) return err.message
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${err.message} (${code})` : err.message
  }
  return String(err)
}

/**
 * Calls `stop` on the first SIGINT/SIGTERM and resolves when it finished (or timed out);
 * a second signal exits at once with 130.
 */
export async function untilSignal (logger: Logger, stop: () => Promise<void>): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>()
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal: exiting at once', { signal })
      process.exit(130)
    }
    stopping = true
    logger.info('shutting down', { signal })
    const timer = setTimeout(() => {
      logger.error('shutdown took too long: exiting', { timeout_ms: SHUTDOWN_TIMEOUT_MS })
      process.exit(1)
    }, SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    stop().then(() => {
      clearTimeout(timer)
      resolve()
    }, (err: unknown) => {
      clearTimeout(timer)
      logger.error('shutdown failed', { err })
      process.exitCode = 1
      resolve()
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  await promise
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}

async function runCommand (config: Exclude<Config, { command: 'help' }>, logger: Logger): Promise<void> {
  switch (config.command) {
    case 'run': {
      const sidecar = await createSidecar(config, logger)
      await sidecar.start()
      await untilSignal(logger, sidecar.stop)
      return
    }
    case 'peer': {
      const peer = await startPeer({
        subnetId: config.subnetId,
        listen: config.listen,
        announce: config.announce,
        bootstrap: config.bootstrap,
        identityPath: config.identityPath,
        dataDir: config.dataDir,
        allowPrivateAddrs: config.allowPrivateAddrs,
        role: config.role,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        publicName: config.publicName ?? null,
        version: config.versionString,
        logger: logger.child('peer')
      })
      logger.info('peer started', { peer_id: peer.node.peerId, subnet_id: config.subnetId, addrs: peer.node.bootnodeAddrs() })
      await untilSignal(logger, peer.stop)
      return
    }
    case 'demo':
      await runDemo(config, logger)
  }
}

export async function main (argv: readonly string[]): Promise<void> {
  let config: Config
  try {
    config = parseConfig(argv.slice(2), process.env, process.cwd())
  } catch (err) {
    process.stderr.write(`subnet-bootnode: ${describeError(err)}\n`)
    process.stderr.write('Run \'subnet-bootnode --help\' for the flags.\n')
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
    logger.debug('start-up failed', { err, stack: err instanceof Error ? err.stack : undefined })
    process.stderr.write(`subnet-bootnode: ${describeError(err)}\n`)
    process.exitCode = 1
  }
}
