/**
 * Turns database records into the fields of SPEC §1's location object. Two city layouts exist:
 * - MaxMind (GeoLite2-City, GeoIP2-City/Enterprise, what `--geo-db` usually is): nested
 *   `country.iso_code`, `subdivisions[0].iso_code`/`names.en`, `city.names.en`, `postal.code`,
 *   `location.latitude`/`longitude`/`time_zone`, and in Enterprise `traits.isp`/`organization`/
 *   `autonomous_system_*`.
 * - ip-location-db (the bundled DB-IP Lite): flat `country_code`, `state1`, `state2`, `city`,
 *   `postcode`, `latitude`, `longitude`, `timezone` (empty in the DB-IP build).
 * ASN databases (GeoLite2-ASN, and GeoIP2-ISP which adds `isp`/`organization`) share one layout.
 * A field the record lacks becomes "" (SPEC §1: never invented).
 */
import tzLookup from '@photostructure/tz-lookup'
import { COORDINATE_DECIMALS } from './constants.js'
import { countryName, regionCode } from './names.js'

export interface CityFields {
  country: string
  countryCode: string
  region: string
  regionName: string
  city: string
  zip: string
  /** "" when the record has no coordinates. */
  lat: number | ''
  lon: number | ''
  timezone: string
  /** Present only when the city record itself carries network data (GeoIP2 Enterprise). */
  network?: NetworkFields
}

export interface NetworkFields {
  isp: string
  org: string
  /** ip-api's `as`: `AS15169 Google LLC`. */
  as: string
}

type Rec = Record<string, unknown>

function obj (v: unknown): Rec | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Rec : undefined
}
function str (v: unknown): string {
  return typeof v === 'string' ? v : ''
}
function coord (v: unknown): number | '' {
  if (typeof v !== 'number' || !Number.isFinite(v)) return ''
  const f = 10 ** COORDINATE_DECIMALS
  return Math.round(v * f) / f
}
function enName (v: unknown): string {
  return str(obj(obj(v)?.names)?.en)
}

/**
 * DB-IP appends the district to the city (`Moscow (Tsentralnyy administrativnyy okrug)`);
 * ip-api's `city` is the city alone.
 */
const DISTRICT_SUFFIX_RE = /\s+\([^()]*\)$/

/**
 * The time zone from coordinates, when the record has none. Only for a record located to a
 * city or region: a country-level record sits on the country's centroid, and the zone there is
 * not the host's zone in a country that spans several.
 */
function zoneOf (lat: number | '', lon: number | '', precise: boolean): string {
  if (!precise || lat === '' || lon === '') return ''
  try {
    return tzLookup(lat, lon)
  } catch {
    return ''
  }
}

export function asLabel (asn: number | undefined, org: string): string {
  if (asn === undefined) return ''
  return org === '' ? `AS${asn}` : `AS${asn} ${org}`
}

function network (asnValue: unknown, asOrg: string, isp: string, org: string): NetworkFields | undefined {
  const asn = typeof asnValue === 'number' && Number.isInteger(asnValue) ? asnValue : undefined
  if (asn === undefined && asOrg === '' && isp === '' && org === '') return undefined
  // Without an ISP or organisation record, the AS holder is the best name for both (issue 6).
  return { isp: isp !== '' ? isp : asOrg, org: org !== '' ? org : asOrg, as: asLabel(asn, asOrg) }
}

function shapeFlat (r: Rec): CityFields {
  const countryCode = str(r.country_code).toUpperCase()
  const regionName = str(r.state1)
  const city = str(r.city).replace(DISTRICT_SUFFIX_RE, '')
  const lat = coord(r.latitude)
  const lon = coord(r.longitude)
  return {
    country: countryName(countryCode),
    countryCode,
    region: regionCode(countryCode, regionName),
    regionName,
    city,
    zip: str(r.postcode),
    lat,
    lon,
    timezone: str(r.timezone) !== '' ? str(r.timezone) : zoneOf(lat, lon, city !== '' || regionName !== '')
  }
}

function shapeMaxMind (r: Rec): CityFields {
  // `country` is where the address is used; `registered_country` is the fallback MaxMind
  // itself documents for records without one (anycast, satellite).
  const countryRec = obj(r.country) ?? obj(r.registered_country)
  const countryCode = str(countryRec?.iso_code).toUpperCase()
  const sub = Array.isArray(r.subdivisions) ? obj(r.subdivisions[0]) : undefined
  const regionName = enName(sub)
  const city = enName(r.city)
  const location = obj(r.location)
  const lat = coord(location?.latitude)
  const lon = coord(location?.longitude)
  const traits = obj(r.traits)
  const fields: CityFields = {
    country: countryName(countryCode) || enName(countryRec),
    countryCode,
    region: str(sub?.iso_code),
    regionName,
    city,
    zip: str(obj(r.postal)?.code),
    lat,
    lon,
    timezone: str(location?.time_zone) !== '' ? str(location?.time_zone) : zoneOf(lat, lon, city !== '' || regionName !== '')
  }
  const net = traits === undefined
    ? undefined
    : network(traits.autonomous_system_number, str(traits.autonomous_system_organization), str(traits.isp), str(traits.organization))
  if (net !== undefined) fields.network = net
  return fields
}

/** Shaped once per decoded record: maxmind hands back the same object for a cached record. */
const cityShapes = new WeakMap<object, CityFields>()
const networkShapes = new WeakMap<object, NetworkFields | null>()

export function shapeCity (record: unknown): CityFields | undefined {
  const r = obj(record)
  if (r === undefined) return undefined
  let shaped = cityShapes.get(r)
  if (shaped === undefined) {
    shaped = typeof r.country_code === 'string' ? shapeFlat(r) : shapeMaxMind(r)
    cityShapes.set(r, shaped)
  }
  return shaped
}

export function shapeNetwork (record: unknown): NetworkFields | undefined {
  const r = obj(record)
  if (r === undefined) return undefined
  let shaped = networkShapes.get(r)
  if (shaped === undefined) {
    shaped = network(r.autonomous_system_number, str(r.autonomous_system_organization), str(r.isp), str(r.organization)) ?? null
    networkShapes.set(r, shaped)
  }
  return shaped ?? undefined
}
