//! Dual coordinate descent for the L2-regularized hinge SVM (Hsieh et al., ICML 2008, Algorithm 3
//! with shrinking; liblinear's `solve_l2r_l1l2_svc`).
//!
//! In liblinear's scale, P = λ·P' with
//!   P'(w̃) = ½‖w̃‖² + Σ_i C_i max(0, 1 − y_i w̃·x̃_i),   C_i = c_i/λ = s_i/(λN),
//! and the dual is  max_α D'(α) = Σ α_i − ½‖Σ α_i y_i x̃_i‖²  over 0 ≤ α_i ≤ C_i.
//!
//! The bias is always carried as a last feature x̃ = (x, 1), w̃ = (w, β).
//! - Regularized bias: b = β; one dual solve.
//! - Unregularized bias: the dual gains the constraint Σ α_i y_i = 0, handled by the method of
//!   multipliers (augmented Lagrangian with ρ = 1): each round solves the regularized dual with
//!   the bias offset by the multiplier μ, G_i = y_i(w·x_i + β + μ) − 1, then sets μ ← μ + β
//!   (on the primal side, a proximal-point step on b). The model's bias is μ + β. The certificate
//!   is P'(w, μ + β) minus the dual value of α rescaled per class to satisfy Σ α_i y_i = 0.
//!
//! Stopping: liblinear's projected-gradient rule with a tolerance that is tightened tenfold until
//! the duality gap P' − D' ≤ tol·P'; or once the epochs have visited `max_iter` × n coordinates in
//! all (then `converged` is false): epochs over a shrunk active set are cheap, and the slow tail of
//! a small λ (near hard margin) can need many of them; or when an epoch over all the data moves no
//! coordinate (stuck in rounding; `converged` tells whether the gap was reached).

use rand::RngExt;

use super::{Fit, LinearModel, Problem, SolverOptions};
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, sq_norm};
use crate::rng::{Rng, seeded};

/// A coordinate whose projected gradient is at most this in size is not moved.
const STILL: f64 = 1e-12;

/// The state shared by the inner solves.
struct Dcd<'p, 'a> {
    problem: &'p Problem<'a>,
    /// C_i, the upper bound of α_i.
    upper: Vec<f64>,
    /// Q_ii = ‖x̃_i‖².
    qd: Vec<f64>,
    rng: Rng,
    epochs: usize,
    /// Coordinates visited so far, and the most allowed.
    visits: usize,
    max_visits: usize,
}

/// The iterate: α, w = Σ α_i y_i x_i, and the bias weight (Σ α_i y_i when regularized).
#[derive(Clone)]
struct Iterate {
    alpha: Vec<f64>,
    w: Vec<f64>,
    wb: f64,
}

/// The result of one inner solve at a fixed bias offset.
struct Inner {
    primal: f64,
    dual: f64,
    converged: bool,
}

pub(super) fn train(
    problem: &Problem,
    options: &SolverOptions,
    warm_dual: Option<&[f64]>,
    should_stop: &dyn Fn() -> bool,
) -> Result<Fit> {
    let data = problem.data();
    let n = data.n();
    let lambda = problem.lambda();
    let upper: Vec<f64> = problem.coef().iter().map(|c| c / lambda).collect();
    let qd = (0..n).map(|i| sq_norm(data.row(i).1) + 1.0).collect();
    let mut solver = Dcd {
        problem,
        upper,
        qd,
        rng: seeded(options.seed),
        epochs: 0,
        visits: 0,
        max_visits: options.visit_budget(n),
    };

    let alpha: Vec<f64> = match warm_dual {
        None => vec![0.0; n],
        Some(a) => {
            if a.len() != n {
                return Err(Error::DimMismatch {
                    what: "warm start: dual variables, one per training point".into(),
                    expected: n,
                    got: a.len(),
                });
            }
            if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| !(**v >= 0.0 && **v <= 1.0)) {
                return Err(Error::option(&format!("warmStart.dual[{i}]"), v, "must lie in [0, 1]"));
            }
            a.iter().zip(&solver.upper).map(|(a, c)| a * c).collect()
        }
    };
    let y = problem.y();
    let weights: Vec<f64> = alpha.iter().zip(y).map(|(a, y)| a * y).collect();
    let (w, wb) = problem.combine_rows(&weights);
    let mut it = Iterate { alpha, w, wb };

    let (bias, primal, lower, converged) = if problem.regularize_bias() {
        let r = solver.solve(&mut it, 0.0, options.tol, should_stop)?;
        (it.wb, r.primal, r.dual, r.converged)
    } else {
        let (b, primal, lower, converged, best_it) = solver.multipliers(&mut it, options.tol, should_stop)?;
        it = best_it;
        (b, primal, lower, converged)
    };

    let dual = it
        .alpha
        .iter()
        .zip(&solver.upper)
        .map(|(a, c)| if *c > 0.0 { (a / c).clamp(0.0, 1.0) } else { 0.0 })
        .collect();
    Ok(Fit {
        model: LinearModel { w: it.w, bias },
        objective: lambda * primal,
        duality_gap: (lambda * (primal - lower)).max(0.0),
        iterations: solver.epochs,
        converged,
        dual,
    })
}

impl Dcd<'_, '_> {
    /// P'(w̃) and D'(α) at the fixed bias offset `b` (exact, one pass over the data).
    fn primal_dual(&self, it: &Iterate, b: f64) -> (f64, f64) {
        let data = self.problem.data();
        let y = self.problem.y();
        let half_norm = 0.5 * (dense_dot(&it.w, &it.w) + it.wb * it.wb);
        let (mut hinge, mut linear) = (0.0, 0.0);
        for (i, (&yi, &ai)) in y.iter().zip(&it.alpha).enumerate() {
            let m = yi * (data.row_dot(i, &it.w) + it.wb + b);
            hinge += self.upper[i] * (1.0 - m).max(0.0);
            linear += ai * (1.0 - yi * b);
        }
        (half_norm + hinge, linear - half_norm)
    }

    /// Solves the dual at the fixed bias offset `b` (0 when the bias is regularized) until
    /// P' − D' ≤ tol·P', warm-starting from and updating `it`.
    fn solve(&mut self, it: &mut Iterate, b: f64, tol: f64, should_stop: &dyn Fn() -> bool) -> Result<Inner> {
        let data = self.problem.data();
        let y = self.problem.y();
        let n = data.n();
        let mut index: Vec<usize> = (0..n).collect();
        let mut active = n;
        let mut eps = 0.1; // liblinear's default projected-gradient tolerance, tightened below
        let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
        loop {
            if self.visits >= self.max_visits {
                let (primal, dual) = self.primal_dual(it, b);
                return Ok(Inner {
                    primal,
                    dual,
                    converged: primal - dual <= tol * primal,
                });
            }
            if should_stop() {
                return Err(Error::Aborted);
            }
            self.epochs += 1;
            self.visits += active;
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for s in 0..active {
                let j = s + self.rng.random_range(0..active - s);
                index.swap(s, j);
            }
            let mut s = 0;
            while s < active {
                let i = index[s];
                let g = y[i] * (data.row_dot(i, &it.w) + it.wb + b) - 1.0;
                let c = self.upper[i];
                let a = it.alpha[i];
                let pg = if a == 0.0 {
                    if g > pg_max_old {
                        active -= 1;
                        index.swap(s, active);
                        continue;
                    }
                    g.min(0.0)
                } else if a >= c {
                    if g < pg_min_old {
                        active -= 1;
                        index.swap(s, active);
                        continue;
                    }
                    g.max(0.0)
                } else {
                    g
                };
                pg_max = pg_max.max(pg);
                pg_min = pg_min.min(pg);
                if pg.abs() > STILL {
                    let new = if self.qd[i] > 0.0 {
                        (a - g / self.qd[i]).clamp(0.0, c)
                    } else if g < 0.0 {
                        c // an empty row with no bias feature: the dual is linear in α_i
                    } else {
                        0.0
                    };
                    let delta = (new - a) * y[i];
                    it.alpha[i] = new;
                    data.row_axpy(i, delta, &mut it.w);
                    it.wb += delta;
                }
                s += 1;
            }
            // No coordinate moved in this epoch.
            let still = pg_max <= STILL && pg_min >= -STILL;
            if pg_max - pg_min <= eps || still {
                // The gap pass is exact whatever the active set: check it before unshrinking.
                let (primal, dual) = self.primal_dual(it, b);
                let gap = primal - dual;
                // Still over the whole data, the iterate is stuck in rounding: the gap is reported
                // as it is. (A small spread alone is not enough: symmetric points, e.g. one point
                // with both labels, have equal projected gradients far from the optimum.)
                if gap <= tol * primal || (still && active == n) {
                    return Ok(Inner {
                        primal,
                        dual,
                        converged: gap <= tol * primal,
                    });
                }
                // The gap shrinks roughly in proportion to eps: aim at the target, tightening by
                // 10× to 100× at a time (larger jumps overshoot badly on some data).
                eps *= (tol * primal / gap).clamp(0.01, 0.1);
                if active < n {
                    // Converged on the shrunk problem only: check every point again.
                    active = n;
                    pg_max_old = f64::INFINITY;
                    pg_min_old = f64::NEG_INFINITY;
                    continue;
                }
            }
            pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
            pg_min_old = if pg_min >= 0.0 { f64::NEG_INFINITY } else { pg_min };
        }
    }

    /// Unregularized bias by the method of multipliers (module doc). Returns (b, best P', lower
    /// bound on min P', converged, best iterate).
    fn multipliers(
        &mut self,
        it: &mut Iterate,
        tol: f64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<(f64, f64, f64, bool, Iterate)> {
        let mut mu = 0.0;
        let mut previous_step = 0.0;
        let mut lower = f64::NEG_INFINITY;
        let mut best: Option<(f64, f64, Iterate)> = None;
        loop {
            self.solve(it, mu, tol / 4.0, should_stop)?;
            let bias = mu + it.wb;
            let primal = self.unregularized_primal(it, bias);
            lower = lower.max(self.balanced_dual(it));
            if best.as_ref().is_none_or(|(_, p, _)| primal < *p) {
                best = Some((bias, primal, it.clone()));
            }
            let (b, p, best_it) = best.as_ref().expect("set above");
            let done = *p - lower <= tol * *p;
            if done || self.visits >= self.max_visits {
                return Ok((*b, *p, lower, done, best_it.clone()));
            }
            // The multiplier steps β_k shrink about geometrically (ratio r): jump by the sum of the
            // series, β/(1 − r) (Aitken's extrapolation); any μ is a valid next multiplier.
            let ratio = if previous_step != 0.0 {
                (it.wb / previous_step).clamp(0.0, 0.9)
            } else {
                0.0
            };
            previous_step = it.wb;
            mu += it.wb / (1.0 - ratio);
        }
    }

    /// P'(w, b) without the bias in the regularizer: ½‖w‖² + Σ C_i max(0, 1 − y_i(w·x_i + b)).
    fn unregularized_primal(&self, it: &Iterate, b: f64) -> f64 {
        let data = self.problem.data();
        let y = self.problem.y();
        let hinge: f64 = (0..data.n())
            .map(|i| self.upper[i] * (1.0 - y[i] * (data.row_dot(i, &it.w) + b)).max(0.0))
            .sum();
        0.5 * dense_dot(&it.w, &it.w) + hinge
    }

    /// The unregularized dual Σ α'_i − ½‖Σ α'_i y_i x_i‖² at α scaled down on the class with the
    /// larger Σ α, so that Σ α'_i y_i = 0 and α' stays in the box: a lower bound on min P'.
    fn balanced_dual(&self, it: &Iterate) -> f64 {
        let y = self.problem.y();
        let (mut pos, mut neg) = (0.0, 0.0);
        for (a, &yi) in it.alpha.iter().zip(y) {
            if yi > 0.0 { pos += a } else { neg += a }
        }
        let (scale_pos, scale_neg) = if pos > neg {
            (if pos > 0.0 { neg / pos } else { 0.0 }, 1.0)
        } else {
            (1.0, if neg > 0.0 { pos / neg } else { 0.0 })
        };
        let weights: Vec<f64> = it
            .alpha
            .iter()
            .zip(y)
            .map(|(a, &yi)| a * yi * if yi > 0.0 { scale_pos } else { scale_neg })
            .collect();
        let (w, _) = self.problem.combine_rows(&weights);
        let total: f64 = weights.iter().zip(y).map(|(v, yi)| v * yi).sum();
        total - 0.5 * dense_dot(&w, &w)
    }
}
