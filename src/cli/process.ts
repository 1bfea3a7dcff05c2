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
 * Runs `start`, then waits for SIGINT/SIGTERM and runs `stop` (bounded by SHUTDOWN_TIMEOUT_MS).
 * The handlers are installed before `start`, so a signal during start-up lets start settle and
 * then stops what started instead of killing the process half-way. If `start` fails, `stop` runs
 * and the error is rethrown. A second signal exits at once with 130.
 */
export async function runUntilSignal (logger: Logger, start: () => Promise<void>, stop: () => Promise<void>): Promise<void> {
  const signalled = Promise.withResolvers<void>()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn('second signal: exiting at once', { signal })
      process.exit(130)
    }
    logger.info('shutting down', { signal })
    signalled.resolve()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    try {
      await start()
    } catch (err) {
      await stopWithin(logger, stop)
      throw err
    }
    await signalled.promise
    await stopWithin(logger, stop)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function stopWithin (logger: Logger, stop: () => Promise<void>): Promise<void> {
  const timer = setTimeout(() => {
    logger.error('shutdown took too long: exiting', { timeout_ms: SHUTDOWN_TIMEOUT_MS })
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS)
  timer.unref()
  try {
    await stop()
  } catch (err) {
    logger.error('shutdown failed', { err })
    process.exitCode = 1
  } finally {
    clearTimeout(timer)
  }
}
