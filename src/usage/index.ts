/**
 * Key usage (SPEC §1 "Key usage", SPEC §2 "Usage file"): what the sidecar records per key owner,
 * the file it flushes to in `--data-dir`, and the reading `subnet-add-api-key --list` shares.
 */
import { DefaultKeyUsage } from './recorder.js'
import type { OwnerUsage } from './file.js'
import type { Logger } from '../log/index.js'
import type { Registry } from 'prom-client'
import type { RedisClient } from '../util/redis.js'

export { DATA_DIR_ENV, USAGE_FILE_NAME, USAGE_FLUSH_INTERVAL_MS } from './constants.js'
export { isoWeek, utcDay } from './calendar.js'
export { readUsageFile, requestsThisWeek, requestsToday, UsageFileError } from './file.js'
export type { OwnerUsage, UsageFileContent } from './file.js'

/** Where the API reports each request that presented a known key. */
export interface KeyUsageSink {
  /** A request with `owner`'s key was answered `status`, from client `ip`. Cheap; never throws. */
  record: (owner: string, status: number, ip: string) => void
}

export interface KeyUsage extends KeyUsageSink {
  /** Loads the usage file; starts the flush loop. Idempotent. */
  start: () => Promise<void>
  /** Stops the loop and flushes the last counts (file and Redis). Idempotent. */
  stop: () => Promise<void>
  /** Writes the counts now (the loop does it every flush interval). */
  flush: () => Promise<void>
  /** The counts as of now: the last flush plus what happened since, per owner. */
  usage: () => Record<string, OwnerUsage>
}

export interface KeyUsageInit {
  /** `--data-dir`; the usage file is `<dataDir>/key-usage.json`. Unset: counts are kept in memory only. */
  dataDir?: string
  /** Default {@link USAGE_FLUSH_INTERVAL_MS} (5 s). */
  flushIntervalMs?: number
  /** Default: silent. */
  logger?: Logger
  /** Clock, ms. Default `Date.now`. */
  now?: () => number
}

export interface KeyUsageComponents {
  /** The per-owner request counter `subnet_bootnode_key_requests_total` goes here. */
  registry: Registry
  /**
   * `--redis-url`: counts of every instance are summed there. Connected by whoever passes it, who
   * also closes it after this recorder stopped (its last flush uses it). Default: none.
   */
  redis?: RedisClient
}

export function createKeyUsage (init: KeyUsageInit, components: KeyUsageComponents): KeyUsage {
  return new DefaultKeyUsage(init, components)
}
