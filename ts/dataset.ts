/**
 * Labelled sparse data sets: reading (svmlight/libsvm plain or gzip, CSV, npz), in-memory
 * construction, slicing, concatenation, writing svmlight, and seeded synthetic data.
 */
import * as addon from '../native/index.js'
import { PoisonkitError, arrayLike, count, invalidOption, native, nativeAsync, numberArray, numberFields, oneOf, optionsObject, signalOption } from './errors.js'

/** File formats `loadDataset` reads. */
export type Format = 'svmlight' | 'csv' | 'npz'
const FORMATS: readonly Format[] = ['svmlight', 'csv', 'npz']

/** Options of `loadDataset`. */
export interface LoadOptions {
  /** Number of features. Declare it for svmlight files (trailing all-zero features are invisible). */
  d?: number
  /** The format; by default from the file name (`.svm`, `.libsvm`, `.txt`, `.csv`, `.npz`, optionally `.gz`). */
  format?: Format
  /** CSV only: the label column, by 0-based position or header name (default: `label`, `y`, else the first). */
  labelColumn?: number | string
  /**
   * The training data's `numClasses`, when reading test or poison data for it: a label of another
   * kind (not ±1 for 0; not a class index below k for k) is an `ERR_LABEL` naming its line.
   */
  trainingClasses?: number
  /** Stops the read (svmlight and CSV between blocks of lines, gzip between blocks of bytes); it rejects with `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** CSR arrays of a data set; `indptr` has n + 1 entries, indices are 0-based. */
export interface Csr {
  /** Row i's entries are `indices[indptr[i]..indptr[i+1]]` and the same range of `values`. */
  indptr: Float64Array
  /** Column (feature) indices, sorted within each row. */
  indices: Uint32Array
  /** The non-zero values. */
  values: Float64Array
  /** One label per row: ±1, or 0..k−1. */
  labels: Int32Array
  /** Number of rows (points). */
  n: number
  /** Number of columns (features). */
  d: number
}

/** A labelled sparse data set held in native memory. Labels are ±1 (binary) or 0..k−1. */
export class Dataset {
  /** @internal */
  readonly handle: addon.Dataset

  /** @internal */
  constructor(handle: addon.Dataset) {
    this.handle = handle
  }

  /** Builds a data set from CSR arrays (0-based column indices; unsorted rows are sorted). */
  static fromCsr(csr: { indptr: ArrayLike<number>; indices: ArrayLike<number>; values: ArrayLike<number>; labels: ArrayLike<number>; d: number }): Dataset {
    optionsObject('Dataset.fromCsr', csr)
    for (const name of ['indptr', 'indices', 'values', 'labels'] as const) arrayLike(name, csr[name])
    count('d', csr.d)
    return new Dataset(
      native(() =>
        addon.Dataset.fromCsr(
          numberArray('indptr', csr.indptr),
          featureIndices(csr.indices),
          numberArray('values', csr.values),
          toLabels(csr.labels),
          csr.d,
        ),
      ),
    )
  }

  /** Builds a data set from dense rows (an array of rows, or a row-major Float64Array with `d`). */
  static fromDense(rows: ArrayLike<number>[] | Float64Array, labels: ArrayLike<number>, d?: number): Dataset {
    let flat: Float64Array
    let dim: number
    if (rows instanceof Float64Array) {
      if (d === undefined) invalidOption('d', d, 'is required with a flat Float64Array')
      dim = count('d', d)
      flat = rows
    } else {
      if (!Array.isArray(rows)) invalidOption('rows', rows, 'must be an array of rows or a row-major Float64Array')
      const given = d === undefined ? undefined : count('d', d)
      dim = rows.length > 0 ? rows[0]!.length : (given ?? 0)
      if (given !== undefined && given !== dim) throw new PoisonkitError('ERR_DIM_MISMATCH', `fromDense: d = ${given}, but the rows have ${dim} values`)
      flat = new Float64Array(rows.length * dim)
      rows.forEach((row, i) => {
        if (row.length !== dim) {
          throw new PoisonkitError('ERR_DIM_MISMATCH', `fromDense row ${i}: expected ${dim} values, got ${row.length}`)
        }
        flat.set(numberArray(`rows[${i}]`, row), i * dim)
      })
    }
    return new Dataset(native(() => addon.Dataset.fromDense(flat, dim, toLabels(labels))))
  }

  /** Number of points. */
  get n(): number {
    return this.handle.n
  }
  /** Number of features. */
  get d(): number {
    return this.handle.d
  }
  /** Number of stored non-zero values. */
  get nnz(): number {
    return this.handle.nnz
  }
  /** The labels (a copy). */
  get labels(): Int32Array {
    return this.handle.labels
  }
  /** 0 for ±1 labels, k for class indices 0..k−1. */
  get numClasses(): number {
    return this.handle.numClasses
  }
  /** Points per class, keyed by label (`{ '-1': 2928, '1': 1209 }`); both ±1 are listed for binary data. */
  get classCounts(): Record<number, number> {
    const out: Record<number, number> = {}
    for (const { label, count } of this.handle.classCounts) out[label] = count
    return out
  }

  /** The given rows, in that order (repeats allowed). */
  slice(rows: ArrayLike<number>): Dataset {
    return new Dataset(native(() => this.handle.slice(numberArray('rows', rows))))
  }

  /** This data set followed by `other` (same d, same kind of labels). */
  concat(other: Dataset): Dataset {
    return new Dataset(native(() => this.handle.concat(datasetOption('other', other).handle)))
  }

  /** The CSR arrays (copies). */
  toCsr(): Csr {
    return this.handle.toCsr()
  }

  /** Writes the data set as svmlight text (gzip'd when the name ends in `.gz`), off the main thread. */
  async writeSvmlight(path: string): Promise<void> {
    if (typeof path !== 'string' || path === '') invalidOption('path', path, 'must be a file path')
    await nativeAsync(() => this.handle.writeSvmlight(path))
  }
}

/** `value` if it is a Dataset, else throws naming the option or argument `name`. */
export function datasetOption(name: string, value: unknown): Dataset {
  if (!(value instanceof Dataset)) invalidOption(name, value, 'must be a Dataset (from loadDataset, Dataset.fromCsr, makeBlobs, ...)')
  return value
}

/** 0-based feature indices as the native side takes them; any other value throws, naming its place. */
function featureIndices(indices: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(indices.length)
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!
    if (!Number.isInteger(j) || j < 0 || j > 2 ** 32 - 1) {
      throw new PoisonkitError('ERR_FEATURE_INDEX', `indices[${i}] = ${j}: not a 0-based feature index`)
    }
    out[i] = j
  }
  return out
}

function toLabels(labels: ArrayLike<number>): Int32Array {
  arrayLike('labels', labels)
  const out = new Int32Array(labels.length)
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!
    if (!Number.isInteger(y) || y < -1 || y > 2 ** 31 - 1) {
      throw new PoisonkitError('ERR_LABEL', `labels[${i}] = ${y}: neither ±1 nor a class index 0, 1, 2, ...`)
    }
    out[i] = y
  }
  return out
}

/** Reads a data set from a file (off the main thread). */
export async function loadDataset(path: string, options: LoadOptions = {}): Promise<Dataset> {
  if (typeof path !== 'string' || path === '') invalidOption('path', path, 'must be a file path')
  const { d, format, labelColumn, trainingClasses, signal } = options
  if (d !== undefined) count('d', d)
  if (trainingClasses !== undefined) count('trainingClasses', trainingClasses)
  oneOf('format', format, FORMATS)
  if (signalOption(signal)?.aborted) throw new PoisonkitError('ERR_ABORTED', `aborted before reading ${path}`)
  const handle = await nativeAsync(() =>
    addon.loadDataset(
      path,
      {
        d,
        format,
        labelColumn: labelColumn === undefined ? undefined : String(labelColumn),
        trainingClasses,
      },
      signal,
    ),
  )
  return new Dataset(handle)
}

/** Options of `makeBlobs`; defaults in parentheses. */
export interface BlobsOptions {
  /** Points (1000). */
  n?: number
  /** Features (20). */
  d?: number
  /** Classes: 2 gives ±1 labels, more gives 0..k−1 (2). */
  classes?: number
  /** Twice the norm of each class mean (3). */
  separation?: number
  /** Per-feature standard deviation (1). */
  std?: number
  /** Seed (0). */
  seed?: number
}

/** Gaussian blobs, seeded: the same options give the same data. */
export function makeBlobs(options: BlobsOptions = {}): Dataset {
  numberFields(optionsObject('makeBlobs', options), ['n', 'd', 'classes', 'separation', 'std', 'seed'])
  return new Dataset(native(() => addon.makeBlobs(options)))
}

/** Options of `makeBagOfWords`; defaults in parentheses. */
export interface BagOfWordsOptions {
  /** Documents (2000). */
  n?: number
  /** Vocabulary size (1000). */
  d?: number
  /** Mean document length, Poisson (60). */
  docLength?: number
  /** Fraction of documents labelled +1 (0.3). */
  positiveFraction?: number
  /** Log-scale spread of the per-word class tilt (0.5). */
  signal?: number
  /** Seed (0). */
  seed?: number
}

/** A bag-of-words corpus with integer counts (Zipf word frequencies tilted per class), seeded. */
export function makeBagOfWords(options: BagOfWordsOptions = {}): Dataset {
  numberFields(optionsObject('makeBagOfWords', options), ['n', 'd', 'docLength', 'positiveFraction', 'signal', 'seed'])
  return new Dataset(native(() => addon.makeBagOfWords(options)))
}
