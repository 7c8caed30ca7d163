import test from 'ava'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli, data, hasData, tmp } from './helpers.js'

const realData = hasData ? test : test.skip

realData('train --json on Enron prints one object with the paper\'s error', (t) => {
  const out = join(tmp(), 'model.json')
  const r = cli('train', '--train', data('enron.train.svm.gz'), '--test', data('enron.test.svm.gz'), '--lambda', '0.09', '--d', '5116', '--json', '--model-out', out)
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  t.is(lines.length, 1)
  const o = JSON.parse(lines[0]!)
  for (const key of ['n', 'd', 'lambda', 'loss', 'testError', 'trainError', 'objective', 'dualityGap', 'iterations', 'seconds']) {
    t.true(key in o, key)
  }
  t.is(o.n, 4137)
  t.is(o.d, 5116)
  t.is(Math.round(o.testError * 1035), 30)
  const model = JSON.parse(readFileSync(out, 'utf8'))
  t.is(model.w.length, 5116)
  t.is(model.loss, 'hinge')
  t.is(model.lambda, 0.09)
})

test('demo --json prints one cell result per attack, with its poison file', (t) => {
  const out = join(tmp(), 'demo')
  const r = cli('demo', '--json', '--out', out)
  t.is(r.code, 0, r.stderr)
  const cells = r.stdout.trim().split('\n').map((line) => JSON.parse(line))
  t.deepEqual(cells.map((c) => c.label), ['kkt', 'minmax'])
  for (const c of cells) {
    t.is(c.nPoison, 45) // round(0.03 · 1500)
    const e = c.evaluation
    t.true(e.min > 0 && e.min === Math.min(e.l2, e.slab, e.loss, e.svd, e.knn), JSON.stringify(e))
    t.true(existsSync(join(out, c.poison)))
  }
})

function expectError(t: import('ava').ExecutionContext, r: ReturnType<typeof cli>, exit: number, pattern: RegExp) {
  t.is(r.code, exit, r.stderr)
  t.is(r.stdout, '')
  t.regex(r.stderr.trim(), pattern)
  t.notRegex(r.stderr, /\n\s+at /) // no stack trace
}

test('usage errors exit 2 with error[CODE] naming the option', (t) => {
  const dir = tmp()
  const f = join(dir, 'ok.svm')
  writeFileSync(f, '1 1:1\n-1 2:1\n')
  expectError(t, cli('train', '--train', f, '--test', f), 2, /^error\[ERR_USAGE\]: missing required option --lambda$/)
  expectError(t, cli('train', '--train', f, '--test', f, '--lambda', '0'), 2, /^error\[ERR_INVALID_OPTION\]: option --lambda = 0: must be a positive number for ±1 labels/)
  // Options that are wrong whatever the data are named before the data are read.
  const missing = join(dir, 'missing.svm')
  const onMissing = (...more: string[]) => cli('train', '--train', missing, '--test', missing, '--lambda', '1', ...more)
  expectError(t, onMissing('--tol', '2'), 2, /^error\[ERR_INVALID_OPTION\]: option --tol = 2: must lie in \(0, 1\)$/)
  expectError(t, onMissing('--max-iter', '0'), 2, /^error\[ERR_INVALID_OPTION\]: option --max-iter = 0: must be an integer ≥ 1$/)
  expectError(t, onMissing('--d', '0'), 2, /^error\[ERR_INVALID_OPTION\]: option --d = 0: must be an integer ≥ 1$/)
  expectError(t, onMissing('--model-out', join(dir, 'nope', 'm.json')), 2, /^error\[ERR_INVALID_OPTION\]: option --model-out = .*m\.json: its folder .*nope does not exist$/)
  expectError(t, onMissing('--model-out', missing), 2, /^error\[ERR_INVALID_OPTION\]: option --model-out = .*missing\.svm: is also --train, which writing would overwrite$/)
  expectError(t, onMissing('--optimizer', 'exact', '--unregularized-bias'), 2, /^error\[ERR_INVALID_OPTION\]: options --optimizer and --unregularized-bias/)
  expectError(t, cli('train', '--train', missing, '--test', missing, '--lambda', '0', '--loss', 'logistic'), 2, /^error\[ERR_INVALID_OPTION\]: option --lambda = 0: must be positive with --loss/)
  expectError(t, cli('export', '--poison', missing, '--out', join(dir, 'x.csv.gz')), 2, /^error\[ERR_INVALID_OPTION\]: option --out = .*x\.csv\.gz: only svmlight is written gzip'd$/)
  expectError(t, cli('export', '--poison', f, '--train', missing, '--out', f), 2, /^error\[ERR_INVALID_OPTION\]: option --out = .*ok\.svm: is also --poison, which writing would overwrite$/)
  expectError(t, cli('export', '--poison', missing, '--out', join(dir, 'nope', 'x.svm')), 2, /^error\[ERR_INVALID_OPTION\]: option --out = .*: its folder .*nope does not exist$/)
  expectError(t, cli('evaluate', '--train', missing, '--test', missing, '--lambda', '1', '--defenses', 'svd,knn,svd'), 2, /^error\[ERR_INVALID_OPTION\]: option --defenses = svd,knn,svd: svd is listed twice$/)
  // The library's checks name the command's flag (--eps, not eps; --knn-k, not knnK).
  expectError(t, cli('attack', 'kkt', '--train', f, '--test', f, '--lambda', '0.1', '--eps', '0.01', '--out', join(dir, 'p.svm')), 2, /^error\[ERR_INVALID_OPTION\]: option --eps = 0\.01: gives round\(ε·n\) = 0 poison points$/)
  expectError(t, cli('evaluate', '--train', f, '--test', f, '--lambda', '0.1'), 2, /^error\[ERR_INVALID_OPTION\]: option --knn-k = 5: must lie in 1\.\.=2: /)
  expectError(t, cli('evaluate', '--train', missing, '--test', missing, '--lambda', '1', '--knn-k', '0'), 2, /^error\[ERR_INVALID_OPTION\]: option --knn-k = 0: must be an integer ≥ 1$/)
  const noSpec = join(dir, 'missing.json')
  expectError(t, cli('experiment', noSpec, '--out', dir, '--shard-count', '0'), 2, /^error\[ERR_INVALID_OPTION\]: option --shard-count = 0: must be an integer ≥ 1$/)
  expectError(t, cli('experiment', noSpec, '--out', dir, '--shard-count', '3'), 2, /^error\[ERR_USAGE\]: option --shard-count = 3: for a Kubernetes indexed Job only/)
  expectError(t, cli('experiment', noSpec), 2, /^error\[ERR_USAGE\]: missing required option --out$/)
  expectError(t, cli('train', '--train', f, '--test', f, '--lambda', 'abc'), 2, /^error\[ERR_INVALID_OPTION\]: option --lambda = abc/)
  expectError(t, cli('train', '--train', f, '--test', f, '--lambda', '1', '--loss', 'square'), 2, /^error\[ERR_INVALID_OPTION\]: option --loss = square/)
  const attack = ['attack', 'minmax', '--train', f, '--test', f, '--lambda', '1', '--out', join(dir, 'p.svm')]
  expectError(t, cli(...attack, '--upper', 'range'), 2, /^error\[ERR_INVALID_OPTION\]: option --upper = range: must be one of column-max, data-range$/)
  expectError(t, cli(...attack, '--upper=-3'), 2, /^error\[ERR_INVALID_OPTION\]: option --upper = -3: must be a positive number$/)
  expectError(t, cli('train', '--bogus'), 2, /^error\[ERR_USAGE\]: .*--bogus/)
  expectError(t, cli('nonsense'), 2, /^error\[ERR_USAGE\]: unknown command 'nonsense'/)
})

test('bad data exits 1 with error[CODE] naming the file and line', (t) => {
  const dir = tmp()
  const good = join(dir, 'good.svm')
  writeFileSync(good, '1 1:1\n-1 2:1\n')
  const cases: [string, RegExp][] = [
    ['1 1:1\n-1 2:x\n', /^error\[ERR_PARSE\]: .*bad\.svm:2: value "x" of feature 2 is not a number$/],
    ['1 1:1\n-1 2:nan\n', /^error\[ERR_NON_FINITE\]: .*bad\.svm:2: non-finite value nan$/],
    ['1 1:1\n7.5 2:1\n', /^error\[ERR_LABEL\]: .*bad\.svm:2: label 7\.5 is neither ±1 nor a class index/],
    ['1 1:1\n-1 3:1\n', /^error\[ERR_FEATURE_INDEX\]: .*bad\.svm:2: feature index 3 is out of range for d = 2$/],
    ['1 1:1\n1 2:1\n', /^error\[ERR_EMPTY_CLASS\]: training data: class -1 has no points$/],
    ['# no points\n', /^error\[ERR_PARSE\]: .*bad\.svm: no data points$/],
  ]
  for (const [text, pattern] of cases) {
    const bad = join(dir, 'bad.svm')
    writeFileSync(bad, text)
    expectError(t, cli('train', '--train', bad, '--test', good, '--lambda', '1', '--d', '2'), 1, pattern)
  }
  expectError(t, cli('train', '--train', join(dir, 'missing.svm'), '--test', good, '--lambda', '1'), 1, /^error\[ERR_FILE_NOT_FOUND\]: .*missing\.svm/)
  // The files after the training data may hold only its kind of labels: every command names the
  // file and line (a comment line counted).
  const classes = join(dir, 'classes.svm')
  writeFileSync(classes, '# three classes\n0 1:1\n2 2:1\n1 1:1\n')
  const foreign = /^error\[ERR_LABEL\]: .*classes\.svm:2: label 0 is not a class of the training data \(±1\)$/
  expectError(t, cli('train', '--train', good, '--test', classes, '--lambda', '1'), 1, foreign)
  expectError(t, cli('evaluate', '--train', good, '--test', good, '--poison', classes, '--lambda', '1'), 1, foreign)
  expectError(t, cli('export', '--train', good, '--poison', classes, '--out', join(dir, 'both.svm')), 1, foreign)
  expectError(t, cli('attack', 'minmax', '--train', classes, '--test', good, '--lambda', '0', '--eps', '0.5', '--out', join(dir, 'p.svm')), 1, /^error\[ERR_LABEL\]: .*good\.svm:2: label -1 is not a class of the training data \(0\.\.2\)$/)
})
