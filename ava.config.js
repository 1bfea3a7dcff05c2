/**
 * ava's settings (here rather than in package.json because `sortTestFiles` is a function).
 *
 * Files run two at a time in the order `sortTestFiles` gives. The few long files (real py-libp2p
 * nodes, a browser, the demo, the Dockerfile's steps) go first so that the short ones fill the
 * other slot meanwhile, instead of one long file running alone at the end (issue 13 made the
 * alphabetical order end with p2p/template-interop and web/status-page: ~70 s with one slot idle).
 */
const LONG_FIRST = [
  'test/p2p/template-interop.test.ts',
  'test/e2e/sidecar.test.ts',
  'test/e2e/template.test.ts',
  'test/web/status-page.test.ts',
  'test/e2e/attacks.test.ts',
  'test/docker/image-steps.test.ts',
  'test/cli/add-api-key.test.ts',
  'test/cli/add-api-key-files.test.ts'
]

const rank = (file) => {
  const i = LONG_FIRST.findIndex((f) => file.endsWith(f))
  return i === -1 ? LONG_FIRST.length : i
}

export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  require: ['./src/polyfill.ts'],
  timeout: '60s',
  concurrency: 2,
  workerThreads: false,
  sortTestFiles: (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)
}
