import test from 'ava'
import {
  Dataset,
  PoisonkitError,
  hessianVectorProduct,
  loadDataset,
  makeBagOfWords,
  makeBlobs,
  objectiveGradient,
  objectiveValue,
  train,
} from '../ts/index.js'
import { data, hasData } from './helpers.js'

const realData = hasData ? test : test.skip

realData('Enron, λ 0.09: the paper\'s 2.9% test error (30 of 1035, as scikit-learn)', async (t) => {
  const [tr, te] = await Promise.all([
    loadDataset(data('enron.train.svm.gz'), { d: 5116 }),
    loadDataset(data('enron.test.svm.gz'), { d: 5116 }),
  ])
  const model = await train(tr, { lambda: 0.09 })
  t.true(model.converged)
  t.is(Math.round(model.error(te) * te.n), 30)
  t.true(model.dualityGap <= 1e-6 * model.objective)
  // scikit-learn's optimum for this problem (benchmarks/python, tol 1e-10): 0.2733370510458962.
  t.true(Math.abs(model.objective - 0.2733370510458962) <= 1e-6 * 0.2733370510458962)
  const json = model.toJSON()
  t.deepEqual(Object.keys(json).sort(), ['bias', 'lambda', 'loss', 'objective', 'w'])
  t.is(json.w.length, 5116)
})

test('predictions agree with the decision function and the error', async (t) => {
  const all = makeBlobs({ n: 400, d: 5, separation: 2, seed: 2 })
  const model = await train(all, { lambda: 0.1, loss: 'logistic' })
  const f = model.decision(all)
  const p = model.predict(all)
  const y = all.labels
  let wrong = 0
  for (let i = 0; i < all.n; i++) {
    t.is(p[i], f[i]! > 0 ? 1 : -1)
    if (p[i] !== y[i]) wrong++
  }
  t.is(model.error(all), wrong / all.n)
  t.true(model.meanLoss(all) > 0)
})

test('gradient and Hessian-vector product agree with finite differences', (t) => {
  const ds = makeBlobs({ n: 200, d: 4, seed: 5 })
  const options = { lambda: 0.05, loss: 'smooth-hinge' as const, temperature: 0.5 }
  const model = { w: Float64Array.from([0.3, -0.2, 0.1, 0.5]), bias: 0.1 }
  const v = { w: Float64Array.from([1, 0.5, -1, 0.25]), bias: -0.5 }
  const h = 1e-6
  const at = (s: number) => ({ w: model.w.map((w, j) => w + s * v.w[j]!), bias: model.bias + s * v.bias })
  const g = objectiveGradient(ds, model, options)
  const gv = g.w.reduce((acc, gj, j) => acc + gj * v.w[j]!, g.bias * v.bias)
  const fd = (objectiveValue(ds, at(h), options) - objectiveValue(ds, at(-h), options)) / (2 * h)
  t.true(Math.abs(gv - fd) <= 1e-6 * Math.abs(fd), `${gv} vs ${fd}`)
  const hv = hessianVectorProduct(ds, model, v, options)
  const gp = objectiveGradient(ds, at(h), options)
  const gm = objectiveGradient(ds, at(-h), options)
  hv.w.forEach((hj, j) => t.true(Math.abs(hj - (gp.w[j]! - gm.w[j]!) / (2 * h)) <= 1e-5 * (1 + Math.abs(hj))))
})

test('warm start from a previous hinge fit converges in fewer epochs', async (t) => {
  const ds = makeBagOfWords({ n: 1500, d: 300, seed: 1 })
  const cold = await train(ds, { lambda: 0.01, tol: 1e-8 })
  const warm = await train(ds, { lambda: 0.01, tol: 1e-8, warmStart: cold })
  t.true(warm.iterations < cold.iterations)
  t.true(Math.abs(warm.objective - cold.objective) <= 1e-7 * cold.objective)
})

test('bad options and data reject with stable codes', async (t) => {
  const ds = makeBlobs({ n: 50 })
  const code = async (p: Promise<unknown>) => (await t.throwsAsync(p, { instanceOf: PoisonkitError }))!.code
  t.is(await code(train(ds, { lambda: 0 })), 'ERR_INVALID_OPTION')
  t.is(await code(train(ds, { lambda: -1 })), 'ERR_INVALID_OPTION')
  t.is(await code(train(ds, { lambda: Number('x') })), 'ERR_INVALID_OPTION')
  t.is(await code(train(ds, { lambda: 1, loss: 'square' as never })), 'ERR_INVALID_OPTION')
  t.is(await code(train(ds, { lambda: 1, sampleWeights: [1, 2] })), 'ERR_DIM_MISMATCH')
  await t.throwsAsync(train(ds, { lambda: 1, maxIter: 1e300 }), { message: 'option maxIter = 1e+300: must be a non-negative integer up to 2^53 − 1' })
  await t.throwsAsync(train(ds.toCsr() as never, { lambda: 1 }), { code: 'ERR_INVALID_OPTION', message: /^option data = \(Object\): must be a Dataset/ })
  await t.throwsAsync(train(ds, undefined as never), { code: 'ERR_INVALID_ARGUMENT', message: 'train: the options must be an object, got undefined' })
  const positives = Array.from(ds.labels.keys()).filter((i) => ds.labels[i] === 1)
  const err = await t.throwsAsync(train(ds.slice(positives), { lambda: 1 }), { instanceOf: PoisonkitError })
  t.is(err!.code, 'ERR_EMPTY_CLASS')
  t.regex(err!.message, /class -1 has no points/)
  const multi = Dataset.fromDense([[1], [2], [3]], [0, 1, 2])
  t.is(await code(train(multi, { lambda: 1 })), 'ERR_LABEL')
  const model = await train(ds, { lambda: 1 })
  t.is((t.throws(() => model.error(makeBlobs({ d: 3 })), { instanceOf: PoisonkitError }) as PoisonkitError).code, 'ERR_DIM_MISMATCH')
  // A binary model's error on class indices would count every class but ±1 as wrong.
  const classes = makeBlobs({ n: 30, classes: 3, d: ds.d })
  for (const measure of [() => model.error(classes), () => model.meanLoss(classes)]) {
    t.throws(measure, { instanceOf: PoisonkitError, code: 'ERR_LABEL', message: /a binary model needs ±1 labels, got class indices 0\.\.2/ })
  }
})

test('an AbortSignal stops training, before or during the work', async (t) => {
  const ds = makeBagOfWords({ n: 20000, d: 2000, seed: 4 })
  const before = new AbortController()
  before.abort()
  const e1 = await t.throwsAsync(train(ds, { lambda: 1e-4, signal: before.signal }), { instanceOf: PoisonkitError })
  t.is(e1!.code, 'ERR_ABORTED')
  const during = new AbortController()
  setTimeout(() => during.abort(), 50)
  // λ tiny and tol tight: far longer than 50 ms.
  const e2 = await t.throwsAsync(train(ds, { lambda: 1e-6, tol: 1e-12, signal: during.signal }), {
    instanceOf: PoisonkitError,
  })
  t.is(e2!.code, 'ERR_ABORTED')
})
