import { SubnetBootnodeError } from '../errors.js'

export interface KeyFileErrorDetails {
  /** The key file as the caller named it. */
  file: string
  /** 1-based index of the entry at fault, when one is. */
  entry?: number
  /** The field at fault, when one is. */
  field?: string
  /** 1-based line and column of a JSON syntax error (or of the entry at fault). */
  line?: number
  column?: number
}

/**
 * A key file that cannot be read, is malformed, or a change that would make it malformed
 * (SPEC §2). The message names the file, the entry and the field, e.g.
 * `keys.json: entry 3 (line 14): "key" must be a non-empty string`. It never quotes a key.
 */
export class KeyFileError extends SubnetBootnodeError {
  readonly file: string
  readonly entry?: number
  readonly field?: string
  readonly line?: number
  readonly column?: number

  constructor (message: string, details: KeyFileErrorDetails, options?: ErrorOptions) {
    super(message, 'ERR_KEY_FILE', options)
    this.file = details.file
    if (details.entry !== undefined) this.entry = details.entry
    if (details.field !== undefined) this.field = details.field
    if (details.line !== undefined) this.line = details.line
    if (details.column !== undefined) this.column = details.column
  }
}
