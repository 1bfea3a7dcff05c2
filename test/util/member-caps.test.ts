import test from 'ava'
import { MemberCaps, UNATTRIBUTED_BUCKET, ipBucket, RefusalMemo } from '../../src/util/member-caps.js'

test('an IP bucket holds maxPerIp members, the unattributed bucket maxUnattributed, all of them maxTotal', (t) => {
  const caps = new MemberCaps({ maxTotal: 10, maxPerIp: 2, maxUnattributed: 5 })
  const ip = ipBucket('198.51.100.7')
  t.is(caps.admit('a', ip), undefined)
  t.is(caps.admit('b', ip), undefined)
  t.is(caps.admit('c', ip), 'ip-cap')
  // Peers with no known IP (relayed gossip, DHT records after a restart) are not capped like one IP.
  for (const key of ['u1', 'u2', 'u3', 'u4', 'u5']) t.is(caps.admit(key, UNATTRIBUTED_BUCKET), undefined, key)
  t.is(caps.admit('u6', UNATTRIBUTED_BUCKET), 'ip-cap')
  t.is(caps.admit('d', ipBucket('203.0.113.1')), undefined)
  t.is(caps.admit('e', ipBucket('203.0.113.2')), undefined)
  t.is(caps.admit('f', ipBucket('203.0.113.3')), undefined)
  t.is(caps.admit('g', ipBucket('203.0.113.4')), 'total-cap')
  // A member keeps its place; a released one frees it.
  t.is(caps.admit('a', ip), undefined)
  caps.release('a')
  t.is(caps.admit('c', ip), undefined)
  t.is(caps.admit('g', ipBucket('203.0.113.4')), 'total-cap')
})

test('without maxUnattributed the unattributed bucket is capped like one IP', (t) => {
  const caps = new MemberCaps({ maxTotal: 10, maxPerIp: 1 })
  t.is(caps.admit('u1', UNATTRIBUTED_BUCKET), undefined)
  t.is(caps.admit('u2', UNATTRIBUTED_BUCKET), 'ip-cap')
})

test('IPv6 addresses share their /64; anything that is no IP is unattributed', (t) => {
  t.is(ipBucket('2001:db8:1:2:aaaa::1'), ipBucket('2001:db8:1:2:bbbb::2'))
  t.not(ipBucket('2001:db8:1:2::1'), ipBucket('2001:db8:1:3::1'))
  t.is(ipBucket(undefined), UNATTRIBUTED_BUCKET)
  t.is(ipBucket('not an ip'), UNATTRIBUTED_BUCKET)
})

test('RefusalMemo counts a key once per newer version, again after forget, and stays bounded', t => {
  const memo = new RefusalMemo(2)
  t.true(memo.first('a', 1))
  t.false(memo.first('a', 1), 'the same version again')
  t.false(memo.first('a', 0), 'an older version')
  t.true(memo.first('a', 2), 'a newer version')
  memo.forget('a')
  t.true(memo.first('a', 2), 'forgotten: counted again')
  t.true(memo.first('b'))
  t.true(memo.first('c'), 'full: cleared, then c')
  t.true(memo.first('a', 2), 'a was cleared with the rest')
})
