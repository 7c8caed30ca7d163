//! Dual coordinate descent for the L2-regularized hinge SVM (Hsieh et al., ICML 2008, Algorithm 3
//! with shrinking; liblinear's `solve_l2r_l1l2_svc`).
//!
//! In liblinear's scale, P = λ·P' with
//!   P'(w̃) = ½‖w̃‖² + Σ_i C_i max(0, 1 − y_i w̃·x̃_i),   C_i = c_i/λ = s_i/(λN),
//! and the dual is  max_α D'(α) = Σ α_i − ½‖Σ α_i y_i x̃_i‖²  over 0 ≤ α_i ≤ C_i.
//!
//! - Regularized bias: x̃ = (x, 1), w̃ = (w, b); one dual solve.
//! - Unregularized bias: for a fixed b, the inner problem in w has the dual
//!   D'_b(α) = Σ α_i(1 − y_i b) − ½‖Σ α_i y_i x_i‖², which is affine in b; so every inner solve gives
//!   an upper bound P'(w, b) and a global affine lower bound on F(b) = min_w P'(w, b). The outer
//!   loop minimizes the convex F by cutting planes on those lower bounds (safeguarded bisection),
//!   and its gap is (best upper bound) − (minimum of the lower envelope): a certified gap.
//!
//! Stopping: liblinear's projected-gradient rule with a tolerance that is tightened tenfold until
//! the duality gap P' − D' ≤ tol·P'; or `max_iter` epochs in all (then `converged` is false).

use rand::RngExt;

use super::{Fit, LinearModel, Problem, SolverOptions};
use crate::error::{Error, Result};
use crate::linalg::{axpy, dense_dot, dot, sq_norm};
use crate::rng::{Rng, seeded};

/// The state shared by the inner solves.
struct Dcd<'p, 'a> {
    problem: &'p Problem<'a>,
    /// C_i, the upper bound of α_i.
    upper: Vec<f64>,
    /// Q_ii = ‖x̃_i‖².
    qd: Vec<f64>,
    /// 1 when the bias is part of w̃ (regularized), 0 otherwise.
    aug: f64,
    rng: Rng,
    epochs: usize,
    max_epochs: usize,
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
    let aug = if problem.regularize_bias() { 1.0 } else { 0.0 };
    let upper: Vec<f64> = problem.coef().iter().map(|c| c / lambda).collect();
    let qd = (0..n).map(|i| sq_norm(data.row(i).1) + aug).collect();
    let mut solver = Dcd {
        problem,
        upper,
        qd,
        aug,
        rng: seeded(options.seed),
        epochs: 0,
        max_epochs: options.max_iter,
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
    let mut it = Iterate {
        alpha,
        w,
        wb: wb * aug,
    };

    let (bias, primal, lower, converged) = if problem.regularize_bias() {
        let r = solver.solve(&mut it, 0.0, options.tol, should_stop)?;
        (it.wb, r.primal, r.dual, r.converged)
    } else {
        let best = solver.search_bias(&mut it, options.tol, should_stop)?;
        let (b, primal, lower, converged, best_it) = best;
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
        for i in 0..data.n() {
            let (idx, val) = data.row(i);
            let m = y[i] * (dot(idx, val, &it.w) + it.wb + b);
            hinge += self.upper[i] * (1.0 - m).max(0.0);
            linear += it.alpha[i] * (1.0 - y[i] * b);
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
            if self.epochs >= self.max_epochs {
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
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for s in 0..active {
                let j = s + self.rng.random_range(0..active - s);
                index.swap(s, j);
            }
            let mut s = 0;
            while s < active {
                let i = index[s];
                let (idx, val) = data.row(i);
                let g = y[i] * (dot(idx, val, &it.w) + it.wb + b) - 1.0;
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
                if pg.abs() > 1e-12 {
                    let new = if self.qd[i] > 0.0 {
                        (a - g / self.qd[i]).clamp(0.0, c)
                    } else if g < 0.0 {
                        c // an empty row with no bias feature: the dual is linear in α_i
                    } else {
                        0.0
                    };
                    let delta = (new - a) * y[i];
                    it.alpha[i] = new;
                    axpy(delta, idx, val, &mut it.w);
                    it.wb += delta * self.aug;
                }
                s += 1;
            }
            if pg_max - pg_min <= eps {
                if active == n {
                    let (primal, dual) = self.primal_dual(it, b);
                    if primal - dual <= tol * primal {
                        return Ok(Inner {
                            primal,
                            dual,
                            converged: true,
                        });
                    }
                    if eps < 1e-14 {
                        // The projected gradient vanishes to rounding yet the gap does not close.
                        return Ok(Inner {
                            primal,
                            dual,
                            converged: false,
                        });
                    }
                    eps *= 0.1;
                }
                active = n;
                pg_max_old = f64::INFINITY;
                pg_min_old = f64::NEG_INFINITY;
                continue;
            }
            pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
            pg_min_old = if pg_min >= 0.0 { f64::NEG_INFINITY } else { pg_min };
        }
    }

    /// Unregularized bias: minimizes F(b) = min_w P'(w, b) by cutting planes on the affine dual
    /// lower bounds D'_b. Returns (b, best P', lower bound on min F, converged, best iterate).
    fn search_bias(
        &mut self,
        it: &mut Iterate,
        tol: f64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<(f64, f64, f64, bool, Iterate)> {
        let mut s = BiasSearch {
            lines: Vec::new(),
            best: None,
            inner_converged: true,
        };
        // Bracket the root of h(b) = Σ α_i y_i, which is non-increasing in b (F'(b) = −h(b)).
        let h0 = s.eval(self, it, 0.0, tol, should_stop)?;
        let (mut lo, mut hi) = (0.0, 0.0);
        let dir = h0.signum();
        let mut step = 1.0;
        while dir != 0.0 && self.epochs < self.max_epochs && step < 1e15 {
            let t = dir * step;
            let h = s.eval(self, it, t, tol, should_stop)?;
            if h * dir > 0.0 {
                step *= 2.0;
                continue;
            }
            // The root lies between the previous point and t.
            let prev = if step == 1.0 { 0.0 } else { dir * step / 2.0 };
            (lo, hi) = if dir > 0.0 { (prev, t) } else { (t, prev) };
            break;
        }

        let mut lower = s.lower_bound().0;
        for _ in 0..200 {
            let ub = s.best.as_ref().map_or(f64::INFINITY, |b| b.1);
            let (lb, t_star) = s.lower_bound();
            lower = lb;
            if ub - lb <= tol * ub || self.epochs >= self.max_epochs || hi - lo <= 1e-13 * (1.0 + lo.abs()) {
                break;
            }
            let width = hi - lo;
            let t = if t_star > lo + 0.05 * width && t_star < hi - 0.05 * width {
                t_star
            } else {
                0.5 * (lo + hi)
            };
            let h = s.eval(self, it, t, tol, should_stop)?;
            if h >= 0.0 {
                lo = t;
            }
            if h <= 0.0 {
                hi = t;
            }
        }
        let (b, primal, best_it) = s.best.expect("at least one evaluation");
        let converged = s.inner_converged && primal - lower <= tol * primal;
        Ok((b, primal, lower, converged, best_it))
    }
}

/// The bookkeeping of the bias search: the lower-bound lines and the best point so far.
struct BiasSearch {
    /// D'_b(α) = A − h·b for each evaluated α, as (A, h): each a lower bound on F for every b.
    lines: Vec<(f64, f64)>,
    /// (b, P', iterate) with the smallest P' so far.
    best: Option<(f64, f64, Iterate)>,
    inner_converged: bool,
}

impl BiasSearch {
    /// Solves the inner problem at bias `t` and records its bounds; returns h(t) = Σ α_i y_i.
    fn eval(
        &mut self,
        dcd: &mut Dcd,
        it: &mut Iterate,
        t: f64,
        tol: f64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<f64> {
        let r = dcd.solve(it, t, tol / 4.0, should_stop)?;
        self.inner_converged &= r.converged;
        let h: f64 = it.alpha.iter().zip(dcd.problem.y()).map(|(a, y)| a * y).sum();
        self.lines.push((r.dual + h * t, h));
        if self.best.as_ref().is_none_or(|(_, p, _)| r.primal < *p) {
            self.best = Some((t, r.primal, it.clone()));
        }
        Ok(h)
    }

    /// The minimum over b of the lower envelope max_k (A_k − h_k·b), and where it is attained.
    fn lower_bound(&self) -> (f64, f64) {
        lower_envelope_min(&self.lines)
    }
}

/// The minimum over t of max_k (A_k − h_k·t) and where it is attained (the best pair of a line
/// with h > 0 and one with h < 0; a flat line bounds by itself).
fn lower_envelope_min(lines: &[(f64, f64)]) -> (f64, f64) {
    let mut best = (f64::NEG_INFINITY, 0.0);
    for &(a, h) in lines {
        if h == 0.0 && a > best.0 {
            best = (a, 0.0);
        }
    }
    for &(a1, h1) in lines.iter().filter(|l| l.1 > 0.0) {
        for &(a2, h2) in lines.iter().filter(|l| l.1 < 0.0) {
            let t = (a1 - a2) / (h1 - h2);
            let v = a1 - h1 * t;
            if v > best.0 {
                best = (v, t);
            }
        }
    }
    best
}
