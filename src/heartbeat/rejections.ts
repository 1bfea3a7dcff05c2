/**
 * Rejected heartbeats, counted by source and reason (SPEC §5) and exported to `/metrics` as
 * `subnet_bootnode_heartbeat_rejections_total{reason}` (summed over sources) when a registry is given.
 */
import { registerMirroredCounter } from '../util/metrics.js'
import type { Registry } from 'prom-client'

export interface HeartbeatRejections {
  /** Counts one rejection of `reason` seen by `source` (e.g. `dht`, `push`, `store`, `gossip`). */
  record: (source: string, reason: string) => void
  /** Counts by reason, all sources summed. */
  counts: () => Record<string, number>
  /** Counts by source, then reason; every declared source appears, with `{}` until it rejects something. */
  bySource: () => Record<string, Record<string, number>>
  /** Makes `source` appear in `bySource()` before its first rejection. */
  declare: (source: string) => void
}

export function createHeartbeatRejections (components: { registry?: Registry } = {}): HeartbeatRejections {
  const counts = new Map<string, Map<string, number>>()
  const sum = (): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const reasons of counts.values()) {
      for (const [reason, n] of reasons) out[reason] = (out[reason] ?? 0) + n
    }
    return out
  }
  if (components.registry !== undefined) {
    registerMirroredCounter(components.registry, 'subnet_bootnode_heartbeat_rejections_total',
      'Heartbeat records or messages rejected by the collector, by reason', 'reason', sum)
  }
  const of = (source: string): Map<string, number> => {
    let reasons = counts.get(source)
    if (reasons === undefined) {
      reasons = new Map()
      counts.set(source, reasons)
    }
    return reasons
  }
  return {
    record: (source, reason) => {
      const reasons = of(source)
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
    },
    declare: (source) => { of(source) },
    counts: sum,
    bySource: () => Object.fromEntries([...counts].map(([source, reasons]) => [source, Object.fromEntries(reasons)]))
  }
}
