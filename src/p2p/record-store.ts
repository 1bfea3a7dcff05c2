/**
 * The native DHT's view of the datastore (issue 12 item 4). kad-dht's PUT_VALUE handler stores
 * whatever its validator accepts, so a replayed older record would overwrite a newer one. As
 * go-libp2p-kad-dht's handler does, a record replaces the one held under the same key only if the
 * namespace's selector prefers it; the others are refused (the putting peer sees a failed put).
 * Every record it stores is reported (`onStored`), so the heartbeat source reads the changes, not
 * the whole store.
 */
import { Record as DhtRecord } from '@libp2p/kad-dht'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { SubnetBootnodeError } from '../errors.js'
import type { AbortOptions } from '@libp2p/interface'
import type { SelectFn } from '@libp2p/kad-dht'
import type { Datastore, Key } from 'interface-datastore'

/** A DHT record older than the one held under its key (its namespace's selector prefers the held one). */
class StaleRecordError extends SubnetBootnodeError {
  constructor (message: string) {
    super(message, 'ERR_STALE_RECORD')
  }
}

export interface RecordStoreInit {
  /** Where kad-dht keeps its records in the datastore (`<datastorePrefix>/record`). */
  recordPrefix: string
  /** kad-dht's selectors by key namespace; a namespace without one keeps kad-dht's behaviour (last write wins). */
  selectors: Record<string, SelectFn>
  /**
   * Called after a record under `recordPrefix` is stored, with its datastore key and the record
   * (one that does not deserialize is stored as kad-dht asked but not reported), so readers of the
   * store can follow changes instead of rescanning it (issue 12 item 4).
   */
  onStored?: (dsKey: Key, record: DhtRecord) => void
}

/**
 * `store` as kad-dht sees it: every write of a record under `recordPrefix` first compares it with
 * the record held under that key, one write per key at a time (so two puts cannot both pass the
 * comparison). Everything else is `store` itself.
 */
export function guardRecordStore (store: Datastore, init: RecordStoreInit): Datastore {
  const prefix = `${init.recordPrefix}/`
  const queues = new Map<string, Promise<unknown>>()

  const refuseOlder = async (key: Key, incoming: DhtRecord, options?: AbortOptions): Promise<void> => {
    let held: Uint8Array
    try {
      held = await store.get(key, options)
    } catch {
      return // nothing held (or unreadable): store the new one
    }
    let current: DhtRecord
    try {
      current = DhtRecord.deserialize(held)
    } catch {
      return
    }
    const namespace = uint8ArrayToString(incoming.key).split('/')[1] ?? ''
    const select = init.selectors[namespace]
    if (select === undefined) return
    if (await select(incoming.key, [incoming.value, current.value]) !== 0) {
      throw new StaleRecordError(`a newer ${namespace} record is held under this key`)
    }
  }

  const put = async (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> => {
    const name = key.toString()
    if (!name.startsWith(prefix)) return store.put(key, value, options)
    const previous = queues.get(name) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(async () => {
      let incoming: DhtRecord | undefined
      try {
        incoming = DhtRecord.deserialize(value)
      } catch {}
      if (incoming !== undefined) await refuseOlder(key, incoming, options)
      const stored = await store.put(key, value, options)
      if (incoming !== undefined) init.onStored?.(key, incoming)
      return stored
    })
    queues.set(name, run)
    try {
      return await run
    } finally {
      if (queues.get(name) === run) queues.delete(name)
    }
  }

  return new Proxy(store, {
    get (target, prop) {
      if (prop === 'put') return put
      const member: unknown = Reflect.get(target, prop, target)
      return typeof member === 'function' ? member.bind(target) : member
    }
  })
}
