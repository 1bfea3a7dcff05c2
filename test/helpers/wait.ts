/**
 * The one polling helper of the tests (STYLE rule 9): poll for the state you expect, with a
 * bound, instead of sleeping a fixed time and hoping.
 */

export interface WaitOptions {
  /** Give up after this long. Default 15 s. */
  timeoutMs?: number
  /** Pause between checks. Default 50 ms. */
  intervalMs?: number
  /** Named in the timeout error: "timed out after 15000 ms waiting for <what>". */
  what?: string
}

/**
 * Calls `check` every `intervalMs` until it returns something other than `undefined`, `null` or
 * `false`, and returns that. A check that throws counts as "not yet" (the state may not exist
 * yet); after `timeoutMs` it throws, naming `what` and the last error, which fails the test.
 * A boolean check therefore resolves to `true` or fails the test.
 */
export async function waitFor<T> (check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const intervalMs = opts.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) break
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  const cause = last instanceof Error ? `: ${last.message}` : ''
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${cause}`)
}
