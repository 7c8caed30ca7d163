//! alfa (Xiao et al. 2012) as the paper adapts it (Appendix D; digest §7.1, the reference's
//! `generate_alfa_attacks.py`): copy weights q over the label-flip pool ([`super::flip_pool`]) that
//! add points of high hinge loss under the clean model but low loss under the poisoned one. Start
//! from q uniform with Σq = round(εn); alternate (1) the SVM (bias unregularized, as the reference's
//! `GurobiSVM`) on clean (weight 1) ∪ pool (weights q) and (2) the LP min Σ q_i·(ℓ_i(θ̂) − ℓ_i(θ*))
//! subject to Σq = round(εn), 0 ≤ q_i ≤ `max_copies`. The LP's optimum has a closed form, used
//! here: fill the points of smallest loss difference up to the cap, in that order (no cap, as the
//! reference: all mass on one point). It stops when q repeats, or after `max_iter` rounds (the
//! reference: 100). The poison is q_i copies of each chosen point.

use std::time::Instant;

use super::labelflip::{flip_pool, score_single};
use super::sweep::{AttackResult, Progress, poison_count};
use crate::data::Dataset;
use crate::defense::EvaluationOptions;
use crate::error::{Error, Result};
use crate::feasible::FeasibleSet;
use crate::model::{LinearModel, Loss, Problem, SolverOptions, train};

/// Options of [`alfa_attack`].
#[derive(Debug, Clone)]
pub struct AlfaOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Poison fraction ε: round(εn) points.
    pub eps: f64,
    /// At most this many rounds (the reference: 100).
    pub max_iter: usize,
    /// At most this many copies of one pool point; `None` (the reference) for no cap.
    pub max_copies: Option<usize>,
    /// The SVM's solver.
    pub solver: SolverOptions,
    /// How the poison is scored (all five defenses by default).
    pub evaluation: EvaluationOptions,
}

impl AlfaOptions {
    /// The reference's settings at `lambda` and `eps`.
    pub fn new(lambda: f64, eps: f64) -> Self {
        AlfaOptions {
            lambda,
            eps,
            max_iter: 100,
            max_copies: None,
            solver: SolverOptions::default(),
            evaluation: EvaluationOptions::new(lambda),
        }
    }
}

/// Hinge losses of the pool's points under `model`.
fn pool_losses(model: &LinearModel, pool: &Dataset) -> Result<Vec<f64>> {
    let scores = model.decision(pool)?;
    Ok(scores
        .iter()
        .zip(pool.labels())
        .map(|(s, &y)| Loss::Hinge.value(y as f64 * s))
        .collect())
}

/// The LP's optimum: the budget spread over the smallest differences, `cap` each at most (ties:
/// the earlier point).
fn fill_smallest(diff: &[f64], budget: usize, cap: usize) -> Vec<f64> {
    let mut order: Vec<usize> = (0..diff.len()).collect();
    order.sort_by(|&a, &b| diff[a].total_cmp(&diff[b]).then(a.cmp(&b)));
    let mut q = vec![0.0; diff.len()];
    let mut left = budget;
    for i in order {
        let take = left.min(cap);
        q[i] = take as f64;
        left -= take;
        if left == 0 {
            break;
        }
    }
    q
}

/// Runs alfa and scores its poison on `dev` by the defenses.
pub fn alfa_attack(
    train_set: &Dataset,
    dev: &Dataset,
    set: &FeasibleSet,
    options: &AlfaOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let start = Instant::now();
    let budget = poison_count(train_set, options.eps)?;
    if options.max_iter == 0 {
        return Err(Error::option("maxIter", 0, "must be at least 1"));
    }
    let pool = flip_pool(dev, set)?;
    let cap = options.max_copies.unwrap_or(budget);
    if cap == 0 || cap * pool.n() < budget {
        return Err(Error::option(
            "maxCopies",
            cap,
            &format!("must allow {budget} copies over the {} pool points", pool.n()),
        ));
    }
    let fit = |data: &Dataset, weights: Option<&[f64]>| -> Result<LinearModel> {
        let problem = Problem::new(data, options.lambda, Loss::Hinge, false, weights)?;
        Ok(train(&problem, &options.solver, None, should_stop)?.model)
    };
    let clean = pool_losses(&fit(train_set, None)?, &pool)?;
    let combined = train_set.concat(&pool)?;
    let mut q = vec![budget as f64 / pool.n() as f64; pool.n()];
    for _ in 0..options.max_iter {
        let weights: Vec<f64> = std::iter::repeat_n(1.0, train_set.n())
            .chain(q.iter().copied())
            .collect();
        let poisoned = pool_losses(&fit(&combined, Some(&weights))?, &pool)?;
        let diff: Vec<f64> = poisoned.iter().zip(&clean).map(|(p, c)| p - c).collect();
        let next = fill_smallest(&diff, budget, cap);
        if next == q {
            break;
        }
        q = next;
    }
    let rows: Vec<usize> = q
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(i, c.round() as usize))
        .collect();
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
