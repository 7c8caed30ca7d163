import test from 'ava'
import { Dataset, FeasibleSet, PoisonkitError, loadDataset, makeBagOfWords, roundPoints } from '../ts/index.js'
import { data, hasData } from './helpers.js'

const realData = hasData ? test : test.skip

realData('Enron feasible sets: the digest\'s radii at the 90th percentile', async (t) => {
  const train = await loadDataset(data('enron.train.svm.gz'), { d: 5116 })
  const set = FeasibleSet.fromClean(train, { upper: 'column-max', lpRelaxation: true })
  const byLabel = Object.fromEntries(set.classes.map((c) => [c.label, c]))
  // Digest §1.2: sphere 25.74 / 20.54, slab 7.736 / 0.610 for −1 / +1.
  t.true(Math.abs(byLabel[-1]!.sphereRadius! - 25.74) < 5e-3)
  t.true(Math.abs(byLabel[1]!.sphereRadius! - 20.54) < 5e-3)
  t.true(Math.abs(byLabel[-1]!.slabRadius! - 7.736) < 5e-4)
  t.true(Math.abs(byLabel[1]!.slabRadius! - 0.61) < 5e-4)
  // A point far away projects into the (relaxed) set, non-negative and within X_max ≤ 50.
  const far = new Float64Array(5116).fill(3)
  const p = await set.project(far, 1)
  t.regex(p.status, /Solved/)
  t.true(set.contains(p.x, 1, 1e-6))
  t.true(p.x.every((v) => v >= -1e-7 && v <= 50 + 1e-7))
})

function smallSet() {
  const clean = makeBagOfWords({ n: 300, d: 30, seed: 2 })
  return FeasibleSet.fromClean(clean, { upper: 'column-max' })
}

test('projection, linear minimization and explicit radii', async (t) => {
  const set = smallSet()
  const x0 = Array.from({ length: 30 }, (_, j) => (j % 3) * 4)
  const p = await set.project(x0, -1)
  t.true(set.contains(p.x, -1, 1e-6))
  const again = await set.project(p.x, -1)
  t.true(again.value < 1e-5)
  const c = Array.from({ length: 30 }, (_, j) => (j % 2 ? 1 : -1))
  const m = await set.minimizeLinear(c, 1)
  t.is(m.solver, 'cutting-plane') // the box is bounded (column-max)
  t.true(Math.abs(m.value - (await set.minimizeLinear(c, 1, 'conic')).value) < 1e-6 * (1 + Math.abs(m.value)))
  t.true(set.contains(m.x, 1, 1e-6))
  t.true(Math.abs(m.value - m.x.reduce((acc, v, j) => acc + v * c[j]!, 0)) < 1e-9)
  // A smaller sphere can only raise the minimum.
  const r = set.classes.find((k) => k.label === 1)!.sphereRadius!
  set.setSphereRadius(1, r / 2)
  t.true((await set.minimizeLinear(c, 1)).value >= m.value - 1e-9)
})

test('the data-range box keeps pixels that are never lit at 0', async (t) => {
  // Four images of 3 pixels: the first is never lit, the second reaches 0.6.
  const clean = Dataset.fromDense([[0, 0.2, 0.9], [0, 0.6, 0.1], [0, 0.1, 1], [0, 0.5, 0.4]], [1, 1, -1, -1])
  const up = new Float64Array([-1, -1, -1])
  const ranged = FeasibleSet.fromClean(clean, { upper: 'data-range', slab: false })
  const unit = FeasibleSet.fromClean(clean, { upper: 1, slab: false })
  const [a, b] = [await ranged.minimizeLinear(up, 1), await unit.minimizeLinear(up, 1)]
  t.true(Math.abs(a.x[0]!) < 1e-9 && a.x[1]! <= 0.6 + 1e-9, `${Array.from(a.x)}`)
  t.true(b.x[0]! > 0.1, `${Array.from(b.x)}`) // the [0, 1] box lets the unlit pixel move
  t.true(a.value >= b.value - 1e-9)
  const err = t.throws(() => FeasibleSet.fromClean(clean, { upper: 'range' as 'data-range' }), { instanceOf: PoisonkitError })
  t.regex(err!.message, /upper = range/)
})

test('the KKT program reaches a target made of feasible points', async (t) => {
  const set = smallSet()
  const a = (await set.project(new Array(30).fill(2), 1)).x
  const b = (await set.project(new Array(30).fill(1), -1)).x
  const g = a.map((v, j) => 0.03 * v - 0.01 * b[j]!)
  const s = await set.kktProgram(g, 0.03, 0.01)
  t.is(s.solver, 'kkt-dual-newton')
  t.true(s.value < 1e-6, `${s.value}`)
  t.true(set.contains(s.xPos, 1, 1e-6) && set.contains(s.xNeg, -1, 1e-6))
  // An unreachable target (Clarabel's minimum is about 2.42): the fast path finds the same minimum.
  const far = g.map((v, j) => v + (j % 2 ? 0.5 : -0.5))
  const [fast, conic] = [await set.kktProgram(far, 0.03, 0.01), await set.kktProgram(far, 0.03, 0.01, 'conic')]
  t.is(fast.solver, 'kkt-dual-newton')
  t.true(conic.value > 1, `${conic.value}`)
  t.true(Math.abs(fast.value - conic.value) <= 1e-6 * conic.value, `${fast.value} vs ${conic.value}`)
  await t.throwsAsync(set.kktProgram(far, 0.03, 0.01, 'simplex' as 'fast'), { instanceOf: PoisonkitError, code: 'ERR_INVALID_OPTION' })
})

test('an empty set rejects with ERR_INFEASIBLE; bad input throws with a code', async (t) => {
  const set = smallSet()
  // 1 − (0·x − 5) ≤ 0.1 is never true.
  set.addLossCap(1, new Array(30).fill(0), -5, 0.1)
  const err = await t.throwsAsync(set.project(new Array(30).fill(1), 1), { instanceOf: PoisonkitError })
  t.is(err!.code, 'ERR_INFEASIBLE')
  t.regex(err!.message, /class 1/)
  const code = (f: () => unknown) => (t.throws(f, { instanceOf: PoisonkitError }) as PoisonkitError).code
  t.is(code(() => set.violation([1, 2], 1)), 'ERR_DIM_MISMATCH')
  t.is(code(() => set.violation(new Array(30).fill(0), 7)), 'ERR_INVALID_OPTION')
  t.is(code(() => set.violation([Number.POSITIVE_INFINITY, ...new Array(29).fill(0)], 1)), 'ERR_NON_FINITE')
  t.is(code(() => set.contains([Number.NaN, ...new Array(29).fill(0)], 1)), 'ERR_NON_FINITE')
  t.is(code(() => set.setSphereRadius(1, -1)), 'ERR_INVALID_OPTION')
  t.is(code(() => FeasibleSet.fromClean(makeBagOfWords({ n: 50, d: 5 }), { lpRelaxation: true })), 'ERR_INVALID_OPTION')
  // A label that is no integer, or a method that is no string, names its argument (1.5 used to
  // reach class 1, and napi's conversion message named neither).
  const zero = new Array(30).fill(0)
  const message = (f: () => unknown) => (t.throws(f, { instanceOf: PoisonkitError }) as PoisonkitError).message
  t.regex(message(() => set.violation(zero, 1.5)), /^option label = 1\.5: must be a label/)
  t.regex(message(() => set.contains(zero, 1, '0.1' as never)), /^option tol = 0\.1: must be a finite number \(got a string\)$/)
  t.regex(message(() => set.setSlabRadius('1' as unknown as number, 1)), /^option label = 1: .* \(got a string\)$/)
  for (const call of [() => set.project(zero, 1, { method: 'fast' } as never), () => set.minimizeLinear(zero, 1, 3 as never), () => set.kktProgram(zero, 0.01, 0.01, null as never)]) {
    const e = await t.throwsAsync(call, { instanceOf: PoisonkitError })
    t.regex(e!.message, /^option method = .*: must be one of fast, conic$/)
  }
})

test('randomized rounding: integer, unbiased, seeded, with shared or independent repeats', (t) => {
  const x = Dataset.fromDense([[0.3, 2.5, 4]], [1])
  const a = roundPoints(x, { repeats: 4000, independent: true, seed: 3 })
  t.is(a.n, 4000)
  const csr = a.toCsr()
  t.true(csr.values.every((v) => Number.isInteger(v)))
  const mean = [0, 0, 0]
  for (let i = 0; i < a.n; i++) {
    for (let k = csr.indptr[i]!; k < csr.indptr[i + 1]!; k++) mean[csr.indices[k]!]! += csr.values[k]! / a.n
  }
  t.true(Math.abs(mean[0]! - 0.3) < 0.03 && Math.abs(mean[1]! - 2.5) < 0.05 && Math.abs(mean[2]! - 4) < 1e-9)
  t.deepEqual(roundPoints(x, { repeats: 3, seed: 1 }).toCsr(), roundPoints(x, { repeats: 3, seed: 1 }).toCsr())
  const shared = roundPoints(x, { repeats: 5, seed: 9 }).toCsr()
  const rows = Array.from({ length: 5 }, (_, i) => Array.from(shared.values.slice(shared.indptr[i]!, shared.indptr[i + 1]!)).join())
  t.true(rows.every((r) => r === rows[0]))
})
