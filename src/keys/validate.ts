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
import { parseRate, RATE_HINT } from '../util/rate.js'
import type { ApiKeyEntry } from './types.js'

const ROUTES: ReadonlySet<string> = new Set(API_ROUTES)

/**
 * jsonc-parser's `ScanError` and `SyntaxKind` (const enums in its types, which
 * `verbatimModuleSyntax` cannot read): the values of jsonc-parser 3.
 */
const ScanError = { None: 0, UnexpectedEndOfComment: 1, UnexpectedEndOfString: 2, UnexpectedEndOfNumber: 3, InvalidUnicode: 4, InvalidEscapeCharacter: 5, InvalidCharacter: 6 } as const
const SyntaxKind = {
  OpenBraceToken: 1,
  CloseBraceToken: 2,
  OpenBracketToken: 3,
  CloseBracketToken: 4,
  CommaToken: 5,
  ColonToken: 6,
  NullKeyword: 7,
  TrueKeyword: 8,
  FalseKeyword: 9,
  StringLiteral: 10,
  NumericLiteral: 11,
  LineCommentTrivia: 12,
  BlockCommentTrivia: 13,
  LineBreakTrivia: 14,
  Trivia: 15,
  Unknown: 16,
  EOF: 17
} as const

const SCAN_HINTS: Readonly<Record<number, string>> = {
  [ScanError.UnexpectedEndOfComment]: 'comments are not allowed in JSON',
  [ScanError.UnexpectedEndOfString]: 'unterminated string',
  [ScanError.UnexpectedEndOfNumber]: 'invalid number',
  [ScanError.InvalidUnicode]: 'invalid \\u escape',
  [ScanError.InvalidEscapeCharacter]: 'invalid escape in a string',
  [ScanError.InvalidCharacter]: 'control character in a string'
}

/** What the grammar allows next. */
type Expect = 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'commaOrClose' | 'end'

interface SyntaxFault { hint: string, line: number, column: number }

/**
 * The first JSON syntax error in `text` (JSON.parse already refused it), in one pass over
 * jsonc-parser's scanner, which counts lines as it goes. An explicit stack instead of
 * recursion, and a stop at the first error, keep it linear in the text and flat in the
 * call stack whatever the file holds (a `[[[[…` file, a file of garbage). `undefined` if
 * the scanner finds nothing JSON.parse objected to.
 */
function locateSyntaxError (text: string): SyntaxFault | undefined {
  const scanner = jsonc.createScanner(text, false)
  const hint = firstFault(scanner)
  return hint === undefined ? undefined : { hint, line: scanner.getTokenStartLine() + 1, column: scanner.getTokenStartCharacter() + 1 }
}

/** Scans to the first token the grammar refuses and says what is wrong there; `undefined` at a clean end. */
function firstFault (scanner: jsonc.JSONScanner): string | undefined {
  /** Open containers, innermost last: true for an object, false for an array. */
  const stack: boolean[] = []
  let inObject = false
  let expect: Expect = 'value'
  for (;;) {
    const kind = scanner.scan()
    if (kind === SyntaxKind.Trivia || kind === SyntaxKind.LineBreakTrivia) continue
    const scanError = scanner.getTokenError()
    if (scanError !== ScanError.None) return SCAN_HINTS[scanError] ?? 'syntax error'
    const isValue = expect === 'value' || expect === 'valueOrClose'
    switch (kind) {
      case SyntaxKind.LineCommentTrivia:
      case SyntaxKind.BlockCommentTrivia:
        return 'comments are not allowed in JSON'
      case SyntaxKind.OpenBraceToken:
      case SyntaxKind.OpenBracketToken:
        if (!isValue) return unexpected(expect, inObject)
        inObject = kind === SyntaxKind.OpenBraceToken
        stack.push(inObject)
        expect = inObject ? 'keyOrClose' : 'valueOrClose'
        continue
      case SyntaxKind.CloseBraceToken:
      case SyntaxKind.CloseBracketToken:
        if (stack.length === 0 || inObject !== (kind === SyntaxKind.CloseBraceToken) ||
          !(expect === 'commaOrClose' || expect === (inObject ? 'keyOrClose' : 'valueOrClose'))) return unexpected(expect, inObject)
        stack.pop()
        inObject = stack.length > 0 && stack[stack.length - 1] === true
        expect = stack.length === 0 ? 'end' : 'commaOrClose'
        continue
      case SyntaxKind.CommaToken:
        if (expect !== 'commaOrClose') return unexpected(expect, inObject)
        expect = inObject ? 'key' : 'value'
        continue
      case SyntaxKind.ColonToken:
        if (expect !== 'colon') return unexpected(expect, inObject)
        expect = 'value'
        continue
      case SyntaxKind.StringLiteral:
        if (expect === 'key' || expect === 'keyOrClose') { expect = 'colon'; continue }
        if (!isValue) return unexpected(expect, inObject)
        expect = stack.length === 0 ? 'end' : 'commaOrClose'
        continue
      case SyntaxKind.NumericLiteral:
      case SyntaxKind.TrueKeyword:
      case SyntaxKind.FalseKeyword:
      case SyntaxKind.NullKeyword:
        if (!isValue) return unexpected(expect, inObject)
        expect = stack.length === 0 ? 'end' : 'commaOrClose'
        continue
      case SyntaxKind.EOF:
        if (expect === 'end') return undefined
        // Cut short inside a container: name what would close it.
        if (expect === 'commaOrClose' || expect === 'keyOrClose' || expect === 'valueOrClose') return inObject ? 'expected "}"' : 'expected "]"'
        return unexpected(expect, inObject)
      default:
        return expect === 'end' ? unexpected(expect, inObject) : 'unexpected character'
    }
  }
}

/** What was expected where something else stood. */
function unexpected (expect: Expect, inObject: boolean): string {
  switch (expect) {
    case 'value': return 'expected a value'
    case 'valueOrClose': return 'expected a value or "]"'
    case 'key': return 'expected a double-quoted property name'
    case 'keyOrClose': return 'expected a double-quoted property name or "}"'
    case 'colon': return 'expected ":"'
    case 'commaOrClose': return 'expected ","'
    case 'end': return 'unexpected text after the end of the JSON value'
  }
}

/**
 * A located JSON syntax error. The message never carries V8's SyntaxError, neither as text
 * nor as `cause`: it quotes the file around the error (a key, at `--log-level debug`).
 */
function syntaxError (file: string, text: string): KeyFileError {
  const fault = locateSyntaxError(text)
  if (fault === undefined) return new KeyFileError(`${file}: invalid JSON`, { file })
  const { hint, line, column } = fault
  return new KeyFileError(`${file}: invalid JSON at line ${line}, column ${column}: ${hint}`, { file, line, column })
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
  } catch {
    throw syntaxError(file, body)
  }
  return validateKeyEntries(value, file, body)
}

/**
 * Line of a top-level array element of valid JSON text, in one pass over the scanner (no
 * parse tree, no recursion); only called for a message.
 */
function entryLine (text: string | undefined, index: number): number | undefined {
  if (text === undefined) return undefined
  const scanner = jsonc.createScanner(text, true)
  let depth = 0
  let element = -1
  let atElementStart = false
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    if (depth === 1 && atElementStart && kind !== SyntaxKind.CloseBracketToken) {
      atElementStart = false
      if (++element === index) return scanner.getTokenStartLine() + 1
    }
    if (kind === SyntaxKind.OpenBraceToken || kind === SyntaxKind.OpenBracketToken) {
      if (++depth === 1) atElementStart = true
    } else if (kind === SyntaxKind.CloseBraceToken || kind === SyntaxKind.CloseBracketToken) {
      depth--
    } else if (kind === SyntaxKind.CommaToken && depth === 1) {
      atElementStart = true
    }
  }
  return undefined
}

/**
 * Names an unknown route only when it looks like a mistyped one (a short snake_case word):
 * anything else in the file, such as a key pasted into `scopes`, is never quoted.
 */
function unknownRoute (scope: string): string {
  return /^[a-z_]{1,32}$/.test(scope) ? `unknown route "${scope}"` : 'an unknown route'
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
          fail('scopes', `has ${typeof scope === 'string' ? unknownRoute(scope) : describe(scope)}; routes are ${API_ROUTES.join(', ')}`)
        }
      }
    }
    if (e.note !== undefined && typeof e.note !== 'string') fail('note', `must be a string, found ${describe(e.note)}`)
    // SPEC §2 `rate_limit`: the syntax of --rate-limit; leave it out for the default
    if (e.rate_limit !== undefined && (typeof e.rate_limit !== 'string' || parseRate(e.rate_limit) === undefined)) {
      fail('rate_limit', `must be a rate (${RATE_HINT}), found ${typeof e.rate_limit === 'string' ? JSON.stringify(e.rate_limit.slice(0, 40)) : describe(e.rate_limit)}; leave it out for the default`)
    }

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
