//! Data-sanitization defenses (paper §2.2): each scores every training point, and the sanitizer
//! drops the highest-scoring fraction of each class before the defender retrains. The scores follow
//! the authors' code (digest §2.3), with the paper's variants as options.

mod centroid;
mod evaluate;
mod knn;
mod sanitize;
mod svd;

pub use centroid::{Centroids, l2_scores, slab_scores};
pub use evaluate::{DefenseOutcome, Evaluation, EvaluationOptions, evaluate, evaluate_until};
pub use knn::{KnnRule, knn_scores};
pub use sanitize::{Removal, sanitize};
pub use svd::{SvdRule, svd_scores};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{LinearModel, MulticlassModel};

/// One of the paper's five defenses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Defense {
    /// Distance to the class centroid.
    L2,
    /// Distance to the class centroid along the line between the centroids.
    Slab,
    /// The defender's loss at the point.
    Loss,
    /// Distance to a low-rank subspace of the data.
    Svd,
    /// Distance to the nearest neighbours.
    Knn,
}

impl Defense {
    /// All five, in the paper's order.
    pub const ALL: [Defense; 5] = [Defense::L2, Defense::Slab, Defense::Loss, Defense::Svd, Defense::Knn];

    /// Parses `l2`, `slab`, `loss`, `svd` or `knn`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "l2" => Ok(Defense::L2),
            "slab" => Ok(Defense::Slab),
            "loss" => Ok(Defense::Loss),
            "svd" => Ok(Defense::Svd),
            "knn" => Ok(Defense::Knn),
            _ => Err(Error::option(
                "defenses",
                name,
                "each must be one of l2, slab, loss, svd, knn",
            )),
        }
    }

    /// The name `parse` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Defense::L2 => "l2",
            Defense::Slab => "slab",
            Defense::Loss => "loss",
            Defense::Svd => "svd",
            Defense::Knn => "knn",
        }
    }
}

/// What the loss defense scores, from the margin m = y(w·x + b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossScore {
    /// 1 − m, not clipped: well-fit points are still ranked by margin (the reference).
    Margin,
    /// max(0, 1 − m), the hinge loss.
    Hinge,
    /// log(1 + e^−m), the logistic loss.
    Logistic,
}

/// How the defenses score (everything but what to remove).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOptions {
    /// The loss defense's score; defaults to [`LossScore::Margin`].
    pub loss: LossScore,
    /// k of the k-NN defense; defaults to `5`.
    pub knn_k: usize,
    /// The k-NN score; defaults to [`KnnRule::Sum`].
    pub knn_rule: KnnRule,
    /// The SVD defense's rank rule; defaults to [`SvdRule::Reference`].
    pub svd_rule: SvdRule,
    /// Seed of the randomized SVD; defaults to `0`.
    pub seed: u64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            loss: LossScore::Margin,
            knn_k: 5,
            knn_rule: KnnRule::Sum,
            svd_rule: SvdRule::Reference,
            seed: 0,
        }
    }
}

/// A trained defender: binary, or multi-class for data with class indices 0..k−1.
#[derive(Debug, Clone, Copy)]
pub enum Defender<'a> {
    /// A binary linear classifier.
    Binary(&'a LinearModel),
    /// A multi-class linear classifier.
    Multiclass(&'a MulticlassModel),
}

/// What a defense is fitted on: the data it scores (`data`, clean + poison) or the clean data alone
/// (`fit_on`, the "oracle" variant); `model` is the defender trained on that same set (loss defense).
pub struct ScoreInput<'a> {
    /// The points to score (clean + poison).
    pub data: &'a Dataset,
    /// The points the defense is fitted on: `data` itself (the paper's defender) or the clean data.
    pub fit_on: &'a Dataset,
    /// The defender trained on `fit_on` (used by the loss defense).
    pub model: Defender<'a>,
}

/// The scores of `defense` for every row of `input.data`, and whether they are converged (only
/// the SVD defense's iterative eigensolver can stop short of its tolerance). `should_stop` is
/// polled during the SVD defense's iterations.
pub fn scores(
    defense: Defense,
    input: &ScoreInput,
    options: &ScoreOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<(Vec<f64>, bool)> {
    let ScoreInput { data, fit_on, model } = *input;
    let exact = |s: Result<Vec<f64>>| s.map(|s| (s, true));
    match defense {
        Defense::L2 => exact(l2_scores(data, &Centroids::fit(fit_on)?)),
        Defense::Slab => exact(slab_scores(data, &Centroids::fit(fit_on)?)),
        Defense::Loss => exact(loss_scores(data, model, options.loss)),
        Defense::Svd => svd_scores(data, fit_on, options.svd_rule, options.seed, should_stop),
        Defense::Knn => exact(knn_scores(data, fit_on, options.knn_k, options.knn_rule)),
    }
}

/// The loss defense's score of every row under `model`, from its margin m: y(w·x + b) for a binary
/// model, s_y − max_{j≠y} s_j for a multi-class one (Crammer–Singer).
pub fn loss_scores(data: &Dataset, model: Defender, kind: LossScore) -> Result<Vec<f64>> {
    let margins: Vec<f64> = match model {
        Defender::Binary(model) => model
            .decision(data)?
            .iter()
            .zip(data.labels())
            .map(|(f, &y)| y as f64 * f)
            .collect(),
        Defender::Multiclass(model) => model.margins(data)?,
    };
    Ok(margins
        .into_iter()
        .map(|m| match kind {
            LossScore::Margin => 1.0 - m,
            LossScore::Hinge => (1.0 - m).max(0.0),
            LossScore::Logistic => crate::model::Loss::Logistic.value(m),
        })
        .collect())
}
