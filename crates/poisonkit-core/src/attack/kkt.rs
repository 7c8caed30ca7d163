//! The KKT attack (paper §4.2, Algorithm 4; digest §4.2–4.5): for every decoy (θ, b) and class
//! split (ε₊, ε₋), two poison points x₊, x₋ whose hinge gradients make the decoy optimal for the
//! defender trained on clean + poison, as nearly as the feasible set allows:
//! argmin ‖g − ε₊x₊ + ε₋x₋‖ with g = g_clean + (1 + ε)λθ, g_clean from the clean points with
//! margin < 0.99 (the reference's rule), x₊ and x₋ in the clean feasible sets plus the
//! support-vector constraints y(θ·x + b) ≤ 1 and the loss caps 1 − y(θ·x + b) ≤ τ_y (the 90th
//! percentile of the clean class's hinge losses under the decoy). The poison is round(ε₊n) copies
//! of x₊ then round(εn) − round(ε₊n) copies of x₋, randomly rounded in groups of `repeats` for
//! integer data. Every candidate is scored by the minimum test error over the scoring defenses
//! (L2, slab, loss, as the reference) and, unless `shortlist` is 0, the best few again by all five
//! (an extension); the highest wins (ties: the earlier candidate). A split whose sets are empty
//! yields no candidate.
//! The decoys are tried in a seeded random order, as the reference shuffles them, so that the
//! anytime curve samples every kind of decoy early. For integer data the leading candidates' points
//! are then rounded afresh `rounding_trials` − 1 more times and scored again (an extension: the
//! reference rounds once, and one rounding moves the score by about a point on Enron). Candidates
//! run in parallel; each rounding is seeded by its index and trial, so the result does not depend
//! on the schedule. With `refit_rounds` = R, each candidate's program is solved R more times, each
//! against its sets refitted on clean + the last solution's poison (iterative optimization, paper
//! Algorithm 1; the decoy's constraints are kept). The sweep ends after the last candidate or when `should_stop` returns true
//! ([`Error::Aborted`]).

use std::time::Instant;

use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::Decoy;
use super::sweep::{AttackResult, Candidate, Progress, Scored, Sweep, extra_trials, poison_count, scoring};
use crate::data::Dataset;
use crate::defense::{Defense, EvaluationOptions};
use crate::error::{Error, Result};
use crate::feasible::{FeasibleSet, KktSolution, Method, Repeats, percentile, round_points};
use crate::model::Loss;
use crate::rng::seeded;

/// The relative gap to which each candidate's KKT program is solved.
pub const PROGRAM_GAP_TOL: f64 = 1e-4;

/// Options of [`kkt_attack`].
#[derive(Debug, Clone)]
pub struct KktOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Poison fraction ε: round(εn) points.
    pub eps: f64,
    /// Percentile of the clean losses under the decoy used as the loss caps; 90 by default.
    pub loss_percentile: f64,
    /// Round to integers (count data), copies sharing one rounding in groups of `repeats`.
    pub round: bool,
    /// Rounding group size (the reference's `--repeat_points`); 2 by default, as the reference's
    /// README runs it (its code's default 1 is caught by the SVD defense on Enron).
    pub repeats: usize,
    /// Roundings tried for each of the `refine` leading candidates after the sweep, the best kept
    /// (1: the reference's single rounding).
    pub rounding_trials: usize,
    /// How many leading candidates get the extra roundings.
    pub refine: usize,
    /// Score every candidate under every scoring defense, for a read per defense; by default a
    /// candidate that can no longer lead is scored no further (the selection is the same).
    pub score_all: bool,
    /// How many of the best programs (decoy and split, each by its best rounding) by the scoring
    /// defenses are scored again by all five, the best of them by that score winning (0: the
    /// scoring defenses select, as the reference).
    pub shortlist: usize,
    /// Times each candidate's program is solved again against its sets refitted on clean +
    /// poison (Algorithm 1); 0 by default.
    pub refit_rounds: usize,
    /// How candidates are scored (the defender to a relative gap of 1e-4 by default).
    pub evaluation: EvaluationOptions,
    /// Seed of the decoy order and of the rounding.
    pub seed: u64,
}

impl KktOptions {
    /// The reference's settings at `lambda` and `eps`: loss caps at the 90th percentile, no
    /// rounding, candidates scored by the attack-time defenses (L2, slab, loss) with the defender
    /// trained to a relative gap of 1e-4, seed 0; plus 8 roundings for each of the 5 leading
    /// candidates when rounding, and the final choice among the 4 best programs by all five
    /// defenses (the reference's three cannot see what k-NN and the SVD defense remove).
    pub fn new(lambda: f64, eps: f64) -> Self {
        let mut evaluation = scoring(lambda);
        evaluation.defenses = vec![Defense::L2, Defense::Slab, Defense::Loss];
        KktOptions {
            lambda,
            eps,
            loss_percentile: 90.0,
            round: false,
            repeats: 2,
            rounding_trials: 8,
            refine: 5,
            score_all: false,
            shortlist: 4,
            refit_rounds: 0,
            evaluation,
            seed: 0,
        }
    }
}

/// The class splits of ε tried per decoy: the one that zeroes the bias gradient
/// g_b − ε₊ + ε₋ (when it lies in [0, ε]), then ε₊ = 0, ε/6, …, ε (digest §4.2).
fn splits(eps: f64, g_bias: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let neg = (eps - g_bias) / 2.0;
    if (0.0..=eps).contains(&neg) {
        out.push((eps - neg, neg));
    }
    out.extend((0..=6).map(|k| (eps * k as f64 / 6.0, eps * (6 - k) as f64 / 6.0)));
    out
}

/// The poison of a program's solution: `num_pos` copies of x₊ then the rest of `total` of x₋,
/// rounded (for integer data) with `seed`, or left continuous without one.
fn kkt_poison(
    solution: &KktSolution,
    num_pos: usize,
    total: usize,
    options: &KktOptions,
    seed: Option<u64>,
) -> Result<Dataset> {
    let pos = copies(&solution.x_pos, 1, num_pos, options, seed)?;
    let neg = copies(
        &solution.x_neg,
        -1,
        total - num_pos,
        options,
        seed.map(|s| s ^ 0x9e37_79b9_7f4a_7c15),
    )?;
    pos.concat(&neg)
}

/// `count` copies of x with `label`, rounded in groups of `repeats` if asked and seeded.
fn copies(x: &[f64], label: i32, count: usize, options: &KktOptions, seed: Option<u64>) -> Result<Dataset> {
    let point = Dataset::from_dense(x, x.len(), vec![label], "poison")?;
    let Some(seed) = seed.filter(|_| options.round) else {
        return point.slice(&vec![0; count]);
    };
    let groups = point.slice(&vec![0; count.div_ceil(options.repeats)])?;
    let rounded = round_points(&groups, Repeats::Shared(options.repeats), seed)?;
    rounded.slice(&(0..count).collect::<Vec<_>>())
}

/// The sweep over `decoys` × splits against the clean `set` (without decoy constraints), scoring
/// candidates on `dev` (the test set, or the clean training set when the attacker does not know
/// it). `progress` is called after every candidate, from the worker threads.
pub fn kkt_attack(
    train_set: &Dataset,
    dev: &Dataset,
    set: &FeasibleSet,
    decoys: &[Decoy],
    options: &KktOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let start = Instant::now();
    let total = poison_count(train_set, options.eps)?;
    if options.repeats == 0 {
        return Err(Error::option("repeats", options.repeats, "must be at least 1"));
    }
    if options.rounding_trials == 0 {
        return Err(Error::option(
            "roundingTrials",
            options.rounding_trials,
            "must be at least 1",
        ));
    }
    if decoys.is_empty() {
        return Err(Error::option("decoys", "(none)", "needs at least one decoy"));
    }
    let n = train_set.n();
    // Per decoy: target gradient and the constrained set; then one work item per split.
    let mut targets = Vec::new();
    let mut work = Vec::new();
    let mut order: Vec<usize> = (0..decoys.len()).collect();
    order.shuffle(&mut seeded(options.seed));
    for (slot, &index) in order.iter().enumerate() {
        let decoy = &decoys[index];
        let (theta, bias) = (&decoy.model.w, decoy.model.bias);
        let mut g: Vec<f64> = theta.iter().map(|t| (1.0 + options.eps) * options.lambda * t).collect();
        let mut g_bias = 0.0;
        let mut losses = [Vec::new(), Vec::new()];
        for i in 0..n {
            let y = train_set.labels()[i] as f64;
            let margin = y * (train_set.row_dot(i, theta) + bias);
            if margin < 0.99 {
                train_set.row_axpy(i, -y / n as f64, &mut g);
                g_bias -= y / n as f64;
            }
            losses[usize::from(y > 0.0)].push(Loss::Hinge.value(margin));
        }
        let mut constrained = set.clone();
        for (label, k) in [(1, 1), (-1, 0)] {
            let y = label as f64;
            constrained.add_loss_cap(label, theta, bias, percentile(&losses[k], options.loss_percentile)?)?;
            constrained.add_halfspace(label, theta.iter().map(|t| y * t).collect(), 1.0 - y * bias)?;
        }
        work.extend(splits(options.eps, g_bias).into_iter().map(|split| (slot, split)));
        targets.push((index, g, constrained));
    }
    let extra = if options.round {
        options.refine * (options.rounding_trials - 1)
    } else {
        0
    };
    let sweep = Sweep::new(
        (train_set, dev),
        &options.evaluation,
        (start, work.len() + extra),
        (
            if extra > 0 { options.refine } else { 0 },
            options.shortlist,
            options.score_all,
        ),
        should_stop,
        progress,
    );
    // One work item's candidate, before its program is solved and its poison scored.
    let candidate = |item: usize| {
        let (slot, (eps_pos, eps_neg)) = work[item];
        Candidate::new(Some(targets[slot].0), eps_pos, eps_neg)
    };
    // One work item's KKT program; None when its sets are empty.
    let program = |item: usize| -> Result<Option<KktSolution>> {
        if should_stop() {
            return Err(Error::Aborted);
        }
        let (slot, (eps_pos, eps_neg)) = work[item];
        let (_, g, constrained) = &targets[slot];
        let mut sets = constrained.clone();
        let mut solution = None;
        for round in 0..=options.refit_rounds {
            if let Some(last) = &solution {
                let num_pos = ((eps_pos * n as f64).round() as usize).min(total);
                let poison = kkt_poison(last, num_pos, total, options, None)?;
                sets = constrained.refit(&train_set.concat(&poison)?)?;
            }
            match sets.kkt_program_with(g, eps_pos, eps_neg, Method::Fast, PROGRAM_GAP_TOL) {
                Err(Error::Infeasible { .. }) if round == 0 => {
                    sweep.tick(None);
                    return Ok(None);
                }
                // A refitted set that is empty keeps the last solution.
                Err(Error::Infeasible { .. }) => break,
                other => solution = Some(other?),
            }
        }
        Ok(solution)
    };
    // The same, with a solver failure kept (and counted) as the item's.
    let solve = |item: usize| -> Result<Option<KktSolution>> {
        program(item).or_else(|error| {
            sweep.fail(item, || candidate(item).what(), error)?;
            sweep.tick(None);
            Ok(None)
        })
    };
    // Its poison, rounded with `seed`, and its score.
    let score = |item: usize, solution: &KktSolution, seed: u64| -> Result<Option<Scored>> {
        let num_pos = ((work[item].1.0 * n as f64).round() as usize).min(total);
        let poison = kkt_poison(solution, num_pos, total, options, Some(seed))?;
        let candidate = Candidate {
            residual: Some(solution.value),
            ..candidate(item)
        };
        sweep.score(item, candidate, poison)
    };
    let seed_of = |item: usize, trial: u64| options.seed.wrapping_add(item as u64).wrapping_add(trial << 32);
    let outcomes = (0..work.len())
        .into_par_iter()
        .map(|item| match solve(item)? {
            Some(solution) => score(item, &solution, seed_of(item, 0)),
            None => Ok(None),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut outcomes: Vec<Scored> = outcomes.into_iter().flatten().collect();
    // Fresh roundings of the leading candidates' points (their programs solved again, once: the
    // same solution, as the solver is deterministic).
    if options.round && options.rounding_trials > 1 {
        let leaders = sweep.leaders(&outcomes, options.refine, options.rounding_trials);
        let solutions = leaders
            .par_iter()
            .map(|&item| program(item).map(|s| s.expect("a leader's sets are not empty")))
            .collect::<Result<Vec<_>>>()?;
        let refined = extra_trials(leaders.len(), options.rounding_trials)
            .par_iter()
            .map(|&(l, trial)| score(leaders[l], &solutions[l], seed_of(leaders[l], trial)))
            .collect::<Result<Vec<_>>>()?;
        outcomes.extend(refined.into_iter().flatten());
    }
    if outcomes.is_empty() && !sweep.failed() {
        return Err(Error::Infeasible {
            what: "every decoy's feasible sets".into(),
            reason: "no decoy admits points meeting its support-vector and loss constraints".into(),
        });
    }
    sweep.shortlist(&mut outcomes)?;
    sweep.conclude(outcomes)
}
