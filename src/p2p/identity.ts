/**
 * Persistent node identity (SPEC §4 `--identity-path`): a libp2p protobuf private key,
 * created 0600 if missing, so the peer id, and with it the on-chain bootnode address,
 * survives restarts. An existing file is never overwritten.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { SubnetBootnodeError } from '../errors.js'
import type { Logger } from '../log/index.js'
import type { PrivateKey } from '@libp2p/interface'

export class IdentityError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_IDENTITY', options)
  }
}

/**
 * Loads the key at `path`, or creates a new Ed25519 key there (mode 0600). An existing file
 * that group or others may read is used, with a warning (the key is the node's identity).
 */
export async function loadOrCreateIdentity (path: string, logger: Logger): Promise<PrivateKey> {
  const existing = await readKey(path, logger)
  if (existing !== undefined) return existing

  const key = await generateKeyPair('Ed25519')
  const bytes = privateKeyToProtobuf(key)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  // Write a temp file, fsync it, then hard-link it into place: the link is atomic and fails
  // if another process created the file meanwhile, so a key file is never half-written
  // nor replaced.
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new IdentityError(`cannot create identity file ${path}: ${(err as Error).message}`, { cause: err })
    }
    // Lost a race with another process: use its key.
    const theirs = await readKey(path, logger)
    if (theirs !== undefined) return theirs
    throw new IdentityError(`identity file ${path} appeared but cannot be read`)
  } finally {
    await unlink(tmp).catch(() => {})
  }
  logger.info('created a new identity', { path })
  return key
}

/** The key in an existing file, or undefined if there is none; its mode comes from the same open. */
async function readKey (path: string, logger: Logger): Promise<PrivateKey | undefined> {
  let bytes: Buffer
  let mode: number
  try {
    const handle = await open(path, 'r')
    try {
      mode = (await handle.stat()).mode
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IdentityError(`cannot read identity file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityError(`identity file ${path} is not a libp2p protobuf private key (${(err as Error).message}); move it away to create a new identity`, { cause: err })
  }
  if ((mode & 0o077) !== 0) logger.warn('identity file is readable by others; chmod 600 it', { path })
  return key
}
