/**
 * The metrics registry (SPEC §1 `/metrics`): the composition root creates one and hands it to
 * every component, which registers its own series on it (STYLE: a component owns its metrics).
 */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client'

/** A registry with Node's process metrics; one per sidecar, so tests and several sidecars coexist. */
export function createMetricsRegistry (): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}

/**
 * A counter whose counts a component keeps itself (by one label, e.g. `reason`), copied into
 * the registry at each scrape.
 */
export function registerMirroredCounter (registry: Registry, name: string, help: string, label: string, read: () => Record<string, number>): void {
  // eslint-disable-next-line no-new
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect () {
      this.reset()
      for (const [value, n] of Object.entries(read())) {
        if (Number.isFinite(n) && n >= 0) this.inc({ [label]: value }, n)
      }
    }
  })
}
