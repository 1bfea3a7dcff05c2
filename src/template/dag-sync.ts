/**
 * Server side of the template's DAG sync protocol `/subnet/merkle_dag_sync_protocol/1.0.0`
 * (template `subnet/protocols/dag_sync_protocol.py`, `merkle_dag/sync.py`
 * `MerkleDagSyncCoordinator.handle_request`, models in `merkle_dag/models.py`): one
 * unsigned-varint length-prefixed canonical JSON request per stream, one response, then close.
 *
 * Why a bootnode must answer it: a template node's startup `sync_dag` waits for an inventory
 * answer from every peer it knows before it publishes anything (harness README).
 *
 * What we advertise and serve: only the "anchored" nodes of a small in-memory store, i.e. held
 * nodes whose every ancestor is held too (down to nodes with no parents). A template node
 * that syncs from us therefore never receives an orphan from us, and its convergence test
 * (`_startup_sync_converged`: its complete-node count >= our `node_count`, every head of ours
 * held) is always reachable by fetching from us alone. The store is bounded (oldest received
 * evicted first); evicting an ancestor un-anchors its descendants, so once the subnet's DAG
 * outgrows the bound the inventory shrinks, down to the empty inventory the template counts as
 * converged at once. Nodes with a role other than `servableRoles` are not stored: a stock
 * template node rejects them at fetch and would retry its sync forever.
 */
import { lpStream } from '@libp2p/utils'
import { silentLogger } from '../log/index.js'
import { deadline } from '../util/deadline.js'
import { DAG_NAMESPACE, canonicalJsonBytes, compareCodePoints } from './dag.js'
import { TemplateMessageRejectedError, decodeJsonObject, isUint } from './messages.js'
import {
  DAG_SYNC_READ_TIMEOUT_MS, DEFAULT_DAG_MAX_NODES, DEFAULT_SERVABLE_ROLES, MAX_DAG_FETCH_DEPTH, MAX_DAG_FETCH_NODES,
  MAX_DAG_SYNC_REQUEST_BYTES
} from './constants.js'
import type { DagNodeWire, JsonValue, VerifiedDagNode } from './dag.js'
import type { DagAddResult, DagSummaryWire, DagSyncComponents, DagSyncCounts, DagSyncInit, DagSyncRejectReason, DagSyncService } from './index.js'
import type { JsonObject } from './messages.js'
import type { Logger } from '../log/index.js'
import type { AbortOptions, Connection, Stream } from '@libp2p/interface'

interface Held {
  node: DagNodeWire
  parentIds: readonly string[]
}

class SyncRequestError extends Error {
  constructor (readonly reason: DagSyncRejectReason, detail: string) {
    super(detail)
  }
}

export class DefaultDagSyncService implements DagSyncService {
  private readonly namespace: string
  private readonly maxNodes: number
  private readonly maxRequestBytes: number
  private readonly readTimeoutMs: number
  private readonly maxFetchNodes: number
  private readonly advertise: boolean
  private readonly servableRoles: ReadonlySet<number>
  private readonly log: Logger
  private readonly now: () => number
  private readonly localPeerId: string
  /** Insertion order = eviction order. */
  private readonly held = new Map<string, Held>()
  private anchoredCache?: Set<string>
  private readonly stats = { inventory: 0, fetch: 0, served_nodes: 0, rejected: {} as Partial<Record<DagSyncRejectReason, number>> }

  constructor (init: DagSyncInit, components: DagSyncComponents) {
    this.namespace = init.namespace ?? DAG_NAMESPACE
    this.maxNodes = init.maxNodes ?? DEFAULT_DAG_MAX_NODES
    this.maxRequestBytes = init.maxRequestBytes ?? MAX_DAG_SYNC_REQUEST_BYTES
    this.readTimeoutMs = init.readTimeoutMs ?? DAG_SYNC_READ_TIMEOUT_MS
    this.maxFetchNodes = init.maxFetchNodes ?? MAX_DAG_FETCH_NODES
    this.advertise = init.advertiseInventory ?? true
    this.servableRoles = new Set(init.servableRoles ?? DEFAULT_SERVABLE_ROLES)
    this.log = init.logger ?? silentLogger
    this.now = init.now ?? Date.now
    this.localPeerId = components.peerId.toString()
    if (!Number.isSafeInteger(this.maxNodes) || this.maxNodes < 0) throw new RangeError('maxNodes must be a non-negative integer')
  }

  add (node: VerifiedDagNode): DagAddResult {
    if (node.namespace !== this.namespace || node.node.header.namespace !== this.namespace) return 'refused'
    if (!this.servableRoles.has(node.peerState.roleCode)) return 'refused'
    if (this.held.has(node.nodeId)) return 'duplicate'
    if (this.maxNodes === 0) return 'refused'
    this.held.set(node.nodeId, { node: node.node, parentIds: node.parentIds })
    while (this.held.size > this.maxNodes) {
      const oldest = this.held.keys().next().value as string
      this.held.delete(oldest)
    }
    this.anchoredCache = undefined
    return 'added'
  }

  has (nodeId: string): boolean {
    return this.held.has(nodeId)
  }

  size (): number {
    return this.held.size
  }

  summary (): DagSummaryWire {
    const anchored = this.advertise ? this.anchored() : new Set<string>()
    const parents = new Set<string>()
    for (const id of anchored) for (const p of (this.held.get(id) as Held).parentIds) parents.add(p)
    const heads = [...anchored].filter((id) => !parents.has(id)).sort(compareCodePoints)
    return { generated_at_ms: this.now(), head_ids: heads, namespace: this.namespace, node_count: anchored.size, orphan_count: 0 }
  }

  counts (): DagSyncCounts {
    return { inventory: this.stats.inventory, fetch: this.stats.fetch, servedNodes: this.stats.served_nodes, rejected: { ...this.stats.rejected } }
  }

  async handle (stream: Stream, connection: Connection, options: AbortOptions = {}): Promise<void> {
    const timer = deadline(this.readTimeoutMs, ...(options.signal === undefined ? [] : [options.signal]))
    try {
      await this.serve(stream, connection, timer.signal)
    } finally {
      timer.clear()
    }
  }

  private async serve (stream: Stream, connection: Connection, signal: AbortSignal): Promise<void> {
    const remote = connection.remotePeer.toString()
    // The length prefix is checked before the body is read (lpStream maxDataLength).
    const lp = lpStream(stream, { maxDataLength: this.maxRequestBytes })
    let request: Uint8Array
    try {
      request = (await lp.read({ signal })).subarray()
    } catch (err) {
      const reason: DagSyncRejectReason = (err as Error).name === 'InvalidDataLengthError' ? 'oversized' : 'stream_error'
      this.reject(reason, remote, (err as Error).message)
      stream.abort(err as Error)
      return
    }
    let response: Uint8Array
    try {
      response = this.respond(request)
    } catch (err) {
      const reason = err instanceof SyncRequestError ? err.reason : 'malformed'
      this.reject(reason, remote, (err as Error).message)
      // As the template does on a bad request: no response; the requester sees the stream end.
      stream.abort(new Error(`DAG sync request refused (${reason})`))
      return
    }
    try {
      await lp.write(response, { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log.debug('DAG sync response not delivered', { peer: remote, err })
      stream.abort(err as Error)
    }
  }

  /** One request's bytes in (at most maxRequestBytes: lpStream refused longer), the response's bytes out (canonical JSON); throws SyncRequestError. */
  private respond (request: Uint8Array): Uint8Array {
    let msg: JsonObject
    try {
      msg = decodeJsonObject(request)
    } catch (err) {
      throw new SyncRequestError('malformed', err instanceof TemplateMessageRejectedError ? err.message : String(err))
    }
    // models.py `_wire_fields`: every request carries these four.
    const messageId = msg.message_id
    const namespace = msg.namespace
    if (typeof messageId !== 'string' || typeof namespace !== 'string' || typeof msg.peer_id !== 'string' || !isUint(msg.created_at_ms)) {
      throw new SyncRequestError('malformed', 'message_id, namespace, peer_id or created_at_ms missing or mistyped')
    }
    const base = { created_at_ms: this.now(), message_id: messageId, namespace, peer_id: this.localPeerId }
    switch (msg.kind) {
      case 'inventory_request': {
        if (!isUint(msg.node_count) || !isStringList(msg.known_heads ?? [])) throw new SyncRequestError('malformed', 'node_count or known_heads mistyped')
        if (namespace !== this.namespace) throw new SyncRequestError('wrong_namespace', `namespace ${namespace}`)
        this.stats.inventory += 1
        return canonicalJsonBytes({ ...base, kind: 'inventory_response', summary: this.summary() })
      }
      case 'fetch_request': {
        const nodeIds = msg.node_ids ?? []
        const depth = msg.max_ancestor_depth
        if (!isStringList(nodeIds) || typeof msg.include_bodies !== 'boolean' || typeof depth !== 'number' || !Number.isSafeInteger(depth)) {
          throw new SyncRequestError('malformed', 'node_ids, include_bodies or max_ancestor_depth mistyped')
        }
        if (namespace !== this.namespace) throw new SyncRequestError('wrong_namespace', `namespace ${namespace}`)
        this.stats.fetch += 1
        const { nodes, notFound } = this.fetch(nodeIds, msg.include_bodies, Math.min(depth, MAX_DAG_FETCH_DEPTH))
        this.stats.served_nodes += nodes.length
        return canonicalJsonBytes({ ...base, kind: 'fetch_response', nodes, not_found: notFound })
      }
      default:
        throw new SyncRequestError('unsupported_kind', `kind ${JSON.stringify(msg.kind)}`)
    }
  }

  /** `MerkleDag.snapshots_for_fetch` over the anchored nodes: ancestors first, requested ids in sorted order. */
  private fetch (nodeIds: string[], includeBodies: boolean, maxDepth: number): { nodes: JsonValue[], notFound: string[] } {
    const anchored = this.anchored()
    const nodes: JsonValue[] = []
    const visited = new Set<string>()
    const visit = (id: string, depth: number): void => {
      if (visited.has(id) || depth < 0 || !anchored.has(id) || nodes.length >= this.maxFetchNodes) return
      visited.add(id)
      const h = this.held.get(id) as Held
      if (depth > 0) for (const p of h.parentIds) visit(p, depth - 1)
      if (nodes.length >= this.maxFetchNodes) {
        visited.delete(id)
        return
      }
      nodes.push({ header: h.node.header as unknown as JsonValue, body: includeBodies ? h.node.body : null })
    }
    const requested = [...new Set(nodeIds)].sort(compareCodePoints)
    for (const id of requested) visit(id, maxDepth)
    return { nodes, notFound: requested.filter((id) => !visited.has(id)) }
  }

  /** Held nodes whose every ancestor is held (memoised until the store changes; iterative, cycle-safe). */
  private anchored (): Set<string> {
    if (this.anchoredCache !== undefined) return this.anchoredCache
    const memo = new Map<string, boolean>()
    for (const start of this.held.keys()) {
      if (memo.has(start)) continue
      const stack = [start]
      const onStack = new Set(stack)
      while (stack.length > 0) {
        const id = stack[stack.length - 1] as string
        const h = this.held.get(id) as Held
        let ok = true
        let pending: string | undefined
        for (const p of h.parentIds) {
          const known = memo.get(p)
          if (known === true) continue
          if (known === false || !this.held.has(p) || onStack.has(p)) {
            ok = false
            break
          }
          pending = p
          break
        }
        if (ok && pending !== undefined) {
          stack.push(pending)
          onStack.add(pending)
          continue
        }
        memo.set(id, ok)
        stack.pop()
        onStack.delete(id)
      }
    }
    const anchored = new Set<string>()
    for (const [id, ok] of memo) if (ok) anchored.add(id)
    this.anchoredCache = anchored
    return anchored
  }

  private reject (reason: DagSyncRejectReason, peer: string, detail: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1
    this.log.debug('DAG sync request refused', { peer, reason, detail })
  }
}

function isStringList (value: unknown): value is string[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'string')
}
