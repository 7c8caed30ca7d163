//! Newton-CG with a backtracking line search for smooth losses (logistic, smoothed hinge): the
//! method of scipy's `fmin_ncg`, which the reference uses for its smooth-hinge model (digest §6).
//!
//! Each step solves ∇²P·p = −∇P by conjugate gradients on exact Hessian-vector products, truncated
//! at a relative residual min(0.5, √(‖∇P‖/‖∇P₀‖)) (Nocedal & Wright, Alg. 7.1), then halves the step
//! until the Armijo condition holds. It stops when the duality gap P(θ) − D(−ℓ'(m)) ≤ tol·P (with
//! an unregularized bias, the gap in w at the current b plus the Newton estimate g_b²/(2·∂²P/∂b²)
//! of the gain in b), after `max_iter` steps, or when no step decreases P in f64 (not converged).

use super::{Fit, LinearModel, Problem, SolverOptions};
use crate::error::{Error, Result};
use crate::linalg::dense_dot;

pub(super) fn train(
    problem: &Problem,
    options: &SolverOptions,
    warm: Option<&LinearModel>,
    should_stop: &dyn Fn() -> bool,
) -> Result<Fit> {
    let data = problem.data();
    let (n, d) = (data.n(), data.d());
    let loss = problem.loss();
    let y = problem.y();
    let mut model = warm.cloned().unwrap_or_else(|| LinearModel::zeros(d));
    let mut margins = problem.margins(&model);
    let mut g0_norm = None;
    let mut iterations = 0;
    let mut stalled = false;
    loop {
        let objective = problem.value_at(&model, &margins);
        let dual_vars: Vec<f64> = margins.iter().map(|&m| -loss.derivative(m)).collect();
        let (g, gb) = problem.gradient_at(&model, &margins);
        let curvature = problem.curvature(&margins);
        // The dual certifies the gap in w at the current b; with an unregularized bias, add the
        // second-order estimate of what moving b alone would gain, g_b²/(2·∂²P/∂b²).
        let mut gap = (objective - problem.dual_value(&dual_vars, model.bias)).max(0.0);
        if !problem.regularize_bias() {
            let hbb: f64 = curvature.iter().sum();
            gap += if hbb > 0.0 {
                gb * gb / (2.0 * hbb)
            } else {
                f64::INFINITY
            };
        }
        let g_norm = (dense_dot(&g, &g) + gb * gb).sqrt();
        let g0 = *g0_norm.get_or_insert(g_norm.max(f64::MIN_POSITIVE));
        let converged = gap <= options.tol * objective;
        if converged || stalled || iterations >= options.max_iter || g_norm == 0.0 {
            return Ok(Fit {
                model,
                objective,
                duality_gap: gap,
                iterations,
                converged: converged || g_norm == 0.0,
                dual: dual_vars,
            });
        }
        if should_stop() {
            return Err(Error::Aborted);
        }
        iterations += 1;

        // Truncated CG on H p = −g.
        let forcing = (g_norm / g0).sqrt().min(0.5);
        let minus_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let cg = problem.conjugate_gradient(&curvature, &minus_g, -gb, forcing * g_norm, (d + 1).min(500));
        // No CG progress (e.g. zero curvature along g): fall back to steepest descent.
        let (p, pb) = if cg.iterations == 0 {
            (minus_g, -gb)
        } else {
            (cg.u, cg.ub)
        };

        // Backtracking on the exact objective; margins move linearly along p.
        let slope = dense_dot(&g, &p) + gb * pb;
        if slope >= 0.0 {
            // No descent direction left at f64 precision: report the iterate as not converged.
            stalled = true;
            continue;
        }
        let dm: Vec<f64> = (0..n).map(|i| y[i] * (data.row_dot(i, &p) + pb)).collect();
        let mut step = 1.0;
        loop {
            let trial = LinearModel {
                w: model.w.iter().zip(&p).map(|(w, p)| w + step * p).collect(),
                bias: model.bias + step * pb,
            };
            let trial_margins: Vec<f64> = margins.iter().zip(&dm).map(|(m, d)| m + step * d).collect();
            let value = problem.value_at(&trial, &trial_margins);
            let accepted = value <= objective + 1e-4 * step * slope && value < objective;
            if accepted || step < 1e-10 {
                stalled = !accepted;
                model = trial;
                margins = trial_margins;
                break;
            }
            step *= 0.5;
        }
    }
}
