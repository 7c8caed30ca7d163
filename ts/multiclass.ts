/**
 * The multi-class defender: the Crammer–Singer linear SVM on class indices 0..k−1, minimizing
 *
 *   P(W, b) = (λ/2)‖W‖² + (1/N) Σ_i max(0, 1 + max_{j≠y_i} s_j(x_i) − s_{y_i}(x_i)),   s_j(x) = w_j·x + b_j,
 *
 * trained by AdaGrad as the paper's 10-class MNIST model (`optimizer: 'adagrad'`, the default: η 0.02,
 * batches of 20, 3 passes, λ may be 0; a fixed budget) or to its optimum (`optimizer: 'exact'`, λ > 0:
 * the sequential dual method of liblinear, the biases regularized like the weights as scikit-learn's
 * `LinearSVC(multi_class='crammer_singer')`; it stops when the duality gap ≤ tol × P).
 */
import * as addon from '../native/index.js'
import { datasetOption, type Dataset } from './dataset.js'
import { PoisonkitError, count, finiteNumber, invalidOption, native, nativeAsync, oneOf, optionsObject, signalOption } from './errors.js'

/** Options of `trainMulticlass`. */
export interface MulticlassTrainOptions {
  /** λ ≥ 0 (> 0 for `'exact'`); the paper's MNIST model has λ = 0. */
  lambda: number
  /** `'adagrad'` (the paper's, default) or `'exact'`. */
  optimizer?: 'adagrad' | 'exact'
  /** AdaGrad's step η (0.02). */
  eta?: number
  /** AdaGrad's mini-batch size (20). */
  batch?: number
  /** AdaGrad's passes over the data (3). */
  passes?: number
  /** `'exact'`: stop when the duality gap ≤ tol × objective (1e-6). */
  tol?: number
  /** `'exact'`: at most this many passes over the data (an epoch over few active points counts for those) (10000). */
  maxIter?: number
  /** Seed of the order of the points (0). */
  seed?: number
  /** Stops the training; the promise then rejects with code `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** The JSON form of a multi-class model (`--model-out`). */
export interface MulticlassModelJson {
  /** One weight vector per class. */
  w: number[][]
  /** One bias per class. */
  bias: number[]
  /** λ it was trained with. */
  lambda: number
  /** How it was trained. */
  optimizer: 'adagrad' | 'exact'
  /** The training objective at the model. */
  objective: number
}

/** How a multi-class model was trained. */
export interface MulticlassTraining {
  /** λ. */
  lambda: number
  /** The optimizer. */
  optimizer: 'adagrad' | 'exact'
}

/** A trained multi-class linear classifier. Predicts argmax_j w_j·x + b_j (ties: the lowest class). */
export class MulticlassModel {
  /** One weight vector per class (views of one row-major k × d array). */
  readonly w: Float64Array[]

  constructor(
    /** The weights, row-major k × d. */
    private readonly weights: Float64Array,
    /** One bias per class. */
    readonly bias: Float64Array,
    /** λ and the optimizer it was trained with. */
    readonly options: MulticlassTraining,
    /** The objective the optimizer minimizes, at the model (AdaGrad's leaves the biases out). */
    readonly objective: number,
    /** Upper bound on the objective minus its minimum (NaN for AdaGrad, which computes none). */
    readonly dualityGap: number,
    /** AdaGrad's passes over the data, or the exact solver's epochs. */
    readonly iterations: number,
    /** Whether the gap reached `tol` (AdaGrad runs a fixed budget: true). */
    readonly converged: boolean,
    /** Training time in seconds. */
    readonly seconds: number,
  ) {
    const d = weights.length / bias.length
    this.w = Array.from(bias, (_, j) => weights.subarray(j * d, (j + 1) * d))
  }

  /** The number of classes k. */
  get numClasses(): number {
    return this.bias.length
  }
  /** The predicted class of every row of `data`. */
  predict(data: Dataset): Int32Array {
    return native(() => addon.multiclassPredict(datasetOption('data', data).handle, this.weights, this.bias))
  }
  /** The 0-1 error on `data` (labels 0..k−1), a fraction in [0, 1]. */
  error(data: Dataset): number {
    return native(() => addon.multiclassError(datasetOption('data', data).handle, this.weights, this.bias))
  }
  /** The mean multi-class hinge on `data`. */
  meanHinge(data: Dataset): number {
    return native(() => addon.multiclassMeanHinge(datasetOption('data', data).handle, this.weights, this.bias))
  }
  /** `{ w, bias, lambda, optimizer, objective }`. */
  toJSON(): MulticlassModelJson {
    return {
      w: this.w.map((row) => Array.from(row)),
      bias: Array.from(this.bias),
      lambda: this.options.lambda,
      optimizer: this.options.optimizer,
      objective: this.objective,
    }
  }
}

/** Trains the multi-class defender on `data` (labels 0..k−1), off the main thread. */
export async function trainMulticlass(data: Dataset, options: MulticlassTrainOptions): Promise<MulticlassModel> {
  optionsObject('trainMulticlass', options)
  const lambda = finiteNumber('lambda', options.lambda)
  if (!(lambda >= 0)) invalidOption('lambda', lambda, 'must be a number ≥ 0')
  const optimizer = oneOf('optimizer', options.optimizer, ['adagrad', 'exact']) ?? 'adagrad'
  const { eta, batch, passes, tol, maxIter, seed, signal } = options
  if (eta !== undefined) finiteNumber('eta', eta)
  for (const [name, v] of Object.entries({ batch, passes, maxIter, seed })) if (v !== undefined) count(name, v)
  if (tol !== undefined) finiteNumber('tol', tol)
  if (signalOption(signal)?.aborted) throw new PoisonkitError('ERR_ABORTED', 'aborted before training started')
  const fit = await nativeAsync(() =>
    addon.trainMulticlass(datasetOption('data', data).handle, { lambda, optimizer, eta, batch, passes, tol, maxIter, seed }, signal),
  )
  return new MulticlassModel(
    fit.w,
    fit.bias,
    { lambda, optimizer },
    fit.objective,
    fit.dualityGap,
    fit.iterations,
    fit.converged,
    fit.seconds,
  )
}
