/**
 * Caps on subnet members (issue 12 item 2): how many heartbeats or listed peers one IP (an IPv6
 * /64) and all IPs together may hold. The heartbeat and peer collectors each keep one; one home
 * for what an "IP bucket" is, so the two never disagree.
 *
 * Policy (docs/SPEC.md §5 "Member caps"): a member that holds a place keeps it while it stays
 * (refreshes are never refused); a newcomer past a cap is refused until a place frees up.
 */
import { parseIp } from './ipaddr.js'
import { ipsOfMultiaddr } from './multiaddr.js'
import type { Connection } from '@libp2p/interface'
import type { IPv6 } from 'ipaddr.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The bucket of members whose IP is unknown (not connected, nothing remembered); capped by `maxUnattributed`. */
export const UNATTRIBUTED_BUCKET = 'unattributed'

/** Why a newcomer was refused; the `reason` label of the refusal counters. */
export type CapRefusal = 'ip-cap' | 'total-cap'

/**
 * The bucket an IP counts in: an IPv4 address itself (IPv4-mapped IPv6 included), an IPv6
 * address its /64 (one host or LAN gets a whole /64, so a single address buys nothing), anything
 * else UNATTRIBUTED_BUCKET.
 */
export function ipBucket (ip: string | undefined): string {
  const parsed = ip === undefined ? undefined : parseIp(ip)
  if (parsed === undefined) return UNATTRIBUTED_BUCKET
  if (parsed.kind() === 'ipv4') return parsed.toString()
  return `${(parsed as IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`
}

/** The first IP address among `addrs` (the remote end of a connection, a listen address), if any. */
export function firstIp (addrs: Iterable<Multiaddr>): string | undefined {
  for (const ma of addrs) {
    const ip = ipsOfMultiaddr(ma)[0]
    if (ip !== undefined) return ip
  }
  return undefined
}

/** The remote IP of a peer's connections (the first that has one): what it cannot forge. */
export function connectionIp (connections: readonly Connection[]): string | undefined {
  return firstIp(connections.map((c) => c.remoteAddr))
}

export interface MemberCapsInit {
  /** Members held at once, all buckets together. */
  maxTotal: number
  /** Members held at once per IP bucket (IPv4 address, IPv6 /64). */
  maxPerIp: number
  /** Members held at once in UNATTRIBUTED_BUCKET. Default `maxPerIp`. */
  maxUnattributed?: number
}

/** Places held by members, per bucket and in total. */
export class MemberCaps {
  private readonly maxTotal: number
  private readonly maxPerIp: number
  private readonly maxUnattributed: number
  private readonly bucketOf = new Map<string, string>()
  private readonly perBucket = new Map<string, number>()

  constructor (init: MemberCapsInit) {
    this.maxTotal = init.maxTotal
    this.maxPerIp = init.maxPerIp
    this.maxUnattributed = init.maxUnattributed ?? init.maxPerIp
  }

  /** Gives `key` a place in `bucket`, or says which cap refuses it; a key that holds a place keeps it (and its bucket). */
  admit (key: string, bucket: string): CapRefusal | undefined {
    if (this.bucketOf.has(key)) return undefined
    if (this.bucketOf.size >= this.maxTotal) return 'total-cap'
    const held = this.perBucket.get(bucket) ?? 0
    if (held >= (bucket === UNATTRIBUTED_BUCKET ? this.maxUnattributed : this.maxPerIp)) return 'ip-cap'
    this.bucketOf.set(key, bucket)
    this.perBucket.set(bucket, held + 1)
    return undefined
  }

  /** Frees `key`'s place, if it holds one. */
  release (key: string): void {
    const bucket = this.bucketOf.get(key)
    if (bucket === undefined) return
    this.bucketOf.delete(key)
    const left = (this.perBucket.get(bucket) ?? 1) - 1
    if (left > 0) this.perBucket.set(bucket, left)
    else this.perBucket.delete(bucket)
  }

  has (key: string): boolean {
    return this.bucketOf.has(key)
  }
}

/**
 * Which refusals were counted already, so that a member re-offered unchanged (each DHT store scan,
 * each identify) is counted and logged once: per key, the newest version refused (a heartbeat's
 * `seq`; 0 where there is none). Bounded at `max` keys, cleared when full.
 */
export class RefusalMemo {
  private readonly seen = new Map<string, number>()
  private readonly max: number

  constructor (max: number) {
    this.max = max
  }

  /** True the first time `key` is refused at `version` or newer (then count it). */
  first (key: string, version = 0): boolean {
    const seen = this.seen.get(key)
    if (seen !== undefined && seen >= version) return false
    if (seen === undefined && this.seen.size >= this.max) this.seen.clear()
    this.seen.set(key, version)
    return true
  }

  /** `key` was admitted: a later refusal counts again. */
  forget (key: string): void {
    this.seen.delete(key)
  }
}
