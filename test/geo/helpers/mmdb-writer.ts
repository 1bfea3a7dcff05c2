/**
 * A minimal MaxMind DB writer, for tests only: npm has no maintained MMDB writer for Node
 * (MaxMind's own writers are Go and Perl). It follows the published format
 * (https://maxmind.github.io/MaxMind-DB/): an IPv6 binary search tree with 24-bit records
 * (IPv4 networks live under ::/96, as in GeoLite2), a 16-byte separator, a data section of
 * encoded maps, and the metadata map after `\xAB\xCD\xEFMaxMind.com`.
 * Supports maps, arrays, UTF-8 strings, doubles, unsigned integers and booleans.
 */
import { ipaddr } from '../../../src/util/ipaddr.js'

/** Forces a number to be written as a double (MaxMind writes coordinates as doubles). */
export class Double {
  constructor (readonly value: number) {}
}

export type MmdbValue = string | number | boolean | Double | MmdbValue[] | { [key: string]: MmdbValue }

const TYPE_POINTER = 1
const TYPE_STRING = 2
const TYPE_DOUBLE = 3
const TYPE_UINT16 = 5
const TYPE_UINT32 = 6
const TYPE_MAP = 7
const TYPE_UINT64 = 9
const TYPE_ARRAY = 11
const TYPE_BOOLEAN = 14

function control (type: number, size: number): Buffer {
  let sizeBits: number
  let extra: Buffer
  if (size < 29) {
    sizeBits = size
    extra = Buffer.alloc(0)
  } else if (size < 29 + 256) {
    sizeBits = 29
    extra = Buffer.from([size - 29])
  } else if (size < 285 + 65536) {
    sizeBits = 30
    extra = Buffer.alloc(2)
    extra.writeUInt16BE(size - 285)
  } else {
    sizeBits = 31
    extra = Buffer.alloc(3)
    extra.writeUIntBE(size - 65821, 0, 3)
  }
  // Extended types: 0 in the top three bits, then a byte holding type - 7, then the size bytes.
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7]
  return Buffer.concat([Buffer.from(head), extra])
}

function uintBytes (n: number | bigint): Buffer {
  let v = BigInt(n)
  const bytes: number[] = []
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn))
    v >>= 8n
  }
  return Buffer.from(bytes)
}

function encode (value: MmdbValue | { uint16: number } | { uint64: bigint }): Buffer {
  if (typeof value === 'string') {
    const b = Buffer.from(value, 'utf8')
    return Buffer.concat([control(TYPE_STRING, b.length), b])
  }
  if (typeof value === 'boolean') return control(TYPE_BOOLEAN, value ? 1 : 0)
  if (value instanceof Double || (typeof value === 'number' && !Number.isInteger(value))) {
    const b = Buffer.alloc(8)
    b.writeDoubleBE(value instanceof Double ? value.value : value)
    return Buffer.concat([control(TYPE_DOUBLE, 8), b])
  }
  if (typeof value === 'number') {
    if (value < 0 || value > 0xffffffff) throw new RangeError(`unsupported integer ${value}`)
    const b = uintBytes(value)
    return Buffer.concat([control(TYPE_UINT32, b.length), b])
  }
  if (Array.isArray(value)) {
    return Buffer.concat([control(TYPE_ARRAY, value.length), ...value.map(encode)])
  }
  if ('uint16' in value && typeof value.uint16 === 'number') {
    const b = uintBytes(value.uint16)
    return Buffer.concat([control(TYPE_UINT16, b.length), b])
  }
  if ('uint64' in value && typeof value.uint64 === 'bigint') {
    const b = uintBytes(value.uint64)
    return Buffer.concat([control(TYPE_UINT64, b.length), b])
  }
  const entries = Object.entries(value as Record<string, MmdbValue>)
  return Buffer.concat([control(TYPE_MAP, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])])
}
void TYPE_POINTER // pointers are a size optimisation the writer does not need

class Node {
  children: [Child, Child] = [null, null]
}
type Child = Node | { data: number } | null

/** 128 bits of an address; IPv4 sits under ::/96. */
function bitsOf (cidr: string): { bits: number[], prefix: number } {
  const [addr, len] = ipaddr.parseCIDR(cidr)
  const bytes = addr.kind() === 'ipv4' ? [...new Array<number>(12).fill(0), ...addr.toByteArray()] : addr.toByteArray()
  const prefix = addr.kind() === 'ipv4' ? 96 + len : len
  const bits: number[] = []
  for (const byte of bytes) for (let i = 7; i >= 0; i--) bits.push((byte >> i) & 1)
  return { bits, prefix }
}

export interface MmdbNetwork { network: string, data: Record<string, MmdbValue> }

export interface MmdbOptions {
  databaseType: string
  /** Later networks override earlier ones where they overlap. */
  networks: readonly MmdbNetwork[]
}

export function buildMmdb (opts: MmdbOptions): Buffer {
  const root = new Node()
  const records: Buffer[] = []
  for (const { network, data } of opts.networks) {
    const dataIndex = records.push(encode(data)) - 1
    const { bits, prefix } = bitsOf(network)
    if (prefix === 0) throw new RangeError('a /0 network is not supported')
    let node = root
    for (let depth = 0; depth < prefix - 1; depth++) {
      const bit = bits[depth] as 0 | 1
      let child = node.children[bit]
      if (!(child instanceof Node)) {
        // Split an existing leaf (or empty slot) so a more specific network can go below it.
        const split = new Node()
        split.children = [child, child]
        node.children[bit] = split
        child = split
      }
      node = child
    }
    node.children[bits[prefix - 1] as 0 | 1] = { data: dataIndex }
  }

  // Number the nodes breadth first; the root is node 0.
  const nodes: Node[] = [root]
  for (let i = 0; i < nodes.length; i++) {
    for (const c of (nodes[i] as Node).children) if (c instanceof Node) nodes.push(c)
  }
  const ids = new Map(nodes.map((n, i) => [n, i]))
  const offsets: number[] = []
  let pos = 0
  for (const r of records) {
    offsets.push(pos)
    pos += r.length
  }
  const nodeCount = nodes.length
  const recordValue = (c: Child): number => {
    if (c === null) return nodeCount
    if (c instanceof Node) return ids.get(c) as number
    return nodeCount + 16 + (offsets[c.data] as number)
  }
  const tree = Buffer.alloc(nodeCount * 6)
  nodes.forEach((n, i) => {
    tree.writeUIntBE(recordValue(n.children[0]), i * 6, 3)
    tree.writeUIntBE(recordValue(n.children[1]), i * 6 + 3, 3)
  })
  const metadata = encode({
    node_count: nodeCount,
    record_size: { uint16: 24 },
    ip_version: { uint16: 6 },
    database_type: opts.databaseType,
    languages: ['en'],
    binary_format_major_version: { uint16: 2 },
    binary_format_minor_version: { uint16: 0 },
    build_epoch: { uint64: BigInt(Math.floor(Date.now() / 1000)) },
    description: { en: `${opts.databaseType} test database` }
  } as unknown as MmdbValue)
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...records,
    Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'),
    metadata
  ])
}
