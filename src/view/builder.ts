/**
 * Builds the view the REST API serves (SPEC §1, STYLE rule 4) from the heartbeat and peer
 * collectors: network → collectors → this builder → snapshot → pre-serialised bodies.
 * Rebuilds when a collector reports a change (coalesced), when the node's readiness or
 * addresses change, and every `refreshIntervalMs`; publishes a new snapshot only when its
 * content differs. Geolocation happens here, never on a request path.
 *
 * A change from one peer costs work for that peer (issue 12 item 3): an unchanged peer keeps its
 * info object (and an unchanged view its peersInfo object), so the bodies' per-object JSON cache
 * (src/api/bodies.ts) serialises only what changed; "changed" is decided by object identity, not
 * by serialising the whole view; a change build locates only addresses not located yet, the
 * periodic refresh all of them (an unchanged location keeps its object).
 */
import { silentLogger } from '../log/index.js'
import { settleWithin } from '../util/deadline.js'
import { ipsOfMultiaddr } from '../util/multiaddr.js'
import { createRepeatingTask, singleFlight } from '../util/task.js'
import { DEFAULT_REFRESH_INTERVAL_MS } from './constants.js'
import { createStaticView } from './index.js'
import type { HeartbeatEntry, Location, Locator, PeersInfo, ViewSnapshot, ViewSource } from './index.js'
import type { HeartbeatCollector } from '../heartbeat/index.js'
import type { Logger } from '../log/index.js'
import type { SubnetNode } from '../p2p/index.js'
import type { PeerCollector } from '../peers/index.js'
import type { RepeatingTask } from '../util/task.js'

/** Changes arriving within this window are folded into one rebuild. */
const REBUILD_DEBOUNCE_MS = 100
/** How often the cheap readiness/address check runs (healthz turns 200 promptly). */
const STATE_CHECK_INTERVAL_MS = 500
/**
 * How long a rebuild waits for the locator. Past it (ip-api slow or down, the offline data still
 * opening) the snapshot goes out with the locations known so far, so new heartbeats are never held
 * back by geolocation; an address not located yet is left out of its peer's entry until the lookup
 * finishes, which triggers another rebuild.
 */
const LOCATE_WAIT_MS = 1_000

export interface ViewBuilderInit {
  /** Full rebuild period. Default 10 s (SPEC §4 `--refresh-interval`). */
  refreshIntervalMs?: number
  logger?: Logger
}

export interface ViewBuilderComponents {
  node: SubnetNode
  heartbeats: HeartbeatCollector
  peers: PeerCollector
  /**
   * From src/geo (`createLocator`). With geolocation off, pass `createLocator({ mode: 'none' })`:
   * it answers every IP with the `geolocation disabled` fail object (SPEC §1), so the builder
   * needs no fallback of its own.
   */
  locator: Locator
}

export interface ViewBuilder extends ViewSource {
  /** Builds the first snapshot, then follows the collectors; idempotent. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Rebuilds now (coalesced with a build in progress); resolves when the view is current. */
  refresh: () => Promise<void>
}

export function createViewBuilder (init: ViewBuilderInit, components: ViewBuilderComponents): ViewBuilder {
  return new DefaultViewBuilder(init, components)
}

type Content = Omit<ViewSnapshot, 'version' | 'builtAt'>
type PeerInfo = PeersInfo[string]

/** One peer's info as last built, with what it was built from. */
interface BuiltPeer {
  multiaddrs: readonly string[]
  ips: string[]
  /** The location object of each of `ips`, as used. */
  locations: Array<Location | undefined>
  info: PeerInfo
}

/** Whether `list` holds the same peers, in the same order, with the very same info objects as `built`. */
function samePeerInfos (list: ReadonlyArray<[string, PeerInfo]>, built: PeersInfo): boolean {
  let k = 0
  for (const id in built) {
    const entry = list[k++]
    if (entry === undefined || entry[0] !== id || entry[1] !== built[id]) return false
  }
  return k === list.length
}

function sameList<T> (a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Locations are flat records (ip-api shaped). */
function sameLocation (a: Location, b: Location): boolean {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const k of keys) if (a[k] !== b[k]) return false
  return true
}

class DefaultViewBuilder implements ViewBuilder {
  private readonly components: ViewBuilderComponents
  private readonly log: Logger
  /** The full rebuild every refreshIntervalMs. */
  private readonly refresher: RepeatingTask
  /** The cheap readiness/address check (see checkNodeState). */
  private readonly stateChecker: RepeatingTask
  /** One build at a time; a request during a build (its inputs may be stale) runs one more after it. */
  private readonly builds = singleFlight(async () => { await this.build() }, {
    onError: (err) => { this.log.warn('view rebuild failed', { err }) }
  })
  /** A subscriber that throws is logged; the others are still told, and the build carries on. */
  private readonly view = createStaticView(undefined, {
    onListenerError: (err) => { this.log.warn('view change listener threw', { err }) }
  })
  private running = false
  /** What the last snapshot was built from; undefined before the first. */
  private last?: Content
  private builtPeers = new Map<string, BuiltPeer>()
  /** The next build locates every address again (the periodic refresh), not only new ones. */
  private locateAll = true
  private unsubscribe: Array<() => void> = []
  private debounceTimer?: NodeJS.Timeout
  /** Results of the last lookup that finished, for the addresses in the view then. */
  private located = new Map<string, Location>()
  /** The lookup under way, if one outlasted LOCATE_WAIT_MS; at most one at a time. */
  private locating?: Promise<void>

  constructor (init: ViewBuilderInit, components: ViewBuilderComponents) {
    this.components = components
    this.log = init.logger ?? silentLogger
    const refreshIntervalMs = init.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS
    this.refresher = createRepeatingTask(async () => {
      this.locateAll = true
      await this.refresh()
    }, {
      intervalMs: refreshIntervalMs, logger: this.log, name: 'view refresh'
    })
    this.stateChecker = createRepeatingTask(() => { this.checkNodeState() }, {
      intervalMs: Math.min(STATE_CHECK_INTERVAL_MS, refreshIntervalMs), logger: this.log, name: 'view state check'
    })
  }

  current (): ViewSnapshot {
    return this.view.current()
  }

  onChange (listener: (snapshot: ViewSnapshot) => void): () => void {
    return this.view.onChange(listener)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const soon = (): void => { this.scheduleSoon() }
    this.unsubscribe = [this.components.heartbeats.onChange(soon), this.components.peers.onChange(soon)]
    await this.refresh()
    this.refresher.start()
    this.stateChecker.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const u of this.unsubscribe) u()
    this.unsubscribe = []
    clearTimeout(this.debounceTimer)
    this.debounceTimer = undefined
    await Promise.all([this.refresher.stop(), this.stateChecker.stop()])
    await this.builds.drain()
  }

  async refresh (): Promise<void> {
    await this.builds.run()
  }

  private scheduleSoon (): void {
    if (!this.running || this.debounceTimer !== undefined) return
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined
      void this.refresh()
    }, REBUILD_DEBOUNCE_MS)
    this.debounceTimer.unref()
  }

  /** Readiness and own addresses change without a collector event: compare cheaply. */
  private checkNodeState (): void {
    const snap = this.view.current()
    const { node } = this.components
    if (snap.ready !== node.isDhtReady() || snap.bootnodes.join(' ') !== node.bootnodeAddrs().join(' ')) {
      this.scheduleSoon()
    }
  }

  private async build (): Promise<void> {
    const { node, heartbeats, peers, locator } = this.components
    const heartbeatList = heartbeats.heartbeats()
    // The peer collector already leaves this node out (PeerCollector.peers).
    const peerList = peers.peers()

    const ipsOf = new Map<string, string[]>()
    const ips = new Set<string>()
    for (const p of peerList) {
      const built = this.builtPeers.get(p.peerId)
      let list: string[]
      if (built !== undefined && sameList(built.multiaddrs, p.multiaddrs)) {
        list = built.ips
      } else {
        list = []
        for (const a of p.multiaddrs) for (const ip of ipsOfMultiaddr(a)) if (!list.includes(ip)) list.push(ip)
      }
      ipsOf.set(p.peerId, list)
      for (const ip of list) ips.add(ip)
    }
    const full = this.locateAll
    this.locateAll = false
    const locations = await this.locateBounded(ips, locator, full)

    const builtPeers = new Map<string, BuiltPeer>()
    const peerInfos: Array<[string, PeerInfo]> = []
    for (const p of peerList) {
      const peerIps = ipsOf.get(p.peerId) ?? []
      const located = peerIps.map((ip) => locations.get(ip))
      let built = this.builtPeers.get(p.peerId)
      // changed addresses give a new `peerIps` array (above), so identity covers them too
      if (built === undefined || built.ips !== peerIps || !sameList(built.locations, located)) {
        const info: PeerInfo = {}
        peerIps.forEach((ip, k) => {
          const location = located[k]
          if (location !== undefined) info[ip] = { location }
        })
        info.multiaddrs = [...p.multiaddrs]
        built = { multiaddrs: p.multiaddrs, ips: peerIps, locations: located, info }
      }
      builtPeers.set(p.peerId, built)
      peerInfos.push([p.peerId, built.info])
    }
    this.builtPeers = builtPeers

    const last = this.last
    let peersInfo: PeersInfo
    if (last !== undefined && samePeerInfos(peerInfos, last.peersInfo)) {
      peersInfo = last.peersInfo
    } else {
      peersInfo = {}
      for (const [id, info] of peerInfos) peersInfo[id] = info
    }
    const content: Content = {
      heartbeats: last !== undefined && sameList<HeartbeatEntry>(last.heartbeats, heartbeatList) ? last.heartbeats : heartbeatList,
      peersInfo,
      bootnodes: node.bootnodeAddrs(),
      peerId: node.isStarted() ? node.peerId : null,
      ready: node.isDhtReady(),
      peerCount: peerList.length
    }
    if (last !== undefined && content.heartbeats === last.heartbeats && content.peersInfo === last.peersInfo &&
      sameList(content.bootnodes, last.bootnodes) && content.peerId === last.peerId && content.ready === last.ready &&
      content.peerCount === last.peerCount) return
    this.last = content
    const snap = this.view.set(content)
    this.log.debug('view updated', { version: snap.version, heartbeats: heartbeatList.length, peers: peerList.length, ready: content.ready })
  }

  /**
   * The locations of `ips` (all of them when `full`, else only those not located yet), waiting at
   * most LOCATE_WAIT_MS; addresses not located by then are missing. A location equal to the one
   * held keeps the held object, so an unchanged peer keeps its info object.
   */
  private async locateBounded (ips: ReadonlySet<string>, locator: Locator, full: boolean): Promise<Map<string, Location>> {
    const wanted: string[] = []
    for (const ip of ips) if (full || !this.located.has(ip)) wanted.push(ip)
    wanted.sort()
    if (this.locating === undefined && wanted.length > 0) {
      // Locator.locate never rejects (its contract, view/index.ts): every IP gets an entry.
      const job = locator.locate(wanted).then((found) => { this.merge(found, full ? ips : undefined) })
      this.locating = job
      const finished = await settleWithin(job.then(() => true), LOCATE_WAIT_MS, () => false)
      if (finished) {
        this.locating = undefined
      } else {
        this.log.debug('geolocation is slow: publishing the locations known so far', { wait_ms: LOCATE_WAIT_MS })
        void job.finally(() => {
          this.locating = undefined
          this.scheduleSoon()
        })
      }
    } else if (full) {
      // the lookup in flight (or none needed): try again on the next build
      this.locateAll = this.locating !== undefined
    }
    return this.located
  }

  /** Takes in a lookup's results; `keep` (a full lookup) drops addresses no longer in the view. */
  private merge (found: Map<string, Location>, keep?: ReadonlySet<string>): void {
    for (const [ip, location] of found) {
      const held = this.located.get(ip)
      if (held === undefined || !sameLocation(held, location)) this.located.set(ip, location)
    }
    if (keep !== undefined) for (const ip of this.located.keys()) if (!keep.has(ip)) this.located.delete(ip)
  }
}
