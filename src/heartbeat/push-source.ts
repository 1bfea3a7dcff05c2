/**
 * Native heartbeat source (a): records pushed on `/subnet/<id>/heartbeat/1.0.0`, one
 * length-prefixed envelope in, one ack byte out (docs/PROTOCOL.md §5, push).
 *
 * Every push stream is bounded (issue 12): in size (the length prefix is checked before the body
 * is read), in time (the whole exchange, closing included, must end within the read timeout, or
 * the stream is aborted), and in number (a few per connection, a few hundred in total; past
 * either cap a new stream is reset unread). Refusals are counted by reason and logged at most
 * once per window, so a flood never becomes a log flood.
 */
import { InvalidDataLengthError, byteStream, lpStream } from '@libp2p/utils'
import { SubnetBootnodeError } from '../errors.js'
import {
  ACK_ACCEPTED, ACK_REJECTED, MAX_INBOUND_PUSH_STREAMS, MAX_PUSH_STREAMS, MAX_PUSH_STREAMS_PER_CONNECTION,
  PUSH_READ_TIMEOUT_MS, PUSH_REFUSAL_LOG_WINDOW_MS, heartbeatProtocol
} from './constants.js'
import { HeartbeatRejectedError, MAX_HEARTBEAT_BYTES, toHeartbeatEntry, validateHeartbeat } from './record.js'
import { createWindowedLog } from '../util/windowed-log.js'
import { deadline } from '../util/deadline.js'
import type { HeartbeatSink, HeartbeatSource } from './index.js'
import type { WindowedLog } from '../util/windowed-log.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { Connection, Stream } from '@libp2p/interface'

const PUSH_SOURCE = 'push'

/**
 * Reasons the push handler counts for a stream rather than a record (docs/PROTOCOL.md §5), beside
 * the record reasons of §4: `too-many-streams` (reset unread past a cap), `timeout` (no complete
 * exchange within the read timeout; the stream is aborted).
 */
type PushStreamRefusal = 'too-many-streams' | 'timeout'

export interface PushSourceInit {
  /** The whole exchange (record in, ack out, both sides closed) must end within this. Default PUSH_READ_TIMEOUT_MS (5 s). */
  readTimeoutMs?: number
  /** Push streams open at once per connection. Default MAX_PUSH_STREAMS_PER_CONNECTION (4). */
  maxStreamsPerConnection?: number
  /** Push streams open at once over all connections. Default MAX_PUSH_STREAMS (256). */
  maxStreams?: number
  /** Refusals are logged at most once per this window. Default PUSH_REFUSAL_LOG_WINDOW_MS (10 s). */
  refusalLogWindowMs?: number
}

/** A push stream was reset unread because a cap on open push streams was reached. */
class TooManyPushStreamsError extends SubnetBootnodeError {
  constructor (detail: string) {
    super(`push stream refused: ${detail}`, 'ERR_TOO_MANY_PUSH_STREAMS')
  }
}

/** A length prefix longer than any length up to MAX_HEARTBEAT_BYTES needs: the record is oversized. */
class PushLengthPrefixTooLongError extends SubnetBootnodeError {
  constructor (bytes: number) {
    super(`length prefix of ${bytes} or more bytes, above the ${MAX_HEARTBEAT_BYTES}-byte limit`, 'ERR_PUSH_PREFIX_TOO_LONG')
  }
}

/** Bytes of the longest uvarint a length up to MAX_HEARTBEAT_BYTES needs (2 for 8192). */
const MAX_LENGTH_PREFIX_BYTES = uvarintLength(MAX_HEARTBEAT_BYTES)

function uvarintLength (n: number): number {
  let bytes = 1
  while (n >= 2 ** (7 * bytes)) bytes += 1
  return bytes
}

/**
 * The push's uvarint length decoder for lpStream. lpStream's default decoder keeps reading while
 * the varint is incomplete and checks `maxLengthLength` only once it decodes, so a prefix past
 * two bytes (any length ≥ 16384) ended in InvalidDataLengthLengthError, which the handler did
 * not know, and the stream was reset unacked; an unterminated prefix was read byte by byte until
 * the timeout. Here a prefix longer than MAX_LENGTH_PREFIX_BYTES is refused at its first extra
 * byte, as `oversized`, whatever follows. A RangeError asks lpStream for one more byte.
 */
function decodeLengthPrefix (buf: { byteLength: number, get: (index: number) => number }): number {
  if (buf.byteLength > MAX_LENGTH_PREFIX_BYTES) throw new PushLengthPrefixTooLongError(buf.byteLength)
  let value = 0
  for (let i = 0; i < buf.byteLength; i++) {
    const byte = buf.get(i)
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return value
  }
  throw new RangeError('incomplete uvarint')
}

/** Resolves once `stream` is closed in both directions; rejects when `signal` aborts first. */
async function closed (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.status !== 'open') return
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      stream.removeEventListener('close', done)
      signal.removeEventListener('abort', aborted)
      resolve()
    }
    const aborted = (): void => {
      stream.removeEventListener('close', done)
      reject(signal.reason)
    }
    stream.addEventListener('close', done)
    signal.addEventListener('abort', aborted, { once: true })
    if (signal.aborted) aborted()
  })
}

export class PushHeartbeatSource implements HeartbeatSource {
  readonly name = PUSH_SOURCE
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly protocol: string
  private readonly readTimeoutMs: number
  private readonly maxStreamsPerConnection: number
  private readonly maxStreams: number
  private readonly refusals: WindowedLog
  /** Open push streams per connection id, and in total. */
  private readonly open = new Map<string, number>()
  private openTotal = 0
  private sink?: HeartbeatSink
  private abort = new AbortController()

  constructor (node: SubnetNode, log: Logger, init: PushSourceInit = {}) {
    this.node = node
    this.log = log
    this.protocol = heartbeatProtocol(node.subnetId)
    this.readTimeoutMs = init.readTimeoutMs ?? PUSH_READ_TIMEOUT_MS
    this.maxStreamsPerConnection = init.maxStreamsPerConnection ?? MAX_PUSH_STREAMS_PER_CONNECTION
    this.maxStreams = init.maxStreams ?? MAX_PUSH_STREAMS
    this.refusals = createWindowedLog(log, 'warn', 'push streams refused', init.refusalLogWindowMs ?? PUSH_REFUSAL_LOG_WINDOW_MS)
  }

  async start (sink: HeartbeatSink): Promise<void> {
    if (this.sink !== undefined) return
    this.sink = sink
    this.abort = new AbortController()
    await this.node.libp2p.handle(this.protocol, async (stream: Stream, connection: Connection) => {
      await this.admit(stream, connection, sink)
    }, { maxInboundStreams: Math.max(MAX_INBOUND_PUSH_STREAMS, this.maxStreamsPerConnection + 1) })
  }

  async stop (): Promise<void> {
    if (this.sink === undefined) return
    this.sink = undefined
    this.abort.abort()
    try {
      await this.node.libp2p.unhandle(this.protocol)
    } catch {}
  }

  private reject (sink: HeartbeatSink, err: unknown, peer: string): void {
    const reason = err instanceof HeartbeatRejectedError ? err.reason : 'malformed'
    sink.reject(PUSH_SOURCE, reason, peer, (err as Error).message)
  }

  private refuse (sink: HeartbeatSink, reason: PushStreamRefusal, peer: string, detail: string): void {
    // Logged once here, at warn (a refused stream is an operator's concern), not again by the sink.
    sink.reject(PUSH_SOURCE, reason, peer, detail, true)
    this.refusals.note({ reason, peer, detail })
  }

  /** Holds a slot of both caps for the stream's whole life, or resets it unread when one is full. */
  private async admit (stream: Stream, connection: Connection, sink: HeartbeatSink): Promise<void> {
    const remote = connection.remotePeer.toString()
    const held = this.open.get(connection.id) ?? 0
    const full = held >= this.maxStreamsPerConnection
      ? `${held} push streams open on this connection, limit ${this.maxStreamsPerConnection}`
      : this.openTotal >= this.maxStreams ? `${this.openTotal} push streams open, limit ${this.maxStreams}` : undefined
    if (full !== undefined) {
      this.refuse(sink, 'too-many-streams', remote, full)
      stream.abort(new TooManyPushStreamsError(full))
      return
    }
    this.open.set(connection.id, held + 1)
    this.openTotal += 1
    try {
      await this.handlePush(stream, remote, sink)
    } finally {
      this.openTotal -= 1
      const left = (this.open.get(connection.id) ?? 1) - 1
      if (left > 0) this.open.set(connection.id, left)
      else this.open.delete(connection.id)
    }
  }

  private async handlePush (stream: Stream, remote: string, sink: HeartbeatSink): Promise<void> {
    const bound = deadline(this.readTimeoutMs, this.abort.signal)
    const signal = bound.signal
    try {
      await this.exchange(stream, remote, sink, signal)
    } finally {
      bound.clear()
    }
  }

  /** One record in, one ack out, then wait for the publisher to close; all bounded by `signal`. */
  private async exchange (stream: Stream, remote: string, sink: HeartbeatSink, signal: AbortSignal): Promise<void> {
    const timedOut = (): boolean => signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError'
    // The length prefix is checked before the body is read: an oversized record is
    // refused without buffering or parsing it.
    const lp = lpStream(stream, { maxDataLength: MAX_HEARTBEAT_BYTES, lengthDecoder: decodeLengthPrefix })
    let ack = ACK_REJECTED
    let data: Uint8Array | undefined
    try {
      data = (await lp.read({ signal })).subarray()
    } catch (err) {
      if (err instanceof InvalidDataLengthError || err instanceof PushLengthPrefixTooLongError) {
        this.reject(sink, new HeartbeatRejectedError('oversized', (err as Error).message), remote)
      } else {
        if (timedOut()) this.refuse(sink, 'timeout', remote, `no record within ${this.readTimeoutMs} ms`)
        else this.log.debug('push stream failed before a record arrived', { peer: remote, err })
        stream.abort(err as Error)
        return
      }
    }
    if (data !== undefined) {
      try {
        // The record must be signed by the peer at the other end of the connection.
        const { payload } = await validateHeartbeat(data, { subnetId: this.node.subnetId, expectedPeerId: remote })
        sink.offer({ entry: toHeartbeatEntry(payload), seq: payload.seq }, PUSH_SOURCE)
        ack = ACK_ACCEPTED
      } catch (err) {
        this.reject(sink, err, remote)
      }
    }
    try {
      await byteStream(lp.unwrap()).write(Uint8Array.of(ack), { signal })
      await stream.close({ signal })
      // close() ends our side only: the stream (and its slot) lives until the publisher closes
      // its side too, which it does after reading the ack; one that never does is aborted at the deadline.
      await closed(stream, signal)
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}
