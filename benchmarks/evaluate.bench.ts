/**
 * Speed of the evaluation harness (five defenses, each scoring, sanitizing 5% per class and
 * retraining), printed next to a scikit-learn/scipy implementation of the same procedure
 * (`benchmarks/python/evaluate_baseline.py`, the reference's `test_defenses.py` logic) on the same
 * data in the same run.
 *
 *   npm run bench:evaluate                 Enron + recorded min-max attack 24 (124 points), and
 *                                          IMDB + 3% label-flip poison (750 points; poisonkit only)
 *   npm run bench:evaluate -- --imdb-baseline   also time the Python baseline on IMDB (very slow)
 *
 * Needs $POISONKIT_DATA (default ../shared/data) and its fixtures folder beside it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFENSES, Dataset, evaluate, loadDataset, type Evaluation } from '../ts/index.js'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const dataDir = resolve(root, process.env.POISONKIT_DATA || '../shared/data')
const attack = join(dataDir, '../fixtures/enron-minmax-eps0.03/attack-24.svm.gz')
if (!existsSync(attack)) {
  console.error(`error: ${attack} not found (set POISONKIT_DATA)`)
  process.exit(1)
}
const withImdbBaseline = process.argv.includes('--imdb-baseline')

/** 3% poison for IMDB: label-flipped copies of every 33rd training point (750 points). */
function labelFlips(train: Dataset, count: number): Dataset {
  const rows = Array.from({ length: count }, (_, i) => i * Math.floor(train.n / count))
  const csr = train.slice(rows).toCsr()
  return Dataset.fromCsr({ ...csr, labels: Array.from(csr.labels, (y) => -y) })
}

interface Case {
  name: string
  lambda: number
  d: number
  poisonFile?: string
  runs: number
}
const cases: Case[] = [
  { name: 'enron', lambda: 0.09, d: 5116, poisonFile: attack, runs: 3 },
  { name: 'imdb', lambda: 0.01, d: 89527, runs: 1 },
]

interface Baseline {
  none: number
  min: number
  seconds: Record<string, number>
}

function baseline(c: Case, poisonPath: string): Baseline | string {
  const args = ['--train', join(dataDir, `${c.name}.train.svm.gz`), '--test', join(dataDir, `${c.name}.test.svm.gz`)]
  args.push('--poison', poisonPath, '--lambda', String(c.lambda), '--d', String(c.d))
  const r = spawnSync('bash', [join(root, 'benchmarks/python/run.sh'), 'evaluate_baseline.py', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.status !== 0) return `baseline failed (exit ${r.status})`
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Baseline
}

const fmt = (s: number | undefined) => (s === undefined ? 'n/a' : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(3)} s`)
for (const c of cases) {
  const file = (split: string) => join(dataDir, `${c.name}.${split}.svm.gz`)
  const [train, test] = await Promise.all([loadDataset(file('train'), { d: c.d }), loadDataset(file('test'), { d: c.d })])
  const poison = c.poisonFile ? await loadDataset(c.poisonFile, { d: c.d }) : labelFlips(train, Math.round(0.03 * train.n))
  console.error(`poisonkit: ${c.name} + ${poison.n} poison points ...`)
  let best: Evaluation | undefined
  for (let r = 0; r < c.runs; r++) {
    const e = await evaluate({ train, test, poison, lambda: c.lambda })
    if (!best || e.seconds < best.seconds) best = e
  }
  let base: Baseline | string = 'not run (pass --imdb-baseline; svds with k = 1000 takes very long here)'
  if (c.poisonFile || withImdbBaseline) {
    const poisonPath = c.poisonFile ?? join(root, 'benchmarks', `.${c.name}-poison.svm.gz`)
    if (!c.poisonFile) await poison.writeSvmlight(poisonPath)
    console.error(`scikit-learn/scipy: ${c.name} ...`)
    base = baseline(c, poisonPath)
  }
  const b = typeof base === 'string' ? undefined : base
  console.log(`\n${c.name} (λ ${c.lambda}) + ${poison.n} poison points, ${process.platform}-${process.arch}: seconds per defense (score + retrain)`)
  console.log('defense   poisonkit      scikit-learn/scipy   test error: poisonkit / baseline')
  for (const name of DEFENSES) {
    const t = best!.timing[name]!
    const be = b as unknown as Record<string, number> | undefined
    console.log(
      `${name.padEnd(8)}  ${fmt(t.score + t.train).padStart(9)}      ${fmt(b?.seconds[name]).padStart(9)}            ` +
        `${(100 * best![name]!).toFixed(2)}% / ${be ? (100 * be[name]!).toFixed(2) + '%' : 'n/a'}`,
    )
  }
  console.log(`total     ${fmt(best!.seconds).padStart(9)}      ${fmt(b?.seconds.total).padStart(9)}            min ${(100 * best!.min).toFixed(2)}% / ${b ? (100 * b.min).toFixed(2) + '%' : 'n/a'}`)
  if (typeof base === 'string') console.log(`(baseline: ${base})`)
}
console.log('\nTargets: Enron ≤ 2 s and IMDB ≤ 120 s for all five defenses on 2 cores.')
