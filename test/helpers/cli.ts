/**
 * Runs the real executables (bin/*.js, built into dist/ by `npm ci`/`npm test`) as child
 * processes and watches their output. Every wait is bounded; every child is killed in teardown.
 */
import { spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { killWithWorker } from './children.js'
import type { ChildProcess } from 'node:child_process'
import type { ExecutionContext } from 'ava'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const BOOTNODE_BIN = join(REPO_ROOT, 'bin', 'subnet-bootnode.js')
export const ADD_KEY_BIN = join(REPO_ROOT, 'bin', 'subnet-add-api-key.js')

export interface RunningCli {
  readonly child: ChildProcess
  /** Everything written so far. */
  stdout: () => string
  stderr: () => string
  /** Resolves with the first stdout line matching `match` (bounded by `timeoutMs`). */
  waitForLine: (match: RegExp | ((line: string) => boolean), timeoutMs?: number) => Promise<string>
  /** Resolves with the exit code (signal-killed processes give null). */
  exited: Promise<number | null>
}

/** A clean environment: no SUBNET_BOOTNODE_* or BOOTNODE_KEYS_FILE leaks in from the shell. */
export function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SUBNET_BOOTNODE_') && k !== 'BOOTNODE_KEYS_FILE') env[k] = v
  }
  return { ...env, ...extra }
}

export function startCli (t: ExecutionContext, bin: string, args: string[], opts: { cwd?: string, env?: Record<string, string> } = {}): RunningCli {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  killWithWorker(child)
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; for (const w of waiters) w() })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code); for (const w of waiters) w() }) })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const waitForLine = async (match: RegExp | ((line: string) => boolean), timeoutMs = 20_000): Promise<string> => {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l)
    return await new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const line = out.split('\n').find(test)
        if (line !== undefined) { done(); resolve(line); return }
        if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${String(match)}; stderr: ${err.slice(-500)}`))
        }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${String(match)}; stdout tail: ${out.slice(-800)}; stderr: ${err.slice(-500)}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      check()
    })
  }
  return { child, stdout: () => out, stderr: () => err, waitForLine, exited }
}

/** Runs a command to completion (bounded) and returns its exit code and output. */
export async function runCli (bin: string, args: string[], opts: { cwd?: string, env?: Record<string, string>, timeoutMs?: number } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 20_000)
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}
