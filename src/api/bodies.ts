/**
 * The keyed routes' bodies (SPEC §1), built from one view snapshot and kept until the next:
 * the unfiltered ones once per snapshot, with their gzip/br variants, right after the view changes
 * (off the request path; a request that comes first builds what it needs, as the fallback);
 * filtered ones on demand, once per distinct filter (bounded cache).
 * Query filters are validated here; an unknown value is a 400 (issue 5), never a silent `[]`.
 */
// From the leaf record.js (as src/p2p does), not heartbeat/index.js, so loading the API does not pull in libp2p.
import { HEARTBEAT_STATES, ROLE_PATTERN, isPeerId } from '../heartbeat/record.js'
import { FILTER_CACHE_SIZE, ROUTES, type RouteName } from './constants.js'
import { createRepresentation, type CompressedEncoding, type CompressTrigger, type Representation } from './representation.js'
import { singleFlight } from '../util/task.js'
import type { ViewSnapshot, ViewSource } from '../view/index.js'

const STATES: ReadonlySet<string> = new Set(HEARTBEAT_STATES)

/** A filter value the client must fix; the message goes to the client as `detail`. */
export class FilterError extends Error {
  override readonly name = 'FilterError'
}

export type Query = Record<string, unknown>

interface HeartbeatFilter { state?: string, role?: string, peer_id?: string }

function single (query: Query, name: string): string | undefined {
  const v = query[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new FilterError(`${name} must be given once, as a plain value`)
  return v
}

function checkPeerId (value: string): string {
  if (isPeerId(value)) return value
  throw new FilterError('peer_id must be a base58btc libp2p peer id, e.g. 12D3KooW...')
}

export function parseHeartbeatFilter (query: Query): HeartbeatFilter {
  const filter: HeartbeatFilter = {}
  const state = single(query, 'state')
  if (state !== undefined) {
    if (!STATES.has(state)) throw new FilterError(`state must be one of ${HEARTBEAT_STATES.join(', ')}`)
    filter.state = state
  }
  const role = single(query, 'role')
  if (role !== undefined) {
    if (!ROLE_PATTERN.test(role)) throw new FilterError('role must be an upper-case role name (A-Z, 0-9, _ or -, at most 64), e.g. VALIDATOR')
    filter.role = role
  }
  const peerId = single(query, 'peer_id')
  if (peerId !== undefined) filter.peer_id = checkPeerId(peerId)
  return filter
}

export function parsePeerFilter (query: Query): string | undefined {
  const peerId = single(query, 'peer_id')
  return peerId === undefined ? undefined : checkPeerId(peerId)
}

/** A query's filter on a route's value: `key` names it in the filtered-body cache. */
interface RouteFilter {
  key: string
  select: (s: ViewSnapshot) => unknown
}

/** What one keyed route serves (SPEC §1). */
interface RouteBody {
  /** The unfiltered value, from the view snapshot. */
  whole: (s: ViewSnapshot) => unknown
  /** The filter a query asks for; `undefined` when it filters nothing. Throws {@link FilterError} for a bad value. */
  filter: (query: Query) => RouteFilter | undefined
}

/**
 * Every keyed route's body, by name: a `Record` over {@link RouteName}, so a route added to the
 * list does not compile until it says what it serves (no silent fall-through to another route's body).
 */
const ROUTE_BODIES: Record<RouteName, RouteBody> = {
  get_heartbeat: {
    whole: (s) => s.heartbeats,
    filter: (query) => {
      const f = parseHeartbeatFilter(query)
      if (f.state === undefined && f.role === undefined && f.peer_id === undefined) return undefined
      return {
        key: `${f.state ?? ''}\n${f.role ?? ''}\n${f.peer_id ?? ''}`,
        select: (s) => s.heartbeats.filter(h =>
          (f.state === undefined || h.server.state === f.state) &&
          (f.role === undefined || h.server.role === f.role) &&
          (f.peer_id === undefined || h.peer_id === f.peer_id))
      }
    }
  },
  // SPEC §1 defines no filter on the bootnode list: a query is ignored.
  get_bootnodes: {
    whole: (s) => s.bootnodes,
    filter: () => undefined
  },
  get_peers_info: {
    whole: (s) => s.peersInfo,
    filter: (query) => {
      const peerId = parsePeerFilter(query)
      if (peerId === undefined) return undefined
      return {
        key: peerId,
        select: (s) => Object.hasOwn(s.peersInfo, peerId) ? { [peerId]: s.peersInfo[peerId] } : {}
      }
    }
  }
}

export interface Bodies {
  /** The representation for a route and its (raw) query; throws FilterError for a bad filter. */
  get: (route: RouteName, query: Query | undefined) => Representation
  /** Snapshot the current bodies were built from. */
  snapshot: () => ViewSnapshot
  /** Stops preparing bodies on view changes (unsubscribes). Idempotent. */
  close: () => void
}

export interface BodiesHooks {
  /** Called with the seconds spent preparing a body (serialise + hash). */
  onPrepared?: (route: RouteName, seconds: number) => void
  /** Called with the seconds spent compressing a body, and whether the view change or a request made it. */
  onCompressed?: (route: RouteName, encoding: CompressedEncoding, seconds: number, trigger: CompressTrigger) => void
  /** Preparing bodies after a view change failed (requests still build them on demand). */
  onError?: (err: unknown) => void
}

export function createBodies (view: ViewSource, hooks: BodiesHooks = {}): Bodies {
  let snap: ViewSnapshot | undefined
  let whole = new Map<RouteName, Representation>()
  let filtered = new Map<string, Representation>()
  let closed = false

  const sync = (): ViewSnapshot => {
    const current = view.current()
    if (current !== snap) {
      snap = current
      whole = new Map()
      filtered = new Map()
    }
    return current
  }

  const prepare = (route: RouteName, value: unknown): Representation => {
    const t0 = performance.now()
    const onCompressed = hooks.onCompressed
    const rep = createRepresentation({ value }, onCompressed === undefined
      ? {}
      : { onCompressed: (encoding, seconds, trigger) => { onCompressed(route, encoding, seconds, trigger) } })
    hooks.onPrepared?.(route, (performance.now() - t0) / 1000)
    return rep
  }

  const remember = (key: string, make: () => Representation): Representation => {
    let rep = filtered.get(key)
    if (rep === undefined) {
      rep = make()
      if (filtered.size >= FILTER_CACHE_SIZE) {
        const oldest = filtered.keys().next().value
        if (oldest !== undefined) filtered.delete(oldest)
      }
      filtered.set(key, rep)
    }
    return rep
  }

  const unfiltered = (route: RouteName, s: ViewSnapshot): Representation => {
    let rep = whole.get(route)
    if (rep === undefined) {
      rep = prepare(route, ROUTE_BODIES[route].whole(s))
      whole.set(route, rep)
    }
    return rep
  }

  /**
   * SPEC §1 "served from bytes prepared once per view change": after each change, one macrotask
   * later (so a change burst and the request in flight go first), build the unfiltered bodies and
   * compress them on the thread pool, one at a time. One run at most (singleFlight); a change
   * during a run cuts it short and asks for one more, which moves on to the newest snapshot, so
   * work for a superseded one is dropped.
   */
  let wanted: ViewSnapshot | undefined
  let deferred = false
  const ahead = singleFlight(async () => {
    const target = wanted
    if (target === undefined || closed) return
    wanted = undefined
    const isCurrent = (): boolean => !closed && wanted === undefined && view.current() === target
    for (const route of ROUTES) {
      if (!isCurrent()) break
      sync()
      await unfiltered(route, target).precompress(isCurrent)
    }
  }, { onError: (err) => { hooks.onError?.(err) } })
  const schedule = (s: ViewSnapshot): void => {
    wanted = s
    if (closed || deferred) return
    if (ahead.isRunning()) {
      void ahead.run()
      return
    }
    deferred = true
    setImmediate(() => {
      deferred = false
      void ahead.run()
    })
  }
  const unsubscribe = view.onChange(schedule)
  schedule(view.current())

  return {
    close: () => {
      if (closed) return
      closed = true
      wanted = undefined
      unsubscribe()
    },
    snapshot: sync,
    get: (route, query) => {
      const s = sync()
      const filter = query === undefined ? undefined : ROUTE_BODIES[route].filter(query)
      if (filter === undefined) return unfiltered(route, s)
      return remember(`${route}\n${filter.key}`, () => prepare(route, filter.select(s)))
    }
  }
}
