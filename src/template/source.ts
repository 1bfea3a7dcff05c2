/**
 * The subnet template's heartbeats as a heartbeat source (issue 11, SPEC §5): gossipsub topics
 * `heartbeat` and `peer_state` (plain pydantic JSON or signed Merkle-DAG nodes), validated in
 * gossipsub's topic validator so a bad message is rejected there (its sender penalised, the
 * message not relayed) and counted by reason; the DAG sync protocol answered from what was seen.
 *
 * One entry per peer: `peer_id` = the message's verified `from`; `server.state` from the latest
 * `peer_state` (ONLINE when only heartbeats were seen); `expiration_time` = the last message + the
 * TTL. A peer that has published a valid message for this subnet is a *member* (get_peers_info).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { createListeners } from '../util/listeners.js'
import { DAG_SYNC_PROTOCOL, DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS, MAX_INBOUND_DAG_SYNC_STREAMS } from './constants.js'
import { validatePeerStateTopicMessage } from './dag.js'
import {
  TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS, TemplateMessageRejectedError, parseTemplateHeartbeat,
  templateRoleName
} from './messages.js'
import type { DagSyncService } from './index.js'
import type { TemplateHeartbeat, TemplatePeerState } from './messages.js'
import type { HeartbeatSink, HeartbeatSource } from '../heartbeat/index.js'
import type { HeartbeatEntry, HeartbeatState } from '../heartbeat/model.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { Message, TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

const TEMPLATE_SOURCE = 'gossip'
// Default `--template-heartbeat-ttl`; in the leaf constants.ts so the config reads it without libp2p.
export { DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS } from './constants.js'
/** Members remembered at most (peers that published a valid message); the oldest is forgotten first. */
const MAX_TEMPLATE_MEMBERS = 10_000

/**
 * What a template heartbeat shows for the SPEC §1 fields the template does not carry
 * (docs/SPEC.md §1): no throughput, name, version, relay or pings are published by template nodes.
 */
const TEMPLATE_SERVER_DEFAULTS = Object.freeze({
  throughput: 0,
  public_name: null,
  version: '',
  using_relay: false,
  next_pings: null
})

export interface TemplateSourceInit {
  /** The chain's subnet id (positive integer) the messages must carry. */
  subnetId: number
  /** How long a heartbeat lives after the peer's last message. Default 240 s. */
  ttlMs?: number
  logger: Logger
}

export interface TemplateSourceComponents {
  node: SubnetNode
  /** Answers `/subnet/merkle_dag_sync_protocol/1.0.0` and keeps the verified DAG nodes. */
  dagSync: DagSyncService
}

interface PeerState {
  state: HeartbeatState | undefined
  role: string
  subnetNodeId: number
  epoch: number
  seq: number
}

export class DefaultTemplateHeartbeatSource implements HeartbeatSource {
  readonly name = TEMPLATE_SOURCE
  private readonly node: SubnetNode
  private readonly dagSync: DagSyncService
  /** Aborted by stop(): ends the sync streams in flight. */
  private closing?: AbortController
  private readonly subnetId: number
  private readonly ttlMs: number
  private readonly log: Logger
  private readonly peers = new Map<string, PeerState>()
  private readonly members = new Set<string>()
  private readonly memberListeners = createListeners<[string]>((err) => { this.log.warn('member listener failed', { err }) })
  private sink?: HeartbeatSink

  constructor (init: TemplateSourceInit, components: TemplateSourceComponents) {
    this.node = components.node
    this.dagSync = components.dagSync
    this.subnetId = init.subnetId
    this.ttlMs = init.ttlMs ?? DEFAULT_TEMPLATE_HEARTBEAT_TTL_MS
    this.log = init.logger
  }

  /** Whether `peerId` has published a valid template message for this subnet. */
  isMember (peerId: string): boolean {
    return this.members.has(peerId)
  }

  /** Called with a peer id the first time it becomes a member; returns an unsubscribe function. */
  onMember (listener: (peerId: string) => void): () => void {
    return this.memberListeners.add(listener)
  }

  async start (sink: HeartbeatSink): Promise<void> {
    if (this.sink !== undefined) return
    const pubsub = this.node.pubsub
    if (pubsub === undefined) throw new Error(`the ${this.node.profile} profile has no gossipsub router`)
    this.sink = sink
    const closing = new AbortController()
    this.closing = closing
    await this.node.libp2p.handle(DAG_SYNC_PROTOCOL, async (stream, connection) => {
      await this.dagSync.handle(stream, connection, { signal: closing.signal })
    }, { maxInboundStreams: MAX_INBOUND_DAG_SYNC_STREAMS })
    pubsub.topicValidators.set(TEMPLATE_HEARTBEAT_TOPIC, this.validator(async (msg) => {
      this.ingest(msg.from, parseTemplateHeartbeat(msg.data, { subnetId: this.subnetId }))
    }))
    pubsub.topicValidators.set(TEMPLATE_PEER_STATE_TOPIC, this.validator(async (msg) => {
      const result = await validatePeerStateTopicMessage(msg.data, { subnetId: this.subnetId, from: msg.from.toString() })
      if (result.format === 'plain') {
        this.ingest(msg.from, result.peerState)
      } else if (result.format === 'dag') {
        this.dagSync.add(result.node)
        this.ingest(msg.from, result.node.peerState)
      }
      // A DAG head announcement carries no state: relayed, not counted.
    }))
    pubsub.subscribe(TEMPLATE_HEARTBEAT_TOPIC)
    pubsub.subscribe(TEMPLATE_PEER_STATE_TOPIC)
  }

  async stop (): Promise<void> {
    if (this.sink === undefined) return
    this.sink = undefined
    // Sync streams still open end now, not at their read timeout.
    this.closing?.abort(new Error('the template heartbeat source stopped'))
    const pubsub = this.node.pubsub
    if (pubsub !== undefined && this.node.isStarted()) {
      for (const topic of TEMPLATE_TOPICS) {
        try { pubsub.unsubscribe(topic) } catch {}
        pubsub.topicValidators.delete(topic)
      }
    }
    try {
      await this.node.libp2p.unhandle(DAG_SYNC_PROTOCOL)
    } catch {}
  }

  /**
   * Runs in gossipsub's validation, after its signature check (StrictSign): `Reject` drops the
   * message and penalises the peer that sent it; the reason is counted.
   */
  private validator (handle: (msg: Message & { type: 'signed' }) => Promise<void>): TopicValidatorFn {
    return async (propagationSource: PeerId, msg: Message) => {
      const sink = this.sink
      if (sink === undefined) return TopicValidatorResult.Ignore
      if (msg.type !== 'signed') {
        sink.reject(TEMPLATE_SOURCE, 'malformed', propagationSource.toString(), 'unsigned message')
        return TopicValidatorResult.Reject
      }
      try {
        await handle(msg)
        return TopicValidatorResult.Accept
      } catch (err) {
        const reason = err instanceof TemplateMessageRejectedError ? err.reason : 'malformed'
        sink.reject(TEMPLATE_SOURCE, reason, msg.from.toString(), (err as Error).message)
        return TopicValidatorResult.Reject
      }
    }
  }

  private ingest (from: PeerId, message: TemplateHeartbeat | TemplatePeerState): void {
    const sink = this.sink
    if (sink === undefined) return
    const peer = from.toString()
    const now = Date.now()
    const prev = this.peers.get(peer)
    const isPeerState = 'state' in message
    const next: PeerState = {
      state: isPeerState ? message.state : prev?.state,
      role: isPeerState ? message.role : prev?.role ?? templateRoleName(0),
      subnetNodeId: message.subnetNodeId,
      epoch: message.epoch,
      // One peer's messages in arrival order; strictly increasing so each one is kept.
      seq: Math.max(now, (prev?.seq ?? 0) + 1)
    }
    this.peers.set(peer, next)
    const entry: HeartbeatEntry = {
      peer_id: peer,
      server: { state: next.state ?? 'ONLINE', role: next.role, ...TEMPLATE_SERVER_DEFAULTS },
      expiration_time: (now + this.ttlMs) / 1000,
      subnet_node_id: next.subnetNodeId,
      epoch: next.epoch,
      protocol: 'template'
    }
    sink.offer({ entry, seq: next.seq }, TEMPLATE_SOURCE)
    this.admit(peer)
  }

  private admit (peer: string): void {
    if (this.members.has(peer)) return
    if (this.members.size >= MAX_TEMPLATE_MEMBERS) {
      const oldest = this.members.values().next().value
      if (oldest !== undefined) {
        this.members.delete(oldest)
        this.peers.delete(oldest)
      }
    }
    this.members.add(peer)
    this.memberListeners.emit(peer)
  }
}
