/**
 * Offline mode with the bundled data (DB-IP Lite city + RouteViews/NRO/DB-IP ASN, pinned exact
 * versions, so the values below are stable), and `none` mode. No test reaches the network;
 * the first one proves it for the whole offline path.
 */
import test from 'ava'
import { createLocator } from '../../src/geo/index.js'
import { countNetworkCalls, SUCCESS_KEYS } from './helpers/index.js'
import type { Location } from '../../src/view/index.js'

// One locator for the file: the bundled data is opened once, lazily, and shared (issue 6).
const locator = createLocator({ mode: 'offline' })
test.after.always(async () => { await locator.stop() })

const one = async (ip: string): Promise<Location> => {
  const loc = (await locator.locate([ip])).get(ip)
  if (loc === undefined) throw new Error(`no entry for ${ip}`)
  return loc
}

test.serial('offline lookups open the bundled data lazily and make no network call', async (t) => {
  let result = new Map<string, Location>()
  const calls = await countNetworkCalls(async () => {
    result = await locator.locate(['8.8.8.8', '2001:200::1'])
  })
  t.is(calls, 0)
  t.is(result.get('8.8.8.8')?.status, 'success')
  t.is(result.get('2001:200::1')?.status, 'success')
})

test('8.8.8.8 is Google in the US, with every SPEC field in ip-api order', async (t) => {
  const loc = await one('8.8.8.8')
  t.deepEqual(Object.keys(loc), SUCCESS_KEYS)
  t.like(loc, {
    status: 'success',
    country: 'United States',
    countryCode: 'US',
    region: 'CA',
    regionName: 'California',
    city: 'Mountain View',
    // DB-IP Lite has no postcode here: "" as ip-api does, never invented
    zip: '',
    timezone: 'America/Los_Angeles',
    isp: 'Google LLC',
    org: 'Google LLC',
    as: 'AS15169 Google LLC',
    query: '8.8.8.8'
  })
  // ip-api's precision: 4 decimals
  t.is(loc.lat, 37.422)
  t.is(loc.lon, -122.085)
})

test('1.1.1.1 is Cloudflare, with a country', async (t) => {
  const loc = await one('1.1.1.1')
  t.is(loc.status, 'success')
  t.regex(String(loc.countryCode), /^[A-Z]{2}$/)
  t.not(loc.country, '')
  t.is(loc.as, 'AS13335 Cloudflare, Inc.')
  t.is(loc.isp, 'Cloudflare, Inc.')
})

test('a public IPv6 address is located from the IPv6 data', async (t) => {
  // WIDE Project's 2001:200::/32, Japan since 1999.
  const loc = await one('2001:200::1')
  t.like(loc, { status: 'success', countryCode: 'JP', country: 'Japan', timezone: 'Asia/Tokyo', as: 'AS2500 WIDE Project', query: '2001:200::1' })
  t.deepEqual(Object.keys(loc), SUCCESS_KEYS)
  const google = await one('2001:4860:4860::8888')
  t.is(google.status, 'success')
  t.is(google.as, 'AS15169 Google LLC')
  t.regex(String(google.countryCode), /^[A-Z]{2}$/)
})

test('an IPv4-mapped IPv6 address is looked up as its IPv4 address, echoing the query', async (t) => {
  const mapped = await one('::ffff:8.8.8.8')
  const plain = await one('8.8.8.8')
  t.deepEqual(mapped, { ...plain, query: '::ffff:8.8.8.8' })
})

test('country names follow ip-api spellings', async (t) => {
  // 77.88.8.8: Yandex DNS, Moscow. CLDR and ip-api agree on "Russia"; region code from the ISO table.
  t.like(await one('77.88.8.8'), { countryCode: 'RU', country: 'Russia', region: 'MOW', as: 'AS13238 YANDEX LLC' })
  // DB-IP appends districts to cities ("Moscow (Tsentralnyy …)"); ip-api's city is the city alone.
  t.is((await one('77.88.8.8')).city, 'Moscow')
  // 2001:67c:2e8::/48 is RIPE NCC, Amsterdam: ip-api says "The Netherlands" where CLDR says "Netherlands".
  t.like(await one('2001:67c:2e8:22::c100:68b'), { countryCode: 'NL', country: 'The Netherlands', region: 'NH' })
})

test('every input gets exactly one entry: duplicates, invalid, private, reserved and public together', async (t) => {
  const ips = ['8.8.8.8', 'not-an-ip', '10.0.0.7', '127.0.0.1', '8.8.8.8', '::ffff:8.8.8.8', 'fd00::1', '2001:db8::1', '1.1.1.1']
  const result = await locator.locate(ips)
  t.deepEqual([...result.keys()].sort(), [...new Set(ips)].sort())
  t.deepEqual(result.get('not-an-ip'), { status: 'fail', message: 'invalid query', query: 'not-an-ip' })
  t.deepEqual(result.get('10.0.0.7'), { status: 'fail', message: 'private range', query: '10.0.0.7' })
  t.deepEqual(result.get('fd00::1'), { status: 'fail', message: 'private range', query: 'fd00::1' })
  t.deepEqual(result.get('127.0.0.1'), { status: 'fail', message: 'reserved range', query: '127.0.0.1' })
  t.deepEqual(result.get('2001:db8::1'), { status: 'fail', message: 'reserved range', query: '2001:db8::1' })
  t.is(result.get('::ffff:8.8.8.8')?.query, '::ffff:8.8.8.8')
  t.deepEqual(await locator.locate([]), new Map())
})

test('check passes when the bundled data is installed; attribution credits DB-IP', async (t) => {
  await t.notThrowsAsync(locator.check())
  t.true(locator.attribution.some((a) => a.includes('DB-IP')))
  t.is(locator.mode, 'offline')
})

test('none mode: every address gets "geolocation disabled", with no lookup and no network', async (t) => {
  const none = createLocator({ mode: 'none' })
  t.teardown(async () => { await none.stop() })
  let result = new Map<string, Location>()
  const calls = await countNetworkCalls(async () => {
    result = await none.locate(['8.8.8.8', '10.0.0.1', 'bogus'])
  })
  t.is(calls, 0)
  for (const ip of ['8.8.8.8', '10.0.0.1', 'bogus']) {
    t.deepEqual(result.get(ip), { status: 'fail', message: 'geolocation disabled', query: ip })
  }
  t.deepEqual(none.attribution, [])
  await t.notThrowsAsync(none.check())
})

test('an unknown mode is refused at construction', (t) => {
  const err = t.throws(() => createLocator({ mode: 'maxmind' as 'offline' }))
  t.is((err as { code?: string }).code, 'ERR_CONFIG')
})
