/**
 * The live feed `GET /v1/watch` (SPEC §1): Server-Sent Events carrying the very bytes the view
 * routes serve. At connect a stream gets the three current bodies; after each view change it gets
 * those whose bytes changed, each frame built once and written to every stream (the same Buffer).
 * A stream ends with an `event: close` when its key stops being usable (hot reload, expiry) or the
 * server shuts down; a stream whose client does not read is cut off past WATCH_MAX_PENDING_BYTES.
 */
import { authenticate, presentedKey, type KeySource } from './auth.js'
import { BODY_ROUTES, FORBIDDEN_DETAIL, SSE_CONTENT_TYPE, WATCH_KEY_CHECK_MS, WATCH_MAX_PENDING_BYTES, type BodyRoute } from './constants.js'
import { keyRefusal, type ApiKeyEntry, type KeySet } from '../keys/index.js'
import type { Bodies } from './bodies.js'
import type { ViewSource } from '../view/index.js'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The event each view route's body is sent as (SPEC §1 `/v1/watch`). */
const WATCH_EVENTS: Readonly<Record<BodyRoute, string>> = {
  get_heartbeat: 'heartbeat',
  get_peers_info: 'peers_info',
  get_bootnodes: 'bootnodes'
}

/** Why the server ends a stream: the `detail` of its `close` event. */
const WATCH_CLOSE_REVOKED = FORBIDDEN_DETAIL
const WATCH_CLOSE_SHUTDOWN = 'Server shutting down'

const KEEP_ALIVE = Buffer.from(': keep-alive\n\n')

export interface WatchHubInit {
  /** Open streams per API key. */
  maxPerKey: number
  /** Open streams across all keys. */
  maxTotal: number
  /** Between keep-alive comments. */
  keepAliveMs: number
}

export interface WatchHubComponents {
  view: ViewSource
  bodies: Bodies
  keys: KeySource
}

export interface WatchHubHooks {
  /** A stream ended, and why (`client` when the client went away). */
  onClosed?: (reason: 'client' | 'revoked' | 'shutdown' | 'slow') => void
  /** Building the frames after a view change failed (it runs off any request: thrown, it would end the process); the streams wait for the next change. */
  onError?: (err: unknown) => void
}

export interface WatchHub {
  /**
   * Why a new stream for `req` is refused: `per_key` when its key already holds its maximum (the
   * client's own doing, checked first), `total` when the server does; `undefined` when there is room.
   */
  refusal: (req: IncomingMessage) => WatchRefusal | undefined
  /** Starts the stream on `res` for an accepted key `entry`: headers and the three current events. */
  open: (req: IncomingMessage, res: ServerResponse, entry: Readonly<ApiKeyEntry>) => void
  /** Open streams. */
  size: () => number
  /** Ends every stream with a `close` event and stops the timers; new ones are refused (ended at once). Idempotent. */
  close: (reason?: string) => void
}

/** Which cap refused a new stream (the `reason` label of its refusal count). */
export type WatchRefusal = 'per_key' | 'total'

interface Frame { etag: string, bytes: Buffer }

interface Watcher {
  req: IncomingMessage
  res: ServerResponse
  key: string
  entry: Readonly<ApiKeyEntry>
  /** The ETag of the last frame sent per route. */
  sent: Map<BodyRoute, string>
}

function frameOf (event: string, etag: string, body: Buffer): Buffer {
  // the body is one line of JSON (JSON.stringify never emits a raw newline), so one `data:` line
  return Buffer.concat([Buffer.from(`event: ${event}\nid: ${etag.slice(1, -1)}\ndata: `), body, Buffer.from('\n\n')])
}

function closeFrame (reason: string): Buffer {
  return Buffer.from(`event: close\ndata: ${JSON.stringify({ detail: reason })}\n\n`)
}

export function createWatchHub (init: WatchHubInit, components: WatchHubComponents, hooks: WatchHubHooks = {}): WatchHub {
  const { view, bodies, keys } = components
  const byKey = new Map<string, Set<Watcher>>()
  const all = new Set<Watcher>()
  const frames = new Map<BodyRoute, Frame>()
  let closed = false
  let keySet: KeySet | undefined

  /** The current frame of each route, rebuilt only when its body's ETag changed. */
  const currentFrames = (): Map<BodyRoute, Frame> => {
    for (const route of BODY_ROUTES) {
      const identity = bodies.get(route, undefined).identity
      if (frames.get(route)?.etag !== identity.etag) frames.set(route, { etag: identity.etag, bytes: frameOf(WATCH_EVENTS[route], identity.etag, identity.body) })
    }
    return frames
  }

  const drop = (w: Watcher): boolean => {
    if (!all.delete(w)) return false
    const mine = byKey.get(w.key)
    mine?.delete(w)
    if (mine?.size === 0) byKey.delete(w.key)
    return true
  }

  const end = (w: Watcher, reason: string, why: 'revoked' | 'shutdown' | 'slow'): void => {
    if (!drop(w)) return
    hooks.onClosed?.(why)
    if (why === 'slow') {
      w.res.destroy()
      return
    }
    w.res.end(closeFrame(reason))
  }

  const write = (w: Watcher, bytes: Buffer): void => {
    if (w.res.writableLength > WATCH_MAX_PENDING_BYTES) {
      end(w, '', 'slow')
      return
    }
    w.res.write(bytes)
  }

  const send = (w: Watcher, current: Map<BodyRoute, Frame>): void => {
    for (const route of BODY_ROUTES) {
      const frame = current.get(route)
      if (frame === undefined || w.sent.get(route) === frame.etag) continue
      w.sent.set(route, frame.etag)
      write(w, frame.bytes)
      if (!all.has(w)) return
    }
  }

  // One broadcast per burst of view changes, a macrotask later (as the bodies module prepares them).
  let scheduled = false
  const broadcast = (): void => {
    scheduled = false
    if (closed || all.size === 0) return
    try {
      const current = currentFrames()
      for (const w of all) send(w, current)
    } catch (err) {
      hooks.onError?.(err)
    }
  }
  const unsubscribe = view.onChange(() => {
    if (scheduled || closed) return
    scheduled = true
    setImmediate(broadcast)
  })

  // A reloaded key file, or an expiry: re-check each stream's key (the store's lookup only on a reload).
  const checkKeys = (): void => {
    if (all.size === 0) return
    const now = Date.now()
    const reloaded = keys.current() !== keySet
    keySet = keys.current()
    for (const w of all) {
      if (reloaded) {
        const result = authenticate(keys, w.req.headers, 'watch', now)
        if (result.ok) w.entry = result.entry
        else end(w, WATCH_CLOSE_REVOKED, 'revoked')
      } else if (keyRefusal(w.entry, 'watch', now) !== undefined) {
        end(w, WATCH_CLOSE_REVOKED, 'revoked')
      }
    }
  }
  const keyTimer = setInterval(checkKeys, WATCH_KEY_CHECK_MS)
  keyTimer.unref()
  const keepAliveTimer = setInterval(() => { for (const w of all) write(w, KEEP_ALIVE) }, init.keepAliveMs)
  keepAliveTimer.unref()

  return {
    refusal: (req) => {
      if ((byKey.get(presentedKey(req.headers) ?? '')?.size ?? 0) >= init.maxPerKey) return 'per_key'
      return all.size >= init.maxTotal ? 'total' : undefined
    },
    open: (req, res, entry) => {
      res.statusCode = 200
      res.setHeader('Content-Type', SSE_CONTENT_TYPE)
      res.setHeader('Cache-Control', 'no-cache')
      // nginx buffers responses by default; this header turns it off for this one (a live feed)
      res.setHeader('X-Accel-Buffering', 'no')
      if (closed || req.method === 'HEAD') {
        res.end(closed ? closeFrame(WATCH_CLOSE_SHUTDOWN) : undefined)
        return
      }
      res.flushHeaders()
      const w: Watcher = { req, res, key: presentedKey(req.headers) ?? '', entry, sent: new Map() }
      if (all.size === 0) keySet = keys.current()
      all.add(w)
      let mine = byKey.get(w.key)
      if (mine === undefined) {
        mine = new Set()
        byKey.set(w.key, mine)
      }
      mine.add(w)
      res.on('close', () => { if (drop(w)) hooks.onClosed?.('client') })
      send(w, currentFrames())
    },
    size: () => all.size,
    close: (reason = WATCH_CLOSE_SHUTDOWN) => {
      if (closed) return
      closed = true
      unsubscribe()
      clearInterval(keyTimer)
      clearInterval(keepAliveTimer)
      for (const w of [...all]) end(w, reason, 'shutdown')
    }
  }
}
