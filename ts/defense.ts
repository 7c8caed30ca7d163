/**
 * The evaluation harness of the paper (§2.2): the defender (hinge SVM, bias regularized) trains on
 * clean + poison with no defense and after each sanitization defense has removed a fraction of
 * every class; an attack is scored by the minimum test error over the defenses.
 *
 * Defenses (scores fitted on clean + poison by default, as the paper's defender):
 * - `l2`: distance to the class centroid;
 * - `slab`: distance to the class centroid along the line between the two centroids;
 * - `loss`: 1 − y(w·x + b) of the model trained on everything, not clipped (the reference);
 * - `svd`: distance to the span of the top singular vectors (95%-energy rank rule) and the centroids;
 * - `knn`: sum of the distances to the 5 nearest neighbours, the point itself included.
 */
import * as addon from '../native/index.js'
import { datasetOption, type Dataset } from './dataset.js'
import { PoisonkitError, count, finiteNumber, invalidOption, nativeAsync, optionsObject, repeated, signalOption } from './errors.js'

/** The five defenses of the paper. */
export const DEFENSES = ['l2', 'slab', 'loss', 'svd', 'knn'] as const
/** One of the five defenses. */
export type DefenseName = (typeof DEFENSES)[number]

/** How a defender trains: `'exact'` to its optimum, `'sgd'` one pass of SGD (binary), `'adagrad'` the paper's multi-class AdaGrad. */
export const OPTIMIZERS = ['exact', 'sgd', 'adagrad'] as const
/** One of `OPTIMIZERS`. */
export type Optimizer = (typeof OPTIMIZERS)[number]

/** The optimizers that train the defender of data with `numClasses` classes (0: ±1 labels), its default first. */
export function optimizersFor(numClasses: number): Optimizer[] {
  return numClasses > 0 ? ['adagrad', 'exact'] : ['exact', 'sgd']
}

/** Why `optimizer` cannot train at `lambda` the defender of `what`, data with `numClasses` classes
 * (0: ±1 labels); undefined when it can. */
export function optimizerMismatch(optimizer: Optimizer, numClasses: number, lambda: number, what: string): string | undefined {
  const fits = optimizersFor(numClasses)
  if (!fits.includes(optimizer)) {
    return `${optimizer} does not train the defender of ${what} (${numClasses > 0 ? `${numClasses} classes` : '±1 labels'}: one of ${fits.join(', ')})`
  }
  if (numClasses > 0 && optimizer === 'exact' && !(lambda > 0)) {
    return `exact needs λ > 0 for the multi-class defender of ${what} (λ ${lambda}; adagrad trains at λ 0)`
  }
  return undefined
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Clean training data. */
  train: Dataset
  /** Test data. */
  test: Dataset
  /** Poison points added to the training data (none: evaluate the clean data). */
  poison?: Dataset
  /** λ of the defender. */
  lambda: number
  /** The binary defender's loss: `'hinge'` (the SVM, default) or `'logistic'` (paper §6.3). */
  loss?: 'hinge' | 'logistic'
  /**
   * How the defender trains. Binary: `'exact'` to its optimum (default) or `'sgd'`, one pass of
   * stochastic gradient descent in a seeded order (paper §6.3). Multi-class: `'adagrad'`, the
   * paper's (default), or `'exact'`, the Crammer–Singer optimum at λ > 0 (see `trainMulticlass`).
   */
  optimizer?: Optimizer
  /** Defenses to run (all five). */
  defenses?: DefenseName[]
  /** Fraction p of every class each defense removes, in (0, 1) (0.05, as the reference). */
  removeFraction?: number
  /** Instead of a fraction: remove the points of class `label` scoring above `thresholds[label]` (the paper's τ_y; classes not listed keep every point). One threshold applies to every defense. */
  thresholds?: Record<number, number>
  /** Fit the defenses on `'empirical'` clean + poison (the paper's defender) or `'oracle'` clean data only. */
  fit?: 'empirical' | 'oracle'
  /** Loss-defense score: `'margin'` 1 − m unclipped (reference), `'hinge'` or `'logistic'`. */
  lossScore?: 'margin' | 'hinge' | 'logistic'
  /** k of the k-NN defense (5). */
  knnK?: number
  /** k-NN score: `'sum'` of the k distances (reference) or distance to the `'kth'` (paper text). */
  knnRule?: 'sum' | 'kth'
  /** SVD rank rule: `'reference'` (code) or `'paper'` (text, one more vector). */
  svdRule?: 'reference' | 'paper'
  /** Seed of the randomized SVD, of the solver's coordinate order and of the multi-class defender's mini-batches (0). */
  seed?: number
  /** Defender's duality-gap tolerance (1e-6). */
  tol?: number
  /** Stops the evaluation; the promise rejects with `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** Per-defense timings in seconds. */
export interface DefenseTiming {
  /** Fitting the defense and scoring the points. */
  score: number
  /** Retraining the defender on the points kept. */
  train: number
}

/** Test errors are fractions of the test set in [0, 1]. */
export interface Evaluation {
  /** Test error with no defense. */
  none: number
  /** Test error under the L2 defense (distance to the class centroid), if run. */
  l2?: number
  /** Under the slab defense (distance along the line between the centroids), if run. */
  slab?: number
  /** Under the loss defense (the points the clean + poison model fits worst removed), if run. */
  loss?: number
  /** Under the SVD defense (distance to the top singular subspace), if run. */
  svd?: number
  /** Under the k-NN defense (distance to the nearest neighbours), if run. */
  knn?: number
  /** Minimum test error over the defenses run (the paper's score). */
  min: number
  /** Fraction of the poison each defense kept (absent without poison). */
  poisonKept: Partial<Record<DefenseName, number>>
  /** Fraction of the clean points each defense kept. */
  cleanKept: Partial<Record<DefenseName, number>>
  /** Seconds per defense: scoring and retraining. */
  timing: Partial<Record<DefenseName, DefenseTiming>>
  /** Whether every training reached its tolerance, and the SVD defense's eigensolver too. */
  converged: boolean
  /** Seconds in all. */
  seconds: number
}

/** Checks option `name`, a list of defense names: each known and listed once, and at least one
 * where `nonEmpty`. */
export function defenseList(name: string, list: DefenseName[] | undefined, nonEmpty: boolean): DefenseName[] | undefined {
  if (list === undefined) return undefined
  if (!Array.isArray(list) || (nonEmpty && list.length === 0)) invalidOption(name, list, `must be a${nonEmpty ? ' non-empty' : ''} list of defense names`)
  for (const d of list) if (!DEFENSES.includes(d)) invalidOption(name, d, `each must be one of ${DEFENSES.join(', ')}`)
  const twice = repeated(list)
  if (twice !== undefined) invalidOption(name, twice, 'each defense may be listed once')
  return list
}

/** Scores a poisoned training set against the defenses, off the main thread. */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const { signal, defenses, removeFraction, knnK, seed, tol } = optionsObject('evaluate', options)
  const train = datasetOption('train', options.train)
  const test = datasetOption('test', options.test)
  const poison = options.poison === undefined ? undefined : datasetOption('poison', options.poison)
  const lambda = finiteNumber('lambda', options.lambda)
  if (!(lambda >= 0)) invalidOption('lambda', lambda, 'must be a number ≥ 0 (0 only for the multi-class defender)')
  defenseList('defenses', defenses, false)
  if (removeFraction !== undefined && !(finiteNumber('removeFraction', removeFraction) > 0 && removeFraction < 1)) {
    invalidOption('removeFraction', removeFraction, 'must lie in (0, 1)')
  }
  const given = options.thresholds
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    invalidOption('thresholds', given, 'must be an object { [label]: τ }')
  }
  const thresholds =
    given === undefined
      ? undefined
      : Object.entries(given).map(([label, tau]) => ({ label: Number(label), tau: finiteNumber(`thresholds[${label}]`, tau) }))
  if (knnK !== undefined) count('knnK', knnK)
  if (seed !== undefined) count('seed', seed)
  if (tol !== undefined) finiteNumber('tol', tol)
  if (signalOption(signal)?.aborted) throw new PoisonkitError('ERR_ABORTED', 'aborted before the evaluation started')
  const r = await nativeAsync(() =>
    addon.evaluate(
      train.handle,
      test.handle,
      poison?.handle,
      {
        lambda,
        loss: options.loss,
        optimizer: options.optimizer,
        defenses,
        removeFraction,
        thresholds,
        fit: options.fit,
        lossScore: options.lossScore,
        knnK,
        knnRule: options.knnRule,
        svdRule: options.svdRule,
        seed,
        tol,
      },
      signal,
    ),
  )
  return toEvaluation(r)
}

/** The addon's evaluation in the public shape. @internal */
export function toEvaluation(r: addon.EvaluationResult): Evaluation {
  const out: Evaluation = {
    none: r.none,
    min: r.min,
    poisonKept: {},
    cleanKept: {},
    timing: {},
    converged: r.noneConverged && r.defenses.every((d) => d.converged),
    seconds: r.seconds,
  }
  for (const d of r.defenses) {
    const name = d.defense as DefenseName
    out[name] = d.testError
    if (d.poisonKept !== undefined && d.poisonKept !== null) out.poisonKept[name] = d.poisonKept
    out.cleanKept[name] = d.cleanKept
    out.timing[name] = { score: d.scoreSeconds, train: d.trainSeconds }
  }
  return out
}
