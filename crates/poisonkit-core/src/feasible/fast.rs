//! The fast path for projections: argmin ½‖x − x0‖² over one class's set by projected Newton on
//! the Lagrange dual (Bertsekas 1982, projected Newton for bound-constrained problems), with the
//! box kept in the inner problem.
//!
//! Multipliers λ ≥ 0, one per constraint g_a(x) ≤ 0: the sphere ½(q(x) − r²) with q(x) = ‖x − μ‖²
//! or its LP relaxation Σ f(x_j) − 2μ·x + ‖μ‖², the two sides of the slab ±(v·x − v·μ) − s, and
//! the halfspaces a·x − b. For fixed λ the inner problem min over the box of
//! ½‖x − x0‖² + Σ λ_a g_a(x) is separable: a clipped affine map for the exact sphere, one piece of
//! the envelope per coordinate (O(1)) for the relaxed one. The dual D(λ) is concave with gradient
//! g(x(λ)) and Hessian −Σ_{free j} s_j ∇g_j ∇g_jᵀ (s_j = 1/(1 + ρ) or 1), a few multipliers wide, so
//! each Newton step costs O(d·m²). When the line search stalls (the dual is only piecewise smooth
//! for the relaxed sphere and the box), exact one-dimensional root finding per multiplier finishes.
//! It stops when x(λ) satisfies the KKT conditions to `TOL` (relative; `STALL_TOL` after
//! polishing), reports infeasibility when the dual grows without bound, and otherwise gives up
//! after `MAX_ITER` steps with a solver error (the caller then asks the conic solver).

use nalgebra::{DMatrix, DVector};

use super::conic::{Solution, SolverReport};
use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::dense_dot;

const MAX_ITER: usize = 200;
/// KKT tolerance, relative to each constraint's scale.
const TOL: f64 = 1e-12;
/// Accepted after polishing (the steps stalled at f64 precision).
const STALL_TOL: f64 = 1e-10;

/// The constraints of the dual, with their normals (for the linear ones).
struct Dual<'a> {
    set: &'a FeasibleSet,
    class: &'a ClassSet,
    x0: &'a [f64],
    /// Whether multiplier 0 is the sphere's.
    sphere: bool,
    relaxed: bool,
    /// Linear constraints n·x ≤ h.
    linear: Vec<(Vec<f64>, f64)>,
    mu_sq: f64,
}

/// x(λ) with its bookkeeping.
struct Inner {
    x: Vec<f64>,
    /// Per coordinate: its scale s_j when free (strictly inside the box and on a smooth piece),
    /// 0 when clipped or at a kink of the envelope.
    scale: Vec<f64>,
    /// ∂(½q)/∂x_j on the current piece (the sphere constraint's gradient).
    sphere_grad: Vec<f64>,
    /// q(x): ‖x − μ‖², or Σ f(x_j) − 2μ·x + ‖μ‖² for the relaxed sphere.
    sphere_q: f64,
    /// ‖x − x0‖².
    dist_sq: f64,
}

impl<'a> Dual<'a> {
    fn new(set: &'a FeasibleSet, class: &'a ClassSet, x0: &'a [f64]) -> Self {
        let mut linear = Vec::new();
        if let Some((v, s)) = &class.slab {
            let c = dense_dot(v, &class.centroid);
            linear.push((v.clone(), c + s));
            linear.push((v.iter().map(|x| -x).collect(), s - c));
        }
        linear.extend(class.halfspaces.iter().cloned());
        Dual {
            set,
            class,
            x0,
            sphere: class.sphere_radius.is_some(),
            relaxed: set.lp_relaxation && class.sphere_radius.is_some(),
            linear,
            mu_sq: dense_dot(&class.centroid, &class.centroid),
        }
    }

    fn m(&self) -> usize {
        usize::from(self.sphere) + self.linear.len()
    }

    /// The inner minimizer for multipliers λ (sphere first, then the linear constraints).
    fn inner(&self, lambda: &[f64]) -> Inner {
        let d = self.set.d;
        let rho = if self.sphere { lambda[0] } else { 0.0 };
        let mut w = vec![0.0; d];
        for (l, (n, _)) in lambda[usize::from(self.sphere)..].iter().zip(&self.linear) {
            if *l != 0.0 {
                w.iter_mut().zip(n).for_each(|(w, n)| *w += l * n);
            }
        }
        let mu = &self.class.centroid;
        let lo = self.set.lower.unwrap_or(f64::NEG_INFINITY);
        let upper = self.set.upper.as_deref();
        let inv = 1.0 / (1.0 + rho);
        let (mut x, mut scale, mut sphere_grad) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let (mut sphere_q, mut dist_sq) = (0.0, 0.0);
        for j in 0..d {
            let hi = upper.map_or(f64::INFINITY, |u| u[j]);
            let c = self.x0[j] + rho * mu[j] - w[j];
            let (value, smooth, half_slope) = if self.relaxed {
                // x + (ρ/2)f'(x) ∋ c with f' = 2k − 1 on (k − 1, k): the piece k, or the kink below it.
                let k = super::ceil((c + 0.5 * rho) * inv).max(1.0);
                let on_piece = c - rho * (k - 0.5);
                if on_piece >= k - 1.0 || k == 1.0 {
                    (on_piece, true, k - 0.5)
                } else {
                    (k - 1.0, false, k - 1.0) // any slope in [k − 1.5, k − 0.5]; the point is fixed
                }
            } else {
                (c * inv, true, f64::NAN)
            };
            let clipped = value.clamp(lo, hi);
            x[j] = clipped;
            dist_sq += (clipped - self.x0[j]) * (clipped - self.x0[j]);
            let free = smooth && clipped == value && value > lo && value < hi;
            scale[j] = match (free, self.relaxed) {
                (false, _) => 0.0,
                (true, true) => 1.0,
                (true, false) => inv,
            };
            if self.relaxed {
                let slope = if clipped == value {
                    half_slope
                } else {
                    piece_half_slope(clipped)
                };
                sphere_grad[j] = slope - mu[j];
                sphere_q += super::envelope(clipped) - 2.0 * mu[j] * clipped;
            } else {
                sphere_grad[j] = clipped - mu[j];
                sphere_q += sphere_grad[j] * sphere_grad[j];
            }
        }
        if self.relaxed {
            sphere_q += self.mu_sq;
        }
        Inner {
            x,
            scale,
            sphere_grad,
            sphere_q,
            dist_sq,
        }
    }

    /// Constraint values g_a(x(λ)) (≤ 0 feasible), sphere first.
    fn constraints(&self, inner: &Inner) -> Vec<f64> {
        let mut g = Vec::with_capacity(self.m());
        if let Some(r) = self.class.sphere_radius {
            g.push(0.5 * (inner.sphere_q - r * r));
        }
        g.extend(self.linear.iter().map(|(n, h)| dense_dot(n, &inner.x) - h));
        g
    }

    /// D(λ) = ½‖x − x0‖² + Σ λ_a g_a(x) at x = x(λ).
    fn value(&self, lambda: &[f64], inner: &Inner, g: &[f64]) -> f64 {
        0.5 * inner.dist_sq + lambda.iter().zip(g).map(|(l, g)| l * g).sum::<f64>()
    }

    /// The constraint scales used in the tolerances: r² for the sphere, ‖n‖·(1 + |h|) otherwise.
    fn scales(&self) -> Vec<f64> {
        let mut s = Vec::with_capacity(self.m());
        if let Some(r) = self.class.sphere_radius {
            s.push(1.0 + r * r);
        }
        s.extend(
            self.linear
                .iter()
                .map(|(n, h)| dense_dot(n, n).sqrt() * (1.0 + h.abs()) + 1.0),
        );
        s
    }
}

/// Cyclic coordinate ascent on the dual: each multiplier in turn is set to the root of its own
/// constraint value g_a (non-increasing in λ_a), or to 0 when g_a(0) ≤ 0, by bracketing and
/// bisection to f64 resolution.
fn polish(dual: &Dual, lambda: &mut [f64]) {
    for _sweep in 0..20 {
        let mut moved = false;
        for a in 0..lambda.len() {
            let g_at = |l: f64, lambda: &mut [f64]| {
                lambda[a] = l;
                dual.constraints(&dual.inner(lambda))[a]
            };
            let start = lambda[a];
            let (mut lo, mut hi);
            if g_at(0.0, lambda) <= 0.0 {
                lambda[a] = 0.0;
                moved |= start != 0.0;
                continue;
            }
            lo = 0.0;
            hi = start.max(1e-3);
            while g_at(hi, lambda) > 0.0 {
                lo = hi;
                hi *= 4.0;
                if hi > 1e15 {
                    lambda[a] = start;
                    return;
                }
            }
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if mid <= lo || mid >= hi {
                    break;
                }
                if g_at(mid, lambda) > 0.0 { lo = mid } else { hi = mid }
            }
            lambda[a] = hi; // the feasible side of the root
            moved |= hi != start;
        }
        if !moved {
            return;
        }
    }
}

/// Half the slope of the envelope just below x (used at the box ends).
fn piece_half_slope(x: f64) -> f64 {
    super::ceil(x).max(1.0) - 0.5
}

pub(super) fn project(set: &FeasibleSet, class: &ClassSet, x0: &[f64]) -> Result<Solution> {
    let dual = Dual::new(set, class, x0);
    let m = dual.m();
    let scales = dual.scales();
    // Start the sphere's multiplier where the exact sphere alone would put it: x = μ + (x0 − μ)/(1 + ρ)
    // lands on the sphere for ρ = ‖x0 − μ‖/r − 1.
    let mut lambda = vec![0.0; m];
    if let (true, Some(r)) = (dual.sphere, class.sphere_radius) {
        let dist: f64 = x0
            .iter()
            .zip(&class.centroid)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        lambda[0] = (dist / r.max(f64::MIN_POSITIVE) - 1.0).max(0.0);
    }
    let mut stalled = false;
    let mut polished = false;
    // x(λ) and g(x(λ)) at the current λ, carried over from the accepted line-search trial.
    let mut current: Option<(Inner, Vec<f64>)> = None;
    for iteration in 0..=MAX_ITER {
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
        let tol = if polished { STALL_TOL } else { TOL };
        if violation <= tol && slack <= tol * (1.0 + lambda.iter().sum::<f64>()) {
            let value = inner
                .x
                .iter()
                .zip(x0)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            let residual = g.iter().fold(0.0f64, |w, &v| w.max(v));
            return Ok(Solution {
                x: inner.x,
                value,
                report: SolverReport {
                    solver: "dual-newton",
                    status: "Solved".into(),
                    iterations: iteration as u32,
                    residual,
                },
            });
        }
        if iteration == MAX_ITER {
            break;
        }
        if stalled {
            // Newton's model no longer predicts the piecewise-smooth dual at this precision:
            // finish with exact one-dimensional root finding, one multiplier at a time.
            stalled = false;
            polished = true;
            polish(&dual, &mut lambda);
            current = None;
            continue;
        }
        if lambda.iter().any(|l| *l > 1e14) {
            return Err(Error::Infeasible {
                what: format!("the feasible set of class {}", class.label),
                reason: format!("the dual grows without bound (largest violation {violation:.3e}, relative)"),
            });
        }
        // Gradients of the constraints, rows of a (m × d) matrix.
        let grads: Vec<&[f64]> = std::iter::once(&inner.sphere_grad[..])
            .take(usize::from(dual.sphere))
            .chain(dual.linear.iter().map(|(n, _)| &n[..]))
            .collect();
        // Free multipliers: positive, or at zero with an ascent direction (g_a > 0).
        let free: Vec<usize> = (0..m).filter(|&a| lambda[a] > 0.0 || g[a] > 0.0).collect();
        let mut h = DMatrix::zeros(free.len(), free.len());
        for (p, &a) in free.iter().enumerate() {
            for (q, &b) in free.iter().enumerate().skip(p) {
                let v: f64 = (0..set.d).map(|j| inner.scale[j] * grads[a][j] * grads[b][j]).sum();
                h[(p, q)] = v;
                h[(q, p)] = v;
            }
        }
        // Newton ascent step Δ = (−H)⁻¹ g on the free multipliers, regularized for dependent rows.
        let ridge = 1e-12 * (1.0 + (0..free.len()).map(|p| h[(p, p)]).fold(0.0f64, f64::max));
        let rhs = DVector::from_iterator(free.len(), free.iter().map(|&a| g[a]));
        let step = (h.clone() + DMatrix::identity(free.len(), free.len()) * ridge)
            .cholesky()
            .map(|c| c.solve(&rhs))
            .unwrap_or_else(|| rhs.clone());
        let base = dual.value(&lambda, &inner, &g);
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
            if dual.value(&trial, &trial_inner, &gt) >= base + 1e-4 * gain - 1e-14 * base.abs() || t < 1e-12 {
                stalled = trial == lambda;
                lambda = trial;
                current = Some((trial_inner, gt));
                break;
            }
            t *= 0.1;
        }
    }
    Err(Error::Solver {
        solver: "dual-newton",
        status: "MaxIterations".into(),
        iterations: MAX_ITER as u32,
    })
}

/// Proximal steps of [`minimize_linear`] before it gives up.
const PROX_STEPS: usize = 40;

/// argmin c·x over one class's set by the proximal point method on projections (Rockafellar 1976):
/// x_{k+1} = argmin c·x + ‖x − x_k‖²/(2t_k) = P(x_k − t_k·c). On a polyhedral set (the LP
/// relaxation, slab, box, halfspaces) a long enough step lands exactly on a minimizer, the one
/// nearest x_k (exact regularization; Mangasarian & Meyer 1979), and the next step stays there; on
/// the exact sphere each step shrinks the error by about r/(t‖c‖). The step starts at t‖c‖ = 100 ×
/// the set's scale and grows tenfold per step up to 10⁸ (or until a projection that long fails,
/// then it steps back). It stops when a step moves x by at most `STALL_TOL` relative, and
/// otherwise gives up after `PROX_STEPS` steps with a solver error (an unbounded objective keeps
/// moving x).
pub(super) fn minimize_linear(set: &FeasibleSet, class: &ClassSet, c: &[f64]) -> Result<Solution> {
    let c_norm = dense_dot(c, c).sqrt();
    let mut x = class.centroid.clone();
    if c_norm == 0.0 {
        let solution = project(set, class, &x)?;
        return Ok(Solution { value: 0.0, ..solution });
    }
    let scale = (1.0 + class.sphere_radius.unwrap_or(0.0) + dense_dot(&x, &x).sqrt()) / c_norm;
    let (mut t, mut t_max) = (1e2 * scale, 1e8 * scale);
    let mut iterations = 0;
    let mut moved_once = false;
    for _ in 0..PROX_STEPS {
        let x0: Vec<f64> = x.iter().zip(c).map(|(x, c)| x - t * c).collect();
        let next = match project(set, class, &x0) {
            Ok(next) => next,
            Err(Error::Solver { iterations: n, .. }) if moved_once => {
                iterations += n;
                t_max = t / 10.0;
                t = t_max;
                continue;
            }
            Err(e) => return Err(e),
        };
        iterations += next.report.iterations;
        let moved = next
            .x
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let size = dense_dot(&next.x, &next.x).sqrt();
        x = next.x;
        if moved_once && moved <= STALL_TOL * (1.0 + size) {
            return Ok(Solution {
                value: dense_dot(c, &x),
                x,
                report: SolverReport {
                    solver: "proximal-dual-newton",
                    status: "Solved".into(),
                    iterations,
                    residual: next.report.residual,
                },
            });
        }
        moved_once = true;
        t = (10.0 * t).min(t_max);
    }
    Err(Error::Solver {
        solver: "proximal-dual-newton",
        status: "MaxIterations".into(),
        iterations,
    })
}
