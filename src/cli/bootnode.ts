/** `subnet-bootnode` (SPEC §4). Replaced by the real command in the sidecar issue. */
export function main (_argv: readonly string[]): void {
  process.stderr.write('subnet-bootnode: not implemented yet\n')
  process.exitCode = 1
}
