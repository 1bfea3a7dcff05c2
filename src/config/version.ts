/**
 * The package's own version (`--version`, the default `--version-string`). Read from
 * package.json on first use, not at import time; the relative path is the same from
 * `src/config/` (tests, tsx) and `dist/config/` (the installed package).
 */
import { readFileSync } from 'node:fs'

let cached: string | undefined

export function packageVersion (): string {
  if (cached === undefined) {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    const version = (pkg as { version?: unknown }).version
    cached = typeof version === 'string' ? version : '0.0.0'
  }
  return cached
}
