import test from 'ava'
import { createLogger } from '../../src/log/index.js'

function captured (level: 'error' | 'warn' | 'info' | 'debug'): { logger: ReturnType<typeof createLogger>, lines: () => Array<Record<string, unknown>> } {
  let raw = ''
  const logger = createLogger({ level, stream: { write: (chunk: string) => { raw += chunk; return true } } })
  return { logger, lines: () => raw.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>) }
}

test('one JSON object per line with level, time, component and message; lower levels filtered', t => {
  const { logger, lines } = captured('info')
  logger.child('api').child('auth').info('hello', { owner: 'party1' })
  logger.debug('not written')
  const [line, ...rest] = lines()
  t.deepEqual(rest, [])
  t.like(line, { level: 'info', component: 'api:auth', msg: 'hello', owner: 'party1' })
  t.false(Number.isNaN(Date.parse(String(line?.time))))
})

test('an error is written as name, message and code, with its cause chain bounded and no stack', t => {
  const { logger, lines } = captured('debug')
  const root = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  let err: Error = root
  for (let i = 0; i < 6; i++) err = new Error(`wrap ${i}`, { cause: err })
  logger.error('start-up failed', { err })
  const written = lines()[0]?.err as Record<string, unknown>
  t.is(written.message, 'wrap 5')
  t.is((written.cause as Record<string, unknown>).message, 'wrap 4')
  let depth = 0
  for (let c: unknown = written.cause; c !== undefined; c = (c as Record<string, unknown>).cause) depth++
  t.is(depth, 3, 'at most three cause links')
  t.false(JSON.stringify(lines()).includes('    at '), 'no stack trace')
})
