import test from 'ava'
import { multiaddr } from '@multiformats/multiaddr'
import { dialableAddrs } from '../../src/util/dialable.js'

const ALL = [
  '/ip4/8.8.8.8/tcp/1', '/ip6/2001:4860::8888/tcp/1', '/dns4/boot.example.org/tcp/1',
  '/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1',
  '/ip4/10.1.2.3/tcp/1', '/ip4/172.16.0.1/tcp/1', '/ip4/192.168.1.1/tcp/1', '/ip4/100.64.0.1/tcp/1', '/ip6/fd00::1/tcp/1',
  '/ip6/::ffff:10.0.0.1/tcp/1', '/ip4/192.0.2.2/tcp/1', '/ip6/2001:db8::1/tcp/1',
  '/ip4/169.254.1.1/tcp/1', '/ip6/fe80::1/tcp/1', '/ip4/0.0.0.0/tcp/1', '/ip6/::/tcp/1', '/ip4/224.0.0.1/tcp/1'
].map((a) => multiaddr(a))

test('without allowPrivate only public IPs and DNS names stay', (t) => {
  t.deepEqual(dialableAddrs(ALL, false).map(String), ['/ip4/8.8.8.8/tcp/1', '/ip6/2001:4860::8888/tcp/1', '/dns4/boot.example.org/tcp/1'])
})

test('with allowPrivate loopback, private and reserved ranges stay; link-local, unspecified and multicast never do', (t) => {
  t.deepEqual(dialableAddrs(ALL, true).map(String), [
    '/ip4/8.8.8.8/tcp/1', '/ip6/2001:4860::8888/tcp/1', '/dns4/boot.example.org/tcp/1',
    '/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1',
    '/ip4/10.1.2.3/tcp/1', '/ip4/172.16.0.1/tcp/1', '/ip4/192.168.1.1/tcp/1', '/ip4/100.64.0.1/tcp/1', '/ip6/fd00::1/tcp/1',
    '/ip6/::ffff:a00:1/tcp/1', '/ip4/192.0.2.2/tcp/1', '/ip6/2001:db8::1/tcp/1'
  ])
})
