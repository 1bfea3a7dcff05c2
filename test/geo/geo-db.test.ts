/**
 * `--geo-db` / `--asn-db`: the operator's own MaxMind-format databases. The tests write small
 * databases in both city layouts (MaxMind GeoLite2 and ip-location-db's flat one) with the
 * test writer, and check the errors a bad path gives.
 */
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import test from 'ava'
import { checkGeoDatabase, createLocator, GeoDatabaseError } from '../../src/geo/index.js'
import { mkfifo, tempDir } from '../helpers/fs.js'
import { countNetworkCalls, SUCCESS_KEYS } from './helpers/index.js'
import { buildMmdb, Double } from './helpers/mmdb-writer.js'
import type { ExecutionContext } from 'ava'

/** GeoLite2-City layout, as MaxMind ships it (trimmed to the fields we read, plus a few we ignore). */
const GEOLITE_CITY = buildMmdb({
  databaseType: 'GeoLite2-City',
  networks: [
    {
      network: '81.2.69.0/24',
      data: {
        city: { geoname_id: 2643743, names: { en: 'London', de: 'London' } },
        continent: { code: 'EU', names: { en: 'Europe' } },
        country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
        location: { accuracy_radius: 10, latitude: new Double(51.514249), longitude: new Double(-0.093111), time_zone: 'Europe/London' },
        postal: { code: 'EC2V' },
        subdivisions: [{ iso_code: 'ENG', names: { en: 'England' } }]
      }
    },
    {
      // Only a registered country (anycast-style record), no city, no coordinates.
      network: '2a02:ff00::/32',
      data: { registered_country: { iso_code: 'NL', names: { en: 'Netherlands' } } }
    },
    {
      // GeoIP2 Enterprise-style traits carry the network data in the city record itself.
      network: '89.160.20.0/24',
      data: {
        country: { iso_code: 'SE', names: { en: 'Sweden' } },
        city: { names: { en: 'Linköping' } },
        location: { latitude: new Double(58.4167), longitude: new Double(15.6167), time_zone: 'Europe/Stockholm' },
        subdivisions: [{ iso_code: 'E', names: { en: 'Östergötland County' } }],
        traits: { autonomous_system_number: 29518, autonomous_system_organization: 'Bredband2 AB', isp: 'Bredbandsbolaget', organization: 'Bredband2 Org' }
      }
    }
  ]
})

/** ip-location-db's flat layout (what the bundled DB-IP file uses). */
const FLAT_CITY = buildMmdb({
  databaseType: 'city ipv4',
  networks: [
    {
      network: '1.0.0.0/24',
      data: { city: 'Brisbane (Central)', country_code: 'AU', latitude: new Double(-27.4679), longitude: new Double(153.0281), postcode: '4000', state1: 'Queensland', state2: '', timezone: '' }
    }
  ]
})

/** GeoLite2-ASN layout. */
const GEOLITE_ASN = buildMmdb({
  databaseType: 'GeoLite2-ASN',
  networks: [
    { network: '81.2.69.0/24', data: { autonomous_system_number: 20712, autonomous_system_organization: 'Andrews & Arnold Ltd' } },
    { network: '1.0.0.0/24', data: { autonomous_system_number: 13335, autonomous_system_organization: 'Cloudflare, Inc.' } }
  ]
})

async function writeDbs (t: ExecutionContext): Promise<{ dir: string, city: string, flat: string, asn: string }> {
  const dir = await tempDir(t)
  const city = join(dir, 'GeoLite2-City.mmdb')
  const flat = join(dir, 'flat-city.mmdb')
  const asn = join(dir, 'GeoLite2-ASN.mmdb')
  await writeFile(city, GEOLITE_CITY)
  await writeFile(flat, FLAT_CITY)
  await writeFile(asn, GEOLITE_ASN)
  return { dir, city, flat, asn }
}

test('--geo-db and --asn-db in the GeoLite2 layouts give the full location object', async (t) => {
  const { city, asn } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city, asnDbPath: asn })
  t.teardown(async () => { await locator.stop() })
  await locator.check()
  let result = new Map()
  const calls = await countNetworkCalls(async () => { result = await locator.locate(['81.2.69.142', '::ffff:81.2.69.142']) })
  t.is(calls, 0)
  const loc = result.get('81.2.69.142')
  t.deepEqual(loc, {
    status: 'success',
    country: 'United Kingdom',
    countryCode: 'GB',
    region: 'ENG',
    regionName: 'England',
    city: 'London',
    zip: 'EC2V',
    lat: 51.5142,
    lon: -0.0931,
    timezone: 'Europe/London',
    isp: 'Andrews & Arnold Ltd',
    org: 'Andrews & Arnold Ltd',
    as: 'AS20712 Andrews & Arnold Ltd',
    query: '81.2.69.142'
  })
  t.deepEqual(Object.keys(loc), SUCCESS_KEYS)
  t.deepEqual(result.get('::ffff:81.2.69.142'), { ...loc, query: '::ffff:81.2.69.142' })
  // The operator's own files carry their own terms: nothing bundled to credit.
  t.deepEqual(locator.attribution, [])
})

test('a record with only a registered country keeps the other fields empty, never invented', async (t) => {
  const { city, asn } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city, asnDbPath: asn })
  t.teardown(async () => { await locator.stop() })
  const loc = (await locator.locate(['2a02:ff00::1'])).get('2a02:ff00::1')
  t.deepEqual(loc, {
    status: 'success',
    country: 'The Netherlands',
    countryCode: 'NL',
    region: '',
    regionName: '',
    city: '',
    zip: '',
    lat: '',
    lon: '',
    timezone: '',
    isp: '',
    org: '',
    as: '',
    query: '2a02:ff00::1'
  })
})

test('network data in the city record itself (GeoIP2 Enterprise traits) wins over the ASN file', async (t) => {
  const { city, asn } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city, asnDbPath: asn })
  t.teardown(async () => { await locator.stop() })
  t.like((await locator.locate(['89.160.20.112'])).get('89.160.20.112'), {
    status: 'success',
    countryCode: 'SE',
    city: 'Linköping',
    region: 'E',
    isp: 'Bredbandsbolaget',
    org: 'Bredband2 Org',
    as: 'AS29518 Bredband2 AB'
  })
})

test('a public address in neither file is "no data"', async (t) => {
  const { city, asn } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city, asnDbPath: asn })
  t.teardown(async () => { await locator.stop() })
  t.deepEqual((await locator.locate(['9.9.9.9'])).get('9.9.9.9'), { status: 'fail', message: 'no data', query: '9.9.9.9' })
})

test('the flat ip-location-db layout works as --geo-db; the time zone is derived from the coordinates', async (t) => {
  const { flat, asn } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: flat, asnDbPath: asn })
  t.teardown(async () => { await locator.stop() })
  t.deepEqual((await locator.locate(['1.0.0.1'])).get('1.0.0.1'), {
    status: 'success',
    country: 'Australia',
    countryCode: 'AU',
    region: 'QLD',
    regionName: 'Queensland',
    city: 'Brisbane',
    zip: '4000',
    lat: -27.4679,
    lon: 153.0281,
    timezone: 'Australia/Brisbane',
    isp: 'Cloudflare, Inc.',
    org: 'Cloudflare, Inc.',
    as: 'AS13335 Cloudflare, Inc.',
    query: '1.0.0.1'
  })
})

test('--geo-db without --asn-db takes AS data from the bundled ASN table', async (t) => {
  const { city } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city })
  t.teardown(async () => { await locator.stop() })
  const loc = (await locator.locate(['81.2.69.142'])).get('81.2.69.142')
  t.like(loc, { status: 'success', city: 'London', countryCode: 'GB' })
  t.regex(String(loc?.as), /^AS20712 /)
  t.true(locator.attribution.some((a) => a.includes('RouteViews')))
  t.false(locator.attribution.some((a) => a.startsWith('IP Geolocation by DB-IP')))
})

const badCases: Array<[string, (dir: string) => Promise<string>, RegExp]> = [
  ['a missing file', async (dir) => join(dir, 'absent.mmdb'), /absent\.mmdb does not exist/],
  ['a directory', async (dir) => { await mkdir(join(dir, 'sub')); return join(dir, 'sub') }, /sub is not a file/],
  ['a FIFO (at once, with no writer)', async (dir) => { await mkfifo(join(dir, 'fifo.mmdb')); return join(dir, 'fifo.mmdb') }, /fifo\.mmdb is not a file/],
  ['a text file', async (dir) => { const p = join(dir, 'notes.txt'); await writeFile(p, 'hello, not a database\n'.repeat(50)); return p }, /notes\.txt is not a MaxMind DB \(\.mmdb\) file/],
  ['an empty file', async (dir) => { const p = join(dir, 'empty.mmdb'); await writeFile(p, ''); return p }, /empty\.mmdb is not a MaxMind DB/],
  ['a gzip file', async (dir) => { const p = join(dir, 'city.mmdb.gz'); await writeFile(p, gzipSync(GEOLITE_CITY)); return p }, /gzip-compressed: decompress it/]
]

for (const [what, make, message] of badCases) {
  test(`checkGeoDatabase refuses ${what} with one clear line`, async (t) => {
    const dir = await tempDir(t)
    const path = await make(dir)
    const err = await t.throwsAsync(checkGeoDatabase(path, '--geo-db'), { instanceOf: GeoDatabaseError })
    t.is(err?.code, 'ERR_GEO_DATABASE')
    t.regex(err?.message ?? '', message)
    t.true(err?.message.startsWith('--geo-db '))
    t.false(err?.message.includes('\n'))
  })
}

test('checkGeoDatabase accepts a valid database', async (t) => {
  const { city, asn } = await writeDbs(t)
  await t.notThrowsAsync(checkGeoDatabase(city))
  await t.notThrowsAsync(checkGeoDatabase(asn))
})

test('a bad --geo-db fails check() at start, but locate() still answers every address and never rejects', async (t) => {
  const dir = await tempDir(t)
  const locator = createLocator({ geoDbPath: join(dir, 'nope.mmdb'), asnDbPath: join(dir, 'nope-asn.mmdb') })
  t.teardown(async () => { await locator.stop() })
  const err = await t.throwsAsync(locator.check(), { instanceOf: GeoDatabaseError })
  t.regex(err?.message ?? '', /^--geo-db .*nope\.mmdb does not exist$/)
  const result = await locator.locate(['8.8.8.8', '10.0.0.1'])
  t.deepEqual(result.get('8.8.8.8'), { status: 'fail', message: 'geolocation unavailable', query: '8.8.8.8' })
  t.deepEqual(result.get('10.0.0.1'), { status: 'fail', message: 'private range', query: '10.0.0.1' })
})

test('a bad --asn-db fails check() naming --asn-db', async (t) => {
  const { city, dir } = await writeDbs(t)
  const locator = createLocator({ geoDbPath: city, asnDbPath: join(dir, 'missing-asn.mmdb') })
  t.teardown(async () => { await locator.stop() })
  const err = await t.throwsAsync(locator.check(), { instanceOf: GeoDatabaseError })
  t.regex(err?.message ?? '', /^--asn-db .*missing-asn\.mmdb does not exist$/)
  // City data still answers; the AS fields stay empty.
  t.like((await locator.locate(['81.2.69.142'])).get('81.2.69.142'), { status: 'success', city: 'London', as: '' })
})
