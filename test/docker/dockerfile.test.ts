import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { promisify } from 'node:util'
import test from 'ava'
import { envName, FLAGS, parseConfig } from '../../src/config/index.js'
import { all, composeEnvironment, envOf, execForm, parseDockerfile, readRepoFile } from './dockerfile.js'
import type { AddressInfo } from 'node:net'

const run = promisify(execFile)
const dockerfile = parseDockerfile(readRepoFile('Dockerfile'))
const stages = dockerfile.stages
const runtime = stages.at(-1)
const build = stages.find(s => s.name === 'build')
const KNOWN_ENV = new Set([...FLAGS.map(f => envName(f.name)), 'BOOTNODE_KEYS_FILE'])

test('multi-stage on an official Node LTS slim image', t => {
  const image = dockerfile.globalArgs.get('NODE_IMAGE') ?? ''
  const match = /^node:(\d+)-bookworm-slim$/.exec(image)
  t.truthy(match, `NODE_IMAGE is ${image}`)
  const major = Number(match?.[1])
  t.is(major % 2, 0, 'even Node majors are the LTS lines')
  t.true(major >= 22, 'package.json engines: >=22.12 (Node 20 only with the polyfill)')
  t.true(stages.length >= 2)
  for (const stage of stages) t.is(stage.from, '${NODE_IMAGE}')
  t.truthy(build, 'a stage named build')
})

test('build stage: dev install, build, then production dependencies only for the runtime', t => {
  if (build === undefined || runtime === undefined) return t.fail('stages missing')
  const runs = all(build, 'RUN').map(i => i.args).join(' && ')
  t.regex(runs, /npm ci\b(?![^&]*--omit=dev)/, 'full install (dev dependencies: TypeScript) to build')
  t.regex(runs, /npm run build/)
  t.regex(runs, /npm ci --omit=dev/)
  // The runtime stage takes nothing from the build context: only the built, pruned /app.
  for (const copy of all(runtime, 'COPY')) t.regex(copy.args, /^--from=build\s/, copy.args)
})

test('every path package.json ships is copied into the build stage or built there', t => {
  if (build === undefined) return t.fail('no build stage')
  const pkg = JSON.parse(readRepoFile('package.json')) as { files: string[] }
  const copied = all(build, 'COPY').flatMap(c => c.args.split(/\s+/).slice(0, -1))
  for (const path of pkg.files) {
    t.true(copied.includes(path) || path === 'dist', `${path} (package.json files) is COPYed in the build stage`)
  }
})

test('runtime stage: non-root, volumes, ports, health check, entry point, config by env', t => {
  if (runtime === undefined) return t.fail('no runtime stage')
  const user = all(runtime, 'USER').at(-1)?.args
  t.is(user, 'node', 'runs as the unprivileged node user')
  t.deepEqual(all(runtime, 'VOLUME').flatMap(v => execForm(v.args)), ['/data', '/keys'])
  t.deepEqual(all(runtime, 'EXPOSE').flatMap(e => e.args.split(/\s+/)).sort(), ['31330', '8000'])
  t.deepEqual(execForm(all(runtime, 'ENTRYPOINT').at(-1)?.args ?? '[]'), ['subnet-bootnode'])
  t.deepEqual(execForm(all(runtime, 'CMD').at(-1)?.args ?? '[]'), ['run'])
  const healthcheck = all(runtime, 'HEALTHCHECK').at(-1)?.args ?? ''
  t.regex(healthcheck, /\/healthz/)
  t.regex(healthcheck, /--timeout=\d+s/)
  const env = envOf(runtime)
  t.like(env, {
    SUBNET_BOOTNODE_IDENTITY_PATH: '/data/identity.key',
    SUBNET_BOOTNODE_DATA_DIR: '/data',
    SUBNET_BOOTNODE_KEYS_FILE: '/keys/bootnode_rest_keys.json',
    BOOTNODE_KEYS_FILE: '/keys/bootnode_rest_keys.json'
  })
  t.false('SUBNET_BOOTNODE_API_HOST' in env, 'the API binds 0.0.0.0 only when the user says so (SPEC §1)')
  for (const name of Object.keys(env).filter(n => n.includes('BOOTNODE'))) t.true(KNOWN_ENV.has(name), name)
  // What the image's defaults amount to, read by the real config parser.
  const config = parseConfig(['run'], { ...env, SUBNET_BOOTNODE_SUBNET_ID: 'sn' }, '/app')
  t.like(config, {
    command: 'run',
    identityPath: '/data/identity.key',
    dataDir: '/data',
    keysFile: '/keys/bootnode_rest_keys.json',
    apiHost: '127.0.0.1',
    apiPort: 8000,
    listen: ['/ip4/0.0.0.0/tcp/31330']
  })
})

test('the HEALTHCHECK command exits 0 on 200 from /healthz, 1 on 503 or when nothing answers', async t => {
  if (runtime === undefined) return t.fail('no runtime stage')
  const healthcheck = all(runtime, 'HEALTHCHECK').at(-1)?.args ?? ''
  const [cmd, ...args] = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4))
  t.is(cmd, 'node', 'node is in the slim image; curl is not')
  let status = 503
  const paths: string[] = []
  const server = createServer((req, res) => {
    paths.push(req.url ?? '')
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: status === 200 ? 'ok' : 'starting' }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const port = (server.address() as AddressInfo).port
  const check = async (env: Record<string, string>): Promise<number> => {
    try {
      await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 })
      return 0
    } catch (err) {
      return (err as { code?: number }).code ?? -1
    }
  }
  t.is(await check({ SUBNET_BOOTNODE_API_PORT: String(port) }), 1, '503 starting: unhealthy')
  status = 200
  t.is(await check({ SUBNET_BOOTNODE_API_PORT: String(port) }), 0, '200: healthy')
  t.deepEqual(paths, ['/healthz', '/healthz'])
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  t.is(await check({ SUBNET_BOOTNODE_API_PORT: String(port) }), 1, 'nothing listening: unhealthy')
})

test('.dockerignore keeps keys, identities, installs and build output out of the context', t => {
  const entries = readRepoFile('.dockerignore').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  for (const required of ['bootnode_rest_keys.json', '*.key', 'node_modules', 'dist', '.git', 'coverage']) {
    t.true(entries.includes(required), `.dockerignore lists ${required}`)
  }
  if (build === undefined) return t.fail('no build stage')
  const copied = all(build, 'COPY').flatMap(c => c.args.split(/\s+/).slice(0, -1))
  for (const path of copied) t.false(entries.includes(path), `${path} is COPYed, so it must not be ignored`)
})

test('docker-compose.yml: known variables that the config accepts, API published on loopback only', t => {
  const text = readRepoFile('docker-compose.yml')
  const { active, commented } = composeEnvironment(text)
  for (const name of [...Object.keys(active), ...commented]) t.true(KNOWN_ENV.has(name), `${name} is a flag's variable`)
  t.true(commented.includes('SUBNET_BOOTNODE_BOOTSTRAP') && commented.includes('SUBNET_BOOTNODE_ANNOUNCE'))
  t.is(active.SUBNET_BOOTNODE_API_HOST, '0.0.0.0', 'inside the container, so the port mapping reaches it')
  t.regex(text, /"127\.0\.0\.1:8000:8000"/, 'published on the host\'s loopback only')
  t.regex(text, /"31330:31330"/)
  t.regex(text, /:\/data\b/)
  t.regex(text, /:\/keys\b/)
  if (runtime === undefined) return t.fail('no runtime stage')
  const config = parseConfig(['run'], { ...envOf(runtime), ...active }, '/app')
  t.like(config, { command: 'run', subnetId: active.SUBNET_BOOTNODE_SUBNET_ID, apiHost: '0.0.0.0', identityPath: '/data/identity.key' })
})
