/**
 * The API description (SPEC §1 "API description", issue 13 item 4): the OpenAPI 3.1 document at
 * `/openapi.json` and interactive docs at `/docs`, Swagger UI served from the swagger-ui-dist
 * package, offline: no CDN, no validator badge (`validatorUrl: null`), every asset from this origin
 * under a Content-Security-Policy of self only. No key needed; the docs' "Try it out" sends the key
 * the reader types, in the `X-API-Key` header, and keeps it only in the page's memory.
 *
 * Every URL in the page is relative (`docs/…`, `openapi.json`), so it works behind a reverse proxy
 * under a path prefix; `/docs/` redirects to `../docs` so those relative URLs resolve as written.
 */
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import express, { type Response, type Router } from 'express'
import { JSON_CONTENT_TYPE, setPageHeaders } from './constants.js'
import { DOCS_PATH, OPENAPI_PATH, openApiDocument, type OpenApiInit } from './openapi.js'

/**
 * Self only, no inline script or style; images also from `data:` URLs, which swagger-ui.css uses
 * for its icons (they load nothing from anywhere).
 */
const DOCS_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

/** The files of swagger-ui-dist the page loads, by the name it uses under `/docs/`. */
const SWAGGER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'] as const

/** Starts Swagger UI on the document (a file, not inline: the CSP allows no inline script). */
const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true
  })
})
`

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>subnet-bootnode API docs</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<main id="swagger-ui"></main>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`

function docsHeaders (res: Response): void {
  setPageHeaders(res, DOCS_CSP)
}

function sendText (res: Response, type: string, body: Buffer): void {
  docsHeaders(res)
  res.statusCode = 200
  res.setHeader('Content-Type', type)
  res.setHeader('Content-Length', body.length)
  res.setHeader('Cache-Control', 'no-cache')
  res.end(body)
}

/** The router of `/openapi.json`, `/docs` and `/docs/<asset>`; the app mounts it before its 404 handler. */
export function createDocsRouter (init: OpenApiInit): Router {
  const router = express.Router({ caseSensitive: true, strict: true })
  // built once: the document depends only on the configuration
  const document = Buffer.from(JSON.stringify(openApiDocument(init)), 'utf8')
  const page = Buffer.from(PAGE_HTML, 'utf8')
  const initJs = Buffer.from(INIT_JS, 'utf8')
  const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))

  router.get(OPENAPI_PATH, (_req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*')
    sendText(res, JSON_CONTENT_TYPE, document)
  })
  router.get(DOCS_PATH, (_req, res) => { sendText(res, 'text/html; charset=utf-8', page) })
  router.get(`${DOCS_PATH}/`, (_req, res) => { res.redirect(301, `../${DOCS_PATH.slice(1)}`) })
  router.get(`${DOCS_PATH}/init.js`, (_req, res) => { sendText(res, 'text/javascript; charset=utf-8', initJs) })
  for (const file of SWAGGER_FILES) {
    router.get(`${DOCS_PATH}/${file}`, (_req, res, next) => {
      docsHeaders(res)
      res.sendFile(file, { root: swaggerDir, cacheControl: true, maxAge: 0 }, (err) => { if (err !== undefined) next(err) })
    })
  }
  return router
}

/** The paths this router answers, for the app's 405 handler. */
export const DOCS_PATHS: readonly string[] = [OPENAPI_PATH, DOCS_PATH]
