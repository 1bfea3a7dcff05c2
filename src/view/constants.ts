/** Defaults of the view builder (SPEC §4). A leaf module: config reads it without loading the builder. */

/** Full rebuild period (SPEC §4 `--refresh-interval`). */
export const DEFAULT_REFRESH_INTERVAL_MS = 10_000
