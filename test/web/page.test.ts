/**
 * The status page's router (SPEC §1 "Status page") without a browser: no key needed, a self-only
 * CSP on every file, every asset index.html names is served (relative URLs only), the vendor map
 * files come from node_modules, and nothing else is reachable through the asset routes.
 */
import test from 'ava'
import { startTestApi } from '../helpers/api.js'

test('/ and every asset it names load without a key, each with the self-only CSP', async t => {
  const api = await startTestApi(t)
  const page = await api.get('/')
  t.is(page.status, 200)
  t.regex(String(page.headers['content-type']), /^text\/html/)
  t.regex(String(page.headers['content-security-policy']), /^default-src 'self'; script-src 'self'; style-src 'self'/)
  t.is(page.headers['x-content-type-options'], 'nosniff')
  const refs = [...page.text().matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1] ?? '')
  t.true(refs.length >= 6, refs.join(' '))
  for (const ref of refs) {
    t.true(ref.startsWith('./'), `${ref} is relative, so the page works under a path prefix`)
    const res = await api.get(ref.slice(1))
    t.is(res.status, 200, ref)
    t.regex(String(res.headers['content-security-policy']), /^default-src 'self'/, ref)
  }
  const app = await api.get('/assets/app.js')
  t.regex(String(app.headers['content-type']), /javascript/)
  t.true(app.text().includes("fetch('./v1/watch'"), 'the page reads the relative live feed')
  const land = await api.get('/assets/vendor/land-110m.json')
  t.is((land.json() as { type: string }).type, 'Topology')
})

test('unknown and traversing asset paths are JSON 404s', async t => {
  const api = await startTestApi(t)
  for (const path of ['/assets/nope.js', '/assets/vendor/nope.js', '/assets/vendor/..%2Fpackage.json', '/assets/../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/web/index.html']) {
    const res = await api.get(path)
    t.is(res.status, 404, path)
    t.deepEqual(res.json(), { detail: 'Not Found' }, path)
  }
})
