import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Dataset, FeasibleSet, PoisonkitError, evaluate, kktAttack, loadDataset, makeBagOfWords, makeBlobs, objectiveValue, roundPoints, train, writeDataset } from '../ts/index.js'
import { data, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip

realData('loads Enron with its declared d and class counts (data README)', async (t) => {
  const enron = await loadDataset(data('enron.train.svm.gz'), { d: 5116 })
  t.is(enron.n, 4137)
  t.is(enron.d, 5116)
  t.deepEqual(enron.classCounts, { '-1': 2928, 1: 1209 })
  t.is(enron.labels.length, 4137)
  t.true(enron.nnz > 4137 * 40 && enron.nnz < 4137 * 50) // about 43 non-zeros per row
})

test('svmlight round trip (plain and gzip) keeps every value', async (t) => {
  const ds = makeBagOfWords({ n: 200, d: 50, seed: 3 })
  const dir = tmp()
  for (const name of ['bow.svm', 'bow.svm.gz']) {
    await ds.writeSvmlight(join(dir, name))
    const back = await loadDataset(join(dir, name), { d: 50 })
    t.deepEqual(back.toCsr(), ds.toCsr())
  }
})

test('CSV with a header and a named label column', async (t) => {
  const path = join(tmp(), 'small.csv')
  writeFileSync(path, 'f1,y,f2\n0.5,1,0\n0,-1,2\n')
  const ds = await loadDataset(path)
  t.is(ds.n, 2)
  t.is(ds.d, 2)
  t.deepEqual(Array.from(ds.labels), [1, -1])
  t.deepEqual(Array.from(ds.toCsr().values), [0.5, 2])
  t.deepEqual(Array.from((await loadDataset(path, { labelColumn: 'y' })).labels), [1, -1])
  // Column 0 holds 0.5, which is no label: the error names the file and line.
  const err = await t.throwsAsync(loadDataset(path, { labelColumn: 0 }), { instanceOf: PoisonkitError })
  t.is(err!.code, 'ERR_LABEL')
  t.true(err!.message.startsWith(`${path}:2:`), err!.message)
})

test('fromCsr, fromDense, slice and concat', (t) => {
  const a = Dataset.fromDense([[1, 0], [0, 2], [3, 4]], [1, -1, 1])
  t.is(a.nnz, 4)
  const b = Dataset.fromCsr({ indptr: [0, 1], indices: [1], values: [5], labels: [-1], d: 2 })
  const c = a.concat(b).slice([3, 0])
  t.deepEqual(c.toCsr(), {
    indptr: Float64Array.from([0, 1, 2]),
    indices: Uint32Array.from([1, 0]),
    values: Float64Array.from([5, 1]),
    labels: Int32Array.from([-1, 1]),
    n: 2,
    d: 2,
  })
  t.deepEqual(c.classCounts, { '-1': 1, 1: 1 })
  const multi = Dataset.fromDense(Float64Array.from([1, 2, 3, 4]), [0, 2], 2)
  t.is(multi.numClasses, 3)
})

test('synthetic data: same seed, same bytes; another seed, other data', (t) => {
  t.deepEqual(makeBagOfWords({ seed: 7 }).toCsr(), makeBagOfWords({ seed: 7 }).toCsr())
  t.notDeepEqual(makeBagOfWords({ seed: 7 }).toCsr(), makeBagOfWords({ seed: 8 }).toCsr())
  t.deepEqual(makeBlobs({ seed: 1 }).toCsr(), makeBlobs({ seed: 1 }).toCsr())
  const blobs = makeBlobs({ n: 30, classes: 3 })
  t.deepEqual(blobs.classCounts, { 0: 10, 1: 10, 2: 10 })
})

/** Loads `text` from a temporary svmlight file and returns the error. */
async function badFile(t: import('ava').ExecutionContext, text: string, d?: number) {
  const path = join(tmp(), 'bad.svm')
  writeFileSync(path, text)
  const err = await t.throwsAsync(loadDataset(path, { d }), { instanceOf: PoisonkitError })
  return { err: err!, path }
}

test('loadDataset stops on an AbortSignal, before or during the read', async (t) => {
  const path = join(tmp(), 'big.svm')
  const n = 400_000
  writeFileSync(path, Array.from({ length: n }, (_, i) => `${i % 2 ? 1 : -1} 1:${i % 7} 3:1`).join('\n'))
  const before = new AbortController()
  before.abort()
  await t.throwsAsync(loadDataset(path, { signal: before.signal }), { instanceOf: PoisonkitError, code: 'ERR_ABORTED', message: /big\.svm/ })
  // Aborted as soon as it is queued: the read stops at its next poll (or never starts).
  const during = new AbortController()
  const running = loadDataset(path, { signal: during.signal })
  during.abort()
  await t.throwsAsync(running, { instanceOf: PoisonkitError, code: 'ERR_ABORTED' })
  t.is((await loadDataset(path, { signal: new AbortController().signal })).n, n)
})

test('bad svmlight input names the file and line and has a stable code', async (t) => {
  const cases: [string, string, number | undefined][] = [
    ['1 1:1\n-1 2:abc\n', 'ERR_PARSE', undefined],
    ['1 1:1\n-1 2:NaN\n', 'ERR_NON_FINITE', undefined],
    ['1 1:1\n-1 2:inf\n', 'ERR_NON_FINITE', undefined],
    ['1 1:1\n3.5 2:1\n', 'ERR_LABEL', undefined],
    ['1 1:1\n-1 9:1\n', 'ERR_FEATURE_INDEX', 5],
    ['1 1:1\n-1 2\n', 'ERR_PARSE', undefined],
  ]
  for (const [text, code, d] of cases) {
    const { err, path } = await badFile(t, text, d)
    t.is(err.code, code, text)
    t.true(err.message.startsWith(`${path}:2:`), err.message)
  }
  // A mix of ±1 and class indices names both lines (a comment line does not count as a point).
  const mixed = await badFile(t, '# header\n-1 1:1\n0 2:1\n', undefined)
  t.is(mixed.err.message, `${mixed.path}:3: label 0 mixes binary labels (±1, first −1 at ${mixed.path}:2) with class indices (first 0 at ${mixed.path}:3)`)
  // Read as test data for a 3-class training set, a ±1 label is refused at its line.
  const path = join(tmp(), 'binary.svm')
  writeFileSync(path, '# comment\n-1 2:1\n')
  await t.throwsAsync(loadDataset(path, { trainingClasses: 3 }), { code: 'ERR_LABEL', message: `${path}:2: label -1 is not a class of the training data (0..2)` })
  t.is((await loadDataset(path, { trainingClasses: 0 })).n, 1)
  await t.throwsAsync(loadDataset(path, { trainingClasses: -1 }), { code: 'ERR_INVALID_OPTION' })
  // Labels all 1 are binary by themselves, but 3-class data when read for 3-class training data.
  const ones = join(tmp(), 'ones.svm')
  writeFileSync(ones, '1 1:1\n1 2:1\n')
  t.is((await loadDataset(ones)).numClasses, 0)
  const asTest = await loadDataset(ones, { trainingClasses: 3 })
  t.is(asTest.numClasses, 3)
  t.deepEqual(asTest.classCounts, { 0: 0, 1: 2, 2: 0 })
  const missing = await t.throwsAsync(loadDataset('/no/such/file.svm'), { instanceOf: PoisonkitError })
  t.is(missing!.code, 'ERR_FILE_NOT_FOUND')
  t.regex(missing!.message, /\/no\/such\/file\.svm/)
})

test('bad in-memory input and bad options throw with a code', async (t) => {
  const code = (f: () => unknown) => (t.throws(f, { instanceOf: PoisonkitError }) as PoisonkitError).code
  t.is(code(() => Dataset.fromDense([[1, 2], [3]], [1, -1])), 'ERR_DIM_MISMATCH')
  t.is(code(() => Dataset.fromDense([[1], [2], [3]], [1, -1, 0])), 'ERR_LABEL')
  t.is(code(() => Dataset.fromDense([[NaN]], [1])), 'ERR_NON_FINITE')
  t.is(code(() => Dataset.fromCsr({ indptr: [0, 1], indices: [4], values: [1], labels: [1], d: 2 })), 'ERR_FEATURE_INDEX')
  t.is(code(() => makeBlobs().slice([5000])), 'ERR_INVALID_OPTION')
  t.is(code(() => makeBlobs({ std: -1 })), 'ERR_INVALID_OPTION')
  // From JavaScript, arguments of the wrong shape are named.
  t.throws(() => Dataset.fromDense({ rows: [[1]] } as never, [1]), { code: 'ERR_INVALID_OPTION', message: /^option rows = \(Object\)/ })
  t.throws(() => Dataset.fromDense([[1]], undefined as never), { code: 'ERR_INVALID_OPTION', message: /^option labels = undefined/ })
  t.throws(() => Dataset.fromCsr({ indptr: [0, 1], values: [1], labels: [1], d: 2 } as never), { code: 'ERR_INVALID_OPTION', message: /^option indices = undefined/ })
  t.throws(() => makeBlobs().concat(5 as never), { code: 'ERR_INVALID_OPTION', message: /^option other = 5: must be a Dataset/ })
  const err = await t.throwsAsync(loadDataset('x.unknown'), { instanceOf: PoisonkitError })
  t.is(err!.code, 'ERR_INVALID_OPTION')
  // Values that a typed array would wrap are refused, not read as other labels or indices.
  t.throws(() => Dataset.fromDense([[1], [2]], [0, 2 ** 32]), { code: 'ERR_LABEL', message: 'labels[1] = 4294967296: neither ±1 nor a class index 0, 1, 2, ...' })
  const csr = { indptr: [0, 1], indices: [2 ** 32 + 1], values: [1], labels: [1], d: 3 }
  t.throws(() => Dataset.fromCsr(csr), { code: 'ERR_FEATURE_INDEX', message: 'indices[0] = 4294967297: not a 0-based feature index' })
  t.throws(() => Dataset.fromCsr({ ...csr, indices: [1.5] }), { code: 'ERR_FEATURE_INDEX' })
  t.throws(() => Dataset.fromCsr({ ...csr, indices: [0], d: 2 ** 32 + 2 }), { code: 'ERR_PARSE', message: /4294967298 features: at most 67108864 are supported/ })
  t.throws(() => Dataset.fromDense([[1], [2]], [0, 100000000]), { code: 'ERR_LABEL', message: /label 100000000: class indices above 65535 are not supported/ })
})

test('arguments of the wrong type across the API are named, never a conversion message or a silent default', async (t) => {
  const data = makeBagOfWords({ n: 60, d: 8, seed: 1 })
  const model = await train(data, { lambda: 0.1 })
  const base = { train: data, test: data, lambda: 0.1 }
  // Each used to give napi's "Failed to convert ..." (no option named), a TypeError, or no error at all.
  const cases: [string, () => unknown, RegExp][] = [
    ['slice of a number (0 rows before)', () => data.slice(3 as never), /^option rows = 3: must be an array/],
    ['fromDense d against the rows (ignored before)', () => Dataset.fromDense([[1, 2]], [1], 3), /^fromDense: d = 3, but the rows have 2 values$/],
    ['fromDense d -1', () => Dataset.fromDense([[1, 2]], [1], -1), /^option d = -1: must be a non-negative integer/],
    ['writeSvmlight path', () => data.writeSvmlight(3 as never), /^option path = 3: must be a file path$/],
    ['loadDataset format', () => loadDataset('x.svm', { format: 3 as never }), /^option format = 3: must be one of svmlight, csv, npz$/],
    ['makeBagOfWords n', () => makeBagOfWords({ n: '5' as never }), /^option n = 5: must be a finite number \(got a string\)$/],
    ['meanLoss loss', () => model.meanLoss(data, 3 as never), /^option loss = 3: must be one of hinge, logistic, smooth-hinge$/],
    ['roundPoints independent', () => roundPoints(data, { independent: 'yes' as never }), /^option independent = yes: must be true or false$/],
    ['fromClean sphere', () => FeasibleSet.fromClean(data, { sphere: 'yes' as never }), /^option sphere = yes: must be true or false$/],
    ['evaluate thresholds (ignored before)', () => evaluate({ ...base, thresholds: 3 as never }), /^option thresholds = 3: must be an object/],
    ['evaluate signal', () => evaluate({ ...base, signal: 3 as never }), /^option signal = 3: must be an AbortSignal$/],
    ['train signal', () => train(data, { lambda: 0.1, signal: {} as never }), /^option signal = \(Object\): must be an AbortSignal$/],
    ['writeDataset format (CSV written before)', () => writeDataset(data, join(tmp(), 'x.csv'), 3 as never), /^option format = 3: must be one of svmlight, csv, npz$/],
    ['kktAttack round', () => kktAttack({ ...base, eps: 0.05, round: 'no' as never }), /^option round = no: must be true or false$/],
    ['kktAttack signal (a TypeError before)', () => kktAttack({ ...base, eps: 0.05, signal: 3 as never }), /^option signal = 3: must be an AbortSignal$/],
    // Numeric arrays: a string, null or boolean element converted silently to a number before.
    ['slice of a numeric string (row 0 before)', () => data.slice(['0'] as never), /^option rows\[0\] = 0: must be a number \(got a string\)$/],
    ['slice of null (row 0 before)', () => data.slice([1, null] as never), /^option rows\[1\] = null: must be a number \(got a null\)$/],
    ['fromDense string value', () => Dataset.fromDense([[1, 2], [3, '4']] as never, [1, -1]), /^option rows\[1\]\[1\] = 4: must be a number \(got a string\)$/],
    ['fromCsr indptr of strings', () => Dataset.fromCsr({ indptr: ['0', '1'] as never, indices: [0], values: [1], labels: [1], d: 2 }), /^option indptr\[0\] = 0: must be a number/],
    ['train sampleWeights of booleans', () => train(data, { lambda: 0.1, sampleWeights: Array(60).fill(true) }), /^option sampleWeights\[0\] = true: must be a number \(got a boolean\)$/],
    ['objectiveValue weights of strings (napi\'s TypedArray message before)', () => objectiveValue(data, { w: Array(8).fill('0') as never, bias: 0 }, { lambda: 0.1 }), /^option model\.w\[0\] = 0: must be a number \(got a string\)$/],
    ['train warmStart bias', () => train(data, { lambda: 0.1, warmStart: { ...model, w: model.w, bias: '0' } as never }), /^option warmStart\.bias = 0: must be a finite number \(got a string\)$/],
    ['violation of strings', () => FeasibleSet.fromClean(data).violation(Array(8).fill('1') as never, 1), /^option x\[0\] = 1: must be a number \(got a string\)$/],
  ]
  for (const [what, call, message] of cases) {
    const error = await t.throwsAsync(async () => call(), { instanceOf: PoisonkitError }, what)
    t.is(error?.code, message.source.startsWith('^option') ? 'ERR_INVALID_OPTION' : 'ERR_DIM_MISMATCH', what)
    t.regex(error!.message, message, what)
  }
})
