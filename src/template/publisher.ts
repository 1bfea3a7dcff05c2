/**
 * A template node's publishing side, in JavaScript (issue 11 item 7): what the subnet template's
 * plain pubsub publishers send (template `subnet/utils/pubsub/heartbeat.py`
 * `publish_heartbeat_loop`, `peer_state.py` `publish_peer_state`), byte for byte:
 * - topic `heartbeat`: `HeartbeatData` once per epoch;
 * - topic `peer_state`: `PeerStateData` every 20 s;
 * both pydantic `model_dump_json()` (no spaces, enums as integers, fields in model order), with a
 * fresh `secrets.token_hex(16)` uid per message as the template does, and the epoch of the
 * template's local mock chain unless one is given. State is JOINING until a peer subscribed to
 * `peer_state` is seen (then ONLINE, published at once), and a final OFFLINE `peer_state` is
 * sent on stop, bounded (the template itself has only a TODO there; its DAG example sends one).
 */
import { randomBytes } from 'node:crypto'
import { silentLogger } from '../log/index.js'
import { requireTemplateSubnetId } from '../p2p/index.js'
import { settleWithin } from '../util/deadline.js'
import { createRepeatingTask } from '../util/task.js'
import {
  DEFAULT_TEMPLATE_HEARTBEAT_INTERVAL_MS, DEFAULT_TEMPLATE_OFFLINE_SETTLE_MS, DEFAULT_TEMPLATE_PEER_STATE_INTERVAL_MS, MAX_SUBNET_NODE_ID,
  TEMPLATE_BLOCK_SECS, TEMPLATE_EPOCH_BLOCKS, TEMPLATE_MOCK_SLOT, TEMPLATE_OFFLINE_PUBLISH_TIMEOUT_MS
} from './constants.js'
import { TEMPLATE_HEARTBEAT_TOPIC, TEMPLATE_PEER_STATE_TOPIC, TEMPLATE_TOPICS, templateStateCode } from './messages.js'
import type { TemplateState, TemplateStateCode } from './messages.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { RepeatingTask } from '../util/task.js'
import type { GossipSub } from '@libp2p/gossipsub'

export interface TemplatePublisherInit {
  /** The chain's subnet id (a positive integer; text as `--subnet-id` gives it is accepted). */
  subnetId: number | string
  /** This node's `subnet_node_id` on chain: a positive integer (the template's models assert > 0). */
  subnetNodeId: number
  /** Between heartbeats. Default one template epoch, 120 s (DEFAULT_TEMPLATE_HEARTBEAT_INTERVAL_MS). */
  heartbeatIntervalMs?: number
  /** Between peer_state messages. Default 20 s (DEFAULT_TEMPLATE_PEER_STATE_INTERVAL_MS). */
  peerStateIntervalMs?: number
  /** The epoch the messages carry: a fixed number or a function. Default the mock chain's, templateMockEpoch(). */
  epoch?: number | (() => number)
  /** The `role` of peer_state. Default 0 (VALIDATOR, the template's only PeerRole). */
  role?: number
  /** Wait after the OFFLINE message before stop() returns, so it leaves before the node closes. Default 500 ms. */
  offlineSettleMs?: number
  logger?: Logger
}

export interface TemplatePublisherComponents {
  /** A node of the `template` or `both` profile (it has the gossipsub router). */
  node: SubnetNode
}

export interface TemplatePublisher {
  /** Subscribes to `heartbeat` and `peer_state` and starts publishing (JOINING); idempotent. */
  start: () => Promise<void>
  /** Stops the loops, publishes one OFFLINE peer_state (bounded), unsubscribes; idempotent. Stop it before the node. */
  stop: () => Promise<void>
  state: () => TemplateState
}

/** `HeartbeatData` as the template builds it. */
export interface TemplateHeartbeatData {
  uid: string
  epoch: number
  subnet_id: number
  subnet_node_id: number
}

/** `PeerStateData` as the template builds it. */
export interface TemplatePeerStateData extends TemplateHeartbeatData {
  state: TemplateStateCode
  role: number
}

const utf8 = new TextEncoder()

/**
 * `HeartbeatData(...).model_dump_json()`: the fields in model order, no spaces. JSON.stringify
 * gives the same bytes for integers and ASCII strings (the template's uids are hex).
 */
export function encodeTemplateHeartbeat (data: TemplateHeartbeatData): Uint8Array {
  return utf8.encode(JSON.stringify({ uid: data.uid, epoch: data.epoch, subnet_id: data.subnet_id, subnet_node_id: data.subnet_node_id }))
}

/** `PeerStateData(...).model_dump_json()` (enums as their integer values). */
export function encodeTemplatePeerState (data: TemplatePeerStateData): Uint8Array {
  return utf8.encode(JSON.stringify({
    uid: data.uid, epoch: data.epoch, subnet_id: data.subnet_id, subnet_node_id: data.subnet_node_id, state: data.state, role: data.role
  }))
}

/** `secrets.token_hex(16)`: 32 random lowercase hex digits. */
export function templateUid (): string {
  return randomBytes(16).toString('hex')
}

/**
 * The epoch of the template's local mock chain (`LocalMockHypertensor`, `--no_blockchain_rpc`):
 * block = now // 6, epoch = (block - slot 3) // 20, with Python's floor division.
 */
export function templateMockEpoch (nowMs: number = Date.now()): number {
  const block = Math.floor(Math.floor(nowMs / 1000) / TEMPLATE_BLOCK_SECS)
  return Math.floor((block - TEMPLATE_MOCK_SLOT) / TEMPLATE_EPOCH_BLOCKS)
}

export function createTemplatePublisher (init: TemplatePublisherInit, components: TemplatePublisherComponents): TemplatePublisher {
  return new DefaultTemplatePublisher(init, components.node)
}

class DefaultTemplatePublisher implements TemplatePublisher {
  private readonly node: SubnetNode
  private readonly log: Logger
  private readonly subnetId: number
  private readonly subnetNodeId: number
  private readonly role: number
  private readonly epoch: () => number
  private readonly offlineSettleMs: number
  private readonly heartbeats: RepeatingTask
  private readonly peerStates: RepeatingTask
  private running = false
  private currentState: TemplateState = 'JOINING'
  /** Topics this publisher subscribed (a heartbeat source on the same node may hold them already). */
  private readonly subscribed = new Set<string>()
  private readonly onSubscriptionChange = (): void => { this.maybeGoOnline() }

  constructor (init: TemplatePublisherInit, node: SubnetNode) {
    this.node = node
    this.log = init.logger ?? silentLogger
    const subnetId = requireTemplateSubnetId(init.subnetId)
    if (!Number.isSafeInteger(init.subnetNodeId) || init.subnetNodeId <= 0 || init.subnetNodeId > MAX_SUBNET_NODE_ID) {
      throw new TypeError(`subnet node id ${String(init.subnetNodeId)} must be an integer from 1 to ${MAX_SUBNET_NODE_ID}`)
    }
    const role = init.role ?? 0
    if (!Number.isSafeInteger(role) || role < 0) throw new TypeError(`template role ${String(role)} must be a non-negative integer`)
    this.subnetId = subnetId
    this.subnetNodeId = init.subnetNodeId
    this.role = role
    const epoch = init.epoch
    this.epoch = typeof epoch === 'number' ? () => epoch : epoch ?? (() => templateMockEpoch())
    this.offlineSettleMs = init.offlineSettleMs ?? DEFAULT_TEMPLATE_OFFLINE_SETTLE_MS
    this.heartbeats = createRepeatingTask(async () => { await this.publish(TEMPLATE_HEARTBEAT_TOPIC, this.heartbeatBytes()) }, {
      intervalMs: init.heartbeatIntervalMs ?? DEFAULT_TEMPLATE_HEARTBEAT_INTERVAL_MS,
      runImmediately: true,
      logger: this.log,
      name: 'template heartbeat'
    })
    this.peerStates = createRepeatingTask(async () => {
      this.maybeGoOnline(false)
      await this.publish(TEMPLATE_PEER_STATE_TOPIC, this.peerStateBytes())
    }, {
      intervalMs: init.peerStateIntervalMs ?? DEFAULT_TEMPLATE_PEER_STATE_INTERVAL_MS,
      runImmediately: true,
      logger: this.log,
      name: 'template peer_state'
    })
  }

  state (): TemplateState {
    return this.currentState
  }

  async start (): Promise<void> {
    if (this.running) return
    const pubsub = this.pubsub()
    this.running = true
    this.currentState = 'JOINING'
    for (const topic of TEMPLATE_TOPICS) {
      if (pubsub.getTopics().includes(topic)) continue
      pubsub.subscribe(topic)
      this.subscribed.add(topic)
    }
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    this.heartbeats.start()
    this.peerStates.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    const pubsub = this.pubsub()
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    await Promise.all([this.heartbeats.stop(), this.peerStates.stop()])
    this.currentState = 'OFFLINE'
    if (this.node.isStarted()) {
      // A last OFFLINE peer_state so the subnet (and a sidecar) learns of a clean shutdown at once.
      try {
        const sent = await settleWithin(this.publish(TEMPLATE_PEER_STATE_TOPIC, this.peerStateBytes()), TEMPLATE_OFFLINE_PUBLISH_TIMEOUT_MS, () => false)
        if (sent && this.offlineSettleMs > 0) await new Promise((resolve) => setTimeout(resolve, this.offlineSettleMs))
      } catch (err) {
        this.log.warn('could not publish the OFFLINE peer_state', { err })
      }
      for (const topic of this.subscribed) {
        try { pubsub.unsubscribe(topic) } catch {}
      }
    }
    this.subscribed.clear()
  }

  private pubsub (): GossipSub {
    const pubsub = this.node.pubsub
    if (pubsub === undefined) throw new TypeError(`the ${this.node.profile} profile has no gossipsub router: a template publisher needs the template or both profile`)
    return pubsub
  }

  /**
   * JOINING → ONLINE once a peer subscribed to `peer_state` is known (we are in the subnet's
   * pubsub); then publish both messages at once rather than an interval later.
   */
  private maybeGoOnline (publishNow = true): void {
    if (!this.running || this.currentState !== 'JOINING') return
    if (this.pubsub().getSubscribers(TEMPLATE_PEER_STATE_TOPIC).length === 0) return
    this.currentState = 'ONLINE'
    this.log.info('template state ONLINE', { peer_id: this.node.peerId, subnet_node_id: this.subnetNodeId })
    if (publishNow) {
      this.peerStates.run()
      this.heartbeats.run()
    }
  }

  private heartbeatBytes (): Uint8Array {
    return encodeTemplateHeartbeat({ uid: templateUid(), epoch: this.epoch(), subnet_id: this.subnetId, subnet_node_id: this.subnetNodeId })
  }

  private peerStateBytes (): Uint8Array {
    return encodeTemplatePeerState({
      uid: templateUid(),
      epoch: this.epoch(),
      subnet_id: this.subnetId,
      subnet_node_id: this.subnetNodeId,
      state: templateStateCode(this.currentState),
      role: this.role
    })
  }

  /** Publishes; a round with no subscribed peer yet is not a failure (the template logs and carries on too). */
  private async publish (topic: string, data: Uint8Array): Promise<boolean> {
    // templateGossipsub allows a publish with no subscriber (no match on gossipsub's error text)
    const { recipients } = await this.pubsub().publish(topic, data)
    if (recipients.length === 0) {
      this.log.debug('template message not published: no peer subscribed yet', { topic })
      return false
    }
    this.log.debug('template message published', { topic, recipients: recipients.length, state: this.currentState })
    return true
  }
}
