/**
 * `npm run bench`: runs each benchmark in its own process (so RSS figures are not mixed),
 * one after another, each bounded in time, and prints their figures.
 * Run one alone with `npm run bench -- api` (names: keys, geo, api, watch, p2p, template, attack).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCHES = ['keys', 'geo', 'api', 'watch', 'p2p', 'template', 'attack'] as const
/** Hard cap per benchmark; each script bounds itself well below this. */
const BENCH_TIMEOUT_MS = 6 * 60_000

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const selected = wanted.length === 0 ? BENCHES : BENCHES.filter(b => wanted.includes(b))
if (selected.length === 0) {
  process.stderr.write(`bench: unknown benchmark ${wanted.join(', ')}; choose from ${BENCHES.join(', ')}\n`)
  process.exit(2)
}

let failed = 0
for (const name of selected) {
  const file = join(here, `${name}.ts`)
  if (!existsSync(file)) {
    process.stdout.write(`\n== ${name}: not present (bench/${name}.ts)\n`)
    continue
  }
  process.stdout.write(`\n== ${name}\n`)
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, BENCH_TIMEOUT_MS)
    child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
  })
  if (code !== 0) {
    failed++
    process.stdout.write(`== ${name}: exited with ${code}\n`)
  }
}
process.exitCode = failed > 0 ? 1 : 0
