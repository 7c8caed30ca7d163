/**
 * Errors of poisonkit: every error it throws is a `PoisonkitError` with a stable `code`
 * (`ERR_PARSE`, `ERR_INVALID_OPTION`, ...) and a message that names the file and line or the option.
 */

/** An error with a stable, branchable `code`. */
export class PoisonkitError extends Error {
  /** What went wrong, stable across versions: `ERR_PARSE`, `ERR_NON_FINITE`, `ERR_LABEL`, `ERR_FEATURE_INDEX`, `ERR_FILE_NOT_FOUND`, `ERR_DIM_MISMATCH`, `ERR_INVALID_OPTION`, `ERR_INVALID_SPEC`, `ERR_EMPTY_CLASS`, `ERR_INFEASIBLE`, `ERR_SOLVER`, `ERR_ABORTED`, `ERR_MERGE`, `ERR_USAGE`, `ERR_IO`, `ERR_INVALID_ARGUMENT` (a value of the wrong type reached the native layer), `ERR_INTERNAL`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PoisonkitError'
    this.code = code
  }
}

const TAGGED = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/

/** Turns an error from the native addon (`[CODE] message`) into a `PoisonkitError`. */
export function fromNative(err: unknown): unknown {
  if (err instanceof PoisonkitError || !(err instanceof Error)) return err
  const m = TAGGED.exec(err.message)
  if (m) return new PoisonkitError(m[1]!, m[2]!)
  // napi-rs rejects a task whose AbortSignal fired before a worker thread picked it up.
  if (err.message === 'AbortError') return new PoisonkitError('ERR_ABORTED', 'aborted before the work started', { cause: err })
  // Argument conversion errors of napi-rs (a string where a number belongs, ...).
  return new PoisonkitError('ERR_INVALID_ARGUMENT', err.message, { cause: err })
}

/** Calls into the addon, converting its errors. */
export function native<T>(f: () => T): T {
  try {
    return f()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Awaits a promise from the addon, converting its rejection. */
export async function nativeAsync<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Throws `ERR_INVALID_OPTION` for option `name` (an object value is shown by its class). */
export function invalidOption(name: string, value: unknown, rule: string): never {
  const shown = value !== null && typeof value === 'object' && !Array.isArray(value) ? `(${value.constructor?.name ?? 'object'})` : String(value)
  throw new PoisonkitError('ERR_INVALID_OPTION', `option ${name} = ${shown}: ${rule}`)
}

/** " (got a string)" and the like when `value` is defined but not of type `expected`: why "1" is no number. */
function typeNote(value: unknown, expected: string): string {
  return typeof value === expected || value === undefined ? '' : ` (got a ${value === null ? 'null' : typeof value})`
}

/** `value` if it is true, false or undefined, else throws naming the option. */
export function booleanOption(name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') invalidOption(name, value, 'must be true or false')
  return value
}

/** `value` if it is one of `allowed` (or undefined), else throws naming the option and the choices. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value !== undefined && !allowed.includes(value as T)) invalidOption(name, value, `must be one of ${allowed.join(', ')}`)
  return value as T | undefined
}

/** `value` if it is an AbortSignal or undefined, else throws. */
export function signalOption(value: unknown): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) invalidOption('signal', value, 'must be an AbortSignal')
  return value
}

/** Each of `names` in `options` that is present must be a finite number (the options of synthetic data and the like). */
export function numberFields(options: object, names: readonly string[]): void {
  for (const name of names) {
    const value = (options as Record<string, unknown>)[name]
    if (value !== undefined) finiteNumber(name, value)
  }
}

/** `value` if it is an integer label (±1 or a class index), else throws naming the option: 1.5 is no class. */
export function labelOption(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) {
    invalidOption(name, value, `must be a label, ±1 or a class index 0, 1, 2, ...${typeNote(value, 'number')}`)
  }
  return value
}

/** `value` if it has a numeric length (an array or typed array), else throws naming the option. */
export function arrayLike(name: string, value: unknown): ArrayLike<unknown> {
  if (value === null || typeof value !== 'object' || typeof (value as ArrayLike<unknown>).length !== 'number') {
    invalidOption(name, value, 'must be an array or a typed array')
  }
  return value as ArrayLike<unknown>
}

/**
 * `value` copied to a Float64Array if it is an array or typed array of numbers, else throws naming
 * the option or its first element that is no number: '1', null and true would convert silently.
 */
export function numberArray(name: string, value: unknown): Float64Array {
  const a = arrayLike(name, value)
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] !== 'number') invalidOption(`${name}[${i}]`, a[i], `must be a number${typeNote(a[i], 'number')}`)
  }
  return Float64Array.from(a as ArrayLike<number>)
}

/** `value` if it is a finite number, else throws naming the option. */
export function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalidOption(name, value, `must be a finite number${typeNote(value, 'number')}`)
  return value
}

/** `value` if it is a non-negative integer, else throws naming the option. */
export function count(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    invalidOption(name, value, `must be a non-negative integer up to 2^53 − 1${typeNote(value, 'number')}`)
  }
  return value
}

/** `options` if it is an object, else throws naming the function it was passed to. */
export function optionsObject<T>(fn: string, options: T): T {
  if (options === null || typeof options !== 'object') {
    throw new PoisonkitError('ERR_INVALID_ARGUMENT', `${fn}: the options must be an object, got ${options === null ? 'null' : typeof options}`)
  }
  return options
}

/** The first value of `list` that appeared earlier in it, if any. */
export function repeated<T>(list: readonly T[]): T | undefined {
  return list.find((v, i) => list.indexOf(v) !== i)
}
