/**
 * Names and codes in ip-api.com's spelling (SPEC §1: the location object is ip-api shaped).
 * Country names come from the runtime's CLDR data (Intl.DisplayNames) except where ip-api spells
 * them differently; region codes from country-region-data's ISO 3166-2 table. A name we cannot
 * match stays "" rather than guessed.
 */
import { allCountries } from 'country-region-data'

/**
 * CLDR English names that differ from the names ip-api.com answers (ip-api follows GeoNames).
 * Only codes whose ip-api spelling we know; anything else keeps CLDR's name with `&` spelt `and`.
 */
const IP_API_COUNTRY_NAMES: Readonly<Record<string, string>> = {
  AG: 'Antigua and Barbuda',
  AX: 'Åland',
  BA: 'Bosnia and Herzegovina',
  BL: 'Saint Barthélemy',
  BQ: 'Bonaire, Sint Eustatius, and Saba',
  CD: 'DR Congo',
  CG: 'Congo Republic',
  CI: 'Ivory Coast',
  CV: 'Cabo Verde',
  FM: 'Micronesia',
  HK: 'Hong Kong',
  HM: 'Heard Island and McDonald Islands',
  KN: 'St Kitts and Nevis',
  MF: 'Saint Martin',
  MM: 'Myanmar',
  MO: 'Macao',
  NL: 'The Netherlands',
  PM: 'Saint Pierre and Miquelon',
  PS: 'Palestine',
  SH: 'Saint Helena',
  SJ: 'Svalbard and Jan Mayen',
  ST: 'São Tomé and Príncipe',
  TC: 'Turks and Caicos Islands',
  TT: 'Trinidad and Tobago',
  UM: 'U.S. Minor Outlying Islands',
  VA: 'Vatican City',
  VC: 'St Vincent and Grenadines',
  WF: 'Wallis and Futuna'
}

const ISO_COUNTRY_RE = /^[A-Z]{2}$/
/** User-assigned codes some databases use for "unknown" or "Europe"; they name no country. */
const NOT_A_COUNTRY = new Set(['ZZ', 'XX', 'EU', 'AP', 'A1', 'A2', 'O1'])

let displayNames: Intl.DisplayNames | undefined
const countryCache = new Map<string, string>()

/** ip-api's English country name for an ISO 3166-1 alpha-2 code, or "" if it names no country. */
export function countryName (code: string): string {
  const cached = countryCache.get(code)
  if (cached !== undefined) return cached
  let name = ''
  if (ISO_COUNTRY_RE.test(code) && !NOT_A_COUNTRY.has(code)) {
    name = IP_API_COUNTRY_NAMES[code] ?? ''
    if (name === '') {
      try {
        displayNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' })
        name = (displayNames.of(code) ?? '').replaceAll(' & ', ' and ')
      } catch {
        name = ''
      }
    }
  }
  countryCache.set(code, name)
  return name
}

/**
 * ISO 3166-2 codes for region names that DB-IP spells in English where country-region-data uses
 * the local name (or an older one): the most frequent misses over a random sample of addresses.
 */
const REGION_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  AR: { 'Buenos Aires F.D.': 'C' },
  AT: { Vienna: '9', 'State of Vienna': '9' },
  BE: { 'Brussels Capital': 'BRU' },
  BG: { 'Sofia-grad': '22' },
  BR: { 'Federal District': 'DF' },
  CH: { Geneva: 'GE' },
  CL: { 'Santiago Metropolitan': 'RM' },
  CZ: { Prague: '10' },
  DE: {
    Bavaria: 'BY',
    Hesse: 'HE',
    'Lower Saxony': 'NI',
    'North Rhine-Westphalia': 'NW',
    'Rhineland-Palatinate': 'RP',
    Saxony: 'SN',
    'Saxony-Anhalt': 'ST',
    'State of Berlin': 'BE',
    Thuringia: 'TH'
  },
  DK: { 'Capital Region': '84', 'Central Jutland': '82' },
  ES: { Andalusia: 'AN', Catalonia: 'CT' },
  FR: { Brittany: 'BRE', 'New Aquitaine': 'NAQ' },
  GB: { England: 'ENG', 'Northern Ireland': 'NIR', Scotland: 'SCT', Wales: 'WLS' },
  ID: { Jakarta: 'JK' },
  IE: { Leinster: 'L' },
  IT: { 'Emilia-Romagna': '45', Lazio: '62', Lombardy: '25', Piedmont: '21', Sicily: '82', Tuscany: '52', Veneto: '34' },
  KR: { Busan: '26', Incheon: '28', Seoul: '11' },
  MX: { 'Mexico City': 'CMX' },
  NL: { 'North Brabant': 'NB', 'North Holland': 'NH', 'South Holland': 'ZH' },
  RU: { 'St.-Petersburg': 'SPE' },
  TH: { Bangkok: '10' },
  UA: { 'Kyiv City': '30' },
  VN: { Hanoi: 'HN', 'Ho Chi Minh City (HCMC)': 'SG' }
}

let regionIndex: Map<string, Map<string, string>> | undefined

/** Case- and accent-insensitive key, so `Hessen`/`hessen` and `Île-de-France`/`Ile-de-France` meet. */
function regionKey (name: string): string {
  return name.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trim()
}

function buildRegionIndex (): Map<string, Map<string, string>> {
  const index = new Map<string, Map<string, string>>()
  for (const [, countryCode, regions] of allCountries) {
    const byName = new Map<string, string>()
    for (const [name, code] of regions) {
      // A few entries carry no code; they would only produce "".
      if (typeof code === 'string' && code !== '') byName.set(regionKey(name), code)
    }
    index.set(countryCode, byName)
  }
  for (const [countryCode, aliases] of Object.entries(REGION_ALIASES)) {
    let byName = index.get(countryCode)
    if (byName === undefined) index.set(countryCode, byName = new Map())
    for (const [name, code] of Object.entries(aliases)) byName.set(regionKey(name), code)
  }
  return index
}

/**
 * ip-api's `region`: the ISO 3166-2 subdivision code without the country prefix (`CA` for
 * California), found by the region's name; "" when the table has no such name.
 */
export function regionCode (countryCode: string, regionName: string): string {
  if (countryCode === '' || regionName === '') return ''
  regionIndex ??= buildRegionIndex()
  return regionIndex.get(countryCode)?.get(regionKey(regionName)) ?? ''
}
