import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PoisonkitError, evaluate, loadDataset, makeBlobs, trainMulticlass } from '../ts/index.js'
import { cli, data, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip

// scikit-learn's LinearSVC(multi_class='crammer_singer', C = 1/(nλ), tol 1e-9) on the MNIST files at
// λ 0.001: P(W, b) recomputed from its weights and biases.
const SKLEARN_MNIST_OBJECTIVE = 0.21227891103500132

realData('10-class MNIST: AdaGrad near the paper\'s 7.5%, the exact solver at scikit-learn\'s optimum', async (t) => {
  const [tr, te] = await Promise.all([
    loadDataset(data('mnist.train.svm.gz'), { d: 784 }),
    loadDataset(data('mnist.test.svm.gz'), { d: 784 }),
  ])
  const adagrad = await trainMulticlass(tr, { lambda: 0 })
  t.true(adagrad.error(te) >= 0.065 && adagrad.error(te) <= 0.085, `AdaGrad test error ${adagrad.error(te)}`)
  t.true(Number.isNaN(adagrad.dualityGap) && adagrad.iterations === 3)
  const exact = await trainMulticlass(tr, { lambda: 0.001, optimizer: 'exact' })
  t.true(exact.converged && exact.dualityGap <= 1e-6 * exact.objective)
  // scikit-learn on the same problem: 714 test errors.
  t.true(Math.abs(exact.objective - SKLEARN_MNIST_OBJECTIVE) <= 1e-6 * SKLEARN_MNIST_OBJECTIVE, `${exact.objective}`)
  t.is(Math.round(exact.error(te) * te.n), 714)
})

test('a multi-class model predicts, scores and serializes; the same seed gives the same model', async (t) => {
  const all = makeBlobs({ n: 600, d: 6, classes: 3, separation: 4, seed: 5 })
  for (const optimizer of ['adagrad', 'exact'] as const) {
    // 3 passes of batches of 20 are 90 steps on 600 points: AdaGrad gets 30 passes here.
    const options = { lambda: 0.01, optimizer, passes: optimizer === 'adagrad' ? 30 : undefined }
    const model = await trainMulticlass(all, options)
    t.is(model.iterations, optimizer === 'adagrad' ? 30 : model.iterations)
    t.is(model.numClasses, 3)
    t.is(model.w.length, 3)
    t.true(model.w.every((row) => row.length === 6))
    const predicted = model.predict(all)
    const wrong = predicted.filter((p, i) => p !== all.labels[i]).length
    t.is(model.error(all), wrong / all.n)
    t.true(model.error(all) < 0.2, `${optimizer}: training error ${model.error(all)}`)
    t.true(model.meanHinge(all) > 0)
    const json = model.toJSON()
    t.deepEqual(Object.keys(json).sort(), ['bias', 'lambda', 'objective', 'optimizer', 'w'])
    t.is(json.optimizer, optimizer)
    const again = await trainMulticlass(all, options)
    t.deepEqual(again.toJSON(), json)
    const other = await trainMulticlass(all, { ...options, seed: 1 })
    if (optimizer === 'adagrad') t.notDeepEqual(other.toJSON().w, json.w, 'the seed orders the mini-batches')
  }
  const exact = await trainMulticlass(all, { lambda: 0.01, optimizer: 'exact', tol: 1e-9 })
  t.true(exact.converged && exact.dualityGap <= 1e-9 * exact.objective)
})

test('the evaluation trains the exact multi-class defender when asked', async (t) => {
  const all = makeBlobs({ n: 600, d: 6, classes: 3, separation: 1.5, seed: 5 })
  const ev = await evaluate({ train: all, test: all, lambda: 0.01, optimizer: 'exact', defenses: ['l2', 'loss'] })
  const exact = await trainMulticlass(all, { lambda: 0.01, optimizer: 'exact' })
  t.is(ev.none, exact.error(all))
  t.true(ev.converged)
  const sgd = await t.throwsAsync(evaluate({ train: all, test: all, lambda: 0.01, optimizer: 'sgd' }), { instanceOf: PoisonkitError })
  t.regex(sgd!.message, /option optimizer = sgd: must be one of adagrad, exact/)
  const zero = await t.throwsAsync(evaluate({ train: all, test: all, lambda: 0, optimizer: 'exact' }), { instanceOf: PoisonkitError })
  t.regex(zero!.message, /lambda = 0: must be a positive number for the exact multi-class solver/)
})

test('bad multi-class training input rejects with a code; an AbortSignal stops it', async (t) => {
  const all = makeBlobs({ n: 300, d: 4, classes: 3, seed: 1 })
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p, { instanceOf: PoisonkitError })) as PoisonkitError).code
  t.is(await code(trainMulticlass(all, { lambda: 0, optimizer: 'exact' })), 'ERR_INVALID_OPTION')
  t.is(await code(trainMulticlass(all, { lambda: -1 })), 'ERR_INVALID_OPTION')
  t.is(await code(trainMulticlass(all, { lambda: 0, optimizer: 'sgd' as 'exact' })), 'ERR_INVALID_OPTION')
  t.is(await code(trainMulticlass(all, { lambda: 0, batch: 0 })), 'ERR_INVALID_OPTION')
  t.is(await code(trainMulticlass(makeBlobs({ n: 50 }), { lambda: 0.1 })), 'ERR_LABEL')
  const model = await trainMulticlass(all, { lambda: 0 })
  t.is((t.throws(() => model.error(makeBlobs({ classes: 3, d: 5 })), { instanceOf: PoisonkitError }) as PoisonkitError).code, 'ERR_DIM_MISMATCH')
  const big = makeBlobs({ n: 20000, d: 50, classes: 5, separation: 0.5, seed: 2 })
  const controller = new AbortController()
  const run = trainMulticlass(big, { lambda: 1e-6, optimizer: 'exact', tol: 1e-12, signal: controller.signal })
  setTimeout(() => controller.abort(), 50)
  t.is(await code(run), 'ERR_ABORTED')
})

test('train CLI: class indices train the multi-class SVM; its options are refused for binary data', async (t) => {
  const dir = tmp()
  const blobs = join(dir, 'blobs.svm')
  await makeBlobs({ n: 600, d: 6, classes: 3, separation: 1.5, seed: 5 }).writeSvmlight(blobs)
  const out = join(dir, 'model.json')
  const r = cli('train', '--train', blobs, '--test', blobs, '--lambda', '0.01', '--optimizer', 'exact', '--json', '--model-out', out)
  t.is(r.code, 0, r.stderr)
  const o = JSON.parse(r.stdout) as Record<string, unknown>
  t.is(o.classes, 3)
  t.is(o.optimizer, 'exact')
  t.is(o.converged, true)
  const text = cli('train', '--train', blobs, '--test', blobs, '--lambda', '0')
  t.is(text.code, 0, text.stderr)
  t.regex(text.stdout, /n 600, d 6, 3 classes\n.*\n.*\nobjective +\S+ \(AdaGrad, 3 passes\)/)
  t.regex(cli('train', '--train', blobs, '--test', blobs, '--lambda', '0.01', '--loss', 'logistic').stderr, /^error\[ERR_INVALID_OPTION\]: option --loss/)
  const ok = join(dir, 'ok.svm')
  writeFileSync(ok, '1 1:1\n-1 2:1\n1 1:2\n-1 2:2\n')
  t.regex(cli('train', '--train', ok, '--test', ok, '--lambda', '1', '--optimizer', 'exact').stderr, /^error\[ERR_INVALID_OPTION\]: option --optimizer: for multi-class data only/)
})
