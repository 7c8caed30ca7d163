//! What the attacks' sweeps share: each candidate poison is scored by the minimum test error over
//! the defenses on the attacker's dev data, progress is tallied as candidates finish (from the
//! worker threads), the highest score wins (ties: the earlier candidate in sweep order), and the
//! anytime curve is the best score so far against the seconds elapsed (paper Figure 4).
//!
//! Branch and bound: the defenses run cheapest first, and a candidate whose minimum so far is
//! already below the score of the last leader among those finished (the winner, or the last of
//! the leaders refined afterwards; with a shortlist, also below the last of its work items, each
//! by its best candidate) is not scored further: its score could only fall, so it can neither
//! win nor lead. The winner and the leaders are those of a full scoring.
//!
//! Shortlist (an extension of the reference's selection, for a sweep on binary data scored by
//! fewer than the five defenses: KKT's by default, min-max's and influence's when their defenses
//! are narrowed): the best few candidates by the scoring defenses, one per work item,
//! are scored again by all five with the defender trained to the final evaluation's tolerance,
//! and only they compete, on that score. The anytime curve stays that of the sweep.
//!
//! Solver failures: a work item whose solver stops without a solution (its program, game or
//! trajectory, or a defender retrained to score it) yields no candidate; the failure is kept with
//! the solver's status, reported in the result, and the sweep goes on. The attack fails, with the
//! first failure's status, only when no candidate is left.

use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use crate::data::Dataset;
use crate::defense::{Defense, Evaluation, EvaluationOptions, evaluate, evaluate_until};
use crate::error::{Error, Result};
use crate::model::SolverOptions;

/// How a sweep scores its candidates by default: all five defenses, the defender trained to a
/// relative gap of 1e-4 (the scores only rank candidates; the winner's final evaluation uses 1e-6).
pub(super) fn scoring(lambda: f64) -> EvaluationOptions {
    let mut evaluation = EvaluationOptions::new(lambda);
    evaluation.solver.tol = 1e-4;
    evaluation
}

/// The number of poison points for `eps` of the clean training data: round(εn), at least 1.
pub fn poison_count(train_set: &Dataset, eps: f64) -> Result<usize> {
    if !(eps > 0.0 && eps < 1.0) {
        return Err(Error::option("eps", eps, "must lie in (0, 1)"));
    }
    match (eps * train_set.n() as f64).round() as usize {
        0 => Err(Error::option("eps", eps, "gives round(ε·n) = 0 poison points")),
        m => Ok(m),
    }
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
    /// The minimum test error over the scoring defenses.
    pub min_error: f64,
    /// The test error under each defense, in the order scored (all five for the shortlist).
    pub errors: Vec<(Defense, f64)>,
    /// The minimum test error over all five defenses, for a candidate of the shortlist: the
    /// shortlist competes on it.
    pub shortlist_min: Option<f64>,
    /// Scoring stopped before the last defense: `min_error` is only an upper bound, below the
    /// leaders' scores.
    pub partial: bool,
    /// Seconds from the start of the sweep to this candidate's end.
    pub finished: f64,
}

impl Candidate {
    /// A candidate from `decoy` with the split (ε₊, ε₋), not yet scored.
    pub fn new(decoy: Option<usize>, eps_pos: f64, eps_neg: f64) -> Self {
        Candidate {
            decoy,
            eps_pos,
            eps_neg,
            residual: None,
            step_size: None,
            iteration: None,
            min_error: 0.0,
            errors: Vec::new(),
            shortlist_min: None,
            partial: false,
            finished: 0.0,
        }
    }

    /// Its work item, as a researcher names it: its decoy and split, or its step size and step.
    pub fn what(&self) -> String {
        let split = format!("ε₊ {:.4}, ε₋ {:.4}", self.eps_pos, self.eps_neg);
        match (self.decoy, self.step_size) {
            (Some(decoy), _) => format!("decoy {decoy}, {split}"),
            (None, Some(step)) => format!("step size {step}, step {}", self.iteration.unwrap_or(0)),
            (None, None) => split,
        }
    }
}

/// A work item that yielded no candidate (for an influence trajectory: its remaining snapshots)
/// because its solver stopped without a solution ([`Error::Solver`]) or its feasible sets were
/// empty ([`Error::Infeasible`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The work item's place in sweep order.
    pub item: usize,
    /// The work item, as a researcher names it: "decoy 12, ε₊ 0.0050, ε₋ 0.0250".
    pub what: String,
    /// What stopped it.
    pub error: Error,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.error)
    }
}

/// An attack's result.
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// The winning poison points.
    pub poison: Dataset,
    /// The winner.
    pub best: Candidate,
    /// Its evaluation on the dev data, by which it was selected.
    pub evaluation: Evaluation,
    /// The options of that evaluation: the shortlist's (all five defenses, the defender to the
    /// final tolerance) or the sweep's.
    pub evaluation_options: EvaluationOptions,
    /// Every candidate scored, in sweep order.
    pub candidates: Vec<Candidate>,
    /// The anytime curve: (seconds, best minimum error so far), at each candidate's end.
    pub curve: Vec<(f64, f64)>,
    /// The work items that solver failures ended, in sweep order.
    pub failures: Vec<Failure>,
    /// Seconds in all.
    pub seconds: f64,
}

impl AttackResult {
    /// The winner's evaluation on `test` with `options` (an attack's final evaluation): the one
    /// that selected it when that was this very evaluation (scored on the test set, `on_test`,
    /// with equal options: the KKT shortlist's by default), else a new one.
    pub fn evaluate_on(
        &self,
        train: &Dataset,
        test: &Dataset,
        on_test: bool,
        options: &EvaluationOptions,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<Evaluation> {
        if on_test && self.evaluation_options == *options {
            return Ok(self.evaluation.clone());
        }
        evaluate(train, test, Some(&self.poison), options, should_stop)
    }
}

/// How far a sweep has come, reported after every candidate.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Candidates scored.
    pub done: usize,
    /// Candidates in all.
    pub total: usize,
    /// The best minimum error so far: by the scoring defenses during the sweep; in the shortlist,
    /// by all five, once its first program is scored.
    pub best: f64,
    /// The shortlist is being scored.
    pub shortlist: bool,
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

/// The outcomes scored in full, best first (ties: the earlier item, then the earlier outcome).
fn ranking(outcomes: &[Scored]) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..outcomes.len())
        .filter(|&o| !outcomes[o].candidate.partial)
        .collect();
    ranked.sort_by(|&a, &b| {
        let (x, y) = (&outcomes[a], &outcomes[b]);
        y.candidate
            .min_error
            .total_cmp(&x.candidate.min_error)
            .then(x.item.cmp(&y.item))
    });
    ranked
}

/// The extra roundings of `leaders` leading candidates: every (leader's index, trial) pair with
/// trial in 1..`rounding_trials` (trial 0 is the sweep's own rounding).
pub(super) fn extra_trials(leaders: usize, rounding_trials: usize) -> Vec<(usize, u64)> {
    (0..leaders)
        .flat_map(|l| (1..rounding_trials as u64).map(move |t| (l, t)))
        .collect()
}

/// The defenses in scoring order, cheapest first: the centroid distances and the loss need only
/// the fitted data and model; k-NN is an all-pairs search, the SVD an eigen-decomposition.
const CHEAPEST_FIRST: [Defense; 5] = [Defense::L2, Defense::Slab, Defense::Loss, Defense::Knn, Defense::Svd];

/// A sweep's scoring: the data and defenses that score candidates, its clock and progress count.
pub(super) struct Sweep<'a> {
    pub train: &'a Dataset,
    pub dev: &'a Dataset,
    pub evaluation: EvaluationOptions,
    pub should_stop: &'a (dyn Fn() -> bool + Sync),
    start: Instant,
    /// How many leading candidates must be ranked exactly (at least the winner; all of them
    /// when every candidate is scored in full).
    leaders: usize,
    /// How many leading work items (a decoy and split, a snapshot; each by its best candidate, as
    /// its other roundings are near copies) are scored again by all five defenses (0: none).
    shortlist: usize,
    state: Mutex<State>,
    progress: &'a (dyn Fn(Progress) + Sync),
}

/// Candidates done and in all, the scores of the leaders so far and the leading work items with
/// their best scores (both descending), the failures, whether the shortlist is being scored and
/// its best score so far.
struct State {
    done: usize,
    total: usize,
    leading: Vec<f64>,
    items: Vec<(usize, f64)>,
    failures: Vec<Failure>,
    shortlisting: bool,
    shortlist_best: Option<f64>,
}

impl<'a> Sweep<'a> {
    /// A sweep of `total` candidates, timed from `start`, whose `leaders` best candidates are
    /// refined afterwards (0: only the winner matters) and whose `shortlist` best are scored again
    /// by all five defenses (0: none; no effect when they score already, or on multi-class data,
    /// which has not all five); `score_all` turns the pruning off.
    pub fn new(
        (train, dev): (&'a Dataset, &'a Dataset),
        evaluation: &EvaluationOptions,
        (start, total): (Instant, usize),
        (leaders, shortlist, score_all): (usize, usize, bool),
        should_stop: &'a (dyn Fn() -> bool + Sync),
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> Self {
        let mut evaluation = evaluation.clone();
        evaluation
            .defenses
            .sort_by_key(|d| CHEAPEST_FIRST.iter().position(|c| c == d));
        // All five exist for binary data only.
        let binary = !matches!(train.classes(), crate::data::Classes::Multiclass(_));
        let shortlist = if binary && evaluation.defenses.len() < CHEAPEST_FIRST.len() {
            shortlist
        } else {
            0
        };
        Sweep {
            train,
            dev,
            evaluation,
            should_stop,
            start,
            leaders: if score_all { usize::MAX } else { leaders.max(1) },
            shortlist,
            state: Mutex::new(State {
                done: 0,
                total: total + shortlist,
                leading: Vec::new(),
                items: Vec::new(),
                failures: Vec::new(),
                shortlisting: false,
                shortlist_best: None,
            }),
            progress,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a candidate whose minimum so far is `min` can no longer lead: it is below the
    /// last leader's score, once there are enough leaders, and below the last shortlisted work
    /// item's, once there are enough of them.
    fn cannot_lead(&self, min: f64) -> bool {
        let state = self.state();
        state.leading.len() == self.leaders
            && min < state.leading[self.leaders - 1]
            && (self.shortlist == 0 || state.items.len() == self.shortlist && min < state.items[self.shortlist - 1].1)
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Counts a finished candidate with its work item and score (None: no poison, or scored
    /// partially) and reports.
    pub fn tick(&self, scored: Option<(usize, f64)>) {
        let mut state = self.state();
        state.done += 1;
        if let Some((item, score)) = scored {
            let at = state.leading.partition_point(|&s| s >= score);
            state.leading.insert(at, score);
            state.leading.truncate(self.leaders);
            if self.shortlist > 0 {
                match state.items.iter().position(|&(i, _)| i == item) {
                    Some(at) if state.items[at].1 >= score => {}
                    known => {
                        if let Some(at) = known {
                            state.items.remove(at);
                        }
                        let at = state.items.partition_point(|&(_, s)| s >= score);
                        state.items.insert(at, (item, score));
                        state.items.truncate(self.shortlist);
                    }
                }
            }
        }
        self.report(&state);
    }

    /// Takes `k` candidates that will not run (a trajectory that stopped early, the rest of a
    /// shortlist) off the total and reports.
    pub fn forfeit(&self, k: usize) {
        let mut state = self.state();
        state.total = state.total.saturating_sub(k);
        self.report(&state);
    }

    /// Keeps `error` as the failure of work item `item`, named `what`, when it is a solver's or an
    /// empty set's (the sweep goes on without the item), and returns any other error.
    pub fn fail(&self, item: usize, what: impl FnOnce() -> String, error: Error) -> Result<()> {
        match error {
            Error::Solver { .. } | Error::Infeasible { .. } => {
                self.state().failures.push(Failure {
                    item,
                    what: what(),
                    error,
                });
                Ok(())
            }
            other => Err(other),
        }
    }

    /// The work items of the `k` best outcomes (ties: the earlier item), each to be rounded afresh
    /// `trials` − 1 more times; the roundings of leaders missing (fewer outcomes than `k`, as
    /// items without sets or failed) are taken off the total. An outcome scored partially ranks
    /// below `k` full ones, so it is never among them.
    pub fn leaders(&self, outcomes: &[Scored], k: usize, trials: usize) -> Vec<usize> {
        let leaders: Vec<usize> = ranking(outcomes)
            .into_iter()
            .take(k)
            .map(|o| outcomes[o].item)
            .collect();
        if leaders.len() < k {
            self.forfeit((k - leaders.len()) * (trials - 1));
        }
        leaders
    }

    /// Whether a work item has failed so far.
    pub fn failed(&self) -> bool {
        !self.state().failures.is_empty()
    }

    fn report(&self, state: &State) {
        let sweep_best = state.leading.first().copied().unwrap_or(0.0);
        (self.progress)(Progress {
            done: state.done,
            total: state.total,
            best: state.shortlist_best.unwrap_or(sweep_best),
            shortlist: state.shortlisting,
            seconds: self.seconds(),
        });
    }

    /// Counts a program of the shortlist, scored by all five defenses to `min` (None: failed).
    fn tick_shortlisted(&self, min: Option<f64>) {
        let mut state = self.state();
        state.done += 1;
        if let Some(min) = min {
            state.shortlist_best = Some(state.shortlist_best.map_or(min, |b| b.max(min)));
        }
        self.report(&state);
    }

    /// Scores `poison` on the dev data (until it cannot lead) and counts it; `candidate` gets its
    /// score and finishing time. None when a defender's solver failed (kept as a failure).
    pub fn score(&self, item: usize, mut candidate: Candidate, poison: Dataset) -> Result<Option<Scored>> {
        let evaluation = match evaluate_until(
            self.train,
            self.dev,
            Some(&poison),
            &self.evaluation,
            self.should_stop,
            &|min| self.cannot_lead(min),
        ) {
            Ok(evaluation) => evaluation,
            Err(error) => {
                self.fail(item, || format!("{}, scoring", candidate.what()), error)?;
                self.tick(None);
                return Ok(None);
            }
        };
        candidate.min_error = evaluation.min;
        candidate.errors = evaluation.defenses.iter().map(|o| (o.defense, o.test_error)).collect();
        candidate.partial = evaluation.defenses.len() < self.evaluation.defenses.len();
        candidate.finished = self.seconds();
        self.tick((!candidate.partial).then_some((item, candidate.min_error)));
        Ok(Some(Scored {
            item,
            candidate,
            poison,
            evaluation,
        }))
    }

    /// How the shortlist is scored, as the default final evaluation: all five defenses (in their
    /// usual order: nothing is pruned), the defender trained to the final tolerance (the shortlist
    /// decides among close candidates, and 1e-4 moves a score by a test point or two).
    fn shortlist_options(&self) -> EvaluationOptions {
        let mut all = self.evaluation.clone();
        all.defenses = Defense::ALL.to_vec();
        all.solver.tol = SolverOptions::default().tol;
        all
    }

    /// Scores the shortlist, the best outcome of each of the best work items (ties: the earlier
    /// item, then the earlier outcome; the other roundings of an item are near copies), again by
    /// all five defenses, a thread's worth at a time in rank order. It stops at the first outcome
    /// whose score is below the best five-defense score so far: that score is an upper bound of
    /// its own five-defense score, and of all those after it.
    pub fn shortlist(&self, outcomes: &mut [Scored]) -> Result<()> {
        if self.shortlist == 0 {
            return Ok(());
        }
        let mut ranked = ranking(outcomes);
        let mut seen = std::collections::HashSet::new();
        ranked.retain(|&o| seen.insert(outcomes[o].item));
        ranked.truncate(self.shortlist);
        let all = self.shortlist_options();
        {
            let mut state = self.state();
            state.shortlisting = true;
            self.report(&state);
        }
        let mut best = f64::NEG_INFINITY;
        let mut scored = 0;
        for chunk in ranked.chunks(rayon::current_num_threads()) {
            let chunk: Vec<usize> = chunk
                .iter()
                .copied()
                .filter(|&o| outcomes[o].candidate.min_error >= best)
                .collect();
            if chunk.is_empty() {
                break;
            }
            let evaluations = chunk
                .par_iter()
                .map(|&o| {
                    let evaluation = evaluate_until(
                        self.train,
                        self.dev,
                        Some(&outcomes[o].poison),
                        &all,
                        self.should_stop,
                        &|_| false,
                    );
                    self.tick_shortlisted(evaluation.as_ref().ok().map(|e| e.min));
                    match evaluation {
                        Ok(evaluation) => Ok(Some(evaluation)),
                        Err(error) => {
                            let what = || format!("{}, shortlist scoring", outcomes[o].candidate.what());
                            self.fail(outcomes[o].item, what, error).map(|()| None)
                        }
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let scored_ok = chunk.iter().zip(evaluations).filter_map(|(&o, e)| e.map(|e| (o, e)));
            for (o, evaluation) in scored_ok {
                best = best.max(evaluation.min);
                let candidate = &mut outcomes[o].candidate;
                candidate.errors = evaluation.defenses.iter().map(|d| (d.defense, d.test_error)).collect();
                candidate.shortlist_min = Some(evaluation.min);
                outcomes[o].evaluation = evaluation;
            }
            scored += chunk.len();
        }
        self.forfeit(self.shortlist - scored);
        Ok(())
    }

    /// The winner, the curve, the candidates and the failures: the best of the shortlist by its
    /// score over all five defenses if there is one, else the best by the scoring defenses. With
    /// no outcome, the first failure's error (or [`Error::Infeasible`] if none failed).
    pub fn conclude(&self, mut outcomes: Vec<Scored>) -> Result<AttackResult> {
        let mut failures = std::mem::take(&mut self.state().failures);
        // In sweep order, whatever the schedule (a game's replays by their names).
        failures.sort_by(|a, b| a.item.cmp(&b.item).then_with(|| a.what.cmp(&b.what)));
        if outcomes.is_empty() {
            return Err(match failures.first() {
                Some(failure) => failure.error.clone(),
                None => Error::Infeasible {
                    what: "every work item".into(),
                    reason: "none yielded a candidate".into(),
                },
            });
        }
        let rank = |o: &Scored| match o.candidate.shortlist_min {
            Some(min) => (1, min),
            None => (0, o.candidate.min_error),
        };
        let best = (0..outcomes.len())
            .max_by(|&a, &b| {
                let (x, y) = (rank(&outcomes[a]), rank(&outcomes[b]));
                x.0.cmp(&y.0)
                    .then(x.1.total_cmp(&y.1))
                    .then(outcomes[b].item.cmp(&outcomes[a].item))
                    .then(b.cmp(&a))
            })
            .expect("outcomes is not empty");
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
        let evaluation_options = match best.candidate.shortlist_min {
            Some(_) => self.shortlist_options(),
            None => self.evaluation.clone(),
        };
        Ok(AttackResult {
            poison: best.poison,
            best: best.candidate,
            evaluation: best.evaluation,
            evaluation_options,
            candidates,
            curve,
            failures,
            seconds: self.seconds(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solver_error(status: &str) -> Error {
        Error::Solver {
            solver: "test",
            status: status.into(),
            iterations: 7,
        }
    }

    #[test]
    fn a_solver_failure_is_kept_and_the_sweep_goes_on() {
        let x = [0.0, 1.0, 0.2, 1.1, 0.1, 0.9, 1.0, 0.0, 1.2, 0.1, 0.9, 0.2];
        let train = Dataset::from_dense(&x, 2, vec![1, 1, 1, -1, -1, -1], "train").unwrap();
        let poison = Dataset::from_dense(&[1.0, 0.1], 2, vec![1], "poison").unwrap();
        let calls = Mutex::new(Vec::new());
        let progress = |p: Progress| calls.lock().unwrap().push((p.done, p.total));
        let sweep = Sweep::new(
            (&train, &train),
            &scoring(0.1),
            (Instant::now(), 3),
            (0, 0, false),
            &|| false,
            &progress,
        );
        assert!(!sweep.failed());
        sweep
            .fail(0, || "decoy 3".into(), solver_error("NumericalError"))
            .unwrap();
        sweep.tick(None);
        assert!(sweep.failed());
        // Other errors are not kept.
        assert!(matches!(
            sweep.fail(2, || "decoy 4".into(), Error::Aborted),
            Err(Error::Aborted)
        ));
        let scored = sweep
            .score(1, Candidate::new(Some(5), 0.5, 0.0), poison)
            .unwrap()
            .expect("scored");
        assert_eq!(scored.candidate.what(), "decoy 5, ε₊ 0.5000, ε₋ 0.0000");
        let result = sweep.conclude(vec![scored]).unwrap();
        assert_eq!(result.failures.len(), 1);
        assert_eq!(
            result.failures[0].to_string(),
            "decoy 3: test stopped with status NumericalError after 7 iterations"
        );
        assert_eq!(result.best.decoy, Some(5));
        assert_eq!(result.candidates.len(), 1);
        assert_eq!(*calls.lock().unwrap(), vec![(1, 3), (2, 3)]);
    }

    #[test]
    fn with_no_candidate_left_the_first_failure_is_the_error() {
        let train = Dataset::from_dense(&[0.0, 1.0, 1.0, 0.0], 2, vec![1, -1], "train").unwrap();
        let sweep = Sweep::new(
            (&train, &train),
            &scoring(0.1),
            (Instant::now(), 2),
            (0, 0, false),
            &|| false,
            &|_| {},
        );
        // Failed in the other order: the first in sweep order is the error.
        sweep
            .fail(1, || "decoy 1".into(), solver_error("NumericalError"))
            .unwrap();
        sweep
            .fail(0, || "decoy 0".into(), solver_error("MaxIterations"))
            .unwrap();
        match sweep.conclude(Vec::new()) {
            Err(Error::Solver { status, .. }) => assert_eq!(status, "MaxIterations"),
            other => panic!("expected the first failure in sweep order, got {other:?}"),
        }
    }
}
