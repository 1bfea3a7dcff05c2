import type { API_ROUTES } from './constants.js'

/** A route a key can be scoped to (SPEC §2 `scopes`). */
export type ApiRoute = typeof API_ROUTES[number]

/**
 * One entry of `bootnode_rest_keys.json` (SPEC §2). Fields the project does not know
 * are kept as they are on every rewrite, hence the index signature.
 */
export interface ApiKeyEntry {
  /** Non-empty, unique in the file. */
  owner: string
  /** Non-empty, unique in the file. */
  key: string
  /** Missing counts as `true` (compatibility with the Python server's files). */
  active?: boolean
  /** ISO 8601. */
  created_at?: string
  /** ISO 8601; from this instant the key is refused. */
  expires_at?: string
  /** Route names; absent means every route. */
  scopes?: string[]
  note?: string
  /** This key's own limit per client IP, in `--rate-limit` syntax (`60/minute`); absent: the default. */
  rate_limit?: string
  [field: string]: unknown
}
