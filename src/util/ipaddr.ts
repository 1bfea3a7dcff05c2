/**
 * ipaddr.js is CommonJS with `export =` typings: Node's ESM loader exposes it only as a default
 * export, which TypeScript refuses without `esModuleInterop`. Loading it through `require` keeps
 * both the runtime and the types exact.
 */
import { createRequire } from 'node:module'

export const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof import('ipaddr.js')
