/**
 * A raw `/v1/watch` client for the tests and the benchmark: one HTTP request on its own
 * connection (optionally from another 127.0.0.x), its Server-Sent Events parsed as they arrive.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { waitFor } from './wait.js'

export interface SseEvent {
  event: string
  id?: string
  data: string
  /** performance.now() when the event's last line arrived. */
  at: number
}

export interface SseStream {
  status: number
  headers: IncomingHttpHeaders
  /** Every event so far, in order. */
  events: SseEvent[]
  /** Comment lines (`: keep-alive`) so far. */
  comments: string[]
  /** The body of a non-200 answer, or of a stream once it ended. */
  body: () => string
  /** True once the server ended the response. */
  ended: () => boolean
  /** Waits (bounded) for an event matching `match` at or after index `from`. */
  next: (match: (e: SseEvent) => boolean, opts?: { from?: number, timeoutMs?: number }) => Promise<SseEvent>
  close: () => void
}

export interface OpenWatchOptions {
  localAddress?: string
  path?: string
  /** Called with each event as it is parsed (the benchmark times arrivals without polling). */
  onEvent?: (e: SseEvent) => void
  /** Keep events in `events`. Default true; the benchmark turns it off to stay small. */
  keep?: boolean
}

export async function openWatch (port: number, key: string | undefined, opts: OpenWatchOptions = {}): Promise<SseStream> {
  return await new Promise<SseStream>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: opts.path ?? '/v1/watch',
      headers: key === undefined ? {} : { 'X-API-Key': key },
      agent: false,
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress })
    }, (res) => {
      const events: SseEvent[] = []
      const comments: string[] = []
      let raw = ''
      let pending = ''
      let ended = false
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        raw += chunk
        pending += chunk
        let cut: number
        while ((cut = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, cut)
          pending = pending.slice(cut + 2)
          const e: SseEvent = { event: 'message', data: '', at: performance.now() }
          let isEvent = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { comments.push(line.slice(1).trim()); continue }
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            isEvent = true
            if (field === 'event') e.event = value
            else if (field === 'id') e.id = value
            else if (field === 'data') e.data = e.data === '' ? value : `${e.data}\n${value}`
          }
          if (isEvent) {
            if (opts.keep !== false) events.push(e)
            opts.onEvent?.(e)
          }
        }
        // the raw text is kept only for non-stream answers and the tail, so 200 streams stay small
        if (raw.length > 1_000_000) raw = raw.slice(-1000)
      })
      res.on('end', () => { ended = true })
      res.on('close', () => { ended = true })
      res.on('error', () => { ended = true })
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        body: () => raw,
        ended: () => ended,
        next: async (match, o = {}) => await waitFor(() => events.slice(o.from ?? 0).find(match), { timeoutMs: o.timeoutMs ?? 5_000, intervalMs: 10, what: 'an SSE event' }),
        close: () => { req.destroy() }
      })
    })
    req.setTimeout(10_000, () => { req.destroy(new Error('watch: no response headers within 10 s')) })
    req.on('error', reject)
    req.end()
  })
}
