/**
 * Structured logging: one JSON object per line (level, time, component, msg, fields),
 * as SPEC §4 asks. No dependency: the format is four fields and a level filter.
 * Never pass an API key in `fields`; log the key's owner instead.
 */
import type { Writable } from 'node:stream'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

export type LogFields = Record<string, unknown>

export interface Logger {
  readonly level: LogLevel
  error: (msg: string, fields?: LogFields) => void
  warn: (msg: string, fields?: LogFields) => void
  info: (msg: string, fields?: LogFields) => void
  debug: (msg: string, fields?: LogFields) => void
  /** A logger for a sub-component, e.g. `logger.child('api')`; shares level and stream. */
  child: (component: string) => Logger
}

export interface LoggerInit {
  /** Lowest level written. Default `info`. */
  level?: LogLevel
  /** Where lines go. Default `process.stdout`. */
  stream?: Pick<Writable, 'write'>
  /** Component name written on every line. */
  component?: string
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

/** How many `cause` links of an error are written (a cycle or a long chain stays bounded). */
const MAX_CAUSE_DEPTH = 3

function serialise (value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
    if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serialise(value.cause, depth + 1)
    return out
  }
  if (typeof value === 'bigint') return value.toString()
  return value
}

export function createLogger (init: LoggerInit = {}): Logger {
  const level = init.level ?? 'info'
  const stream = init.stream ?? process.stdout
  const max = RANK[level]

  const make = (component: string | undefined): Logger => {
    const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
      if (RANK[lvl] > max) return
      const line: Record<string, unknown> = { level: lvl, time: new Date().toISOString() }
      if (component !== undefined) line.component = component
      line.msg = msg
      if (fields !== undefined) {
        for (const [k, v] of Object.entries(fields)) line[k] = serialise(v)
      }
      let text: string
      try {
        text = JSON.stringify(line)
      } catch {
        text = JSON.stringify({ level: lvl, time: line.time, component, msg })
      }
      stream.write(text + '\n')
    }
    return {
      level,
      error: (msg, fields) => { write('error', msg, fields) },
      warn: (msg, fields) => { write('warn', msg, fields) },
      info: (msg, fields) => { write('info', msg, fields) },
      debug: (msg, fields) => { write('debug', msg, fields) },
      child: (name) => make(component === undefined ? name : `${component}:${name}`)
    }
  }
  return make(init.component)
}

/** A logger that writes nothing: the default for library components and tests. */
export const silentLogger: Logger = createLogger({ level: 'error', stream: { write: () => true } })
