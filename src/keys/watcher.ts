/**
 * Keeps a {@link KeySet} in step with the key file (SPEC §1: "adding, deactivating or
 * rotating a key takes effect within a second, with no restart. A key file that becomes
 * invalid is reported in the log and the last valid key set stays in force").
 *
 * Every atomic write replaces the file by rename, so watching the file's inode would go
 * deaf after the first write. Two sources of change instead, both cheap:
 * - `fs.watch` on the file's directory, filtered to the file's name: reacts in
 *   milliseconds where the platform supports it;
 * - an unref'd timer that stats the file (inode, size, mtime, ctime) every
 *   `pollIntervalMs`: the guarantee, on file systems where directory events are missing
 *   (network mounts, some container volumes).
 * A reload compares the text with the last valid text, so duplicate events cost one read.
 *
 * A deleted file keeps the last valid set and logs a warning. Editors that save by
 * rename (vim's default) leave the file missing for an instant, and an accidental `rm`
 * should not lock every scanner out; an operator who wants to revoke every key writes
 * `[]` or uses `subnet-add-api-key --inactive/--remove`. A file missing at start is an
 * empty set (nothing to keep yet), as for the CLI.
 */
import { watch } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { silentLogger } from '../log/index.js'
import { DEFAULT_POLL_INTERVAL_MS, WATCH_DEBOUNCE_MS } from './constants.js'
import { KeyFileError } from './errors.js'
import { readKeyFileText } from './file.js'
import { EMPTY_KEY_SET, createKeySet } from './key-set.js'
import { parseKeyFileText } from './validate.js'
import { createListeners } from '../util/listeners.js'
import { createRepeatingTask, singleFlight } from '../util/task.js'
import type { KeySet } from './key-set.js'
import type { FSWatcher } from 'node:fs'
import type { Logger } from '../log/index.js'
import type { RepeatingTask } from '../util/task.js'

export interface KeyStoreWatcher {
  /** Loads the file; throws {@link KeyFileError} if it is malformed. Missing file = empty set. Idempotent. */
  start: () => Promise<void>
  /** Closes the directory watch and the timers. Idempotent. */
  stop: () => Promise<void>
  /** The key set in force. */
  current: () => KeySet
  /** Called with each new key set (after a valid change); returns an unsubscribe function. */
  onChange: (listener: (keys: KeySet) => void) => () => void
}

export interface KeyStoreWatcherInit {
  /** The key file (SPEC §2). */
  path: string
  /** Used as it is (the sidecar passes its `keys` child, as for every component). Default: silent. */
  logger?: Logger
  /** How often the file is stat-ed, ms. Default {@link DEFAULT_POLL_INTERVAL_MS} (250). */
  pollIntervalMs?: number
}

type FileState = 'loaded' | 'missing' | 'invalid'

export class KeyFileWatcher implements KeyStoreWatcher {
  private readonly path: string
  private readonly log: Logger
  /** Stats the file every poll interval (unref'd), reloading when its signature changed. */
  private readonly poller: RepeatingTask
  /** One reload at a time; a request during a reload runs once more after it. */
  private readonly reloads = singleFlight(async () => { if (this.running) await this.reloadOnce() }, {
    onError: (err) => { this.log.error('key file reload failed', { file: this.path, err }) }
  })
  private readonly listeners = createListeners<[KeySet]>((err) => { this.log.error('key set listener failed', { err }) })
  private keys: KeySet = EMPTY_KEY_SET
  /** Text of the last valid load; `undefined` before any. */
  private validText: string | undefined
  private state: FileState = 'missing'
  private lastError: string | undefined
  private signature: string | undefined
  private running = false
  private starting: Promise<void> | undefined
  private dirWatcher: FSWatcher | undefined
  private debounceTimer: NodeJS.Timeout | undefined

  constructor (init: KeyStoreWatcherInit) {
    this.path = init.path
    this.log = init.logger ?? silentLogger
    this.poller = createRepeatingTask(async () => { await this.poll() }, {
      intervalMs: Math.max(10, init.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS),
      logger: this.log,
      name: 'key file poll'
    })
  }

  current (): KeySet {
    return this.keys
  }

  onChange (listener: (keys: KeySet) => void): () => void {
    return this.listeners.add(listener)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.starting ??= this.doStart().finally(() => { this.starting = undefined })
    await this.starting
  }

  private async doStart (): Promise<void> {
    this.signature = await this.statSignature()
    const text = await readKeyFileText(this.path)
    if (text === undefined) {
      this.state = 'missing'
      this.keys = EMPTY_KEY_SET
      this.log.info('key file not found: no API key is accepted until it is created', { file: this.path })
    } else {
      // Malformed at start: refuse to start (throws KeyFileError), as the CLI would.
      const entries = parseKeyFileText(text, this.path)
      this.keys = createKeySet(entries)
      this.validText = text
      this.state = 'loaded'
      this.log.info('key file loaded', { file: this.path, active_keys: this.keys.size })
    }
    this.running = true
    this.watchDirectory()
    this.poller.start()
  }

  async stop (): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => {})
    if (!this.running) return
    this.running = false
    this.dirWatcher?.close()
    this.dirWatcher = undefined
    clearTimeout(this.debounceTimer)
    this.debounceTimer = undefined
    await this.poller.stop()
    await this.reloads.drain()
  }

  private watchDirectory (): void {
    const name = basename(this.path)
    try {
      this.dirWatcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        // Temp files (`<name>.<hash>`) and the lock (`<name>.lock`) share the directory.
        if (filename === null || filename.toString() === name) this.schedule()
      })
      this.dirWatcher.on('error', (err) => {
        this.log.debug('directory watch failed; polling only', { file: this.path, err })
        this.dirWatcher?.close()
        this.dirWatcher = undefined
      })
    } catch (err) {
      // E.g. the directory does not exist yet: polling still notices the file appearing.
      this.log.debug('cannot watch the key file directory; polling only', { file: this.path, err })
    }
  }

  private schedule (): void {
    if (!this.running) return
    clearTimeout(this.debounceTimer)
    this.debounceTimer = setTimeout(() => { void this.reload() }, WATCH_DEBOUNCE_MS)
    this.debounceTimer.unref()
  }

  private async statSignature (): Promise<string> {
    try {
      const s = await stat(this.path)
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`
    } catch (err) {
      return `missing:${(err as { code?: string }).code ?? 'error'}`
    }
  }

  private async poll (): Promise<void> {
    if (!this.running || this.reloads.isRunning()) return
    const signature = await this.statSignature()
    if (signature !== this.signature) await this.reload()
  }

  private async reload (): Promise<void> {
    if (!this.running) return
    await this.reloads.run()
  }

  private async reloadOnce (): Promise<void> {
    this.signature = await this.statSignature()
    let text: string | undefined
    try {
      text = await readKeyFileText(this.path)
    } catch (err) {
      this.reportInvalid(err instanceof KeyFileError ? err.message : `unexpected ${err instanceof Error ? err.name : 'error'}`)
      return
    }
    if (!this.running) return

    if (text === undefined) {
      if (this.state !== 'missing') {
        this.state = 'missing'
        this.lastError = undefined
        this.log.warn('key file deleted: keeping the last valid key set (write [] to revoke every key)', { file: this.path, active_keys: this.keys.size })
      }
      return
    }
    if (text === this.validText) {
      if (this.state !== 'loaded') {
        this.log.info('key file valid again', { file: this.path, active_keys: this.keys.size })
      }
      this.state = 'loaded'
      this.lastError = undefined
      return
    }
    let keys: KeySet
    try {
      keys = createKeySet(parseKeyFileText(text, this.path))
    } catch (err) {
      this.reportInvalid(err instanceof KeyFileError ? err.message : `unexpected ${err instanceof Error ? err.name : 'error'}`)
      return
    }
    this.keys = keys
    this.validText = text
    this.state = 'loaded'
    this.lastError = undefined
    this.log.info('key file reloaded', { file: this.path, active_keys: keys.size })
    this.listeners.emit(keys)
  }

  /** Logged once per distinct fault, not on every poll. The message never holds a key. */
  private reportInvalid (message: string): void {
    this.state = 'invalid'
    if (message === this.lastError) return
    this.lastError = message
    this.log.warn('key file invalid: keeping the last valid key set', { file: this.path, err: message, active_keys: this.keys.size })
  }
}

export function createKeyStoreWatcher (init: KeyStoreWatcherInit): KeyStoreWatcher {
  return new KeyFileWatcher(init)
}
