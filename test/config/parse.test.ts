import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { parseConfig } from '../../src/config/index.js'
import { MAX_TEMPLATE_SUBNET_ID } from '../../src/p2p/constants.js'
import { packageVersion } from '../../src/util/package-version.js'
import { ConfigError } from '../../src/errors.js'
import { tempDir } from '../helpers/fs.js'
import type { Config } from '../../src/config/index.js'
import type { ExecutionContext } from 'ava'

const CWD = '/srv/bootnode'
const PEER_ID = '12D3KooWGQmdpzHXCqLno4mMxWXKNFQHASBeF99gTm2JR8Vu5Bdc'
const BOOTSTRAP = `/ip4/1.2.3.4/tcp/31330/p2p/${PEER_ID}`

type Env = Record<string, string | undefined>

function parse (argv: string[], env: Env = {}, cwd = CWD): Config {
  return parseConfig(argv, env, cwd)
}

function run (argv: string[], env: Env = {}): Extract<Config, { command: 'run' }> {
  const config = parse(['run', '--subnet-id', 'sn', ...argv], env)
  if (config.command !== 'run') throw new Error(`expected run, got ${config.command}`)
  return config
}

function peer (argv: string[], env: Env = {}): Extract<Config, { command: 'peer' }> {
  const config = parse(['peer', '--subnet-id', 'sn', ...argv], env)
  if (config.command !== 'peer') throw new Error(`expected peer, got ${config.command}`)
  return config
}

function demo (argv: string[], env: Env = {}): Extract<Config, { command: 'demo' }> {
  const config = parse(['demo', ...argv], env)
  if (config.command !== 'demo') throw new Error(`expected demo, got ${config.command}`)
  return config
}

/** Asserts a ConfigError (code ERR_CONFIG) with one line containing every `parts` entry; returns the line. */
function refused (t: ExecutionContext, fn: () => unknown, ...parts: string[]): string {
  const err = t.throws(fn, { instanceOf: ConfigError })
  if (err === undefined) return ''
  t.is(err.code, 'ERR_CONFIG')
  t.false(err.message.includes('\n'), `one line: ${err.message}`)
  for (const part of parts) t.true(err.message.includes(part), `"${err.message}" should mention ${part}`)
  return err.message
}

test('run: every default of SPEC §4', t => {
  t.deepEqual(parse(['--subnet-id', 'sn']), {
    command: 'run',
    subnetId: 'sn',
    profile: 'native',
    listen: ['/ip4/0.0.0.0/tcp/31330'],
    announce: [],
    bootstrap: [],
    identityPath: undefined,
    dataDir: undefined,
    logLevel: 'info',
    allowPrivateAddrs: false,
    maxInboundRate: undefined,
    maxConnections: undefined,
    maxConnectionsPerIp: undefined,
    apiHost: '127.0.0.1',
    apiPort: 8000,
    keysFile: '/srv/bootnode/bootnode_rest_keys.json',
    rateLimit: { limit: 5, windowMs: 60_000, text: '5 per 1 minute' },
    authFailLimit: { limit: 30, windowMs: 60_000, text: '30 per 1 minute' },
    trustProxy: false,
    redisUrl: undefined,
    geo: 'offline',
    geoDb: undefined,
    asnDb: undefined,
    refreshIntervalMs: 10_000,
    peerTtlMs: 3_600_000,
    templateHeartbeatTtlMs: 240_000,
    metrics: true,
    chainRpc: undefined,
    minNodeClass: 'registered',
    chainFail: 'open',
    chainCacheTtlMs: 300_000,
    chainRefreshMs: 300_000,
    maxWatchersPerKey: 4,
    maxWatchers: 256
  })
  t.is(parse(['run', '--subnet-id', 'sn']).command, 'run', 'run named explicitly')
})

test('peer: every default of SPEC §4', t => {
  t.deepEqual(parse(['peer', '--subnet-id', 'sn']), {
    command: 'peer',
    subnetId: 'sn',
    profile: 'native',
    listen: ['/ip4/0.0.0.0/tcp/31330'],
    announce: [],
    bootstrap: [],
    identityPath: undefined,
    dataDir: undefined,
    logLevel: 'info',
    allowPrivateAddrs: false,
    maxInboundRate: undefined,
    maxConnections: undefined,
    maxConnectionsPerIp: undefined,
    role: 'VALIDATOR',
    heartbeatIntervalMs: 60_000,
    publicName: undefined,
    versionString: packageVersion(),
    subnetNodeId: 1
  })
})

test('demo: loopback, profile both on subnet 1, private addresses on, 5 s heartbeats, 5 peers, no --subnet-id needed', t => {
  const config = demo([])
  t.like(config, {
    command: 'demo',
    peers: 5,
    // `both` speaks the template's protocols, whose messages carry the subnet id as an integer.
    subnetId: '1',
    profile: 'both',
    templateHeartbeatTtlMs: 240_000,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    allowPrivateAddrs: true,
    logLevel: 'warn',
    heartbeatIntervalMs: 5_000,
    apiHost: '127.0.0.1',
    apiPort: 8000,
    role: 'VALIDATOR',
    geo: 'offline',
    metrics: true
  })
  t.is(config.dataDir, undefined, 'the caller makes a temporary directory')
  t.is(config.keysFile, undefined, 'the demo keeps its key file in its data dir unless told otherwise')
  t.is(demo(['--keys-file', 'k.json']).keysFile, '/srv/bootnode/k.json')
  t.is(config.rateLimit.text, '60 per 1 minute', 'the demo\'s own default, so its status page is usable')
})

test('the package version is the one in package.json', async t => {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.is(packageVersion(), pkg.version)
})

test('common flags are parsed', t => {
  const config = run([
    '--listen', '/ip4/127.0.0.1/tcp/4001',
    '--listen', '/ip6/::1/tcp/4001,/ip4/10.0.0.1/tcp/4002',
    '--announce', '/dns4/boot.example.com/tcp/31330',
    '--bootstrap', BOOTSTRAP,
    '--identity-path', 'keys/identity.key',
    '--data-dir', '/var/lib/bootnode',
    '--log-level', 'debug',
    '--allow-private-addrs'
  ])
  t.deepEqual(config.listen, ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001', '/ip4/10.0.0.1/tcp/4002'])
  t.deepEqual(config.announce, ['/dns4/boot.example.com/tcp/31330'])
  t.deepEqual(config.bootstrap, [BOOTSTRAP])
  t.is(config.identityPath, '/srv/bootnode/keys/identity.key', 'relative paths resolve against cwd')
  t.is(config.dataDir, '/var/lib/bootnode')
  t.is(config.logLevel, 'debug')
  t.true(config.allowPrivateAddrs)
  t.like(parse(['--subnet-id=a.B_c-9']), { subnetId: 'a.B_c-9' }, '--flag=value form')
  t.false(run(['--no-allow-private-addrs']).allowPrivateAddrs)
  t.throws(() => demo(['--no-allow-private-addrs']), { message: /--allow-private-addrs: the demo runs on 127\.0\.0\.1/ }, 'the demo cannot form without them')
  t.like(run(['--max-inbound-rate', '500', '--max-connections', '20']), { maxInboundRate: 500, maxConnections: 20 })
  t.throws(() => run(['--max-inbound-rate', '0']), { message: /^--max-inbound-rate/ })
  t.like(run(['--max-connections-per-ip', '32']), { maxConnectionsPerIp: 32 })
  t.throws(() => run(['--max-connections-per-ip', '0']), { message: /^--max-connections-per-ip/ })
  t.like(run(['--max-watchers-per-key', '10']), { maxWatchersPerKey: 10 })
  t.throws(() => run(['--max-watchers-per-key', '0']), { message: /^--max-watchers-per-key/ })
  t.like(run(['--max-watchers', '1000', '--max-watchers-per-key', '1000']), { maxWatchers: 1000, maxWatchersPerKey: 1000 })
  t.like(run([], { SUBNET_BOOTNODE_MAX_WATCHERS: '32' }), { maxWatchers: 32, maxWatchersPerKey: 4 })
  // The demo's sidecar and peers all dial from 127.0.0.1: room for the per-peer maximum between every two of them.
  t.like(demo([]), { maxConnectionsPerIp: 204 })
  t.true(run(['--allow-private-addrs=true']).allowPrivateAddrs)
})

test('API flags are parsed', t => {
  const config = run([
    '--api-host', '0.0.0.0',
    '--api-port', '0',
    '--keys-file', 'conf/keys.json',
    '--rate-limit', '100/hour',
    '--auth-fail-limit', '10 per minute',
    '--trust-proxy', '2',
    '--redis-url', 'redis://127.0.0.1:6379/0',
    '--geo', 'ip-api',
    '--refresh-interval', '500ms',
    '--peer-ttl', '90m',
    '--no-metrics'
  ])
  t.like(config, {
    apiHost: '0.0.0.0',
    apiPort: 0,
    keysFile: '/srv/bootnode/conf/keys.json',
    rateLimit: { limit: 100, windowMs: 3_600_000, text: '100 per 1 hour' },
    authFailLimit: { limit: 10, windowMs: 60_000, text: '10 per 1 minute' },
    trustProxy: 2,
    redisUrl: 'redis://127.0.0.1:6379/0',
    geo: 'ip-api',
    refreshIntervalMs: 500,
    peerTtlMs: 5_400_000,
    metrics: false
  })
  t.is(run(['--api-host', '[::1]']).apiHost, '::1')
  t.is(run(['--api-host', 'localhost']).apiHost, 'localhost')
  t.is(run(['--api-port', '65535']).apiPort, 65535)
  t.is(run(['--geo', 'none']).geo, 'none')
  t.is(run(['--redis-url', 'rediss://user:pw@cache:6380']).redisUrl, 'rediss://user:pw@cache:6380')
  t.true(run(['--metrics']).metrics)
  t.false(run(['--metrics=false']).metrics)
  t.is(run(['--keys-file', '/etc/keys.json']).keysFile, '/etc/keys.json')
})

test('--trust-proxy: off, hop count, or proxy IPs/CIDRs; never "trust everything"', t => {
  t.is(run(['--trust-proxy', 'off']).trustProxy, false)
  t.is(run(['--trust-proxy', '0']).trustProxy, false, 'zero hops trusts nobody')
  t.is(run(['--trust-proxy', '1']).trustProxy, 1)
  t.deepEqual(run(['--trust-proxy', '10.0.0.1,192.168.0.0/16']).trustProxy, ['10.0.0.1', '192.168.0.0/16'])
  t.deepEqual(run(['--trust-proxy', 'loopback', '--trust-proxy', 'fd00::/8']).trustProxy, ['loopback', 'fd00::/8'])
  for (const everything of ['true', '*', 'all']) {
    refused(t, () => run(['--trust-proxy', everything]), '--trust-proxy', 'every client')
  }
  refused(t, () => run(['--trust-proxy', '10.0.0.1,*']), '--trust-proxy', 'every client')
  refused(t, () => run(['--trust-proxy', '10.0.0.0/33']), '--trust-proxy', '10.0.0.0/33')
  for (const wide of ['0.0.0.0/0', '::/0', '10.0.0.1,0.0.0.0/1', '2000::/3']) {
    refused(t, () => run(['--trust-proxy', wide]), '--trust-proxy', 'too wide')
  }
  t.deepEqual(run(['--trust-proxy', '10.0.0.0/8,fc00::/7']).trustProxy, ['10.0.0.0/8', 'fc00::/7'])
  refused(t, () => run(['--trust-proxy', '10.0.0.1,2']), '--trust-proxy', '"2"')
  refused(t, () => run(['--trust-proxy', 'proxy.example.com']), '--trust-proxy', 'hop count')
  refused(t, () => run(['--trust-proxy', '256']), '--trust-proxy', '0 to 255')
})

test('--geo-db must be a readable file, checked at parse time, and goes with --geo offline', async t => {
  const dir = await tempDir(t, 'subnet-bootnode-config-')
  const db = join(dir, 'city.mmdb')
  await writeFile(db, 'not really a database; readability is what is checked here')
  t.is(parse(['--subnet-id', 'sn', '--geo-db', 'city.mmdb'], {}, dir).command, 'run')
  t.like(parse(['--subnet-id', 'sn', '--geo-db', 'city.mmdb'], {}, dir), { geoDb: db })
  refused(t, () => parse(['--subnet-id', 'sn', '--geo-db', 'missing.mmdb'], {}, dir), '--geo-db', join(dir, 'missing.mmdb'), 'ENOENT')
  await mkdir(join(dir, 'folder'))
  refused(t, () => parse(['--subnet-id', 'sn', '--geo-db', 'folder'], {}, dir), '--geo-db', 'not a file')
  refused(t, () => parse(['--subnet-id', 'sn', '--geo', 'ip-api', '--geo-db', db], {}, dir), '--geo-db', '--geo offline')
  t.like(parse(['--subnet-id', 'sn', '--asn-db', 'city.mmdb'], {}, dir), { asnDb: db })
  refused(t, () => parse(['--subnet-id', 'sn', '--asn-db', 'missing.mmdb'], {}, dir), '--asn-db', 'ENOENT')
  refused(t, () => parse(['--subnet-id', 'sn', '--geo', 'none', '--asn-db', db], {}, dir), '--asn-db', '--geo offline')
  if (process.getuid?.() !== 0) {
    // root reads any file, so the permission case is only meaningful for other users.
    await chmod(db, 0o000)
    refused(t, () => parse(['--subnet-id', 'sn', '--geo-db', db], {}, dir), '--geo-db', 'EACCES')
  } else {
    t.log('running as root: the unreadable-file case (EACCES) cannot be produced here')
  }
})

test('peer flags are parsed', t => {
  t.like(peer(['--role', 'miner_2', '--heartbeat-interval', '100ms', '--public-name', 'Ünïcode node #1', '--version-string', 'v2.3.1-rc1']), {
    role: 'MINER_2',
    heartbeatIntervalMs: 100,
    publicName: 'Ünïcode node #1',
    versionString: 'v2.3.1-rc1'
  })
  t.is(peer(['--heartbeat-interval', '30m']).heartbeatIntervalMs, 1_800_000)
  t.like(demo(['--peers', '50', '--role', 'VALIDATOR', '--heartbeat-interval', '1s']), { peers: 50, heartbeatIntervalMs: 1000 })
  t.is(demo(['--peers', '1']).peers, 1)
})

test('every flag is also SUBNET_BOOTNODE_<NAME>; repeatable ones comma-separated', t => {
  const env: Env = {
    SUBNET_BOOTNODE_SUBNET_ID: 'from-env',
    SUBNET_BOOTNODE_PROFILE: 'native',
    SUBNET_BOOTNODE_TEMPLATE_HEARTBEAT_TTL: '5m',
    SUBNET_BOOTNODE_LISTEN: '/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2',
    SUBNET_BOOTNODE_ANNOUNCE: '/ip4/1.2.3.4/tcp/31330',
    SUBNET_BOOTNODE_BOOTSTRAP: `${BOOTSTRAP},/ip4/5.6.7.8/tcp/1/p2p/${PEER_ID}`,
    SUBNET_BOOTNODE_IDENTITY_PATH: '/data/identity.key',
    SUBNET_BOOTNODE_DATA_DIR: '/data',
    SUBNET_BOOTNODE_LOG_LEVEL: 'warn',
    SUBNET_BOOTNODE_ALLOW_PRIVATE_ADDRS: 'yes',
    SUBNET_BOOTNODE_API_HOST: '0.0.0.0',
    SUBNET_BOOTNODE_API_PORT: '9000',
    SUBNET_BOOTNODE_KEYS_FILE: '/keys/bootnode_rest_keys.json',
    SUBNET_BOOTNODE_RATE_LIMIT: '7/second',
    SUBNET_BOOTNODE_AUTH_FAIL_LIMIT: '3/minute',
    SUBNET_BOOTNODE_TRUST_PROXY: '10.0.0.0/8,172.16.0.0/12',
    SUBNET_BOOTNODE_REDIS_URL: 'redis://redis:6379',
    SUBNET_BOOTNODE_GEO: 'none',
    SUBNET_BOOTNODE_REFRESH_INTERVAL: '2s',
    SUBNET_BOOTNODE_PEER_TTL: '2h',
    SUBNET_BOOTNODE_METRICS: 'false',
    SUBNET_BOOTNODE_ROLE: 'miner',
    SUBNET_BOOTNODE_HEARTBEAT_INTERVAL: '10s',
    SUBNET_BOOTNODE_PUBLIC_NAME: 'env-name',
    SUBNET_BOOTNODE_VERSION_STRING: '9.9.9',
    SUBNET_BOOTNODE_PEERS: '3',
    SUBNET_BOOTNODE_MAX_INBOUND_RATE: '50',
    SUBNET_BOOTNODE_MAX_CONNECTIONS: '300',
    SUBNET_BOOTNODE_MAX_CONNECTIONS_PER_IP: '8'
  }
  t.deepEqual(parse(['demo'], env), {
    command: 'demo',
    peers: 3,
    subnetId: 'from-env',
    profile: 'native',
    listen: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'],
    announce: ['/ip4/1.2.3.4/tcp/31330'],
    bootstrap: [BOOTSTRAP, `/ip4/5.6.7.8/tcp/1/p2p/${PEER_ID}`],
    identityPath: '/data/identity.key',
    dataDir: '/data',
    logLevel: 'warn',
    allowPrivateAddrs: true,
    maxInboundRate: 50,
    maxConnections: 300,
    maxConnectionsPerIp: 8,
    apiHost: '0.0.0.0',
    apiPort: 9000,
    // The demo reads its key file from the flag only, never from a variable.
    keysFile: undefined,
    rateLimit: { limit: 7, windowMs: 1_000, text: '7 per 1 second' },
    authFailLimit: { limit: 3, windowMs: 60_000, text: '3 per 1 minute' },
    trustProxy: ['10.0.0.0/8', '172.16.0.0/12'],
    redisUrl: 'redis://redis:6379',
    geo: 'none',
    geoDb: undefined,
    asnDb: undefined,
    refreshIntervalMs: 2_000,
    peerTtlMs: 7_200_000,
    templateHeartbeatTtlMs: 300_000,
    metrics: false,
    maxWatchersPerKey: 4,
    maxWatchers: 256,
    role: 'MINER',
    heartbeatIntervalMs: 10_000,
    publicName: 'env-name',
    versionString: '9.9.9'
  })
  // `run` ignores the variables of flags it does not have (a shared env file is fine) …
  t.is(parse([], env).command, 'run')
  t.false('role' in parse([], env))
})

test('a flag wins over its variable; an empty variable counts as unset', t => {
  const env: Env = { SUBNET_BOOTNODE_SUBNET_ID: 'env', SUBNET_BOOTNODE_API_PORT: '9000', SUBNET_BOOTNODE_LISTEN: '/ip4/127.0.0.1/tcp/1', SUBNET_BOOTNODE_METRICS: 'false' }
  const config = parse(['--subnet-id', 'flag', '--api-port', '9001', '--listen', '/ip4/127.0.0.1/tcp/2', '--metrics'], env)
  t.like(config, { subnetId: 'flag', apiPort: 9001, listen: ['/ip4/127.0.0.1/tcp/2'], metrics: true })
  t.like(parse([], env), { subnetId: 'env', apiPort: 9000, listen: ['/ip4/127.0.0.1/tcp/1'], metrics: false })
  t.like(parse(['--subnet-id', 'x'], { SUBNET_BOOTNODE_API_PORT: '', SUBNET_BOOTNODE_REDIS_URL: '' }), { apiPort: 8000, redisUrl: undefined })
  t.true(run([], { SUBNET_BOOTNODE_METRICS: 'on' }).metrics)
  t.false(run([], { SUBNET_BOOTNODE_METRICS: '0' }).metrics)
})

test('the key file: flag, then SUBNET_BOOTNODE_KEYS_FILE, then BOOTNODE_KEYS_FILE (SPEC §2), then ./bootnode_rest_keys.json', t => {
  t.is(run([]).keysFile, '/srv/bootnode/bootnode_rest_keys.json')
  t.is(run([], { BOOTNODE_KEYS_FILE: 'legacy.json' }).keysFile, '/srv/bootnode/legacy.json')
  t.is(run([], { BOOTNODE_KEYS_FILE: 'legacy.json', SUBNET_BOOTNODE_KEYS_FILE: '/k/new.json' }).keysFile, '/k/new.json')
  t.is(run(['--keys-file', 'flag.json'], { BOOTNODE_KEYS_FILE: 'legacy.json', SUBNET_BOOTNODE_KEYS_FILE: '/k/new.json' }).keysFile, '/srv/bootnode/flag.json')
  t.is(run([], { BOOTNODE_KEYS_FILE: '' }).keysFile, '/srv/bootnode/bootnode_rest_keys.json')
  // The demo reads only the flag: the image (and many shells) set the variables for the real key store.
  t.is(demo([], { BOOTNODE_KEYS_FILE: '/x/k.json', SUBNET_BOOTNODE_KEYS_FILE: '/k/new.json' }).keysFile, undefined)
  t.is(demo(['--keys-file', 'd.json'], { SUBNET_BOOTNODE_KEYS_FILE: '/k/new.json' }).keysFile, '/srv/bootnode/d.json')
})

test('--profile: native for run and peer, both for the demo; from the flag or SUBNET_BOOTNODE_PROFILE', t => {
  t.is(run([]).profile, 'native')
  t.is(peer([]).profile, 'native')
  t.is(demo([]).profile, 'both')
  t.is(parse(['--subnet-id', '1', '--profile', 'template']).command, 'run')
  t.like(run(['--profile', 'native']), { profile: 'native' })
  t.like(parse(['run', '--subnet-id', '7', '--profile', 'both']), { profile: 'both', subnetId: '7' })
  t.like(parse(['peer', '--subnet-id', '7', '--profile', 'template']), { command: 'peer', profile: 'template', subnetId: '7' })
  t.like(parse(['peer', '--subnet-id', '7'], { SUBNET_BOOTNODE_PROFILE: 'template' }), { profile: 'template' })
  t.like(parse(['peer', '--subnet-id', '7', '--profile', 'both'], { SUBNET_BOOTNODE_PROFILE: 'template' }), { profile: 'both' }, 'the flag wins')
  t.like(demo(['--profile', 'native', '--subnet-id', 'demo']), { profile: 'native', subnetId: 'demo' }, 'native takes any subnet id')
  t.like(demo(['--profile', 'template']), { profile: 'template', subnetId: '1' })
})

test('--profile template or both: --subnet-id must be the chain\'s positive integer', t => {
  for (const profile of ['template', 'both']) {
    for (const id of ['1', '38960', String(MAX_TEMPLATE_SUBNET_ID)]) {
      t.like(parse(['--subnet-id', id, '--profile', profile]), { subnetId: id, profile }, `${profile} ${id}`)
    }
    for (const id of ['0', '01', '-1', '1.5', 'sn', 'demo', '1e3', String(MAX_TEMPLATE_SUBNET_ID + 1), '99999999999']) {
      const line = refused(t, () => parse(['--subnet-id', id, '--profile', profile]), '--subnet-id:', `--profile ${profile}`, 'integer', JSON.stringify(id))
      t.true(line.startsWith('--subnet-id'), line)
    }
  }
  // The variable's origin is named, and the profile may come from its own variable.
  refused(t, () => parse([], { SUBNET_BOOTNODE_SUBNET_ID: 'sn', SUBNET_BOOTNODE_PROFILE: 'both' }),
    '--subnet-id (from SUBNET_BOOTNODE_SUBNET_ID):', '--profile both')
  refused(t, () => parse(['peer', '--subnet-id', 'sn', '--profile', 'template']), '--subnet-id:', '--profile template')
  // The demo's default profile is both: a non-integer subnet id needs --profile native.
  refused(t, () => demo(['--subnet-id', 'demo']), '--subnet-id:', '--profile both', '"demo"')
})

test('--template-heartbeat-ttl: a duration from 1s to 1d, default 240s (two template epochs), run and demo only', t => {
  t.is(run([]).templateHeartbeatTtlMs, 240_000)
  t.is(demo([]).templateHeartbeatTtlMs, 240_000)
  t.is(run(['--template-heartbeat-ttl', '1s']).templateHeartbeatTtlMs, 1_000)
  t.is(run(['--template-heartbeat-ttl', '1d']).templateHeartbeatTtlMs, 86_400_000)
  t.is(run(['--template-heartbeat-ttl', '90s']).templateHeartbeatTtlMs, 90_000)
  t.is(run([], { SUBNET_BOOTNODE_TEMPLATE_HEARTBEAT_TTL: '10m' }).templateHeartbeatTtlMs, 600_000)
  refused(t, () => run(['--template-heartbeat-ttl', '0s']), '--template-heartbeat-ttl:', 'from 1s to 1d')
  refused(t, () => run(['--template-heartbeat-ttl', '86401s']), '--template-heartbeat-ttl:', 'from 1s to 1d')
  t.is(refused(t, () => peer(['--template-heartbeat-ttl', '1m'])), '--template-heartbeat-ttl is a flag of run, demo only')
  t.false('templateHeartbeatTtlMs' in peer([]))
})

test('--subnet-node-id: peer only, an integer from 1 to 2^32-1, default 1, from the flag or SUBNET_BOOTNODE_SUBNET_NODE_ID', t => {
  t.is(peer([]).subnetNodeId, 1)
  t.is(peer(['--subnet-node-id', '7']).subnetNodeId, 7)
  t.is(peer(['--subnet-node-id', String(2 ** 32 - 1)]).subnetNodeId, 2 ** 32 - 1)
  t.is(peer([], { SUBNET_BOOTNODE_SUBNET_NODE_ID: '12' }).subnetNodeId, 12)
  t.like(parse(['peer', '--subnet-id', '1', '--profile', 'template', '--subnet-node-id', '3']), { profile: 'template', subnetNodeId: 3 })
  for (const bad of ['0', '-1', '1.5', 'x', String(2 ** 32), '']) {
    refused(t, () => peer(['--subnet-node-id', bad]), '--subnet-node-id:', 'an integer from 1 to 4294967295')
  }
  t.is(refused(t, () => run(['--subnet-node-id', '2'])), '--subnet-node-id is a flag of peer only')
  t.is(refused(t, () => demo(['--subnet-node-id', '2'])), '--subnet-node-id is a flag of peer only')
})

test('--subnet-id is required for run and peer, with the variable named', t => {
  const line = refused(t, () => parse([]))
  t.is(line, "--subnet-id is required for 'run' (or set SUBNET_BOOTNODE_SUBNET_ID)")
  t.is(refused(t, () => parse(['peer'])), "--subnet-id is required for 'peer' (or set SUBNET_BOOTNODE_SUBNET_ID)")
  t.is(refused(t, () => parse(['--subnet-id', 'x', '--api-port', 'x'])), '--api-port: expected a port number from 0 to 65535, got "x"',
    'a bad flag is reported even when it is not the first problem a user would meet')
})

/** [sub-command, flag, bad value, text the message must contain besides the flag] */
const BAD_VALUES: Array<[string, string, string, string]> = [
  ['run', 'subnet-id', 'has/slash', 'A-Z a-z 0-9'],
  ['run', 'subnet-id', 'x'.repeat(129), '1 to 128'],
  ['run', 'subnet-id', '', '1 to 128'],
  ['run', 'listen', 'not-a-multiaddr', 'multiaddr'],
  ['run', 'listen', '/ip4/999.0.0.1/tcp/1', 'multiaddr'],
  ['run', 'listen', '/ip4/127.0.0.1/tcp/70000', 'multiaddr'],
  ['run', 'announce', 'http://example.com', 'multiaddr'],
  ['run', 'bootstrap', '/ip4/1.2.3.4/tcp/31330', '/p2p/<peer id>'],
  ['run', 'bootstrap', '/ip4/1.2.3.4/tcp/31330/p2p/notapeerid', 'not a peer id'],
  ['run', 'log-level', 'verbose', 'error|warn|info|debug'],
  ['run', 'api-host', 'not a host', 'IP address or host name'],
  ['run', 'api-port', '65536', '0 to 65535'],
  ['run', 'api-port', '-1', '0 to 65535'],
  ['run', 'api-port', '80.5', '0 to 65535'],
  ['run', 'rate-limit', '5', 'N/second|minute|hour'],
  ['run', 'rate-limit', '0/minute', 'N/second|minute|hour'],
  ['run', 'rate-limit', '5/fortnight', 'N/second|minute|hour'],
  ['run', 'auth-fail-limit', 'lots', 'N/second|minute|hour'],
  ['run', 'trust-proxy', 'everyone', 'hop count'],
  ['run', 'redis-url', 'http://cache:6379', 'redis://'],
  ['run', 'redis-url', 'not a url', 'redis://'],
  ['run', 'geo', 'maxmind', 'offline|ip-api|none'],
  ['run', 'refresh-interval', '10', 'duration such as'],
  ['run', 'refresh-interval', '10ms', 'from 100ms to 1h'],
  ['run', 'refresh-interval', '2h', 'from 100ms to 1h'],
  ['run', 'peer-ttl', '1.5h', 'duration such as'],
  ['run', 'peer-ttl', '500ms', 'from 1s to 7d'],
  ['run', 'peer-ttl', '8d', 'from 1s to 7d'],
  ['run', 'profile', 'python', 'native|template|both'],
  ['peer', 'profile', 'Template', 'native|template|both'],
  ['demo', 'profile', 'all', 'native|template|both'],
  ['run', 'template-heartbeat-ttl', '240', 'duration such as'],
  ['run', 'template-heartbeat-ttl', '999ms', 'from 1s to 1d'],
  ['demo', 'template-heartbeat-ttl', '25h', 'from 1s to 1d'],
  ['peer', 'role', 'not valid', 'A-Z 0-9 _ -'],
  ['peer', 'role', 'R'.repeat(65), '1 to 64'],
  ['peer', 'heartbeat-interval', '50ms', 'from 100ms to 30m'],
  ['peer', 'heartbeat-interval', '31m', 'from 100ms to 30m'],
  ['peer', 'heartbeat-interval', 'often', 'duration such as'],
  ['peer', 'public-name', 'n'.repeat(129), '1 to 128'],
  ['peer', 'public-name', 'line\nbreak', 'printable'],
  ['peer', 'version-string', 'v'.repeat(65), '1 to 64'],
  ['run', 'max-watchers', '0', 'an integer from 1 to 100000'],
  ['demo', 'max-watchers', '100001', 'an integer from 1 to 100000'],
  ['run', 'max-watchers', 'many', 'an integer from 1 to 100000'],
  ['demo', 'peers', '0', '1 to 50'],
  ['demo', 'peers', '51', '1 to 50'],
  ['demo', 'peers', 'five', '1 to 50'],
  ['run', 'identity-path', '', 'file path'],
  ['run', 'data-dir', '', 'file path'],
  ['run', 'keys-file', '', 'file path']
]

test('every bad value is refused with one line naming the flag and what it accepts', t => {
  for (const [command, flag, value, accepts] of BAD_VALUES) {
    const base = command === 'demo' || flag === 'subnet-id' ? [command] : [command, '--subnet-id', 'sn']
    const line = refused(t, () => parse([...base, `--${flag}`, value]), `--${flag}:`, accepts)
    t.true(line.startsWith(`--${flag}`), line)
  }
})

test('a bad variable names the flag and the variable', t => {
  for (const [command, flag, value, accepts] of BAD_VALUES) {
    if (value === '') continue // an empty variable counts as unset
    const variable = `SUBNET_BOOTNODE_${flag.toUpperCase().replaceAll('-', '_')}`
    const base = command === 'demo' ? ['demo'] : [command, '--subnet-id', 'sn']
    if (flag === 'subnet-id') base.splice(1)
    refused(t, () => parse(base, { [variable]: value }), `--${flag} (from ${variable}):`, accepts)
  }
  refused(t, () => run([], { SUBNET_BOOTNODE_METRICS: 'maybe' }), '--metrics (from SUBNET_BOOTNODE_METRICS)', 'true or false')
})

test('--max-watchers-per-key above --max-watchers is refused; its default is lowered to a smaller total', t => {
  t.is(refused(t, () => run(['--max-watchers', '4', '--max-watchers-per-key', '8'])),
    '--max-watchers-per-key: 8 is more than --max-watchers (4); lower it or raise --max-watchers')
  refused(t, () => run(['--max-watchers-per-key', '300']), '--max-watchers-per-key: 300 is more than --max-watchers (default) (256)')
  refused(t, () => run(['--max-watchers', '2'], { SUBNET_BOOTNODE_MAX_WATCHERS_PER_KEY: '3' }),
    '--max-watchers-per-key (from SUBNET_BOOTNODE_MAX_WATCHERS_PER_KEY): 3 is more than --max-watchers (2)')
  t.like(run(['--max-watchers', '2']), { maxWatchers: 2, maxWatchersPerKey: 2 }, 'the default 4 lowered to the total')
  t.like(demo(['--max-watchers', '3', '--max-watchers-per-key', '3']), { maxWatchers: 3, maxWatchersPerKey: 3 })
})

test('a redis URL is never echoed: it may carry a password', t => {
  const line = refused(t, () => run(['--redis-url', 'http://admin:hunter2@cache']), '--redis-url')
  t.false(line.includes('hunter2'))
})

test('booleans written with = must say true or false', t => {
  refused(t, () => run(['--metrics=maybe']), '--metrics', 'true or false', '"maybe"')
  refused(t, () => run(['--allow-private-addrs=yes']), '--allow-private-addrs', 'true or false')
})

test('unknown flags, sub-commands, arguments and variables are refused (strict)', t => {
  t.is(refused(t, () => parse(['serve'])), 'unknown sub-command "serve": expected run, peer, demo')
  t.is(refused(t, () => run(['--bogus'])), 'unknown flag --bogus')
  t.is(refused(t, () => run(['--bogus=1'])), 'unknown flag --bogus')
  t.is(refused(t, () => run(['-x'])), 'unknown flag -x')
  t.is(refused(t, () => run(['--subnetId', 'x'])), 'unknown flag --subnetId', 'one spelling per flag')
  refused(t, () => run(['extra']), 'unexpected argument "extra"')
  refused(t, () => run(['--', 'extra']), 'unexpected argument "extra"')
  t.is(refused(t, () => run(['--role', 'X'])), '--role is a flag of peer, demo only')
  t.is(refused(t, () => peer(['--api-port', '1'])), '--api-port is a flag of run, demo only')
  t.is(refused(t, () => peer(['--peers', '2'])), '--peers is a flag of demo only')
  t.is(refused(t, () => run(['--api-port', '1', '--api-port', '2'])), '--api-port: given 2 times; it takes one value')
  t.is(refused(t, () => run([], { SUBNET_BOOTNODE_API_PROT: '1' })), 'unknown environment variable SUBNET_BOOTNODE_API_PROT: no flag --api-prot')
})

test('sub-commands may come after global flags', t => {
  t.is(parse(['--log-level', 'debug', 'peer', '--subnet-id', 'x']).command, 'peer')
})

test('--help and --version come back as text, per sub-command, and nothing is printed', t => {
  const help = parse(['--help'])
  t.is(help.command, 'help')
  if (help.command !== 'help') return
  for (const command of ['run', 'peer', 'demo']) t.true(help.text.includes(`subnet-bootnode ${command}`), command)
  t.true(help.text.includes('SUBNET_BOOTNODE_'), 'the environment variables are explained')
  t.like(parse(['-h']), { command: 'help', text: help.text })
  t.like(parse(['run', '--help']), { command: 'help' })
  t.like(parse(['--version']), { command: 'help', text: packageVersion() })
  t.like(parse(['peer', '--version']), { command: 'help', text: packageVersion() })
  // --help wins over problems elsewhere on the line, as users expect.
  t.is(parse(['--help'], {}).command, 'help')
})

test('the bounds agree with what the subnet node and the heartbeat validation accept (no value passes here to fail later)', async t => {
  const record = await import('../../src/heartbeat/model.js')
  const p2p = await import('../../src/p2p/constants.js')
  const longest = (n: number, c = 'A'): string => c.repeat(n)
  t.like(peer(['--role', longest(record.MAX_ROLE_LENGTH)]), { role: longest(record.MAX_ROLE_LENGTH) })
  refused(t, () => peer(['--role', longest(record.MAX_ROLE_LENGTH + 1)]), '--role')
  t.like(peer(['--role', 'full-node_2']), { role: 'FULL-NODE_2' })
  t.like(peer(['--public-name', longest(record.MAX_PUBLIC_NAME_LENGTH, 'n')]), { publicName: longest(record.MAX_PUBLIC_NAME_LENGTH, 'n') })
  refused(t, () => peer(['--public-name', longest(record.MAX_PUBLIC_NAME_LENGTH + 1, 'n')]), '--public-name')
  t.like(peer(['--version-string', longest(record.MAX_VERSION_LENGTH, '1')]), { versionString: longest(record.MAX_VERSION_LENGTH, '1') })
  refused(t, () => peer(['--version-string', longest(record.MAX_VERSION_LENGTH + 1, '1')]), '--version-string')
  for (const id of ['a', 'A.b_c-9', longest(128, 'x'), longest(129, 'x'), 'a/b', 'a b', '']) {
    const accepted = p2p.SUBNET_ID_PATTERN.test(id)
    if (accepted) t.like(parse(['--subnet-id', id]), { subnetId: id })
    else refused(t, () => parse(['--subnet-id', id]), '--subnet-id')
  }
  for (const id of ['1', '4294967295', '4294967296', '0', '007', 'a']) {
    const accepted = p2p.templateSubnetId(id) !== undefined
    if (accepted) t.like(parse(['--subnet-id', id, '--profile', 'template']), { subnetId: id })
    else refused(t, () => parse(['--subnet-id', id, '--profile', 'template']), '--subnet-id')
  }
  for (const profile of p2p.PROFILES) t.like(parse(['--subnet-id', '1', '--profile', profile]), { profile })
})

test('run: chain-aware flags (issue 14)', t => {
  const config = parse(['run', '--subnet-id', '7', '--chain-rpc', 'wss://rpc.example.org/?key=k', '--min-node-class', 'Validator',
    '--chain-fail', 'closed', '--chain-cache-ttl', '30s', '--chain-refresh', '1m'])
  if (config.command !== 'run') throw new Error(config.command)
  t.like(config, { chainRpc: 'wss://rpc.example.org/?key=k', chainSubnetId: 7, minNodeClass: 'validator', chainFail: 'closed', chainCacheTtlMs: 30_000, chainRefreshMs: 60_000 })
  t.like(parse(['run', '--subnet-id', '3'], { SUBNET_BOOTNODE_CHAIN_RPC: 'http://127.0.0.1:9933' }), { chainRpc: 'http://127.0.0.1:9933/', chainSubnetId: 3 })
  // Normalised: the RPC providers refuse an upper-case scheme, quoting the whole URL in their error.
  t.like(parse(['run', '--subnet-id', '3', '--chain-rpc', 'HTTPS://RPC.example.org/?key=SECRET']), { chainRpc: 'https://rpc.example.org/?key=SECRET' })
  refused(t, () => run(['--chain-rpc', 'http://127.0.0.1:9933']), '--subnet-id', '--chain-rpc needs the chain\'s subnet id', '"sn"')
  const line = refused(t, () => parse(['run', '--subnet-id', '1', '--chain-rpc', 'redis://secret@host']), '--chain-rpc', 'ws://127.0.0.1:9944')
  t.false(line.includes('secret'), 'the URL is not echoed')
  refused(t, () => parse(['run', '--subnet-id', '1', '--min-node-class', 'staked']), '--min-node-class', 'registered|idle|included|validator')
  refused(t, () => parse(['run', '--subnet-id', '1', '--chain-fail', 'maybe']), '--chain-fail', 'open|closed')
  refused(t, () => parse(['run', '--subnet-id', '1', '--chain-cache-ttl', '10ms']), '--chain-cache-ttl')
  refused(t, () => parse(['peer', '--subnet-id', '1', '--chain-rpc', 'ws://127.0.0.1:9944']), 'chain-rpc')
  // A chain setting without --chain-rpc would do nothing: refused, as --geo-db without --geo offline.
  refused(t, () => parse(['run', '--subnet-id', '1', '--chain-fail', 'closed']), '--chain-fail', 'only used with --chain-rpc')
  refused(t, () => parse(['run', '--subnet-id', '1'], { SUBNET_BOOTNODE_MIN_NODE_CLASS: 'validator' }), 'SUBNET_BOOTNODE_MIN_NODE_CLASS', 'only used with --chain-rpc')
})
