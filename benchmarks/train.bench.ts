/**
 * Training and loading speed of the defender on the paper's data, printed side by side with
 * scikit-learn (LinearSVC, liblinear, tol 1e-6) on the same files in the same run: the binary SVM on
 * Enron and IMDB, the exact multi-class (Crammer–Singer) SVM on 10-class MNIST.
 *
 *   npm run bench            (needs $POISONKIT_DATA, default ../shared/data, and PyPI for the baseline)
 *
 * Both sides report the best of their runs: poisonkit's are whole API calls (tinybench) at its
 * default tolerance (certified duality gap ≤ 1e-6 × objective), scikit-learn's are `.fit()` alone.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Bench } from 'tinybench'
import { loadDataset, train, trainMulticlass, type Dataset } from '../ts/index.js'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const dataDir = resolve(root, process.env.POISONKIT_DATA || '../shared/data')
if (!existsSync(dataDir)) {
  console.error(`error: data folder ${dataDir} not found (set POISONKIT_DATA)`)
  process.exit(1)
}

const cases = [
  { name: 'enron', d: 5116, lambda: 0.09, runs: 50 },
  { name: 'imdb', d: 89527, lambda: 0.01, runs: 5 },
  { name: 'mnist', d: 784, lambda: 0.001, runs: 3 },
]

/** The defender of a data set: the binary SVM, or the exact multi-class SVM for class indices. */
const fit = (data: Dataset, lambda: number) =>
  data.numClasses > 0 ? trainMulticlass(data, { lambda, optimizer: 'exact' }) : train(data, { lambda })

interface Row {
  dataset: string
  loadMs: number
  trainMs: number
  testError: number
  objective: number
  iterations: number
}

async function measure(c: (typeof cases)[number]): Promise<Row> {
  const file = (split: string) => join(dataDir, `${c.name}.${split}.svm.gz`)
  const test = await loadDataset(file('test'), { d: c.d })
  let trainSet: Dataset | undefined
  const bench = new Bench({ iterations: c.runs, time: 0, warmup: true, warmupIterations: 1, warmupTime: 0 })
  bench.add(`load ${c.name}`, async () => {
    trainSet = await loadDataset(file('train'), { d: c.d })
  })
  await bench.run()
  const trainBench = new Bench({ iterations: c.runs, time: 0, warmup: true, warmupIterations: 1, warmupTime: 0 })
  trainBench.add(`train ${c.name}`, async () => {
    await fit(trainSet!, c.lambda)
  })
  await trainBench.run()
  const model = await fit(trainSet!, c.lambda)
  const best = (b: Bench) => {
    const r = b.tasks[0]!.result
    if (!('latency' in r)) throw new Error(`benchmark ${b.tasks[0]!.name} did not complete`)
    return r.latency.min
  }
  return {
    dataset: c.name,
    loadMs: best(bench),
    trainMs: best(trainBench),
    testError: model.error(test),
    objective: model.objective,
    iterations: model.iterations,
  }
}

interface Baseline {
  dataset: string
  loadSeconds: number
  trainSeconds: number
  testError: number
  objective: number
  iterations: number
}

function sklearn(): Map<string, Baseline> | string {
  const r = spawnSync('bash', [join(root, 'benchmarks/python/run.sh'), '--data', dataDir, '--repeat', '3', ...cases.map((c) => c.name)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.status !== 0) return `scikit-learn baseline failed (exit ${r.status})`
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Baseline)
  return new Map(rows.map((b) => [b.dataset, b]))
}

const ours = []
for (const c of cases) {
  console.error(`poisonkit: ${c.name} ...`)
  ours.push(await measure(c))
}
console.error('scikit-learn: installing (first run) and measuring ...')
const base = sklearn()

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(2)} ms`)
console.log(`\nTraining the defender (hinge, bias regularized; mnist: Crammer–Singer), ${process.platform}-${process.arch}, node ${process.version}`)
console.log('dataset  λ     | poisonkit train  sklearn fit  ratio | objective: poisonkit / sklearn     | test error  | load: poisonkit / sklearn')
for (const [i, o] of ours.entries()) {
  const c = cases[i]!
  const b = typeof base === 'string' ? undefined : base.get(o.dataset)
  const skTrain = b ? b.trainSeconds * 1000 : NaN
  console.log(
    `${o.dataset.padEnd(8)} ${String(c.lambda).padEnd(5)} | ${fmt(o.trainMs).padStart(15)}  ${b ? fmt(skTrain).padStart(11) : 'n/a'.padStart(11)}  ${b ? (o.trainMs / skTrain).toFixed(2).padStart(5) : '  n/a'} | ` +
      `${o.objective.toFixed(10)} / ${b ? b.objective.toFixed(10) : 'n/a'} | ${(100 * o.testError).toFixed(2)}% / ${b ? (100 * b.testError).toFixed(2) + '%' : 'n/a'} | ` +
      `${fmt(o.loadMs)} / ${b ? fmt(b.loadSeconds * 1000) : 'n/a'}`,
  )
}
if (typeof base === 'string') console.log(`(${base})`)
console.log('times: best of the runs; ratio = poisonkit / scikit-learn (target ≤ 0.5); poisonkit stops at a certified gap ≤ 1e-6 × objective')
