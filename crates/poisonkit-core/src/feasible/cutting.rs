//! Linear minimization over one class's set with a bounded box, by Kelley's cutting-plane method
//! on its Lagrange dual (Kelley 1960; the primal from the master's multipliers as in Dantzig–Wolfe
//! decomposition). With multipliers λ ≥ 0 on the few coupling constraints (the sphere or its LP
//! relaxation, the slab's sides, the halfspaces), min over the box of c·x + Σ λ_a g_a(x) splits per
//! feature and has a closed form, so the dual D(λ) costs O(d·m) with the supergradient g(x(λ)).
//! The master program max t s.t. t ≤ D_i + g_i·(λ − λ_i), 0 ≤ λ ≤ B (an LP in m + 1 variables,
//! re-optimized by dual simplex steps after each cut, [`super::simplex`]) proposes the next λ. It
//! stops when the master's bound is within `GAP_TOL` of the best D found; then its multipliers π
//! weight the inner minimizers of the cuts into x̄ = Σ π_i x_i, feasible by convexity and within
//! the gap of the minimum, and a projection removes the master's rounding. Any box point x gives a
//! valid cut, the affine bound λ ↦ c·x + λ·g(x) ≥ D(λ), so the points that carried one call's
//! solution (Dantzig–Wolfe columns) warm-start the next call on the same set with a nearby c, as
//! the min-max game's rounds are. On the LP relaxation the dual is polyhedral and the method ends finitely. B starts at
//! `BOUND` and grows while the master's λ sits on it; a dual that outgrows `MAX_BOUND` (an empty
//! set) or `MAX_CUTS` cuts end in a solver error, and the caller turns to the conic path.

use super::conic::{Solution, SolverReport};
use super::dual::Constraints;
use super::simplex::DualSimplex;
use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, dot_on, nonzeros};

/// The master's gap at which it stops, relative to the objective's scale.
const GAP_TOL: f64 = 1e-9;
/// Cuts before it gives up.
const MAX_CUTS: usize = 400;
/// The first bound on the (scaled) multipliers, and the largest.
const BOUND: f64 = 1e2;
const MAX_BOUND: f64 = 1e12;
/// Dual simplex pivots per master solve before it gives up.
const MAX_PIVOTS: usize = 1000;

/// The dual of min c·x over the set, constraints scaled to unit size.
struct LinearDual<'a> {
    set: &'a FeasibleSet,
    cons: Constraints<'a>,
    c: &'a [f64],
    lower: f64,
    upper: &'a [f64],
    scales: Vec<f64>,
}

/// An affine upper bound of the dual, λ' ↦ value + grad·(λ' − λ): an evaluation at λ (tight
/// there, x = x(λ)), or a column carried from an earlier call (its box point kept).
struct Cut {
    lambda: Vec<f64>,
    value: f64,
    grad: Vec<f64>,
    column: Option<Vec<f64>>,
}

impl LinearDual<'_> {
    /// x(λ) = argmin over the box of c·x + Σ λ_a g_a(x)/s_a.
    fn inner(&self, lambda: &[f64]) -> Vec<f64> {
        let d = self.set.d;
        let scaled: Vec<f64> = lambda.iter().zip(&self.scales).map(|(l, s)| l / s).collect();
        let (rho, w) = self.cons.split(&scaled, d);
        let mu = &self.cons.class.centroid;
        // Below this, −a/ρ < ½ surely, so k ≤ 0 without the division (the loop's costliest step):
        // the bound is under ½ρ after its own rounding, and −a/ρ < ½ rounds to at most ½.
        let half_rho_below = 0.5 * rho * (1.0 - f64::EPSILON);
        (0..d)
            .map(|j| {
                let (lo, hi) = (self.lower, self.upper[j]);
                // The coefficient of x_j besides the sphere's ½ρ f(x_j) (relaxed) or ½ρ x_j².
                let a = self.c[j] + w[j] - rho * mu[j];
                let x = if rho == 0.0 {
                    if a > 0.0 { lo } else { hi }
                } else if self.cons.relaxed {
                    // Slopes ½ρ(2k − 1) + a on the pieces (k − 1, k): the first integer k whose next
                    // piece rises; below 1 the envelope is one piece of slope 1.
                    if -a < half_rho_below {
                        lo
                    } else {
                        let k = relaxed_piece(a, rho);
                        if k <= 0.0 { lo } else { k }
                    }
                } else {
                    -a / rho
                };
                x.clamp(lo, hi)
            })
            .collect()
    }

    /// The scaled constraint values g(x), and c·x.
    fn constraints(&self, x: &[f64]) -> (Vec<f64>, f64) {
        let nz = nonzeros(x);
        let mut grad = Vec::with_capacity(self.cons.m());
        self.cons.values(x, &nz, self.cons.sphere_q(x, &nz), &mut grad);
        grad.iter_mut().zip(&self.scales).for_each(|(g, s)| *g /= s);
        (grad, dot_on(self.c, x, &nz))
    }

    /// The dual at λ, with x(λ).
    fn cut(&self, lambda: Vec<f64>) -> (Cut, Vec<f64>) {
        let x = self.inner(&lambda);
        let (grad, cx) = self.constraints(&x);
        let value = cx + dense_dot(&lambda, &grad);
        let cut = Cut {
            lambda,
            value,
            grad,
            column: None,
        };
        (cut, x)
    }

    /// The bound c·x + λ·g(x) of a box point x.
    fn column(&self, x: Vec<f64>) -> Cut {
        let (grad, value) = self.constraints(&x);
        Cut {
            lambda: vec![0.0; self.cons.m()],
            value,
            grad,
            column: Some(x),
        }
    }

    /// The box point of a cut.
    fn point(&self, cut: &Cut) -> Vec<f64> {
        cut.column.clone().unwrap_or_else(|| self.inner(&cut.lambda))
    }
}

/// k = ⌈−a/ρ − ½⌉, out of line so that the compiler does not compute it (a division, the inner
/// loop's costliest step) for the coordinates that skip it.
#[inline(never)]
fn relaxed_piece(a: f64, rho: f64) -> f64 {
    super::ceil(-a / rho - 0.5)
}

/// The master program over z = (λ, t): rows 2a and 2a + 1 bound λ_a to [0, B], the cuts follow.
struct Master {
    lp: DualSimplex,
    m: usize,
}

impl Master {
    /// The master with the first cut, at the corner of the box its gradient points to.
    fn new(first: &Cut, bound: f64) -> Result<Self> {
        let m = first.lambda.len();
        let (mut rows, mut rhs, mut basis) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..m {
            let mut e = vec![0.0; m + 1];
            e[a] = -1.0;
            rows.push(e.clone());
            e[a] = 1.0;
            rows.push(e);
            rhs.extend([0.0, bound]);
            basis.push(2 * a + usize::from(first.grad[a] > 0.0));
        }
        let (row, b) = Master::row(first);
        rows.push(row);
        rhs.push(b);
        basis.push(2 * m);
        let mut c = vec![0.0; m + 1];
        c[m] = 1.0;
        Ok(Master {
            lp: DualSimplex::new(c, rows, rhs, basis)?,
            m,
        })
    }

    /// t − g_i·λ ≤ D_i − g_i·λ_i.
    fn row(cut: &Cut) -> (Vec<f64>, f64) {
        let row = cut.grad.iter().map(|g| -g).chain(std::iter::once(1.0)).collect();
        (row, cut.value - dense_dot(&cut.grad, &cut.lambda))
    }

    fn add(&mut self, cut: &Cut) {
        let (row, b) = Master::row(cut);
        self.lp.add_row(row, b);
    }

    fn set_bound(&mut self, bound: f64) -> Result<()> {
        (0..self.m).try_for_each(|a| self.lp.set_rhs(2 * a + 1, bound))
    }

    /// Re-optimizes; returns the master's λ and bound t.
    fn solve(&mut self) -> Result<(Vec<f64>, f64)> {
        self.lp.optimize(MAX_PIVOTS)?;
        let z = self.lp.z();
        Ok((z[..self.m].iter().map(|l| l.max(0.0)).collect(), z[self.m]))
    }

    /// The weight π_i of cut i.
    fn weight(&self, i: usize) -> f64 {
        self.lp.multiplier(2 * self.m + i)
    }
}

/// argmin c·x over class y's set, the box bounded on both sides, warm-started from `columns` (box
/// points of earlier calls on this set); returns the points that carry the solution, for the next.
pub(super) fn minimize_linear(
    set: &FeasibleSet,
    class: &ClassSet,
    c: &[f64],
    columns: Vec<Vec<f64>>,
) -> Result<(Solution, Vec<Vec<f64>>)> {
    let lower = set.lower.expect("a bounded box");
    let upper = set.upper.as_deref().expect("a bounded box");
    let cons = Constraints::new(set, class);
    let mut scales = Vec::new();
    cons.scales(&mut scales);
    let dual = LinearDual {
        set,
        cons,
        c,
        lower,
        upper,
        scales,
    };
    let m = dual.cons.m();
    let scale = (1.0 + dense_dot(&class.centroid, &class.centroid).sqrt() + class.sphere_radius.unwrap_or(0.0))
        * dense_dot(c, c).sqrt();
    if m == 0 {
        let x = dual.inner(&[]);
        return Ok((finish(set, class, c, x, 1)?, Vec::new())); // the box alone
    }
    let mut bound = BOUND;
    let mut cuts: Vec<Cut> = columns.into_iter().map(|x| dual.column(x)).collect();
    let mut master: Option<Master> = None;
    let mut lambda = vec![0.0; m];
    if let Some((first, rest)) = cuts.split_first() {
        let mut seeded = Master::new(first, bound)?;
        rest.iter().for_each(|cut| seeded.add(cut));
        lambda = seeded.solve()?.0;
        master = Some(seeded);
    }
    let mut best = f64::NEG_INFINITY;
    while cuts.len() < MAX_CUTS {
        let (cut, _) = dual.cut(lambda);
        best = best.max(cut.value);
        match &mut master {
            None => master = Some(Master::new(&cut, bound)?),
            Some(master) => master.add(&cut),
        }
        cuts.push(cut);
        let master = master.as_mut().expect("made above");
        let (mut next, mut top) = master.solve()?;
        while top - best <= GAP_TOL * scale {
            if next.iter().all(|&l| l < bound * (1.0 - 1e-6)) {
                let weights: Vec<f64> = (0..cuts.len()).map(|i| master.weight(i)).collect();
                let (x, columns) = primal(&dual, &cuts, &weights);
                return Ok((finish(set, class, c, x, cuts.len())?, columns));
            }
            if bound >= MAX_BOUND {
                return Err(Error::Solver {
                    solver: "cutting-plane",
                    status: "the dual grows without bound".into(),
                    iterations: cuts.len() as u32,
                });
            }
            bound *= 1e2;
            master.set_bound(bound)?;
            (next, top) = master.solve()?;
        }
        lambda = next;
    }
    Err(Error::Solver {
        solver: "cutting-plane",
        status: "MaxIterations".into(),
        iterations: cuts.len() as u32,
    })
}

/// x̄ = Σ π_i x_i over the cuts the master weighs, and those x_i.
fn primal(dual: &LinearDual, cuts: &[Cut], weights: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let mut x = vec![0.0; dual.set.d];
    let mut columns = Vec::new();
    for (cut, &w) in cuts.iter().zip(weights) {
        if w > 1e-12 * total {
            let xi = dual.point(cut);
            x.iter_mut().zip(&xi).for_each(|(x, v)| *x += w / total * v);
            columns.push(xi);
        }
    }
    (x, columns)
}

fn finish(set: &FeasibleSet, class: &ClassSet, c: &[f64], x: Vec<f64>, cuts: usize) -> Result<Solution> {
    let violation = set.violation(&x, class.label)?;
    let x = if violation > 0.0 {
        super::fast::project(set, class, &x)?.x
    } else {
        x
    };
    Ok(Solution {
        value: dense_dot(c, &x),
        x,
        report: SolverReport {
            solver: "cutting-plane",
            status: "Solved".into(),
            iterations: cuts as u32,
            residual: violation.max(0.0),
        },
    })
}
