/** `subnet-add-api-key` (SPEC §3). */
export function main (_argv: readonly string[]): void {
  process.stderr.write('subnet-add-api-key: not implemented yet\n')
  process.exitCode = 1
}
