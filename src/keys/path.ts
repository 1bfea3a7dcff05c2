/**
 * Where the key store is (SPEC §2): one order for the sidecar and the admin CLI, so the CLI edits
 * the file the running sidecar reads.
 */
import { isAbsolute, resolve } from 'node:path'
import { SubnetBootnodeError } from '../errors.js'
import { DEFAULT_KEYS_FILE_NAME, KEYS_FILE_ENV, LEGACY_KEYS_FILE_ENV } from './constants.js'

/** Where a key-file path came from: the flag, one of the two variables, or the default. */
export type KeysFileSource = '--keys-file' | typeof KEYS_FILE_ENV | typeof LEGACY_KEYS_FILE_ENV | 'default'

export interface KeysFileLocation {
  /** Absolute. */
  path: string
  source: KeysFileSource
}

export interface ResolveKeysFileInit {
  /** `--keys-file` as typed on the command line; unset: not given. An empty value is refused. */
  flag?: string
  /** Read for {@link KEYS_FILE_ENV} and {@link LEGACY_KEYS_FILE_ENV}; an empty variable counts as unset. */
  env: Readonly<Record<string, string | undefined>>
  /** Relative paths are resolved against it. */
  cwd: string
}

/** A key-file path that names no file: empty, or with a NUL byte (which no file system accepts). */
export class KeysFilePathError extends SubnetBootnodeError {
  readonly source: KeysFileSource
  /** The reason without the source, for callers that name the source their own way. */
  readonly reason: string

  constructor (source: KeysFileSource, text: string) {
    const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text
    const reason = `expected a file path, got ${JSON.stringify(shown)}`
    super(`${source}: ${reason}`, 'ERR_KEYS_FILE_PATH')
    this.source = source
    this.reason = reason
  }
}

/**
 * The key file (SPEC §2): `--keys-file`, else `SUBNET_BOOTNODE_KEYS_FILE`, else `BOOTNODE_KEYS_FILE`,
 * else `./bootnode_rest_keys.json`, made absolute against `cwd`. Throws {@link KeysFilePathError}
 * for an empty flag or a path with a NUL byte.
 */
export function resolveKeysFile (init: ResolveKeysFileInit): KeysFileLocation {
  const given: Array<[KeysFileSource, string | undefined]> = [
    ['--keys-file', init.flag],
    [KEYS_FILE_ENV, nonEmpty(init.env[KEYS_FILE_ENV])],
    [LEGACY_KEYS_FILE_ENV, nonEmpty(init.env[LEGACY_KEYS_FILE_ENV])]
  ]
  for (const [source, text] of given) {
    if (text === undefined) continue
    if (text === '' || text.includes('\0')) throw new KeysFilePathError(source, text)
    return { path: absolute(init.cwd, text), source }
  }
  return { path: absolute(init.cwd, DEFAULT_KEYS_FILE_NAME), source: 'default' }
}

function nonEmpty (text: string | undefined): string | undefined {
  return text === '' ? undefined : text
}

function absolute (cwd: string, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(cwd, path)
}
