/**
 * The attacks with decoy parameters: decoys with high test error and low clean loss (paper
 * Algorithm 3), then
 * - the KKT attack (§4.2, Algorithm 4): per decoy and class split (ε₊, ε₋), two poison points whose
 *   hinge gradients make the decoy optimal for the defender, inside the feasible set the defenses
 *   cannot see past; candidates scored by the attack-time defenses (L2, slab, loss, as the reference),
 *   the best few (`shortlist`) again by all five;
 * - the min-max attack (§4.3, Algorithm 5): per decoy, online steps on the defender against the
 *   feasible point of highest loss, kept within a loss cap under the decoy; candidates scored by all
 *   five defenses; `basic: true` runs it once without a decoy (min-max-basic).
 * - the influence attack (§4.1, Algorithm 2): gradient ascent on the poison's features through the
 *   implicit function theorem, two points with copies (or `basic: true`, round(εn) separate ones),
 *   optionally refitting the feasible set every `refitEvery` steps (Algorithm 1);
 * - the label-flip baselines (Appendix D): random feasible label flips and alfa.
 * The candidate with the highest minimum test error wins and is evaluated against all five defenses.
 */
import * as addon from '../native/index.js'
import { Dataset, datasetOption } from './dataset.js'
import { defenseList, toEvaluation, type DefenseName, type Evaluation, type Optimizer } from './defense.js'
import { FeasibleSet, UPPER_BOUND_RULE, isUpperBound, type UpperBound } from './feasible.js'
import { PoisonkitError, booleanOption, count, finiteNumber, invalidOption, native, nativeAsync, numberFields, oneOf, optionsObject, signalOption } from './errors.js'

/** The decoy grids: the reference's quantiles and copy counts per data set. */
export const DECOY_GRIDS = ['enron', 'imdb', 'mnist17', 'mnist', 'dogfish'] as const
/** One of `DECOY_GRIDS`. */
export type DecoyGrid = (typeof DECOY_GRIDS)[number]

/** Where a running attack is. */
export interface AttackProgress {
  /** `'decoys'` while fitting the decoy parameters, `'candidates'` during the sweep, `'shortlist'` while
   * the shortlist is scored again by all five defenses, `'evaluation'` while the winner is evaluated on the test set (the sweep's numbers). */
  phase: 'decoys' | 'candidates' | 'shortlist' | 'evaluation'
  /** Candidates scored so far (and the shortlist's, scored again). */
  done: number
  /** Candidates in all (and the shortlist's). */
  total: number
  /** The best minimum test error so far, as scored by the attacker: over the scoring defenses in the
   * sweep; in the shortlist over all five, once its first program is scored. */
  best: number
  /** Seconds since the sweep started. */
  seconds: number
}

/** Options of both attacks. */
export interface AttackOptions {
  /** Clean training data (binary labels ±1). */
  train: Dataset
  /** Test data. */
  test: Dataset
  /** λ of the defender (Enron 0.09, IMDB and MNIST-1-7 0.01). */
  lambda: number
  /** Poison fraction ε: round(ε·n) poison points. */
  eps: number
  /** The attacker's knowledge: `'test'` (paper §5, the default) or `'train'` (§6.1: decoys from and candidates scored on the clean training data). */
  knowledge?: 'test' | 'train'
  /** The decoy grid and the reference's settings for that data set: `'enron'` (the default for ±1 labels), `'imdb'`, `'mnist17'`, `'mnist'` (the default for class indices) or `'dogfish'`. */
  grid?: DecoyGrid
  /** Quantiles q of the dev margins, replacing the grid's. */
  quantiles?: number[]
  /** Copies r of the flipped points, replacing the grid's. */
  copies?: number[]
  /** Keep only the Pareto front of the decoys (KKT: false, as the reference's Enron KKT uses all 99; min-max: true, as the reference's 48, but false with `knowledge: 'train'`, as the reference's runs on the training set). */
  prune?: boolean
  /** The feasible set (default: fitted on the clean data with the 90th-percentile radii, the box below and, when rounding, the LP relaxation; influence-basic: the 80th-percentile radii and no LP relaxation, as the reference's baseline). */
  set?: FeasibleSet
  /** Upper end of the default set's box: a number, `'column-max'` (the Python reference's X_max; the default for count data, else none) or `'data-range'` (the MATLAB min-max's). The fast KKT solver needs a finite box. */
  upper?: UpperBound
  /** Round the poison to integers (default: when the clean data are non-negative integers). */
  round?: boolean
  /** KKT: rounding group size, copies that share one rounding (2, the reference's README; its code's 1 is caught by the SVD defense on Enron). Min-max: copies of each round's point, each rounded on its own (2 when the poison is rounded, the reference's `att_rep`; otherwise 1, as the paper repeats points for integer data only, §4.3.2). Influence: rounding group size (2). */
  repeats?: number
  /** For integer data, roundings tried for each leading candidate after the sweep, the best kept (KKT and influence: 8, fresh roundings of its points; min-max: 8, games played again with fresh roundings; 1: the reference's single rounding). */
  roundingTrials?: number
  /** How many leading candidates get the extra roundings (KKT 5, min-max and influence 4). */
  refine?: number
  /** Score every candidate under every scoring defense, for a read per defense (default false:
   * a candidate that can no longer win or lead stops at the defense that shows it, `partial`). */
  scoreAll?: boolean
  /** Defenses that score the candidates (KKT: `['l2', 'slab', 'loss']`, as the reference; min-max: all five). */
  defenses?: DefenseName[]
  /** How many of the best work items by `defenses` (KKT programs, min-max decoys, influence snapshots; each by its best rounding) are scored again by all five, the best of them by that score winning (KKT 4; min-max and influence 0, as their `defenses` are all five unless narrowed for speed; 0: `defenses` alone select, as the reference). No effect when `defenses` are all five or the data are multi-class. */
  shortlist?: number
  /** Defenses of the final evaluation on the test set (those of `evaluate`: all five; L2 and loss for multi-class data). */
  evaluationDefenses?: DefenseName[]
  /** How the defender the candidates are scored against, and the winner evaluated by, trains (`evaluate`'s
   * `optimizer`). ±1 labels: `'exact'` to its optimum (default) or `'sgd'`, one pass of SGD (paper §6.3).
   * Class indices: `'adagrad'`, the paper's (default), or `'exact'`, the Crammer–Singer optimum at λ > 0.
   * The attack's own machinery (decoys, games, programs) is unchanged. */
  optimizer?: Optimizer
  /** Seed of the decoy order, the rounding and every evaluation (the SVD defense, the defender's order of points), as `evaluate`'s (0). */
  seed?: number
  /** Called with the progress, at most every `progressInterval` ms and once at the end of each phase. */
  onProgress?: (p: AttackProgress) => void
  /** Milliseconds between progress reports (100). */
  progressInterval?: number
  /** Stops the attack; the promise rejects with `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** Options of `kktAttack`. */
export interface KktAttackOptions extends AttackOptions {
  /** Percentile of the clean losses under the decoy used as the loss caps (90). */
  lossPercentile?: number
  /** Solve each candidate's program this many more times, against its sets refitted on clean + its poison (iterative optimization, Algorithm 1; 0). */
  refitRounds?: number
}

/** Options of `minmaxAttack`. */
export interface MinmaxAttackOptions extends AttackOptions {
  /** Min-max-basic (Steinhardt et al. 2017): one run without decoy and loss cap (false). */
  basic?: boolean
  /** AdaGrad step on the defender (0.03, the reference's `eta_mm`). */
  eta?: number
  /** Burn-in points as a multiple of round(εn) (max(1, 0.10/ε − 1), the reference's rule for Enron). */
  burn?: number
  /** The loss cap τ: poison keeps hinge loss ≤ τ under the decoy (0.25). */
  lossCap?: number
  /** Refit the feasible set on clean + the game's last round(εn) points every this many rounds (iterative optimization, Algorithm 1; default: never). */
  refitEvery?: number
}

/** Options of `influenceAttack` (the decoy options do not apply). */
export interface InfluenceAttackOptions extends AttackOptions {
  /** influence-basic: round(εn) separate points from random feasible label flips (false: two points with copies in inverse class balance). */
  basic?: boolean
  /** One trajectory per step size, run in parallel; the best-scored snapshot wins ([0.1, 0.3]: the reference's 0.1 and a larger one, as the paper picks the step size on the test set). */
  stepSizes?: number[]
  /** At most this many gradient steps per trajectory (10000, the reference's). */
  maxIter?: number
  /** Steps between readings of the smoothed test loss (10). */
  checkEvery?: number
  /** Stop after this many readings in a row without a new highest test loss (2). */
  patience?: number
  /** Refit the feasible set on clean + poison every this many steps (iterative optimization, Algorithm 1; default: never). */
  refitEvery?: number
  /** Steps between scorings of the poison by the defenses, the points of the anytime curve (50). */
  scoreEvery?: number
  /** Temperature t of the smoothed hinge the attack differentiates (0.001). */
  temperature?: number
}

/** The result of the influence attack. */
export interface InfluenceAttackResult extends AttackResult {
  decoy: null
  /** The winning snapshot's step size and gradient steps. */
  stepSize: number
  /** The winning snapshot's gradient steps. */
  iteration: number
}

/** Options of `alfaAttack`. */
export interface AlfaAttackOptions extends AttackOptions {
  /** Rounds of SVM + LP at most (100). */
  maxIter?: number
  /** Copies of one pool point at most (default: no cap, as the reference: all copies on one point). */
  maxCopies?: number
}

/** A point of an anytime curve (paper Figure 4). */
export interface CurvePoint {
  /** Seconds since the sweep started. */
  seconds: number
  /** The best minimum test error found by then (a fraction). */
  minError: number
}

/** One scored candidate of a sweep. */
export interface CandidateScore {
  /** Index of its decoy in the decoy list (null without decoy). */
  decoy: number | null
  /** Poison with label +1, as a fraction of n. */
  epsPos: number
  /** Poison with label −1, as a fraction of n. */
  epsNeg: number
  /** Its trajectory's step size (influence attack only). */
  stepSize?: number
  /** Gradient steps before it (influence attack only). */
  iteration?: number
  /** Test error on the attacker's dev data under each scoring defense (the attack-time defenses),
   * run cheapest first. */
  errors: Partial<Record<DefenseName, number>>
  /** The minimum over the scoring defenses: the candidate's score in the sweep and the anytime curve (an upper bound of it if `partial`). */
  minError: number
  /** For a candidate of the shortlist, the minimum over all five defenses (then in `errors`): the shortlist competes on it. */
  shortlistMin?: number
  /** Scoring stopped before the last defense because the minimum so far was already below the
   * winner's score (or, when leaders are refined, the last leader's): the candidate could
   * neither win nor lead, so the selection is that of a full scoring. */
  partial: boolean
  /** Seconds from the start of the sweep to its end. */
  seconds: number
}

/** A work item (a decoy and split, a game, a trajectory) that a solver failure ended: it yielded
 * no candidate (a trajectory: none after the failure), and the sweep went on without it. */
export interface AttackFailure {
  /** The work item, e.g. `decoy 12, ε₊ 0.0050, ε₋ 0.0250` or `step size 0.1, step 40`. */
  what: string
  /** Why it yielded no candidate: `ERR_SOLVER` (its solver stopped without a solution) or
   * `ERR_INFEASIBLE` (its feasible sets were empty, e.g. a min-max decoy whose loss cap leaves no
   * point in any class's set). */
  code: 'ERR_SOLVER' | 'ERR_INFEASIBLE'
  /** The solver's status, e.g. `NumericalError` (`ERR_SOLVER` only). */
  status?: string
  /** The whole message: the solver, its status and its iterations, or the empty set and why. */
  message: string
}

/** The winning decoy parameters. */
export interface DecoyInfo {
  /** Index in the decoy list (sorted by test error, highest first). */
  index: number
  /** Quantile q of the dev margins below which the points were flipped. */
  quantile: number
  /** Copies r of each flipped point in the decoy's training set. */
  copies: number
  /** Dev points flipped. */
  flipped: number
  /** Mean hinge loss on the clean training data. */
  trainLoss: number
  /** Test error of the decoy itself. */
  testError: number
}

/** The result of an attack. */
export interface AttackResult {
  /** The poison points. */
  poison: Dataset
  /** The winner's decoy (null for min-max-basic). */
  decoy: DecoyInfo | null
  /** Poison with label +1, as a fraction of n (the clean points). With class indices as labels the
   * split means nothing (it counts class 1 against the others): read `poison.classCounts`. */
  epsPos: number
  /** Poison with label −1, as a fraction of n. */
  epsNeg: number
  /** How the winner scored when it was selected (the attack-time defenses, all five for the shortlist, on the attacker's dev data). */
  selection: Evaluation
  /** The poison against `evaluationDefenses` on the test set, as `evaluate` with the attack's λ and seed gives it
   * (the same numbers: when the selection was this very evaluation, as the KKT shortlist's on the test set, it is reused). */
  evaluation: Evaluation
  /** Best-so-far minimum error against seconds since the sweep started (paper Figure 4). */
  curve: CurvePoint[]
  /** Every candidate scored, in sweep order: a defense-targeted attacker picks the best under its defense (paper §5.7 reports MNIST per defense). */
  candidates: CandidateScore[]
  /** The work items that yielded no candidate (a solver failure, empty sets), in sweep order
   * (the attack fails, with the first one's error, only when no candidate is left). */
  failures: AttackFailure[]
  /** Decoys tried. */
  decoys: number
  /** Whether the poison was rounded to integers. */
  round: boolean
  /** Seconds in all: decoys, sweep and final evaluation. */
  seconds: number
}

/** The result of the KKT attack: round(ε₊n) copies of x₊ then the rest of x₋. */
export interface KktAttackResult extends AttackResult {
  decoy: DecoyInfo
  /** ‖g − ε₊x₊ + ε₋x₋‖ of the winning program. */
  residual: number
}

/** The number of poison points every attack makes at fraction `eps` of `train`: round(ε·n), an `ERR_INVALID_OPTION` unless at least 1. */
export function poisonCount(train: Dataset, eps: number): number {
  return native(() => addon.poisonCount(datasetOption('train', train).handle, finiteNumber('eps', eps)))
}

/** Runs the KKT attack off the main thread. */
export async function kktAttack(options: KktAttackOptions): Promise<KktAttackResult> {
  optionsObject('kktAttack', options)
  if (options.lossPercentile !== undefined && !(finiteNumber('lossPercentile', options.lossPercentile) >= 0 && options.lossPercentile <= 100)) {
    invalidOption('lossPercentile', options.lossPercentile, 'must lie in [0, 100]')
  }
  if (options.refitRounds !== undefined) count('refitRounds', options.refitRounds)
  const own = { lossPercentile: options.lossPercentile, refitRounds: options.refitRounds }
  const { stepSize: _step, iteration: _iteration, ...result } = await run(addon.kktAttack, options, own)
  return { ...result, decoy: result.decoy!, residual: result.residual! }
}

/** Runs the min-max attack off the main thread: every decoy (or none, with `basic`), in parallel. */
export async function minmaxAttack(options: MinmaxAttackOptions): Promise<AttackResult> {
  optionsObject('minmaxAttack', options)
  booleanOption('basic', options.basic)
  numberFields(options, ['eta', 'burn', 'lossCap'])
  if (options.refitEvery !== undefined) count('refitEvery', options.refitEvery)
  const { basic, eta, burn, lossCap, refitEvery } = options
  const own = { basic, eta, burn, lossCap, refitEvery }
  const { residual: _residual, stepSize: _step, iteration: _iteration, ...result } = await run(addon.minmaxAttack, options, own)
  return result
}

/**
 * Runs the influence attack off the main thread: per step size, gradient steps on the poison
 * scored every `scoreEvery` steps by the defenses.
 */
export async function influenceAttack(options: InfluenceAttackOptions): Promise<InfluenceAttackResult> {
  optionsObject('influenceAttack', options)
  booleanOption('basic', options.basic)
  if (options.stepSizes !== undefined) {
    if (!Array.isArray(options.stepSizes) || options.stepSizes.length === 0) invalidOption('stepSizes', options.stepSizes, 'must be a non-empty list of positive numbers')
    options.stepSizes.forEach((v, i) => {
      if (!(finiteNumber(`stepSizes[${i}]`, v) > 0)) invalidOption(`stepSizes[${i}]`, v, 'must be a positive number')
    })
  }
  for (const name of ['maxIter', 'checkEvery', 'patience', 'refitEvery', 'scoreEvery'] as const) {
    if (options[name] !== undefined) count(name, options[name])
  }
  if (options.temperature !== undefined && !(finiteNumber('temperature', options.temperature) > 0)) {
    invalidOption('temperature', options.temperature, 'must be a positive number')
  }
  const { basic, stepSizes, maxIter, checkEvery, patience, refitEvery, scoreEvery, temperature } = options
  const own = { basic, stepSizes, maxIter, checkEvery, patience, refitEvery, scoreEvery, temperature }
  const { residual: _residual, stepSize, iteration, ...result } = await run(addon.influenceAttack, options, own)
  return { ...result, decoy: null, stepSize: stepSize!, iteration: iteration! }
}

/** Random feasible label flips: round(εn) flipped dev points drawn with replacement from those inside the feasible set. */
export async function labelFlipAttack(options: AttackOptions): Promise<AttackResult> {
  optionsObject('labelFlipAttack', options)
  const { residual: _residual, stepSize: _step, iteration: _iteration, ...result } = await run(addon.labelFlipAttack, options, {})
  return result
}

/** alfa (Xiao et al. 2012) as adapted in the paper's Appendix D: copies of flipped dev points inside the feasible set, chosen by alternating a weighted SVM and an LP. */
export async function alfaAttack(options: AlfaAttackOptions): Promise<AttackResult> {
  optionsObject('alfaAttack', options)
  for (const name of ['maxIter', 'maxCopies'] as const) {
    if (options[name] !== undefined) count(name, options[name])
  }
  const { maxIter, maxCopies } = options
  const { residual: _residual, stepSize: _step, iteration: _iteration, ...result } = await run(addon.alfaAttack, options, { maxIter, maxCopies })
  return result
}

type NativeAttack = typeof addon.kktAttack

/** Validates the shared options, runs `attack` with progress reports, evaluates the winner. */
async function run(
  attack: NativeAttack,
  options: AttackOptions,
  own: Partial<addon.AttackOptions>,
): Promise<AttackResult & { residual?: number; stepSize?: number; iteration?: number }> {
  const started = performance.now()
  const { signal, onProgress } = options
  const train = datasetOption('train', options.train)
  const test = datasetOption('test', options.test)
  if (options.set !== undefined && !(options.set instanceof FeasibleSet)) invalidOption('set', options.set, 'must be a FeasibleSet (FeasibleSet.fromClean)')
  const lambda = finiteNumber('lambda', options.lambda)
  if (!(lambda >= 0)) invalidOption('lambda', lambda, 'must be a number ≥ 0 (0 only for the multi-class defender)')
  const eps = finiteNumber('eps', options.eps)
  if (!(eps > 0 && eps < 1)) invalidOption('eps', eps, 'must lie in (0, 1)')
  oneOf('knowledge', options.knowledge, ['test', 'train'])
  oneOf('grid', options.grid, DECOY_GRIDS)
  for (const [name, list] of [['quantiles', options.quantiles], ['copies', options.copies]] as const) {
    if (list === undefined) continue
    if (!Array.isArray(list) || list.length === 0) invalidOption(name, list, 'must be a non-empty list of numbers')
    list.forEach((v, i) => finiteNumber(`${name}[${i}]`, v))
  }
  for (const name of ['repeats', 'roundingTrials', 'refine', 'shortlist', 'seed'] as const) {
    if (options[name] !== undefined) count(name, options[name])
  }
  for (const name of ['scoreAll', 'prune', 'round'] as const) booleanOption(name, options[name])
  const defenses = defenseList('defenses', options.defenses, true)
  const evaluationDefenses = defenseList('evaluationDefenses', options.evaluationDefenses, true)
  const interval = options.progressInterval ?? 100
  if (!(finiteNumber('progressInterval', interval) > 0)) invalidOption('progressInterval', interval, 'must be a positive number')
  const upper = options.upper
  if (upper !== undefined && !isUpperBound(upper)) invalidOption('upper', upper, UPPER_BOUND_RULE)
  if (upper !== undefined && options.set !== undefined) invalidOption('upper', upper, 'give either a set or upper')
  if (onProgress !== undefined && typeof onProgress !== 'function') invalidOption('onProgress', onProgress, 'must be a function')
  if (signalOption(signal)?.aborted) throw new PoisonkitError('ERR_ABORTED', 'aborted before the attack started')

  const progress = new addon.AttackProgress()
  let last = ''
  // Every phase's end (kept by the native side until polled), then where it is now.
  const report = () => {
    if (onProgress === undefined) return
    for (const s of [...progress.takeEnded(), progress.snapshot()]) {
      const p: AttackProgress = { phase: s.phase as AttackProgress['phase'], done: s.done, total: s.total, best: s.best, seconds: s.seconds }
      const key = JSON.stringify(p)
      if (key !== last) {
        last = key
        onProgress(p)
      }
    }
  }
  // A callback that throws stops the attack, which then rejects with the callback's error.
  const stop = new AbortController()
  const forward = () => stop.abort()
  signal?.addEventListener('abort', forward, { once: true })
  let thrown: { error: unknown } | undefined
  const timer =
    onProgress === undefined
      ? undefined
      : setInterval(() => {
          try {
            report()
          } catch (error) {
            thrown ??= { error }
            stop.abort()
          }
        }, interval)
  timer?.unref()
  let outcome: addon.AttackOutcome
  try {
    outcome = await nativeAsync(() =>
      attack(
        train.handle,
        test.handle,
        {
          lambda,
          eps,
          knowledge: options.knowledge,
          grid: options.grid,
          quantiles: options.quantiles,
          copies: options.copies,
          prune: options.prune,
          round: options.round,
          repeats: options.repeats,
          roundingTrials: options.roundingTrials,
          refine: options.refine,
          scoreAll: options.scoreAll,
          shortlist: options.shortlist,
          upper,
          defenses,
          seed: options.seed,
          evaluationDefenses,
          optimizer: options.optimizer,
          ...own,
        },
        options.set?.handle,
        progress,
        stop.signal,
      ),
    )
    report()
  } catch (error) {
    throw thrown ? thrown.error : error
  } finally {
    if (timer !== undefined) clearInterval(timer)
    signal?.removeEventListener('abort', forward)
  }
  if (thrown) throw thrown.error
  const summary = outcome.takeSummary()
  const poison = new Dataset(outcome.poison)
  return {
    poison,
    decoy: summary.decoy ?? null,
    epsPos: summary.epsPos,
    epsNeg: summary.epsNeg,
    residual: summary.residual ?? undefined,
    stepSize: summary.stepSize ?? undefined,
    iteration: summary.iteration ?? undefined,
    selection: toEvaluation(summary.selection),
    evaluation: toEvaluation(summary.evaluation),
    curve: summary.curve,
    candidates: summary.candidates.map((c) => ({
      decoy: c.decoy ?? null,
      epsPos: c.epsPos,
      epsNeg: c.epsNeg,
      stepSize: c.stepSize ?? undefined,
      iteration: c.iteration ?? undefined,
      errors: Object.fromEntries(c.errors.map((e) => [e.defense, e.testError])),
      minError: c.minError,
      shortlistMin: c.shortlistMin ?? undefined,
      partial: c.partial,
      seconds: c.seconds,
    })),
    failures: summary.failures.map((f) => ({ ...f, code: f.code as AttackFailure['code'], status: f.status ?? undefined })),
    decoys: summary.decoys,
    round: summary.round,
    seconds: (performance.now() - started) / 1000,
  }
}
