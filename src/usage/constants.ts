/** Defaults of the key-usage recorder (SPEC §1 "Key usage"). */

/** The usage file in `--data-dir` (SPEC §2 "Usage file"); never the admin's key file. */
export const USAGE_FILE_NAME = 'key-usage.json'

/** Format version written in the usage file; a file of another version is not read. */
export const USAGE_FILE_VERSION = 1

/**
 * The sidecar's variable for `--data-dir` (config derives it from the flag: `SUBNET_BOOTNODE_` +
 * `DATA_DIR`); `subnet-add-api-key --list` reads it to find the usage file the sidecar writes.
 */
export const DATA_DIR_ENV = 'SUBNET_BOOTNODE_DATA_DIR'

/** How often counts are flushed to the file (and to Redis): a crash loses at most this window. */
export const USAGE_FLUSH_INTERVAL_MS = 5_000

/**
 * Owners tracked at most. Owners come from the admin's key file (a request is counted only once
 * its key matched), so this is a safety net, not a limit anyone should reach; past it new owners
 * are not counted and a warning is logged once.
 */
export const MAX_USAGE_OWNERS = 10_000

/** Owners given their own `/metrics` label at most; later ones are counted under {@link OTHER_OWNER_LABEL}. */
export const MAX_METRIC_OWNERS = 1_000
export const OTHER_OWNER_LABEL = '_other'

/** Largest usage file read, in bytes (10,000 owners ≈ 3 MB). */
export const MAX_USAGE_FILE_BYTES = 8 * 1024 * 1024

/** Redis keys of the shared usage (one prefix, apart from the limiters'). */
export const REDIS_PREFIX_USAGE = 'subnet-bootnode:usage:'

/** Bound on each Redis command of a flush (sendCommandWithin): a hung server cannot hold the flush or the stop. */
export const USAGE_REDIS_TIMEOUT_MS = 2_000

/** Per-day and per-week counters in Redis expire once no "today"/"this week" can name them. */
export const REDIS_DAY_TTL_S = 3 * 86_400
export const REDIS_WEEK_TTL_S = 15 * 86_400

/** Owners whose sums one round of a flush reads back from Redis (the owners other instances changed). */
export const USAGE_REDIS_READ_BATCH = 500
