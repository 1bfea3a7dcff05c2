/**
 * The status page (SPEC §1 "Status page"): static files from the package's `web/` folder and the
 * map's vendor files from node_modules, no key needed to load them. The page reads data only
 * through the keyed routes, so this router serves no data. A strict Content-Security-Policy keeps
 * every script, style, image and request on this origin.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import express, { type Router, type Response } from 'express'
import { setPageHeaders } from './constants.js'

/** `web/` sits two levels above this file both in src/api and in dist/api. */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))

/** Self only; no inline script or style, no framing, no form posts elsewhere. */
const STATUS_PAGE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

/** `./assets/vendor/<name>` → [package, file inside it]: what draws the offline world map. */
const VENDOR_FILES: Readonly<Record<string, readonly [string, string]>> = {
  'd3-array.min.js': ['d3-array', 'dist/d3-array.min.js'],
  'd3-geo.min.js': ['d3-geo', 'dist/d3-geo.min.js'],
  'topojson-client.min.js': ['topojson-client', 'dist/topojson-client.min.js'],
  'land-110m.json': ['world-atlas', 'land-110m.json']
}

const require = createRequire(import.meta.url)

/**
 * The folder of an installed package: from its package.json where it can be resolved (world-atlas
 * has no entry point), else from its entry point up to the folder whose package.json names it
 * (d3's `exports` hide package.json).
 */
function packageDir (name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`))
  } catch {}
  let dir = dirname(require.resolve(name))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir
    const up = dirname(dir)
    if (up === dir) throw new Error(`cannot find the folder of package ${name}`)
    dir = up
  }
}

function pageHeaders (res: Response): void {
  setPageHeaders(res, STATUS_PAGE_CSP)
}

/** The router of `/` and `/assets/…`; the app mounts it before its 404 handler. */
export function createStatusPageRouter (): Router {
  const router = express.Router({ caseSensitive: true, strict: false })
  const staticOptions = {
    index: false,
    fallthrough: true,
    // revalidated on every load (cheap 304s): a new version of the package shows at once
    cacheControl: true,
    maxAge: 0,
    setHeaders: pageHeaders
  }
  const vendor = new Map(Object.entries(VENDOR_FILES).map(([name, [pkg, file]]) => [name, join(packageDir(pkg), file)]))
  router.get(['/', '/index.html'], (_req, res, next) => {
    pageHeaders(res)
    res.sendFile('index.html', { root: WEB_DIR, cacheControl: true, maxAge: 0 }, (err) => { if (err !== undefined) next(err) })
  })
  router.get('/assets/vendor/:file', (req, res, next) => {
    const path = vendor.get(req.params.file)
    if (path === undefined) { next(); return }
    pageHeaders(res)
    res.sendFile(path, { cacheControl: true, maxAge: 0 }, (err) => { if (err !== undefined) next(err) })
  })
  router.use('/assets', express.static(join(WEB_DIR, 'assets'), staticOptions))
  return router
}
