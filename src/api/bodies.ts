/**
 * The keyed routes' bodies (SPEC §1), built from one view snapshot and kept until the next:
 * the unfiltered ones once per snapshot, with their gzip/br variants, right after the view changes
 * (off the request path; a request that comes first builds what it needs, as the fallback);
 * filtered ones on demand, once per distinct filter (bounded cache).
 * Query filters are validated here; an unknown value is a 400 (issue 5), never a silent `[]`.
 *
 * A change from one peer costs work for that peer (issue 12 item 3): each heartbeat entry and each
 * peer's info is serialised once and its JSON kept by the object's identity (the collectors and
 * the view builder keep an unchanged entry's object), so a body is a join of cached parts, byte for
 * byte what `JSON.stringify({ value })` gives; large bodies are compressed at a bounded rate
 * (representation.ts `CompressBudget`), and one whose bytes did not change keeps its variants.
 */
import { setTimeout as sleep } from 'node:timers/promises'
// From the leaf model.ts, not heartbeat/index.js, so loading the API does not pull in libp2p.
import { HEARTBEAT_STATES, ROLE_PATTERN, isPeerId } from '../heartbeat/model.js'
import { BODY_ROUTES, FILTER_CACHE_SIZE, type BodyRoute } from './constants.js'
import { createCompressBudget, FREE_COMPRESS_BYTES, representBytes, type CompressBudget, type CompressedEncoding, type CompressTrigger, type Representation } from './representation.js'
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

/** `get_bootnodes?source=`: `node` (this node's own addresses, the default) or `chain` (the on-chain list, SPEC §1). */
export function parseBootnodeSource (query: Query): 'node' | 'chain' {
  const source = single(query, 'source')
  if (source === undefined || source === 'node') return 'node'
  if (source === 'chain') return 'chain'
  throw new FilterError('source must be node or chain')
}

function parseHeartbeatFilter (query: Query): HeartbeatFilter {
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

function parsePeerFilter (query: Query): string | undefined {
  const peerId = single(query, 'peer_id')
  return peerId === undefined ? undefined : checkPeerId(peerId)
}

/**
 * A route's `value` as the serialiser takes it: a list of objects or an object of objects (each
 * element's JSON cached by identity, see {@link BodyParts}), or any other JSON value (serialised whole).
 */
type BodyValue =
  | { list: readonly object[] }
  | { members: Readonly<Record<string, object>> }
  | { plain: unknown }

/** A query's filter on a route's value: `key` names it in the filtered-body cache. */
interface RouteFilter {
  key: string
  select: (s: ViewSnapshot) => BodyValue
}

/** What one keyed route serves (SPEC §1). */
interface RouteBody {
  /** The unfiltered value, from the view snapshot. */
  whole: (s: ViewSnapshot) => BodyValue
  /** The filter a query asks for; `undefined` when it filters nothing. Throws {@link FilterError} for a bad value. */
  filter: (query: Query) => RouteFilter | undefined
}

/**
 * Every keyed route's body, by name: a `Record` over {@link BodyRoute}, so a route added to the
 * list does not compile until it says what it serves (no silent fall-through to another route's body).
 */
const ROUTE_BODIES: Record<BodyRoute, RouteBody> = {
  get_heartbeat: {
    whole: (s) => ({ list: s.heartbeats }),
    filter: (query) => {
      const f = parseHeartbeatFilter(query)
      if (f.state === undefined && f.role === undefined && f.peer_id === undefined) return undefined
      return {
        key: `${f.state ?? ''}\n${f.role ?? ''}\n${f.peer_id ?? ''}`,
        select: (s) => ({
          list: s.heartbeats.filter(h =>
            (f.state === undefined || h.server.state === f.state) &&
            (f.role === undefined || h.server.role === f.role) &&
            (f.peer_id === undefined || h.peer_id === f.peer_id))
        })
      }
    }
  },
  // No filter on this node's own list; `?source=chain` is answered by the app (SPEC §1), other keys are ignored.
  get_bootnodes: {
    whole: (s) => ({ plain: s.bootnodes }),
    filter: () => undefined
  },
  get_peers_info: {
    whole: (s) => ({ members: s.peersInfo }),
    filter: (query) => {
      const peerId = parsePeerFilter(query)
      if (peerId === undefined) return undefined
      return {
        key: peerId,
        select: (s) => {
          const info = Object.hasOwn(s.peersInfo, peerId) ? s.peersInfo[peerId] : undefined
          return { members: info === undefined ? {} : { [peerId]: info } }
        }
      }
    }
  }
}

/**
 * The JSON of list elements and object members, kept by the element's identity (a WeakMap, so a
 * part goes when its entry does). The view treats entries as immutable: a changed entry is a new
 * object, so a cached part is never stale.
 */
export class BodyParts {
  private readonly parts = new WeakMap<object, { key: string | undefined, bytes: Buffer }>()
  /** Parts serialised (not found in the cache) since creation; for tests and the benchmark. */
  serialised = 0
  /** Parts taken from the cache since creation. */
  reused = 0

  /** `JSON.stringify(value)`, or `"key":JSON` for an object member, as bytes. */
  part (value: object, key?: string): Buffer {
    const held = this.parts.get(value)
    if (held !== undefined && held.key === key) {
      this.reused++
      return held.bytes
    }
    this.serialised++
    const json = (key === undefined ? '' : JSON.stringify(key) + ':') + JSON.stringify(value)
    // its own allocation: a small Buffer.from slice would pin an 8 KB pool slab as long as it is cached
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json))
    bytes.write(json)
    this.parts.set(value, { key, bytes })
    return bytes
  }

  /** The bytes of `JSON.stringify({ value })`. */
  body (value: BodyValue): Buffer {
    if ('plain' in value) return Buffer.from(JSON.stringify({ value: value.plain }), 'utf8')
    const chunks: Buffer[] = []
    let open: string
    if ('list' in value) {
      open = '['
      for (const element of value.list) chunks.push(this.element(element))
    } else {
      open = '{'
      // Object.keys is the order JSON.stringify uses (integer-like keys first)
      for (const key of Object.keys(value.members)) {
        const member = value.members[key]
        if (member !== undefined) chunks.push(this.member(key, member))
      }
    }
    const head = Buffer.from(`{"value":${open}`)
    const tail = Buffer.from(open === '[' ? ']}' : '}}')
    let length = head.length + tail.length + Math.max(0, chunks.length - 1)
    for (const c of chunks) length += c.length
    const out = Buffer.allocUnsafe(length)
    let at = head.copy(out, 0)
    chunks.forEach((c, i) => {
      if (i > 0) out[at++] = 0x2c // ','
      at += c.copy(out, at)
    })
    tail.copy(out, at)
    return out
  }

  /** A list element: objects are cached; anything else is serialised as JSON.stringify would in an array. */
  private element (value: unknown): Buffer {
    if (typeof value === 'object' && value !== null) return this.part(value)
    return Buffer.from(JSON.stringify(value) ?? 'null')
  }

  private member (key: string, value: unknown): Buffer {
    if (typeof value === 'object' && value !== null) return this.part(value, key)
    return Buffer.from(JSON.stringify(key) + ':' + JSON.stringify(value))
  }
}

export interface Bodies {
  /** The representation for a route and its (raw) query; throws FilterError for a bad filter. */
  get: (route: BodyRoute, query: Query | undefined) => Representation
  /** Snapshot the current bodies were built from. */
  snapshot: () => ViewSnapshot
  /** Stops preparing bodies on view changes (unsubscribes). Idempotent. */
  close: () => void
  /** How many body parts were serialised and how many reused from the cache (issue 12 item 3). */
  partStats: () => { serialised: number, reused: number }
}

export interface BodiesHooks {
  /** Called with the seconds spent preparing a body (serialise + hash). */
  onPrepared?: (route: BodyRoute, seconds: number) => void
  /** Called with the seconds spent compressing a body, and whether the view change or a request made it. */
  onCompressed?: (route: BodyRoute, encoding: CompressedEncoding, seconds: number, trigger: CompressTrigger) => void
  /** Preparing bodies after a view change failed (requests still build them on demand). */
  onError?: (err: unknown) => void
  /** Bounds how often large bodies are compressed. Default: {@link createCompressBudget} with its defaults. */
  budget?: CompressBudget
}

export function createBodies (view: ViewSource, hooks: BodiesHooks = {}): Bodies {
  const parts = new BodyParts()
  const budget = hooks.budget ?? createCompressBudget()
  let snap: ViewSnapshot | undefined
  let whole = new Map<BodyRoute, Representation>()
  /** Each route's last unfiltered body: a large one whose bytes did not change keeps its variants. */
  const previous = new Map<BodyRoute, Representation>()
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

  const onCompressed = hooks.onCompressed
  const prepare = (route: BodyRoute, value: BodyValue, reuse?: Representation): Representation => {
    const t0 = performance.now()
    const body = parts.body(value)
    const rep = reuse !== undefined && body.length >= FREE_COMPRESS_BYTES && reuse.identity.body.equals(body)
      ? reuse
      : representBytes(body, {
        budget,
        ...(onCompressed === undefined ? {} : { onCompressed: (encoding, seconds, trigger) => { onCompressed(route, encoding, seconds, trigger) } })
      })
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

  const unfiltered = (route: BodyRoute, s: ViewSnapshot): Representation => {
    let rep = whole.get(route)
    if (rep === undefined) {
      rep = prepare(route, ROUTE_BODIES[route].whole(s), previous.get(route))
      whole.set(route, rep)
      previous.set(route, rep)
    }
    return rep
  }

  /** Aborted by close(): ends a pause early. */
  const closing = new AbortController()
  /** Waits `ms` (an unref'd timer), or less if the bodies are closed meanwhile. */
  const pause = async (ms: number): Promise<void> => {
    if (ms <= 0) return
    await sleep(ms, undefined, { ref: false, signal: closing.signal }).catch(() => {})
  }

  /**
   * SPEC §1 "served from bytes prepared once per view change": after each change, one macrotask
   * later (so a change burst and the request in flight go first), build the unfiltered bodies and
   * compress them on the thread pool, one at a time. One run at most (singleFlight); a change
   * during a run asks for one more. A large body waits for the compression budget, then the body
   * of the snapshot current by then is compressed, so work for a superseded one is dropped; the
   * identity bytes are current meanwhile.
   */
  let deferred = false
  const ahead = singleFlight(async () => {
    if (closed) return
    // the identity bodies first: cheap (joined from cached parts), and what requests get until the variants are made
    for (const route of BODY_ROUTES) unfiltered(route, sync())
    for (const route of BODY_ROUTES) {
      // one round per encoding: a large body's precompress stops when the budget says wait
      for (let round = 0; round < 2 && !closed; round++) {
        await pause(budget.waitMs(unfiltered(route, sync()).identity.body.length))
        if (closed) return
        const rep = unfiltered(route, sync())
        await rep.precompress(() => !closed && unfiltered(route, sync()) === rep)
      }
    }
  }, { onError: (err) => { hooks.onError?.(err) } })
  // A burst of changes is one call of run(); a call during a run makes singleFlight run once more.
  const schedule = (): void => {
    if (closed || deferred) return
    deferred = true
    setImmediate(() => {
      deferred = false
      void ahead.run()
    })
  }
  const unsubscribe = view.onChange(schedule)
  schedule()

  return {
    close: () => {
      if (closed) return
      closed = true
      closing.abort()
      unsubscribe()
    },
    snapshot: sync,
    partStats: () => ({ serialised: parts.serialised, reused: parts.reused }),
    get: (route, query) => {
      const s = sync()
      const filter = query === undefined ? undefined : ROUTE_BODIES[route].filter(query)
      if (filter === undefined) return unfiltered(route, s)
      return remember(`${route}\n${filter.key}`, () => prepare(route, filter.select(s)))
    }
  }
}
