import test from 'ava'
import { join } from 'node:path'
import { PoisonkitError, alfaAttack, influenceAttack, labelFlipAttack, loadDataset, makeBagOfWords, type AttackProgress } from '../ts/index.js'
import { abortsPromptly, cli, data, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip

function words() {
  const all = makeBagOfWords({ n: 600, d: 30, docLength: 20, signal: 0.3, seed: 1 })
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  return { train: all.slice(rows(0, 300)), test: all.slice(rows(300, 600)) }
}

test('influenceAttack on count data: two rounded points with copies, snapshots on the curve, same seed same bytes', async (t) => {
  const { train, test } = words()
  const seen: AttackProgress[] = []
  const options = { train, test, lambda: 0.05, eps: 0.1, maxIter: 40, scoreEvery: 20, stepSizes: [0.1, 0.3], seed: 2 }
  const a = await influenceAttack({ ...options, onProgress: (p) => seen.push(p), progressInterval: 5 })
  t.is(a.poison.n, 30)
  t.true(a.round)
  t.is(a.decoy, null)
  t.true(a.poison.toCsr().values.every((v) => v >= 0 && Number.isInteger(v)))
  t.true([0.1, 0.3].includes(a.stepSize))
  t.true(a.iteration >= 0 && a.iteration <= 40)
  // Up to 3 snapshots per step size (steps 0, 20, 40; fewer if the test loss stops rising), then 7
  // fresh roundings of each of the 4 leading ones.
  t.true(a.candidates.length >= 2 + 2 * 7 && a.candidates.length <= 6 + 4 * 7, `${a.candidates.length} snapshots`)
  t.is(a.curve.at(-1)!.minError, a.selection.min)
  t.true(a.selection.min > a.curve[0]!.minError || a.iteration === 0)
  const sweep = seen.filter((p) => p.phase === 'candidates')
  t.is(sweep.at(-1)!.done, sweep.at(-1)!.total)
  const b = await influenceAttack(options)
  t.deepEqual(b.poison.toCsr(), a.poison.toCsr())
  const basic = await influenceAttack({ ...options, basic: true, refitEvery: 5 })
  t.is(basic.poison.n, 30)
  // No gradient step: the starting points alone are scored, from the command line too.
  const dir = tmp()
  const [trainFile, testFile] = [join(dir, 'train.svm'), join(dir, 'test.svm')]
  await train.writeSvmlight(trainFile)
  await test.writeSvmlight(testFile)
  const r = cli('attack', 'influence', '--train', trainFile, '--test', testFile, '--lambda', '0.05', '--eps', '0.1', '--max-iter', '0', '--out', join(dir, 'p.svm'), '--json')
  t.is(r.code, 0, r.stderr)
  const start = JSON.parse(r.stdout)
  t.is(start.iteration, 0)
  t.true(start.epsPos + start.epsNeg > 0.099 && !('pointsPerClass' in start))
})

test('influenceAttack rejects bad options with a code and stops on an abort', async (t) => {
  const { train, test } = words()
  const base = { train, test, lambda: 0.05, eps: 0.1 }
  const bad: [object, RegExp][] = [
    [{ stepSizes: [] }, /option stepSizes/],
    [{ stepSizes: [0.1, -1] }, /option stepSizes\[1\] = -1/],
    [{ maxIter: 1.5 }, /option maxIter = 1.5/],
    [{ refitEvery: 0 }, /option refitEvery = 0/],
    [{ temperature: 0 }, /option temperature = 0/],
  ]
  for (const [extra, message] of bad) {
    const err = await t.throwsAsync(influenceAttack({ ...base, ...extra } as Parameters<typeof influenceAttack>[0]), { instanceOf: PoisonkitError })
    t.is(err?.code, 'ERR_INVALID_OPTION', JSON.stringify(extra))
    t.regex(err!.message, message)
  }
  await abortsPromptly(t, (signal) => influenceAttack({ ...base, maxIter: 100000, patience: 100000, signal }))
})

test('labelFlipAttack and alfaAttack: flipped dev points, seeded; alfa without a cap copies one point', async (t) => {
  const { train, test } = words()
  const base = { train, test, lambda: 0.05, eps: 0.1 }
  const flips = await labelFlipAttack({ ...base, seed: 1 })
  t.is(flips.poison.n, 30)
  t.false(flips.round)
  t.deepEqual((await labelFlipAttack({ ...base, seed: 1 })).poison.toCsr(), flips.poison.toCsr())
  const alfa = await alfaAttack(base)
  t.is(alfa.poison.n, 30)
  const csr = alfa.poison.toCsr()
  const row = (i: number) => JSON.stringify([csr.indices.slice(csr.indptr[i], csr.indptr[i + 1]), csr.values.slice(csr.indptr[i], csr.indptr[i + 1])])
  t.true(Array.from({ length: 30 }, (_, i) => row(i)).every((r) => r === row(0)))
  const capped = await alfaAttack({ ...base, maxCopies: 5 })
  const c = capped.poison.toCsr()
  const rows = new Set(Array.from({ length: 30 }, (_, i) => JSON.stringify([c.indices.slice(c.indptr[i], c.indptr[i + 1]), c.values.slice(c.indptr[i], c.indptr[i + 1])])))
  t.true(rows.size >= 6, `${rows.size} distinct points`)
  const err = await t.throwsAsync(alfaAttack({ ...base, maxCopies: -2 }), { instanceOf: PoisonkitError })
  t.is(err?.code, 'ERR_INVALID_OPTION')
})

realData('Enron, λ 0.09, ε 0.03: influence reaches the paper\'s 18.3% over the five defenses; alfa adds about 2 points under L2', async (t) => {
  const dir = tmp()
  const args = ['--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--eps', '0.03', '--d', '5116', '--json']
  const r = cli('attack', 'influence', ...args, '--out', join(dir, 'influence.svm'))
  t.is(r.code, 0, r.stderr)
  const o = JSON.parse(r.stdout)
  t.is(o.attack, 'influence')
  t.is(o.nPoison, 124)
  t.true(o.evaluation.min >= 0.183, `min over the five defenses ${o.evaluation.min}`)
  const poison = await loadDataset(join(dir, 'influence.svm'), { d: 5116 })
  t.true(poison.toCsr().values.every((v) => v >= 0 && Number.isInteger(v)))
  // Two distinct points before rounding, copies in inverse class balance (Enron: 88 and 36).
  t.is(Array.from(poison.labels).filter((y) => y === 1).length, 88)
  const clean = JSON.parse(cli('evaluate', '--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--d', '5116', '--defenses', 'l2', '--json').stdout)
  const a = cli('attack', 'alfa', ...args, '--out', join(dir, 'alfa.svm'))
  t.is(a.code, 0, a.stderr)
  const alfa = JSON.parse(a.stdout)
  const gain = alfa.evaluation.l2 - clean.l2
  t.true(gain >= 0.01 && gain <= 0.04, `alfa: L2 ${alfa.evaluation.l2} against ${clean.l2} clean`)
})

realData('Enron, λ 0.09, ε 0.03: influence-basic raises the undefended error but the loss and SVD defenses hold it to 11% (paper Figure 6)', (t) => {
  const dir = tmp()
  const args = ['--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--eps', '0.03', '--d', '5116', '--json']
  const r = cli('attack', 'influence', '--basic', ...args, '--out', join(dir, 'basic.svm'))
  t.is(r.code, 0, r.stderr)
  const { attack, nPoison, evaluation } = JSON.parse(r.stdout)
  t.is(attack, 'influence-basic')
  t.is(nPoison, 124)
  t.true(evaluation.none >= 0.1, `undefended ${evaluation.none}`)
  t.true(evaluation.loss <= 0.11 && evaluation.svd <= 0.11, `loss ${evaluation.loss}, SVD ${evaluation.svd}`)
})
