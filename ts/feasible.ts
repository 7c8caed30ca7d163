/**
 * Feasible sets: where poison of class y can go without the defenses seeing it (paper §3.2–3.3).
 * Per class, the intersection of the sphere ‖x − μ_y‖ ≤ r_y (or, for integer data that will be
 * randomly rounded, its LP relaxation), the slab |v·(x − μ_y)| ≤ s_y, a box, and halfspaces such as
 * the decoy-loss cap 1 − y(θ·x + b) ≤ τ_y. Radii default to the 90th percentile of the clean class
 * (numpy's linear interpolation), as the reference's attackers use.
 */
import * as addon from '../native/index.js'
import { Dataset, datasetOption } from './dataset.js'
import { booleanOption, count, finiteNumber, invalidOption, labelOption, native, nativeAsync, numberArray, oneOf } from './errors.js'

/** Options of `FeasibleSet.fromClean`. */
export interface FeasibleSetOptions {
  /** Percentile of the clean distances used as radii (90). */
  percentile?: number
  /** Constrain to the sphere or its LP relaxation (true). */
  sphere?: boolean
  /** Constrain to the slab; binary data only (true). */
  slab?: boolean
  /** x ≥ 0 (default: when the clean data are non-negative). */
  nonnegative?: boolean
  /** Upper end of the box: a number, `'column-max'` (each column's clean maximum clipped to [1, 50], the Python reference's X_max) or `'data-range'` (each column's clean maximum, at least 1 for integer data: the MATLAB min-max's box). */
  upper?: UpperBound
  /** LP relaxation of the sphere for rounded integer data (paper eq. 5–8); needs `upper` (false). */
  lpRelaxation?: boolean
}

/** The rules that set the box's upper end per column from the clean data. */
export const UPPER_RULES = ['column-max', 'data-range'] as const

/** The box's upper end: a number for every feature, or one of the {@link UPPER_RULES}. */
export type UpperBound = number | (typeof UPPER_RULES)[number]

/** What a valid {@link UpperBound} is, for error messages. */
export const UPPER_BOUND_RULE = `must be a positive number, ${UPPER_RULES.join(' or ')}`

/** Whether `value` is a valid {@link UpperBound}. */
export function isUpperBound(value: unknown): value is UpperBound {
  return (UPPER_RULES as readonly unknown[]).includes(value) || (typeof value === 'number' && Number.isFinite(value) && value > 0)
}

/** A point of the set and how the solver ended. */
export interface SetSolution {
  /** The minimizer. */
  x: Float64Array
  /** The solver that produced it: `'dual-newton'` (the fast path) or `'clarabel'`. */
  solver: string
  /** ‖x − x0‖ for a projection, c·x for a linear objective. */
  value: number
  /** The solver's status (`Solved`, `AlmostSolved`). */
  status: string
  /** The solver's iterations. */
  iterations: number
  /** Primal residual. */
  residual: number
}

/** The KKT program's minimizers. */
export interface KktSolution {
  /** The +1 poison point. */
  xPos: Float64Array
  /** The −1 poison point. */
  xNeg: Float64Array
  /** ‖g − ε₊x₊ + ε₋x₋‖ at the solution. */
  value: number
  /** The solver that produced it: `'dual-newton'` (the fast path) or `'clarabel'`. */
  solver: string
  /** The solver's status (`Solved`, `AlmostSolved`). */
  status: string
  /** The solver's iterations. */
  iterations: number
  /** Primal residual. */
  residual: number
}

/** One class's constraints. */
export interface ClassConstraints {
  /** The class: ±1, or 0..k−1. */
  label: number
  /** The class centroid μ_y the sphere and the slab are centred on. */
  centroid: Float64Array
  /** Radius of the sphere ‖x − μ_y‖ ≤ r (absent without a sphere). */
  sphereRadius?: number
  /** Half-width of the slab |(μ₊ − μ₋)·(x − μ_y)| ≤ s (absent without a slab). */
  slabRadius?: number
  /** Number of halfspaces added. */
  halfspaces: number
}

/** The solver paths of the set's operations. */
const METHODS = ['fast', 'conic'] as const

/** The solver path asked for, named in the error when it is none (only a string reaches the addon). */
const methodOption = (method: unknown) => oneOf('method', method, METHODS) ?? 'fast'

/** Per-class feasible sets. Infeasible sets reject with `ERR_INFEASIBLE`; solver failures with `ERR_SOLVER`. */
export class FeasibleSet {
  private constructor(
    /** @internal */
    readonly handle: addon.FeasibleSet,
  ) {}

  /** Fits the sets on clean data: centroids, radii at the percentile, box and relaxation. */
  static fromClean(clean: Dataset, options: FeasibleSetOptions = {}): FeasibleSet {
    if (options.percentile !== undefined) finiteNumber('percentile', options.percentile)
    for (const name of ['sphere', 'slab', 'nonnegative', 'lpRelaxation'] as const) booleanOption(name, options[name])
    if (typeof options.upper === 'number') finiteNumber('upper', options.upper)
    return new FeasibleSet(native(() => addon.FeasibleSet.fromClean(datasetOption('clean', clean).handle, options)))
  }

  /** Number of features. */
  get d(): number {
    return this.handle.d
  }
  /** The per-class constraints. */
  get classes(): ClassConstraints[] {
    return this.handle.classes
  }

  /** Sets class `label`'s sphere radius (`null` removes the sphere). */
  setSphereRadius(label: number, radius: number | null): void {
    native(() => this.handle.setSphereRadius(labelOption('label', label), radius === null ? null : finiteNumber('radius', radius)))
  }
  /** Sets class `label`'s slab radius. */
  setSlabRadius(label: number, radius: number): void {
    native(() => this.handle.setSlabRadius(labelOption('label', label), finiteNumber('radius', radius)))
  }
  /** Sets class `label`'s centroid (e.g. refitted on clean + poison, as iterative attacks do). */
  setCentroid(label: number, centroid: ArrayLike<number>): void {
    native(() => this.handle.setCentroid(labelOption('label', label), numberArray('centroid', centroid)))
  }
  /** Adds the decoy-loss cap 1 − y(θ·x + b) ≤ τ to class y = `label`. */
  addLossCap(label: number, theta: ArrayLike<number>, bias: number, tau: number): void {
    native(() => this.handle.addLossCap(labelOption('label', label), numberArray('theta', theta), finiteNumber('bias', bias), finiteNumber('tau', tau)))
  }
  /** Adds the halfspace a·x ≤ b to class `label`. */
  addHalfspace(label: number, a: ArrayLike<number>, b: number): void {
    native(() => this.handle.addHalfspace(labelOption('label', label), numberArray('a', a), finiteNumber('b', b)))
  }

  /** The largest constraint violation of x for class `label` (≤ 0 inside the set). */
  violation(x: ArrayLike<number>, label: number): number {
    return native(() => this.handle.violation(numberArray('x', x), labelOption('label', label)))
  }
  /** Whether x lies in class `label`'s set, up to `tol` (1e-9). */
  contains(x: ArrayLike<number>, label: number, tol = 1e-9): boolean {
    return this.violation(x, label) <= finiteNumber('tol', tol)
  }

  /**
   * argmin ‖x − x0‖² over class `label`'s set. `method`: `'fast'` (default; an exact dual Newton
   * method, falling back to Clarabel where it cannot conclude) or `'conic'` (Clarabel).
   */
  project(x0: ArrayLike<number>, label: number, method: 'fast' | 'conic' = 'fast'): Promise<SetSolution> {
    const v = numberArray('x0', x0)
    return nativeAsync(() => this.handle.project(v, labelOption('label', label), methodOption(method)))
  }
  /**
   * The KKT attack's program (paper eq. 17): argmin ‖g − ε₊x₊ + ε₋x₋‖ over x₊ in the +1 set and
   * x₋ in the −1 set. Binary sets only. `method`: `'fast'` (default; proximal steps of an exact
   * dual Newton method, needing a finite box, falling back to Clarabel where it cannot conclude)
   * or `'conic'` (Clarabel).
   */
  kktProgram(g: ArrayLike<number>, epsPos: number, epsNeg: number, method: 'fast' | 'conic' = 'fast'): Promise<KktSolution> {
    const v = numberArray('g', g)
    return nativeAsync(() =>
      this.handle.kktProgram(v, finiteNumber('epsPos', epsPos), finiteNumber('epsNeg', epsNeg), methodOption(method)),
    )
  }

  /**
   * argmin c·x over class `label`'s set (the min-max attack's inner step). `method`: `'fast'`
   * (default; Kelley's cutting planes on the Lagrange dual over a bounded box, proximal steps of
   * the exact projection otherwise, falling back to Clarabel where they cannot conclude) or
   * `'conic'` (Clarabel).
   */
  minimizeLinear(c: ArrayLike<number>, label: number, method: 'fast' | 'conic' = 'fast'): Promise<SetSolution> {
    const v = numberArray('c', c)
    return nativeAsync(() => this.handle.minimizeLinear(v, labelOption('label', label), methodOption(method)))
  }
}

/** Options of `roundPoints`. */
export interface RoundOptions {
  /** Copies of every point (1). */
  repeats?: number
  /** Round every copy independently (the MATLAB reference) instead of copying one rounding (the Python reference) (false). */
  independent?: boolean
  /** Seed (0). */
  seed?: number
}

/** Randomized rounding (paper §3.3): each value becomes ⌊x⌋ + Bernoulli(x − ⌊x⌋), seeded. */
export function roundPoints(points: Dataset, options: RoundOptions = {}): Dataset {
  const { repeats, independent, seed } = options
  if (repeats !== undefined && count('repeats', repeats) < 1) invalidOption('repeats', repeats, 'must be at least 1')
  if (seed !== undefined) count('seed', seed)
  booleanOption('independent', independent)
  return new Dataset(native(() => addon.roundPoints(datasetOption('points', points).handle, repeats, independent, seed)))
}
