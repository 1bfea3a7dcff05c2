/** File-system helpers of the tests: a temporary directory that is removed in teardown, a FIFO. */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { ExecutionContext } from 'ava'

/** A new directory under the OS temp dir, removed (with its content) in `t.teardown`. */
export async function tempDir (t: ExecutionContext, prefix = 'sbn-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A real FIFO at `path` (the `mkfifo` tool: Node has no mkfifo), to check a reader refuses it without blocking. */
export async function mkfifo (path: string): Promise<void> {
  await promisify(execFile)('mkfifo', [path])
}
