import test from 'ava'
import { COMMANDS, envName, FLAGS, flagsOf, parseConfig, shownDefault } from '../../src/config/index.js'
import { packageVersion } from '../../src/util/package-version.js'
import type { Command } from '../../src/config/index.js'

function helpOf (argv: string[]): string {
  const result = parseConfig(argv, {}, '/')
  if (result.command !== 'help') throw new Error(`expected help text, got ${result.command}`)
  return result.text
}

/** yargs wraps long lines; compare with runs of spaces and line breaks collapsed. */
const flat = (text: string): string => text.replace(/\s+/g, ' ')

for (const command of COMMANDS) {
  test(`'${command} --help' lists every flag of ${command} with its default, and no other`, t => {
    const help = flat(helpOf([command, '--help']))
    for (const flag of flagsOf(command)) {
      t.true(help.includes(`--${flag.name} `), `--${flag.name} listed`)
      t.true(help.includes(flag.describe.replace(/\s+/g, ' ')), `--${flag.name} described`)
      const shown = flag.name === 'version-string' ? packageVersion() : shownDefault(flag, command)
      if (shown !== undefined) t.true(help.includes(`[default: ${shown}]`), `--${flag.name} default ${shown}`)
    }
    for (const flag of FLAGS.filter(f => !f.commands.includes(command))) {
      t.false(help.includes(`--${flag.name} `), `--${flag.name} is not a flag of ${command}`)
    }
  })
}

test('the top-level help is run\'s flags, names the three sub-commands and explains the variables', t => {
  const help = flat(helpOf(['--help']))
  for (const flag of flagsOf('run')) t.true(help.includes(`--${flag.name} `), `--${flag.name} listed`)
  for (const command of COMMANDS) t.true(help.includes(`subnet-bootnode ${command} `), command)
  t.true(help.includes(envName('api-port')))
  t.true(help.includes('A flag wins over its variable'))
})

test('every flag has a default or says what happens when it is unset, for each of its sub-commands', t => {
  for (const flag of FLAGS) {
    for (const command of flag.commands) {
      const shown = flag.name === 'version-string' ? packageVersion() : shownDefault(flag, command as Command)
      t.truthy(shown, `--${flag.name} under ${command}`)
    }
  }
})

test('every default parses (the defaults go through the same parsers as typed values)', t => {
  for (const command of COMMANDS) {
    const argv = command === 'demo' ? ['demo'] : [command, '--subnet-id', 'x']
    t.is(parseConfig(argv, {}, '/').command, command)
  }
})
