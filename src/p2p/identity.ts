/**
 * Persistent node identity (SPEC §4 `--identity-path`): a libp2p protobuf private key,
 * created 0600 if missing, so the peer id, and with it the on-chain bootnode address,
 * survives restarts. An existing file is never overwritten.
 *
 * Besides go/js-libp2p's forms it reads every key file the Hypertensor subnet template writes
 * (`subnet/utils/crypto/store_key.py`: `PrivateKey{Type, Data: private_key.to_bytes()}` with
 * py-libp2p's byte forms), so the template's `bootnode.key` keeps its on-chain peer id.
 */
import { createPrivateKey, randomBytes } from 'node:crypto'
import { link, mkdir, open, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { SubnetBootnodeError } from '../errors.js'
import { readRegularFile, RegularFileError } from '../util/regular-file.js'
import type { RegularFile } from '../util/regular-file.js'
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

/** Far above an RSA-8192 PKCS#1 key; a larger file is not a key, and is not read further. */
const MAX_KEY_FILE_BYTES = 16 * 1024

/**
 * The key in an existing file, or undefined if there is none; its mode comes from the same open.
 * util/regular-file: a FIFO or device is refused without blocking, at most the bound is read.
 */
async function readKey (path: string, logger: Logger): Promise<PrivateKey | undefined> {
  let file: RegularFile
  try {
    file = await readRegularFile(path, { maxBytes: MAX_KEY_FILE_BYTES })
  } catch (err) {
    if (!(err instanceof RegularFileError)) throw err
    switch (err.reason) {
      case 'missing': return undefined
      case 'not-regular': throw new IdentityError(`cannot read identity file ${path}: it is ${err.kind ?? 'something else'}, not a regular file`)
      case 'too-large': throw new IdentityError(`identity file ${path} is ${err.size ?? MAX_KEY_FILE_BYTES + 1} bytes, more than any key file; move it away to create a new identity`)
      case 'io': throw new IdentityError(`cannot read identity file ${path}: ${(err.cause as Error).message}`, { cause: err.cause })
    }
  }
  const key = await decodeKey(path, file.bytes)
  if ((file.stats.mode & 0o077) !== 0) logger.warn('identity file is readable by others; chmod 600 it', { path })
  return key
}

/** libp2p's `KeyType` enum (peer-id spec), plus py-libp2p's `ECC_P256`. */
const KEY_TYPE_NAMES: Record<number, string> = { 0: 'RSA', 1: 'Ed25519', 2: 'secp256k1', 3: 'ECDSA', 4: 'ECC_P256' }
const ED25519_SEED_BYTES = 32
const ED25519_FULL_BYTES = 64
/**
 * Turns a key file's bytes into a key, or throws one IdentityError line that names the file and
 * what it holds (never key bytes). Byte forms per key type:
 * - Ed25519: the 32-byte seed (py-libp2p: `bytes(nacl SigningKey)`) is expanded with
 *   `generateKeyPairFromSeed`; the 64-byte seed‖public key (go/js) must match its own seed.
 * - secp256k1: the 32-byte scalar (py: coincurve `secret`), as @libp2p/crypto reads it.
 * - RSA: PKCS#1 DER (py: pycryptodome `export_key('DER')`), as @libp2p/crypto reads it.
 * - ECDSA: py writes fastecdsa's SEC1 PEM text; it is recognised and refused, because js-libp2p
 *   cannot make a peer id from an ECDSA key and py-libp2p cannot sign with one.
 */
async function decodeKey (path: string, bytes: Uint8Array): Promise<PrivateKey> {
  const fail = (found: string, err?: unknown): never => {
    throw new IdentityError(`identity file ${path} ${found}; move it away to create a new identity`, { cause: err })
  }
  const message = decodePrivateKeyMessage(bytes)
  if (message === undefined) return fail(`is not a libp2p protobuf private key (${bytes.byteLength} bytes)`)
  const { type, data } = message
  const name = KEY_TYPE_NAMES[type] ?? `unknown type ${type}`
  try {
    switch (type) {
      case 1: {
        if (data.byteLength === ED25519_SEED_BYTES) return await generateKeyPairFromSeed('Ed25519', data)
        if (data.byteLength !== ED25519_FULL_BYTES) break
        const key = await generateKeyPairFromSeed('Ed25519', data.subarray(0, ED25519_SEED_BYTES))
        if (!key.publicKey.raw.every((b, i) => b === data[ED25519_SEED_BYTES + i])) {
          return fail('holds a 64-byte Ed25519 key whose public half does not match its seed')
        }
        return key
      }
      case 0:
      case 2:
        return privateKeyFromProtobuf(bytes)
      case 3:
        return fail(`holds an ${isEcPem(data) ? describeEc(data) : 'ECDSA'} key (the subnet template's --key-type ecc); js-libp2p cannot make a peer id from an ECDSA key, nor can py-libp2p sign with one: use an ed25519 key`)
    }
  } catch (err) {
    if (err instanceof IdentityError) throw err
    return fail(`holds a ${name} key that cannot be read (${data.byteLength} bytes)`, err)
  }
  return fail(`holds an unsupported ${name} key of ${data.byteLength} bytes (supported: Ed25519, secp256k1, RSA)`)
}

interface PrivateKeyMessage { type: number, data: Uint8Array }

/**
 * Strict decoder of `message PrivateKey { required KeyType Type = 1; required bytes Data = 2; }`.
 * @libp2p/crypto does not export its decoder, and its error would not say what the file holds.
 */
function decodePrivateKeyMessage (bytes: Uint8Array): PrivateKeyMessage | undefined {
  let offset = 0
  const varint = (): number | undefined => {
    let value = 0
    for (let shift = 0; shift < 35 && offset < bytes.byteLength; shift += 7) {
      const byte = bytes[offset++] as number
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
    return undefined
  }
  let type: number | undefined
  let data: Uint8Array | undefined
  while (offset < bytes.byteLength) {
    const tag = varint()
    if (tag === 0x08) {
      type = varint()
      if (type === undefined) return undefined
    } else if (tag === 0x12) {
      const length = varint()
      if (length === undefined || length > bytes.byteLength - offset) return undefined
      data = bytes.subarray(offset, offset + length)
      offset += length
    } else {
      return undefined
    }
  }
  return type === undefined || data === undefined ? undefined : { type, data }
}

const EC_PEM_HEADER = '-----BEGIN EC PRIVATE KEY-----'

function isEcPem (data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, EC_PEM_HEADER.length)).toString('latin1') === EC_PEM_HEADER
}

/** "ECDSA P-256" etc., from the PEM, or just "ECDSA" if node cannot parse it. */
function describeEc (data: Uint8Array): string {
  try {
    const curve = createPrivateKey({ key: Buffer.from(data), format: 'pem' }).asymmetricKeyDetails?.namedCurve
    return curve === 'prime256v1' ? 'ECDSA P-256' : `ECDSA ${curve ?? ''}`.trim()
  } catch {
    return 'unreadable ECDSA'
  }
}
