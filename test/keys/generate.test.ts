import test from 'ava'
import { checkApiKeyText, checkOwnerName, generateApiKey } from '../../src/keys/index.js'

test('generated keys: key-<owner>-<32 hex>, distinct, header-safe even for non-ASCII owners', t => {
  const keys = new Set(Array.from({ length: 100 }, () => generateApiKey('party1')))
  t.is(keys.size, 100)
  for (const key of keys) t.regex(key, /^key-party1-[0-9a-f]{32}$/)
  t.regex(generateApiKey('josé/ops'), /^key-jos_\/ops-[0-9a-f]{32}$/)
})

test('owner names: non-empty, at most 64 characters, no whitespace or control characters', t => {
  t.is(checkOwnerName('party-1_α.dev'), undefined)
  t.is(checkOwnerName('x'.repeat(64)), undefined)
  t.is(checkOwnerName('é'.repeat(64)), undefined, 'counted in characters')
  t.regex(checkOwnerName('') ?? '', /empty/)
  t.regex(checkOwnerName('x'.repeat(65)) ?? '', /at most 64/)
  for (const bad of ['a b', 'a\tb', 'a\nb', 'a\u0000b', 'a\u200Bb', 'a\u00A0b', 'a\u202Eb']) {
    t.regex(checkOwnerName(bad) ?? '', /whitespace or control/, JSON.stringify(bad))
  }
})

test('keys given on the command line: visible ASCII, bounded', t => {
  t.is(checkApiKeyText('key-party1-abc123'), undefined)
  t.truthy(checkApiKeyText(''))
  t.truthy(checkApiKeyText('has space'))
  t.truthy(checkApiKeyText('ключ'))
  t.truthy(checkApiKeyText('k'.repeat(513)))
})
