//! Decoy parameters for the KKT and min-max attacks (paper §4.2, Algorithm 3; digest §4.1, the
//! MATLAB `generateTheta.m` and `pruneTheta.m`). From the clean SVM, for each quantile q take the
//! dev points whose true-label margin lies below the q-quantile of all dev margins (both classes
//! pooled, MATLAB's `quantile`), flip their labels, add them r times and retrain the SVM with an
//! unregularized bias; record the clean training loss (mean hinge) and the test error. Candidates
//! come sorted by test error, highest first (ties: the later candidate first, as MATLAB's stable
//! sort followed by a flip), and are optionally Pareto-pruned: a candidate is kept only if its
//! clean loss is below that of every candidate kept before it. Each candidate is one SVM fit; they
//! run in parallel and each ends when its duality gap meets the solver's tolerance.

use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::feasible::quantile_matlab;
use crate::model::{LinearModel, Loss, Problem, SolverOptions, train};

/// Which points the attacker knows as its dev set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowledge {
    /// The test set (paper §5).
    Test,
    /// The clean training set (paper §6.1); test errors still come from the test set.
    Train,
}

/// Options of [`generate_decoys`].
#[derive(Debug, Clone)]
pub struct DecoyOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Quantiles q ∈ (0, 1] of the dev margins.
    pub quantiles: Vec<f64>,
    /// Copies r ≥ 1 of the flipped points.
    pub repeats: Vec<usize>,
    /// The attacker's dev set.
    pub knowledge: Knowledge,
    /// Keep only the Pareto front (higher error, lower clean loss).
    pub prune: bool,
    /// The SVM solver's options.
    pub solver: SolverOptions,
}

/// The reference's grids (q, r) per data set (`generateThetaFnc.m`); `None` for an unknown name.
pub fn reference_grid(dataset: &str) -> Option<(Vec<f64>, Vec<usize>)> {
    match dataset {
        "enron" => Some((
            (1..=11).map(|k| k as f64 * 0.05).collect(),
            vec![1, 2, 3, 5, 8, 12, 18, 25, 33],
        )),
        "imdb" => Some((vec![0.4, 0.5, 0.6], vec![4, 5])),
        "mnist17" | "mnist" | "dogfish" => Some((
            vec![0.05, 0.07, 0.10, 0.12, 0.15, 0.18, 0.20, 0.22, 0.25],
            vec![1, 2, 3, 5, 8, 12, 18, 25],
        )),
        _ => None,
    }
}

/// One decoy candidate.
#[derive(Debug, Clone)]
pub struct Decoy {
    /// The decoy parameters θ, b.
    pub model: LinearModel,
    /// Its quantile q.
    pub quantile: f64,
    /// Its copies r.
    pub repeats: usize,
    /// How many dev points were flipped.
    pub flipped: usize,
    /// Mean hinge loss on the clean training set.
    pub train_loss: f64,
    /// Error on the test set.
    pub test_error: f64,
}

fn svm(data: &Dataset, lambda: f64, weights: Option<&[f64]>, solver: &SolverOptions) -> Result<LinearModel> {
    let problem = Problem::new(data, lambda, Loss::Hinge, false, weights)?;
    Ok(train(&problem, solver, None, &|| false)?.model)
}

/// The decoy candidates for binary `train`/`test`, sorted by test error (highest first) and
/// pruned if asked. `should_stop` is polled between candidates.
pub fn generate_decoys(
    train_set: &Dataset,
    test: &Dataset,
    options: &DecoyOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Decoy>> {
    for &q in &options.quantiles {
        if !(q > 0.0 && q <= 1.0) {
            return Err(Error::option("quantiles", q, "each must lie in (0, 1]"));
        }
    }
    if let Some(&r) = options.repeats.iter().find(|&&r| r == 0) {
        return Err(Error::option("repeats", r, "each must be at least 1"));
    }
    crate::error::check_len("test: number of features (training data's)", train_set.d(), test.d())?;
    let clean = svm(train_set, options.lambda, None, &options.solver)?;
    let dev = match options.knowledge {
        Knowledge::Test => test,
        Knowledge::Train => train_set,
    };
    let margins: Vec<f64> = clean
        .decision(dev)?
        .iter()
        .zip(dev.labels())
        .map(|(f, &y)| y as f64 * f)
        .collect();
    let grid: Vec<(f64, usize)> = options
        .quantiles
        .iter()
        .flat_map(|&q| options.repeats.iter().map(move |&r| (q, r)))
        .collect();
    let mut decoys = grid
        .par_iter()
        .map(|&(q, r)| -> Result<Decoy> {
            if should_stop() {
                return Err(Error::Aborted);
            }
            let threshold = quantile_matlab(&margins, q)?;
            let targets: Vec<usize> = (0..dev.n()).filter(|&i| margins[i] < threshold).collect();
            let flipped = dev.slice(&targets)?;
            let flipped = flipped.with_labels(flipped.labels().iter().map(|y| -y).collect())?;
            let data = train_set.concat(&flipped)?;
            // r copies as weight r: the same objective with N = n + r·n_targets.
            let weights: Vec<f64> = (0..data.n())
                .map(|i| if i < train_set.n() { 1.0 } else { r as f64 })
                .collect();
            let model = svm(&data, options.lambda, Some(&weights), &options.solver)?;
            Ok(Decoy {
                train_loss: model.mean_loss(train_set, Loss::Hinge)?,
                test_error: model.error(test)?,
                model,
                quantile: q,
                repeats: r,
                flipped: targets.len(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Highest test error first; among ties the later candidate first.
    decoys.reverse();
    decoys.sort_by(|a, b| b.test_error.total_cmp(&a.test_error));
    if options.prune {
        let mut best_loss = f64::INFINITY;
        decoys.retain(|d| {
            let keep = d.train_loss < best_loss;
            if keep {
                best_loss = d.train_loss;
            }
            keep
        });
    }
    Ok(decoys)
}
