import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PoisonkitError, loadDataset, makeBagOfWords, makeBlobs } from '../ts/index.js'
import { checkSpec, expandCells, readSpec, resolveShard, shardCells } from '../ts/experiment/spec.js'
import { writeDataset } from '../ts/export.js'
import { cli, data, hasData, root, tmp } from './helpers.js'

/** A small synthetic experiment: 2 attacks × 2 ε = 4 attack runs, each scored by 2 defenders. */
const small = {
  name: 'small',
  datasets: [{ name: 'syn', synthetic: { n: 300, nTest: 200, d: 80, signal: 0.3, seed: 4 }, lambda: 0.05 }],
  attacks: ['labelflip', { attack: 'kkt', label: 'kkt-small', options: { quantiles: [0.1, 0.3], copies: [2, 5] } }],
  eps: [0.03, 0.05],
  defender: { lambda: [0.05, 0.5] },
}

function writeSpec(dir: string, spec: unknown, name = 'spec.json'): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(spec))
  return path
}

/** Each cell's id and evaluation, from a folder's results.jsonl. */
function evaluations(dir: string): Record<string, unknown> {
  const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n')
  return Object.fromEntries(lines.map((l) => JSON.parse(l)).map((c) => [c.id, { ...c.evaluation, seconds: undefined }]))
}

test('a malformed spec is rejected before any work, naming the field', (t) => {
  const dir = tmp()
  const bad: [unknown, RegExp][] = [
    [{ ...small, attacks: ['kkt', 'nope'] }, /attacks\[1\]: "nope" must be one of kkt, minmax/],
    [{ ...small, eps: [0.03, 1.5] }, /eps\[1\]: 1\.5 must be a fraction in \(0, 1\)/],
    [{ ...small, eps: 0 }, /eps: 0 must be a fraction/],
    [{ ...small, datasets: [{ name: 'x', train: 'missing.svm', test: 'missing.svm', lambda: 0.1 }] }, /datasets\[0\]\.train: file not found: .*missing\.svm/],
    [{ ...small, attacks: [{ attack: 'kkt', options: { stepSizes: [0.1] } }] }, /attacks\[0\]\.options\.stepSizes: unknown field/],
    [{ ...small, attacks: [{ attack: 'influence', options: { stepSizes: [0.1, -1] } }] }, /attacks\[0\]\.options\.stepSizes: \[0\.1,-1\] must be a non-empty list of positive numbers/],
    [{ ...small, attacks: [{ attack: 'kkt', options: { repeats: 1.5 } }] }, /attacks\[0\]\.options\.repeats: 1\.5 must be an integer ≥ 1/],
    [{ ...small, defender: { loss: 'squared' } }, /defender\.loss: "squared" must be one of hinge, logistic/],
    [{ ...small, seed: 3 }, /spec\.seed: unknown field/],
    [{ ...small, attacks: [{ attack: 'kkt', label: 'my kkt/1' }] }, /attacks\[0\]\.label: must be a name of letters/],
    [{ ...small, datasets: [] }, /datasets: must not be empty/],
    [{ ...small, attacks: [{ attack: 'kkt', options: { refine: 0 } }] }, /attacks\[0\]\.options\.refine: 0 must be an integer ≥ 1/],
    [{ ...small, attacks: [{ attack: 'alfa', options: { maxIter: 0 } }] }, /attacks\[0\]\.options\.maxIter: 0 must be an integer ≥ 1/],
    [{ ...small, attacks: [{ attack: 'kkt', options: { defenses: ['l2', 'l2'] } }] }, /attacks\[0\]\.options\.defenses: \["l2","l2"\] must list each defense once/],
    [{ ...small, defenses: ['slab', 'knn', 'slab'] }, /defenses: slab is listed twice/],
    [{ ...small, datasets: [{ ...small.datasets[0], synthetic: { ...small.datasets[0]!.synthetic, positiveFraction: 1.5 } }] }, /datasets\[0\]\.synthetic\.positiveFraction: 1\.5 must be a fraction in \(0, 1\)/],
  ]
  for (const [spec, message] of bad) {
    const out = join(dir, 'out')
    const r = cli('experiment', writeSpec(dir, spec), '--out', out)
    t.is(r.code, 2, r.stderr)
    t.regex(r.stderr, /^error\[ERR_INVALID_SPEC\]: .*spec\.json: /)
    t.regex(r.stderr, message)
    t.false(existsSync(out), 'nothing was written')
  }
  t.throws(() => readSpec(join(dir, 'absent.json')), { instanceOf: PoisonkitError, message: /not found/ })
  writeFileSync(join(dir, 'broken.yaml'), 'datasets: [\n')
  t.throws(() => readSpec(join(dir, 'broken.yaml')), { instanceOf: PoisonkitError, message: /broken\.yaml: not valid YAML/ })
})

test('cells: the grid in a fixed order, stable ids, defenders sharing their attack, YAML like JSON', (t) => {
  const dir = tmp()
  const spec = checkSpec(small, dir)
  const cells = expandCells(spec)
  t.is(cells.length, 1 * 2 * 2 * 2)
  t.is(new Set(cells.map((c) => c.id)).size, cells.length)
  t.is(new Set(cells.map((c) => c.attackId)).size, 4)
  t.deepEqual(expandCells(checkSpec(JSON.parse(JSON.stringify(small)), tmp())).map((c) => c.id), cells.map((c) => c.id))
  t.regex(cells[0]!.id, /^syn-labelflip-eps0\.03-test-s0-[0-9a-f]{10}\.lambda0\.05-hinge-[0-9a-f]{10}$/)
  // Optimizers asked for are in the ids; left to the data, they are not.
  const optimizers = expandCells(checkSpec({ ...small, defender: { optimizer: ['exact', 'sgd'] } }, dir))
  t.deepEqual(optimizers.slice(0, 2).map((c) => /-hinge-(\w+)-[0-9a-f]{10}$/.exec(c.id)?.[1]), ['exact', 'sgd'])
  t.is(optimizers[0]!.attackId, cells[0]!.attackId)
  // YAML gives the same cells.
  writeFileSync(join(dir, 'small.yaml'), `name: small
datasets:
  - { name: syn, synthetic: { n: 300, nTest: 200, d: 80, signal: 0.3, seed: 4 }, lambda: 0.05 }
attacks:
  - labelflip
  - { attack: kkt, label: kkt-small, options: { quantiles: [0.1, 0.3], copies: [2, 5] } }
eps: [0.03, 0.05]
defender: { lambda: [0.05, 0.5] }
`)
  t.deepEqual(expandCells(readSpec(join(dir, 'small.yaml'))).map((c) => c.id), cells.map((c) => c.id))
  // A changed option is another attack.
  const other = expandCells(checkSpec({ ...small, attacks: [{ attack: 'kkt', label: 'kkt-small', options: { quantiles: [0.1], copies: [2, 5] } }] }, dir))
  t.false(other.some((c) => cells.some((d) => d.attackId === c.attackId)))
  // Shards: whole attacks, every cell in exactly one shard.
  const shards = [0, 1, 2].map((index) => shardCells(cells, { index, count: 3 }))
  t.deepEqual(shards.flat().map((c) => c.id).sort(), cells.map((c) => c.id).sort())
  for (const s of shards) for (const c of s) t.true(s.filter((d) => d.attackId === c.attackId).length === 2)
})

test('a cell its data cannot run is rejected once the data are read, before any attack runs, and by --dry-run', (t) => {
  const dir = tmp()
  // A second dataset whose cells are bad: the run must not start on the first one.
  const other = { ...small.datasets[0], name: 'syn2' }
  for (const [spec, message] of [
    [{ ...small, attacks: ['labelflip'], eps: [0.03], defender: { lambda: [0.05, 0] } }, /defender\.lambda: λ 0 for dataset syn \(±1 labels\) must be positive/],
    [{ ...small, attacks: ['labelflip'], eps: [0.03], datasets: [small.datasets[0], { ...other, lambda: 0 }], defender: {} }, /datasets\[\]\.lambda: λ 0 for dataset syn2 \(±1 labels\) must be positive/],
    // 300 training points: ε 0.001 gives round(0.3) = 0 poison points.
    [{ ...small, attacks: ['labelflip'], eps: [0.03, 0.001] }, /eps: option eps = 0\.001: gives round\(ε·n\) = 0 poison points of dataset syn \(n = 300\)/],
  ] as const) {
    const specPath = writeSpec(dir, spec)
    const dry = cli('experiment', specPath, '--dry-run')
    t.is(dry.code, 2, dry.stderr)
    t.regex(dry.stderr, message)
    t.is(dry.stdout, '', 'no cell listed')
    const out = join(dir, `out${message.source.length}`)
    const r = cli('experiment', specPath, '--out', out)
    t.is(r.code, 2, r.stderr)
    t.regex(r.stderr, message)
    t.deepEqual(readdirSync(join(out, 'attacks')), [], 'no attack ran')
  }
  // A good spec: --dry-run lists its cells and writes nothing.
  const dry = cli('experiment', writeSpec(dir, small), '--dry-run')
  t.is(dry.code, 0, dry.stderr)
  t.deepEqual(dry.stdout.trim().split('\n'), expandCells(checkSpec(small, dir)).map((c) => c.id))
})

test('the shard comes from --shard, Slurm array jobs or Kubernetes indexed Jobs', (t) => {
  t.deepEqual(resolveShard('1/3', {}), { index: 1, count: 3 })
  t.deepEqual(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '3' }), { index: 1, count: 3 })
  t.deepEqual(resolveShard(undefined, { JOB_COMPLETION_INDEX: '2' }, 4), { index: 2, count: 4 })
  t.is(resolveShard(undefined, {}), undefined)
  t.throws(() => resolveShard('3/3', {}), { message: /shard 3 of 3 is not a shard/ })
  t.throws(() => resolveShard('a/b', {}), { message: /--shard = a\/b: must be i\/N/ })
  t.throws(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: '0' }), { message: /--shard-count/ })
  t.throws(() => resolveShard(undefined, {}, 4), { message: /--shard-count = 4: for a Kubernetes indexed Job only/ })
})

test('three shards run as separate processes and merged equal one unsharded run, cell for cell', async (t) => {
  const dir = tmp()
  const spec = writeSpec(dir, small)
  const whole = cli('experiment', spec, '--out', join(dir, 'whole'))
  t.is(whole.code, 0, whole.stderr)
  const runs = await Promise.all(
    [0, 1, 2].map(
      (i) =>
        new Promise<number | null>((done) => {
          const p = spawn(process.execPath, [join(root, 'dist/cli.js'), 'experiment', spec, '--out', join(dir, `shard${i}`), '--shard', `${i}/3`], { stdio: 'ignore' })
          p.on('exit', done)
        }),
    ),
  )
  t.deepEqual(runs, [0, 0, 0])
  // A folder that is not a shard fails the merge before anything is written.
  const typo = cli('merge', '--out', join(dir, 'merged'), join(dir, 'shard0'), join(dir, 'shard9'))
  t.is(typo.code, 1)
  t.regex(typo.stderr, /^error\[ERR_FILE_NOT_FOUND\]: .*shard9: not an experiment folder/)
  t.false(existsSync(join(dir, 'merged')))
  const merged = cli('merge', '--out', join(dir, 'merged'), join(dir, 'shard0'), join(dir, 'shard1'), join(dir, 'shard2'))
  t.is(merged.code, 0, merged.stderr)
  const [a, b] = [evaluations(join(dir, 'whole')), evaluations(join(dir, 'merged'))]
  t.is(Object.keys(a).length, 8)
  t.deepEqual(b, a)
  // The folder's tables and figures.
  const csv = readFileSync(join(dir, 'merged', 'results.csv'), 'utf8').trim().split('\n')
  t.is(csv.length, 9)
  t.regex(readFileSync(join(dir, 'merged', 'REPORT.md'), 'utf8'), /\| kkt-small \| [\d.]+ \|/)
  for (const f of ['defenses.png', 'curve.png', 'eps.png', 'lambda.png']) {
    t.deepEqual([...readFileSync(join(dir, 'merged', 'figures', f)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], f)
  }
  // A folder of another spec is refused, not silently left out of the tables.
  const other = join(dir, 'shard2', 'spec.json')
  writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(other, 'utf8')), name: 'another' }))
  const mixed = cli('merge', '--out', join(dir, 'mixed'), join(dir, 'shard0'), join(dir, 'shard2'))
  t.is(mixed.code, 1)
  t.regex(mixed.stderr, /^error\[ERR_MERGE\]: .*shard2\/spec\.json differs from .*shard0\/spec\.json/)
  t.false(existsSync(join(dir, 'mixed')))
})

// Serial: a concurrent test's spawnSync would block the polling timer until the run has finished.
test.serial('a killed run started again redoes no finished cell', async (t) => {
  const dir = tmp()
  // The KKT attack with its full decoy grid takes seconds: time to kill the run in the middle.
  const spec = writeSpec(dir, { ...small, attacks: ['labelflip', 'kkt'] })
  const out = join(dir, 'out')
  const cellsDir = join(out, 'cells')
  // Kill the run once some cells are written but not all.
  await new Promise<void>((done) => {
    const p = spawn(process.execPath, [join(root, 'dist/cli.js'), 'experiment', spec, '--out', out], { stdio: 'ignore' })
    const poll = setInterval(() => {
      const n = existsSync(cellsDir) ? readdirSync(cellsDir).filter((f) => f.endsWith('.json')).length : 0
      if (n >= 2) {
        clearInterval(poll)
        p.kill('SIGKILL')
      }
    }, 20)
    p.on('exit', () => {
      clearInterval(poll)
      done()
    })
  })
  const before = readdirSync(cellsDir).filter((f) => f.endsWith('.json'))
  t.true(before.length >= 2 && before.length < 8, `${before.length} cells before the restart`)
  const stamps = Object.fromEntries(before.map((f) => [f, statSync(join(cellsDir, f)).mtimeMs]))
  const again = cli('experiment', spec, '--out', out)
  t.is(again.code, 0, again.stderr)
  t.regex(again.stderr, new RegExp(`\\(${before.length} done before\\)`))
  const after = readdirSync(cellsDir).filter((f) => f.endsWith('.json'))
  t.is(after.length, 8)
  for (const f of before) t.is(statSync(join(cellsDir, f)).mtimeMs, stamps[f], `${f} was not redone`)
})

test('multi-class data: the defender trains with AdaGrad unless the spec asks otherwise, and the cell says which', async (t) => {
  const dir = tmp()
  const all = makeBlobs({ n: 450, d: 6, classes: 3, separation: 4, seed: 3 })
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  await all.slice(rows(0, 300)).writeSvmlight(join(dir, 'train.svm'))
  await all.slice(rows(300, 450)).writeSvmlight(join(dir, 'test.svm'))
  const spec = {
    name: 'blobs',
    datasets: [{ name: 'blobs', train: 'train.svm', test: 'test.svm', d: 6, lambda: 0.01 }],
    attacks: [{ attack: 'minmax-basic', options: { defenses: ['l2', 'loss'] } }],
    defenses: ['l2', 'loss'],
  }
  const run = (defender: object, out: string) => cli('experiment', writeSpec(dir, { ...spec, defender }), '--out', join(dir, out))
  const cellsOf = (out: string) => readdirSync(join(dir, out, 'cells')).map((f) => JSON.parse(readFileSync(join(dir, out, 'cells', f), 'utf8')))
  const r = run({ optimizer: ['adagrad', 'exact'] }, 'both')
  t.is(r.code, 0, r.stderr)
  const both = cellsOf('both')
  t.deepEqual(both.map((c) => c.defender.optimizer).sort(), ['adagrad', 'exact'])
  const scores = (e: object) => ({ ...e, seconds: undefined })
  const byOptimizer = Object.fromEntries(both.map((c) => [c.defender.optimizer, scores(c.evaluation)]))
  // The AdaGrad cell is the attack's own evaluation; the exact one retrains.
  const attack = JSON.parse(readFileSync(join(dir, 'both', 'attacks', readdirSync(join(dir, 'both', 'attacks'))[0]!), 'utf8'))
  t.deepEqual(byOptimizer.adagrad, scores(attack.evaluation))
  t.notDeepEqual(byOptimizer.exact, byOptimizer.adagrad)
  t.is(run({}, 'default').code, 0)
  t.deepEqual(cellsOf('default').map((c) => [c.defender.optimizer, scores(c.evaluation)]), [['adagrad', byOptimizer.adagrad]])
  const csv = readFileSync(join(dir, 'default', 'results.csv'), 'utf8').split('\n')
  t.is(csv[1]!.split(',')[9], 'adagrad')
  // One pass of SGD trains the binary defender only.
  const sgd = run({ optimizer: ['sgd'] }, 'sgd')
  t.is(sgd.code, 2, sgd.stderr)
  t.regex(sgd.stderr, /error\[ERR_INVALID_SPEC\]: .*defender\.optimizer: sgd does not train the defender of dataset blobs \(3 classes: one of adagrad, exact\)/)
  const exactAtZero = run({ lambda: [0], optimizer: ['exact'] }, 'zero')
  t.is(exactAtZero.code, 2, exactAtZero.stderr)
  t.regex(exactAtZero.stderr, /defender\.optimizer: exact needs λ > 0 for the multi-class defender of dataset blobs \(λ 0; adagrad trains at λ 0\)/)
  // An attack that scores against the exact defender evaluates its poison as the exact cell above
  // (min-max-basic's one game does not depend on how it is scored).
  const attacker = (optimizer: string) => ({ ...spec, attacks: [{ attack: 'minmax-basic', options: { defenses: ['l2', 'loss'], optimizer } }] })
  const exact = cli('experiment', writeSpec(dir, { ...attacker('exact'), defender: { optimizer: ['exact'] } }), '--out', join(dir, 'attacker-exact'))
  t.is(exact.code, 0, exact.stderr)
  const [exactCell] = cellsOf('attacker-exact')
  t.is(exactCell.defender.optimizer, 'exact')
  t.deepEqual(scores(exactCell.evaluation), byOptimizer.exact)
  const attackerSgd = cli('experiment', writeSpec(dir, { ...attacker('sgd'), defender: {} }), '--out', join(dir, 'attacker-sgd'))
  t.is(attackerSgd.code, 2, attackerSgd.stderr)
  t.regex(attackerSgd.stderr, /attack minmax-basic: options\.optimizer: sgd does not train the defender of dataset blobs \(3 classes: one of adagrad, exact\)/)
  // All are caught before the attack runs.
  for (const out of ['sgd', 'zero', 'attacker-sgd']) t.deepEqual(readdirSync(join(dir, out, 'attacks')), [])
})

test('poisonkit demo attacks the synthetic corpus and writes a PNG figure', (t) => {
  const out = join(tmp(), 'demo')
  const r = cli('demo', '--out', out)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^kkt +(\d+\.\d\d% +){7}/m)
  t.regex(r.stdout, /^minmax +(\d+\.\d\d% +){7}/m)
  t.deepEqual([...readFileSync(join(out, 'figures', 'defenses.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47])
  // The attacks do something: both raise the undefended error 2 points above the clean model's.
  const clean = Number(/clean test error (\d+\.\d\d)%/.exec(r.stdout)?.[1])
  t.true(clean > 0 && clean < 10, r.stdout)
  for (const line of r.stdout.split('\n').filter((l) => /^(kkt|minmax) /.test(l))) {
    t.true(Number(line.split(/ +/)[1]!.replace('%', '')) > clean + 2, line)
  }
})

test('export writes svmlight, CSV and npz that load back to the same points', async (t) => {
  const dir = tmp()
  const all = makeBagOfWords({ n: 40, d: 12, seed: 2 })
  const poisonPath = join(dir, 'poison.svm')
  await all.slice([0, 1, 2]).writeSvmlight(poisonPath)
  const trainPath = join(dir, 'train.svm')
  await all.slice(Array.from({ length: 37 }, (_, i) => i + 3)).writeSvmlight(trainPath)
  for (const name of ['out.svm.gz', 'out.csv', 'out.npz']) {
    const r = cli('export', '--train', trainPath, '--poison', poisonPath, '--out', join(dir, name), '--d', '12')
    t.is(r.code, 0, r.stderr)
    const back = (await loadDataset(join(dir, name), { d: 12 })).toCsr()
    const want = all.slice([...Array.from({ length: 37 }, (_, i) => i + 3), 0, 1, 2]).toCsr()
    t.deepEqual(back, want, name)
  }
  const only = cli('export', '--poison', poisonPath, '--out', join(dir, 'p.csv'))
  t.is(only.code, 0, only.stderr)
  t.is((await loadDataset(join(dir, 'p.csv'))).n, 3)
  t.is(cli('export', '--poison', poisonPath, '--out', join(dir, 'x.csv'), '--format', 'parquet').code, 2)
  // A file scipy can read: the npz layout of scipy.sparse.save_npz plus y.
  await writeDataset(all, join(dir, 'all.npz'))
  t.true(readFileSync(join(dir, 'all.npz')).includes(Buffer.from('indptr.npy')))
})

const realData = hasData ? test : test.skip

realData('the presets name real files and expand to the paper\'s grids', (t) => {
  const cwd = process.cwd()
  process.chdir(root)
  try {
    process.env.POISONKIT_DATA ??= '../shared/data'
    const count = (name: string) => expandCells(readSpec(join(root, 'examples', name))).length
    t.is(count('enron-table2.json'), 3)
    t.is(count('enron-transfer.json'), 3 * 2 * 5 * 2 * 2)
    t.is(count('mnist-multiclass.json'), 2)
    t.is(count('imdb.json'), 2)
    t.true(existsSync(data('enron.train.svm.gz')))
  } finally {
    process.chdir(cwd)
  }
})
