/**
 * Key-file helpers shared by the key store, CLI and API tests: a temp key file with given
 * entries (or raw text), and reading it back.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './fs.js'
import type { ExecutionContext } from 'ava'
import type { ApiKeyEntry } from '../../src/keys/index.js'

/**
 * Writes `content` (entries as JSON, or raw text as is) to `<temp dir>/<name>` and
 * returns its path; the directory is removed in teardown. `undefined` content: the
 * path of a file that does not exist yet.
 */
export async function tempKeyFile (t: ExecutionContext, content?: readonly ApiKeyEntry[] | string, name = 'keys.json'): Promise<string> {
  const dir = await tempDir(t, 'sbn-keys-')
  const file = join(dir, name)
  if (content !== undefined) {
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n', { mode: 0o600 })
  }
  return file
}

/** The parsed JSON of a key file (no validation: tests check what is really there). */
export async function readJson (file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8'))
}

/** Entries of a key file, typed loosely for assertions. */
export async function readEntries (file: string): Promise<Array<Record<string, unknown>>> {
  const value = await readJson(file)
  if (!Array.isArray(value)) throw new Error(`${file} is not an array`)
  return value as Array<Record<string, unknown>>
}
