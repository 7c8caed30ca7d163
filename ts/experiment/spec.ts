/**
 * Experiment specs: what to run, as JSON or YAML, checked field by field before any work, and
 * expanded into cells with stable ids.
 *
 * A cell is one (dataset, attack, ε, knowledge, seed) attack scored by one defender (λ, loss,
 * optimizer) against the defenses. Cells that differ only in the defender share their attack
 * (its poison is computed once): that is how the paper's §6.2–6.3 transfer experiments are run.
 * Ids hash the spec's own text of each field (paths as written, not resolved), so the same cell has
 * the same id on every machine and in every shard.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { DECOY_GRIDS, type DecoyGrid } from '../attack.js'
import type { BagOfWordsOptions } from '../dataset.js'
import { DEFENSES, OPTIMIZERS, optimizersFor, type DefenseName, type Optimizer } from '../defense.js'
import { PoisonkitError, repeated } from '../errors.js'
import { UPPER_BOUND_RULE, isUpperBound } from '../feasible.js'

/** The attacks an experiment can run (`-basic`: the paper's basic variants). */
export const ATTACK_NAMES = ['kkt', 'minmax', 'minmax-basic', 'influence', 'influence-basic', 'labelflip', 'alfa'] as const
/** One of `ATTACK_NAMES`. */
export type AttackName = (typeof ATTACK_NAMES)[number]

/** A check of one attack option's value: the rule it breaks, or undefined. */
type OptionRule = (v: unknown) => string | undefined

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const positive: OptionRule = (v) => (isNumber(v) && v > 0 ? undefined : 'must be a positive number')
const nonnegative: OptionRule = (v) => (isNumber(v) && v >= 0 ? undefined : 'must be a number ≥ 0')
const integer = (least: number): OptionRule => (v) => (isNumber(v) && Number.isSafeInteger(v) && v >= least ? undefined : `must be an integer ≥ ${least}`)
const flag: OptionRule = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false')
const listOf = (item: OptionRule, items: string): OptionRule => (v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => item(x) === undefined) ? undefined : `must be a non-empty list of ${items}`
const oneOf = (allowed: readonly string[]): OptionRule => (v) => (typeof v === 'string' && allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}`)

/** Options every attack takes from a spec (the experiment sets data, λ, ε, knowledge and seed), with their rules. */
const COMMON_OPTIONS: Record<string, OptionRule> = {
  grid: oneOf(DECOY_GRIDS),
  quantiles: listOf(positive, 'positive numbers'),
  copies: listOf(integer(1), 'integers ≥ 1'),
  prune: flag,
  upper: (v) => (isUpperBound(v) ? undefined : UPPER_BOUND_RULE),
  round: flag,
  repeats: integer(1),
  roundingTrials: integer(1),
  refine: integer(1),
  optimizer: oneOf(OPTIMIZERS),
  defenses: (v) =>
    listOf(oneOf(DEFENSES), `defense names (${DEFENSES.join(', ')})`)(v) ??
    (repeated(v as string[]) !== undefined ? 'must list each defense once' : undefined),
}
const INFLUENCE_OPTIONS: Record<string, OptionRule> = {
  stepSizes: listOf(positive, 'positive numbers'),
  maxIter: integer(0),
  checkEvery: integer(1),
  patience: integer(1),
  refitEvery: integer(1),
  scoreEvery: integer(1),
  temperature: positive,
  shortlist: integer(0),
}
/** Each attack's own options (see the attack functions' option types). */
const ATTACK_OPTIONS: Record<AttackName, Record<string, OptionRule>> = {
  kkt: { lossPercentile: (v) => (isNumber(v) && v >= 0 && v <= 100 ? undefined : 'must lie in [0, 100]'), refitRounds: integer(0), shortlist: integer(0) },
  minmax: { eta: positive, burn: nonnegative, lossCap: positive, refitEvery: integer(1), shortlist: integer(0) },
  'minmax-basic': { eta: positive, burn: nonnegative, refitEvery: integer(1) },
  influence: INFLUENCE_OPTIONS,
  'influence-basic': INFLUENCE_OPTIONS,
  labelflip: {},
  alfa: { maxIter: integer(1), maxCopies: integer(1) },
}


/** Data of an experiment: files, or the built-in synthetic bag of words split into train and test. */
export interface DatasetSpec {
  /** A short name, used in ids, tables and figures. */
  name: string
  /** Training and test files as written in the spec: `${VAR}` and `${VAR:-default}` are expanded; relative to the spec's folder, or to the current directory when the path starts with a variable. */
  train?: string
  /** The test file, written as `train` is. */
  test?: string
  /** The synthetic corpus instead of files (`makeBagOfWords`), split into train and test. */
  synthetic?: SyntheticSpec
  /** Number of features (svmlight files should declare it). */
  d?: number
  /** The attacker's λ, and the defender's unless `defender.lambda` is given. */
  lambda: number
  /** The decoy grid (default: `enron` for ±1 labels, `mnist` for class indices). */
  grid?: DecoyGrid
}

/** `makeBagOfWords` options plus the test size. */
export interface SyntheticSpec extends BagOfWordsOptions {
  /** Training documents (2000). */
  n?: number
  /** Test documents, drawn after the training ones (1000). */
  nTest?: number
}

/** An attack of the experiment: a name, or a name with options and an optional label. */
export interface AttackSpec {
  /** Which attack. */
  attack: AttackName
  /** How it appears in tables and figures (the attack's name). */
  label: string
  /** The attack function's own options (`KktAttackOptions`, ...), checked by name and value; the experiment sets the data, λ, ε, knowledge and seed. */
  options: Record<string, unknown>
}

/** The defender the poison is scored against. */
export interface DefenderSpec {
  /** λ values (default: each dataset's own). */
  lambda?: number[]
  /** Losses (`['hinge']`): the SVM, or logistic regression (paper §6.3). */
  loss: ('hinge' | 'logistic')[]
  /**
   * Optimizers (default: each dataset's own, `'exact'` for ±1 labels and `'adagrad'` for class
   * indices, as the paper). Binary: `'exact'` to the optimum or `'sgd'`, one seeded pass of SGD
   * (paper §6.3); multi-class: `'adagrad'` (paper §5.7) or `'exact'` (λ > 0).
   */
  optimizer?: Optimizer[]
}

/** The optimizer a defender of `numClasses` classes (0: ±1 labels) trains with when none is asked. */
export function defaultOptimizer(numClasses: number): Optimizer {
  return optimizersFor(numClasses)[0]!
}

/** One defender of a cell. */
export interface Defender {
  /** Its λ. */
  lambda: number
  /** Its loss. */
  loss: 'hinge' | 'logistic'
  /** How it trains (absent: the data's own, `defaultOptimizer`). */
  optimizer?: Optimizer
}

/** A checked spec with every default filled in. */
export interface ExperimentSpec {
  /** The experiment's name (in ids, the report and figures). */
  name: string
  /** What the experiment is for (shown in the report). */
  description?: string
  /** The data sets. */
  datasets: DatasetSpec[]
  /** The attacks. */
  attacks: AttackSpec[]
  /** Poison fractions ε, each in (0, 1). */
  eps: number[]
  /** The attacker's knowledge (`['test']`): of the test set (paper §5) or only of the training set (§6.1). */
  knowledge: ('test' | 'train')[]
  /** Seeds (`[0]`): each gives its own attack run. */
  seeds: number[]
  /** The defenders the poison is scored against (default: the dataset's λ, hinge, the data's own optimizer). */
  defender: DefenderSpec
  /** Defenses of the scoring (all five). */
  defenses: DefenseName[]
  /** Fraction of every class each defense removes (0.05). */
  removeFraction: number
}

/** One unit of work and of results. */
export interface Cell {
  /** A stable id: the same cell has the same id on every machine and in every shard. */
  id: string
  /** Cells with the same `attackId` share one attack run. */
  attackId: string
  /** Its data set. */
  dataset: DatasetSpec
  /** Its attack. */
  attack: AttackSpec
  /** Its ε. */
  eps: number
  /** Its attacker's knowledge. */
  knowledge: 'test' | 'train'
  /** Its seed. */
  seed: number
  /** The defender the poison is scored against. */
  defender: Defender
  /** The defenses that score it. */
  defenses: DefenseName[]
  /** Fraction of every class each defense removes. */
  removeFraction: number
}

function specError(where: string, message: string): never {
  throw new PoisonkitError('ERR_INVALID_SPEC', `${where}: ${message}`)
}

type Json = unknown

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Rejects keys outside `allowed`, naming the first one. */
function onlyKeys(where: string, value: Record<string, Json>, allowed: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) specError(`${where}.${key}`, `unknown field (fields: ${allowed.join(', ')})`)
  }
}

function numberField(where: string, v: Json, rule: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !rule(v)) specError(where, `${JSON.stringify(v)} must be ${what}`)
  return v
}

/** A list field; a single value stands for a list of one. */
function listField<T>(where: string, v: Json, item: (where: string, v: Json) => T, fallback: T[]): T[] {
  if (v === undefined) return fallback
  const items = Array.isArray(v) ? v : [v]
  if (items.length === 0) specError(where, 'must not be empty')
  return items.map((x, i) => item(Array.isArray(v) ? `${where}[${i}]` : where, x))
}

function choiceField<T extends string>(where: string, v: Json, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    specError(where, `${JSON.stringify(v)} must be one of ${allowed.join(', ')}`)
  }
  return v as T
}

/** Expands `${VAR}` and `${VAR:-default}` from the environment. */
function expandVariables(where: string, text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
    const value = process.env[name]
    if (value !== undefined && value !== '') return value
    if (fallback !== undefined) return fallback
    specError(where, `environment variable ${name} is not set (write \${${name}:-default} for a default)`)
  })
}

/**
 * Where a dataset's file is on this machine. A relative path is relative to the spec's folder,
 * unless it starts with a variable (`${POISONKIT_DATA}/enron.train.svm.gz`): a relative value of
 * the variable is then relative to the current directory, as in a shell.
 */
export function resolveDataPath(dataset: DatasetSpec, which: 'train' | 'test', specDir: string, where = 'datasets'): string {
  const written = dataset[which]!
  const path = expandVariables(`${where}.${which}`, written)
  return isAbsolute(path) ? path : resolve(written.startsWith('${') ? process.cwd() : specDir, path)
}

function datasetField(where: string, v: Json, specDir: string): DatasetSpec {
  if (!isObject(v)) specError(where, 'must be an object with name, lambda and train/test files or synthetic')
  onlyKeys(where, v, ['name', 'train', 'test', 'synthetic', 'd', 'lambda', 'grid'])
  if (typeof v.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(v.name)) specError(`${where}.name`, 'must be a name of letters, digits, _, . and -')
  const out: DatasetSpec = { name: v.name, lambda: numberField(`${where}.lambda`, v.lambda, (x) => x >= 0, 'a number ≥ 0') }
  if (v.d !== undefined) out.d = numberField(`${where}.d`, v.d, (x) => Number.isSafeInteger(x) && x > 0, 'a positive integer')
  if (v.grid !== undefined) out.grid = choiceField(`${where}.grid`, v.grid, DECOY_GRIDS)
  if (v.synthetic !== undefined) {
    if (v.train !== undefined || v.test !== undefined) specError(where, 'give train and test files or synthetic, not both')
    if (!isObject(v.synthetic)) specError(`${where}.synthetic`, 'must be an object')
    const s = v.synthetic
    onlyKeys(`${where}.synthetic`, s, ['n', 'nTest', 'd', 'docLength', 'positiveFraction', 'signal', 'seed'])
    const positive = (k: string) => numberField(`${where}.synthetic.${k}`, s[k], (x) => Number.isSafeInteger(x) && x > 0, 'a positive integer')
    const synthetic: NonNullable<DatasetSpec['synthetic']> = {}
    for (const k of ['n', 'nTest', 'd'] as const) if (s[k] !== undefined) synthetic[k] = positive(k)
    for (const k of ['docLength', 'signal'] as const) {
      if (s[k] !== undefined) synthetic[k] = numberField(`${where}.synthetic.${k}`, s[k], (x) => x > 0, 'a positive number')
    }
    if (s.positiveFraction !== undefined) {
      synthetic.positiveFraction = numberField(`${where}.synthetic.positiveFraction`, s.positiveFraction, (x) => x > 0 && x < 1, 'a fraction in (0, 1)')
    }
    if (s.seed !== undefined) synthetic.seed = numberField(`${where}.synthetic.seed`, s.seed, (x) => Number.isSafeInteger(x) && x >= 0, 'a non-negative integer')
    out.synthetic = synthetic
    return out
  }
  for (const which of ['train', 'test'] as const) {
    if (typeof v[which] !== 'string' || v[which] === '') specError(`${where}.${which}`, 'missing: a data file (or give synthetic)')
    out[which] = v[which] as string
    const path = resolveDataPath(out, which, specDir, where)
    if (!existsSync(path)) specError(`${where}.${which}`, `file not found: ${path}`)
  }
  return out
}

function attackField(where: string, v: Json): AttackSpec {
  const spec = typeof v === 'string' ? { attack: v } : v
  if (!isObject(spec)) specError(where, `must be an attack name (${ATTACK_NAMES.join(', ')}) or an object { attack, label?, options? }`)
  onlyKeys(where, spec, ['attack', 'label', 'options'])
  const attack = choiceField(typeof v === 'string' ? where : `${where}.attack`, spec.attack, ATTACK_NAMES)
  if (spec.label !== undefined && (typeof spec.label !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(spec.label))) {
    specError(`${where}.label`, 'must be a name of letters, digits, _, . and - (it is part of the file names)')
  }
  const options = spec.options ?? {}
  if (!isObject(options)) specError(`${where}.options`, 'must be an object of attack options')
  const rules = { ...COMMON_OPTIONS, ...ATTACK_OPTIONS[attack] }
  onlyKeys(`${where}.options`, options, Object.keys(rules))
  for (const [key, value] of Object.entries(options)) {
    const broken = rules[key]!(value)
    if (broken !== undefined) specError(`${where}.options.${key}`, `${JSON.stringify(value)} ${broken}`)
  }
  return { attack, label: (spec.label as string | undefined) ?? attack, options }
}

/**
 * Checks a parsed spec (`specDir`: where relative paths start) and fills in the defaults. Every
 * problem is an `ERR_INVALID_SPEC` naming the field, e.g. `attacks[1].attack`.
 */
export function checkSpec(raw: Json, specDir: string): ExperimentSpec {
  if (!isObject(raw)) specError('spec', 'must be an object')
  onlyKeys('spec', raw, ['name', 'description', 'datasets', 'attacks', 'eps', 'knowledge', 'seeds', 'defender', 'defenses', 'removeFraction'])
  const name = raw.name ?? 'experiment'
  if (typeof name !== 'string' || name === '') specError('name', 'must be a non-empty string')
  if (raw.description !== undefined && typeof raw.description !== 'string') specError('description', 'must be a string')
  if (raw.datasets === undefined) specError('datasets', 'missing: at least one dataset')
  const datasets = listField('datasets', raw.datasets, (w, x) => datasetField(w, x, specDir), [])
  const names = datasets.map((d) => d.name)
  const twice = repeated(names)
  if (twice !== undefined) specError('datasets', `the name ${twice} is used twice`)
  if (raw.attacks === undefined) specError('attacks', 'missing: at least one attack')
  const attacks = listField('attacks', raw.attacks, attackField, [])
  const labels = attacks.map((a) => a.label)
  const label = repeated(labels)
  if (label !== undefined) specError('attacks', `the label ${label} is used twice (give each a label)`)
  const eps = listField('eps', raw.eps, (w, x) => numberField(w, x, (e) => e > 0 && e < 1, 'a fraction in (0, 1)'), [0.03])
  const knowledge = listField<'test' | 'train'>('knowledge', raw.knowledge, (w, x) => choiceField(w, x, ['test', 'train'] as const), ['test'])
  const seeds = listField('seeds', raw.seeds, (w, x) => numberField(w, x, (s) => Number.isSafeInteger(s) && s >= 0, 'a non-negative integer'), [0])
  const d = raw.defender ?? {}
  if (!isObject(d)) specError('defender', 'must be an object { lambda?, loss?, optimizer? }')
  onlyKeys('defender', d, ['lambda', 'loss', 'optimizer'])
  const defender: DefenderSpec = {
    loss: listField<'hinge' | 'logistic'>('defender.loss', d.loss, (w, x) => choiceField(w, x, ['hinge', 'logistic'] as const), ['hinge']),
  }
  if (d.optimizer !== undefined) defender.optimizer = listField('defender.optimizer', d.optimizer, (w, x) => choiceField(w, x, OPTIMIZERS), [])
  if (d.lambda !== undefined) defender.lambda = listField('defender.lambda', d.lambda, (w, x) => numberField(w, x, (l) => l >= 0, 'a number ≥ 0'), [])
  const defenses = listField('defenses', raw.defenses, (w, x) => choiceField(w, x, DEFENSES), [...DEFENSES])
  const defense = repeated(defenses)
  if (defense !== undefined) specError('defenses', `${defense} is listed twice`)
  const removeFraction =
    raw.removeFraction === undefined ? 0.05 : numberField('removeFraction', raw.removeFraction, (p) => p > 0 && p < 1, 'a fraction in (0, 1)')
  const description = raw.description as string | undefined
  return { name, description, datasets, attacks, eps, knowledge, seeds, defender, defenses, removeFraction }
}

/** Reads and checks a spec file (`.json`, `.yaml` or `.yml`). */
export function readSpec(path: string): ExperimentSpec {
  if (!existsSync(path)) throw new PoisonkitError('ERR_FILE_NOT_FOUND', `experiment spec not found: ${path}`)
  const text = readFileSync(path, 'utf8')
  let raw: Json
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text)
  } catch (err) {
    throw new PoisonkitError('ERR_INVALID_SPEC', `${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`)
  }
  try {
    return checkSpec(raw, dirname(resolve(path)))
  } catch (err) {
    if (err instanceof PoisonkitError) throw new PoisonkitError(err.code, `${path}: ${err.message}`)
    throw err
  }
}

/** JSON with object keys sorted, so that equal values hash equally. */
function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (isObject(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

const shortHash = (v: Json) => createHash('sha256').update(canonical(v)).digest('hex').slice(0, 10)

/**
 * The cells of a spec in a fixed order: dataset, attack, ε, knowledge, seed (the attack), then
 * defender λ, loss and optimizer.
 */
export function expandCells(spec: ExperimentSpec): Cell[] {
  const cells: Cell[] = []
  for (const dataset of spec.datasets) {
    for (const attack of spec.attacks) {
      for (const eps of spec.eps) {
        for (const knowledge of spec.knowledge) {
          for (const seed of spec.seeds) {
            const run = { dataset, attack, eps, knowledge, seed }
            const attackId = `${dataset.name}-${attack.label}-eps${eps}-${knowledge}-s${seed}-${shortHash(run)}`
            for (const lambda of spec.defender.lambda ?? [dataset.lambda]) {
              for (const loss of spec.defender.loss) {
                for (const optimizer of spec.defender.optimizer ?? [undefined]) {
                  const defender = { lambda, loss, optimizer }
                  const scoring = { attackId, defender, defenses: spec.defenses, removeFraction: spec.removeFraction }
                  cells.push({
                    id: `${attackId}.lambda${lambda}-${loss}${optimizer === undefined ? '' : `-${optimizer}`}-${shortHash(scoring)}`,
                    attackId,
                    ...run,
                    defender,
                    defenses: spec.defenses,
                    removeFraction: spec.removeFraction,
                  })
                }
              }
            }
          }
        }
      }
    }
  }
  return cells
}

/** A shard `i/N` (0 ≤ i < N). */
export interface Shard {
  /** This shard, from 0. */
  index: number
  /** Shards in all. */
  count: number
}

/**
 * The cells of shard `index` of `count`: whole attacks (every defender of one attack stays in one
 * shard), dealt round-robin in the spec's order.
 */
export function shardCells(cells: Cell[], shard: Shard): Cell[] {
  const attackIds = [...new Set(cells.map((c) => c.attackId))]
  const mine = new Set(attackIds.filter((_, i) => i % shard.count === shard.index))
  return cells.filter((c) => mine.has(c.attackId))
}

/**
 * The shard to run: `--shard i/N` if given, else a Slurm array job's (`SLURM_ARRAY_TASK_ID` −
 * `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes indexed Job's
 * (`JOB_COMPLETION_INDEX` of `shardCount`), else the whole experiment.
 */
export function resolveShard(option: string | undefined, env: Record<string, string | undefined>, shardCount?: number): Shard | undefined {
  const make = (index: number, count: number, source: string): Shard => {
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(count) && count >= 1 && index >= 0 && index < count)) {
      throw new PoisonkitError('ERR_INVALID_OPTION', `${source}: shard ${index} of ${count} is not a shard (need 0 ≤ i < N)`)
    }
    return { index, count }
  }
  if (option !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(option.trim())
    if (!m) throw new PoisonkitError('ERR_INVALID_OPTION', `option --shard = ${option}: must be i/N, e.g. 0/3`)
    return make(Number(m[1]), Number(m[2]), `option --shard = ${option}`)
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
    const min = Number(env.SLURM_ARRAY_TASK_MIN ?? 0)
    return make(Number(env.SLURM_ARRAY_TASK_ID) - min, Number(env.SLURM_ARRAY_TASK_COUNT), 'SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT')
  }
  if (shardCount !== undefined && env.JOB_COMPLETION_INDEX === undefined) {
    throw new PoisonkitError('ERR_USAGE', `option --shard-count = ${shardCount}: for a Kubernetes indexed Job only (JOB_COMPLETION_INDEX is not set); give --shard i/N elsewhere`)
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (shardCount === undefined) {
      throw new PoisonkitError('ERR_USAGE', 'JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job): give the Job\'s completions as --shard-count N')
    }
    return make(Number(env.JOB_COMPLETION_INDEX), shardCount, 'JOB_COMPLETION_INDEX/--shard-count')
  }
  return undefined
}
