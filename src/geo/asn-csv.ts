/**
 * The bundled ASN data (@ip-location-db/asn) is CSV only: `start,end,asn,organisation` with
 * inclusive numeric ranges, sorted by start. It is loaded once into typed arrays and searched
 * by bisection, which keeps about 400k IPv4 and 100k IPv6 ranges in a few MB and a lookup
 * well under a microsecond.
 */
import { readFile } from 'node:fs/promises'
import { asLabel } from './shape.js'
import { ipaddr } from '../util/ipaddr.js'

/** Shaped once per (AS, organisation) at load, so a lookup allocates nothing. */
export interface AsnRecord {
  readonly asn: number
  readonly org: string
  /** ip-api's fields: without ISP data, the AS holder names both `isp` and `org` (issue 6). */
  readonly isp: string
  /** ip-api's `as`: `AS15169 Google LLC`. */
  readonly as: string
}

export interface AsnTable {
  readonly size: number
  /** `address` in canonical form of its family (see classify.ts). */
  lookup: (address: string) => AsnRecord | undefined
}

interface Row { start: string, end: string, asn: number, org: string }

/**
 * Splits the file into rows. Only the last field may hold commas and quotes (organisation
 * names such as `"Cloudflare, Inc."` or `"LLC ""SPUTNIK"""`), so a full CSV parser is not needed.
 * Lines that do not have this shape are skipped: bad data must not stop the sidecar.
 */
function * rows (text: string): Generator<Row> {
  let pos = 0
  while (pos < text.length) {
    let eol = text.indexOf('\n', pos)
    if (eol === -1) eol = text.length
    const line = text.charCodeAt(eol - 1) === 13 ? text.slice(pos, eol - 1) : text.slice(pos, eol)
    pos = eol + 1
    const c1 = line.indexOf(',')
    const c2 = c1 === -1 ? -1 : line.indexOf(',', c1 + 1)
    const c3 = c2 === -1 ? -1 : line.indexOf(',', c2 + 1)
    if (c3 === -1) continue
    const asn = Number(line.slice(c2 + 1, c3))
    if (!Number.isInteger(asn) || asn < 0) continue
    let org = line.slice(c3 + 1)
    if (org.length >= 2 && org.startsWith('"') && org.endsWith('"')) org = org.slice(1, -1).replaceAll('""', '"')
    yield { start: line.slice(0, c1), end: line.slice(c1 + 1, c2), asn, org }
  }
}

/** One shared record per (asn, org), so the table holds indexes, not 500k objects. */
class RecordPool {
  readonly records: AsnRecord[] = []
  private readonly index = new Map<string, number>()
  add (asn: number, org: string): number {
    const key = `${asn}\u0000${org}`
    let i = this.index.get(key)
    if (i === undefined) {
      i = this.records.length
      this.records.push(Object.freeze({ asn, org, isp: org, as: asLabel(asn, org) }))
      this.index.set(key, i)
    }
    return i
  }
}

/** Index of the last range whose start is ≤ the key (`startLE(i)` says whether it is), or -1. */
function bisect (length: number, startLE: (i: number) => boolean): number {
  let lo = 0
  let hi = length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (startLE(mid)) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}

export async function loadIpv4AsnCsv (path: string): Promise<AsnTable> {
  const text = await readFile(path, 'utf8')
  const pool = new RecordPool()
  const starts: number[] = []
  const ends: number[] = []
  const refs: number[] = []
  for (const row of rows(text)) {
    const start = Number(row.start)
    const end = Number(row.end)
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > 0xffffffff || end < start) continue
    starts.push(start)
    ends.push(end)
    refs.push(pool.add(row.asn, row.org))
  }
  const start = Uint32Array.from(starts)
  const end = Uint32Array.from(ends)
  const ref = Uint32Array.from(refs)
  const records = pool.records
  return {
    size: start.length,
    lookup: (address) => {
      const p = address.split('.')
      const n = ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3])
      // Last range starting at or before n (inlined bisection: this is the hot path).
      let lo = 0
      let hi = start.length - 1
      let i = -1
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1
        if ((start[mid] as number) <= n) {
          i = mid
          lo = mid + 1
        } else {
          hi = mid - 1
        }
      }
      if (i === -1 || (end[i] as number) < n) return undefined
      return records[ref[i] as number]
    }
  }
}

const MASK64 = (1n << 64n) - 1n

/** An IPv6 address as two unsigned 64-bit halves. */
function ipv6Halves (address: string): [bigint, bigint] {
  const parts = ipaddr.IPv6.parse(address).parts
  let hi = 0n
  let lo = 0n
  for (let i = 0; i < 4; i++) hi = (hi << 16n) | BigInt(parts[i] as number)
  for (let i = 4; i < 8; i++) lo = (lo << 16n) | BigInt(parts[i] as number)
  return [hi, lo]
}

export async function loadIpv6AsnCsv (path: string): Promise<AsnTable> {
  const text = await readFile(path, 'utf8')
  const pool = new RecordPool()
  const startHi: bigint[] = []
  const startLo: bigint[] = []
  const endHi: bigint[] = []
  const endLo: bigint[] = []
  const refs: number[] = []
  for (const row of rows(text)) {
    let start: bigint
    let end: bigint
    try {
      start = BigInt(row.start)
      end = BigInt(row.end)
    } catch {
      continue
    }
    if (start < 0n || end < start || end >> 128n !== 0n) continue
    startHi.push(start >> 64n)
    startLo.push(start & MASK64)
    endHi.push(end >> 64n)
    endLo.push(end & MASK64)
    refs.push(pool.add(row.asn, row.org))
  }
  const sHi = BigUint64Array.from(startHi)
  const sLo = BigUint64Array.from(startLo)
  const eHi = BigUint64Array.from(endHi)
  const eLo = BigUint64Array.from(endLo)
  const ref = Uint32Array.from(refs)
  const records = pool.records
  return {
    size: sHi.length,
    lookup: (address) => {
      let hi: bigint
      let lo: bigint
      try {
        [hi, lo] = ipv6Halves(address)
      } catch {
        return undefined
      }
      const i = bisect(sHi.length, (k) => {
        const h = sHi[k] as bigint
        return h < hi || (h === hi && (sLo[k] as bigint) <= lo)
      })
      if (i === -1) return undefined
      const h = eHi[i] as bigint
      if (h < hi || (h === hi && (eLo[i] as bigint) < lo)) return undefined
      return records[ref[i] as number]
    }
  }
}
