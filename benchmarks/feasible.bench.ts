/**
 * Speed of the feasible-set operations on the paper's data: projections by the fast path (exact
 * dual Newton) next to Clarabel on the same problems in the same run (Enron: sphere (LP-relaxed) ∩
 * slab ∩ box [0, X_max]; IMDB: the same constraints in d = 89527), then linear minimization and
 * the KKT program on Enron, both paths.
 *
 *   npm run bench:feasible      (needs $POISONKIT_DATA)
 */
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Bench } from 'tinybench'
import { FeasibleSet, loadDataset } from '../ts/index.js'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const dataDir = resolve(root, process.env.POISONKIT_DATA || '../shared/data')

console.log('Projection onto sphere (LP relaxation) ∩ slab ∩ box, class +1, best of the runs')
console.log('dataset  d        fast path    Clarabel    same point (max |Δx|)')
for (const [name, d, runs] of [['enron', 5116, 20], ['imdb', 89527, 3]] as const) {
  const train = await loadDataset(join(dataDir, `${name}.train.svm.gz`), { d })
  const set = FeasibleSet.fromClean(train, { upper: 'column-max', lpRelaxation: true })
  // A point outside: a negative training document pushed 3 counts up on its words.
  const csr = train.slice([0]).toCsr()
  const x0 = new Float64Array(d)
  csr.indices.forEach((j, k) => (x0[j] = csr.values[k]! + 3))
  const results: Record<string, Float64Array> = {}
  const bench = new Bench({ iterations: runs, time: 0 })
  for (const method of ['fast', 'conic'] as const) {
    bench.add(method, async () => {
      results[method] = (await set.project(x0, 1, method)).x
    })
  }
  await bench.run()
  const best = (i: number) => {
    const r = bench.tasks[i]!.result
    return 'latency' in r ? r.latency.min : NaN
  }
  const diff = results.fast!.reduce((m, v, j) => Math.max(m, Math.abs(v - results.conic![j]!)), 0)
  console.log(`${name.padEnd(8)} ${String(d).padEnd(8)} ${best(0).toFixed(2).padStart(8)} ms  ${best(1).toFixed(1).padStart(8)} ms   ${diff.toExponential(1)}`)
}
console.log('Targets: Enron ≤ 1 ms and IMDB ≤ 20 ms on the fast path.')

// The min-max attack's inner step and the KKT program, both paths, on Enron.
const train = await loadDataset(join(dataDir, 'enron.train.svm.gz'), { d: 5116 })
const set = FeasibleSet.fromClean(train, { upper: 'column-max', lpRelaxation: true })
const c = Float64Array.from({ length: 5116 }, (_, j) => -((j * 7919) % 13) / 13)
const g = Float64Array.from({ length: 5116 }, (_, j) => (((j * 104729) % 17) - 8) / 800)
const values: Record<string, number> = {}
const bench = new Bench({ iterations: 3, time: 0 })
for (const method of ['fast', 'conic'] as const) {
  bench.add(`minimizeLinear ${method}`, async () => {
    values[method] = (await set.minimizeLinear(c, 1, method)).value
  })
}
for (const method of ['fast', 'conic'] as const) {
  bench.add(`kktProgram ${method}`, async () => {
    values[`kkt-${method}`] = (await set.kktProgram(g, 0.02, 0.01, method)).value
  })
}
await bench.run()
const ms = (i: number) => {
  const r = bench.tasks[i]!.result
  return 'latency' in r ? r.latency.min : NaN
}
const rel = Math.abs(values.fast! - values.conic!) / Math.abs(values.conic!)
console.log(`enron minimizeLinear  fast ${ms(0).toFixed(1)} ms  Clarabel ${ms(1).toFixed(1)} ms  same minimum (relative difference ${rel.toExponential(1)})`)
const kktRel = Math.abs(values['kkt-fast']! - values['kkt-conic']!) / values['kkt-conic']!
console.log(`enron kktProgram      fast ${ms(2).toFixed(1)} ms  Clarabel ${ms(3).toFixed(1)} ms  same minimum (relative difference ${kktRel.toExponential(1)}; target ≤ 50 ms)`)
