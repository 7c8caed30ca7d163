//! What the attacks' sweeps share: each candidate poison is scored by the minimum test error over
//! the defenses on the attacker's dev data, progress is tallied as candidates finish (from the
//! worker threads), the highest score wins (ties: the earlier candidate in sweep order), and the
//! anytime curve is the best score so far against the seconds elapsed (paper Figure 4).

use std::sync::Mutex;
use std::time::Instant;

use crate::data::Dataset;
use crate::defense::{Defense, Evaluation, EvaluationOptions, evaluate};
use crate::error::Result;

/// How a sweep scores its candidates by default: all five defenses, the defender trained to a
/// relative gap of 1e-4 (the scores only rank candidates; the winner's final evaluation uses 1e-6).
pub(super) fn scoring(lambda: f64) -> EvaluationOptions {
    let mut evaluation = EvaluationOptions::new(lambda);
    evaluation.solver.tol = 1e-4;
    evaluation
}

/// One scored candidate.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Index of its decoy (none for min-max-basic).
    pub decoy: Option<usize>,
    /// The fraction ε₊ of n poisoned with label +1.
    pub eps_pos: f64,
    /// The fraction ε₋ of n poisoned with label −1.
    pub eps_neg: f64,
    /// ‖g − ε₊x₊ + ε₋x₋‖ at the KKT program's solution (KKT attack only).
    pub residual: Option<f64>,
    /// The step size of its trajectory (influence attack only).
    pub step_size: Option<f64>,
    /// The gradient steps taken before it (influence attack only).
    pub iteration: Option<usize>,
    /// The minimum test error over the defenses.
    pub min_error: f64,
    /// The test error under each defense, in the order scored.
    pub errors: Vec<(Defense, f64)>,
    /// Seconds from the start of the sweep to this candidate's end.
    pub finished: f64,
}

/// An attack's result.
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// The winning poison points.
    pub poison: Dataset,
    /// The winner.
    pub best: Candidate,
    /// Its evaluation.
    pub evaluation: Evaluation,
    /// Every candidate scored, in sweep order.
    pub candidates: Vec<Candidate>,
    /// The anytime curve: (seconds, best minimum error so far), at each candidate's end.
    pub curve: Vec<(f64, f64)>,
    /// Seconds in all.
    pub seconds: f64,
}

/// How far a sweep has come, reported after every candidate.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Candidates scored.
    pub done: usize,
    /// Candidates in all.
    pub total: usize,
    /// The best minimum error so far.
    pub best: f64,
    /// Seconds since the start.
    pub seconds: f64,
}

/// A scored candidate with its work item (its place in sweep order), poison and evaluation.
pub(super) struct Scored {
    pub item: usize,
    pub candidate: Candidate,
    pub poison: Dataset,
    pub evaluation: Evaluation,
}

/// The work items of the `k` best outcomes (ties: the earlier item).
pub(super) fn leaders(outcomes: &[Scored], k: usize) -> Vec<usize> {
    let mut ranked: Vec<&Scored> = outcomes.iter().collect();
    ranked.sort_by(|a, b| {
        (b.candidate.min_error)
            .total_cmp(&a.candidate.min_error)
            .then(a.item.cmp(&b.item))
    });
    ranked.iter().take(k).map(|o| o.item).collect()
}

/// The extra roundings of `leaders` leading candidates: every (leader's index, trial) pair with
/// trial in 1..`rounding_trials` (trial 0 is the sweep's own rounding).
pub(super) fn extra_trials(leaders: usize, rounding_trials: usize) -> Vec<(usize, u64)> {
    (0..leaders)
        .flat_map(|l| (1..rounding_trials as u64).map(move |t| (l, t)))
        .collect()
}

/// A sweep's scoring: the data and defenses that score candidates, its clock and progress count.
pub(super) struct Sweep<'a> {
    pub train: &'a Dataset,
    pub dev: &'a Dataset,
    pub evaluation: &'a EvaluationOptions,
    pub should_stop: &'a (dyn Fn() -> bool + Sync),
    start: Instant,
    /// (candidates done, candidates in all, best minimum error).
    state: Mutex<(usize, usize, f64)>,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl<'a> Sweep<'a> {
    /// A sweep of `total` candidates, timed from `start`.
    pub fn new(
        (train, dev): (&'a Dataset, &'a Dataset),
        evaluation: &'a EvaluationOptions,
        (start, total): (Instant, usize),
        should_stop: &'a (dyn Fn() -> bool + Sync),
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> Self {
        Sweep {
            train,
            dev,
            evaluation,
            should_stop,
            start,
            state: Mutex::new((0, total, 0.0)),
            progress,
        }
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Counts a finished candidate (0 for one without poison) and reports.
    pub fn tick(&self, min_error: f64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += 1;
        state.2 = state.2.max(min_error);
        (self.progress)(Progress {
            done: state.0,
            total: state.1,
            best: state.2,
            seconds: self.seconds(),
        });
    }

    /// Takes `k` candidates that will not run (a trajectory that stopped early) off the total.
    pub fn forfeit(&self, k: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = state.1.saturating_sub(k);
    }

    /// Scores `poison` on the dev data and counts it; `candidate` gets its score and finishing
    /// time.
    pub fn score(&self, item: usize, mut candidate: Candidate, poison: Dataset) -> Result<Scored> {
        let evaluation = evaluate(self.train, self.dev, Some(&poison), self.evaluation, self.should_stop)?;
        candidate.min_error = evaluation.min;
        candidate.errors = evaluation.defenses.iter().map(|o| (o.defense, o.test_error)).collect();
        candidate.finished = self.seconds();
        self.tick(candidate.min_error);
        Ok(Scored {
            item,
            candidate,
            poison,
            evaluation,
        })
    }

    /// The winner, the curve and the candidates of a non-empty sweep.
    pub fn conclude(&self, mut outcomes: Vec<Scored>) -> AttackResult {
        let best = (0..outcomes.len())
            .max_by(|&a, &b| {
                let (x, y) = (&outcomes[a], &outcomes[b]);
                x.candidate
                    .min_error
                    .total_cmp(&y.candidate.min_error)
                    .then(y.item.cmp(&x.item))
                    .then(b.cmp(&a))
            })
            .expect("at least one outcome");
        let mut by_time: Vec<&Candidate> = outcomes.iter().map(|o| &o.candidate).collect();
        by_time.sort_by(|a, b| a.finished.total_cmp(&b.finished));
        let mut running = 0.0f64;
        let curve = by_time
            .iter()
            .map(|c| {
                running = running.max(c.min_error);
                (c.finished, running)
            })
            .collect();
        let candidates = outcomes.iter().map(|o| o.candidate.clone()).collect();
        let best = outcomes.swap_remove(best);
        AttackResult {
            poison: best.poison,
            best: best.candidate,
            evaluation: best.evaluation,
            candidates,
            curve,
            seconds: self.seconds(),
        }
    }
}
