//! The defender: L2-regularized binary linear classifiers, and the multi-class SVM of
//! [`multiclass`] (AdaGrad, the paper's) and [`crammer_singer`] (exact).
//!
//! Every trainer minimizes the paper's objective (eq. 2), with sample weights s_i (default 1) and
//! N = Σ s_i:
//!
//!   P(w, b) = (λ/2)(‖w‖² + ρ·b²) + (1/N) Σ_i s_i ℓ(y_i(w·x_i + b)),
//!
//! where ρ = 1 when the bias is regularized (the default, like scikit-learn's `LinearSVC`, the
//! reference's evaluator) and ρ = 0 for the unregularized-bias form of the reference's decoy and
//! min-max code (digest §2.1). The hinge is solved in the dual ([`dcd`]); smooth losses in the
//! primal ([`newton`]). Both stop on the duality gap and report it. [`train_single_pass`] is the
//! approximate defender of paper §6.3: one pass of SGD.

mod crammer_singer;
mod dcd;
mod loss;
mod multiclass;
mod newton;
mod objective;
mod sgd;

pub use crammer_singer::{check_exact_lambda, train_crammer_singer};
pub use loss::Loss;
pub use multiclass::{
    Accumulators, AdagradOptions, MulticlassFit, MulticlassModel, margin_of, train_adagrad, train_multiclass,
};
pub use objective::{ConjugateGradient, Problem};

use crate::data::Dataset;
use crate::error::{Error, Result, check_len};

/// A linear classifier: predicts +1 iff w·x + b > 0 (an exact 0 predicts −1, as scikit-learn).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// Weights, one per feature.
    pub w: Vec<f64>,
    /// Bias.
    pub bias: f64,
}

impl LinearModel {
    /// The zero model in dimension d.
    pub fn zeros(d: usize) -> Self {
        LinearModel {
            w: vec![0.0; d],
            bias: 0.0,
        }
    }

    fn check_dim(&self, data: &Dataset) -> Result<()> {
        check_len(
            "number of features of the data (model dimension)",
            self.w.len(),
            data.d(),
        )
    }

    /// w·x_i + b for every row.
    pub fn decision(&self, data: &Dataset) -> Result<Vec<f64>> {
        self.check_dim(data)?;
        Ok((0..data.n()).map(|i| data.row_dot(i, &self.w) + self.bias).collect())
    }

    /// Predicted labels ±1.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<i32>> {
        Ok(self
            .decision(data)?
            .into_iter()
            .map(|f| if f > 0.0 { 1 } else { -1 })
            .collect())
    }

    /// The 0-1 error: the fraction of rows whose prediction differs from the label (0 for no rows).
    pub fn error(&self, data: &Dataset) -> Result<f64> {
        data.require_binary("data")?;
        Ok(error_rate(&self.predict(data)?, data.labels()))
    }

    /// The mean of ℓ(y_i(w·x_i + b)) over the rows (0 for no rows).
    pub fn mean_loss(&self, data: &Dataset, loss: Loss) -> Result<f64> {
        data.require_binary("data")?;
        let f = self.decision(data)?;
        let total: f64 = f
            .iter()
            .zip(data.labels())
            .map(|(f, &y)| loss.value(y as f64 * f))
            .sum();
        Ok(if data.n() == 0 { 0.0 } else { total / data.n() as f64 })
    }
}

/// Options of the solvers (the problem itself is a [`Problem`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SolverOptions {
    /// Stop when the duality gap is at most `tol` × the objective; defaults to `1e-6`.
    pub tol: f64,
    /// At most this many passes over the data (the hinge and Crammer–Singer dual solvers: n
    /// coordinate visits to a pass, so that an epoch over a shrunk active set counts for the points
    /// it visits) or Newton steps (smooth losses); defaults to `10_000`.
    pub max_iter: usize,
    /// Seed of the coordinate order of dual coordinate descent; defaults to `0`.
    pub seed: u64,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            tol: 1e-6,
            max_iter: 10_000,
            seed: 0,
        }
    }
}

impl SolverOptions {
    /// The coordinate-visit budget of a dual solver on `n` points: `max_iter` passes.
    fn visit_budget(&self, n: usize) -> usize {
        self.max_iter.saturating_mul(n.max(1))
    }

    fn validate(&self) -> Result<()> {
        if !(self.tol > 0.0 && self.tol < 1.0) {
            return Err(Error::option("tol", self.tol, "must lie in (0, 1)"));
        }
        if self.max_iter == 0 {
            return Err(Error::option("maxIter", self.max_iter, "must be at least 1"));
        }
        Ok(())
    }
}

/// A trained model and how the training ended.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The model.
    pub model: LinearModel,
    /// P(w, b) at the returned model.
    pub objective: f64,
    /// An upper bound on P(w, b) − min P (for smooth losses with an unregularized bias: at the
    /// returned bias).
    pub duality_gap: f64,
    /// Epochs (hinge; more than `max_iter` when shrinking left few points active) or Newton steps
    /// (smooth losses) run.
    pub iterations: usize,
    /// Whether the gap reached the tolerance within the `max_iter` budget.
    pub converged: bool,
    /// Per point, −ℓ'(m_i) ∈ [0, 1] at the optimum (the dual variable over its bound): 0 for points
    /// beyond the margin, 1 for points inside it. Pass it back to warm-start the hinge solver.
    pub dual: Vec<f64>,
}

/// A starting point: a previous fit on the same points (the hinge solver needs its `dual`; smooth
/// losses start from its model).
#[derive(Debug, Clone, Copy)]
pub struct WarmStart<'a> {
    /// The previous model.
    pub model: &'a LinearModel,
    /// The previous dual variables, one per point of the new problem.
    pub dual: Option<&'a [f64]>,
}

/// One pass of SGD over the points in a seeded order ([`sgd`]; paper §6.3). Its `duality_gap` is
/// NaN (not computed) and `dual` is empty.
pub fn train_single_pass(problem: &Problem, seed: u64) -> Fit {
    sgd::train(problem, seed)
}

/// Trains the defender on `problem`. `should_stop` is polled once per epoch or step; when it
/// returns true the training ends with [`Error::Aborted`].
pub fn train(
    problem: &Problem,
    options: &SolverOptions,
    warm: Option<WarmStart>,
    should_stop: &dyn Fn() -> bool,
) -> Result<Fit> {
    options.validate()?;
    if let Some(ws) = warm {
        ws.model.check_dim(problem.data())?;
    }
    let fit = if problem.loss().is_smooth() {
        newton::train(problem, options, warm.map(|w| w.model), should_stop)?
    } else {
        let dual = match warm {
            None => None,
            Some(WarmStart { dual: Some(dual), .. }) => Some(dual),
            Some(_) => {
                return Err(Error::option(
                    "warmStart",
                    "(model without dual)",
                    "the hinge solver warm-starts from the dual variables of a previous hinge fit",
                ));
            }
        };
        dcd::train(problem, options, dual, should_stop)?
    };
    // Data of extreme scale can overflow the loss: a solver failure, not a converged model.
    if !(fit.objective.is_finite() && fit.model.w.iter().all(|v| v.is_finite())) {
        return Err(Error::Solver {
            solver: if problem.loss().is_smooth() { "newton" } else { "dcd" },
            status: format!(
                "the objective is {} (data of extreme scale overflow the loss: rescale them)",
                fit.objective
            ),
            iterations: fit.iterations as u32,
        });
    }
    Ok(fit)
}

/// The fraction of predictions that differ from their labels (0 for none).
fn error_rate(predicted: &[i32], labels: &[i32]) -> f64 {
    let wrong = predicted.iter().zip(labels).filter(|(p, y)| p != y).count();
    if labels.is_empty() {
        0.0
    } else {
        wrong as f64 / labels.len() as f64
    }
}
