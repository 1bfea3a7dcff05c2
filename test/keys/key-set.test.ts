import test from 'ava'
import { EMPTY_KEY_SET, createKeySet, isKeyExpired, isKeyUsable, keyRefusal } from '../../src/keys/index.js'
import type { ApiKeyEntry } from '../../src/keys/index.js'

const entries: ApiKeyEntry[] = [
  { owner: 'a', key: 'key-a-1111', active: true },
  { owner: 'b', key: 'key-b-2222', active: false },
  { owner: 'c', key: 'key-c-3333' },
  { owner: 'd', key: 'key-d-4444', scopes: ['get_heartbeat'], expires_at: '2030-01-01T00:00:00Z', team: 'x' }
]

test('the set holds active entries only (missing active = active)', t => {
  const set = createKeySet(entries)
  t.is(set.size, 3)
  t.deepEqual(set.entries().map(e => e.owner), ['a', 'c', 'd'])
  t.is(EMPTY_KEY_SET.size, 0)
  t.is(EMPTY_KEY_SET.lookup('key-a-1111'), undefined)
})

test('lookup finds active keys by exact value only', t => {
  const set = createKeySet(entries)
  t.is(set.lookup('key-a-1111')?.owner, 'a')
  t.is(set.lookup('key-c-3333')?.owner, 'c')
  t.is(set.lookup('key-d-4444')?.team, 'x')
  t.is(set.lookup('key-b-2222'), undefined, 'inactive')
  for (const miss of ['', 'key-a-111', 'key-a-11111', 'KEY-A-1111', ' key-a-1111', 'key-a-1111\n']) {
    t.is(set.lookup(miss), undefined, JSON.stringify(miss))
  }
  t.is(set.lookup(undefined as unknown as string), undefined)
})

test('the set is a frozen snapshot: later edits of the input do not leak in', t => {
  const input: ApiKeyEntry[] = [{ owner: 'a', key: 'k1', scopes: ['get_heartbeat'] }]
  const set = createKeySet(input)
  const first = input[0]
  if (first !== undefined) { first.key = 'k2'; first.scopes?.push('get_bootnodes') }
  t.is(set.lookup('k1')?.owner, 'a')
  t.is(set.lookup('k2'), undefined)
  const entry = set.lookup('k1')
  t.deepEqual(entry?.scopes, ['get_heartbeat'])
  t.true(Object.isFrozen(entry))
  t.throws(() => { (entry?.scopes as string[]).push('x') })
})

test('isKeyUsable: active, not expired, in scope', t => {
  const now = Date.UTC(2029, 0, 1)
  t.true(isKeyUsable({ owner: 'a', key: 'k' }, 'get_peers_info', now))
  t.false(isKeyUsable({ owner: 'a', key: 'k', active: false }, 'get_peers_info', now))
  const scoped: ApiKeyEntry = { owner: 'a', key: 'k', scopes: ['get_heartbeat', 'get_bootnodes'] }
  t.true(isKeyUsable(scoped, 'get_heartbeat', now))
  t.true(isKeyUsable(scoped, 'get_bootnodes', now))
  t.false(isKeyUsable(scoped, 'get_peers_info', now))
  const expiring: ApiKeyEntry = { owner: 'a', key: 'k', expires_at: '2029-01-01T00:00:01Z' }
  t.true(isKeyUsable(expiring, 'get_heartbeat', now))
  t.false(isKeyUsable(expiring, 'get_heartbeat', now + 1000), 'expires_at is the first refused instant')
  t.false(isKeyUsable(expiring, 'get_heartbeat', now + 86_400_000))
  t.false(isKeyUsable({ owner: 'a', key: 'k', expires_at: 'garbage' }, 'get_heartbeat', now), 'fails closed')
  t.true(isKeyUsable({ owner: 'a', key: 'k', expires_at: '2999-01-01' }, 'get_heartbeat'), 'default now')
})

test('keyRefusal names the first reason: inactive, then expired, then scope', t => {
  const now = Date.UTC(2029, 0, 1)
  t.is(keyRefusal({ owner: 'a', key: 'k' }, 'get_peers_info', now), undefined)
  t.is(keyRefusal({ owner: 'a', key: 'k', active: false, expires_at: '2000-01-01', scopes: [] }, 'get_heartbeat', now), 'inactive')
  t.is(keyRefusal({ owner: 'a', key: 'k', expires_at: '2029-01-01T00:00:00Z', scopes: [] }, 'get_heartbeat', now), 'expired')
  t.is(keyRefusal({ owner: 'a', key: 'k', expires_at: 'garbage' }, 'get_heartbeat', now), 'expired')
  t.is(keyRefusal({ owner: 'a', key: 'k', scopes: ['get_bootnodes'] }, 'get_heartbeat', now), 'scope')
  t.false(isKeyExpired({ owner: 'a', key: 'k' }, now))
  t.false(isKeyExpired({ owner: 'a', key: 'k', expires_at: '2029-01-01T00:00:01Z' }, now))
  t.true(isKeyExpired({ owner: 'a', key: 'k', expires_at: '2029-01-01T00:00:01Z' }, now + 1000))
})
