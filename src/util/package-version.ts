/**
 * The package's own version: the CLI's `--version` and default `--version-string`, and the
 * library's default heartbeat `version` (SPEC §4, §5), so both report the same thing. Read from
 * package.json on first use, not at import time; the relative path is the same from `src/util/`
 * (tests, tsx) and `dist/util/` (the installed package).
 */
import { readFileSync } from 'node:fs'

/** Used only if package.json has no string `version` (never in a published package). */
const UNKNOWN_VERSION = '0.0.0'

let cached: string | undefined

export function packageVersion (): string {
  if (cached === undefined) {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    const version = (pkg as { version?: unknown }).version
    cached = typeof version === 'string' ? version : UNKNOWN_VERSION
  }
  return cached
}
