/**
 * Parsing and validation of `bootnode_rest_keys.json` (SPEC §2). Every read and every
 * write goes through {@link parseKeyFileText} / {@link validateKeyEntries}, so a
 * malformed file is reported, never half-used and never overwritten.
 *
 * Messages name the file, the 1-based entry, its line and the field; they never quote a
 * key (they end up in logs, SPEC §4), which is also why JSON syntax errors are located
 * with jsonc-parser rather than reported with V8's message (which quotes the text).
 */
import jsonc from 'jsonc-parser'
import { API_ROUTES } from './constants.js'
import { KeyFileError } from './errors.js'
import { parseTimestamp } from './timestamp.js'
import type { ApiKeyEntry } from './types.js'

const ROUTES: ReadonlySet<string> = new Set(API_ROUTES)

interface Position { line: number, column: number }

function positionAt (text: string, offset: number): Position {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; lineStart = i + 1 }
  }
  return { line, column: offset - lineStart + 1 }
}

const SYNTAX_HINTS: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a double-quoted property name',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected text after the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'comments are not allowed in JSON',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'invalid number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape in a string',
  InvalidCharacter: 'control character in a string'
}

/** Locates the first JSON syntax error in `text` (JSON.parse already refused it). */
function syntaxError (file: string, text: string, cause: unknown): KeyFileError {
  let found: { code: number, offset: number } | undefined
  jsonc.visit(text, {
    onError: (code, offset) => { found ??= { code, offset } },
    // JSON, not JSONC: a comment is an error here.
    onComment: (offset) => { found ??= { code: jsonc.ParseErrorCode.InvalidCommentToken, offset } }
  }, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false })
  if (found === undefined) {
    // jsonc-parser accepted what JSON.parse refused (e.g. a lone surrogate edge): no position.
    return new KeyFileError(`${file}: invalid JSON`, { file }, { cause })
  }
  const { line, column } = positionAt(text, found.offset)
  const hint = SYNTAX_HINTS[jsonc.printParseErrorCode(found.code as jsonc.ParseErrorCode)] ?? 'syntax error'
  return new KeyFileError(`${file}: invalid JSON at line ${line}, column ${column}: ${hint}`, { file, line, column }, { cause })
}

/**
 * Parses and validates the text of a key file. `file` names it in messages.
 * An empty (or all-blank) file is an error: an empty store is written `[]`.
 */
export function parseKeyFileText (text: string, file: string): ApiKeyEntry[] {
  // Editors on Windows save a byte-order mark; JSON.parse does not skip it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (body.trim() === '') {
    throw new KeyFileError(`${file}: the file is empty (an empty key store is written [])`, { file })
  }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (err) {
    throw syntaxError(file, body, err)
  }
  return validateKeyEntries(value, file, body)
}

/** Line of a top-level array element; parses the text again, so only called for a message. */
function entryLine (text: string | undefined, index: number): number | undefined {
  if (text === undefined) return undefined
  const child = jsonc.parseTree(text, [], { disallowComments: true })?.children?.[index]
  return child === undefined ? undefined : positionAt(text, child.offset).line
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/**
 * Checks a parsed key file against SPEC §2 and returns it typed. `text`, when given, is
 * the file's text, used to name the line of the entry at fault.
 */
export function validateKeyEntries (value: unknown, file: string, text?: string): ApiKeyEntry[] {
  if (!Array.isArray(value)) {
    throw new KeyFileError(`${file}: must be a JSON array of entries, found ${describe(value)}`, { file })
  }
  const owners = new Map<string, number>()
  const keys = new Map<string, number>()

  value.forEach((item: unknown, index) => {
    const entry = index + 1
    const fail = (field: string | undefined, what: string): never => {
      const line = entryLine(text, index)
      const where = `${file}: entry ${entry}${line === undefined ? '' : ` (line ${line})`}`
      const details = { file, entry, ...(field === undefined ? {} : { field }), ...(line === undefined ? {} : { line }) }
      throw new KeyFileError(`${where}: ${field === undefined ? '' : `"${field}" `}${what}`, details)
    }

    if (!isPlainObject(item)) fail(undefined, `must be an object, found ${describe(item)}`)
    const e = item as Record<string, unknown>

    if (typeof e.owner !== 'string' || e.owner === '') fail('owner', 'must be a non-empty string')
    if (typeof e.key !== 'string' || e.key === '') fail('key', 'must be a non-empty string')
    if (e.active !== undefined && typeof e.active !== 'boolean') fail('active', `must be true or false, found ${describe(e.active)}`)
    for (const field of ['created_at', 'expires_at'] as const) {
      const v = e[field]
      if (v === undefined) continue
      if (typeof v !== 'string' || parseTimestamp(v) === undefined) {
        fail(field, 'must be an ISO 8601 timestamp such as 2026-01-31T00:00:00Z')
      }
    }
    if (e.scopes !== undefined) {
      if (!Array.isArray(e.scopes) || e.scopes.length === 0) {
        fail('scopes', `must be a non-empty array of route names (${API_ROUTES.join(', ')}); leave it out to allow every route`)
      }
      for (const scope of e.scopes as unknown[]) {
        if (typeof scope !== 'string' || !ROUTES.has(scope)) {
          fail('scopes', `has ${typeof scope === 'string' ? `unknown route "${scope}"` : describe(scope)}; routes are ${API_ROUTES.join(', ')}`)
        }
      }
    }
    if (e.note !== undefined && typeof e.note !== 'string') fail('note', `must be a string, found ${describe(e.note)}`)

    const owner = e.owner as string
    const key = e.key as string
    const ownerAt = owners.get(owner)
    if (ownerAt !== undefined) fail('owner', `duplicates the owner of entry ${ownerAt}`)
    owners.set(owner, entry)
    // Name the other entry, never the key itself.
    const keyAt = keys.get(key)
    if (keyAt !== undefined) fail('key', `duplicates the key of entry ${keyAt}`)
    keys.set(key, entry)
  })
  return value as ApiKeyEntry[]
}
