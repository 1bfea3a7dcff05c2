/**
 * A small reader for the repository's Dockerfile, enough for the tests to check it and to replay
 * its steps: continuation lines joined, comment lines dropped, instructions grouped by stage.
 */
import { readFileSync } from 'node:fs'

export interface Instruction {
  op: string
  args: string
}

export interface Stage {
  from: string
  name?: string
  instructions: Instruction[]
}

export interface Dockerfile {
  /** `ARG` defaults declared before the first `FROM`. */
  globalArgs: Map<string, string>
  stages: Stage[]
}

export const REPO = new URL('../../', import.meta.url)

export function readRepoFile (path: string): string {
  return readFileSync(new URL(path, REPO), 'utf8')
}

export function parseDockerfile (text: string): Dockerfile {
  const logical: string[] = []
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#')) continue // comments, also inside continuations (as Docker does)
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' '
      continue
    }
    current += line
    if (current.trim() !== '') logical.push(current.trim())
    current = ''
  }
  const globalArgs = new Map<string, string>()
  const stages: Stage[] = []
  for (const line of logical) {
    const space = line.search(/\s/)
    const op = (space < 0 ? line : line.slice(0, space)).toUpperCase()
    const args = space < 0 ? '' : line.slice(space + 1).trim()
    if (op === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/)
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else if (stages.length === 0) {
      if (op === 'ARG') {
        const [key = '', value = ''] = args.split('=')
        globalArgs.set(key, value)
      }
    } else {
      stages.at(-1)?.instructions.push({ op, args })
    }
  }
  return { globalArgs, stages }
}

/** The instructions of `op` in `stage`. */
export function all (stage: Stage, op: string): Instruction[] {
  return stage.instructions.filter(i => i.op === op)
}

/** `ENV A=1 B=2` lines of a stage as one map (values without spaces or quotes, as ours are). */
export function envOf (stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args } of all(stage, 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=')
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
  }
  return env
}

/** An exec-form (JSON array) argument, e.g. of ENTRYPOINT, CMD or `HEALTHCHECK … CMD [...]`. */
export function execForm (args: string): string[] {
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every(a => typeof a === 'string')) throw new Error(`not an exec form: ${args}`)
  return parsed
}

/** The `SUBNET_BOOTNODE_*` variables a docker-compose file sets, and those it shows commented out. */
export function composeEnvironment (text: string): { active: Record<string, string>, commented: string[] } {
  const active: Record<string, string> = {}
  const commented: string[] = []
  for (const line of text.split('\n')) {
    const match = /^\s*(#\s*)?(SUBNET_BOOTNODE_[A-Z_]+|BOOTNODE_KEYS_FILE):\s*(\S+)/.exec(line)
    if (match?.[2] === undefined || match[3] === undefined) continue
    if (match[1] === undefined) active[match[2]] = match[3]
    else commented.push(match[2])
  }
  return { active, commented }
}
