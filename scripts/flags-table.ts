/**
 * Prints the README's flag table (Markdown) from the one flag table in src/config/flags.ts, so the
 * docs cannot drift from `--help`:  node --import tsx scripts/flags-table.ts
 */
import '../src/polyfill.js'
import { COMMANDS, envName, FLAGS, shownDefault } from '../src/config/index.js'
import { packageVersion } from '../src/util/package-version.js'
import type { FlagSpec } from '../src/config/index.js'

const cell = (text: string): string => text.replaceAll('|', '\\|')

/** `(text)` is prose, anything else a value; sub-commands with the same default share one entry. */
function defaults (flag: FlagSpec): string {
  const byDefault = new Map<string, string[]>()
  for (const command of flag.commands) {
    const shown = flag.name === 'version-string' ? packageVersion() : shownDefault(flag, command) ?? ''
    byDefault.set(shown, [...(byDefault.get(shown) ?? []), command])
  }
  const format = (shown: string): string => shown.startsWith('(') ? shown.slice(1, -1) : `\`${shown}\``
  if (byDefault.size === 1) return format([...byDefault.keys()][0] ?? '')
  return [...byDefault].map(([shown, commands]) => `${commands.join(', ')}: ${format(shown)}`).join('; ')
}

const rows = FLAGS.map(flag => {
  const name = flag.kind === 'boolean' ? `\`--${flag.name}\` / \`--no-${flag.name}\`` : `\`--${flag.name}\``
  const commands = flag.commands.length === COMMANDS.length ? 'all' : flag.commands.join(', ')
  return `| ${name} | \`${envName(flag.name)}\` | ${commands} | ${cell(defaults(flag))} | ${cell(flag.describe)} |`
})

process.stdout.write([
  '| Flag | Environment variable | Sub-commands | Default | What it does |',
  '|---|---|---|---|---|',
  ...rows,
  ''
].join('\n'))
