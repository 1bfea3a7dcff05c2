/**
 * The one read of a small local file (the key file, the usage file, the identity file, a MaxMind
 * DB): anything but a regular file is refused without blocking, and at most `maxBytes` + 1 bytes
 * are ever read. Callers map {@link RegularFileError} to their own typed error and message.
 */
import { constants as fsConstants } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { SubnetBootnodeError } from '../errors.js'
import type { Stats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

/**
 * Why a read failed:
 * - `missing`: nothing at the path (ENOENT, also a dangling symlink);
 * - `not-regular`: a FIFO, device, socket or directory, also behind a symlink ({@link RegularFileError.kind});
 * - `too-large`: more than `maxBytes` bytes ({@link RegularFileError.size} is at least the size seen);
 * - `io`: any other failure of stat, open or read ({@link RegularFileError.errno}, the cause).
 */
export type RegularFileFailure = 'missing' | 'not-regular' | 'too-large' | 'io'

/** Callers map it to their own error; its `code` is `ERR_REGULAR_FILE` should one ever escape. */
export class RegularFileError extends SubnetBootnodeError {
  readonly reason: RegularFileFailure
  readonly path: string
  /** With `not-regular`: what the file is, for a message (`a FIFO`, `a directory`, `a device`, …). */
  readonly kind?: string
  /** With `too-large`: the size seen (at least `maxBytes` + 1). */
  readonly size?: number
  /** With `io` and `missing`: the errno code (`EACCES`, …), when there is one. */
  readonly errno?: string

  constructor (reason: RegularFileFailure, path: string, details: { kind?: string, size?: number, errno?: string }, options?: ErrorOptions) {
    super(reason === 'not-regular'
      ? `${path}: it is ${details.kind ?? 'something else'}, not a regular file`
      : reason === 'too-large'
        ? `${path}: larger than the bound (${details.size ?? '?'} bytes)`
        : `${path}: cannot read: ${details.errno ?? (options?.cause instanceof Error ? options.cause.message : 'unknown error')}`, 'ERR_REGULAR_FILE', options)
    this.reason = reason
    this.path = path
    if (details.kind !== undefined) this.kind = details.kind
    if (details.size !== undefined) this.size = details.size
    if (details.errno !== undefined) this.errno = details.errno
  }
}

export interface ReadRegularFileOptions {
  /** The most bytes the file may hold; a larger file is refused, however it grows while read. */
  maxBytes: number
}

export interface RegularFile {
  bytes: Buffer
  /** The opened file's `fstat` (its mode, owner, …), taken before the read. */
  stats: Stats
}

/**
 * Opened read-only and non-blocking: a FIFO swapped in between the `stat` and the `open` must
 * not block the open (it would hold a libuv thread, and Node's exit, for good). `O_NONBLOCK`
 * does not exist on Windows, where there are no FIFOs to fear.
 */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0)
/** The first step when a file grows after its `fstat`; the buffer then doubles up to the bound. */
const GROWTH_STEP = 64 * 1024

function errnoCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** What a non-regular file is, for a message. */
function fileKind (s: Stats): string {
  if (s.isDirectory()) return 'a directory'
  if (s.isFIFO()) return 'a FIFO'
  if (s.isSocket()) return 'a socket'
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device'
  return 'something else'
}

function failure (path: string, err: unknown): RegularFileError {
  if (err instanceof RegularFileError) return err
  const errno = errnoCode(err)
  return new RegularFileError(errno === 'ENOENT' ? 'missing' : 'io', path, errno === undefined ? {} : { errno }, { cause: err })
}

/**
 * The bytes of the regular file at `path` (a symlink to one is followed), with its `fstat`.
 * Anything else is refused before it is opened (`stat`), and again on the opened handle
 * (`fstat`, in case it was swapped meanwhile); a file larger than `maxBytes` is refused
 * before it is read, and at most `maxBytes` + 1 bytes are read, so a file that grows after
 * the `fstat` is refused too. Throws {@link RegularFileError} only.
 */
export async function readRegularFile (path: string, options: ReadRegularFileOptions): Promise<RegularFile> {
  const { maxBytes } = options
  let handle: FileHandle
  try {
    // stat follows a symlink: a link to a regular file is fine, one to /dev/zero is not.
    const before = await stat(path)
    if (!before.isFile()) throw new RegularFileError('not-regular', path, { kind: fileKind(before) })
    handle = await open(path, OPEN_FLAGS)
  } catch (err) {
    throw failure(path, err)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw new RegularFileError('not-regular', path, { kind: fileKind(stats) })
    if (stats.size > maxBytes) throw new RegularFileError('too-large', path, { size: stats.size })
    let buffer = Buffer.alloc(stats.size + 1)
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new RegularFileError('too-large', path, { size: length })
        // The file grew after the fstat: read on, up to the bound + 1.
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, Math.max(length * 2, GROWTH_STEP)))
        buffer.copy(bigger, 0, 0, length)
        buffer = bigger
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return { bytes: buffer.subarray(0, length), stats }
  } catch (err) {
    throw failure(path, err)
  } finally {
    await handle.close().catch(() => {})
  }
}
