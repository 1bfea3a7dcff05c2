/**
 * Native heartbeat source (a): records pushed on `/subnet/<id>/heartbeat/1.0.0`, one
 * length-prefixed envelope in, one ack byte out (docs/PROTOCOL.md, push).
 */
import { byteStream, lpStream } from '@libp2p/utils'
import { ACK_ACCEPTED, ACK_REJECTED, MAX_INBOUND_PUSH_STREAMS, PUSH_READ_TIMEOUT_MS, heartbeatProtocol } from './constants.js'
import { HeartbeatRejectedError, MAX_HEARTBEAT_BYTES, toHeartbeatEntry, validateHeartbeat } from './record.js'
import type { HeartbeatSink, HeartbeatSource } from './index.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { Connection, Stream } from '@libp2p/interface'

export const PUSH_SOURCE = 'push'

export class PushHeartbeatSource implements HeartbeatSource {
  readonly name = PUSH_SOURCE
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly protocol: string
  private sink?: HeartbeatSink
  private abort = new AbortController()

  constructor (node: SubnetNode, log: Logger) {
    this.node = node
    this.log = log
    this.protocol = heartbeatProtocol(node.subnetId)
  }

  async start (sink: HeartbeatSink): Promise<void> {
    this.sink = sink
    this.abort = new AbortController()
    await this.node.libp2p.handle(this.protocol, async (stream: Stream, connection: Connection) => {
      await this.handlePush(stream, connection, sink)
    }, { maxInboundStreams: MAX_INBOUND_PUSH_STREAMS })
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

  private async handlePush (stream: Stream, connection: Connection, sink: HeartbeatSink): Promise<void> {
    const remote = connection.remotePeer.toString()
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(PUSH_READ_TIMEOUT_MS)])
    // The length prefix is checked before the body is read: an oversized record is
    // refused without buffering or parsing it.
    const lp = lpStream(stream, { maxDataLength: MAX_HEARTBEAT_BYTES })
    let ack = ACK_REJECTED
    let data: Uint8Array | undefined
    try {
      data = (await lp.read({ signal })).subarray()
    } catch (err) {
      if ((err as Error).name === 'InvalidDataLengthError') {
        this.reject(sink, new HeartbeatRejectedError('oversized', 'length prefix above the limit'), remote)
      } else {
        this.log.debug('push stream failed before a record arrived', { peer: remote, err })
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
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}
