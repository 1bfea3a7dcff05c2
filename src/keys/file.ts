/**
 * Reading and rewriting the key file (SPEC §2): validated on every read and write,
 * written atomically (write-file-atomic: temp file, fsync, rename) under a lock
 * (proper-lockfile), created 0600. A missing file counts as an empty store.
 */
import { stat } from 'node:fs/promises'
import lockfile from 'proper-lockfile'
import writeFileAtomic from 'write-file-atomic'
import { setTimeout as delay } from 'node:timers/promises'
import { KEY_FILE_MODE, MAX_KEY_FILE_BYTES, LOCK_RETRY_MAX_MS, LOCK_RETRY_MIN_MS, LOCK_STALE_MS, LOCK_UPDATE_MS, LOCK_WAIT_MS } from './constants.js'
import { KeyFileError } from './errors.js'
import { readRegularFile, RegularFileError } from '../util/regular-file.js'
import { parseKeyFileText, validateKeyEntries } from './validate.js'
import type { ApiKeyEntry } from './types.js'

function errnoCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** One line for a failed file operation, e.g. `keys.json: cannot read: permission denied`. */
function ioError (file: string, action: string, err: unknown): KeyFileError {
  const code = errnoCode(err)
  const reason = code === 'EACCES' || code === 'EPERM'
    ? 'permission denied'
    : code === 'ENOENT'
      ? 'its directory does not exist'
      : code === 'EISDIR'
        ? 'it is a directory'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'ENOSPC'
            ? 'no space left on device'
            : (code ?? (err instanceof Error ? err.message : String(err)))
  return new KeyFileError(`${file}: cannot ${action}: ${reason}`, { file }, { cause: err })
}

/**
 * The file's text, or `undefined` when it does not exist. The one read of the key file, for
 * the watcher and the CLI (SPEC §2), through util/regular-file: anything but a regular file
 * (FIFO, device, socket, directory, also behind a symlink) is refused before it is opened, and
 * a file larger than {@link MAX_KEY_FILE_BYTES} before it is read; at most that many bytes + 1
 * are ever read, so a file that grows between the `fstat` and the read is refused too.
 */
export async function readKeyFileText (file: string): Promise<string | undefined> {
  try {
    return (await readRegularFile(file, { maxBytes: MAX_KEY_FILE_BYTES })).bytes.toString('utf8')
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err
    switch (err.reason) {
      case 'missing': return undefined
      case 'not-regular': throw new KeyFileError(`${file}: cannot read: it is ${err.kind ?? 'something else'}, not a regular file`, { file })
      case 'too-large': throw new KeyFileError(`${file}: cannot read: larger than ${MAX_KEY_FILE_BYTES} bytes (the key file's bound, SPEC §2)`, { file })
      case 'io': throw ioError(file, 'read', err.cause)
    }
  }
}

/** The validated entries of `file`; a missing file counts as `[]`. Throws {@link KeyFileError}. */
export async function readKeyFile (file: string): Promise<ApiKeyEntry[]> {
  const text = await readKeyFileText(file)
  return text === undefined ? [] : parseKeyFileText(text, file)
}

/** The text the store writes: two-space JSON, one trailing newline. */
function serializeKeyEntries (entries: readonly ApiKeyEntry[]): string {
  return JSON.stringify(entries, null, 2) + '\n'
}

/**
 * Applies `mutate` to the entries of `file` under the file's lock and writes the result
 * atomically. The file is validated before (a malformed file is never overwritten) and
 * the result after (a change that would make it malformed is refused); both throw
 * {@link KeyFileError} and leave the file untouched. `mutate` gets a deep copy. Nothing
 * is written when the result serialises to the same bytes.
 *
 * The lock is the directory `<file>.lock` (proper-lockfile), so the key file itself may
 * not exist yet. A lock left by a killed process is taken over once stale.
 */
export async function updateKeyFile (
  file: string,
  mutate: (entries: ApiKeyEntry[]) => ApiKeyEntry[] | Promise<ApiKeyEntry[]>
): Promise<ApiKeyEntry[]> {
  let compromised: Error | undefined
  const release = await acquireLock(file, (err) => { compromised = err })

  try {
    const text = await readKeyFileText(file)
    const before = text === undefined ? [] : parseKeyFileText(text, file)
    const after = await mutate(structuredClone(before))
    validateKeyEntries(after, file)
    const next = serializeKeyEntries(after)
    if (next === text) return after
    if (compromised !== undefined) {
      throw new KeyFileError(`${file}: lost the lock ${file}.lock while updating (${compromised.message}); nothing was written, try again`, { file }, { cause: compromised })
    }
    // New files are created 0600 (SPEC §2); an existing file keeps its mode and owner.
    const created = text === undefined && !(await exists(file))
    try {
      await writeFileAtomic(file, next, created ? { mode: KEY_FILE_MODE } : {})
    } catch (err) {
      throw ioError(file, 'write', err)
    }
    return after
  } finally {
    await release().catch(() => {})
  }
}

/**
 * Takes `<file>.lock` (proper-lockfile), retrying only while another process holds it
 * (proper-lockfile's own retries would also retry a missing directory for the whole wait).
 */
async function acquireLock (file: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (let attempt = 0; ; attempt++) {
    try {
      return await lockfile.lock(file, {
        lockfilePath: `${file}.lock`,
        realpath: false,
        stale: LOCK_STALE_MS,
        update: LOCK_UPDATE_MS,
        retries: 0,
        // The default throws from a timer; note it instead, and refuse to write.
        onCompromised
      })
    } catch (err) {
      if (errnoCode(err) !== 'ELOCKED') throw ioError(file, 'lock', err)
      if (Date.now() >= deadline) {
        throw new KeyFileError(`${file}: another process has held the lock ${file}.lock for ${LOCK_WAIT_MS / 1000} s; try again`, { file }, { cause: err })
      }
      const backoff = Math.min(LOCK_RETRY_MAX_MS, LOCK_RETRY_MIN_MS * 1.5 ** attempt)
      await delay(backoff / 2 + Math.random() * backoff / 2)
    }
  }
}

async function exists (file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch {
    return false
  }
}
