/**
 * The in-memory view the REST API serves (SPEC §1, STYLE rule 4):
 * network → collectors → this view → pre-serialised REST bodies.
 * These are the shapes every folder agrees on; see ./README or SPEC §1 for the JSON.
 */
import { createListeners } from '../util/listeners.js'

import type { HeartbeatEntry } from '../heartbeat/model.js'

/** The heartbeat's shapes are the heartbeat module's own (src/heartbeat/model.ts). */
export type { HeartbeatEntry, HeartbeatServer } from '../heartbeat/model.js'

/** A peer known to the node (connected, or seen within the peer TTL). */
export interface PeerEntry {
  peerId: string
  /** Listen multiaddrs without `/p2p/<id>`, as strings, IPv4 and IPv6 and dns*. */
  multiaddrs: string[]
  /** Unix ms of when the peer was last connected or seen. */
  lastSeen: number
}

/**
 * Which peers the routes may serve (chain-aware mode, SPEC §4 `--chain-rpc`: staked ones). The
 * collectors hold a `pending` peer but do not serve it, drop a `refused` one, serve an `admitted` one.
 */
export type Admission = 'admitted' | 'pending' | 'refused'

export interface PeerAdmission {
  /** The peer's admission now; `pending` may start a check in the background (then `onChange` tells). Never throws. */
  admission: (peerId: string) => Admission
  /** Called with a peer id whenever its admission changed; returns an unsubscribe function. */
  onChange: (listener: (peerId: string, admission: Admission) => void) => () => void
}

/** ip-api.com shaped location object (SPEC §1); unknown string fields are "". */
export type Location = Record<string, string | number>

/** `/v1/get_peers_info` value: peer id → { <ip>: { location }, multiaddrs }. */
export type PeersInfo = Record<string, Record<string, { location: Location } | string[]>>

/** An immutable snapshot of everything the routes serve. */
export interface ViewSnapshot {
  /** Increases by one every time the content changes. */
  readonly version: number
  /** Unix ms when this snapshot was built. */
  readonly builtAt: number
  readonly heartbeats: readonly HeartbeatEntry[]
  readonly peersInfo: Readonly<PeersInfo>
  /** Own dialable multiaddrs, each ending in `/p2p/<own id>`. */
  readonly bootnodes: readonly string[]
  /** Own peer id, or null before the node has started. */
  readonly peerId: string | null
  /** True once the node listens and the DHT is up (healthz 200). */
  readonly ready: boolean
  /** Number of peers known (for healthz/metrics). */
  readonly peerCount: number
}

/** What the API reads: the current snapshot and change notifications. */
export interface ViewSource {
  current: () => ViewSnapshot
  /** Called after every new snapshot; returns an unsubscribe function. */
  onChange: (listener: (snapshot: ViewSnapshot) => void) => () => void
}

export const EMPTY_SNAPSHOT: ViewSnapshot = Object.freeze({
  version: 0,
  builtAt: 0,
  heartbeats: [],
  peersInfo: {},
  bootnodes: [],
  peerId: null,
  ready: false,
  peerCount: 0
})

/** A ViewSource whose snapshot is replaced by `set`; used by the view builder and by tests. */
export interface MutableViewSource extends ViewSource {
  set: (snapshot: Omit<ViewSnapshot, 'version' | 'builtAt'>) => ViewSnapshot
}

export interface StaticViewOptions {
  /**
   * Called with the error of a change listener that threw; the other listeners still run.
   * Default: the errors are collected and `set` throws them once every listener has run (the
   * snapshot is replaced all the same), so a caller without a logger still sees them.
   * The view builder passes one that logs.
   */
  onListenerError?: (err: unknown) => void
}

export function createStaticView (initial?: Omit<ViewSnapshot, 'version' | 'builtAt'>, options: StaticViewOptions = {}): MutableViewSource {
  let snapshot: ViewSnapshot = EMPTY_SNAPSHOT
  let errors: unknown[] = []
  const listeners = createListeners<[ViewSnapshot]>(options.onListenerError ?? ((err) => { errors.push(err) }))
  const set = (next: Omit<ViewSnapshot, 'version' | 'builtAt'>): ViewSnapshot => {
    snapshot = Object.freeze({ ...next, version: snapshot.version + 1, builtAt: Date.now() })
    listeners.emit(snapshot)
    if (errors.length > 0) {
      const thrown = errors
      errors = []
      throw thrown.length === 1 ? thrown[0] : new AggregateError(thrown, `${thrown.length} view listeners threw`)
    }
    return snapshot
  }
  if (initial !== undefined) set(initial)
  return {
    current: () => snapshot,
    onChange: (listener) => listeners.add(listener),
    set
  }
}

/**
 * Turns IPs into ip-api shaped locations (SPEC §1). Implemented by src/geo; used by the
 * view builder when peers or addresses appear, never by a route. Results are cached inside.
 */
export interface Locator {
  /** Locate many IPs at once; every input IP gets an entry (fail objects included). Never rejects. */
  locate: (ips: readonly string[]) => Promise<Map<string, Location>>
  /** Releases files, timers and sockets; idempotent. */
  stop: () => Promise<void>
}
