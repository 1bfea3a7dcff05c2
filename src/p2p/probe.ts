/**
 * One reachability probe (SPEC §1 `/v1/is_reachable`): a FRESH connection to one address, a ping
 * over it, and the connection closed again. Never an existing connection: the address is dialled
 * without its `/p2p/<id>` (so the dial queue neither reuses a connection to the peer nor joins a
 * dial to its other addresses) and with `force: true` (so the connection manager never hands back
 * one it holds); the remote's proven peer id is compared afterwards. Outbound, so the connection
 * limiter (inbound caps only) does not count it; the caller bounds how many run at once.
 */
import { PING_PROTOCOL } from '@libp2p/ping'
import { deadline } from '../util/deadline.js'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import type { Connection, Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The ping protocol's payload length (libp2p ping spec). */
const PING_LENGTH = 32

export type ProbeResult =
  | { ok: true, rttMs: number }
  | { ok: false, error: string }

export interface ProbeOptions {
  /** Dial, handshake and ping together must finish within this. */
  timeoutMs: number
  /** Aborts the probe (e.g. the node stops). */
  signal?: AbortSignal
}

/** A short, stable reason for a failed probe: what a client reads in `error`. */
function probeFailure (err: unknown, timedOut: boolean): string {
  if (timedOut) return 'timeout'
  const text = collectMessages(err)
  if (/ECONNREFUSED/.test(text)) return 'connection refused'
  if (/EHOSTUNREACH|ENETUNREACH/.test(text)) return 'host unreachable'
  if (/ECONNRESET|EPIPE/.test(text)) return 'connection reset'
  if (/ETIMEDOUT|timed out|aborted/i.test(text)) return 'timeout'
  if (/protocol selection failed|not supported/i.test(text)) return 'ping not supported'
  if (/encrypt|noise|handshake/i.test(text)) return 'handshake failed'
  return 'dial failed'
}

function collectMessages (err: unknown, depth = 0): string {
  if (depth > 4 || typeof err !== 'object' || err === null) return String(err)
  const e = err as { message?: unknown, code?: unknown, name?: unknown, cause?: unknown, errors?: unknown }
  const own = [e.name, e.code, e.message].filter((v) => typeof v === 'string').join(' ')
  const inner = Array.isArray(e.errors) ? e.errors.map((x) => collectMessages(x, depth + 1)).join(' ') : ''
  return `${own} ${inner} ${e.cause === undefined ? '' : collectMessages(e.cause, depth + 1)}`
}

/**
 * Failures worth one more attempt within the same time budget: a busy peer may reset a new connection
 * for a moment (its per-peer cap still counting one that just closed), which says nothing about its reachability.
 */
const TRANSIENT = new Set(['connection reset', 'handshake failed', 'dial failed'])
/** Pause before that one retry. */
const RETRY_PAUSE_MS = 100
/** A probe's connection closes within this, else it is aborted. */
const CLOSE_TIMEOUT_MS = 1_000

/** Dials `addr` (no `/p2p/`) afresh, checks it is `peerId`, pings once, closes; once more after a transient failure. Never rejects. */
export async function probeAddress (libp2p: Libp2p, peerId: string, addr: Multiaddr, options: ProbeOptions): Promise<ProbeResult> {
  // util/deadline, not AbortSignal.any(AbortSignal.timeout(...)): that timeout can be collected and never fire
  const bound = deadline(options.timeoutMs, ...(options.signal === undefined ? [] : [options.signal]))
  try {
    const first = await attempt(libp2p, peerId, addr, bound.signal)
    if (first.ok || !TRANSIENT.has(first.error) || bound.signal.aborted) return first
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS))
    return bound.signal.aborted ? first : await attempt(libp2p, peerId, addr, bound.signal)
  } finally {
    bound.clear()
  }
}

/** Whether `signal` ended at its deadline (util/deadline aborts with a TimeoutError), not by its caller. */
function timedOut (signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError'
}

async function attempt (libp2p: Libp2p, peerId: string, addr: Multiaddr, signal: AbortSignal): Promise<ProbeResult> {
  let conn: Connection | undefined
  try {
    conn = await libp2p.dial(addr, { force: true, signal })
    if (conn.remotePeer.toString() !== peerId) return { ok: false, error: 'another peer answers there' }
    const stream = await conn.newStream(PING_PROTOCOL, { signal })
    const onAbort = (): void => { stream.abort(new Error('ping timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const data = crypto.getRandomValues(new Uint8Array(PING_LENGTH))
      const start = performance.now()
      stream.send(data)
      const chunks: Uint8Array[] = []
      let length = 0
      for await (const chunk of stream) {
        const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
        chunks.push(bytes)
        length += bytes.byteLength
        if (length >= PING_LENGTH) break
      }
      const received = uint8ArrayConcat(chunks, length)
      const rttMs = performance.now() - start
      signal.throwIfAborted()
      if (received.byteLength < PING_LENGTH || !uint8ArrayEquals(received.subarray(0, PING_LENGTH), data)) {
        return { ok: false, error: 'wrong ping answer' }
      }
      return { ok: true, rttMs: Math.round(rttMs * 100) / 100 }
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  } catch (err) {
    return { ok: false, error: probeFailure(err, timedOut(signal)) }
  } finally {
    // ours alone (force: true), so closing it takes nothing from anyone; abort if a close hangs
    if (conn !== undefined) {
      const opened = conn
      const closing = deadline(CLOSE_TIMEOUT_MS)
      await opened.close({ signal: closing.signal }).catch((err: unknown) => { opened.abort(err as Error) }).finally(() => { closing.clear() })
    }
  }
}
