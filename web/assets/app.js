// The status page (SPEC §1 "Status page"). Data comes only from the keyed routes, with the key in
// the X-API-Key header: the live feed ./v1/watch (Server-Sent Events read through fetch, since
// EventSource cannot send headers) and ./v1/is_reachable/<peer_id>. Every URL is relative, so the
// page works behind a reverse proxy under a path prefix. The key lives in sessionStorage only.

const KEY_STORAGE = 'subnet-bootnode.api-key'
const RECONNECT_MIN_MS = 1_000
const RECONNECT_MAX_MS = 30_000
/** Three keep-alive periods of /v1/watch (a comment every 15 s). */
const SILENT_FEED_MS = 45_000
const STATES = ['ONLINE', 'JOINING', 'OFFLINE']
const MAP_WIDTH = 960
const MAP_HEIGHT = 480
/** Rows and columns of the ping matrix at most. */
const MATRIX_MAX = 40

const $ = (id) => document.getElementById(id)

const model = {
  heartbeats: [],
  peersInfo: {},
  bootnodes: [],
  /** peer id → { exp, at }: when this page received the peer's newest heartbeat record */
  heard: new Map(),
  /** peer id → { ok, text } of the last reachability check */
  reach: new Map(),
  sort: { key: 'state', dir: 1 },
  filter: ''
}

class KeyRefusedError extends Error {}

// ---- key --------------------------------------------------------------------------------------

function storedKey () {
  try { return sessionStorage.getItem(KEY_STORAGE) ?? '' } catch { return '' }
}

function showKeyForm (message) {
  $('key-form').hidden = false
  $('dashboard').hidden = true
  $('forget-key').hidden = true
  $('key-error').textContent = message ?? ''
  $('api-key').focus()
}

// ---- live feed --------------------------------------------------------------------------------

let feed // { abort: AbortController }

function setConnection (text, cls) {
  const el = $('connection')
  el.textContent = text
  el.className = `connection ${cls ?? ''}`
}

/** Parses one SSE event block (WHATWG HTML §9.2.6): `event:`, `data:` (joined by newlines); comments skipped. */
function parseEvent (block) {
  let type = 'message'
  const data = []
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') type = value
    else if (field === 'data') data.push(value)
  }
  return data.length === 0 ? undefined : { type, data: data.join('\n') }
}

async function readFeed (key, outer, onOpen) {
  // a feed that stays silent past three keep-alive periods is dead (a proxy may hold the socket open)
  const stalled = new AbortController()
  const signal = AbortSignal.any([outer, stalled.signal])
  let watchdog
  const arm = () => {
    clearTimeout(watchdog)
    watchdog = setTimeout(() => { stalled.abort(new Error('no data for 45 s')) }, SILENT_FEED_MS)
  }
  try {
    arm()
    return await readEvents(key, signal, onOpen, arm)
  } catch (err) {
    if (stalled.signal.aborted && !outer.aborted) throw new Error('the live feed went silent')
    throw err
  } finally {
    clearTimeout(watchdog)
  }
}

async function readEvents (key, signal, onOpen, onData) {
  const res = await fetch('./v1/watch', { headers: { 'X-API-Key': key, Accept: 'text/event-stream' }, cache: 'no-store', signal })
  if (res.status === 403) throw new KeyRefusedError('The API key was refused.')
  if (!res.ok || res.body === null) {
    const detail = await res.json().then((b) => b.detail, () => undefined)
    throw new Error(`live feed: HTTP ${res.status}${detail === undefined ? '' : ` (${detail})`}`)
  }
  onOpen()
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return undefined
    onData()
    buffer = (buffer + value).replace(/\r\n?/g, '\n')
    let end
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = parseEvent(buffer.slice(0, end))
      buffer = buffer.slice(end + 2)
      if (event === undefined) continue
      if (event.type === 'close') return JSON.parse(event.data).detail
      apply(event.type, JSON.parse(event.data))
    }
  }
}

/** Keeps the feed open, reconnecting with exponential back-off; stops on a refused key. */
async function connect (key) {
  feed?.abort.abort()
  const abort = new AbortController()
  feed = { abort }
  let delay = RECONNECT_MIN_MS
  while (!abort.signal.aborted) {
    setConnection('Connecting…')
    let why
    try {
      why = await readFeed(key, abort.signal, () => {
        delay = RECONNECT_MIN_MS
        setConnection('Live', 'live')
        $('key-form').hidden = true
        $('dashboard').hidden = false
        $('forget-key').hidden = false
      })
      why = why === undefined ? 'the server ended the live feed' : `the server ended the live feed: ${why}`
    } catch (err) {
      if (abort.signal.aborted) return
      if (err instanceof KeyRefusedError) {
        forgetKey()
        showKeyForm(err.message)
        setConnection('Not connected', 'down')
        return
      }
      why = err.message
    }
    setConnection(`Disconnected (${why}); retrying in ${Math.round(delay / 1000)} s`, 'down')
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, delay)
      abort.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
    })
    delay = Math.min(delay * 2, RECONNECT_MAX_MS)
  }
}

function forgetKey () {
  feed?.abort.abort()
  try { sessionStorage.removeItem(KEY_STORAGE) } catch {}
}

function apply (type, body) {
  if (type === 'heartbeat') {
    model.heartbeats = Array.isArray(body.value) ? body.value : []
    const now = Date.now()
    for (const hb of model.heartbeats) {
      const last = model.heard.get(hb.peer_id)
      if (last === undefined || last.exp !== hb.expiration_time) model.heard.set(hb.peer_id, { exp: hb.expiration_time, at: now })
    }
    // only the peers still listed: a page left open for days must not keep every peer ever seen
    const listed = new Set(model.heartbeats.map((hb) => hb.peer_id))
    for (const id of model.heard.keys()) if (!listed.has(id)) model.heard.delete(id)
  } else if (type === 'peers_info') {
    model.peersInfo = body.value !== null && typeof body.value === 'object' ? body.value : {}
  } else if (type === 'bootnodes') {
    model.bootnodes = Array.isArray(body.value) ? body.value : []
  } else {
    return
  }
  render()
}

// ---- rows -------------------------------------------------------------------------------------

/** The geolocated IPs of one peers_info entry: [{ ip, location }] with status success. */
function located (info) {
  const out = []
  for (const [ip, entry] of Object.entries(info ?? {})) {
    if (ip === 'multiaddrs') continue
    const loc = entry?.location
    if (loc?.status === 'success' && Number.isFinite(loc.lat) && Number.isFinite(loc.lon)) out.push({ ip, location: loc })
  }
  return out
}

function rows () {
  const byId = new Map()
  const row = (id) => {
    let r = byId.get(id)
    if (r === undefined) byId.set(id, r = { peer_id: id, hb: undefined, info: undefined })
    return r
  }
  for (const hb of model.heartbeats) row(hb.peer_id).hb = hb
  for (const [id, info] of Object.entries(model.peersInfo)) row(id).info = info
  const now = Date.now()
  return [...byId.values()].map((r) => {
    const first = located(r.info)[0]?.location
    const heard = model.heard.get(r.peer_id)
    return {
      peer_id: r.peer_id,
      state: r.hb?.server?.state ?? '',
      role: r.hb?.server?.role ?? '',
      version: r.hb?.server?.version ?? '',
      name: r.hb?.server?.public_name ?? '',
      place: first === undefined ? '' : [first.country, first.city].filter((s) => s).join(' / '),
      as: first?.as ?? '',
      heard: r.hb === undefined || heard === undefined ? Infinity : (now - heard.at) / 1000,
      expiry: r.hb === undefined ? Infinity : r.hb.expiration_time - now / 1000
    }
  })
}

const STATE_ORDER = { ONLINE: 0, JOINING: 1, OFFLINE: 2, '': 3 }

function compare (a, b, key) {
  if (key === 'state') return STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.peer_id.localeCompare(b.peer_id)
  const x = a[key]
  const y = b[key]
  if (typeof x === 'number') return x - y || a.peer_id.localeCompare(b.peer_id)
  return String(x).localeCompare(String(y)) || a.peer_id.localeCompare(b.peer_id)
}

function shortId (id) {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

function seconds (s) {
  if (!Number.isFinite(s)) return '—'
  const n = Math.round(Math.abs(s))
  return n < 120 ? `${n} s` : n < 7200 ? `${Math.round(n / 60)} min` : `${Math.round(n / 3600)} h`
}

function cell (tr, text, opts = {}) {
  const td = document.createElement(opts.header === true ? 'th' : 'td')
  if (opts.header === true) td.scope = 'row'
  if (opts.className !== undefined) {
    const span = document.createElement('span')
    span.className = opts.className
    span.textContent = text
    td.append(span)
  } else {
    td.textContent = text
  }
  if (opts.title !== undefined) td.title = opts.title
  tr.append(td)
  return td
}

// ---- render -----------------------------------------------------------------------------------

function render () {
  renderSummary()
  renderPeers()
  renderMap()
  renderPings()
}

function renderSummary () {
  $('sum-peers').textContent = String(Object.keys(model.peersInfo).length)
  $('sum-heartbeats').textContent = String(model.heartbeats.length)
  for (const state of STATES) {
    $(`sum-${state.toLowerCase()}`).textContent = String(model.heartbeats.filter((h) => h.server?.state === state).length)
  }
  const list = $('bootnodes')
  list.replaceChildren(...model.bootnodes.map((addr, i) => {
    const li = document.createElement('li')
    const code = document.createElement('code')
    code.id = `bootnode-${i}`
    code.textContent = addr
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = 'Copy'
    button.setAttribute('aria-describedby', code.id)
    button.addEventListener('click', () => { copy(addr, button) })
    li.append(code, button)
    return li
  }))
}

async function copy (text, button) {
  try {
    await navigator.clipboard.writeText(text)
    button.textContent = 'Copied'
  } catch {
    // no clipboard API outside secure contexts: select the text so the user can copy it
    const range = document.createRange()
    range.selectNodeContents(button.previousElementSibling)
    getSelection()?.removeAllRanges()
    getSelection()?.addRange(range)
    button.textContent = 'Selected'
  }
  setTimeout(() => { button.textContent = 'Copy' }, 1_500)
}

function renderPeers () {
  const table = $('peers')
  for (const th of table.querySelectorAll('th[data-sort]')) {
    th.setAttribute('aria-sort', th.dataset.sort === model.sort.key ? (model.sort.dir > 0 ? 'ascending' : 'descending') : 'none')
  }
  const focused = document.activeElement?.dataset?.peer
  const list = rows()
    .filter((r) => model.filter === '' || (model.filter === 'none' ? r.state === '' : r.state === model.filter))
    .sort((a, b) => model.sort.dir * compare(a, b, model.sort.key))
  const tbody = table.tBodies[0]
  tbody.replaceChildren(...list.map((r) => {
    const tr = document.createElement('tr')
    tr.dataset.peer = r.peer_id
    cell(tr, shortId(r.peer_id), { header: true, title: r.peer_id })
    cell(tr, r.state === '' ? 'no heartbeat' : r.state, r.state === '' ? {} : { className: `state ${r.state}` }).dataset.col = 'state'
    cell(tr, r.role)
    cell(tr, r.version)
    cell(tr, r.name)
    cell(tr, r.place)
    cell(tr, r.as)
    cell(tr, seconds(r.heard)).dataset.col = 'heard'
    cell(tr, expiryText(r.expiry)).dataset.col = 'expiry'
    const td = document.createElement('td')
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = 'Check'
    button.dataset.peer = r.peer_id
    button.setAttribute('aria-label', `Check whether ${shortId(r.peer_id)} is reachable`)
    button.addEventListener('click', () => { checkReachable(r.peer_id) })
    const out = document.createElement('output')
    out.className = 'reach'
    out.setAttribute('aria-live', 'polite')
    const result = model.reach.get(r.peer_id)
    if (result !== undefined) {
      out.textContent = ` ${result.text}`
      out.classList.add(result.ok ? 'reach-ok' : 'reach-fail')
    }
    td.append(button, out)
    tr.append(td)
    return tr
  }))
  if (focused !== undefined) tbody.querySelector(`button[data-peer="${CSS.escape(focused)}"]`)?.focus()
}

/** Moves the age and expiry cells with the clock, in place (rebuilding rows would steal clicks). */
function tick () {
  if ($('dashboard').hidden) return
  const byId = new Map(rows().map((r) => [r.peer_id, r]))
  for (const tr of $('peers').tBodies[0].rows) {
    const r = byId.get(tr.dataset.peer)
    if (r === undefined) continue
    tr.querySelector('[data-col="heard"]').textContent = seconds(r.heard)
    tr.querySelector('[data-col="expiry"]').textContent = expiryText(r.expiry)
  }
}

function expiryText (s) {
  return Number.isFinite(s) ? (s >= 0 ? `in ${seconds(s)}` : 'expired') : '—'
}

async function checkReachable (peerId) {
  const key = storedKey()
  model.reach.set(peerId, { ok: false, text: 'checking…' })
  renderPeers()
  let result
  try {
    const res = await fetch(`./v1/is_reachable/${encodeURIComponent(peerId)}`, { headers: { 'X-API-Key': key }, cache: 'no-store' })
    const body = await res.json()
    if (!res.ok) {
      result = { ok: false, text: `error ${res.status}: ${body.detail ?? ''}` }
    } else {
      const addrs = Array.isArray(body.addrs) ? body.addrs : []
      const best = addrs.filter((a) => a.ok).map((a) => a.rtt_ms).sort((a, b) => a - b)[0]
      const failed = addrs.filter((a) => !a.ok).map((a) => `${a.multiaddr}: ${a.error}`)
      result = body.reachable === true
        ? { ok: true, text: `reachable (${Math.round(best ?? 0)} ms)` }
        : { ok: false, text: `unreachable${failed.length > 0 ? ` (${failed.join('; ')})` : ''}` }
    }
  } catch (err) {
    result = { ok: false, text: `error: ${err.message}` }
  }
  model.reach.set(peerId, result)
  renderPeers()
}

// ---- map --------------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg'
let projection

/** Equirectangular world, from d3-geo when its script loaded (the land outline needs it). */
function project (lon, lat) {
  if (projection !== undefined) return projection([lon, lat])
  return [(lon + 180) / 360 * MAP_WIDTH, (90 - lat) / 180 * MAP_HEIGHT]
}

async function drawLand () {
  const d3 = globalThis.d3
  const topojson = globalThis.topojson
  if (d3?.geoEquirectangular === undefined || topojson?.feature === undefined) {
    $('map-note').textContent = 'The world outline could not be drawn (map scripts missing).'
    return
  }
  projection = d3.geoEquirectangular().fitSize([MAP_WIDTH, MAP_HEIGHT], { type: 'Sphere' })
  const res = await fetch('./assets/vendor/land-110m.json')
  if (!res.ok) throw new Error(`world outline: HTTP ${res.status}`)
  const world = await res.json()
  const path = document.createElementNS(SVG, 'path')
  path.setAttribute('d', d3.geoPath(projection)(topojson.feature(world, world.objects.land)) ?? '')
  $('map-land').replaceChildren(path)
  renderMap()
}

function renderMap () {
  const states = new Map(model.heartbeats.map((h) => [h.peer_id, h.server?.state ?? '']))
  /** ip → { location, peers } : one dot per located IP */
  const ips = new Map()
  for (const [id, info] of Object.entries(model.peersInfo)) {
    for (const { ip, location } of located(info)) {
      const entry = ips.get(ip) ?? { location, peers: [] }
      entry.peers.push(id)
      ips.set(ip, entry)
    }
  }
  $('map-dots').replaceChildren(...[...ips].map(([ip, { location, peers }]) => {
    const [x, y] = project(location.lon, location.lat)
    const dot = document.createElementNS(SVG, 'circle')
    dot.setAttribute('cx', x.toFixed(1))
    dot.setAttribute('cy', y.toFixed(1))
    dot.setAttribute('r', '5')
    const state = peers.map((p) => states.get(p)).find((s) => s === 'ONLINE') ?? states.get(peers[0]) ?? ''
    dot.setAttribute('class', `dot ${state}`)
    dot.dataset.ip = ip
    const title = document.createElementNS(SVG, 'title')
    title.textContent = `${ip} — ${[location.city, location.country].filter((s) => s).join(', ')} — ${peers.map(shortId).join(', ')}`
    dot.append(title)
    return dot
  }))
  if (projection !== undefined || $('map-note').textContent === '') {
    $('map-note').textContent = `${ips.size} located address${ips.size === 1 ? '' : 'es'}.`
  }
}

// ---- ping matrix ------------------------------------------------------------------------------

function renderPings () {
  const from = model.heartbeats.filter((h) => h.server?.next_pings !== null && typeof h.server?.next_pings === 'object' && Object.keys(h.server.next_pings).length > 0)
  from.sort((a, b) => a.peer_id.localeCompare(b.peer_id))
  const measuring = from.length
  // a readable, bounded table: the first MATRIX_MAX measuring peers (a large subnet would be a million cells)
  from.splice(MATRIX_MAX)
  // square where it can be: every measuring peer is also a column, in the same order as the rows
  const targets = [...new Set([...from.map((h) => h.peer_id), ...from.flatMap((h) => Object.keys(h.server.next_pings))])].sort().slice(0, MATRIX_MAX)
  const table = $('ping-matrix')
  $('pings-empty').hidden = measuring > 0 && measuring <= MATRIX_MAX
  $('pings-empty').textContent = measuring === 0 ? 'No peer reports pings yet.' : `Showing ${from.length} of ${measuring} measuring peers and ${targets.length} of their targets.`
  table.hidden = measuring === 0
  const head = document.createElement('tr')
  const corner = document.createElement('td')
  head.append(corner)
  for (const id of targets) {
    const th = document.createElement('th')
    th.scope = 'col'
    th.textContent = shortId(id)
    th.title = id
    head.append(th)
  }
  table.tHead.replaceChildren(head)
  const all = from.flatMap((h) => Object.values(h.server.next_pings)).filter(Number.isFinite)
  const max = Math.max(...all, 0.001)
  table.tBodies[0].replaceChildren(...from.map((h) => {
    const tr = document.createElement('tr')
    cell(tr, shortId(h.peer_id), { header: true, title: h.peer_id })
    for (const id of targets) {
      const rtt = h.server.next_pings[id]
      const td = cell(tr, Number.isFinite(rtt) ? (rtt * 1000).toFixed(1) : '')
      if (Number.isFinite(rtt)) {
        // light backgrounds only (lightness 80 %), so the dark text keeps its contrast: green fast → red slow
        td.style.backgroundColor = `hsl(${Math.round(120 * (1 - rtt / max))} 70% 80%)`
        td.classList.add('rtt')
      }
    }
    return tr
  }))
}

// ---- start ------------------------------------------------------------------------------------

function start () {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const key = $('api-key').value.trim()
    if (key === '') return
    try { sessionStorage.setItem(KEY_STORAGE, key) } catch {}
    $('api-key').value = ''
    $('key-error').textContent = ''
    connect(key)
  })
  $('forget-key').addEventListener('click', () => {
    forgetKey()
    setConnection('Not connected')
    showKeyForm()
  })
  $('state-filter').addEventListener('change', (event) => {
    model.filter = event.target.value
    renderPeers()
  })
  for (const th of document.querySelectorAll('#peers th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.sort
      model.sort = { key, dir: model.sort.key === key ? -model.sort.dir : 1 }
      renderPeers()
    })
  }
  // ages and expiries move with the clock
  setInterval(tick, 1_000)
  drawLand().catch((err) => { $('map-note').textContent = `The world outline could not be drawn: ${err.message}` })
  const key = storedKey()
  if (key === '') {
    showKeyForm()
  } else {
    // typed once in this tab: connect straight away, the form only comes back if the key is refused
    $('key-form').hidden = true
    connect(key)
  }
}

start()
