//! The engine of the fast path: projected Newton ascent on a Lagrange dual of a few multipliers
//! (Bertsekas 1982, projected Newton for bound-constrained problems), shared by projections
//! ([`super::fast`]) and the KKT program ([`super::kkt`]).
//!
//! Multipliers λ ≥ 0, one per constraint g_a(x) ≤ 0 of a class: the sphere ½(q(x) − r²) with
//! q(x) = ‖x − μ‖² or its LP relaxation Σ f(x_j) − 2μ·x + ‖μ‖², the two sides of the slab
//! ±(v·x − v·μ) − s, and the halfspaces a·x − b. The box stays in the inner problem, which is
//! separable per feature, so the dual D(λ) and its gradient g(x(λ)) cost O(d·m), and its Hessian
//! −Σ_j G_jᵀ Q_j⁻¹ G_j (G_j: the constraints' gradients in feature j's free variables, Q_j: the
//! inner curvature there) O(d·m²). The dual is only piecewise smooth (the relaxed sphere's kinks,
//! the box), and where the analytic curvature misses the kinks the line search keeps cutting the
//! step: then secant Newton steps, with a finite-difference Jacobian at the scale of the last
//! move, finish; exact one-dimensional root finding per multiplier is the last resort. It stops
//! when x(λ) satisfies the KKT conditions to `TOL` (relative; `STALL_TOL` after polishing), reports
//! infeasibility when the dual grows without bound, and otherwise gives up after `max_iter` steps
//! with a solver error (the callers then ask the conic solver).

use nalgebra::{DMatrix, DVector};

use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, dot_on};

/// Steps of one ascent: enough for any projection seen; the proximal steps of the KKT program,
/// which start close to their solution, use fewer (a failure there is f64 running out).
pub(super) const MAX_ITER: usize = 200;
/// KKT tolerance, relative to each constraint's scale.
const TOL: f64 = 1e-12;
/// Newton steps cut below this, `WEAK_STEPS` times in a row without halving the violation, mean
/// that Newton's model has stopped predicting the piecewise dual: secant steps take over.
const SHORT_STEP: f64 = 1e-2;
const WEAK_STEPS: usize = 3;
/// Accepted after polishing (the steps stalled at f64 precision).
pub(super) const STALL_TOL: f64 = 1e-10;

/// One class's constraints in the dual's form: the sphere (multiplier 0 when present), then the
/// linear constraints n·x ≤ h (the slab's two sides, the halfspaces).
pub(super) struct Constraints<'a> {
    pub class: &'a ClassSet,
    pub sphere: Option<f64>,
    pub relaxed: bool,
    pub linear: Vec<(Vec<f64>, f64)>,
    pub mu_sq: f64,
}

impl<'a> Constraints<'a> {
    pub fn new(set: &FeasibleSet, class: &'a ClassSet) -> Self {
        let mut linear = Vec::new();
        if let Some((v, s)) = &class.slab {
            let c = dense_dot(v, &class.centroid);
            linear.push((v.clone(), c + s));
            linear.push((v.iter().map(|x| -x).collect(), s - c));
        }
        linear.extend(class.halfspaces.iter().cloned());
        Constraints {
            class,
            sphere: class.sphere_radius,
            relaxed: set.lp_relaxation && class.sphere_radius.is_some(),
            linear,
            mu_sq: dense_dot(&class.centroid, &class.centroid),
        }
    }

    /// The number of multipliers.
    pub fn m(&self) -> usize {
        usize::from(self.sphere.is_some()) + self.linear.len()
    }

    /// The sphere's multiplier ρ and the combination w = Σ λ_a n_a of the linear constraints'.
    pub fn split(&self, lambda: &[f64], d: usize) -> (f64, Vec<f64>) {
        let first = usize::from(self.sphere.is_some());
        let rho = if first == 1 { lambda[0] } else { 0.0 };
        let mut w = vec![0.0; d];
        for (l, (n, _)) in lambda[first..].iter().zip(&self.linear) {
            if *l != 0.0 {
                w.iter_mut().zip(n).for_each(|(w, n)| *w += l * n);
            }
        }
        (rho, w)
    }

    /// ∂(½q)/∂x_j at x_j: x_j − μ_j, or half the envelope's slope on the piece below x_j minus μ_j.
    pub fn sphere_grad(&self, j: usize, x: f64) -> f64 {
        let mu = self.class.centroid[j];
        if self.relaxed { piece_half_slope(x) - mu } else { x - mu }
    }

    /// q(x) of the sphere's form; `nz` are the indices of x's nonzeros ([`crate::linalg::nonzeros`]).
    pub fn sphere_q(&self, x: &[f64], nz: &[usize]) -> f64 {
        let mu = &self.class.centroid;
        if self.relaxed {
            // f(0) = 0: the zeros add nothing (the sums as in `dot_on`).
            nz.iter().map(|&j| super::envelope(x[j])).sum::<f64>() - 2.0 * dot_on(mu, x, nz) + self.mu_sq
        } else {
            x.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum()
        }
    }

    /// The constraint values g_a(x) (≤ 0 feasible), sphere first, given q(x) and the indices `nz`
    /// of x's nonzeros.
    pub fn values(&self, x: &[f64], nz: &[usize], sphere_q: f64, out: &mut Vec<f64>) {
        if let Some(r) = self.sphere {
            out.push(0.5 * (sphere_q - r * r));
        }
        out.extend(self.linear.iter().map(|(n, h)| dot_on(n, x, nz) - h));
    }

    /// The constraints' gradients in feature j at x_j, in multiplier order.
    pub fn gradients(&self, j: usize, x: f64, out: &mut Vec<f64>) {
        if self.sphere.is_some() {
            out.push(self.sphere_grad(j, x));
        }
        out.extend(self.linear.iter().map(|(n, _)| n[j]));
    }

    /// The scales of the tolerances: r² for the sphere, ‖n‖·(1 + |h|) otherwise.
    pub fn scales(&self, out: &mut Vec<f64>) {
        if let Some(r) = self.sphere {
            out.push(1.0 + r * r);
        }
        out.extend(
            self.linear
                .iter()
                .map(|(n, h)| dense_dot(n, n).sqrt() * (1.0 + h.abs()) + 1.0),
        );
    }
}

/// Half the slope of the envelope just below x (used at the box ends and on jumps).
pub(super) fn piece_half_slope(x: f64) -> f64 {
    super::ceil(x).max(1.0) - 0.5
}

/// A concave dual of a few multipliers whose inner minimizer is separable per feature.
pub(super) trait DualFunction {
    /// The inner minimizer x(λ) with its bookkeeping.
    type Inner;
    /// The number of multipliers.
    fn m(&self) -> usize;
    /// x(λ).
    fn inner(&self, lambda: &[f64]) -> Self::Inner;
    /// g(x(λ)), the dual's gradient.
    fn constraints(&self, inner: &Self::Inner) -> Vec<f64>;
    /// The objective at x(λ) (D(λ) = objective + λ·g).
    fn objective(&self, inner: &Self::Inner) -> f64;
    /// −∂²D/∂λ² restricted to the multipliers `free`.
    fn curvature(&self, inner: &Self::Inner, free: &[usize]) -> DMatrix<f64>;
    /// Scales of the constraints for the tolerances.
    fn scales(&self) -> Vec<f64>;
    /// What is infeasible when the dual grows without bound.
    fn what(&self) -> String;
}

/// How the dual ascent ended.
pub(super) struct Ascent<I> {
    pub inner: I,
    /// The multipliers at the optimum.
    pub lambda: Vec<f64>,
    pub iterations: u32,
    /// The largest constraint value at x(λ).
    pub residual: f64,
}

/// Secant Newton steps on the stationarity system of the multipliers in play (λ_a > 0 or
/// g_a > 0): g_a(λ) = 0 there, with the Jacobian by finite differences at the scale of the last
/// step, which averages over the kinks that defeat the analytic curvature; each step is projected
/// onto λ ≥ 0 and halved until the scaled residual falls. Returns whether it reached `tol`.
fn secant_polish<D: DualFunction>(dual: &D, lambda: &mut [f64], scales: &[f64], tol: f64) -> bool {
    let m = lambda.len();
    let g_of = |l: &[f64]| dual.constraints(&dual.inner(l));
    let residual = |l: &[f64], g: &[f64]| {
        (0..m)
            .map(|a| if l[a] > 0.0 { g[a].abs() } else { g[a].max(0.0) } / scales[a])
            .fold(0.0f64, f64::max)
    };
    let mut g = g_of(lambda);
    let mut r = residual(lambda, &g);
    let total: f64 = lambda.iter().sum::<f64>();
    let mut scale: Vec<f64> = lambda.iter().map(|l| 1e-3 * l.max(1e-3 * total).max(1e-12)).collect();
    for _ in 0..30 {
        if r <= tol {
            return true;
        }
        let free: Vec<usize> = (0..m).filter(|&a| lambda[a] > 0.0 || g[a] > 0.0).collect();
        let k = free.len();
        let mut jacobian = DMatrix::<f64>::zeros(k, k);
        for (q, &b) in free.iter().enumerate() {
            let mut probe = lambda.to_vec();
            probe[b] += scale[b];
            let gp = g_of(&probe);
            for (p, &a) in free.iter().enumerate() {
                jacobian[(p, q)] = (gp[a] - g[a]) / scale[b];
            }
        }
        let rhs = DVector::from_iterator(k, free.iter().map(|&a| -g[a]));
        let Some(step) = jacobian.lu().solve(&rhs) else {
            return false;
        };
        let mut t = 1.0;
        loop {
            let mut trial = lambda.to_vec();
            for (p, &a) in free.iter().enumerate() {
                trial[a] = (lambda[a] + t * step[p]).max(0.0);
            }
            let gt = g_of(&trial);
            let rt = residual(&trial, &gt);
            if rt < r {
                for &a in &free {
                    scale[a] = (trial[a] - lambda[a]).abs().max(1e-9 * trial[a]).max(1e-15);
                }
                lambda.copy_from_slice(&trial);
                (g, r) = (gt, rt);
                break;
            }
            t *= 0.5;
            if t < 1e-3 {
                return false;
            }
        }
    }
    r <= tol
}

/// Cyclic coordinate ascent on the dual: each multiplier in turn is set to the root of its own
/// constraint value g_a (non-increasing in λ_a), or to 0 when g_a(0) ≤ 0, by bracketing outward
/// from its current value and regula falsi to f64 resolution; until no multiplier moves by more
/// than 1e-9 relative.
fn polish<D: DualFunction>(dual: &D, lambda: &mut [f64]) {
    for _sweep in 0..20 {
        let mut moved = false;
        for a in 0..lambda.len() {
            let g_at = |l: f64, lambda: &mut [f64]| {
                lambda[a] = l;
                dual.constraints(&dual.inner(lambda))[a]
            };
            let start = lambda[a];
            let g_start = g_at(start, lambda);
            // Bracket the root (g(lo) > 0 ≥ g(hi)) by steps growing fourfold away from the start,
            // which is usually close.
            let (mut lo, mut g_lo, mut hi, mut g_hi);
            if g_start > 0.0 {
                (lo, g_lo) = (start, g_start);
                let mut step = 1e-6 * start.max(1e-3);
                loop {
                    hi = start + step;
                    g_hi = g_at(hi, lambda);
                    if g_hi <= 0.0 {
                        break;
                    }
                    (lo, g_lo) = (hi, g_hi);
                    step *= 4.0;
                    if hi > 1e15 {
                        lambda[a] = start;
                        return;
                    }
                }
            } else {
                if start == 0.0 {
                    lambda[a] = 0.0;
                    continue;
                }
                (hi, g_hi) = (start, g_start);
                // At least the smallest normal number: from a subnormal start, 1e-6 × start is 0 and
                // the bracket would never move.
                let mut step = (1e-6 * start).max(f64::MIN_POSITIVE);
                loop {
                    lo = (start - step).max(0.0);
                    g_lo = g_at(lo, lambda);
                    if g_lo > 0.0 {
                        break;
                    }
                    (hi, g_hi) = (lo, g_lo);
                    if lo == 0.0 {
                        break;
                    }
                    step *= 4.0;
                }
                if g_lo <= 0.0 {
                    // Feasible at 0: the multiplier is inactive.
                    lambda[a] = 0.0;
                    moved |= start != 0.0;
                    continue;
                }
            }
            // Illinois regula falsi on the bracket, bisecting when it stalls.
            let mut kept_side = 0i8;
            while hi - lo > 1e-15 * hi {
                let mut mid = hi - g_hi * (hi - lo) / (g_hi - g_lo);
                if !(mid > lo && mid < hi) {
                    mid = 0.5 * (lo + hi);
                    if mid <= lo || mid >= hi {
                        break;
                    }
                }
                let g_mid = g_at(mid, lambda);
                if g_mid > 0.0 {
                    (lo, g_lo) = (mid, g_mid);
                    if kept_side == 1 {
                        g_hi *= 0.5;
                    }
                    kept_side = 1;
                } else {
                    (hi, g_hi) = (mid, g_mid);
                    if kept_side == -1 {
                        g_lo *= 0.5;
                    }
                    kept_side = -1;
                }
            }
            lambda[a] = hi; // the feasible side of the root
            moved |= (hi - start).abs() > 1e-9 * hi;
        }
        if !moved {
            return;
        }
    }
}

/// Maximizes the dual from `lambda`; returns x(λ*) and how the ascent ended.
pub(super) fn maximize<D: DualFunction>(
    dual: &D,
    mut lambda: Vec<f64>,
    max_iter: usize,
    solver: &'static str,
) -> Result<Ascent<D::Inner>> {
    let m = dual.m();
    let scales = dual.scales();
    let mut stalled = false;
    let mut polished = false;
    // Short steps (t < `SHORT_STEP`) in a row that failed to halve the violation.
    let (mut weak, mut short, mut last_violation) = (0, false, f64::INFINITY);
    // x(λ) and g(x(λ)) at the current λ, carried over from the accepted line-search trial.
    let mut current: Option<(D::Inner, Vec<f64>)> = None;
    for iteration in 0..=max_iter {
        let (inner, g) = current.take().unwrap_or_else(|| {
            let inner = dual.inner(&lambda);
            let g = dual.constraints(&inner);
            (inner, g)
        });
        let violation = g.iter().zip(&scales).map(|(g, s)| g / s).fold(0.0f64, f64::max);
        let slack = lambda
            .iter()
            .zip(&g)
            .zip(&scales)
            .map(|((l, g), s)| (l * g / s).abs())
            .fold(0.0f64, f64::max);
        weak = if short && violation > 0.5 * last_violation {
            weak + 1
        } else {
            0
        };
        last_violation = violation;
        let tol = if polished { STALL_TOL } else { TOL };
        if violation <= tol && slack <= tol * (1.0 + lambda.iter().sum::<f64>()) {
            return Ok(Ascent {
                inner,
                lambda,
                iterations: iteration as u32,
                residual: g.iter().fold(0.0f64, |w, &v| w.max(v)),
            });
        }
        if iteration == max_iter {
            break;
        }
        if weak >= WEAK_STEPS && !polished {
            // Newton's model no longer predicts the piecewise-smooth dual: try secant steps.
            // On failure Newton goes on from where it was (a failed secant run may have wandered).
            weak = 0;
            let mut trial = lambda.clone();
            polished = secant_polish(dual, &mut trial, &scales, STALL_TOL);
            if polished {
                lambda = trial;
                current = None;
            } else {
                current = Some((inner, g));
            }
            continue;
        }
        if stalled {
            // No step left at f64 precision: exact one-dimensional root finding, one multiplier
            // at a time, if the secant steps fail too.
            stalled = false;
            polished = true;
            if !secant_polish(dual, &mut lambda, &scales, STALL_TOL) {
                polish(dual, &mut lambda);
            }
            current = None;
            continue;
        }
        if lambda.iter().any(|l| *l > 1e14) {
            return Err(Error::Infeasible {
                what: dual.what(),
                reason: format!("the dual grows without bound (largest violation {violation:.3e}, relative)"),
            });
        }
        // Free multipliers: positive, or at zero with an ascent direction (g_a > 0).
        let free: Vec<usize> = (0..m).filter(|&a| lambda[a] > 0.0 || g[a] > 0.0).collect();
        let h = dual.curvature(&inner, &free);
        // Newton ascent step Δ = (−∇²D)⁻¹ g on the free multipliers, regularized for dependent rows.
        let ridge = 1e-12 * (1.0 + (0..free.len()).map(|p| h[(p, p)]).fold(0.0f64, f64::max));
        let rhs = DVector::from_iterator(free.len(), free.iter().map(|&a| g[a]));
        let step = (h + DMatrix::identity(free.len(), free.len()) * ridge)
            .cholesky()
            .map(|c| c.solve(&rhs))
            .unwrap_or_else(|| rhs.clone());
        let value = |lambda: &[f64], inner: &D::Inner, g: &[f64]| {
            dual.objective(inner) + lambda.iter().zip(g).map(|(l, g)| l * g).sum::<f64>()
        };
        let base = value(&lambda, &inner, &g);
        // First try the full step, or the step to the first bound it would cross.
        let mut t = free
            .iter()
            .enumerate()
            .filter(|&(p, &a)| step[p] < 0.0 && lambda[a] > 0.0)
            .map(|(p, &a)| lambda[a] / -step[p])
            .fold(1.0f64, f64::min);
        loop {
            let mut trial = lambda.clone();
            for (p, &a) in free.iter().enumerate() {
                trial[a] = (lambda[a] + t * step[p]).max(0.0);
            }
            let trial_inner = dual.inner(&trial);
            let gt = dual.constraints(&trial_inner);
            let gain: f64 = trial.iter().zip(&lambda).zip(&g).map(|((n, o), g)| (n - o) * g).sum();
            // Armijo on the dual, with slack for rounding in D near the optimum.
            if value(&trial, &trial_inner, &gt) >= base + 1e-4 * gain - 1e-14 * base.abs() || t < 1e-12 {
                stalled = trial == lambda;
                short = t < SHORT_STEP;
                lambda = trial;
                current = Some((trial_inner, gt));
                break;
            }
            t *= 0.1;
        }
    }
    Err(Error::Solver {
        solver,
        status: "MaxIterations".into(),
        iterations: max_iter as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The projection of `target` onto x ≤ b in one dimension: x(λ) = target − λ, g = x − b.
    struct HalfLine {
        target: f64,
        b: f64,
    }

    impl DualFunction for HalfLine {
        type Inner = f64;
        fn m(&self) -> usize {
            1
        }
        fn inner(&self, lambda: &[f64]) -> f64 {
            self.target - lambda[0]
        }
        fn constraints(&self, x: &f64) -> Vec<f64> {
            vec![x - self.b]
        }
        fn objective(&self, x: &f64) -> f64 {
            0.5 * (x - self.target).powi(2)
        }
        fn curvature(&self, _: &f64, free: &[usize]) -> DMatrix<f64> {
            DMatrix::identity(free.len(), free.len())
        }
        fn scales(&self) -> Vec<f64> {
            vec![1.0]
        }
        fn what(&self) -> String {
            "the half-line".into()
        }
    }

    #[test]
    fn polish_moves_a_subnormal_multiplier() {
        // Inactive constraint: the multiplier goes to 0 (it used to loop forever from 6e-320).
        let mut lambda = [5.9e-320];
        polish(&HalfLine { target: 0.0, b: 1.0 }, &mut lambda);
        assert_eq!(lambda, [0.0]);
        // Active constraint: the root λ = target − b, from the same start.
        let mut lambda = [5.9e-320];
        polish(&HalfLine { target: 3.0, b: 1.0 }, &mut lambda);
        assert!((lambda[0] - 2.0).abs() <= 1e-12, "{lambda:?}");
    }
}
