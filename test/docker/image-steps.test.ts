/**
 * No Docker engine runs on the machines that run this suite, so this file replays the Dockerfile's
 * own steps in a temp dir (issue 7): the build stage's COPYs and RUN lines, the runtime stage's RUN
 * lines, then the image's entry point and default command as a container would run them. The
 * Dockerfile is read, not restated: change a step there and this test runs the change.
 *
 * Absolute paths of the image are mapped into the temp dir (/app → <tmp>/app, …). Three things
 * differ from a real build, each logged: the build stage's dev install (`npm ci --ignore-scripts`)
 * is stood in for by a link to this checkout's node_modules, installed from the same lock file (it
 * saves ~15 s); `chown` is not run; and the processes run as this user, with this Node, not as `node`
 * on the image's Node. The production install (`npm ci --omit=dev`) is real (from the npm cache).
 */
import { execFile, spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { flagsOf } from '../../src/config/index.js'
import { packageVersion } from '../../src/util/package-version.js'
import { all, envOf, execForm, parseDockerfile, readRepoFile, REPO } from './dockerfile.js'
import type { Stage } from './dockerfile.js'
import type { ExecutionContext } from 'ava'

const exec = promisify(execFile)
const repo = new URL(REPO).pathname
const dockerfile = parseDockerfile(readRepoFile('Dockerfile'))
const build = dockerfile.stages.find(s => s.name === 'build')
const runtime = dockerfile.stages.at(-1)

/** Image paths the steps use, and where they live in the temp dir. */
const MAPPED = ['/usr/local/bin', '/build', '/app', '/tmp', '/data', '/keys']
let root = ''
let built = false

const host = (path: string): string => join(root, 'fs', path)

/** Rewrites the image's absolute paths in a shell command to their temp-dir places. */
function mapPaths (command: string): string {
  return command.replace(/(^|[\s=])(\/(?:usr\/local\/bin|build|app|tmp|data|keys))(?=[/\s]|$)/g, (_, before: string, path: string) => before + host(path))
}

/** The environment npm runs with: offline when the cache has it, quiet, no network extras. */
const NPM_ENV = {
  npm_config_prefer_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_loglevel: 'error'
}

function baseEnv (): Record<string, string> {
  return {
    PATH: `${host('/usr/local/bin')}:${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: process.env.HOME ?? root,
    ...NPM_ENV
  }
}

async function sh (t: ExecutionContext, command: string, cwd: string, timeout: number): Promise<void> {
  t.log(`$ ${command.replaceAll(root, '<tmp>')}`)
  try {
    await exec('sh', ['-c', command], { cwd, env: { ...process.env, ...NPM_ENV }, timeout, maxBuffer: 16 * 1024 * 1024 })
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string, message: string }
    throw new Error(`step failed: ${command.replaceAll(root, '<tmp>')}\n${e.stderr ?? ''}${e.stdout ?? ''}`.slice(0, 4000))
  }
}

function workdir (stage: Stage): string {
  return host(all(stage, 'WORKDIR').at(-1)?.args ?? '/')
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'subnet-bootnode-image-'))
  // Present in the base image: /tmp and /usr/local/bin.
  await mkdir(host('/tmp'), { recursive: true })
  await mkdir(host('/usr/local/bin'), { recursive: true })
})

test.after.always(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true })
})

test.serial('build stage: COPY the named paths, build, npm pack, production install', async t => {
  // Bounds, not speed targets: the step (tsc, npm pack, npm ci --omit=dev of ~310 packages from the
  // cache) took 65 s on 2 cores with other work running, and over 90 s inside a loaded full run.
  t.timeout(200_000)
  if (build === undefined) return t.fail('the Dockerfile has no stage named build')
  const cwd = workdir(build)
  await mkdir(cwd, { recursive: true })
  for (const step of build.instructions) {
    if (step.op === 'COPY') {
      const parts = step.args.split(/\s+/)
      const dest = join(cwd, parts.at(-1) ?? '.')
      const sources = parts.slice(0, -1)
      for (const source of sources) {
        const into = sources.length > 1 || (parts.at(-1) ?? '').endsWith('/') ? join(dest, source) : dest
        await cp(join(repo, source), into, { recursive: true })
      }
    } else if (step.op === 'RUN' && /^npm ci\b/.test(step.args) && !step.args.includes('--omit=dev')) {
      t.log(`stand-in for "${step.args}": link to this checkout's node_modules (same lock file)`)
      await symlink(join(repo, 'node_modules'), join(cwd, 'node_modules'), 'dir')
    } else if (step.op === 'RUN') {
      await sh(t, mapPaths(step.args), cwd, 180_000)
    }
  }
  await stat(join(host('/app'), 'bin', 'subnet-bootnode.js'))
  built = true
  t.pass()
})

test.serial('runtime stage: production files only, entry points on PATH', async t => {
  if (!built || runtime === undefined) return t.fail('the build stage did not complete')
  for (const step of runtime.instructions) {
    if (step.op === 'COPY') {
      t.regex(step.args, /^--from=build \/app \.\/?$/, 'the runtime copies the built /app and nothing else')
      t.is(workdir(runtime), host('/app'))
    } else if (step.op === 'RUN') {
      for (const part of step.args.split('&&').map(p => p.trim())) {
        if (part.startsWith('chown ')) {
          t.log(`not run here: ${part}`)
          continue
        }
        await sh(t, mapPaths(part), workdir(runtime), 10_000)
      }
    }
  }
  const app = host('/app')
  const top = await readdir(app)
  t.true(top.includes('dist') && top.includes('bin') && top.includes('node_modules'))
  t.true(top.includes('web'), 'the status page (web/, SPEC §1) ships')
  t.false(top.includes('src'), 'no TypeScript sources')
  t.false(top.includes('test'), 'no tests')
  t.false(top.includes('bootnode_rest_keys.json'), 'no key store')
  const modules = await readdir(join(app, 'node_modules'))
  for (const dev of ['typescript', 'tsx', 'ava', 'autocannon']) t.false(modules.includes(dev), `${dev} (a dev dependency) is not installed`)
  t.true(modules.includes('libp2p') && modules.includes('express'))
  const mode = (await stat(join(app, 'bin', 'subnet-bootnode.js'))).mode
  t.truthy(mode & 0o111, 'the entry point is executable (its shebang runs it)')
})

/** Runs an image command the way `docker run <image> <args>` would: ENTRYPOINT + args, image ENV. */
async function runImage (args: string[], env: Record<string, string> = {}, timeout = 20_000): Promise<{ code: number, stdout: string, stderr: string }> {
  if (runtime === undefined) throw new Error('no runtime stage')
  const [entry = '', ...entryArgs] = execForm(all(runtime, 'ENTRYPOINT').at(-1)?.args ?? '[]')
  const imageEnv = Object.fromEntries(Object.entries(envOf(runtime)).map(([k, v]) => [k, mapPaths(v)]))
  const elsewhere = join(root, 'elsewhere')
  await mkdir(elsewhere, { recursive: true })
  try {
    const { stdout, stderr } = await exec(entry, [...entryArgs, ...args], { cwd: elsewhere, env: { ...baseEnv(), ...imageEnv, ...env }, timeout })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

test.serial('the entry point answers --help, --version and bad usage from another directory', async t => {
  if (!built) return t.fail('the build stage did not complete')
  const help = await runImage(['--help'])
  t.is(help.code, 0, help.stderr)
  for (const command of ['run', 'peer', 'demo']) t.true(help.stdout.includes(`subnet-bootnode ${command}`), command)
  for (const flag of flagsOf('run')) t.true(help.stdout.includes(`--${flag.name}`), `--${flag.name} in --help`)
  const version = await runImage(['--version'])
  t.is(version.code, 0)
  t.is(version.stdout.trim(), packageVersion())
  const missing = await runImage(['run'])
  t.is(missing.code, 2, 'bad usage exits 2')
  t.true(missing.stderr.includes('--subnet-id is required'), missing.stderr)
  t.false(missing.stderr.includes('    at '), 'no stack trace')
  const adminHelp = await exec('subnet-add-api-key', ['--help'], { cwd: root, env: baseEnv(), timeout: 20_000 }).then(() => 0, (err: { code?: number }) => err.code ?? -1)
  t.is(adminHelp, 0, 'subnet-add-api-key is on PATH too')
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

test.serial('the default command runs the sidecar from the production install: healthy, then a clean SIGTERM', async t => {
  t.timeout(60_000)
  if (!built || runtime === undefined) return t.fail('the build stage did not complete')
  const port = await freePort()
  const [entry = '', ...entryArgs] = execForm(all(runtime, 'ENTRYPOINT').at(-1)?.args ?? '[]')
  const cmd = execForm(all(runtime, 'CMD').at(-1)?.args ?? '[]')
  const imageEnv = Object.fromEntries(Object.entries(envOf(runtime)).map(([k, v]) => [k, mapPaths(v)]))
  const env = {
    ...baseEnv(),
    ...imageEnv,
    SUBNET_BOOTNODE_SUBNET_ID: 'image-test',
    SUBNET_BOOTNODE_LISTEN: '/ip4/127.0.0.1/tcp/0',
    SUBNET_BOOTNODE_API_PORT: String(port),
    SUBNET_BOOTNODE_ALLOW_PRIVATE_ADDRS: 'true'
  }
  const child = spawn(entry, [...entryArgs, ...cmd], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const healthcheck = all(runtime, 'HEALTHCHECK').at(-1)?.args ?? ''
  const [, ...checkArgs] = execForm(healthcheck.slice(healthcheck.indexOf('CMD ') + 4))
  let healthy = false
  for (let attempt = 0; attempt < 60 && !healthy && child.exitCode === null; attempt++) {
    healthy = await exec(process.execPath, checkArgs, { env, timeout: 5_000 }).then(() => true, () => false)
    if (!healthy) await new Promise(resolve => setTimeout(resolve, 250))
  }
  t.true(healthy, `the HEALTHCHECK command turned healthy; output:\n${output.slice(-3000)}`)
  // the status page and its map files resolve from the production install (web/ and dependencies, no dev ones)
  for (const path of ['/', '/assets/app.js', '/assets/vendor/d3-geo.min.js', '/assets/vendor/land-110m.json']) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined)
    t.is(res?.status, 200, `GET ${path} from the production install`)
  }
  const identity = await stat(join(host('/data'), 'identity.key')).catch(() => undefined)
  t.truthy(identity, 'the identity was created in /data')
  if (identity !== undefined) t.is(identity.mode & 0o777, 0o600)

  child.kill('SIGTERM')
  const code = await Promise.race([exited, new Promise<'timeout'>(resolve => setTimeout(() => { resolve('timeout') }, 20_000))])
  t.is(code, 0, `SIGTERM stops it cleanly; output:\n${output.slice(-3000)}`)
  t.false(output.includes('    at '), 'no stack trace in the output')
})
