//! The min-max attack for binary data (paper §4.3, Algorithm 5; digest §5.3, the MATLAB
//! `generateAttackTar.m`): online AdaGrad steps on the defender's (θ, b) against the feasible
//! point of highest hinge loss. Each round solves, per class y, argmax 1 − y(θ·x + b) over class
//! y's feasible set (a linear minimization, issue 4's `minimize_linear`), keeps the class with the
//! larger loss, appends `repeats` copies of that point (each rounded independently for integer
//! data, as the MATLAB reference; the paper repeats points for integer data only, §4.3.2), and
//! steps on the average clean hinge subgradient plus ε times the last appended point's, plus λθ
//! (the reference's regularizer gradient). θ starts at the clean SVM's weights with bias 0 and
//! AdaGrad accumulators of 1, as the reference. With a decoy (θ_d, b_d), the feasible sets gain the
//! cap 1 − y(θ_d·x + b_d) ≤ τ (paper §4.3.2); without one it is min-max-basic (Steinhardt et al.
//! 2017). A class whose capped set is empty sits the rounds out (the round's maximum is over the
//! classes' sets together); a game in which every class's set is empty has no point, and its
//! decoy yields no candidate (kept among the attack's failures). It stops after
//! round(ε·n)·(1 + burn) points and returns the last round(ε·n) of them.
//! [`minmax_attack`] runs it for every decoy, in parallel and in a seeded random order, and keeps
//! the poison with the highest minimum test error over the defenses (paper §4.3.2; the reference
//! runs the decoys one after another). For integer data the leading decoys' games are then played
//! again `rounding_trials` − 1 times with fresh roundings (an extension, as the KKT attack's: the
//! rounding steers the game, and one rounding moves the score by a few tenths of a point on
//! Enron). Scored by fewer than the five defenses, the best `shortlist` decoys are scored again by
//! all five and compete on that (as the KKT attack's shortlist).

use std::time::Instant;

use rand::RngExt;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::Decoy;
use super::sweep::{AttackResult, Candidate, Progress, Scored, Sweep, extra_trials, poison_count, scoring};
use crate::data::Dataset;
use crate::defense::EvaluationOptions;
use crate::error::{Error, Result};
use crate::feasible::{FeasibleSet, Method, Repeats, Solution, round_points};
use crate::linalg::dense_dot;
use crate::model::{LinearModel, Loss, Problem, SolverOptions, train};
use crate::rng::seeded;

/// Options of [`minmax_points`].
#[derive(Debug, Clone)]
pub struct MinmaxOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Poison fraction ε: round(εn) points are returned.
    pub eps: f64,
    /// AdaGrad step η (the reference's `eta_mm`, 0.03).
    pub eta: f64,
    /// Burn-in points as a multiple of round(εn) (the reference: max(1, 0.10/ε − 1) on Enron).
    pub burn: f64,
    /// The decoy-loss cap τ (0.25); unused without a decoy.
    pub loss_cap: f64,
    /// Round to integers (count data), each copy independently.
    pub round: bool,
    /// Copies of each round's point: the repeated-points heuristic, which the paper applies to
    /// integer data only (§4.3.2; the reference's `att_rep`, 2, with `round`); 1 by default.
    pub repeats: usize,
    /// Games played for each of the `refine` leading decoys, with fresh roundings, the best kept
    /// (1: the reference's single game).
    pub rounding_trials: usize,
    /// How many leading decoys get the extra games.
    pub refine: usize,
    /// Score every candidate under every scoring defense, for a read per defense; by default a
    /// candidate that can no longer lead is scored no further (the selection is the same).
    pub score_all: bool,
    /// How many of the best decoys (each by its best game) by the scoring defenses are scored
    /// again by all five, the best of them by that score winning, when the scoring defenses are
    /// fewer (binary data); 0 by default (they are all five by default, and fewer for speed).
    pub shortlist: usize,
    /// Refit the feasible set on clean + the last round(εn) points every this many rounds
    /// (iterative optimization, paper Algorithm 1); `None` keeps the set it was given.
    pub refit_every: Option<usize>,
    /// Seed of the rounding (decoy k's game t uses seed + k + t·2³²) and of the decoy order.
    pub seed: u64,
    /// How [`minmax_attack`] scores each decoy's poison (all five defenses, the defender to a
    /// relative gap of 1e-4, by default).
    pub evaluation: EvaluationOptions,
}

impl MinmaxOptions {
    /// The reference's settings at `lambda` and `eps` (Enron's burn-in rule).
    pub fn new(lambda: f64, eps: f64) -> Self {
        let evaluation = scoring(lambda);
        MinmaxOptions {
            lambda,
            eps,
            eta: 0.03,
            burn: super::reference_burn("enron", eps),
            loss_cap: 0.25,
            round: false,
            repeats: 1,
            rounding_trials: 8,
            refine: 4,
            score_all: false,
            shortlist: 0,
            refit_every: None,
            seed: 0,
            evaluation,
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps < 1.0) {
            return Err(Error::option("eps", self.eps, "must lie in (0, 1)"));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(Error::option("lambda", self.lambda, "must be a number ≥ 0"));
        }
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return Err(Error::option("eta", self.eta, "must be a positive number"));
        }
        if !(self.burn >= 0.0 && self.burn.is_finite()) {
            return Err(Error::option("burn", self.burn, "must be a number ≥ 0"));
        }
        if !(self.loss_cap >= 0.0 && self.loss_cap.is_finite()) {
            return Err(Error::option("lossCap", self.loss_cap, "must be a number ≥ 0"));
        }
        for (name, value) in [
            ("repeats", self.repeats),
            ("roundingTrials", self.rounding_trials),
            ("refitEvery", self.refit_every.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(Error::option(name, value, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// A defender the min-max game is played against: the binary SVM ([`LinearModel`]) or the
/// multi-class one ([`MulticlassModel`], [`super::minmax_multiclass`]).
pub trait Player: Sized + Sync {
    /// What the game starts from: the clean defender, with the AdaGrad accumulators its training
    /// ended with where it was trained by AdaGrad (the reference's `train` returns them).
    type Start: Sync;

    /// The clean start.
    fn clean(train_set: &Dataset, options: &MinmaxOptions, should_stop: &dyn Fn() -> bool) -> Result<Self::Start>;

    /// round(εn) poison points from the game that starts at `start`, against `set` plus
    /// `decoy`'s loss caps; the rounding seeded by `seed`.
    fn play(
        start: &Self::Start,
        train_set: &Dataset,
        set: &FeasibleSet,
        decoy: Option<&Self>,
        options: &MinmaxOptions,
        seed: u64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<Dataset>;
}

impl Player for LinearModel {
    type Start = LinearModel;

    fn clean(train_set: &Dataset, options: &MinmaxOptions, should_stop: &dyn Fn() -> bool) -> Result<Self> {
        let problem = Problem::new(train_set, options.lambda, Loss::Hinge, false, None)?;
        Ok(train(&problem, &SolverOptions::default(), None, should_stop)?.model)
    }

    /// The binary game from the clean model `start`, the rounding seeded by `seed`.
    fn play(
        start: &Self,
        train_set: &Dataset,
        set: &FeasibleSet,
        decoy: Option<&Self>,
        options: &MinmaxOptions,
        seed: u64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<Dataset> {
        let problem = Problem::new(train_set, options.lambda, Loss::Hinge, false, None)?;
        let (n, d) = (train_set.n(), set.d());
        let mut set = set.clone();
        if let Some(decoy) = decoy {
            for label in [1, -1] {
                set.add_loss_cap(label, &decoy.w, decoy.bias, options.loss_cap)?;
            }
        }
        // (θ, b): the clean weights, bias 0. The clean objective's gradient at them is the clean
        // hinge subgradient + λθ (the bias unregularized).
        let mut model = LinearModel {
            bias: 0.0,
            ..start.clone()
        };
        let (mut sum_sq, mut bias_sq) = (vec![1.0; d], [1.0]);
        let (count, total) = budget(n, options);
        let mut rng = seeded(seed);
        let mut points: Vec<(Vec<f64>, i32)> = Vec::with_capacity(total + options.repeats);
        let mut sets = GameSets::new(set, 2);
        while points.len() < total {
            if should_stop() {
                return Err(Error::Aborted);
            }
            sets.refit(train_set, &points, count, options)?;
            // The feasible point of highest loss per class; the larger wins (ties: +1).
            let mut best: Option<(f64, Vec<f64>, i32)> = None;
            for (slot, label) in [1, -1].into_iter().enumerate() {
                let y = label as f64;
                let cost: Vec<f64> = model.w.iter().map(|t| y * t).collect();
                let Some(solution) = sets.minimize(slot, label, &cost)? else {
                    continue;
                };
                let loss = 1.0 - solution.value - y * model.bias;
                if best.as_ref().is_none_or(|(l, _, _)| loss > *l) {
                    best = Some((loss, solution.x, label));
                }
            }
            let (_, x, label) = best.ok_or_else(|| sets.all_empty())?;
            points.extend(copies(x, label, options, &mut rng)?);
            // AdaGrad on the clean hinge subgradient + λθ + ε × the last point's subgradient.
            let (mut grad, mut grad_bias) = problem.gradient(&model);
            let (last, y) = points.last().map(|(x, l)| (x, *l as f64)).expect("just appended");
            if 1.0 - y * (dense_dot(last, &model.w) + model.bias) > 0.0 {
                grad.iter_mut().zip(last).for_each(|(g, v)| *g -= options.eps * y * v);
                grad_bias -= options.eps * y;
            }
            adagrad(&mut model.w, &grad, &mut sum_sq, options.eta);
            adagrad(
                std::slice::from_mut(&mut model.bias),
                &[grad_bias],
                &mut bias_sq,
                options.eta,
            );
        }
        last_points(&points, count, train_set)
    }
}

/// The min-max poison against `set` (the clean feasible sets), with the decoy's loss cap if a
/// decoy is given. `should_stop` is polled every round.
pub fn minmax_points<M: Player>(
    train_set: &Dataset,
    set: &FeasibleSet,
    decoy: Option<&M>,
    options: &MinmaxOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<Dataset> {
    options.validate()?;
    poison_count(train_set, options.eps)?;
    let start = M::clean(train_set, options, should_stop)?;
    M::play(&start, train_set, set, decoy, options, options.seed, should_stop)
}

/// The min-max attack: [`minmax_points`] for every decoy (min-max-basic for `None`), each scored
/// on `dev` (the test set, or the clean training set when the attacker does not know it) by the
/// minimum test error over `options.evaluation`'s defenses; the best wins. `progress` is called
/// after every decoy, from the worker threads.
pub fn minmax_attack<M: Player>(
    train_set: &Dataset,
    dev: &Dataset,
    set: &FeasibleSet,
    decoys: Option<&[Decoy<M>]>,
    options: &MinmaxOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let start = Instant::now();
    options.validate()?;
    poison_count(train_set, options.eps)?;
    if decoys.is_some_and(|d| d.is_empty()) {
        return Err(Error::option("decoys", "(none)", "needs at least one decoy"));
    }
    let clean = M::clean(train_set, options, should_stop)?;
    // Work items: decoy indices in a seeded random order, or one basic run.
    let mut order: Vec<Option<usize>> = match decoys {
        Some(decoys) => (0..decoys.len()).map(Some).collect(),
        None => vec![None],
    };
    order.shuffle(&mut seeded(options.seed));
    let extra = if options.round {
        options.refine.min(order.len()) * (options.rounding_trials - 1)
    } else {
        0
    };
    let sweep = Sweep::new(
        (train_set, dev),
        &options.evaluation,
        (start, order.len() + extra),
        (
            if extra > 0 { options.refine.min(order.len()) } else { 0 },
            options.shortlist,
            options.score_all,
        ),
        should_stop,
        progress,
    );
    let n = train_set.n() as f64;
    // Work item `item`'s game number `trial`, scored; None when a solver failed (kept).
    let play = |item: usize, trial: u64| -> Result<Option<Scored>> {
        let decoy = order[item].map(|k| &decoys.expect("indices come from the decoys")[k].model);
        let seed = options
            .seed
            .wrapping_add(order[item].unwrap_or(0) as u64)
            .wrapping_add(trial << 32);
        let poison = match M::play(&clean, train_set, set, decoy, options, seed, should_stop) {
            Ok(poison) => poison,
            Err(error) => {
                let what = || {
                    let game = order[item].map_or("min-max-basic".into(), |k| format!("decoy {k}"));
                    if trial > 0 {
                        format!("{game}, rounding trial {trial}")
                    } else {
                        game
                    }
                };
                sweep.fail(item, what, error)?;
                sweep.tick(None);
                return Ok(None);
            }
        };
        let positives = poison.labels().iter().filter(|&&y| y == 1).count() as f64;
        let candidate = Candidate::new(order[item], positives / n, (poison.n() as f64 - positives) / n);
        sweep.score(item, candidate, poison)
    };
    let outcomes = (0..order.len())
        .into_par_iter()
        .map(|item| play(item, 0))
        .collect::<Result<Vec<_>>>()?;
    let mut outcomes: Vec<Scored> = outcomes.into_iter().flatten().collect();
    if extra > 0 {
        let leaders = sweep.leaders(&outcomes, options.refine.min(order.len()), options.rounding_trials);
        let replayed = extra_trials(leaders.len(), options.rounding_trials)
            .par_iter()
            .map(|&(l, trial)| play(leaders[l], trial))
            .collect::<Result<Vec<_>>>()?;
        outcomes.extend(replayed.into_iter().flatten());
    }
    sweep.shortlist(&mut outcomes)?;
    sweep.conclude(outcomes)
}

/// round(εn) points kept, and round(εn)·(1 + burn) generated in all.
pub(super) fn budget(n: usize, options: &MinmaxOptions) -> (usize, usize) {
    let count = (options.eps * n as f64).round() as usize;
    (count, count + (options.burn * count as f64).round() as usize)
}

/// `repeats` copies of a round's point, each rounded on its own for integer data.
pub(super) fn copies(
    x: Vec<f64>,
    label: i32,
    options: &MinmaxOptions,
    rng: &mut crate::rng::Rng,
) -> Result<Vec<(Vec<f64>, i32)>> {
    if !options.round {
        return Ok(vec![(x, label); options.repeats]);
    }
    let d = x.len();
    let point = Dataset::from_dense(&x, d, vec![label], "min-max point")?;
    let rounded = round_points(&point, Repeats::Independent(options.repeats), rng.random())?;
    Ok((0..options.repeats).map(|i| (rounded.dense_row(i), label)).collect())
}

/// One AdaGrad step: sq += g², w −= η·g/√sq.
pub(super) fn adagrad(w: &mut [f64], g: &[f64], sq: &mut [f64], eta: f64) {
    for ((w, g), sq) in w.iter_mut().zip(g).zip(sq) {
        *sq += g * g;
        *w -= eta * g / sq.sqrt();
    }
}

/// The feasible sets a game plays on, per class with the cutting-plane columns of its last
/// linear minimization (θ moves little between rounds) and, once found, why its set is empty.
pub(super) struct GameSets {
    set: FeasibleSet,
    columns: Vec<Vec<Vec<f64>>>,
    empty: Vec<Option<String>>,
}

impl GameSets {
    pub(super) fn new(set: FeasibleSet, classes: usize) -> Self {
        GameSets {
            set,
            columns: vec![Vec::new(); classes],
            empty: vec![None; classes],
        }
    }

    /// Iterative optimization (paper Algorithm 1) in the game: every `refit_every` rounds the
    /// sets are refitted on clean + the last round(εn) points so far, keeping their halfspaces
    /// (the decoy caps); the columns belong to the old box and are dropped, and an empty set is
    /// tried again.
    pub(super) fn refit(
        &mut self,
        train_set: &Dataset,
        points: &[(Vec<f64>, i32)],
        count: usize,
        options: &MinmaxOptions,
    ) -> Result<()> {
        let round = points.len() / options.repeats;
        if let Some(every) = options.refit_every
            && round > 0
            && round.is_multiple_of(every)
        {
            let tail = last_points(points, count.min(points.len()), train_set)?;
            self.set = self.set.refit(&train_set.concat(&tail)?)?;
            self.columns.iter_mut().for_each(Vec::clear);
            self.empty.iter_mut().for_each(|e| *e = None);
        }
        Ok(())
    }

    /// argmin cost·x over the set of class `label` (the game's class `slot`), or None when that
    /// set is empty: a decoy's loss cap can leave no point in a class's set, and the round's
    /// maximum is then over the other classes' sets (the class sits out until a refit).
    pub(super) fn minimize(&mut self, slot: usize, label: i32, cost: &[f64]) -> Result<Option<Solution>> {
        if self.empty[slot].is_some() {
            return Ok(None);
        }
        match self
            .set
            .minimize_linear_from(cost, label, Method::Fast, &mut self.columns[slot])
        {
            Ok(solution) => Ok(Some(solution)),
            Err(error @ Error::Infeasible { .. }) => {
                self.empty[slot] = Some(error.to_string());
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The game's error when every class's set is empty: it has no point to play.
    pub(super) fn all_empty(&self) -> Error {
        Error::Infeasible {
            what: "every class's feasible set in the game".into(),
            reason: self.empty.iter().flatten().cloned().collect::<Vec<_>>().join("; "),
        }
    }
}

/// The last `count` points as the poison, its labels of the training data's kind.
pub(super) fn last_points(points: &[(Vec<f64>, i32)], count: usize, train_set: &Dataset) -> Result<Dataset> {
    let tail = &points[points.len() - count..];
    let dense: Vec<f64> = tail.iter().flat_map(|(x, _)| x.iter().copied()).collect();
    Dataset::from_dense(&dense, train_set.d(), tail.iter().map(|(_, l)| *l).collect(), "poison")?
        .with_classes(train_set.classes(), "poison")
}
