import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Dataset, PoisonkitError, evaluate, loadDataset, makeBagOfWords, makeBlobs, train as trainModel } from '../ts/index.js'
import { cli, data, dataDir, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip
const fixture = (name: string) => join(dataDir, '../fixtures/enron-minmax-eps0.03', `${name}.svm.gz`)

realData('Enron + recorded min-max attack 24: the fixture README numbers', async (t) => {
  const [train, test, poison] = await Promise.all(
    [data('enron.train.svm.gz'), data('enron.test.svm.gz'), fixture('attack-24')].map((p) => loadDataset(p, { d: 5116 })),
  )
  const e = await evaluate({ train, test, poison, lambda: 0.09 })
  // README: none 0.2348, L2 0.2329, slab 0.2280, loss 0.2454, svd 0.2329, knn 0.2338 (±0.3 points).
  t.is(Math.round(e.none * 1035), Math.round(0.2348 * 1035))
  const reference = { l2: 0.2329, slab: 0.228, loss: 0.2454, svd: 0.2329, knn: 0.2338 }
  for (const [name, want] of Object.entries(reference)) {
    const got = e[name as keyof typeof reference]!
    t.true(Math.abs(got - want) <= 0.003, `${name}: ${got} vs ${want}`)
  }
  t.is(e.min, Math.min(e.l2!, e.slab!, e.loss!, e.svd!, e.knn!))
  // The slab defense caught about 31% of this attack (digest §10: 69% kept); the others little.
  t.true(Math.abs(e.poisonKept.slab! - 0.69) < 0.02)
  t.true(e.converged)
})

realData('the defenders of paper §6.3: logistic loss and one pass of SGD, against scikit-learn on Enron', async (t) => {
  const [train, test] = await Promise.all([data('enron.train.svm.gz'), data('enron.test.svm.gz')].map((p) => loadDataset(p, { d: 5116 })))
  const defenses = ['l2' as const]
  const logistic = await evaluate({ train, test, lambda: 0.09, loss: 'logistic', defenses })
  // The same objective as trainModel's logistic regression, solved by the same Newton method.
  const model = await trainModel(train, { lambda: 0.09, loss: 'logistic' })
  t.is(logistic.none, model.error(test))
  // scikit-learn's SGDClassifier(alpha=0.09, max_iter=1), 10 seeds: hinge 3.21% ± 0.50, log_loss
  // 8.89% ± 0.72; exact: hinge 2.90%, logistic 9.18%.
  const sgd = await Promise.all(
    [0, 1, 2, 3].map((seed) => evaluate({ train, test, lambda: 0.09, optimizer: 'sgd', seed, defenses })),
  )
  const mean = sgd.reduce((a, e) => a + e.none, 0) / sgd.length
  t.true(mean > 0.0321 - 0.01 && mean < 0.0321 + 0.01, `one pass of SGD: mean test error ${mean}`)
  t.true(new Set(sgd.map((e) => e.none)).size > 1, 'the seed orders the pass')
  t.is((await evaluate({ train, test, lambda: 0.09, optimizer: 'sgd', seed: 2, defenses })).none, sgd[2]!.none)
  const sgdLogistic = await evaluate({ train, test, lambda: 0.09, optimizer: 'sgd', loss: 'logistic', defenses })
  t.true(Math.abs(sgdLogistic.none - 0.0889) < 0.02, `logistic SGD: ${sgdLogistic.none}`)
})

function tinyProblem() {
  const all = makeBagOfWords({ n: 700, d: 200, seed: 9 })
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  return { train: all.slice(rows(0, 400)), test: all.slice(rows(400, 600)), pool: all.slice(rows(600, 700)) }
}

test('label-flipped points are scored, and a subset of defenses can be asked for', async (t) => {
  const { train, test, pool } = tinyProblem()
  const csr = pool.toCsr()
  const flipped = Dataset.fromCsr({ ...csr, labels: Array.from(csr.labels, (y) => -y) })
  const e = await evaluate({ train, test, poison: flipped, lambda: 0.01, defenses: ['loss', 'l2'] })
  t.deepEqual(Object.keys(e.poisonKept).sort(), ['l2', 'loss'])
  t.is(e.svd, undefined)
  t.true(e.none >= 0 && e.none <= 1)
  // The loss defense sees label flips: it keeps fewer poison points than clean ones.
  t.true(e.poisonKept.loss! < e.cleanKept.loss!)
  // A threshold above every score keeps everything: each defense then equals no defense.
  const keepAll = await evaluate({ train, test, poison: flipped, lambda: 0.01, defenses: ['l2'], thresholds: { 1: 1e9, '-1': 1e9 } })
  t.is(keepAll.poisonKept.l2, 1)
  t.is(keepAll.l2, keepAll.none)
  // One below every score empties its class: the error says which defense did it.
  const emptied = evaluate({ train, test, poison: flipped, lambda: 0.01, defenses: ['slab', 'l2'], thresholds: { '-1': -1 } })
  await t.throwsAsync(emptied, { instanceOf: PoisonkitError, code: 'ERR_EMPTY_CLASS', message: 'the points the slab defense kept: class -1 has no points' })
  const clean = await evaluate({ train, test, lambda: 0.01 })
  t.deepEqual(clean.poisonKept, {})
  t.is(typeof clean.knn, 'number')
})

test('oracle defenses are fitted on the clean data only', async (t) => {
  const { train, test, pool } = tinyProblem()
  const csr = pool.toCsr()
  const flipped = Dataset.fromCsr({ ...csr, labels: Array.from(csr.labels, (y) => -y) })
  // Without poison the two fits see the same data.
  const [emp, oracle] = await Promise.all([
    evaluate({ train, test, lambda: 0.01, fit: 'empirical' }),
    evaluate({ train, test, lambda: 0.01, fit: 'oracle' }),
  ])
  t.deepEqual(oracle, { ...emp, seconds: oracle.seconds, timing: oracle.timing })
  // With poison, the oracle's loss defense scores with the clean model, which the flips did not
  // bend: it removes more of the poison (and less clean data) than the empirical one.
  const run = (fit: 'empirical' | 'oracle') =>
    evaluate({ train, test, poison: flipped, lambda: 0.01, fit, defenses: ['loss'] })
  const [e, o] = await Promise.all([run('empirical'), run('oracle')])
  t.true(o.poisonKept.loss! < e.poisonKept.loss!, `${o.poisonKept.loss} vs ${e.poisonKept.loss}`)
  t.true(o.cleanKept.loss! > e.cleanKept.loss!)
})

test('bad evaluation input rejects with a code', async (t) => {
  const { train, test, pool } = tinyProblem()
  const code = async (p: Promise<unknown>) => (await t.throwsAsync(p, { instanceOf: PoisonkitError }))!.code
  const wide = makeBagOfWords({ n: 10, d: 300 })
  t.is(await code(evaluate({ train, test, poison: wide, lambda: 0.01 })), 'ERR_DIM_MISMATCH')
  const multi = Dataset.fromDense(Array.from({ length: 3 }, () => new Array(200).fill(0)), [0, 1, 2])
  t.is(await code(evaluate({ train, test, poison: multi, lambda: 0.01 })), 'ERR_LABEL')
  t.is(await code(evaluate({ train, test, poison: pool.slice([]), lambda: 0.01 })), 'ERR_PARSE')
  for (const removeFraction of [0, 1, -0.5, 1.5]) {
    t.is(await code(evaluate({ train, test, poison: pool, lambda: 0.01, removeFraction })), 'ERR_INVALID_OPTION')
  }
  t.is(await code(evaluate({ train, test, lambda: 0.01, defenses: ['pca' as never] })), 'ERR_INVALID_OPTION')
  await t.throwsAsync(evaluate({ train, test, lambda: 0.01, defenses: ['l2', 'loss', 'l2'] }), { message: 'option defenses = l2: each defense may be listed once' })
  t.is(await code(evaluate({ train, test, lambda: 0 })), 'ERR_INVALID_OPTION')
  await t.throwsAsync(evaluate({ train, lambda: 0.01 } as never), { code: 'ERR_INVALID_OPTION', message: /^option test = undefined: must be a Dataset/ })
  t.is(await code(evaluate({ train, test, lambda: 0.01, loss: 'squared' as never })), 'ERR_INVALID_OPTION')
  t.is(await code(evaluate({ train, test, lambda: 0.01, optimizer: 'adam' as never })), 'ERR_INVALID_OPTION')
  const classes = Dataset.fromDense([[0, 1], [1, 0], [1, 1]], [0, 1, 2])
  t.is(await code(evaluate({ train: classes, test: classes, lambda: 0.01, loss: 'logistic' })), 'ERR_INVALID_OPTION')
  t.is(await code(evaluate({ train, test, lambda: 1, removeFraction: 0.1, thresholds: { 1: 2 } })), 'ERR_INVALID_OPTION')
})

realData('poisonkit evaluate --json prints the paper\'s table as one object', (t) => {
  const r = cli(
    'evaluate', '--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'),
    '--poison', fixture('attack-01'), '--lambda', '0.09', '--d', '5116', '--json',
  )
  t.is(r.code, 0, r.stderr)
  const o = JSON.parse(r.stdout)
  for (const key of ['none', 'l2', 'slab', 'loss', 'svd', 'knn', 'min', 'poisonKept', 'cleanKept', 'seconds']) t.true(key in o, key)
  // expected.jsonl, attack-01: none 0.2444 (exact), slab 0.0609, loss 0.0792, min = slab.
  t.is(Math.round(o.none * 1035), Math.round(0.24444444444444446 * 1035))
  t.true(Math.abs(o.slab - 0.060869565217391286) <= 0.003)
  t.true(Math.abs(o.loss - 0.07922705314009659) <= 0.003)
  t.is(o.min, Math.min(o.l2, o.slab, o.loss, o.svd, o.knn))
})

test('evaluate CLI: bad options exit 2, an empty poison file exits 1', (t) => {
  const r1 = cli('evaluate', '--train', 'a.svm', '--test', 'b.svm', '--lambda', '1', '--remove', '1.5')
  t.is(r1.code, 2)
  t.regex(r1.stderr, /^error\[ERR_INVALID_OPTION\]: option --remove = 1\.5/)
  const r2 = cli('evaluate', '--train', 'a.svm', '--test', 'b.svm', '--lambda', '1', '--defenses', 'l2,pca')
  t.is(r2.code, 2)
  t.regex(r2.stderr, /^error\[ERR_INVALID_OPTION\]: option --defenses = l2,pca: 'pca' is not one of l2, slab, loss, svd, knn$/m)
  const dir = tmp()
  const ok = join(dir, 'ok.svm')
  const empty = join(dir, 'empty.svm')
  writeFileSync(ok, '1 1:1\n-1 2:1\n1 1:2\n-1 2:2\n')
  writeFileSync(empty, '# no points\n')
  const r3 = cli('evaluate', '--train', ok, '--test', ok, '--poison', empty, '--lambda', '1', '--d', '2')
  t.is(r3.code, 1)
  t.regex(r3.stderr.trim(), /^error\[ERR_PARSE\]: .*empty\.svm: no data points$/)
})

test('evaluate CLI: --knn-k is the k-NN defense\'s k', async (t) => {
  const dir = tmp()
  const [trainFile, testFile] = [join(dir, 'train.svm'), join(dir, 'test.svm')]
  const [train, test] = [makeBlobs({ n: 300, d: 5, separation: 1, seed: 1 }), makeBlobs({ n: 300, d: 5, separation: 1, seed: 101 })]
  await train.writeSvmlight(trainFile)
  await test.writeSvmlight(testFile)
  const knnOf = (e: { knn?: number; cleanKept: { knn?: number } }) => ({ knn: e.knn, kept: e.cleanKept.knn })
  const library = async (knnK?: number) => knnOf(await evaluate({ train, test, lambda: 0.1, defenses: ['knn'], knnK }))
  const [two, five] = [await library(2), await library()]
  t.notDeepEqual(two, five) // so the comparison below can tell k = 2 from the default 5
  const r = cli('evaluate', '--train', trainFile, '--test', testFile, '--lambda', '0.1', '--defenses', 'knn', '--knn-k', '2', '--json')
  t.is(r.code, 0, r.stderr)
  t.deepEqual(knnOf(JSON.parse(r.stdout)), two)
})

test('evaluate CLI: λ 0 is the multi-class defender (paper §5.7), refused for binary data; --seed orders its mini-batches', async (t) => {
  const dir = tmp()
  const blobs = join(dir, 'blobs.svm')
  await makeBlobs({ n: 600, d: 6, classes: 3, separation: 1.5, seed: 5 }).writeSvmlight(blobs)
  const run = (seed: string) => cli('evaluate', '--train', blobs, '--test', blobs, '--lambda', '0', '--defenses', 'l2,loss', '--seed', seed, '--json')
  const runs = ['0', '1', '2', '3'].map(run)
  for (const r of runs) t.is(r.code, 0, r.stderr)
  const errorsOf = (stdout: string) => {
    const { none, l2, loss } = JSON.parse(stdout) as { none: number; l2: number; loss: number }
    return { none, l2, loss }
  }
  const errors = runs.map((r) => errorsOf(r.stdout))
  for (const e of errors) t.true(e.none > 0 && e.none < 0.5 && e.l2 >= 0 && e.loss >= 0, JSON.stringify(e))
  t.deepEqual(errorsOf(run('0').stdout), errors[0])
  t.true(new Set(errors.map((e) => JSON.stringify(e))).size > 1, 'the seed changes the mini-batches')
  const ok = join(dir, 'ok.svm')
  writeFileSync(ok, '1 1:1\n-1 2:1\n1 1:2\n-1 2:2\n')
  const binary = cli('evaluate', '--train', ok, '--test', ok, '--lambda', '0')
  t.is(binary.code, 2)
  t.regex(binary.stderr, /option --lambda = 0: must be a positive number/)
})
