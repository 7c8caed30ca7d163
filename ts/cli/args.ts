/**
 * Command-line plumbing shared by every command: option parsing with clear usage errors, typed
 * option values, progress on stderr, and the `error[CODE]: message` exit convention
 * (0 ok, 1 runtime error, 2 usage error).
 */
import { accessSync, constants, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { optimizerMismatch, type Optimizer } from '../defense.js'
import { PoisonkitError, repeated } from '../errors.js'

/** Parses `argv` for a command; unknown or malformed options are usage errors. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  return parseWithPositionals(argv, options, 0).values
}

/** Parses `argv` for a command that also takes up to `most` positional arguments. */
export function parseWithPositionals<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, most: number) {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true })
  } catch (err) {
    throw new PoisonkitError('ERR_USAGE', (err as Error).message)
  }
  if (parsed.positionals.length > most) {
    throw new PoisonkitError('ERR_USAGE', `unexpected argument '${parsed.positionals[most]}'`)
  }
  return parsed as unknown as { values: ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values']; positionals: string[] }
}

/** A required string option. */
export function required(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new PoisonkitError('ERR_USAGE', `missing required option --${name}`)
  return value
}

/** An option that must be a number (optionally > 0, ≥ 0, an integer ≥ 0 or an integer ≥ 1). */
export function numberOption(name: string, value: string, rule: 'positive' | 'nonnegative' | 'count' | 'positive-count' | 'any' = 'any'): number {
  // Decimal notation only: Number() would also take 0x10, 0b1 and 0o7.
  const v = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value) ? Number(value) : NaN
  const bad =
    !Number.isFinite(v) ||
    (rule === 'positive' && !(v > 0)) ||
    (rule === 'nonnegative' && !(v >= 0)) ||
    (rule === 'count' && !(Number.isSafeInteger(v) && v >= 0)) ||
    (rule === 'positive-count' && !(Number.isSafeInteger(v) && v >= 1))
  if (bad) {
    const what = {
      positive: 'a positive number',
      nonnegative: 'a number ≥ 0',
      count: 'a non-negative integer',
      'positive-count': 'an integer ≥ 1',
      any: 'a number',
    }[rule]
    const beyond = (rule === 'count' || rule === 'positive-count') && Number.isInteger(v) && !Number.isSafeInteger(v) && v > 0
    throw new PoisonkitError('ERR_INVALID_OPTION', `option --${name} = ${value}: must be ${what}${beyond ? ' up to 2^53 − 1' : ''}`)
  }
  return v
}

/** A file the command will write, checked before any work (a run can take hours): its folder
 * must exist and be writable, and the path must be neither a folder nor one of the command's
 * `inputs` (option name → path), which writing would destroy. */
export function outputFile(name: string, path: string, inputs: Record<string, string | undefined> = {}): string {
  const folder = dirname(resolve(path))
  const bad = (why: string) => new PoisonkitError('ERR_INVALID_OPTION', `option --${name} = ${path}: ${why}`)
  for (const [input, file] of Object.entries(inputs)) {
    if (file !== undefined && resolve(file) === resolve(path)) throw bad(`is also --${input}, which writing would overwrite`)
  }
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw bad('is a folder, not a file')
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw bad(`its folder ${folder} does not exist`)
  try {
    accessSync(folder, constants.W_OK)
  } catch {
    throw bad(`its folder ${folder} is not writable`)
  }
  return path
}

/** An option restricted to a list of values; `list`, when `value` is an item of a list option. */
export function choice<T extends string>(name: string, value: string, allowed: readonly T[], list?: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    const what = list === undefined ? `${value}: must be` : `${list}: '${value}' is not`
    throw new PoisonkitError('ERR_INVALID_OPTION', `option --${name} = ${what} one of ${allowed.join(', ')}`)
  }
  return value as T
}

/** `--optimizer`, once the data (of `numClasses` classes, 0 for ±1 labels) are read: one that trains
 * their defender at `lambda`. */
export function dataOptimizer(value: Optimizer | undefined, numClasses: number, lambda: number): Optimizer | undefined {
  const mismatch = value === undefined ? undefined : optimizerMismatch(value, numClasses, lambda, 'the training data')
  if (mismatch !== undefined) throw new PoisonkitError('ERR_INVALID_OPTION', `option --optimizer: ${mismatch}`)
  return value
}

/** A comma-separated list of values from `allowed`, each at most once. */
export function listOption<T extends string>(name: string, value: string, allowed: readonly T[]): T[] {
  const list = value.split(',').map((v) => choice(name, v.trim(), allowed, value))
  const twice = repeated(list)
  if (twice !== undefined) throw new PoisonkitError('ERR_INVALID_OPTION', `option --${name} = ${value}: ${twice} is listed twice`)
  return list
}

/** Prints a progress line on stderr when it is a terminal (never on stdout). */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${message}\n`)
}

/** Exit code for an error: 2 for usage, option and spec errors, 1 otherwise. */
export function exitCode(err: unknown): number {
  return err instanceof PoisonkitError && ['ERR_USAGE', 'ERR_INVALID_OPTION', 'ERR_INVALID_SPEC'].includes(err.code) ? 2 : 1
}

/**
 * `err` with the library's option name (`roundingTrials`) turned into the command's flag
 * (`--rounding-trials`) when `usage` lists that flag; other errors as they are.
 */
export function withFlagNames(err: unknown, usage: string): unknown {
  if (!(err instanceof PoisonkitError) || err.code !== 'ERR_INVALID_OPTION') return err
  const m = /^option ([A-Za-z]\w*)/.exec(err.message)
  if (!m) return err
  const flag = `--${m[1]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
  if (!new RegExp(`${flag}(?![\\w-])`).test(usage)) return err
  return new PoisonkitError(err.code, `option ${flag}${err.message.slice(m[0].length)}`)
}

/** `error[CODE]: message`, the only thing the CLI prints for an error. */
export function formatError(err: unknown): string {
  if (err instanceof PoisonkitError) return `error[${err.code}]: ${err.message}`
  return `error[ERR_INTERNAL]: ${err instanceof Error ? err.message : String(err)}`
}
