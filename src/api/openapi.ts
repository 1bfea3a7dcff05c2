/**
 * The OpenAPI 3.1 document of the REST facade (SPEC §1, issue 13 item 4), served at `/openapi.json`.
 *
 * Built from the facts the code itself uses (the route list, the heartbeat states and limits, the
 * rate-limit wording the 429 carries, the package version), so it cannot drift from what the app
 * serves; test/api/openapi.test.ts checks it against the OpenAPI 3.1 meta-schema and validates live
 * responses of every route against it. Plain JSON Schema 2020-12 throughout (no formats, no
 * `example`), so any 2020-12 validator reads the component schemas as they are.
 */
// From the leaf model.ts, not heartbeat/index.js, so loading the API does not pull in libp2p.
import {
  HEARTBEAT_STATES, MAX_NEXT_PINGS, MAX_PEER_ID_LENGTH, MAX_PUBLIC_NAME_LENGTH, MAX_VERSION_LENGTH, ROLE_PATTERN
} from '../heartbeat/model.js'
import { packageVersion } from '../util/package-version.js'
import {
  FORBIDDEN_DETAIL, JSON_CONTENT_TYPE, ROUTES, WATCH_KEEP_ALIVE_MS, WATCHERS_FULL_RETRY_AFTER_S, tooManyWatchers, tooManyWatchersInTotal, type RouteName
} from './constants.js'
import { UNKNOWN_PEER } from './reachability.js'

/** The path of the document and of the interactive docs (SPEC §1 "API description"). */
export const OPENAPI_PATH = '/openapi.json'
export const DOCS_PATH = '/docs'

/** The 403 body's `detail` (SPEC §1 Authentication). */

export interface OpenApiInit {
  /** How the key limiter's 429 words its limit, e.g. `5 per 1 minute`. */
  rateText: string
  /** How the failed-auth limiter's 429 words its limit, e.g. `30 per 1 minute`. */
  authFailText: string
  /** Whether `/metrics` is served. Default true. */
  metrics?: boolean
  /** `--max-watchers-per-key`, named in the `/v1/watch` description when the route exists. */
  maxWatchersPerKey?: number
  /** `--max-watchers`, likewise. */
  maxWatchers?: number
  /** Between the live feed's keep-alive comments. Default WATCH_KEEP_ALIVE_MS. */
  watchKeepAliveMs?: number
}

type Json = Record<string, unknown>

const ref = (kind: string, name: string): Json => ({ $ref: `#/components/${kind}/${name}` })
const schema = (name: string): Json => ref('schemas', name)
const jsonBody = (s: Json): Json => ({ [JSON_CONTENT_TYPE.split(';')[0] ?? 'application/json']: { schema: s } })

/** base58btc, as libp2p prints peer ids. */
const PEER_ID_PATTERN = '^[1-9A-HJ-NP-Za-km-z]+$'

/** The `Retry-After` of a 503 for capacity in use (checks or streams running): seconds to wait. */
const retryLater = { 'Retry-After': { description: 'Seconds to wait before asking again.', schema: { type: 'string', pattern: '^\\d+$' }, required: true } }

const ratePolicy = {
  RateLimit: ref('headers', 'RateLimit'),
  'RateLimit-Policy': ref('headers', 'RateLimit-Policy')
}

function components (init: OpenApiInit): Json {
  return {
    securitySchemes: {
      ApiKey: {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description: 'An API key from the key store (SPEC §2). The same key is also accepted as `Authorization: X-API-Key <key>` ' +
          '(the form the public docs show) and as `Authorization: Bearer <key>`. Never in the query string.'
      },
      Bearer: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`, the same API key.' }
    },
    headers: {
      ETag: { description: 'Strong validator of the body; send it back in `If-None-Match` to get 304 while nothing changed.', schema: { type: 'string', pattern: '^"[^"]*"$' }, required: true },
      'Cache-Control': { description: '`private, no-cache`: keyed data, revalidated with If-None-Match.', schema: { type: 'string' }, required: true },
      Vary: { description: '`Accept-Encoding`.', schema: { type: 'string' } },
      'Content-Encoding': { description: '`gzip` or `br` when the client accepts it (and the body is large enough to gain).', schema: { type: 'string', enum: ['gzip', 'br'] } },
      RateLimit: {
        description: `IETF draft-7 rate-limit state of the (key, client IP) pair: \`limit=N, remaining=N, reset=S\` (limit: ${init.rateText}).`,
        schema: { type: 'string', pattern: '^limit=\\d+, remaining=\\d+, reset=\\d+$' },
        required: true
      },
      'RateLimit-Policy': { description: 'IETF draft-7 policy: `N;w=S` (N requests per S seconds).', schema: { type: 'string', pattern: '^\\d+;w=\\d+$' }, required: true },
      'Retry-After': { description: 'Seconds until the window that refused the request resets.', schema: { type: 'string', pattern: '^\\d+$' }, required: true },
      Allow: { description: 'The methods the path answers: `GET, HEAD`.', schema: { type: 'string' }, required: true }
    },
    parameters: {
      state: { name: 'state', in: 'query', description: 'Only heartbeats in this state.', schema: { type: 'string', enum: [...HEARTBEAT_STATES] } },
      role: { name: 'role', in: 'query', description: 'Only heartbeats of this role (upper-case).', schema: { type: 'string', pattern: ROLE_PATTERN.source }, examples: { validator: { value: 'VALIDATOR' } } },
      peer_id: { name: 'peer_id', in: 'query', description: 'Only this peer (a base58btc libp2p peer id).', schema: schema('PeerId') },
      source: {
        name: 'source',
        in: 'query',
        description: '`node` (default): this node\'s own addresses. `chain`: the subnet\'s bootnodes as the chain lists them at the last read ' +
          '(with `--chain-rpc`; 404 without it, 503 before the first successful read).',
        schema: { type: 'string', enum: ['node', 'chain'] }
      },
      ifNoneMatch: { name: 'If-None-Match', in: 'header', description: 'The ETag of a body already held: 304 while it is current.', schema: { type: 'string' } }
    },
    responses: {
      BadRequest: { description: 'A query or path value the route does not accept; `detail` says what it accepts.', content: jsonBody(schema('Error')) },
      Forbidden: {
        description: `No key, an unknown, inactive or expired key, or a key not scoped for this route: \`{"detail": "${FORBIDDEN_DETAIL}"}\`.`,
        content: jsonBody({ type: 'object', required: ['detail'], properties: { detail: { const: FORBIDDEN_DETAIL } }, additionalProperties: false })
      },
      TooManyRequests: {
        description: `The (key, client IP) pair is past its limit (\`Rate limit exceeded: ${init.rateText}\`), or the client IP is past its ` +
          `failed-key budget (\`Rate limit exceeded: ${init.authFailText} (failed API key attempts)\`).`,
        headers: { 'Retry-After': ref('headers', 'Retry-After'), ...ratePolicy },
        content: jsonBody({ type: 'object', required: ['detail'], properties: { detail: { type: 'string', pattern: '^Rate limit exceeded: ' } }, additionalProperties: false })
      },
      NotModified: { description: 'The `If-None-Match` ETag is current: no body.', headers: { ETag: ref('headers', 'ETag'), 'Cache-Control': ref('headers', 'Cache-Control') } },
      NotFound: { description: 'Unknown path: `{"detail": "Not Found"}`.', content: jsonBody(schema('Error')) },
      MethodNotAllowed: {
        description: 'Any method but GET or HEAD on a known path: `{"detail": "Method Not Allowed"}`.',
        headers: { Allow: ref('headers', 'Allow') },
        content: jsonBody(schema('Error'))
      },
      InternalServerError: { description: 'Anything unexpected; the cause is in the log, never in the body.', content: jsonBody(schema('Error')) }
    },
    schemas: {
      Error: { type: 'object', required: ['detail'], properties: { detail: { type: 'string' } }, additionalProperties: false },
      PeerId: { type: 'string', pattern: PEER_ID_PATTERN, maxLength: MAX_PEER_ID_LENGTH, examples: ['12D3KooWMwW1VqH7uWtUc5UGoyMJp1dG26Nkosc6RkRJ7RNiW6Cb'] },
      Multiaddr: { type: 'string', pattern: '^/', examples: ['/ip4/203.0.113.9/tcp/31330'] },
      HeartbeatServer: {
        type: 'object',
        required: ['state', 'role', 'throughput', 'public_name', 'version', 'using_relay', 'next_pings'],
        properties: {
          state: { type: 'string', enum: [...HEARTBEAT_STATES] },
          role: { type: 'string', pattern: ROLE_PATTERN.source },
          throughput: { type: 'number' },
          public_name: { type: ['string', 'null'], maxLength: MAX_PUBLIC_NAME_LENGTH },
          version: { type: 'string', maxLength: MAX_VERSION_LENGTH },
          using_relay: { type: 'boolean' },
          next_pings: {
            description: 'Peer id → smoothed round-trip time in seconds, to up to 5 other heartbeat peers; null when none was measured.',
            oneOf: [
              { type: 'null' },
              { type: 'object', maxProperties: MAX_NEXT_PINGS, propertyNames: schema('PeerId'), additionalProperties: { type: 'number', minimum: 0 } }
            ]
          }
        },
        additionalProperties: false
      },
      Heartbeat: {
        type: 'object',
        required: ['peer_id', 'server', 'expiration_time'],
        properties: {
          peer_id: schema('PeerId'),
          server: schema('HeartbeatServer'),
          expiration_time: { type: 'number', description: 'Unix seconds (float).' },
          subnet_node_id: { type: 'integer', minimum: 1, description: 'Subnet-template heartbeats only: the on-chain subnet node id.' },
          epoch: { type: 'integer', minimum: 0, description: 'Subnet-template heartbeats only: the epoch of the newest message.' },
          protocol: { const: 'template', description: 'Subnet-template heartbeats only; native heartbeats omit it.' }
        },
        additionalProperties: false
      },
      HeartbeatList: { type: 'object', required: ['value'], properties: { value: { type: 'array', items: schema('Heartbeat') } }, additionalProperties: false },
      Bootnodes: {
        type: 'object',
        required: ['value'],
        properties: { value: { type: 'array', items: { type: 'string', pattern: '/p2p/[1-9A-HJ-NP-Za-km-z]+$' } } },
        additionalProperties: false
      },
      Location: {
        description: 'ip-api.com\'s field names; a field the data source cannot fill is "" (never made up).',
        oneOf: [
          {
            type: 'object',
            required: ['status', 'country', 'countryCode', 'region', 'regionName', 'city', 'zip', 'lat', 'lon', 'timezone', 'isp', 'org', 'as', 'query'],
            properties: {
              status: { const: 'success' },
              ...Object.fromEntries(['country', 'countryCode', 'region', 'regionName', 'city', 'zip', 'timezone', 'isp', 'org', 'as', 'query'].map(k => [k, { type: 'string' }])),
              lat: { oneOf: [{ type: 'number', minimum: -90, maximum: 90 }, { const: '' }] },
              lon: { oneOf: [{ type: 'number', minimum: -180, maximum: 180 }, { const: '' }] }
            },
            additionalProperties: false
          },
          {
            type: 'object',
            required: ['status', 'message', 'query'],
            properties: {
              status: { const: 'fail' },
              message: { type: 'string', description: '`private range`, `reserved range`, `invalid query`, or (with `--geo ip-api`) the service\'s reason.' },
              query: { type: 'string' }
            },
            additionalProperties: false
          }
        ]
      },
      PeerInfo: {
        type: 'object',
        description: 'Each IP of the peer → `{"location": {...}}`, plus `multiaddrs`: every address the peer is known by.',
        required: ['multiaddrs'],
        properties: { multiaddrs: { type: 'array', items: schema('Multiaddr') } },
        additionalProperties: { type: 'object', required: ['location'], properties: { location: schema('Location') }, additionalProperties: false }
      },
      PeersInfo: {
        type: 'object',
        required: ['value'],
        properties: { value: { type: 'object', propertyNames: schema('PeerId'), additionalProperties: schema('PeerInfo') } },
        additionalProperties: false
      },
      Health: {
        type: 'object',
        required: ['status', 'peer_id', 'peers', 'heartbeats', 'uptime_s'],
        properties: {
          status: { const: 'ok' },
          peer_id: schema('PeerId'),
          peers: { type: 'integer', minimum: 0 },
          heartbeats: { type: 'integer', minimum: 0 },
          uptime_s: { type: 'integer', minimum: 0 },
          attribution: { type: 'array', items: { type: 'string' }, description: 'Credits the geolocation data\'s licence requires.' },
          chain: schema('ChainHealth')
        },
        additionalProperties: false
      },
      ChainHealth: {
        type: 'object',
        description: 'With `--chain-rpc` only: the on-chain bootnode comparison and the cached proof-of-stake verdicts.',
        required: ['status', 'checked_at', 'registered', 'bootnodes', 'invalid_bootnodes', 'unreachable_bootnodes', 'stake'],
        properties: {
          status: { type: 'string', enum: ['ok', 'error', 'pending'] },
          checked_at: { type: ['string', 'null'], description: 'ISO time of the last successful read.' },
          error: { type: 'string', description: 'Why the last read failed (the last good list is kept).' },
          registered: {
            type: 'object',
            required: ['peer_id', 'addrs', 'missing_addrs'],
            properties: {
              peer_id: { type: 'boolean' },
              addrs: { type: 'array', items: { type: 'string' } },
              missing_addrs: { type: 'array', items: { type: 'string' } }
            },
            additionalProperties: false
          },
          bootnodes: { type: 'integer', minimum: 0 },
          invalid_bootnodes: { type: 'integer', minimum: 0 },
          unreachable_bootnodes: { type: 'array', items: { type: 'string' } },
          stake: {
            type: 'object',
            required: ['staked', 'unstaked', 'unverified'],
            properties: { staked: { type: 'integer', minimum: 0 }, unstaked: { type: 'integer', minimum: 0 }, unverified: { type: 'integer', minimum: 0 } },
            additionalProperties: false
          }
        },
        additionalProperties: false
      },
      Starting: { type: 'object', required: ['status'], properties: { status: { const: 'starting' } }, additionalProperties: false },
      AddressCheck: {
        oneOf: [
          { type: 'object', required: ['multiaddr', 'ok', 'rtt_ms'], properties: { multiaddr: schema('Multiaddr'), ok: { const: true }, rtt_ms: { type: 'number', minimum: 0 } }, additionalProperties: false },
          { type: 'object', required: ['multiaddr', 'ok', 'error'], properties: { multiaddr: schema('Multiaddr'), ok: { const: false }, error: { type: 'string' } }, additionalProperties: false }
        ]
      },
      Reachability: {
        type: 'object',
        required: ['peer_id', 'reachable', 'addrs'],
        properties: {
          peer_id: schema('PeerId'),
          reachable: { type: 'boolean', description: 'Whether any address answered.' },
          addrs: { type: 'array', items: schema('AddressCheck') }
        },
        additionalProperties: false
      }
    }
  }
}

const keyed = [{ ApiKey: [] }, { Bearer: [] }]

const common = {
  403: ref('responses', 'Forbidden'),
  429: ref('responses', 'TooManyRequests'),
  500: ref('responses', 'InternalServerError')
}

/** A GET of prepared bytes (SPEC §1 "served from bytes prepared once per view change"). */
function dataRoute (summary: string, description: string, body: string, params: string[], extra: Json = {}): Json {
  return {
    summary,
    description,
    security: keyed,
    parameters: [...params, 'ifNoneMatch'].map(p => ref('parameters', p)),
    responses: {
      200: {
        description: 'The body, as prepared for the current view.',
        headers: {
          ETag: ref('headers', 'ETag'),
          'Cache-Control': ref('headers', 'Cache-Control'),
          Vary: ref('headers', 'Vary'),
          'Content-Encoding': ref('headers', 'Content-Encoding'),
          ...ratePolicy
        },
        content: jsonBody(schema(body))
      },
      304: ref('responses', 'NotModified'),
      ...(params.length > 0 ? { 400: ref('responses', 'BadRequest') } : {}),
      ...extra,
      ...common
    }
  }
}

/**
 * What each keyed route is, by name: a `Record`, so a route added to the key store's list does not
 * compile until it is described here. A data route answers at `/v1/<name>` and its legacy alias
 * `/<name>` (SPEC §1); `watch` and `is_reachable` (issue 13) give their own paths.
 */
type RouteDoc =
  | { kind: 'data', operation: () => Json }
  | { kind: 'paths', paths: (init: OpenApiInit, name: string) => Json }

const ROUTE_DOCS: Record<RouteName, RouteDoc> = {
  get_heartbeat: {
    kind: 'data',
    operation: () => dataRoute('Live heartbeats',
      'The subnet\'s live heartbeats, one per peer: the newest valid record wins, expired ones are dropped. ' +
      'Subnet-template heartbeats carry `subnet_node_id`, `epoch` and `protocol` too.', 'HeartbeatList', ['state', 'role', 'peer_id'])
  },
  get_bootnodes: {
    kind: 'data',
    operation: () => dataRoute('This bootnode\'s addresses',
      'This node\'s own dialable multiaddrs, each ending in `/p2p/<its peer id>`; with `?source=chain`, the on-chain list in the same shape.',
      'Bootnodes', ['source'], {
        404: { description: '`?source=chain` on a sidecar without `--chain-rpc`: there is no on-chain list here.', content: jsonBody(schema('Error')) },
        503: { description: '`?source=chain` before the chain\'s list has been read once; try again shortly.', content: jsonBody(schema('Error')) }
      })
  },
  get_peers_info: {
    kind: 'data',
    operation: () => dataRoute('Subnet members, located',
      'Every subnet member known to the node (connected now, or seen within `--peer-ttl`), each IP geolocated, and all its multiaddrs.',
      'PeersInfo', ['peer_id'])
  },
  watch: {
    kind: 'paths',
    paths: (init, name) => ({
      [`/v1/${name}`]: {
        get: {
          operationId: name,
          summary: 'Live feed (Server-Sent Events)',
          description: 'Counts as one request at connect. Sends the `heartbeat`, `peers_info` and `bootnodes` events at once and again on every ' +
            'view change; each event\'s `data` is the exact body of the matching GET route (`get_heartbeat`, `get_peers_info`, `get_bootnodes`) ' +
            `and its \`id\` that body's ETag. A \`: keep-alive\` comment every ${(init.watchKeepAliveMs ?? WATCH_KEEP_ALIVE_MS) / 1000} s. Before the server ends the stream (key deactivated, removed or expired; ` +
            'shutdown) it sends `event: close` with `{"detail": ...}`. At most ' +
            `${init.maxWatchersPerKey === undefined ? '`--max-watchers-per-key`' : String(init.maxWatchersPerKey)} open per key; past it 429. ` +
            `At most ${init.maxWatchers === undefined ? '`--max-watchers`' : String(init.maxWatchers)} open in total; past it 503. ` +
            'Browsers: use `fetch` with the key header (EventSource cannot send headers; the key is never accepted in the URL).',
          security: keyed,
          responses: {
            200: {
              description: 'An event stream that lasts until the client or the server ends it.',
              headers: ratePolicy,
              content: { 'text/event-stream': { schema: { type: 'string' } } }
            },
            ...common,
            429: {
              description: 'Past the rate limit (as every keyed route), or this key already holds the most open streams: ' +
                `\`{"detail": "${tooManyWatchers(init.maxWatchersPerKey ?? 'N')}"}\`.`,
              content: jsonBody(schema('Error'))
            },
            503: {
              description: 'The server already holds the most open streams across all keys: ' +
                `\`{"detail": "${tooManyWatchersInTotal(init.maxWatchers ?? 'N')}"}\`, with \`Retry-After: ${WATCHERS_FULL_RETRY_AFTER_S}\`; a slot frees when any stream ends.`,
              headers: retryLater,
              content: jsonBody(schema('Error'))
            }
          }
        }
      }
    })
  },
  is_reachable: {
    kind: 'paths',
    paths: (_init, name) => ({
      [`/v1/${name}/{peer_id}`]: {
        get: {
          operationId: name,
          summary: 'Is this peer reachable?',
          description: 'Opens a fresh connection (never an existing one) to each address the peer announced in the subnet, with a timeout, and pings. ' +
            'Private and loopback addresses are not dialled unless the sidecar runs with `--allow-private-addrs`.',
          security: keyed,
          parameters: [{ name: 'peer_id', in: 'path', required: true, description: 'A base58btc libp2p peer id.', schema: schema('PeerId') }],
          responses: {
            200: { description: 'Each address with its result, and whether any answered.', headers: ratePolicy, content: jsonBody(schema('Reachability')) },
            400: ref('responses', 'BadRequest'),
            404: { description: 'The peer is not a known subnet member: `{"detail": "' + UNKNOWN_PEER + '"}`.', content: jsonBody(schema('Error')) },
            ...common,
            503: {
              description: 'Checks are unavailable (no subnet node to dial with) or too many run at once; try again after `Retry-After`.',
              headers: retryLater,
              content: jsonBody(schema('Error'))
            }
          }
        }
      }
    })
  }
}

function routePaths (init: OpenApiInit, name: RouteName): Json {
  const doc = ROUTE_DOCS[name]
  if (doc.kind === 'paths') return doc.paths(init, name)
  const operation = doc.operation()
  return {
    [`/v1/${name}`]: { get: { operationId: name, ...operation } },
    [`/${name}`]: { get: { ...operation, operationId: `${name}_legacy`, summary: `${String(operation.summary)} (legacy alias)`, deprecated: true } }
  }
}

/** The document for an app configured with `init`. */
export function openApiDocument (init: OpenApiInit): Json {
  const paths: Json = {}
  for (const name of ROUTES) Object.assign(paths, routePaths(init, name))
  paths['/healthz'] = {
    get: {
      operationId: 'healthz',
      summary: 'Liveness and readiness (no key)',
      responses: {
        200: { description: 'Ready.', content: jsonBody(schema('Health')) },
        503: { description: 'The DHT is not up yet.', content: jsonBody(schema('Starting')) }
      }
    }
  }
  if (init.metrics !== false) {
    paths['/metrics'] = {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (no key)',
        responses: { 200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } }
      }
    }
  }
  paths[OPENAPI_PATH] = {
    get: { operationId: 'openapi', summary: 'This document (no key)', responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } } }
  }
  paths['/'] = {
    get: { operationId: 'status_page', summary: 'Status page (HTML, no key; it reads data through the keyed routes)', responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } } }
  }
  paths[DOCS_PATH] = {
    get: { operationId: 'docs', summary: 'Interactive docs (Swagger UI, no key, served offline)', responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } } }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'subnet-bootnode REST API',
      version: packageVersion(),
      summary: 'A subnet\'s heartbeats, peers and bootnodes, behind API keys and rate limits.',
      description: 'Keyed routes take the key in `X-API-Key` (or `Authorization: X-API-Key <key>` / `Authorization: Bearer <key>`). ' +
        `Each (key, client IP) pair gets ${init.rateText} across all keyed routes; failed key checks are limited to ${init.authFailText} per client IP. ` +
        'Bodies carry a strong ETag; `If-None-Match` gets 304. Every body is JSON; errors are `{"detail": ...}`: unknown path 404, ' +
        'other methods than GET/HEAD 405 (`components.responses.MethodNotAllowed`), anything unexpected 500.',
      license: { name: 'MIT', identifier: 'MIT' }
    },
    // relative to the document's own URL (OpenAPI 3.1 §4.8.5), so "Try it out" works behind a path prefix
    servers: [{ url: '.', description: 'this sidecar, where this document was loaded from' }],
    paths,
    components: components(init)
  }
}
