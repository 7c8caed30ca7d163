//! Label-flip baselines (paper Appendix D; digest §7.1): the poison is real points with their
//! labels flipped, drawn from a pool, the attacker's dev points (the test set, Appendix D's
//! D_pool = D_test, or the clean training set when the test set is unknown), kept only if the
//! flipped point lies in its new class's feasible set (the paper's first adaptation). The reference's
//! alfa fits that set, a sphere only (the paper scores alfa against the L2 defense), on the test set
//! itself (digest §7.1); the Node binding defaults to the same. The random baseline draws round(εn)
//! pool points uniformly with replacement (seeded); [`super::alfa_attack`] picks them by alfa.

use std::time::Instant;

use rand::RngExt;

use super::sweep::{AttackResult, Candidate, Progress, Sweep, poison_count};
use crate::data::Dataset;
use crate::defense::EvaluationOptions;
use crate::error::{Error, Result};
use crate::feasible::FeasibleSet;
use crate::rng::seeded;

/// Options of [`label_flip_attack`].
#[derive(Debug, Clone)]
pub struct LabelFlipOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Poison fraction ε: round(εn) points.
    pub eps: f64,
    /// Seed of the draw.
    pub seed: u64,
    /// How the poison is scored (all five defenses by default).
    pub evaluation: EvaluationOptions,
}

impl LabelFlipOptions {
    /// Defaults at `lambda` and `eps`.
    pub fn new(lambda: f64, eps: f64) -> Self {
        LabelFlipOptions {
            lambda,
            eps,
            seed: 0,
            evaluation: EvaluationOptions::new(lambda),
        }
    }
}

/// The pool: the points of `dev` with flipped labels that lie in their new class's feasible set,
/// in their order.
pub fn flip_pool(dev: &Dataset, set: &FeasibleSet) -> Result<Dataset> {
    let mut rows = Vec::new();
    for i in 0..dev.n() {
        if set.contains(&dev.dense_row(i), -dev.labels()[i], 1e-9)? {
            rows.push(i);
        }
    }
    if rows.is_empty() {
        return Err(Error::Infeasible {
            what: "the label-flip pool".into(),
            reason: "no point lies in the other class's feasible set once its label is flipped".into(),
        });
    }
    let pool = dev.slice(&rows)?;
    pool.with_labels(pool.labels().iter().map(|y| -y).collect())
}

/// Scores one poison on the dev data: an attack result with a single candidate.
pub(super) fn score_single(
    (train_set, dev): (&Dataset, &Dataset),
    evaluation: &EvaluationOptions,
    start: Instant,
    poison: Dataset,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let share = |label: i32| poison.labels().iter().filter(|&&y| y == label).count() as f64 / train_set.n() as f64;
    let candidate = Candidate::new(None, share(1), share(-1));
    let sweep = Sweep::new(
        (train_set, dev),
        evaluation,
        (start, 1),
        (0, 0, false),
        should_stop,
        progress,
    );
    let scored = sweep.score(0, candidate, poison)?;
    sweep.conclude(scored.into_iter().collect())
}

/// Random feasible label flips: round(εn) points of the pool drawn with replacement, scored on
/// `dev` by the defenses.
pub fn label_flip_attack(
    train_set: &Dataset,
    dev: &Dataset,
    set: &FeasibleSet,
    options: &LabelFlipOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let start = Instant::now();
    let m = poison_count(train_set, options.eps)?;
    let pool = flip_pool(dev, set)?;
    let mut rng = seeded(options.seed);
    let rows: Vec<usize> = (0..m).map(|_| rng.random_range(0..pool.n())).collect();
    let poison = pool.slice(&rows)?;
    score_single(
        (train_set, dev),
        &options.evaluation,
        start,
        poison,
        should_stop,
        progress,
    )
}
