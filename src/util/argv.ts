/**
 * yargs reads `--switch=yes` (anything but `true`/`false`) on a boolean flag as false: a typo would
 * silently flip a switch. Both executables refuse such a token with this one check.
 */
export function badBooleanToken (argv: readonly string[], booleans: readonly string[]): { flag: string, value: string } | undefined {
  for (const token of argv) {
    if (token === '--') return undefined
    const match = /^--(?:no-)?([^=]+)=(.*)$/.exec(token)
    const flag = match?.[1]
    const value = match?.[2] ?? ''
    if (flag !== undefined && booleans.includes(flag) && value !== 'true' && value !== 'false') return { flag, value }
  }
  return undefined
}
