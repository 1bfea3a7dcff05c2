/**
 * Records how each key is used (SPEC §1 "Key usage"): per owner, the requests that presented its
 * key, today's and this week's (UTC), the last use and client IP, and the 403 and 429 answers.
 *
 * A request costs a Map lookup and a few additions: counts are kept in memory as deltas and
 * flushed every {@link USAGE_FLUSH_INTERVAL_MS} and on stop, atomically to `<data dir>/key-usage.json`,
 * so a crash loses at most one interval and a clean stop loses nothing; the file is rewritten only
 * when its counts changed. With Redis, each owner with a delta runs one script that adds it there
 * (HINCRBY) and returns the owner's sums; the owners other instances changed since the last flush
 * (a change log in Redis) are read back in batches, so each instance's file shows the shared totals
 * and an idle flush costs two commands.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdir, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { silentLogger } from '../log/index.js'
import { sendCommandWithin } from '../util/redis-command.js'
import { createRepeatingTask, singleFlight } from '../util/task.js'
import { isoWeek, utcDay } from './calendar.js'
import {
  MAX_METRIC_OWNERS, MAX_USAGE_OWNERS, OTHER_OWNER_LABEL, REDIS_DAY_TTL_S, REDIS_PREFIX_USAGE, REDIS_WEEK_TTL_S,
  USAGE_FILE_NAME, USAGE_FLUSH_INTERVAL_MS, USAGE_REDIS_READ_BATCH, USAGE_REDIS_TIMEOUT_MS
} from './constants.js'
import { emptyUsage, readUsageFile, UsageFileError, writeUsageFile } from './file.js'
import type { KeyUsage, KeyUsageComponents, KeyUsageInit } from './index.js'
import type { OwnerUsage } from './file.js'
import type { Logger } from '../log/index.js'
import type { RedisClient } from '../util/redis.js'
import type { Counter, Registry } from 'prom-client'
import type { RepeatingTask, SingleFlight } from '../util/task.js'

/** What happened since the last flush, for one owner. */
interface Delta {
  requests: number
  forbidden: number
  rateLimited: number
  /** Requests on `day` / in `week`; a new day (week) starts them again. */
  day: string
  today: number
  week: string
  thisWeek: number
  lastUsedMs: number
  lastIp: string
  /**
   * Set when first sent to Redis: this instance's sequence number for it. A send that fails may
   * still run later (a hung server runs what it had read once it wakes), so the same delta is sent
   * again with the same number, and the script applies a number at most once per owner.
   */
  batch?: number
}

/** Redis keys of the shared usage: an owner's hash, and each day's and week's hash of owners' counts. */
const ownerKey = (owner: string): string => `${REDIS_PREFIX_USAGE}owner:${owner}`
const dayKey = (day: string): string => `${REDIS_PREFIX_USAGE}day:${day}`
const weekKey = (week: string): string => `${REDIS_PREFIX_USAGE}week:${week}`
/** A counter each owner's flush increments: the revision of the shared usage. */
const REVISION_KEY = `${REDIS_PREFIX_USAGE}revision`
/** Sorted set: each owner, scored by the revision of its last change (one member per owner, so bounded by the owners). */
const CHANGES_KEY = `${REDIS_PREFIX_USAGE}changes`
/** Fields of an owner's hash, in the order the scripts and reads return them. */
const OWNER_FIELDS = ['requests', 'forbidden', 'rate_limited', 'last_used_ms', 'last_ip'] as const

/**
 * One owner's flush in Redis, atomically: add the deltas, keep the latest last-use, note the change
 * under a new revision, return the sums and that revision.
 * A delta is applied at most once: KEYS[6] holds, per owner, the last batch number of this instance
 * applied; a resent batch (its first send timed out but ran later) only reads the sums.
 * KEYS: owner hash, today's hash, this week's hash, the change log, the revision counter, this instance's applied batches.
 * ARGV: owner, requests, forbidden, rate_limited, today, this_week, last_used_ms, last_ip, day TTL, week TTL, batch.
 */
const FLUSH_SCRIPT = `
local o = ARGV[1]
local h = KEYS[1]
local rev
if tonumber(ARGV[11]) > tonumber(redis.call('HGET', KEYS[6], o) or '0') then
  if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', h, 'requests', ARGV[2]) end
  if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', h, 'forbidden', ARGV[3]) end
  if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', h, 'rate_limited', ARGV[4]) end
  if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[2], o, ARGV[5]); redis.call('EXPIRE', KEYS[2], ARGV[9]) end
  if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[3], o, ARGV[6]); redis.call('EXPIRE', KEYS[3], ARGV[10]) end
  local last = tonumber(redis.call('HGET', h, 'last_used_ms') or '0')
  if tonumber(ARGV[7]) > last then redis.call('HSET', h, 'last_used_ms', ARGV[7], 'last_ip', ARGV[8]) end
  redis.call('HSET', KEYS[6], o, ARGV[11])
  redis.call('EXPIRE', KEYS[6], ARGV[9])
  rev = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[4], rev, o)
else
  rev = tonumber(redis.call('GET', KEYS[5]) or '0')
end
local v = redis.call('HMGET', h, 'requests', 'forbidden', 'rate_limited', 'last_used_ms', 'last_ip')
return { v[1] or '0', v[2] or '0', v[3] or '0', v[4] or '0', v[5] or '', redis.call('HGET', KEYS[2], o) or '0', redis.call('HGET', KEYS[3], o) or '0', tostring(rev) }
`
/** Sent as EVALSHA: Redis keeps the script once it has seen it (EVAL, on NOSCRIPT). */
const FLUSH_SCRIPT_SHA1 = createHash('sha1').update(FLUSH_SCRIPT).digest('hex')

export class DefaultKeyUsage implements KeyUsage {
  private readonly file: string | undefined
  private readonly log: Logger
  private readonly now: () => number
  /** Counts as of the last flush (from the file, or the sums from Redis). */
  private state = new Map<string, OwnerUsage>()
  private pending = new Map<string, Delta>()
  private readonly flusher: RepeatingTask
  private readonly registry: Registry
  private metric: Counter<'owner'> | undefined
  private readonly metricOwners = new Set<string>()
  private readonly redis: RedisClient | undefined
  private running = false
  private warnedFull = false
  /** What the file would show differs from what was last written (a request, a sum from Redis, a failed write). */
  private changed = false
  /** The last revision of the shared usage this instance has read up to (Redis). */
  private seenRevision = 0
  /** Deltas sent to Redis whose outcome is unknown (the send failed): resent as they are, before any newer delta of their owner. */
  private inDoubt = new Map<string, Delta>()
  /** This instance, in the Redis hash of applied batches; and its last batch number. */
  private readonly instance = randomUUID()
  private batches = 0
  private readonly flushes: SingleFlight

  constructor (init: KeyUsageInit, components: KeyUsageComponents) {
    this.file = init.dataDir === undefined ? undefined : join(init.dataDir, USAGE_FILE_NAME)
    this.log = init.logger ?? silentLogger
    this.now = init.now ?? Date.now
    this.flusher = createRepeatingTask(async () => { await this.flush() }, {
      intervalMs: init.flushIntervalMs ?? USAGE_FLUSH_INTERVAL_MS,
      logger: this.log,
      name: 'key usage flush'
    })
    this.registry = components.registry
    this.redis = components.redis
    this.flushes = singleFlight(async () => { await this.flushOnce() }, { onError: (err) => { this.log.warn('key usage: flush failed', { err }) } })
  }

  async start (): Promise<void> {
    if (this.running) return
    // Imported here, not at the top: subnet-add-api-key reads the usage file through this module
    // and should not pay for loading prom-client (~1 s on a busy machine).
    if (this.metric === undefined) {
      const { Counter } = await import('prom-client')
      this.metric = new Counter({
        name: 'subnet_bootnode_key_requests_total',
        help: `Requests that presented a known API key (whatever the answer), by key owner (owners from the admin's key file; past ${MAX_METRIC_OWNERS} owners, "${OTHER_OWNER_LABEL}")`,
        labelNames: ['owner'] as const,
        registers: [this.registry]
      })
    }
    if (this.file !== undefined) {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 })
      await this.load(this.file)
    }
    else this.log.info('no --data-dir: key usage is kept in memory only')
    this.running = true
    this.flusher.start()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.flusher.stop()
    // The last counts, so a clean restart loses nothing.
    await this.flush()
  }

  record (owner: string, status: number, ip: string): void {
    const now = this.now()
    let delta = this.pending.get(owner)
    if (delta === undefined) {
      if (!this.state.has(owner) && this.state.size + this.pending.size >= MAX_USAGE_OWNERS) {
        if (!this.warnedFull) this.log.warn('key usage: too many owners, new ones are not counted', { max: MAX_USAGE_OWNERS })
        this.warnedFull = true
        return
      }
      delta = { requests: 0, forbidden: 0, rateLimited: 0, day: utcDay(now), today: 0, week: isoWeek(now), thisWeek: 0, lastUsedMs: 0, lastIp: '' }
      this.pending.set(owner, delta)
    }
    const day = utcDay(now)
    if (delta.day !== day) {
      delta.day = day
      delta.today = 0
      const week = isoWeek(now)
      if (delta.week !== week) { delta.week = week; delta.thisWeek = 0 }
    }
    delta.requests++
    delta.today++
    delta.thisWeek++
    if (status === 403) delta.forbidden++
    if (status === 429) delta.rateLimited++
    delta.lastUsedMs = now
    delta.lastIp = ip
    this.changed = true
    this.countMetric(owner)
  }

  usage (): Record<string, OwnerUsage> {
    const out: Record<string, OwnerUsage> = Object.create(null) as Record<string, OwnerUsage>
    for (const [owner, usage] of this.state) out[owner] = { ...usage }
    for (const deltas of [this.inDoubt, this.pending]) {
      for (const [owner, delta] of deltas) out[owner] = merge(out[owner] ?? emptyUsage(this.now()), delta)
    }
    return out
  }

  /**
   * Pushes the deltas and reads what others changed (Redis), or merges them (alone); then writes
   * the file if it changed. One at a time; a call during a run gets a run of its own after it, so
   * what was recorded before the call is flushed when it returns. Failures are logged.
   */
  async flush (): Promise<void> {
    await this.flushes.run()
  }

  private async flushOnce (): Promise<void> {
    const now = this.now()
    if (this.redis !== undefined) {
      // An owner with a delta in doubt sends only that one; its newer counts wait for the next flush.
      const sending = this.inDoubt
      this.inDoubt = new Map()
      const fresh = this.pending
      this.pending = new Map()
      for (const [owner, delta] of fresh) {
        if (sending.has(owner)) this.pending.set(owner, delta)
        else sending.set(owner, delta)
      }
      try {
        await this.sumInRedis(this.redis, sending, now)
      } catch (err) {
        // What Redis did not confirm stays in doubt, resent unchanged; the file still gets the local view.
        for (const [owner, delta] of sending) this.inDoubt.set(owner, delta)
        this.log.warn('key usage: Redis unavailable, kept locally until the next flush', { err })
      }
    } else {
      const deltas = this.pending
      this.pending = new Map()
      for (const [owner, delta] of deltas) this.state.set(owner, merge(this.state.get(owner) ?? emptyUsage(now), delta))
    }
    if (this.file === undefined || !this.changed) return
    this.changed = false
    try {
      await writeUsageFile(this.file, this.usage(), now)
    } catch (err) {
      this.changed = true
      throw err
    }
  }

  /**
   * Adds each owner's delta in Redis (one script run per owner with a delta), then reads back the
   * sums of the owners another instance changed since the last flush, at most
   * {@link USAGE_REDIS_READ_BATCH} owners a round. Every command is bounded (sendCommandWithin), so a
   * hung Redis cannot hold the flush on stop.
   */
  private async sumInRedis (redis: RedisClient, deltas: Map<string, Delta>, now: number): Promise<void> {
    const day = utcDay(now)
    const week = isoWeek(now)
    /** Owner → the revision its sums are as of, for those this flush already has. */
    const fresh = new Map<string, number>()
    const applied = `${REDIS_PREFIX_USAGE}applied:${this.instance}`
    // Sent together: node-redis pipelines concurrent commands on its one connection. An owner's
    // delta leaves `deltas` once Redis confirms it, so a failed flush keeps exactly what is in doubt.
    const results = await Promise.allSettled([...deltas].map(async ([owner, d]) => {
      d.batch ??= ++this.batches
      const keys = [ownerKey(owner), dayKey(day), weekKey(week), CHANGES_KEY, REVISION_KEY, applied]
      const args = [
        owner, String(d.requests), String(d.forbidden), String(d.rateLimited), String(d.day === day ? d.today : 0),
        String(d.week === week ? d.thisWeek : 0), String(d.lastUsedMs), d.lastIp, String(REDIS_DAY_TTL_S), String(REDIS_WEEK_TTL_S), String(d.batch)
      ]
      let reply: unknown
      try {
        reply = await sendCommandWithin(redis, ['EVALSHA', FLUSH_SCRIPT_SHA1, String(keys.length), ...keys, ...args], USAGE_REDIS_TIMEOUT_MS)
      } catch (err) {
        if (!String((err as Error | undefined)?.message).startsWith('NOSCRIPT')) throw err
        reply = await sendCommandWithin(redis, ['EVAL', FLUSH_SCRIPT, String(keys.length), ...keys, ...args], USAGE_REDIS_TIMEOUT_MS)
      }
      deltas.delete(owner)
      const values = (reply as unknown[]).map(String)
      this.setSums(owner, values, day, week)
      fresh.set(owner, Number(values[7]))
    }))
    const failed = results.find(r => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason

    // Redis lost its data (a restart without persistence): the revisions start again, so read everything.
    const revision = Number(await sendCommandWithin(redis, ['GET', REVISION_KEY], USAGE_REDIS_TIMEOUT_MS) ?? 0)
    if (revision < this.seenRevision) this.seenRevision = 0
    const changes = await sendCommandWithin(redis, [
      'ZRANGEBYSCORE', CHANGES_KEY, `(${this.seenRevision}`, '+inf', 'WITHSCORES', 'LIMIT', '0', String(MAX_USAGE_OWNERS)
    ], USAGE_REDIS_TIMEOUT_MS) as string[]
    let seen = this.seenRevision
    const others: string[] = []
    // Owners not held yet take the room left under MAX_USAGE_OWNERS (state grows only in setSums, below).
    let room = MAX_USAGE_OWNERS - this.state.size
    for (let i = 0; i + 1 < changes.length; i += 2) {
      const owner = String(changes[i])
      const rev = Number(changes[i + 1])
      if (rev > seen) seen = rev
      if (fresh.get(owner) === rev) continue // this flush's own script returned these sums
      if (this.state.has(owner)) others.push(owner)
      else if (room > 0) { room--; others.push(owner) }
    }
    for (let i = 0; i < others.length; i += USAGE_REDIS_READ_BATCH) {
      await Promise.all(others.slice(i, i + USAGE_REDIS_READ_BATCH).map(async (owner) => {
        const [sums, today, thisWeek] = await Promise.all([
          sendCommandWithin(redis, ['HMGET', ownerKey(owner), ...OWNER_FIELDS], USAGE_REDIS_TIMEOUT_MS) as Promise<Array<string | null>>,
          sendCommandWithin(redis, ['HGET', dayKey(day), owner], USAGE_REDIS_TIMEOUT_MS) as Promise<string | null>,
          sendCommandWithin(redis, ['HGET', weekKey(week), owner], USAGE_REDIS_TIMEOUT_MS) as Promise<string | null>
        ])
        this.setSums(owner, [...sums.map(v => v ?? ''), today ?? '0', thisWeek ?? '0'], day, week)
      }))
    }
    this.seenRevision = seen
  }

  /** An owner's sums from Redis (`requests, forbidden, rate_limited, last_used_ms, last_ip, today, this week`) into the state. */
  private setSums (owner: string, values: readonly string[], day: string, week: string): void {
    const [requests, forbidden, rateLimited, lastUsedMs, lastIp, today, thisWeek] = values
    const lastMs = Number(lastUsedMs)
    const sums: OwnerUsage = {
      requests: Number(requests),
      day,
      requests_today: Number(today),
      week,
      requests_week: Number(thisWeek),
      last_used_at: lastMs > 0 ? new Date(lastMs).toISOString() : null,
      last_ip: lastIp === '' || lastIp === undefined ? null : lastIp,
      forbidden: Number(forbidden),
      rate_limited: Number(rateLimited)
    }
    const before = this.state.get(owner)
    if (before !== undefined && OWNER_USAGE_FIELDS.every(f => before[f] === sums[f])) return
    this.state.set(owner, sums)
    this.changed = true
  }

  private async load (file: string): Promise<void> {
    try {
      const content = await readUsageFile(file)
      if (content !== undefined) {
        this.state = new Map(Object.entries(content.owners))
        this.log.info('key usage loaded', { file, owners: this.state.size })
      }
    } catch (err) {
      if (!(err instanceof UsageFileError)) throw err
      // Never lost: the unreadable file is kept aside, and counting starts again.
      const aside = `${file}.invalid`
      await rename(file, aside).catch(() => {})
      this.log.warn('key usage file unreadable: kept aside, counting starts again', { file, kept_as: aside, err: err.message })
    }
  }

  private countMetric (owner: string): void {
    if (this.metric === undefined) return
    if (this.metricOwners.has(owner)) {
      this.metric.inc({ owner })
    } else if (this.metricOwners.size < MAX_METRIC_OWNERS) {
      this.metricOwners.add(owner)
      this.metric.inc({ owner })
    } else {
      this.metric.inc({ owner: OTHER_OWNER_LABEL })
    }
  }
}

const OWNER_USAGE_FIELDS = Object.keys(emptyUsage(0)) as Array<keyof OwnerUsage>

/** `usage` with `delta` added; "today" and "this week" roll over when the delta is of a later day/week. */
function merge (usage: OwnerUsage, delta: Delta): OwnerUsage {
  const last = usage.last_used_at === null ? 0 : Date.parse(usage.last_used_at)
  const newer = delta.lastUsedMs > last
  return {
    requests: usage.requests + delta.requests,
    day: delta.day,
    requests_today: (usage.day === delta.day ? usage.requests_today : 0) + delta.today,
    week: delta.week,
    requests_week: (usage.week === delta.week ? usage.requests_week : 0) + delta.thisWeek,
    last_used_at: newer ? new Date(delta.lastUsedMs).toISOString() : usage.last_used_at,
    last_ip: newer ? delta.lastIp : usage.last_ip,
    forbidden: usage.forbidden + delta.forbidden,
    rate_limited: usage.rate_limited + delta.rateLimited
  }
}
