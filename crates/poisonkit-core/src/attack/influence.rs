//! The influence attack (paper §4.1, Algorithm 2; digest §6, the reference's
//! `run_gradient_em_attack.py`): gradient ascent on the poison's features through the implicit
//! function theorem. Each step trains the defender's smoothed-hinge model (t = 0.001, bias
//! regularized; Newton-CG polishing the hinge SVM's solution) on clean + poison, takes the
//! gradient g of the mean smoothed test loss, solves H·u = g by conjugate gradients on exact
//! Hessian-vector products (no d×d matrix), moves every distinct poison point x of label y by
//! −η·∂/∂x[∇_θℓ(θ; x, y)ᵀu] (the direction that raises the test loss) and projects it back onto
//! its class's feasible set.
//!
//! - **influence** (§4.1.2): two distinct points started from random feasible label flips (a clean
//!   negative point relabelled +1, a clean positive relabelled −1), with the round(εn) copies split
//!   in inverse class balance (Enron: 88 and 36);
//! - **influence-basic** (§4.1.1): round(εn) separate points, random feasible label flips of clean
//!   points drawn with replacement.
//!
//! A flip is feasible when the point lies in its new class's feasible set. It stops after
//! `patience` checks of the smoothed test loss (one every `check_every` steps) without a new best,
//! or after `max_iter` steps (the reference: every 10 steps, 2 checks). With `refit_every` = k the
//! feasible set is refitted on clean + poison every k steps (iterative optimization, Algorithm 1,
//! digest §7.2). Every `score_every` steps and at the stop, the poison (rounded for count data,
//! `repeats` copies sharing a rounding as the reference's `rround_with_repeats`) is scored by the
//! defenses: that is the anytime curve, and the best-scored snapshot is the result. One trajectory
//! runs per step size, in parallel: the reference fixes η = 0.1, the paper picks it on the test set.
//! For count data the `refine` leading snapshots are then rounded afresh `rounding_trials` − 1
//! times and scored again (as the KKT and min-max attacks: one rounding moves the score by about
//! half a point on Enron). Scored by fewer than the five defenses, the best `shortlist` snapshots
//! are scored again by all five and compete on that (as the KKT attack's shortlist).

use std::time::Instant;

use rand::RngExt;
use rayon::prelude::*;

use super::labelflip::flip_pool;
use super::sweep::{AttackResult, Candidate, Progress, Scored, Sweep, extra_trials, poison_count, scoring};
use crate::data::Dataset;
use crate::defense::EvaluationOptions;
use crate::error::{Error, Result};
use crate::feasible::{FeasibleSet, Repeats, round_points};
use crate::linalg::dense_dot;
use crate::model::{Fit, LinearModel, Loss, Problem, SolverOptions, WarmStart, train};
use crate::rng::seeded;

/// Options of [`influence_attack`].
#[derive(Debug, Clone)]
pub struct InfluenceOptions {
    /// The defender's λ.
    pub lambda: f64,
    /// Poison fraction ε: round(εn) points.
    pub eps: f64,
    /// influence-basic: round(εn) separate points instead of two with copies.
    pub basic: bool,
    /// The smoothed hinge's temperature t (the reference's 0.001).
    pub temperature: f64,
    /// One trajectory per step size η; the best-scored snapshot of any of them wins.
    pub step_sizes: Vec<f64>,
    /// At most this many gradient steps per trajectory.
    pub max_iter: usize,
    /// Steps between two readings of the smoothed test loss (the reference's 10).
    pub check_every: usize,
    /// Stop after this many readings in a row without a new highest test loss (the reference's 2).
    pub patience: usize,
    /// Refit the feasible set on clean + poison every this many steps (Algorithm 1); `None` keeps
    /// the set it was given.
    pub refit_every: Option<usize>,
    /// Steps between two scorings of the poison by the defenses.
    pub score_every: usize,
    /// Round to integers (count data).
    pub round: bool,
    /// Copies sharing one rounding (the paper's repeated points; the reference's post-processing
    /// uses 1, which the SVD defense catches on Enron: 11% against 19% with 2).
    pub repeats: usize,
    /// Roundings tried for each of the `refine` leading snapshots after the trajectories, the best
    /// kept (count data; 1: one rounding per snapshot).
    pub rounding_trials: usize,
    /// How many leading snapshots get the extra roundings.
    pub refine: usize,
    /// Score every candidate under every scoring defense, for a read per defense; by default a
    /// candidate that can no longer lead is scored no further (the selection is the same).
    pub score_all: bool,
    /// How many of the best snapshots (each by its best rounding) by the scoring defenses are
    /// scored again by all five, the best of them by that score winning, when the scoring
    /// defenses are fewer; 0 by default (they are all five by default, and fewer for speed).
    pub shortlist: usize,
    /// Seed of the initial label flips and of the roundings.
    pub seed: u64,
    /// The in-loop training (the reference: Newton-CG, at most 100 steps).
    pub solver: SolverOptions,
    /// CG steps of H⁻¹g (the reference: 100) and its relative residual.
    pub cg_max_iter: usize,
    /// The relative residual at which CG stops.
    pub cg_tol: f64,
    /// How the poison is scored (all five defenses, the defender to a relative gap of 1e-4).
    pub evaluation: EvaluationOptions,
}

impl InfluenceOptions {
    /// The reference's settings at `lambda` and `eps`, with a step-size search over its 0.1 and 0.3
    /// and pairs of copies sharing a rounding.
    pub fn new(lambda: f64, eps: f64) -> Self {
        let evaluation = scoring(lambda);
        InfluenceOptions {
            lambda,
            eps,
            basic: false,
            temperature: 0.001,
            step_sizes: vec![0.1, 0.3],
            max_iter: 10_000,
            check_every: 10,
            patience: 2,
            refit_every: None,
            score_every: 50,
            round: false,
            repeats: 2,
            rounding_trials: 8,
            refine: 4,
            score_all: false,
            shortlist: 0,
            seed: 0,
            solver: SolverOptions {
                tol: 1e-8,
                max_iter: 100,
                seed: 0,
            },
            cg_max_iter: 100,
            cg_tol: 1e-6,
            evaluation,
        }
    }

    /// Snapshots a trajectory scores at most: steps 0, `score_every`, … and the last (a stop at
    /// step s scores ⌈s / score_every⌉ + 1).
    fn snapshots(&self) -> usize {
        self.max_iter.div_ceil(self.score_every) + 1
    }

    fn validate(&self) -> Result<()> {
        if !(self.eps > 0.0 && self.eps < 1.0) {
            return Err(Error::option("eps", self.eps, "must lie in (0, 1)"));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(Error::option(
                "temperature",
                self.temperature,
                "must be a positive number",
            ));
        }
        if self.step_sizes.is_empty() {
            return Err(Error::option("stepSizes", "[]", "must name at least one step size"));
        }
        if let Some(s) = self.step_sizes.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            return Err(Error::option("stepSizes", s, "must be positive numbers"));
        }
        for (name, value) in [
            ("checkEvery", self.check_every),
            ("patience", self.patience),
            ("scoreEvery", self.score_every),
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

/// The distinct poison points, their labels and how many copies each stands for.
#[derive(Debug, Clone)]
struct Poison {
    points: Vec<Vec<f64>>,
    labels: Vec<i32>,
    copies: Vec<usize>,
}

impl Poison {
    /// The distinct points as rows (one each).
    fn distinct(&self, d: usize) -> Result<Dataset> {
        Dataset::from_dense(&self.points.concat(), d, self.labels.clone(), "poison points")
    }

    /// Clean + the distinct points, and the weights of the training objective: 1 per clean point,
    /// the copy count per poison point.
    fn with_clean(&self, train_set: &Dataset) -> Result<(Dataset, Vec<f64>)> {
        let data = train_set.concat(&self.distinct(train_set.d())?)?;
        let weights = std::iter::repeat_n(1.0, train_set.n())
            .chain(self.copies.iter().map(|&c| c as f64))
            .collect();
        Ok((data, weights))
    }

    /// Every copy as a row, rounded for count data (`repeats` copies sharing a rounding).
    fn expanded(&self, d: usize, round: Option<(usize, u64)>) -> Result<Dataset> {
        let group = round.map_or(1, |(r, _)| r);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for ((x, &y), &c) in self.points.iter().zip(&self.labels).zip(&self.copies) {
            for _ in 0..c.div_ceil(group) {
                rows.extend_from_slice(x);
                labels.push(y);
            }
        }
        let points = Dataset::from_dense(&rows, d, labels, "poison points")?;
        let Some((r, seed)) = round else {
            return Ok(points);
        };
        // Rounded in groups of r, then each point's surplus copies (its last group) dropped.
        let rounded = round_points(&points, Repeats::Shared(r), seed)?;
        let mut keep = Vec::new();
        let mut row = 0;
        for &c in &self.copies {
            keep.extend(row..row + c);
            row += c.div_ceil(r) * r;
        }
        rounded.slice(&keep)
    }
}

/// The starting poison: random feasible label flips of clean points (paper Appendix B, digest §6).
fn initial_poison(train_set: &Dataset, set: &FeasibleSet, options: &InfluenceOptions) -> Result<Poison> {
    let m = poison_count(train_set, options.eps)?;
    let pool = flip_pool(train_set, set)?;
    let mut rng = seeded(options.seed);
    if options.basic {
        let rows: Vec<usize> = (0..m).map(|_| rng.random_range(0..pool.n())).collect();
        return Ok(Poison {
            points: rows.iter().map(|&i| pool.dense_row(i)).collect(),
            labels: rows.iter().map(|&i| pool.labels()[i]).collect(),
            copies: vec![1; m],
        });
    }
    let negatives = train_set.labels().iter().filter(|&&y| y == -1).count();
    let num_pos = (negatives as f64 / train_set.n() as f64 * m as f64).round() as usize;
    let mut poison = Poison {
        points: Vec::new(),
        labels: Vec::new(),
        copies: Vec::new(),
    };
    for (label, copies) in [(1, num_pos), (-1, m - num_pos)] {
        if copies == 0 {
            continue;
        }
        let rows: Vec<usize> = (0..pool.n()).filter(|&i| pool.labels()[i] == label).collect();
        if rows.is_empty() {
            return Err(Error::Infeasible {
                what: format!("the label flips of class {} to {label}", -label),
                reason: format!(
                    "no clean point of class {} lies in class {label}'s feasible set",
                    -label
                ),
            });
        }
        poison
            .points
            .push(pool.dense_row(rows[rng.random_range(0..rows.len())]));
        poison.labels.push(label);
        poison.copies.push(copies);
    }
    Ok(poison)
}

/// The gradient of the mean loss over `data` in (w, b), no regularizer.
fn mean_loss_gradient(model: &LinearModel, data: &Dataset, loss: Loss) -> (Vec<f64>, f64) {
    let mut g = vec![0.0; data.d()];
    let mut gb = 0.0;
    let scale = 1.0 / data.n() as f64;
    for i in 0..data.n() {
        let y = data.labels()[i] as f64;
        let a = scale * loss.derivative(y * (data.row_dot(i, &model.w) + model.bias)) * y;
        if a != 0.0 {
            data.row_axpy(i, a, &mut g);
            gb += a;
        }
    }
    (g, gb)
}

/// ∂/∂x [∇_θℓ(θ; x, y)ᵀu] for a margin loss: ℓ'(m)·y·u_w + ℓ''(m)·(u_w·x + u_b)·w, m = y(w·x + b).
fn influence_gradient(model: &LinearModel, loss: Loss, x: &[f64], y: f64, u: &[f64], ub: f64) -> Vec<f64> {
    let m = y * (dense_dot(&model.w, x) + model.bias);
    let (d1, d2) = (loss.derivative(m), loss.second_derivative(m));
    let along_w = d2 * (dense_dot(u, x) + ub);
    u.iter().zip(&model.w).map(|(u, w)| d1 * y * u + along_w * w).collect()
}

/// Runs the influence attack: one trajectory per step size, each scored every `score_every` steps
/// on `dev` (the test set, or the clean training set when the attacker does not know it), the
/// best-scored snapshot kept. `progress` is called after every scoring, from the worker threads.
pub fn influence_attack(
    train_set: &Dataset,
    dev: &Dataset,
    set: &FeasibleSet,
    options: &InfluenceOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AttackResult> {
    let start = Instant::now();
    options.validate()?;
    train_set.require_both_classes("training data")?;
    crate::error::check_len("dev data: number of features", train_set.d(), dev.d())?;
    let initial = initial_poison(train_set, set, options)?;
    let extra = if options.round {
        options.refine * (options.rounding_trials - 1)
    } else {
        0
    };
    let sweep = Sweep::new(
        (train_set, dev),
        &options.evaluation,
        (start, options.snapshots() * options.step_sizes.len() + extra),
        (
            if extra > 0 { options.refine } else { 0 },
            options.shortlist,
            options.score_all,
        ),
        should_stop,
        progress,
    );
    // One thread per trajectory, not a rayon task: a trajectory runs for minutes, and would hold a
    // worker of the shared pool (and delay other work's abort) all that time.
    let trajectories: Vec<Result<Vec<(Scored, Poison)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (options.step_sizes.iter().enumerate())
            .map(|(k, &step)| {
                let (initial, sweep) = (&initial, &sweep);
                scope.spawn(move || {
                    let mut trail = Trail::default();
                    let outcome = trajectory(train_set, dev, set, initial, (step, k), options, sweep, &mut trail);
                    // A solver failure ends the trajectory: its snapshots so far stand.
                    if let Err(error) = outcome {
                        let item = k * options.snapshots() + trail.snapshots;
                        sweep.fail(item, || format!("step size {step}, step {}", trail.iteration), error)?;
                        sweep.forfeit(options.snapshots() - trail.snapshots);
                    }
                    Ok(trail.scored)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let snapshots: Vec<(Scored, Poison)> = trajectories
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let (mut outcomes, points): (Vec<Scored>, Vec<Poison>) = snapshots.into_iter().unzip();
    // Fresh roundings of the leading snapshots' points.
    if extra > 0 {
        let leaders: Vec<usize> = sweep
            .leaders(&outcomes, options.refine, options.rounding_trials)
            .into_iter()
            .map(|item| {
                outcomes
                    .iter()
                    .position(|o| o.item == item)
                    .expect("a leader is an outcome")
            })
            .collect();
        let refined = extra_trials(leaders.len(), options.rounding_trials)
            .par_iter()
            .map(|&(i, trial)| {
                let l = leaders[i];
                let seed = rounding_seed(options, outcomes[l].item, trial);
                let poison = points[l].expanded(train_set.d(), Some((options.repeats, seed)))?;
                sweep.score(outcomes[l].item, outcomes[l].candidate.clone(), poison)
            })
            .collect::<Result<Vec<_>>>()?;
        outcomes.extend(refined.into_iter().flatten());
    }
    sweep.shortlist(&mut outcomes)?;
    sweep.conclude(outcomes)
}

/// The seed of snapshot `item`'s rounding number `trial`.
fn rounding_seed(options: &InfluenceOptions, item: usize, trial: u64) -> u64 {
    options.seed.wrapping_add(item as u64).wrapping_add(trial << 32)
}

/// A trajectory so far: its scored snapshots, how many it took, and its step.
#[derive(Default)]
struct Trail {
    scored: Vec<(Scored, Poison)>,
    snapshots: usize,
    iteration: usize,
}

/// One trajectory at step size `step` (the `k`-th), into `trail`.
#[allow(clippy::too_many_arguments)]
fn trajectory(
    train_set: &Dataset,
    dev: &Dataset,
    base: &FeasibleSet,
    initial: &Poison,
    (step, k): (f64, usize),
    options: &InfluenceOptions,
    sweep: &Sweep,
    trail: &mut Trail,
) -> Result<()> {
    let (n, d) = (train_set.n(), train_set.d());
    let loss = Loss::SmoothHinge { t: options.temperature };
    let mut poison = initial.clone();
    let mut set = base.clone();
    let mut hinge_fit: Option<Fit> = None;
    let mut best_loss = f64::NEG_INFINITY;
    let mut stale = 0;
    let per_trajectory = options.snapshots();
    let count_of = |label: i32| {
        let c: usize = (poison.labels.iter().zip(&poison.copies))
            .filter(|(y, _)| **y == label)
            .map(|(_, c)| c)
            .sum();
        c as f64 / n as f64
    };
    let (eps_pos, eps_neg) = (count_of(1), count_of(-1));
    let mut iteration: usize = 0;
    loop {
        trail.iteration = iteration;
        if (sweep.should_stop)() {
            return Err(Error::Aborted);
        }
        if let Some(every) = options.refit_every
            && iteration > 0
            && iteration.is_multiple_of(every)
        {
            set = base.refit(&train_set.concat(&poison.expanded(d, None)?)?)?;
        }
        // Newton on the smoothed hinge (t = 0.001) crosses changes of the margin's active set
        // slowly (IMDB: 20–40 steps after a move of the poison, none converged from 0 in 100), but
        // polishes the hinge SVM's solution in a few: dual coordinate descent, warm-started from
        // the last step's dual, finds that first.
        let (data, weights) = poison.with_clean(train_set)?;
        let hinge = Problem::new(&data, options.lambda, Loss::Hinge, true, Some(&weights))?;
        let warm = hinge_fit.as_ref().map(|f| WarmStart {
            model: &f.model,
            dual: Some(&f.dual),
        });
        let fit = train(&hinge, &SolverOptions::default(), warm, sweep.should_stop)?;
        let problem = Problem::new(&data, options.lambda, loss, true, Some(&weights))?;
        let polish = WarmStart {
            model: &fit.model,
            dual: None,
        };
        let fitted = train(&problem, &options.solver, Some(polish), sweep.should_stop)?.model;
        hinge_fit = Some(fit);

        // The stopping rule: the smoothed test loss, read every `check_every` steps.
        let mut stop = iteration >= options.max_iter;
        if iteration > 0 && (iteration.is_multiple_of(options.check_every) || stop) {
            let test_loss = fitted.mean_loss(dev, loss)?;
            if test_loss > best_loss {
                best_loss = test_loss;
                stale = 0;
            } else {
                stale += 1;
                stop |= stale >= options.patience;
            }
        }
        if iteration.is_multiple_of(options.score_every) || stop {
            let item = k * per_trajectory + trail.snapshots;
            trail.snapshots += 1;
            let seed = rounding_seed(options, item, 0);
            let snapshot = poison.expanded(d, options.round.then_some((options.repeats, seed)))?;
            let candidate = Candidate {
                step_size: Some(step),
                iteration: Some(iteration),
                ..Candidate::new(None, eps_pos, eps_neg)
            };
            if let Some(outcome) = sweep.score(item, candidate, snapshot)? {
                trail.scored.push((outcome, poison.clone()));
            }
        }
        if stop {
            sweep.forfeit(per_trajectory - trail.snapshots);
            return Ok(());
        }

        // The step: u = H⁻¹g_test, then each distinct point against ∂/∂x[∇_θℓᵀu], projected.
        let (g, gb) = mean_loss_gradient(&fitted, dev, loss);
        let cg = problem.inverse_hessian_product(&fitted, &g, gb, options.cg_tol, options.cg_max_iter)?;
        for (x, &y) in poison.points.iter_mut().zip(&poison.labels) {
            let grad = influence_gradient(&fitted, loss, x, y as f64, &cg.u, cg.ub);
            let moved: Vec<f64> = x.iter().zip(&grad).map(|(x, g)| x - step * g).collect();
            *x = set.project(&moved, y)?.x;
        }
        iteration += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BagOfWordsOptions, make_bag_of_words};

    /// The step direction is the implicit-function derivative of the test loss: for one poison
    /// point of weight c, dL_test/dx = −(c/N)·∂/∂x[∇_θℓᵀH⁻¹g], checked against retraining at x ± h.
    #[test]
    fn influence_gradient_matches_finite_differences_of_retraining() {
        let all = make_bag_of_words(&BagOfWordsOptions {
            n: 120,
            d: 6,
            doc_length: 10.0,
            signal: 0.4,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let rows: Vec<usize> = (0..120).collect();
        let (clean, test) = (all.slice(&rows[..80]).unwrap(), all.slice(&rows[80..]).unwrap());
        let loss = Loss::SmoothHinge { t: 0.5 };
        let weight = 5.0;
        let x0 = vec![1.0, 2.0, 0.5, 1.5, 0.0, 3.0];
        let solver = SolverOptions {
            tol: 1e-14,
            max_iter: 200,
            seed: 0,
        };
        let fit_with = |x: &[f64]| {
            let data = clean
                .concat(&Dataset::from_dense(x, 6, vec![-1], "p").unwrap())
                .unwrap();
            let weights: Vec<f64> = std::iter::repeat_n(1.0, 80).chain([weight]).collect();
            let problem = Problem::new(&data, 0.1, loss, true, Some(&weights)).unwrap();
            let model = train(&problem, &solver, None, &|| false).unwrap().model;
            let (g, gb) = mean_loss_gradient(&model, &test, loss);
            let cg = problem.inverse_hessian_product(&model, &g, gb, 1e-12, 100).unwrap();
            (
                model.mean_loss(&test, loss).unwrap(),
                influence_gradient(&model, loss, x, -1.0, &cg.u, cg.ub),
            )
        };
        let (_, grad) = fit_with(&x0);
        let n_total = 80.0 + weight;
        assert!(grad.iter().any(|g| g.abs() > 1e-2), "a non-trivial gradient: {grad:?}");
        for j in 0..6 {
            let h = 1e-4;
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[j] += h;
            down[j] -= h;
            let numeric = (fit_with(&up).0 - fit_with(&down).0) / (2.0 * h);
            let predicted = -weight / n_total * grad[j];
            assert!(
                (numeric - predicted).abs() <= 1e-5 + 1e-3 * numeric.abs(),
                "feature {j}: retraining gives {numeric}, the influence {predicted}"
            );
        }
    }

    #[test]
    fn copies_share_roundings_in_groups_and_keep_their_count() {
        let poison = Poison {
            points: vec![vec![0.5, 1.5], vec![2.25, 0.0]],
            labels: vec![1, -1],
            copies: vec![5, 2],
        };
        let rounded = poison.expanded(2, Some((2, 7))).unwrap();
        assert_eq!(rounded.labels(), &[1, 1, 1, 1, 1, -1, -1]);
        let rows: Vec<Vec<f64>> = (0..7).map(|i| rounded.dense_row(i)).collect();
        assert!(rows.iter().flatten().all(|v| v.fract() == 0.0));
        assert_eq!(rows[0], rows[1]);
        assert_eq!(rows[2], rows[3]);
        assert_eq!(rows[5], rows[6]);
        let plain = poison.expanded(2, None).unwrap();
        assert_eq!(plain.dense_row(4), vec![0.5, 1.5]);
    }
}
