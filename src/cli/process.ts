/**
 * Process-level helpers shared by the commands: one-line error text for users, and the
 * SIGINT/SIGTERM handling of SPEC §4 (stop once, cleanly; a second signal exits at once).
 */
import { SubnetBootnodeError } from '../errors.js'
import type { Logger } from '../log/index.js'

/** Bound on a graceful shutdown: past it the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 15_000

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

