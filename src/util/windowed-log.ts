/**
 * One log line per window for events that can come in floods (refused streams, rejected
 * records): the first event of a window is logged with how many were folded into it since the
 * previous line; the others are only counted (issue 12: a flood must not become a log flood).
 */
import type { Logger } from '../log/index.js'

export interface WindowedLog {
  /** Logs `msg` with `fields` if the window is open, else counts it for the next line. */
  note: (fields: Record<string, unknown>) => void
}

export function createWindowedLog (log: Logger, level: 'debug' | 'info' | 'warn', msg: string, windowMs: number): WindowedLog {
  let windowStart = -Infinity
  let folded = 0
  return {
    note: (fields) => {
      const now = Date.now()
      if (now - windowStart < windowMs) {
        folded += 1
        return
      }
      log[level](msg, { ...fields, sinceLastLine: folded + 1, windowMs })
      windowStart = now
      folded = 0
    }
  }
}
