/**
 * SCALE for the two answers the sidecar reads, with @polkadot/types and the subnet template's own
 * type definitions (`subnet/hypertensor/chain_data.py` `custom_rpc_type_registry`): no hand-written
 * decoder. The fake chain in the tests encodes its fixtures with the same registry.
 */
import { TypeRegistry } from '@polkadot/types'
import { SubnetBootnodeError } from '../errors.js'
import type { Struct } from '@polkadot/types'
import type { Codec } from '@polkadot/types/types'

/** The chain answered something that is not what the template's types say. */
export class ChainAnswerError extends SubnetBootnodeError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, 'ERR_CHAIN_MALFORMED', options)
  }
}

/** As the template registers them; `PeerId` is the base58 string's bytes (`Vec<u8>`). */
const CHAIN_TYPES = {
  PeerId: 'Vec<u8>',
  AllSubnetBootnodes: {
    subnet_bootnodes: 'BTreeMap<PeerId, BoundedVec<u8, DefaultMaxVectorLength>>',
    node_bootnodes: 'BTreeMap<PeerId, Option<BoundedVec<u8, DefaultMaxVectorLength>>>',
    registered_bootnodes: 'BTreeMap<PeerId, Option<BoundedVec<u8, DefaultMaxVectorLength>>>'
  }
}

let shared: TypeRegistry | undefined
function registry (): TypeRegistry {
  if (shared === undefined) {
    shared = new TypeRegistry()
    shared.register(CHAIN_TYPES)
  }
  return shared
}

/** `AllSubnetBootnodes`' three maps, keyed by peer id (the key's bytes as UTF-8); a value's bytes as is. */
export interface AllSubnetBootnodes {
  subnet_bootnodes: Map<string, Uint8Array>
  node_bootnodes: Map<string, Uint8Array | null>
  registered_bootnodes: Map<string, Uint8Array | null>
}

export const BOOTNODE_KINDS = ['subnet_bootnodes', 'node_bootnodes', 'registered_bootnodes'] as const

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The `Vec<u8>` the chain answers: a JSON array of bytes, as the template reads it
 * (`AllSubnetBootnodes.from_vec_u8(result["result"])`), or a `0x` hex string.
 */
export function answerBytes (result: unknown): Uint8Array {
  if (Array.isArray(result)) {
    if (!result.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw new ChainAnswerError('expected a byte array (Vec<u8>), got an array of other values')
    return Uint8Array.from(result as number[])
  }
  if (typeof result === 'string' && /^0x(?:[0-9a-fA-F]{2})*$/.test(result)) return Uint8Array.from(Buffer.from(result.slice(2), 'hex'))
  throw new ChainAnswerError(`expected a byte array (Vec<u8>) or 0x hex, got ${result === null ? 'null' : typeof result}`)
}

/** Decodes `AllSubnetBootnodes`; an empty answer means none (as the template's `_get_null`). Throws ChainAnswerError. */
export function decodeAllSubnetBootnodes (bytes: Uint8Array): AllSubnetBootnodes {
  const out: AllSubnetBootnodes = { subnet_bootnodes: new Map(), node_bootnodes: new Map(), registered_bootnodes: new Map() }
  if (bytes.length === 0) return out
  let decoded: Struct
  try {
    decoded = registry().createType('AllSubnetBootnodes', bytes) as unknown as Struct
  } catch (err) {
    throw new ChainAnswerError(`not a SCALE AllSubnetBootnodes (${bytes.length} bytes): ${firstLine(err)}`)
  }
  if (decoded.encodedLength !== bytes.length) {
    throw new ChainAnswerError(`not a SCALE AllSubnetBootnodes: ${bytes.length - decoded.encodedLength} bytes left over after ${decoded.encodedLength}`)
  }
  for (const kind of BOOTNODE_KINDS) {
    const map = decoded.get(kind) as unknown as Map<Codec, Codec & { isSome?: boolean, unwrap?: () => Codec }>
    for (const [key, value] of map) {
      const peerId = peerIdText(key.toU8a(true))
      const raw = value.isSome === undefined ? value.toU8a(true) : value.isSome ? (value.unwrap?.() as Codec).toU8a(true) : null
      if (kind === 'subnet_bootnodes') out.subnet_bootnodes.set(peerId, raw ?? new Uint8Array())
      else out[kind].set(peerId, raw)
    }
  }
  return out
}

/** SCALE bytes of `AllSubnetBootnodes` (values as multiaddr strings); what a Hypertensor node answers. For the fake chain. */
export function encodeAllSubnetBootnodes (value: {
  subnet_bootnodes?: Record<string, string>
  node_bootnodes?: Record<string, string | null>
  registered_bootnodes?: Record<string, string | null>
}): Uint8Array {
  const map = <V>(o: Record<string, V> | undefined): Map<string, V> => new Map(Object.entries(o ?? {}))
  return registry().createType('AllSubnetBootnodes', {
    subnet_bootnodes: map(value.subnet_bootnodes),
    node_bootnodes: map(value.node_bootnodes),
    registered_bootnodes: map(value.registered_bootnodes)
  }).toU8a()
}

/** The `Vec<u8>` the chain takes for a peer id: the base58 string's bytes (`ProofOfStake.to_vec_u8`). */
export function peerIdBytes (peerId: string): number[] {
  return [...new TextEncoder().encode(peerId)]
}

function peerIdText (bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    return `0x${Buffer.from(bytes).toString('hex')}`
  }
}

/** A decoded value as UTF-8, or undefined when it is not UTF-8. */
export function utf8Text (bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** The first line of an error's message: the one line a log or a thrown error of ours carries. */
export function firstLine (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''
}
