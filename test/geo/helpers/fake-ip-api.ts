/**
 * A local server speaking ip-api.com's batch protocol (the one fake the project allows):
 * `POST /batch?fields=…` with a JSON array of queries, answered by an array of location objects
 * in the same order, with `X-Rl` (requests left in the window) and `X-Ttl` (seconds to its end).
 * Each test swaps `behaviour` to play a normal, rate-limited, hanging or broken ip-api.
 */
import { createServer } from 'node:http'
import type { ExecutionContext } from 'ava'
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface RecordedRequest {
  method: string
  path: string
  fields: string | null
  contentType: string | undefined
  queries: unknown
}

export type Behaviour = (queries: string[], res: ServerResponse, req: IncomingMessage) => void

/** An ip-api-like answer for a query; key order deliberately differs from SPEC's. */
export function answerFor (query: string): Record<string, unknown> {
  if (query === '8.8.8.8') {
    return {
      query, status: 'success', country: 'United States', countryCode: 'US', region: 'VA', regionName: 'Virginia',
      city: 'Ashburn', zip: '20149', lat: 39.03, lon: -77.5, timezone: 'America/New_York', isp: 'Google LLC',
      org: 'Google Public DNS', as: 'AS15169 Google LLC'
    }
  }
  if (query.startsWith('203.0.')) return { status: 'fail', message: 'reserved range', query }
  return {
    as: 'AS64500 Example Net', org: 'Example Org', isp: 'Example ISP', timezone: 'Europe/Paris', lon: 2.35, lat: 48.85,
    zip: '75001', city: 'Paris', regionName: 'Île-de-France', region: 'IDF', countryCode: 'FR', country: 'France',
    status: 'success', query
  }
}

export const normal = (rl = 14, ttl = 60): Behaviour => (queries, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-rl': String(rl), 'x-ttl': String(ttl) })
  res.end(JSON.stringify(queries.map(answerFor)))
}

export interface FakeIpApi {
  url: string
  requests: RecordedRequest[]
  behaviour: Behaviour
}

export async function startFakeIpApi (t: ExecutionContext, behaviour: Behaviour = normal()): Promise<FakeIpApi> {
  const fake: FakeIpApi = { url: '', requests: [], behaviour }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1')
      let queries: unknown
      try {
        queries = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        queries = undefined
      }
      fake.requests.push({ method: req.method ?? '', path: u.pathname, fields: u.searchParams.get('fields'), contentType: req.headers['content-type'], queries })
      if (req.method !== 'POST' || u.pathname !== '/batch' || !Array.isArray(queries)) {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end('{"status":"fail","message":"invalid query"}')
        return
      }
      fake.behaviour(queries as string[], res, req)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  fake.url = `http://127.0.0.1:${address.port}/batch`
  return fake
}
