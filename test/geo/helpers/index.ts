import { subscribe, unsubscribe } from 'node:diagnostics_channel'

/** SPEC §1: the keys of a `success` location object, in ip-api's order. */
export const SUCCESS_KEYS = ['status', 'country', 'countryCode', 'region', 'regionName', 'city', 'zip', 'lat', 'lon',
  'timezone', 'isp', 'org', 'as', 'query']

/**
 * Counts outgoing connections and HTTP requests while `fn` runs, through Node's own
 * diagnostics channels (net sockets and undici, which backs fetch).
 */
export async function countNetworkCalls (fn: () => Promise<void>): Promise<number> {
  let calls = 0
  const onEvent = (): void => { calls++ }
  const channels = ['net.client.socket', 'undici:request:create', 'undici:client:beforeConnect']
  for (const c of channels) subscribe(c, onEvent)
  try {
    await fn()
  } finally {
    for (const c of channels) unsubscribe(c, onEvent)
  }
  return calls
}
