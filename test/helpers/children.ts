/**
 * Child processes of this test worker, killed if the worker itself is stopped. ava SIGTERMs the
 * worker of a file that timed out, and t.teardown does not run then, so a sidecar, a py-libp2p
 * node or a redis-server started by the file would outlive the whole run (seen: seven py nodes
 * and four sidecars left running after a timed-out template e2e file).
 */
import type { ChildProcess } from 'node:child_process'

const live = new Set<ChildProcess>()
let installed = false

export function killWithWorker (child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => { live.delete(child) })
  if (installed) return
  installed = true
  const killAll = (): void => {
    for (const c of live) {
      try { c.kill('SIGKILL') } catch {}
    }
  }
  process.once('exit', killAll)
  // `once`: the listener is gone when it runs, so the re-raised SIGTERM ends the worker as before.
  process.once('SIGTERM', () => {
    killAll()
    process.kill(process.pid, 'SIGTERM')
  })
}
