//! The exact multi-class defender: the Crammer–Singer SVM trained to a duality-gap tolerance by the
//! sequential dual method (Keerthi, Sundararajan, Chang, Hsieh & Lin, KDD 2008; liblinear's
//! `Solver_MCSVM_CS`), next to the paper's AdaGrad trainer of [`super::multiclass`].
//!
//! It minimizes P(W, b) = (λ/2)(‖W‖² + ‖b‖²) + (1/N) Σ_i ℓ_i, ℓ_i the multi-class hinge
//! max(0, 1 + max_{m≠y_i} s_m(x_i) − s_{y_i}(x_i)). The biases are a last feature of value 1,
//! regularized like the weights (liblinear; scikit-learn's `LinearSVC(multi_class='crammer_singer')`).
//! In liblinear's scale P = λ·P' with P'(W̃) = ½‖W̃‖² + C Σ_i ℓ_i, C = 1/(λN). The dual has one
//! variable per point and class, α_i^m ≤ C·[m = y_i] with Σ_m α_i^m = 0, w̃_m = Σ_i α_i^m x̃_i, and
//! D'(α) = Σ_i α_i^{y_i} − ½‖W̃‖².
//!
//! Each epoch visits the points in a seeded random order and solves each point's k-variable
//! subproblem exactly (a sort and a threshold), with liblinear's shrinking of variables that sit at
//! their bounds. Once a pass over every variable leaves a violation below the current tolerance
//! (0.1 at first), the duality gap P' − D' is computed: it stops when the gap ≤ tol·P', and
//! otherwise tightens the violation tolerance tenfold; or once the epochs have visited `max_iter` × n
//! points in all (then `converged` is false), as an epoch over few active points is cheap.

use rand::seq::SliceRandom;

use super::SolverOptions;
use super::multiclass::{MulticlassFit, MulticlassModel};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::sq_norm;
use crate::rng::seeded;

/// The exact solver's λ must be positive: P has no minimizer at λ = 0 on separable data.
pub fn check_exact_lambda(lambda: f64) -> Result<()> {
    if lambda > 0.0 && lambda.is_finite() {
        return Ok(());
    }
    Err(Error::option(
        "lambda",
        lambda,
        "must be a positive number for the exact multi-class solver (λ = 0 is for AdaGrad)",
    ))
}

/// Trains the Crammer–Singer SVM on `data` (labels 0..k−1) to the optimum of P at `lambda` > 0.
/// `should_stop` is polled once per epoch.
pub fn train_crammer_singer(
    data: &Dataset,
    k: usize,
    lambda: f64,
    options: &SolverOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<MulticlassFit> {
    options.validate()?;
    check_exact_lambda(lambda)?;
    let mut model = MulticlassModel::untrained(data, k)?;
    let n = data.n();
    let c = 1.0 / (lambda * n as f64);
    // A_i = ‖x̃_i‖², the subproblem's curvature.
    let curvature: Vec<f64> = (0..n).map(|i| sq_norm(data.row(i).1) + 1.0).collect();
    let labels: Vec<usize> = data.labels().iter().map(|&y| y as usize).collect();
    let bound = |m: usize, y: usize| if m == y { c } else { 0.0 };
    let mut alpha = vec![0.0; n * k];
    // Shrinking (liblinear): the first free[i] entries of point i's class list are its free
    // classes. A class at its bound whose gradient is below every free one's is set aside; a point
    // with at most one free class leaves the epoch's set (its first n_active entries of `order`).
    let mut classes: Vec<usize> = (0..n).flat_map(|_| 0..k).collect();
    let mut free = vec![k; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut n_active = n;
    // The largest violation max G − min G a pass may leave; tightened tenfold until the duality
    // gap meets `tol`. Shrunk variables come back once the violation is below `unshrink_at`.
    let (mut violation_tol, mut unshrink_at, mut full_pass) = (0.1, 1.0, true);
    let (mut gradient, mut b, mut next) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    let mut rng = seeded(options.seed);
    let (mut epochs, mut visits, max_visits) = (0, 0, options.visit_budget(n));
    loop {
        if should_stop() {
            return Err(Error::Aborted);
        }
        epochs += 1;
        visits += n_active;
        order[..n_active].shuffle(&mut rng);
        let mut violation = f64::NEG_INFINITY;
        let mut s = 0;
        while s < n_active {
            let i = order[s];
            let (y, a) = (labels[i], curvature[i]);
            let alpha_i = &mut alpha[i * k..(i + 1) * k];
            let class_i = &mut classes[i * k..(i + 1) * k];
            let mut r = free[i];
            // G_m = w̃_m·x̃_i + e_m, e_m = [m ≠ y], for the free classes.
            for (g, &m) in gradient.iter_mut().zip(&class_i[..r]) {
                *g = data.row_dot(i, &model.w[m]) + model.bias[m] + if m == y { 0.0 } else { 1.0 };
            }
            // Optimal iff max_m G_m ≤ min over the m below their bound of G_m.
            let max_g = gradient[..r].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min_g = (0..r)
                .filter(|&p| alpha_i[class_i[p]] < bound(class_i[p], y))
                .map(|p| gradient[p])
                .fold(f64::INFINITY, f64::min);
            let mut p = 0;
            while p < r {
                let m = class_i[p];
                if alpha_i[m] == bound(m, y) && gradient[p] < min_g {
                    r -= 1;
                    class_i.swap(p, r);
                    gradient.swap(p, r);
                } else {
                    p += 1;
                }
            }
            free[i] = r;
            if r <= 1 {
                n_active -= 1;
                order.swap(s, n_active);
                continue;
            }
            s += 1;
            if max_g - min_g <= 1e-12 {
                continue;
            }
            violation = violation.max(max_g - min_g);
            for p in 0..r {
                b[p] = gradient[p] - a * alpha_i[class_i[p]];
            }
            let y_at = class_i[..r].iter().position(|&m| m == y);
            solve_subproblem(&b[..r], a, y_at, c, &mut next[..r]);
            for (&m, &value) in class_i[..r].iter().zip(&next[..r]) {
                let delta = value - alpha_i[m];
                if delta != 0.0 {
                    alpha_i[m] = value;
                    data.row_axpy(i, delta, &mut model.w[m]);
                    model.bias[m] += delta;
                }
            }
        }
        let spent = visits >= max_visits;
        let mut certify = spent;
        if violation < unshrink_at {
            certify |= full_pass && violation < violation_tol;
            n_active = n;
            free.iter_mut().for_each(|f| *f = k);
            unshrink_at = (unshrink_at / 2.0).max(violation_tol);
            full_pass = true;
        } else {
            full_pass = false;
        }
        if certify {
            let (primal, dual) = primal_dual(data, &model, &labels, &alpha, c)?;
            let converged = primal - dual <= options.tol * primal;
            if converged || spent {
                return Ok(MulticlassFit {
                    model,
                    objective: lambda * primal,
                    duality_gap: lambda * (primal - dual).max(0.0),
                    iterations: epochs,
                    converged,
                });
            }
            violation_tol /= 10.0;
            unshrink_at = unshrink_at.min(violation_tol);
        }
    }
}

/// The exact minimizer `next` over a point's free variables of ½A‖α‖² + Σ_p B_p α_p, B_p = G_p − Aα_p,
/// subject to Σ_p α_p = −C·[y is not free] (the set-aside variables sit at their bounds) and
/// α_p ≤ C·[p = y_at] (Keerthi et al. 2008, Algorithm 2; liblinear's `solve_sub_problem`):
/// α_p = min(bound_p, (β − B_p)/A) with β found by a descending sort.
fn solve_subproblem(b: &[f64], a: f64, y_at: Option<usize>, c: f64, next: &mut [f64]) {
    let mut d = b.to_vec();
    if let Some(p) = y_at {
        d[p] += a * c;
    }
    d.sort_by(|p, q| q.total_cmp(p));
    let mut beta = d[0] - a * c;
    let mut r = 1;
    while r < d.len() && beta < r as f64 * d[r] {
        beta += d[r];
        r += 1;
    }
    beta /= r as f64;
    for (p, out) in next.iter_mut().enumerate() {
        let bound = if Some(p) == y_at { c } else { 0.0 };
        *out = bound.min((beta - b[p]) / a);
    }
}

/// P'(W̃) = ½‖W̃‖² + C Σ_i ℓ_i and D'(α) = Σ_i α_i^{y_i} − ½‖W̃‖².
fn primal_dual(data: &Dataset, model: &MulticlassModel, labels: &[usize], alpha: &[f64], c: f64) -> Result<(f64, f64)> {
    let k = model.k();
    let half_sq = 0.5 * (model.w.iter().map(|w| sq_norm(w)).sum::<f64>() + sq_norm(&model.bias));
    let hinge = data.n() as f64 * model.mean_hinge(data)?;
    let alpha_y: f64 = labels.iter().enumerate().map(|(i, &y)| alpha[i * k + y]).sum();
    Ok((half_sq + c * hinge, alpha_y - half_sq))
}
