#!/usr/bin/env node
/** The `poisonkit` command: dispatches to a subcommand and applies the exit-code convention. */
import { readFileSync } from 'node:fs'
import { PoisonkitError } from './errors.js'
import { exitCode, formatError, withFlagNames } from './cli/args.js'
import * as attack from './cli/attack.js'
import * as demo from './cli/demo.js'
import * as evaluateCommand from './cli/evaluate.js'
import * as experiment from './cli/experiment.js'
import * as exportCommand from './cli/export.js'
import * as results from './cli/results.js'
import * as trainCommand from './cli/train.js'

/** A subcommand: its usage, optionally a narrower help for its arguments, and its action. */
interface Command {
  usage: string
  help?: (argv: string[]) => string
  run: (argv: string[]) => Promise<void>
}

const commands: Record<string, Command> = {
  attack,
  demo,
  evaluate: evaluateCommand,
  experiment,
  export: exportCommand,
  merge: { usage: results.mergeUsage, run: results.merge },
  plot: { usage: results.plotUsage, run: results.plot },
  train: trainCommand,
}

const overview = `poisonkit <command> [options]

Data-poisoning attacks and sanitization defenses on linear classifiers.

Commands:
${Object.values(commands)
  .map((c) => '  ' + c.usage.split('\n')[0])
  .join('\n')}

Run 'poisonkit <command> --help' for a command's options.`

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview + '\n')
    return
  }
  if (name === '--version' || name === '-V') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    process.stdout.write(`${pkg.version}\n`)
    return
  }
  const command = commands[name]
  if (!command) throw new PoisonkitError('ERR_USAGE', `unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`)
  const usage = command.help?.(rest) ?? command.usage
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(usage + '\n')
    return
  }
  // The library's errors name its options; on the command line, the flags.
  await command.run(rest).catch((err: unknown) => {
    throw withFlagNames(err, usage)
  })
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(formatError(err) + '\n')
  process.exitCode = exitCode(err)
})
