//! The fast path for projections: argmin ½‖x − x0‖² over one class's set by the dual ascent of
//! [`super::dual`], and linear minimization by proximal steps of it.
//!
//! For multipliers (ρ, λ) the inner problem min over the box of ½‖x − x0‖² + Σ λ_a g_a(x) is
//! separable: a clipped affine map for the exact sphere, one piece of the envelope per coordinate
//! (O(1)) for the relaxed one. Its curvature in a free coordinate is 1 + ρ (exact) or 1 (relaxed,
//! on a piece), so the dual's Hessian is −Σ_{free j} s_j ∇g_j ∇g_jᵀ with s_j = 1/(1 + ρ) or 1.

use nalgebra::DMatrix;

use super::conic::{Solution, SolverReport};
use super::dual::{Constraints, DualFunction, MAX_ITER, STALL_TOL, maximize, piece_half_slope};
use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, nonzeros};

/// The projection's dual.
struct ProjectionDual<'a> {
    set: &'a FeasibleSet,
    cons: Constraints<'a>,
    x0: &'a [f64],
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

impl DualFunction for ProjectionDual<'_> {
    type Inner = Inner;

    fn m(&self) -> usize {
        self.cons.m()
    }

    fn inner(&self, lambda: &[f64]) -> Inner {
        let d = self.set.d;
        let (rho, w) = self.cons.split(lambda, d);
        let relaxed = self.cons.relaxed;
        let mu = &self.cons.class.centroid;
        let lo = self.set.lower.unwrap_or(f64::NEG_INFINITY);
        let upper = self.set.upper.as_deref();
        let inv = 1.0 / (1.0 + rho);
        let (mut x, mut scale, mut sphere_grad) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let (mut sphere_q, mut dist_sq) = (0.0, 0.0);
        for j in 0..d {
            let hi = upper.map_or(f64::INFINITY, |u| u[j]);
            let c = self.x0[j] + rho * mu[j] - w[j];
            let (value, smooth, half_slope) = if relaxed {
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
            scale[j] = match (free, relaxed) {
                (false, _) => 0.0,
                (true, true) => 1.0,
                (true, false) => inv,
            };
            if relaxed {
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
        if relaxed {
            sphere_q += self.cons.mu_sq;
        }
        Inner {
            x,
            scale,
            sphere_grad,
            sphere_q,
            dist_sq,
        }
    }

    fn constraints(&self, inner: &Inner) -> Vec<f64> {
        let mut g = Vec::with_capacity(self.m());
        self.cons.values(&inner.x, &nonzeros(&inner.x), inner.sphere_q, &mut g);
        g
    }

    fn objective(&self, inner: &Inner) -> f64 {
        0.5 * inner.dist_sq
    }

    fn curvature(&self, inner: &Inner, free: &[usize]) -> DMatrix<f64> {
        // Gradients of the constraints, rows of a (m × d) matrix.
        let grads: Vec<&[f64]> = std::iter::once(&inner.sphere_grad[..])
            .take(usize::from(self.cons.sphere.is_some()))
            .chain(self.cons.linear.iter().map(|(n, _)| &n[..]))
            .collect();
        let mut h = DMatrix::zeros(free.len(), free.len());
        for (p, &a) in free.iter().enumerate() {
            for (q, &b) in free.iter().enumerate().skip(p) {
                let v: f64 = (0..self.set.d)
                    .map(|j| inner.scale[j] * grads[a][j] * grads[b][j])
                    .sum();
                h[(p, q)] = v;
                h[(q, p)] = v;
            }
        }
        h
    }

    fn scales(&self) -> Vec<f64> {
        let mut s = Vec::with_capacity(self.m());
        self.cons.scales(&mut s);
        s
    }

    fn what(&self) -> String {
        format!("the feasible set of class {}", self.cons.class.label)
    }
}

pub(super) fn project(set: &FeasibleSet, class: &ClassSet, x0: &[f64]) -> Result<Solution> {
    project_from(set, class, x0, None).map(|(solution, _)| solution)
}

/// The projection with its multipliers, the dual ascent starting from `start` if given.
fn project_from(
    set: &FeasibleSet,
    class: &ClassSet,
    x0: &[f64],
    start: Option<Vec<f64>>,
) -> Result<(Solution, Vec<f64>)> {
    let dual = ProjectionDual {
        set,
        cons: Constraints::new(set, class),
        x0,
    };
    // Without a start, the sphere's multiplier where the exact sphere alone would put it:
    // x = μ + (x0 − μ)/(1 + ρ) lands on the sphere for ρ = ‖x0 − μ‖/r − 1.
    let mut lambda = vec![0.0; dual.m()];
    if let Some(start) = start {
        lambda = start;
    } else if let Some(r) = class.sphere_radius {
        let dist: f64 = x0
            .iter()
            .zip(&class.centroid)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        lambda[0] = (dist / r.max(f64::MIN_POSITIVE) - 1.0).max(0.0);
    }
    let ascent = maximize(&dual, lambda, MAX_ITER, "dual-newton")?;
    // A zero radius or a point of extreme scale can overflow the multipliers: no answer, so the
    // caller falls back to the conic solver.
    if !(ascent.inner.dist_sq.is_finite() && ascent.inner.x.iter().all(|v| v.is_finite())) {
        return Err(Error::Solver {
            solver: "dual-newton",
            status: "the projection overflowed (a zero radius or a point of extreme scale)".into(),
            iterations: ascent.iterations,
        });
    }
    let solution = Solution {
        value: ascent.inner.dist_sq.sqrt(),
        x: ascent.inner.x,
        report: SolverReport {
            solver: "dual-newton",
            status: "Solved".into(),
            iterations: ascent.iterations,
            residual: ascent.residual,
        },
    };
    Ok((solution, ascent.lambda))
}

/// Proximal steps of [`minimize_linear`] before it gives up.
const PROX_STEPS: usize = 40;

/// argmin c·x over one class's set by the proximal point method on projections (Rockafellar 1976):
/// x_{k+1} = argmin c·x + ‖x − x_k‖²/(2t_k) = P(x_k − t_k·c). On a polyhedral set (the LP
/// relaxation, slab, box, halfspaces) a long enough step lands exactly on a minimizer, the one
/// nearest x_k (exact regularization; Mangasarian & Meyer 1979), and the next step stays there; on
/// the exact sphere each step shrinks the error by about r/(t‖c‖). The step starts at t‖c‖ = 100 ×
/// the set's scale and grows tenfold per step up to 10⁸ (or until a projection that long fails,
/// then it steps back); each projection's dual ascent starts from the last one's multipliers,
/// scaled by the step's growth. It stops when a step moves x by at most `STALL_TOL` relative, and
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
    let mut multipliers = None;
    for _ in 0..PROX_STEPS {
        let x0: Vec<f64> = x.iter().zip(c).map(|(x, c)| x - t * c).collect();
        // The multipliers grow with the step (x0 recedes as t·c): start from the last ones, scaled.
        let warm = multipliers
            .take()
            .map(|(l, t_last): (Vec<f64>, f64)| l.iter().map(|v| v * t / t_last).collect());
        let next = match project_from(set, class, &x0, warm) {
            Ok((next, lambda)) => {
                multipliers = Some((lambda, t));
                next
            }
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
