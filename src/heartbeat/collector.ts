/**
 * The sidecar side of SPEC §5: collects heartbeats from (a) pushes on
 * `/subnet/<id>/heartbeat/1.0.0`, (b) the records in its own DHT store and (c) bounded,
 * targeted DHT gets for known subnet peers whose heartbeat is missing. Keeps the newest
 * valid record per peer, drops expired ones, counts rejections by reason.
 */
import { Record as DhtRecord } from '@libp2p/kad-dht'
import { byteStream, lpStream } from '@libp2p/utils'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { silentLogger } from '../log/index.js'
import {
  ACK_ACCEPTED, ACK_REJECTED, DEFAULT_LOOKUP_INTERVAL_MS, DHT_RECORD_PREFIX, DEFAULT_SWEEP_INTERVAL_MS, GET_CONCURRENCY, GET_TIMEOUT_MS,
  MAX_GETS_PER_ROUND, MAX_INBOUND_PUSH_STREAMS, PUSH_READ_TIMEOUT_MS
} from './constants.js'
import {
  HeartbeatRejectedError, MAX_HEARTBEAT_BYTES, createRejectionCounter, heartbeatKey, peekHeartbeat,
  peerIdFromHeartbeatKey, sumRejections, toHeartbeatEntry, validateHeartbeat
} from './record.js'
import { createListeners } from '../util/listeners.js'
import type { CollectorComponents, CollectorInit, HeartbeatCollector } from './index.js'
import type { HeartbeatPayload, HeartbeatRejectReason, RejectionCounter } from './record.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { HeartbeatEntry } from '../view/index.js'
import type { Connection, Stream } from '@libp2p/interface'

type Source = 'push' | 'store' | 'dht'

interface Held {
  payload: HeartbeatPayload
  entry: HeartbeatEntry
  envelope: Uint8Array
}

export class HeartbeatCollectorImpl implements HeartbeatCollector {
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly sweepIntervalMs: number
  private readonly lookupIntervalMs: number
  private readonly onDhtQuery: (seconds: number) => void
  private readonly held = new Map<string, Held>()
  private readonly counters: Record<'push' | 'store', RejectionCounter> = {
    push: createRejectionCounter(),
    store: createRejectionCounter()
  }

  private readonly listeners = createListeners<[]>((err) => { this.log.warn('heartbeat change listener failed', { err }) })
  private running = false
  private sweepTimer?: NodeJS.Timeout
  private lookupTimer?: NodeJS.Timeout
  private abort = new AbortController()
  private lookupInFlight?: Promise<void>
  private sweepInFlight?: Promise<void>
  private cached: HeartbeatEntry[] | undefined

  constructor (init: CollectorInit, components: CollectorComponents) {
    this.node = components.node
    this.log = init.logger ?? silentLogger
    this.sweepIntervalMs = init.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    this.lookupIntervalMs = init.lookupIntervalMs ?? DEFAULT_LOOKUP_INTERVAL_MS
    this.onDhtQuery = components.onDhtQuery ?? (() => {})
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.abort = new AbortController()
    await this.node.libp2p.handle(this.node.heartbeatProtocol, async (stream: Stream, connection: Connection) => {
      await this.handlePush(stream, connection)
    }, { maxInboundStreams: MAX_INBOUND_PUSH_STREAMS })
    this.scheduleSweep(0)
    this.scheduleLookup(Math.min(this.lookupIntervalMs, 1000))
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.sweepTimer)
    clearTimeout(this.lookupTimer)
    this.abort.abort()
    try {
      await this.node.libp2p.unhandle(this.node.heartbeatProtocol)
    } catch {}
    await Promise.allSettled([this.lookupInFlight, this.sweepInFlight])
  }

  heartbeats (): HeartbeatEntry[] {
    const nowS = Date.now() / 1000
    if (this.cached !== undefined && this.cached.every((e) => e.expiration_time > nowS)) return this.cached
    const out: HeartbeatEntry[] = []
    for (const h of this.held.values()) if (h.payload.expiration_time > nowS) out.push(h.entry)
    out.sort((a, b) => a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0)
    this.cached = out
    return out
  }

  rejections (): Record<string, number> {
    return sumRejections(this.node.heartbeatRejections(), this.counters.push.counts(), this.counters.store.counts())
  }

  rejectionsBySource (): Record<'dht' | 'push' | 'store', Record<string, number>> {
    return { dht: this.node.heartbeatRejections(), push: this.counters.push.counts(), store: this.counters.store.counts() }
  }

  onChange (listener: () => void): () => void {
    return this.listeners.add(listener)
  }

  private changed (): void {
    this.cached = undefined
    this.listeners.emit()
  }

  /** Keeps the record if it is newer than the one held; true if the view changed. */
  private accept (payload: HeartbeatPayload, envelope: Uint8Array, source: Source): boolean {
    const current = this.held.get(payload.peer_id)
    if (current !== undefined && current.payload.seq >= payload.seq) return false
    this.held.set(payload.peer_id, { payload, entry: toHeartbeatEntry(payload), envelope })
    this.log.debug('heartbeat accepted', { peer: payload.peer_id, state: payload.server.state, seq: payload.seq, source })
    this.changed()
    return true
  }

  private reject (source: 'push' | 'store', err: unknown, peer: string): void {
    const reason: HeartbeatRejectReason = err instanceof HeartbeatRejectedError ? err.reason : 'malformed'
    this.counters[source].record(reason)
    this.log.debug('heartbeat rejected', { source, peer, reason, detail: (err as Error).message })
  }

  /** One length-prefixed envelope in, one ack byte out (docs/PROTOCOL.md, push). */
  private async handlePush (stream: Stream, connection: Connection): Promise<void> {
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
        this.reject('push', new HeartbeatRejectedError('oversized', 'length prefix above the limit'), remote)
      } else {
        this.log.debug('push stream failed before a record arrived', { peer: remote, err })
        stream.abort(err as Error)
        return
      }
    }
    if (data !== undefined) {
      try {
        // The record must be signed by the peer at the other end of the connection.
        const valid = await validateHeartbeat(data, { subnetId: this.node.subnetId, expectedPeerId: remote })
        this.accept(valid.payload, valid.envelope, 'push')
        ack = ACK_ACCEPTED
      } catch (err) {
        this.reject('push', err, remote)
      }
    }
    try {
      await byteStream(lp.unwrap()).write(Uint8Array.of(ack), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  private scheduleSweep (delayMs: number): void {
    if (!this.running) return
    this.sweepTimer = setTimeout(() => {
      this.sweepInFlight = this.sweep()
        .catch((err: unknown) => { this.log.warn('heartbeat sweep failed', { err }) })
        .finally(() => {
          this.sweepInFlight = undefined
          this.scheduleSweep(this.sweepIntervalMs)
        })
    }, delayMs)
    this.sweepTimer.unref()
  }

  private scheduleLookup (delayMs: number): void {
    if (!this.running) return
    this.lookupTimer = setTimeout(() => {
      this.lookupInFlight = this.lookupMissing()
        .catch((err: unknown) => { this.log.warn('heartbeat lookup failed', { err }) })
        .finally(() => {
          this.lookupInFlight = undefined
          this.scheduleLookup(this.lookupIntervalMs)
        })
    }, delayMs)
    this.lookupTimer.unref()
  }

  /** Drops expired records and reads new ones from the local DHT store. */
  private async sweep (): Promise<void> {
    const nowS = Date.now() / 1000
    let dropped = false
    for (const [peer, h] of this.held) {
      if (h.payload.expiration_time <= nowS) {
        this.held.delete(peer)
        dropped = true
      }
    }
    if (dropped) this.changed()
    await this.scanStore()
  }

  private async scanStore (): Promise<void> {
    for await (const { key: dsKey, value } of this.node.datastore.query({ prefix: DHT_RECORD_PREFIX }, { signal: this.abort.signal })) {
      if (!this.running) return
      let record: DhtRecord
      try {
        record = DhtRecord.deserialize(value)
      } catch {
        continue
      }
      const peer = peerIdFromHeartbeatKey(record.key)
      if (peer === undefined) continue
      const held = this.held.get(peer)
      if (held !== undefined && uint8ArrayEquals(held.envelope, record.value)) continue
      const peek = peekHeartbeat(record.value)
      if (held !== undefined && peek !== undefined && peek.seq <= held.payload.seq) continue
      try {
        const valid = await validateHeartbeat(record.value, { subnetId: this.node.subnetId, expectedPeerId: peer })
        this.accept(valid.payload, valid.envelope, 'store')
      } catch (err) {
        if (err instanceof HeartbeatRejectedError && err.reason === 'expired') {
          // Records the DHT accepted earlier age out here: not a rejection, just garbage.
          try { await this.node.datastore.delete(dsKey) } catch {}
          continue
        }
        this.reject('store', err, peer)
      }
    }
  }

  /** Subnet peers we know (peer store with our kad protocol) whose heartbeat we do not hold. */
  private async missingPeers (): Promise<string[]> {
    const nowS = Date.now() / 1000
    const peers = await this.node.libp2p.peerStore.all({
      filters: [(p) => p.protocols.includes(this.node.kadProtocol)]
    })
    return peers
      .map((p) => p.id.toString())
      .filter((id) => id !== this.node.peerId)
      .filter((id) => {
        const h = this.held.get(id)
        return h === undefined || h.payload.expiration_time <= nowS
      })
  }

  /** Bounded, targeted gets (SPEC §5): at most MAX_GETS_PER_ROUND, GET_CONCURRENCY at a time. */
  private async lookupMissing (): Promise<void> {
    if (!this.node.isDhtReady()) return
    const queue = (await this.missingPeers()).slice(0, MAX_GETS_PER_ROUND)
    const worker = async (): Promise<void> => {
      for (let peer = queue.shift(); peer !== undefined && this.running; peer = queue.shift()) {
        await this.getOne(peer)
      }
    }
    await Promise.all(Array.from({ length: GET_CONCURRENCY }, worker))
  }

  /**
   * kad-dht's `get` yields its VALUE only after the whole query ends (and throws if a
   * correction cannot be sent), so read the records from the peer responses as they arrive
   * and stop at the first valid one: pushes and later rounds bring anything newer.
   */
  private async getOne (peer: string): Promise<void> {
    const started = performance.now()
    const query = new AbortController()
    const signal = AbortSignal.any([this.abort.signal, query.signal, AbortSignal.timeout(GET_TIMEOUT_MS)])
    let best: { payload: HeartbeatPayload, envelope: Uint8Array } | undefined
    try {
      for await (const event of this.node.dht.get(heartbeatKey(peer), { signal })) {
        const value = event.name === 'PEER_RESPONSE' ? event.record?.value : event.name === 'VALUE' ? event.value : undefined
        if (value === undefined) continue
        try {
          // kad-dht has run the validator on it; run the one function again for the expiry
          // and the payload.
          best = await validateHeartbeat(value, { subnetId: this.node.subnetId, expectedPeerId: peer })
          break
        } catch {}
      }
    } catch (err) {
      if (this.running && best === undefined) this.log.debug('DHT get failed', { peer, err })
    } finally {
      query.abort()
      this.onDhtQuery((performance.now() - started) / 1000)
    }
    if (best !== undefined && this.running) this.accept(best.payload, best.envelope, 'dht')
  }
}
