import test from 'ava'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PoisonkitError, evaluate, kktAttack, loadDataset, makeBagOfWords, makeBlobs, minmaxAttack, type AttackProgress, type Evaluation } from '../ts/index.js'
import { abortsPromptly, cli, data, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip

/** An evaluation's numbers, without its timings. */
function numbers({ timing: _timing, seconds: _seconds, ...rest }: Evaluation) {
  return rest
}

function words() {
  const all = makeBagOfWords({ n: 900, d: 150, seed: 4 })
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  return { train: all.slice(rows(0, 600)), test: all.slice(rows(600, 900)) }
}

test('kktAttack on count data: integer points, the split honoured, progress to the end, same seed same bytes', async (t) => {
  const { train, test } = words()
  const seen: AttackProgress[] = []
  const options = { train, test, lambda: 0.05, eps: 0.05, quantiles: [0.1, 0.2], copies: [2, 5], repeats: 2, seed: 3 }
  const a = await kktAttack({ ...options, onProgress: (p) => seen.push(p), progressInterval: 5 })
  t.is(a.poison.n, Math.round(0.05 * 600))
  t.true(a.round)
  const csr = a.poison.toCsr()
  t.true(csr.values.every((v) => v >= 0 && Number.isInteger(v)), 'non-negative integers')
  const positives = Array.from(a.poison.labels).filter((y) => y === 1).length
  t.is(positives, Math.round(a.epsPos * 600))
  t.true(Math.abs(a.epsPos + a.epsNeg - 0.05) < 1e-12)
  // 4 decoys × 7 or 8 splits, then 7 more roundings of each of the 5 leaders.
  t.is(a.decoys, 4)
  t.true(a.candidates.length >= 4 * 7 + 35 && a.candidates.length <= 4 * 8 + 35, `${a.candidates.length} candidates`)
  t.deepEqual(a.failures, [], 'no program failed')
  // The curve is the running best by the scoring defenses; the shortlist, the best of those, is
  // scored again by all five and the winner is its best; the final evaluation has all five.
  t.true(a.curve.every((p, i) => i === 0 || (p.minError >= a.curve[i - 1]!.minError && p.seconds >= a.curve[i - 1]!.seconds)))
  t.is(a.curve.at(-1)!.minError, Math.max(...a.candidates.map((c) => c.minError)))
  const listed = a.candidates.filter((c) => c.shortlistMin !== undefined)
  t.true(listed.length >= 1 && listed.length <= 4, `${listed.length} on the shortlist`)
  for (const c of listed) t.deepEqual(Object.keys(c.errors).sort(), ['knn', 'l2', 'loss', 'slab', 'svd'])
  t.is(a.selection.min, Math.max(...listed.map((c) => c.shortlistMin!)))
  t.deepEqual(Object.keys(a.selection.timing).sort(), ['knn', 'l2', 'loss', 'slab', 'svd'])
  for (const d of ['l2', 'slab', 'loss', 'svd', 'knn'] as const) t.true(a.evaluation[d]! >= 0 && a.evaluation[d]! <= 1, d)
  // Without it the scoring defenses select, as the reference.
  const reference = await kktAttack({ ...options, shortlist: 0 })
  t.true(reference.candidates.every((c) => c.shortlistMin === undefined))
  t.is(reference.selection.min, a.curve.at(-1)!.minError)
  t.deepEqual(Object.keys(reference.selection.timing).sort(), ['l2', 'loss', 'slab'])
  // Progress: decoys first, then candidates and the shortlist counting up to the total (the
  // shortlist's best by all five defenses: the winner's selection score), then the evaluation.
  const order = ['decoys', 'candidates', 'shortlist', 'evaluation']
  t.true(seen.every((p, i) => i === 0 || order.indexOf(p.phase) >= order.indexOf(seen[i - 1]!.phase)), seen.map((p) => p.phase).join(' '))
  const sweep = seen.filter((p) => p.phase === 'candidates' || p.phase === 'shortlist')
  t.true(sweep.length > 0)
  t.true(sweep.every((p, i) => i === 0 || p.done >= sweep[i - 1]!.done))
  t.is(sweep.at(-1)!.phase, 'shortlist')
  t.is(sweep.at(-1)!.done, sweep.at(-1)!.total)
  t.is(sweep.at(-1)!.best, a.selection.min)
  t.is(seen.at(-1)!.phase, 'evaluation')
  // The final evaluation is `evaluate`'s at the attack's λ and seed: knowing the test set, the
  // winner's selection was that very evaluation; scoring on the training data, it is a new one.
  t.deepEqual(numbers(a.evaluation), numbers(await evaluate({ train, test, poison: a.poison, lambda: 0.05, seed: 3 })))
  t.deepEqual(numbers(a.selection), numbers(a.evaluation))
  const blind = await kktAttack({ ...options, knowledge: 'train' })
  t.deepEqual(numbers(blind.evaluation), numbers(await evaluate({ train, test, poison: blind.poison, lambda: 0.05, seed: 3 })))
  t.notDeepEqual(numbers(blind.selection), numbers(blind.evaluation))
  const b = await kktAttack(options)
  t.deepEqual(b.poison.toCsr(), csr)
  const c = await kktAttack({ ...options, seed: 4 })
  t.notDeepEqual(c.poison.toCsr().values, csr.values)
})

test('kktAttack rejects bad options with a code and stops on an abort', async (t) => {
  const { train, test } = words()
  const base = { train, test, lambda: 0.05, eps: 0.05 }
  const bad: [object, RegExp][] = [
    [{ eps: 0 }, /option eps = 0/],
    [{ eps: 1.5 }, /option eps = 1.5/],
    [{ eps: 0.0005 }, /option eps = 0.0005: gives round\(ε·n\) = 0 poison points/],
    [{ lambda: -1 }, /option lambda = -1/],
    [{ knowledge: 'oracle' }, /option knowledge = oracle/],
    [{ grid: 'cifar' }, /option grid = cifar/],
    [{ quantiles: [0.1, 1.5] }, /quantiles/],
    [{ copies: [0] }, /option copies = 0/],
    [{ roundingTrials: 0 }, /option roundingTrials = 0/],
    [{ shortlist: -1 }, /option shortlist = -1/],
    [{ defenses: ['l2', 'pca'] }, /option defenses = pca/],
    [{ lossPercentile: 120 }, /option lossPercentile = 120/],
    [{ scoreAll: 'yes' }, /option scoreAll = yes/],
    // From JavaScript: a value of the wrong type is named, not a TypeError.
    [{ lambda: '0.05' }, /option lambda = 0.05: must be a finite number \(got a string\)/],
    [{ test: undefined }, /option test = undefined: must be a Dataset/],
    [{ train: train.toCsr() }, /option train = \(Object\): must be a Dataset/],
    [{ set: {} }, /option set = \(Object\): must be a FeasibleSet/],
  ]
  for (const [extra, message] of bad) {
    const err = await t.throwsAsync(kktAttack({ ...base, ...extra } as Parameters<typeof kktAttack>[0]), { instanceOf: PoisonkitError })
    t.is(err?.code, 'ERR_INVALID_OPTION', JSON.stringify(extra))
    t.regex(err!.message, message)
  }
  await t.throwsAsync(kktAttack(null as never), { instanceOf: PoisonkitError, code: 'ERR_INVALID_ARGUMENT', message: 'kktAttack: the options must be an object, got null' })
  // Training data of one class are named as such, before any decoy is fitted.
  const positives = train.slice(Array.from(train.labels.keys()).filter((i) => train.labels[i] === 1))
  await t.throwsAsync(kktAttack({ ...base, train: positives }), { code: 'ERR_EMPTY_CLASS', message: 'training data: class -1 has no points' })
  await abortsPromptly(t, (signal) => kktAttack({ ...base, quantiles: [0.05, 0.1, 0.15, 0.2, 0.25], copies: [1, 2, 3, 5, 8], signal }))
  // A progress callback that throws stops the attack, which rejects with its error (the process lives on).
  const boom = new Error('boom')
  const onProgress = () => {
    throw boom
  }
  const thrown = kktAttack({ ...base, quantiles: [0.05, 0.1, 0.15, 0.2, 0.25], copies: [1, 2, 3, 5, 8], progressInterval: 1, onProgress })
  t.is(await t.throwsAsync(thrown), boom)
})

test('minmaxAttack on count data: one candidate per decoy, scored by all five defenses; basic has no decoy; same seed same bytes', async (t) => {
  const { train, test } = words()
  const options = { train, test, lambda: 0.05, eps: 0.05, quantiles: [0.1, 0.2, 0.3], copies: [2, 5], prune: false, seed: 3 }
  const seen: AttackProgress[] = []
  const a = await minmaxAttack({ ...options, onProgress: (p) => seen.push(p), progressInterval: 5 })
  t.is(a.poison.n, Math.round(0.05 * 600))
  t.true(a.round)
  const csr = a.poison.toCsr()
  t.true(csr.values.every((v) => v >= 0 && Number.isInteger(v)), 'non-negative integers')
  const positives = Array.from(a.poison.labels).filter((y) => y === 1).length
  t.true(Math.abs(a.epsPos - positives / 600) < 1e-12 && Math.abs(a.epsPos + a.epsNeg - 0.05) < 1e-12)
  // 6 decoys, then 7 more games for each of the 4 leaders.
  t.is(a.decoys, 6)
  t.is(a.candidates.length, 6 + 4 * 7)
  // A candidate's score is the minimum of its errors, the defenses run cheapest first; one scored
  // partially stopped below the winner's score (with 4 leaders refined: below the 4th's).
  const cheapestFirst = ['l2', 'slab', 'loss', 'knn', 'svd']
  const leaders = a.candidates.filter((c) => !c.partial).map((c) => c.minError).sort((x, y) => y - x)
  for (const c of a.candidates) {
    t.deepEqual(Object.keys(c.errors), cheapestFirst.slice(0, Object.keys(c.errors).length))
    t.is(c.partial, Object.keys(c.errors).length < 5)
    t.is(c.minError, Math.min(...Object.values(c.errors)))
    if (c.partial) t.true(c.minError < leaders[3]!, `a partial candidate at ${c.minError}`)
    t.true(c.decoy !== null && c.decoy >= 0 && c.decoy < 6 && c.seconds > 0)
  }
  t.is(Math.max(...a.candidates.map((c) => c.minError)), a.selection.min)
  // Scoring every candidate in full selects the same poison.
  const full = await minmaxAttack({ ...options, scoreAll: true })
  t.true(full.candidates.every((c) => !c.partial && Object.keys(c.errors).length === 5))
  t.deepEqual(full.poison.toCsr(), a.poison.toCsr())
  t.not(a.decoy, null)
  t.false('residual' in a)
  t.deepEqual(Object.keys(a.selection.timing).sort(), ['knn', 'l2', 'loss', 'slab', 'svd'])
  t.true(a.curve.every((p, i) => i === 0 || p.minError >= a.curve[i - 1]!.minError))
  t.is(a.curve.at(-1)!.minError, a.selection.min)
  const sweep = seen.filter((p) => p.phase === 'candidates')
  t.is(sweep.at(-1)!.done, 34)
  t.deepEqual((await minmaxAttack(options)).poison.toCsr(), csr)
  t.true(a.candidates.every((c) => c.shortlistMin === undefined), 'no shortlist when all five score')
  // Scored by fewer defenses, with a shortlist the best decoys are scored again by all five and the
  // best of them wins.
  const narrowed = await minmaxAttack({ ...options, defenses: ['l2', 'loss'], shortlist: 4 })
  const listed = narrowed.candidates.filter((c) => c.shortlistMin !== undefined)
  t.true(listed.length >= 1 && listed.length <= 4, `${listed.length} on the shortlist`)
  for (const c of listed) t.deepEqual(Object.keys(c.errors).sort(), ['knn', 'l2', 'loss', 'slab', 'svd'])
  t.is(narrowed.selection.min, Math.max(...listed.map((c) => c.shortlistMin!)))
  const basic = await minmaxAttack({ ...options, basic: true })
  t.is(basic.decoy, null)
  t.is(basic.candidates.length, 1 + 7)
  t.is(basic.poison.n, 30)
})

test('minmaxAttack plays the Pareto front of the decoys, and every decoy when it knows only the training data', async (t) => {
  const { train, test } = words()
  const options = { train, test, lambda: 0.05, eps: 0.05, quantiles: [0.1, 0.2, 0.3], copies: [2, 5], roundingTrials: 1, seed: 3 }
  const front = await minmaxAttack(options)
  t.true(front.decoys < 6, `${front.decoys} decoys on the front`)
  t.is(front.candidates.length, front.decoys)
  const all = await minmaxAttack({ ...options, knowledge: 'train' })
  t.is(all.decoys, 6)
  t.is(all.candidates.length, 6)
  // Count data repeat each round's point twice by default (the reference's att_rep).
  t.deepEqual((await minmaxAttack({ ...options, repeats: 2 })).poison.toCsr(), front.poison.toCsr())
})

test('minmaxAttack on multi-class data: the game picks the labels, the multi-class defender scores them', async (t) => {
  const all = makeBlobs({ n: 900, d: 8, classes: 3, separation: 4, seed: 2 })
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  const [train, test] = [all.slice(rows(0, 600)), all.slice(rows(600, 900))]
  const options = { train, test, lambda: 0, eps: 0.05, quantiles: [0.1, 0.3], copies: [2, 5], prune: false, seed: 1 }
  const a = await minmaxAttack(options)
  t.is(a.poison.n, 30)
  t.false(a.round)
  t.true(Array.from(a.poison.labels).every((y) => [0, 1, 2].includes(y)))
  t.is(a.candidates.length, 4)
  // An attacker targeting one defense picks the best candidate under it (paper §5.7).
  const [l2] = (await minmaxAttack({ ...options, defenses: ['l2'] })).candidates.slice().sort((x, y) => y.minError - x.minError)
  t.is(l2!.minError, Math.max(...a.candidates.map((c) => c.errors.l2!)))
  t.deepEqual(Object.keys(a.selection.timing).sort(), ['l2', 'loss'])
  t.deepEqual(Object.keys(a.evaluation.timing).sort(), ['l2', 'loss'])
  t.deepEqual(numbers(a.evaluation), numbers(await evaluate({ train, test, poison: a.poison, lambda: 0, seed: 1 })))
  t.deepEqual((await minmaxAttack(options)).poison.toCsr(), a.poison.toCsr())
  // Continuous data get one point per round: the paper repeats points for integer data only.
  t.deepEqual((await minmaxAttack({ ...options, repeats: 1 })).poison.toCsr(), a.poison.toCsr())
  t.notDeepEqual((await minmaxAttack({ ...options, repeats: 2 })).poison.toCsr(), a.poison.toCsr())
  // The KKT attack is binary only, and says so.
  await t.throwsAsync(kktAttack(options), { instanceOf: PoisonkitError, code: 'ERR_INVALID_OPTION', message: /binary/ })
})

test('the attacks score against the defender optimizer asked for, and evaluate the winner with it as evaluate does', async (t) => {
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  const blobs = makeBlobs({ n: 900, d: 8, classes: 3, separation: 4, seed: 2 })
  const [train, test] = [blobs.slice(rows(0, 600)), blobs.slice(rows(600, 900))]
  const multiclass = { train, test, lambda: 0.01, eps: 0.05, quantiles: [0.1, 0.3], copies: [2, 5], prune: false, seed: 1 }
  const exact = await minmaxAttack({ ...multiclass, optimizer: 'exact' })
  t.deepEqual(numbers(exact.evaluation), numbers(await evaluate({ train, test, poison: exact.poison, lambda: 0.01, seed: 1, optimizer: 'exact' })))
  // Scored against AdaGrad, the same decoys' games score otherwise.
  const adagrad = await minmaxAttack(multiclass)
  t.notDeepEqual(exact.candidates.map((c) => c.errors), adagrad.candidates.map((c) => c.errors))
  const counts = words()
  const binary = { ...counts, lambda: 0.05, eps: 0.05, quantiles: [0.1, 0.3], copies: [2, 5] }
  const sgd = await kktAttack({ ...binary, optimizer: 'sgd' })
  t.deepEqual(numbers(sgd.evaluation), numbers(await evaluate({ ...counts, poison: sgd.poison, lambda: 0.05, optimizer: 'sgd' })))
  const refused: [() => Promise<unknown>, RegExp][] = [
    [() => minmaxAttack({ ...multiclass, lambda: 0, optimizer: 'exact' }), /option lambda = 0: must be a positive number for the exact multi-class solver/],
    [() => minmaxAttack({ ...multiclass, optimizer: 'sgd' }), /option optimizer = sgd: must be one of adagrad, exact/],
    [() => kktAttack({ ...binary, optimizer: 'adagrad' }), /option optimizer = adagrad: must be one of exact, sgd/],
  ]
  for (const [attack, message] of refused) await t.throwsAsync(attack, { instanceOf: PoisonkitError, code: 'ERR_INVALID_OPTION', message })
})

test('minmaxAttack rejects bad options with a code and stops on an abort', async (t) => {
  const { train, test } = words()
  const base = { train, test, lambda: 0.05, eps: 0.05 }
  const bad: [object, RegExp][] = [
    [{ eps: 1 }, /option eps = 1/],
    [{ eps: 0.0005 }, /option eps = 0.0005: gives round\(ε·n\) = 0 poison points/],
    [{ eta: -0.1 }, /option eta = -0.1/],
    [{ burn: Number.NaN }, /option burn = NaN/],
    [{ lossCap: -1 }, /option lossCap = -1/],
    [{ repeats: 0 }, /option repeats = 0/],
    [{ basic: 'yes' }, /option basic = yes/],
    [{ defenses: ['l2', 'pca'] }, /option defenses = pca/],
    [{ shortlist: 1.5 }, /option shortlist = 1.5/],
  ]
  for (const [extra, message] of bad) {
    const err = await t.throwsAsync(minmaxAttack({ ...base, ...extra } as Parameters<typeof minmaxAttack>[0]), { instanceOf: PoisonkitError })
    t.is(err?.code, 'ERR_INVALID_OPTION', JSON.stringify(extra))
    t.regex(err!.message, message)
  }
  await abortsPromptly(t, (signal) => minmaxAttack({ ...base, quantiles: [0.05, 0.1, 0.15, 0.2, 0.25], copies: [1, 2, 3, 5, 8], prune: false, signal }))
})

realData('Enron, λ 0.09, ε 0.03: 124 integer points reaching ≥ 22.5% over the five defenses (paper Table 2)', async (t) => {
  const dir = tmp()
  const out = join(dir, 'poison.svm')
  const r = cli('attack', 'kkt', '--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--eps', '0.03', '--repeats', '2', '--d', '5116', '--out', out, '--json')
  t.is(r.code, 0, r.stderr)
  const o = JSON.parse(r.stdout)
  for (const key of ['attack', 'eps', 'nPoison', 'seconds', 'evaluation', 'out', 'decoy', 'curve', 'failures']) t.true(key in o, key)
  t.is(o.nPoison, 124)
  t.deepEqual(o.failures, [])
  for (const d of ['none', 'l2', 'slab', 'loss', 'svd', 'knn', 'min']) t.is(typeof o.evaluation[d], 'number', d)
  t.true(o.evaluation.min >= 0.225, `min over the five defenses ${o.evaluation.min}`)
  // The poison file holds exactly those points: non-negative integer counts.
  const poison = await loadDataset(out, { d: 5116 })
  t.is(poison.n, 124)
  t.true(poison.toCsr().values.every((v) => v >= 0 && Number.isInteger(v)))
})

realData('Enron, λ 0.09, ε 0.03: min-max reaches the paper\'s 23.7% over the five defenses; min-max-basic falls to the loss defense', async (t) => {
  const dir = tmp()
  const args = ['--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--eps', '0.03', '--d', '5116', '--json']
  const r = cli('attack', 'minmax', ...args, '--out', join(dir, 'minmax.svm'))
  t.is(r.code, 0, r.stderr)
  const o = JSON.parse(r.stdout)
  t.is(o.attack, 'minmax')
  t.is(o.nPoison, 124)
  // Table 2's 23.7% is 245 of the 1,035 test points (23.67%) at the paper's precision.
  t.true(o.evaluation.min >= 245 / 1035 - 1e-9, `min over the five defenses ${o.evaluation.min}`)
  const poison = await loadDataset(join(dir, 'minmax.svm'), { d: 5116 })
  t.true(poison.toCsr().values.every((v) => v >= 0 && Number.isInteger(v)))
  // Figure 7: without the decoy's loss cap, the loss defense removes the poison (about 10%).
  const b = cli('attack', 'minmax', '--basic', ...args, '--out', join(dir, 'basic.svm'))
  t.is(b.code, 0, b.stderr)
  const basic = JSON.parse(b.stdout)
  t.is(basic.attack, 'minmax-basic')
  t.is(basic.decoy, null)
  t.true(basic.evaluation.loss <= 0.12 && basic.evaluation.none >= 0.2, JSON.stringify(basic.evaluation))
})

test('attack CLI: class indices take the mnist grid unless --grid says otherwise, and report points per class', async (t) => {
  const dir = tmp()
  const blobs = join(dir, 'blobs.svm')
  await makeBlobs({ n: 600, d: 6, classes: 3, separation: 1.5, seed: 5 }).writeSvmlight(blobs)
  const run = (...more: string[]) => cli('attack', 'minmax', '--train', blobs, '--test', blobs, '--lambda', '0', '--out', join(dir, 'p.svm'), '--all-decoys', '--rounding-trials', '1', ...more)
  const mnist = run()
  t.is(mnist.code, 0, mnist.stderr)
  // The reference's MNIST grid: 9 quantiles × 8 copies; Enron's: 11 × 9.
  t.regex(mnist.stdout, /; 72 candidates from 72 decoys\n/)
  t.regex(mnist.stdout, /^min-max attack: 18 poison points \(ε = 0\.03, points per class 0: \d+, 1: \d+, 2: \d+\)/)
  // With --json the split is the points of each class (ε₊, ε₋ count class 1 against the rest).
  const enron = JSON.parse(run('--grid', 'enron', '--json').stdout)
  t.is(enron.candidates.length, 99)
  t.is(enron.pointsPerClass.length, 3)
  t.is(enron.pointsPerClass.reduce((a: number, b: number) => a + b, 0), 18)
  t.false('epsPos' in enron)
})

test('attack CLI: usage errors exit 2 naming the option', (t) => {
  const dir = tmp()
  const f = join(dir, 'ok.svm')
  writeFileSync(f, '1 1:1\n-1 2:1\n')
  const expect = (r: ReturnType<typeof cli>, pattern: RegExp) => {
    t.is(r.code, 2, r.stderr)
    t.is(r.stdout, '')
    t.regex(r.stderr.trim(), pattern)
  }
  expect(cli('attack'), /^error\[ERR_USAGE\]: missing attack \(attacks: kkt, minmax, influence, labelflip, alfa\)$/)
  expect(cli('attack', 'nope'), /^error\[ERR_USAGE\]: unknown attack 'nope'/)
  expect(cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '1'), /^error\[ERR_USAGE\]: missing required option --out$/)
  expect(cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '1', '--out', join(dir, 'p.svm'), '--eps', '2'), /^error\[ERR_INVALID_OPTION\]: option --eps = 2/)
  expect(cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '1', '--out', join(dir, 'p.svm'), '--knowledge', 'all'), /^error\[ERR_INVALID_OPTION\]: option --knowledge = all/)
  // Counts are checked before the data are read (here a missing file would be the error).
  const missing = join(dir, 'missing.svm')
  expect(cli('attack', 'minmax', '--train', missing, '--test', missing, '--lambda', '1', '--eps', '0.1', '--out', join(dir, 'p.svm'), '--shortlist', '1.5'), /^error\[ERR_INVALID_OPTION\]: option --shortlist = 1.5/)
  expect(cli('attack', 'influence', '--train', missing, '--test', missing, '--lambda', '1', '--eps', '0.1', '--out', join(dir, 'p.svm'), '--max-iter', 'x'), /^error\[ERR_INVALID_OPTION\]: option --max-iter = x/)
  const onMissing = (kind: string, ...more: string[]) => cli('attack', kind, '--train', missing, '--test', missing, '--lambda', '1', '--out', join(dir, 'p.svm'), ...more)
  for (const name of ['--repeats', '--rounding-trials']) expect(onMissing('kkt', name, '0'), new RegExp(`^error\\[ERR_INVALID_OPTION\\]: option ${name} = 0: must be an integer ≥ 1$`))
  expect(onMissing('minmax', '--optimizer', 'newton'), /^error\[ERR_INVALID_OPTION\]: option --optimizer = newton: must be one of exact, sgd, adagrad$/)
  // Which optimizers train the defender depends on the labels, known once the data are read.
  expect(cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '1', '--eps', '0.5', '--out', join(dir, 'p.svm'), '--optimizer', 'adagrad'), /^error\[ERR_INVALID_OPTION\]: option --optimizer: adagrad does not train the defender of the training data \(±1 labels: one of exact, sgd\)$/)
  // A game's --iterative is a period (≥ 1); KKT's counts refitting rounds, 0 for none.
  expect(onMissing('minmax', '--iterative', '0'), /^error\[ERR_INVALID_OPTION\]: option --iterative = 0: must be an integer ≥ 1$/)
  t.regex(onMissing('kkt', '--iterative', '0').stderr, /^error\[ERR_FILE_NOT_FOUND\]/)
  expect(onMissing('kkt', '--defenses', 'l2,loss,l2'), /^error\[ERR_INVALID_OPTION\]: option --defenses = l2,loss,l2: l2 is listed twice$/)
  // The output file's folder is checked before the attack (which can run for an hour), not after.
  const noFolder = join(dir, 'no-such-folder', 'p.svm')
  expect(cli('attack', 'kkt', '--train', missing, '--test', missing, '--lambda', '1', '--out', noFolder), /^error\[ERR_INVALID_OPTION\]: option --out = .*p\.svm: its folder .*no-such-folder does not exist$/)
  expect(cli('attack', 'kkt', '--train', missing, '--test', missing, '--lambda', '1', '--out', dir), /^error\[ERR_INVALID_OPTION\]: option --out = .*: is a folder, not a file$/)
  expect(cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '1', '--out', f), /^error\[ERR_INVALID_OPTION\]: option --out = .*ok\.svm: is also --train, which writing would overwrite$/)
  // A kind's help is its own section; without a kind, every section.
  const kktHelp = cli('attack', 'kkt', '--help').stdout
  t.regex(kktHelp, /^poisonkit attack kkt --train F/)
  t.regex(kktHelp, /--knowledge test\|train/)
  t.notRegex(kktHelp, /^minmax:/m)
  t.regex(cli('attack', '--help').stdout, /^kkt:[^]*^minmax:[^]*^influence:[^]*^labelflip:[^]*^alfa:/m)
})
