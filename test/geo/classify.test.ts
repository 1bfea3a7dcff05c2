import test from 'ava'
import { classifyIp } from '../../src/geo/index.js'

const cases: Array<[string, string]> = [
  // not an address (net.isIP first: ipaddr.js alone would take `1.2.3` and `0x7f.1`)
  ['', 'invalid query'],
  ['nope', 'invalid query'],
  ['1.2.3', 'invalid query'],
  ['0x7f.0.0.1', 'invalid query'],
  ['256.1.1.1', 'invalid query'],
  ['1.2.3.4/24', 'invalid query'],
  ['2001:db8::g', 'invalid query'],
  [' 8.8.8.8', 'invalid query'],
  // RFC 1918 and IPv6 unique-local
  ['10.0.0.7', 'private range'],
  ['172.16.5.4', 'private range'],
  ['172.31.255.255', 'private range'],
  ['192.168.1.1', 'private range'],
  ['fc00::1', 'private range'],
  ['fd12:3456:789a::1', 'private range'],
  // loopback, link-local, CGNAT, multicast, documentation, unspecified, broadcast, benchmarking, reserved
  ['127.0.0.1', 'reserved range'],
  ['127.255.0.3', 'reserved range'],
  ['::1', 'reserved range'],
  ['169.254.10.10', 'reserved range'],
  ['fe80::1', 'reserved range'],
  ['100.64.0.1', 'reserved range'],
  ['100.127.255.254', 'reserved range'],
  ['224.0.0.251', 'reserved range'],
  ['239.255.255.250', 'reserved range'],
  ['ff02::1', 'reserved range'],
  ['192.0.2.1', 'reserved range'],
  ['198.51.100.7', 'reserved range'],
  ['203.0.113.9', 'reserved range'],
  ['2001:db8::1', 'reserved range'],
  ['0.0.0.0', 'reserved range'],
  ['0.1.2.3', 'reserved range'],
  ['::', 'reserved range'],
  ['255.255.255.255', 'reserved range'],
  ['198.18.0.1', 'reserved range'],
  ['198.19.255.1', 'reserved range'],
  ['240.0.0.1', 'reserved range'],
  ['192.0.0.8', 'reserved range'],
  ['2001:2::1', 'reserved range'],
  ['100::1', 'reserved range'],
  // IPv4-mapped IPv6 is classified as the IPv4 address it carries
  ['::ffff:10.1.2.3', 'private range'],
  ['::ffff:127.0.0.1', 'reserved range'],
  ['::ffff:100.64.1.1', 'reserved range']
]

for (const [ip, message] of cases) {
  test(`classifyIp(${JSON.stringify(ip)}) is ${message}`, (t) => {
    t.deepEqual(classifyIp(ip), { status: 'fail', message, query: ip })
  })
}

for (const ip of ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '198.20.0.1',
  '2001:4860:4860::8888', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '::FFFF:1.1.1.1', '2002:808:808::1']) {
  test(`classifyIp(${JSON.stringify(ip)}) is public`, (t) => {
    t.is(classifyIp(ip), undefined)
  })
}
