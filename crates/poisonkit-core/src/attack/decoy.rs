//! Decoy parameters for the KKT and min-max attacks (paper §4.2, Algorithm 3; digest §4.1, the
//! MATLAB `generateTheta.m` and `pruneTheta.m`). From the clean SVM, for each quantile q take the
//! dev points whose true-label margin lies below the q-quantile of all dev margins (both classes
//! pooled, MATLAB's `quantile`), flip their labels, add them r times and retrain the SVM with an
//! unregularized bias; record the clean training loss (mean hinge) and the test error. Candidates
//! come sorted by test error, highest first (ties: the later candidate first, as MATLAB's stable
//! sort followed by a flip), and are optionally Pareto-pruned: a candidate is kept only if its
//! clean loss is below that of every candidate kept before it. Each candidate is one SVM fit; they
//! run in parallel and each ends when its duality gap meets the solver's tolerance.
//!
//! For multi-class data (paper §5.7) the margin is s_y − max_{j≠y} s_j under the clean
//! Crammer–Singer model, each target point takes the label of its most offending other class j,
//! its r copies are rows of the data, and the decoys are that model retrained by AdaGrad (the
//! reference's MNIST decoys are AdaGrad-trained); losses are the multi-class hinge.

use rayon::prelude::*;

use crate::data::Classes;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::feasible::quantile_matlab;
use crate::model::{
    AdagradOptions, LinearModel, Loss, MulticlassModel, Problem, SolverOptions, train, train_multiclass,
};

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
    /// The multi-class model's training.
    pub multiclass: AdagradOptions,
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

/// The reference's min-max burn-in for data set `dataset` at `eps`, as a multiple of round(εn)
/// (`generateAttackFnc.m`, digest §5.1): MNIST max(0.33, 0.015/ε − 1), MNIST-1-7 max(0.33,
/// 0.02/ε − 1), IMDB max(1, 0.02/ε − 1), otherwise Enron's max(1, 0.10/ε − 1).
pub fn reference_burn(dataset: &str, eps: f64) -> f64 {
    match dataset {
        "mnist" => (0.015 / eps - 1.0).max(0.33),
        "mnist17" => (0.02 / eps - 1.0).max(0.33),
        "imdb" => (0.02 / eps - 1.0).max(1.0),
        _ => (0.10 / eps - 1.0).max(1.0),
    }
}

/// One decoy candidate, binary or (`Decoy<MulticlassModel>`) multi-class.
#[derive(Debug, Clone)]
pub struct Decoy<M = LinearModel> {
    /// The decoy parameters θ, b.
    pub model: M,
    /// Its quantile q.
    pub quantile: f64,
    /// Its copies r.
    pub repeats: usize,
    /// How many dev points were flipped.
    pub flipped: usize,
    /// Mean (multi-class) hinge loss on the clean training set.
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
    train_set.require_both_classes("training data")?;
    let clean = svm(train_set, options.lambda, None, &options.solver)?;
    let margins = |dev: &Dataset| -> Result<Vec<f64>> {
        Ok(clean
            .decision(dev)?
            .iter()
            .zip(dev.labels())
            .map(|(f, &y)| y as f64 * f)
            .collect())
    };
    let flip = |dev: &Dataset, i: usize| -dev.labels()[i];
    let fit = |flipped: &Dataset, r: usize| -> Result<(LinearModel, f64, f64)> {
        let data = train_set.concat(flipped)?;
        // r copies as weight r: the same objective with N = n + r·n_targets.
        let weights: Vec<f64> = (0..data.n())
            .map(|i| if i < train_set.n() { 1.0 } else { r as f64 })
            .collect();
        let model = svm(&data, options.lambda, Some(&weights), &options.solver)?;
        let (loss, error) = (model.mean_loss(train_set, Loss::Hinge)?, model.error(test)?);
        Ok((model, loss, error))
    };
    sweep(train_set, test, options, &margins, &flip, &fit, should_stop)
}

/// The decoy candidates for multi-class `train`/`test` (class indices 0..k−1).
pub fn generate_multiclass_decoys(
    train_set: &Dataset,
    test: &Dataset,
    options: &DecoyOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Decoy<MulticlassModel>>> {
    let Classes::Multiclass(k) = train_set.classes() else {
        return Err(Error::option(
            "classes",
            "±1",
            "multi-class decoys need class indices 0..k−1",
        ));
    };
    let attacker = options.multiclass.for_attacker(train_set.n());
    let clean = train_multiclass(train_set, k, &attacker, should_stop)?;
    let margins = |dev: &Dataset| clean.margins(dev);
    let flip = |dev: &Dataset, i: usize| clean.margin(dev, i).1 as i32;
    let fit = |flipped: &Dataset, r: usize| -> Result<(MulticlassModel, f64, f64)> {
        let copies: Vec<usize> = (0..r).flat_map(|_| 0..flipped.n()).collect();
        let data = train_set.concat(&flipped.slice(&copies)?)?;
        let model = train_multiclass(&data, k, &attacker, should_stop)?;
        let losses = model.margins(train_set)?;
        let loss = losses.iter().map(|m| (1.0 - m).max(0.0)).sum::<f64>() / train_set.n() as f64;
        let error = model.error(test)?;
        Ok((model, loss, error))
    };
    sweep(train_set, test, options, &margins, &flip, &fit, should_stop)
}

/// Fits a decoy on the clean data plus the flipped points r times: (model, clean loss, test error).
type FitDecoy<'a, M> = dyn Fn(&Dataset, usize) -> Result<(M, f64, f64)> + Sync + 'a;

/// The (q, r) grid: flip the dev points below the q-quantile of the margins to `flip`'s label,
/// fit with r copies; then sort and prune.
fn sweep<M: Send>(
    train_set: &Dataset,
    test: &Dataset,
    options: &DecoyOptions,
    margins: &(dyn Fn(&Dataset) -> Result<Vec<f64>> + Sync),
    flip: &(dyn Fn(&Dataset, usize) -> i32 + Sync),
    fit: &FitDecoy<'_, M>,
    should_stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Decoy<M>>> {
    for &q in &options.quantiles {
        if !(q > 0.0 && q <= 1.0) {
            return Err(Error::option("quantiles", q, "each must lie in (0, 1]"));
        }
    }
    if let Some(&r) = options.repeats.iter().find(|&&r| r == 0) {
        return Err(Error::option("repeats", r, "each must be at least 1"));
    }
    crate::error::check_len("test: number of features (training data's)", train_set.d(), test.d())?;
    let dev = match options.knowledge {
        Knowledge::Test => test,
        Knowledge::Train => train_set,
    };
    let margins = margins(dev)?;
    let grid: Vec<(f64, usize)> = options
        .quantiles
        .iter()
        .flat_map(|&q| options.repeats.iter().map(move |&r| (q, r)))
        .collect();
    let mut decoys = grid
        .par_iter()
        .map(|&(q, r)| -> Result<Decoy<M>> {
            if should_stop() {
                return Err(Error::Aborted);
            }
            let threshold = quantile_matlab(&margins, q)?;
            let targets: Vec<usize> = (0..dev.n()).filter(|&i| margins[i] < threshold).collect();
            let flipped = dev.slice(&targets)?;
            let flipped = flipped.with_labels(targets.iter().map(|&i| flip(dev, i)).collect())?;
            let (model, train_loss, test_error) = fit(&flipped, r)?;
            Ok(Decoy {
                model,
                train_loss,
                test_error,
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
