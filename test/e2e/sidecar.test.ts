/**
 * Issue 7: the real executables end to end, as child processes (no in-process shortcuts).
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import test from 'ava'
import { DEMO_SUBNET_ID } from '../../src/config/constants.js'
import { DEMO_PUBLIC_IPS, demoPeerName } from '../../src/demo.js'
import { BOOTNODE_BIN, runCli, startCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/fs.js'
import { waitFor } from '../helpers/wait.js'
import type { ExecutionContext } from 'ava'

interface Heartbeat { peer_id: string, server: { state: string, role: string, public_name: string | null, next_pings: Record<string, number> | null }, expiration_time: number }

async function getJson (url: string, key?: string): Promise<{ status: number, body: any }> {
  const res = await fetch(url, { headers: key === undefined ? {} : { 'X-API-Key': key }, signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json() }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

/** The `sidecar started` log line of `run`, parsed. */
async function startedLine (cli: ReturnType<typeof startCli>): Promise<{ peer_id: string, api: string, bootnodes: string[] }> {
  const line = await cli.waitForLine(l => l.includes('"msg":"sidecar started"'), 30_000)
  return JSON.parse(line)
}

function demoArgs (keysFile: string | undefined, peers: number): string[] {
  const args = ['demo', '--api-port', '0', '--peers', String(peers), '--rate-limit', '1000/minute', '--log-level', 'warn']
  return keysFile === undefined ? args : [...args, '--keys-file', keysFile]
}

async function waitForDemo (t: ExecutionContext, keysFile: string | undefined, peers: number, cwd?: string): Promise<{ demo: ReturnType<typeof startCli>, base: string, key: string, dataDir: string, keysFile: string, statusPage: string, docs: string }> {
  const demo = startCli(t, BOOTNODE_BIN, demoArgs(keysFile, peers), { cwd })
  const statusPage = /(http:\/\/\S+)/.exec(await demo.waitForLine(/^\s+status\s+http:\/\//, 40_000))?.[1] ?? ''
  const docs = /(http:\/\/\S+)/.exec(await demo.waitForLine(/^\s+API docs\s+http:\/\//))?.[1] ?? ''
  const apiLine = await demo.waitForLine(/^\s+API\s+http:\/\//, 40_000)
  const base = /(http:\/\/[^\s]+)/.exec(apiLine)?.[1] ?? ''
  const key = /demo key\s+(\S+)/.exec(await demo.waitForLine(/demo key/))?.[1] ?? ''
  const dataDir = /data dir\s+(\S+)/.exec(await demo.waitForLine(/data dir/))?.[1] ?? ''
  const shownKeysFile = /key file\s+(\S+)/.exec(await demo.waitForLine(/key file/))?.[1] ?? ''
  return { demo, base, key, dataDir, keysFile: shownKeysFile, statusPage, docs }
}

test.serial('demo: healthy, serves every demo peer, a separate peer joins, is geolocated, and leaves on SIGTERM', async t => {
  // several bounded waits in a row, the demo's pings and state cycle among them (issue 13)
  t.timeout(180_000)
  // Without --keys-file the demo keeps its key inside its temporary data dir, never in the cwd's key store.
  const cwd = await tempDir(t)
  const { demo, base, key, dataDir, keysFile, statusPage, docs } = await waitForDemo(t, undefined, 3, cwd)
  // The banner names the status page and the docs (issue 13 item 5).
  t.is(statusPage, `${base}/`)
  t.is(docs, `${base}/docs`)
  t.regex(statusPage, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  t.regex(key, /^key-demo-[0-9a-f]{32,}$/)
  t.true(existsSync(dataDir), 'the demo data dir exists while it runs')
  t.is(keysFile, join(dataDir, 'bootnode_rest_keys.json'))
  t.false(existsSync(join(cwd, 'bootnode_rest_keys.json')), 'no key file written in the working directory')

  // The demo key was written, under owner `demo`.
  const entries = JSON.parse(await readFile(keysFile, 'utf8')) as Array<{ owner: string, key: string }>
  t.deepEqual(entries.map(e => [e.owner, e.key]), [['demo', key]])

  const health = await waitFor(async () => {
    const r = await getJson(`${base}/healthz`)
    return r.status === 200 ? r.body : undefined
  }, { timeoutMs: 20_000, intervalMs: 200, what: 'healthz 200' })
  t.is(health.status, 'ok')
  t.true((health.attribution as string[]).some(a => a.includes('DB-IP')), 'the CC BY credit of the bundled geo data')

  // Every demo peer comes ONLINE; one of them cycles its state every 10 s (issue 13), so each is
  // counted once seen ONLINE rather than all three at one instant.
  const seenOnline = new Map<string, Heartbeat>()
  const cyclerStates = new Set<string>()
  const cyclerName = demoPeerName(1, true)
  const demoPeers = await waitFor(async () => {
    const r = await getJson(`${base}/v1/get_heartbeat`, key)
    for (const h of r.body.value as Heartbeat[]) {
      if (h.server.state === 'ONLINE') seenOnline.set(h.peer_id, h)
      if (h.server.public_name === cyclerName) cyclerStates.add(h.server.state)
    }
    return seenOnline.size === 3 ? [...seenOnline.values()] : undefined
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'three demo heartbeats seen ONLINE' })
  t.is(demoPeers.length, 3)
  t.true(demoPeers.every(h => h.server.role === 'VALIDATOR'))

  // One registry: every component's series are on /metrics (issue 10: metrics are a component).
  const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  for (const series of ['subnet_bootnode_http_requests_total', 'subnet_bootnode_heartbeat_rejections_total', 'subnet_bootnode_dht_query_seconds', 'subnet_bootnode_geo_lookup_failures_total', 'process_cpu_seconds_total']) {
    t.true(metrics.includes(`# TYPE ${series} `), series)
  }

  // No key → 403 with the exact body.
  const denied = await getJson(`${base}/v1/get_heartbeat`)
  t.is(denied.status, 403)
  t.deepEqual(denied.body, { detail: 'Invalid or missing API Key' })

  const bootnodes = (await getJson(`${base}/v1/get_bootnodes`, key)).body.value as string[]
  t.true(bootnodes.length > 0)
  t.true(bootnodes.every(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/.test(a)), bootnodes.join(' '))

  // A separate `peer` process announcing a public address joins the demo's subnet.
  const peer = startCli(t, BOOTNODE_BIN, [
    'peer', '--subnet-id', DEMO_SUBNET_ID, '--listen', '/ip4/127.0.0.1/tcp/0', '--announce', '/ip4/8.8.8.8/tcp/4001',
    '--bootstrap', bootnodes[0] ?? '', '--allow-private-addrs', '--heartbeat-interval', '1s', '--role', 'miner'
  ])
  const peerId = JSON.parse(await peer.waitForLine(l => l.includes('"msg":"peer started"'), 30_000)).peer_id as string
  t.regex(peerId, /^12D3KooW/)

  const hb = await waitFor(async () => {
    const r = await getJson(`${base}/v1/get_heartbeat?peer_id=${peerId}`, key)
    const mine = (r.body.value as Heartbeat[]).find(h => h.peer_id === peerId && h.server.state === 'ONLINE')
    return mine
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'the separate peer ONLINE in get_heartbeat' })
  t.is(hb.server.role, 'MINER')

  const info = await waitFor(async () => {
    const r = await getJson(`${base}/v1/get_peers_info?peer_id=${peerId}`, key)
    const entry = r.body.value[peerId]
    return entry?.['8.8.8.8'] !== undefined ? entry : undefined
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'the separate peer geolocated in get_peers_info' })
  t.is(info['8.8.8.8'].location.status, 'success')
  t.is(info['8.8.8.8'].location.countryCode, 'US')
  t.true((info.multiaddrs as string[]).includes('/ip4/8.8.8.8/tcp/4001'))

  // SIGTERM: the peer exits 0 and its heartbeat turns OFFLINE (or leaves the view).
  peer.child.kill('SIGTERM')
  t.is(await peer.exited, 0)
  await waitFor(async () => {
    const r = await getJson(`${base}/v1/get_heartbeat?peer_id=${peerId}`, key)
    const mine = (r.body.value as Heartbeat[]).find(h => h.peer_id === peerId)
    return mine === undefined || mine.server.state === 'OFFLINE' ? true : undefined
  }, { timeoutMs: 20_000, intervalMs: 200, what: 'the stopped peer OFFLINE or gone' })

  // Issue 13 item 5: the demo peers ping each other, so next_pings is a matrix of demo peer ids.
  const pinged = await waitFor(async () => {
    const all = (await getJson(`${base}/v1/get_heartbeat`, key)).body.value as Heartbeat[]
    const ids = new Set(all.map(h => h.peer_id))
    return all.find(h => h.server.next_pings !== null && Object.keys(h.server.next_pings).some(id => ids.has(id) && id !== h.peer_id))
  }, { timeoutMs: 60_000, intervalMs: 500, what: 'a demo heartbeat whose next_pings names another demo peer' })
  t.true(Object.entries(pinged.server.next_pings ?? {}).every(([id, rtt]) => /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/.test(id) && rtt > 0 && rtt < 5), JSON.stringify(pinged.server.next_pings))

  // ... they announce well-known public addresses (demo data), located by the offline geo DB ...
  const located = await waitFor(async () => {
    const value = (await getJson(`${base}/v1/get_peers_info`, key)).body.value as Record<string, Record<string, any>>
    for (const entry of Object.values(value)) {
      const ip = DEMO_PUBLIC_IPS.find(a => entry[a] !== undefined)
      if (ip !== undefined) return { ip, entry }
    }
    return undefined
  }, { timeoutMs: 30_000, intervalMs: 500, what: 'a demo public address in get_peers_info' })
  t.is(located.entry[located.ip].location.status, 'success')
  t.is(typeof located.entry[located.ip].location.lat, 'number')
  t.regex(located.entry[located.ip].location.countryCode, /^[A-Z]{2}$/)
  t.true((located.entry.multiaddrs as string[]).some(a => a.startsWith(`/ip4/${located.ip}/tcp/`)))

  // ... and one of them cycles JOINING → ONLINE → OFFLINE (10 s per state).
  await waitFor(async () => {
    const all = (await getJson(`${base}/v1/get_heartbeat`, key)).body.value as Heartbeat[]
    const cycler = all.find(h => h.server.public_name === cyclerName)
    if (cycler !== undefined) cyclerStates.add(cycler.server.state)
    return cyclerStates.size >= 2
  }, { timeoutMs: 40_000, intervalMs: 500, what: `${cyclerName} in two states` })
  t.true(cyclerStates.size >= 2, [...cyclerStates].join(' '))

  // Ctrl-C: the demo exits 0 and removes its temporary data dir.
  demo.child.kill('SIGINT')
  t.is(await demo.exited, 0)
  t.false(existsSync(dataDir), 'the temporary data dir is removed on exit')
})

test.serial('demo keeps an existing demo key and adds nothing when the owner exists', async t => {
  const dir = await tempDir(t)
  const keysFile = join(dir, 'keys.json')
  const existing = [{ owner: 'other', key: 'key-other-1234', active: true, extra: 1 }, { owner: 'demo', key: 'key-demo-existing-0000', active: true }]
  await writeFile(keysFile, JSON.stringify(existing), { mode: 0o600 })
  const { demo, key, keysFile: shown } = await waitForDemo(t, keysFile, 1)
  t.is(shown, keysFile)
  t.is(key, 'key-demo-existing-0000')
  t.deepEqual(JSON.parse(await readFile(keysFile, 'utf8')), existing)
  demo.child.kill('SIGTERM')
  t.is(await demo.exited, 0)
})

test.serial('demo: SIGTERM during start-up lets start settle, then stops everything and removes its temp dir', async t => {
  const cwd = await tempDir(t)
  const demo = startCli(t, BOOTNODE_BIN, ['demo', '--api-port', '0', '--peers', '8', '--log-level', 'info'], { cwd })
  // The key store loads first; the node, the API and eight peers are still to start.
  const loaded = JSON.parse(await demo.waitForLine(l => l.includes('"msg":"key file loaded"'), 30_000)) as { file: string }
  const dataDir = dirname(loaded.file)
  demo.child.kill('SIGTERM')
  t.is(await demo.exited, 0)
  t.false(existsSync(dataDir), 'the temporary data dir is removed')
})

test.serial('run: restarted with the same --identity-path keeps its peer id and get_bootnodes', async t => {
  const dir = await tempDir(t)
  const keysFile = join(dir, 'keys.json')
  await writeFile(keysFile, JSON.stringify([{ owner: 'scanner', key: 'key-scanner-abcdef0123456789', active: true }]), { mode: 0o600 })
  const port = await freePort()
  const args = [
    'run', '--subnet-id', 'restart-test', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--identity-path', join(dir, 'identity.key'),
    '--data-dir', join(dir, 'data'), '--api-port', '0', '--keys-file', keysFile, '--allow-private-addrs'
  ]
  const views: Array<{ peerId: string, bootnodes: string[] }> = []
  for (let i = 0; i < 2; i++) {
    const run = startCli(t, BOOTNODE_BIN, args)
    const started = await startedLine(run)
    const r = await getJson(`${started.api}/v1/get_bootnodes`, 'key-scanner-abcdef0123456789')
    t.is(r.status, 200)
    views.push({ peerId: started.peer_id, bootnodes: r.body.value })
    run.child.kill('SIGTERM')
    t.is(await run.exited, 0)
  }
  t.is(views[0]?.peerId, views[1]?.peerId)
  t.deepEqual(views[0]?.bootnodes, views[1]?.bootnodes)
  t.deepEqual(views[0]?.bootnodes, [`/ip4/127.0.0.1/tcp/${port}/p2p/${views[0]?.peerId ?? ''}`])
})

test('run without --subnet-id says what is missing and exits 2', async t => {
  const r = await runCli(BOOTNODE_BIN, ['run'])
  t.is(r.code, 2)
  t.regex(r.stderr, /--subnet-id/)
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace')
})

test('bad flag values exit 2 with one line naming the flag', async t => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--subnet-id', 'x', '--rate-limit', 'lots'], /--rate-limit/],
    [['run', '--subnet-id', 'x', '--api-port', '70000'], /--api-port/],
    [['run', '--subnet-id', 'x', '--geo', 'maybe'], /--geo/],
    [['run', '--subnet-id', 'x', '--refresh-interval', 'soon'], /--refresh-interval/],
    [['run', '--subnet-id', 'x', '--max-watchers', '0'], /^subnet-bootnode: --max-watchers: expected an integer from 1 to 100000, got "0" \(see --help\)$/],
    [['run', '--subnet-id', 'x', '--max-watchers', '2', '--max-watchers-per-key', '3'], /--max-watchers-per-key: 3 is more than --max-watchers \(2\)/],
    [['run', '--subnet-id', 'x', '--no-such-flag'], /no-such-flag/],
    [['launch'], /launch/]
  ]
  for (const [args, pattern] of cases) {
    const r = await runCli(BOOTNODE_BIN, args)
    t.is(r.code, 2, args.join(' '))
    t.regex(r.stderr.split('\n')[0] ?? '', pattern, args.join(' '))
    t.regex(r.stderr, /^subnet-bootnode: [^\n]+\n$/, `one line: ${args.join(' ')}`)
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace')
  }
})

test('run with a malformed key file refuses to start with one line naming the file', async t => {
  const dir = await tempDir(t)
  const keysFile = join(dir, 'keys.json')
  await writeFile(keysFile, '[{"owner": "a", "key": ""}]')
  const r = await runCli(BOOTNODE_BIN, ['run', '--subnet-id', 'x', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--keys-file', keysFile, '--log-level', 'error'])
  t.is(r.code, 1)
  t.regex(r.stderr, /keys\.json: entry 1 \(line 1\): "key" must be a non-empty string/)
  t.is(await readFile(keysFile, 'utf8'), '[{"owner": "a", "key": ""}]', 'the file is untouched')
})

test('--help lists the sub-commands and exits 0', async t => {
  const r = await runCli(BOOTNODE_BIN, ['--help'])
  t.is(r.code, 0)
  for (const word of ['run', 'peer', 'demo', '--subnet-id', '--api-port', '--rate-limit']) t.true(r.stdout.includes(word), word)
})
