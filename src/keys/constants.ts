/** Defaults of the key store (SPEC §2) and its watcher (SPEC §1 "re-read when the file changes"). */

/**
 * The routes a key can be scoped to (SPEC §2 `scopes`, SPEC §1 routes without the `/v1/` prefix):
 * the three view routes, the live feed `watch` and the reachability check `is_reachable`.
 */
export const API_ROUTES = ['get_heartbeat', 'get_bootnodes', 'get_peers_info', 'watch', 'is_reachable'] as const

/**
 * Longest API key, in characters: a longer `--key` is refused by the admin CLI, and a longer
 * presented key is refused by the API without a lookup (real keys are ~50 characters).
 */
export const MAX_API_KEY_LENGTH = 512

/**
 * Where the key store is (SPEC §2), the same for the sidecar and the admin CLI so both use one
 * file: `--keys-file`, else {@link KEYS_FILE_ENV} (the sidecar's variable, set by the Docker image),
 * else {@link LEGACY_KEYS_FILE_ENV} (the Python tools' variable), else ./{@link DEFAULT_KEYS_FILE_NAME}.
 */
export const KEYS_FILE_ENV = 'SUBNET_BOOTNODE_KEYS_FILE'
export const LEGACY_KEYS_FILE_ENV = 'BOOTNODE_KEYS_FILE'
export const DEFAULT_KEYS_FILE_NAME = 'bootnode_rest_keys.json'

/** Mode of a key file the store creates (SPEC §2). An existing file keeps its mode. */
export const KEY_FILE_MODE = 0o600

/**
 * A lock whose directory has not been touched for this long belongs to a dead process
 * (a live holder refreshes it every {@link LOCK_UPDATE_MS}). proper-lockfile's floor is
 * 2 s; 5 s leaves a holder starved on a busy machine room to refresh before anyone
 * steals its lock, and costs a human at most 5 s after an admin was SIGKILLed.
 */
export const LOCK_STALE_MS = 5_000

/** How often a lock holder refreshes its lock's mtime. */
export const LOCK_UPDATE_MS = 1_000

/**
 * Waiting for a held lock: quick retries at first (a write holds the lock for
 * milliseconds), backing off to one every {@link LOCK_RETRY_MAX_MS}, for at most
 * {@link LOCK_WAIT_MS}: enough to outlast {@link LOCK_STALE_MS} and a queue of concurrent
 * admins, bounded so a wedged lock ends in an error rather than a hang. Only "held by
 * someone else" is retried; any other failure (missing directory, permissions) is final.
 */
export const LOCK_WAIT_MS = 20_000
export const LOCK_RETRY_MIN_MS = 10
export const LOCK_RETRY_MAX_MS = 200

/** Watcher: how often the file is stat-ed (SPEC §1: a change takes effect within a second). */
export const DEFAULT_POLL_INTERVAL_MS = 250

/** Watcher: directory events arrive in bursts (temp file, rename); coalesce them this long. */
export const WATCH_DEBOUNCE_MS = 20

/**
 * Largest key file read, in bytes (SPEC §2): a larger file is refused before it is read, and
 * no read goes past this bound + 1 byte. A key file of 1,000 entries is ~150 KB.
 */
export const MAX_KEY_FILE_BYTES = 1024 * 1024
