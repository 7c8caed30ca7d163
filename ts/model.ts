/**
 * The defender: L2-regularized binary linear classifiers trained to the exact optimum of
 *
 *   P(w, b) = (λ/2)(‖w‖² + ρ·b²) + (1/N) Σ s_i ℓ(y_i(w·x_i + b)),   N = Σ s_i,
 *
 * with ρ = 1 (bias regularized, like scikit-learn's LinearSVC; the default) or ρ = 0
 * (`regularizeBias: false`, the reference's decoy and min-max form). The hinge is solved by dual
 * coordinate descent (liblinear's algorithm), logistic and smoothed hinge by Newton-CG; both stop
 * when the duality gap is at most `tol` × P.
 */
import * as addon from '../native/index.js'
import { datasetOption, type Dataset } from './dataset.js'
import { PoisonkitError, count, finiteNumber, invalidOption, native, nativeAsync, numberArray, oneOf, optionsObject, signalOption } from './errors.js'

/** A margin loss: hinge max(0, 1−m), logistic log(1+e^−m), or smooth-hinge t·log(1+e^((1−m)/t)). */
export type LossName = 'hinge' | 'logistic' | 'smooth-hinge'
const LOSSES: readonly LossName[] = ['hinge', 'logistic', 'smooth-hinge']

/** The training objective's parameters. */
export interface ObjectiveOptions {
  /** λ > 0, the regularization strength. */
  lambda: number
  /** The loss (`'hinge'`). */
  loss?: LossName
  /** Temperature t of the smooth hinge (0.001, as the reference's influence attack). */
  temperature?: number
  /** Regularize the bias like the weights (true). */
  regularizeBias?: boolean
  /** Per-point weights s_i ≥ 0, fractional copies (all 1). */
  sampleWeights?: ArrayLike<number>
}

/** Options of `train`. */
export interface TrainOptions extends ObjectiveOptions {
  /** Stop when the duality gap ≤ tol × objective (1e-6). */
  tol?: number
  /**
   * At most this many passes over the data (hinge: dual coordinate updates, n to a pass, so an epoch
   * over the few points shrinking leaves active counts for those) or Newton steps (10000).
   */
  maxIter?: number
  /** Seed of the coordinate order (0). */
  seed?: number
  /** Start from a previous model on the same points (the hinge needs its `dual`). */
  warmStart?: LinearModel
  /** Stops the training; the promise then rejects with code `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** The JSON form of a model (`--model-out`). */
export interface ModelJson {
  /** The weights. */
  w: number[]
  /** The bias b. */
  bias: number
  /** λ it was trained with. */
  lambda: number
  /** The loss it was trained with. */
  loss: LossName
  /** The training objective at (w, b). */
  objective: number
}

/** A trained linear classifier and how its training ended. Predicts +1 iff w·x + b > 0. */
export class LinearModel {
  constructor(
    /** Weights. */
    readonly w: Float64Array,
    /** Bias. */
    readonly bias: number,
    /** The objective it was trained on. */
    readonly objectiveOptions: ObjectiveOptions,
    /** P(w, b). */
    readonly objective: number,
    /** Upper bound on P(w, b) − min P. */
    readonly dualityGap: number,
    /** Epochs (hinge; more than `maxIter` when shrinking left few points active) or Newton steps run. */
    readonly iterations: number,
    /** Whether the gap reached `tol`. */
    readonly converged: boolean,
    /** −ℓ'(m_i) ∈ [0, 1] per training point (dual variable over its bound). */
    readonly dual: Float64Array,
    /** Training time in seconds. */
    readonly seconds: number,
  ) {}

  /** w·x + b for every row of `data`. */
  decision(data: Dataset): Float64Array {
    return native(() => addon.decisionFunction(datasetOption('data', data).handle, this.w, this.bias))
  }
  /** Predicted labels ±1. */
  predict(data: Dataset): Int32Array {
    return native(() => addon.predict(datasetOption('data', data).handle, this.w, this.bias))
  }
  /** The 0-1 error on `data`, a fraction in [0, 1]. */
  error(data: Dataset): number {
    return native(() => addon.zeroOneError(datasetOption('data', data).handle, this.w, this.bias))
  }
  /** The mean loss on `data` (the training loss by default). */
  meanLoss(data: Dataset, loss: LossName = this.objectiveOptions.loss ?? 'hinge'): number {
    return native(() => addon.meanLoss(datasetOption('data', data).handle, this.w, this.bias, oneOf('loss', loss, LOSSES)!, this.objectiveOptions.temperature))
  }
  /** `{ w, bias, lambda, loss, objective }`. */
  toJSON(): ModelJson {
    return {
      w: Array.from(this.w),
      bias: this.bias,
      lambda: this.objectiveOptions.lambda,
      loss: this.objectiveOptions.loss ?? 'hinge',
      objective: this.objective,
    }
  }
}

function objectiveArgs(o: ObjectiveOptions): addon.ObjectiveOptions {
  const lambda = finiteNumber('lambda', o.lambda)
  if (!(lambda > 0)) invalidOption('lambda', lambda, 'must be a positive number')
  oneOf('loss', o.loss, LOSSES)
  if (o.temperature !== undefined) finiteNumber('temperature', o.temperature)
  return {
    lambda,
    loss: o.loss,
    temperature: o.temperature,
    regularizeBias: o.regularizeBias,
    sampleWeights: o.sampleWeights === undefined ? undefined : numberArray('sampleWeights', o.sampleWeights),
  }
}

/** Trains the defender on `data` (binary ±1 labels, both classes present), off the main thread. */
export async function train(data: Dataset, options: TrainOptions): Promise<LinearModel> {
  const handle = datasetOption('data', data).handle
  const objective = objectiveArgs(optionsObject('train', options))
  const { tol, maxIter, seed, warmStart, signal } = options
  if (tol !== undefined) finiteNumber('tol', tol)
  if (maxIter !== undefined) count('maxIter', maxIter)
  if (seed !== undefined) count('seed', seed)
  if (signalOption(signal)?.aborted) throw new PoisonkitError('ERR_ABORTED', 'aborted before training started')
  const fit = await nativeAsync(() =>
    addon.train(
      handle,
      objective,
      {
        tol,
        maxIter,
        seed,
        warmStart: warmStart && {
          ...weightsOption('warmStart', warmStart),
          dual: warmStart.dual === undefined ? undefined : numberArray('warmStart.dual', warmStart.dual),
        },
      },
      signal,
    ),
  )
  const { lambda, loss, temperature, regularizeBias } = options
  return new LinearModel(
    fit.w,
    fit.bias,
    { lambda, loss: loss ?? 'hinge', temperature, regularizeBias },
    fit.objective,
    fit.dualityGap,
    fit.iterations,
    fit.converged,
    fit.dual,
    fit.seconds,
  )
}

/** A model as (w, bias). */
export interface Weights {
  /** The weights (length d). */
  w: Float64Array
  /** The bias b. */
  bias: number
}

/** `value` as weights if its `w` is an array of numbers and its `bias` a finite number, else throws naming which. */
function weightsOption(name: string, value: unknown): Weights {
  if (value === null || typeof value !== 'object') invalidOption(name, value, 'must be an object {w, bias}')
  const { w, bias } = value as Weights
  return { w: numberArray(`${name}.w`, w), bias: finiteNumber(`${name}.bias`, bias) }
}

/** P(w, b) on `data`. */
export function objectiveValue(data: Dataset, model: Weights, options: ObjectiveOptions): number {
  const { w, bias } = weightsOption('model', model)
  return native(() => addon.objectiveValue(datasetOption('data', data).handle, w, bias, objectiveArgs(options)))
}

/** ∇P(w, b) on `data` (a subgradient for the hinge). */
export function objectiveGradient(data: Dataset, model: Weights, options: ObjectiveOptions): Weights {
  const { w, bias } = weightsOption('model', model)
  return native(() => addon.objectiveGradient(datasetOption('data', data).handle, w, bias, objectiveArgs(options)))
}

/** ∇²P(w, b)·v, exact for smooth losses (the influence attack's inner product). */
export function hessianVectorProduct(data: Dataset, model: Weights, v: Weights, options: ObjectiveOptions): Weights {
  const [at, along] = [weightsOption('model', model), weightsOption('v', v)]
  return native(() =>
    addon.hessianVectorProduct(datasetOption('data', data).handle, at.w, at.bias, along.w, along.bias, objectiveArgs(options)),
  )
}
