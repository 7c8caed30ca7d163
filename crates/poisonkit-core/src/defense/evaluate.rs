//! The evaluation harness of the paper (§2.2, eq. 3; digest §2.2): the defender trains on clean +
//! poison with no defense and after each defense has removed its fraction of every class; an attack
//! scores the **minimum** test error over the defenses.
//!
//! Each defense is fitted on clean + poison (the paper's defender) or, as an option, on the clean
//! data alone ("oracle", where the loss defense uses the clean model). Retraining warm-starts from
//! the undefended model's dual variables on the kept points. Data with class indices 0..k−1 get
//! the multi-class defender (Crammer–Singer by AdaGrad, paper §5.7, or exact). The binary defender is the
//! hinge SVM by default; the logistic loss and one pass of SGD are the defenders of paper §6.3.

use std::time::Instant;

use super::{Defender, Defense, Removal, ScoreInput, ScoreOptions, sanitize, scores};
use crate::data::{Classes, Dataset};
use crate::error::{Error, Location, Result};
use crate::model::{
    AdagradOptions, Fit, Loss, MulticlassModel, Problem, SolverOptions, WarmStart, train, train_crammer_singer,
    train_multiclass, train_single_pass,
};

/// Options of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationOptions {
    /// λ of the defender (bias regularized, like the reference's `LinearSVC`).
    pub lambda: f64,
    /// The binary defender's loss: the hinge (the reference's SVM) or the logistic loss (paper
    /// §6.3, Figure 11 right).
    pub loss: Loss,
    /// Train the binary defender by one pass of SGD instead of to its optimum (paper §6.3, Figure
    /// 11 left), in the order given by `solver.seed`.
    pub single_pass: bool,
    /// The defenses to run; defaults to all five.
    pub defenses: Vec<Defense>,
    /// What each defense removes; defaults to 5% of every class.
    pub removal: Removal,
    /// Fit the defenses on the clean data only (the oracle variant); defaults to `false`.
    pub oracle: bool,
    /// How the defenses score.
    pub scores: ScoreOptions,
    /// The defender's solver (tolerance, iterations, seed).
    pub solver: SolverOptions,
    /// The multi-class defender's training (its λ is `lambda` by default).
    pub multiclass: AdagradOptions,
    /// Train the multi-class defender to the optimum at `multiclass.lambda` > 0 (the exact
    /// Crammer–Singer solver, with `solver`'s tolerance, epochs and seed) instead of by AdaGrad.
    pub multiclass_exact: bool,
}

impl EvaluationOptions {
    /// The reference's settings at `lambda` (the binary and the multi-class defender's): all five
    /// defenses, 5% per class, fitted on clean + poison, seed 0.
    pub fn new(lambda: f64) -> Self {
        EvaluationOptions {
            lambda,
            loss: Loss::Hinge,
            single_pass: false,
            defenses: Defense::ALL.to_vec(),
            removal: Removal::Fraction(0.05),
            oracle: false,
            scores: ScoreOptions::default(),
            solver: SolverOptions::default(),
            multiclass: AdagradOptions {
                lambda,
                ..Default::default()
            },
            multiclass_exact: false,
        }
    }

    /// Seeds everything random in an evaluation: the defenses' scores (the randomized SVD), the
    /// binary defender's coordinate order and the multi-class defender's order of points.
    pub fn set_seed(&mut self, seed: u64) {
        self.scores.seed = seed;
        self.solver.seed = seed;
        self.multiclass.seed = seed;
    }
}

/// How one defense did.
#[derive(Debug, Clone)]
pub struct DefenseOutcome {
    /// The defense.
    pub defense: Defense,
    /// Test error of the defender retrained on the kept points.
    pub test_error: f64,
    /// Fraction of the poison points kept (None without poison).
    pub poison_kept: Option<f64>,
    /// Fraction of the clean points kept.
    pub clean_kept: f64,
    /// Whether the retraining converged, and the scores (the SVD defense's eigensolver).
    pub converged: bool,
    /// Seconds spent scoring.
    pub score_seconds: f64,
    /// Seconds spent retraining.
    pub train_seconds: f64,
}

/// The result of [`evaluate`]: test errors are fractions of the test set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Test error with no defense.
    pub none: f64,
    /// Whether the undefended training converged.
    pub none_converged: bool,
    /// One outcome per defense, in the order asked.
    pub defenses: Vec<DefenseOutcome>,
    /// The minimum test error over the defenses (the paper's score); `none` if no defense ran.
    pub min: f64,
    /// Seconds in all.
    pub seconds: f64,
}

/// Scores `poison` (None: clean data only) against the defenses, training on `train` + `poison`
/// and testing on `test`.
pub fn evaluate(
    train_set: &Dataset,
    test: &Dataset,
    poison: Option<&Dataset>,
    options: &EvaluationOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<Evaluation> {
    evaluate_until(train_set, test, poison, options, should_stop, &|_| false)
}

/// [`evaluate`], running the defenses in order until `give_up(minimum so far)` holds after one of
/// them; then `defenses` has only those run, and `min` is an upper bound of the score (an
/// attack's sweep stops scoring a candidate that can no longer lead).
pub fn evaluate_until(
    train_set: &Dataset,
    test: &Dataset,
    poison: Option<&Dataset>,
    options: &EvaluationOptions,
    should_stop: &dyn Fn() -> bool,
    give_up: &dyn Fn(f64) -> bool,
) -> Result<Evaluation> {
    let start = Instant::now();
    options.removal.validate()?;
    if let Some((_, twice)) = (options.defenses.iter().enumerate()).find(|(i, d)| options.defenses[..*i].contains(d)) {
        return Err(Error::option(
            "defenses",
            twice.name(),
            "each defense may be listed once",
        ));
    }
    train_set.check_compatible(test, "test data")?;
    if let Classes::Multiclass(_) = train_set.classes()
        && (options.loss != Loss::Hinge || options.single_pass)
    {
        return Err(Error::option(
            "defender",
            format!(
                "{} loss{}",
                options.loss.name(),
                if options.single_pass { ", single-pass SGD" } else { "" }
            ),
            "the multi-class defender is the Crammer–Singer SVM; the loss and SGD options are for binary data",
        ));
    }
    if let Some(p) = poison {
        train_set.check_compatible(p, "poison")?;
        if p.n() == 0 {
            return Err(Error::parse(
                Location::whole("poison"),
                "no points (omit the poison to evaluate the clean data)",
            ));
        }
    }
    let combined = match poison {
        Some(p) => train_set.concat(p)?,
        None => train_set.clone(),
    };
    let n_clean = train_set.n();
    let fit = |data: &Dataset, warm: Option<(&Trained, &[usize])>| -> Result<(Trained, f64)> {
        let t = Instant::now();
        let trained = match train_set.classes() {
            Classes::Binary => {
                let problem = Problem::new(data, options.lambda, options.loss, true, None)?;
                if options.single_pass {
                    return Ok((
                        Trained::Binary(train_single_pass(&problem, options.solver.seed)),
                        t.elapsed().as_secs_f64(),
                    ));
                }
                // Warm: the undefended model and (for the hinge) its dual variables on the kept
                // points.
                let from = match warm {
                    Some((Trained::Binary(from), kept)) => {
                        let dual =
                            (!from.dual.is_empty()).then(|| kept.iter().map(|&i| from.dual[i]).collect::<Vec<_>>());
                        Some((from, dual))
                    }
                    _ => None,
                };
                let warm = from.as_ref().map(|(from, dual)| WarmStart {
                    model: &from.model,
                    dual: dual.as_deref(),
                });
                Trained::Binary(train(&problem, &options.solver, warm, should_stop)?)
            }
            Classes::Multiclass(k) if options.multiclass_exact => {
                let fit = train_crammer_singer(data, k, options.multiclass.lambda, &options.solver, should_stop)?;
                Trained::Multiclass(fit.model, fit.converged)
            }
            Classes::Multiclass(k) => {
                Trained::Multiclass(train_multiclass(data, k, &options.multiclass, should_stop)?, true)
            }
        };
        Ok((trained, t.elapsed().as_secs_f64()))
    };
    let (undefended, _) = fit(&combined, None)?;
    let none = undefended.error(test)?;
    let clean_model: Option<Trained> = if options.oracle && poison.is_some() {
        Some(fit(train_set, None)?.0)
    } else {
        None
    };
    let input = ScoreInput {
        data: &combined,
        fit_on: if options.oracle { train_set } else { &combined },
        model: clean_model.as_ref().unwrap_or(&undefended).defender(),
    };

    let mut outcomes: Vec<DefenseOutcome> = Vec::with_capacity(options.defenses.len());
    let mut min = f64::INFINITY;
    for &defense in &options.defenses {
        if should_stop() {
            return Err(Error::Aborted);
        }
        let t = Instant::now();
        let (s, scores_converged) = scores(defense, &input, &options.scores, should_stop)?;
        let kept = sanitize(&s, combined.labels(), &options.removal)?;
        let score_seconds = t.elapsed().as_secs_f64();
        let (retrained, train_seconds) =
            fit(&combined.slice(&kept)?, Some((&undefended, &kept))).map_err(|e| match e {
                Error::EmptyClass { class, .. } => Error::EmptyClass {
                    what: format!("the points the {} defense kept", defense.name()),
                    class,
                },
                e => e,
            })?;
        let poison_count = kept.iter().filter(|&&i| i >= n_clean).count();
        let test_error = retrained.error(test)?;
        min = min.min(test_error);
        outcomes.push(DefenseOutcome {
            defense,
            test_error,
            poison_kept: poison.map(|p| poison_count as f64 / p.n() as f64),
            clean_kept: (kept.len() - poison_count) as f64 / n_clean as f64,
            converged: scores_converged && retrained.converged(),
            score_seconds,
            train_seconds,
        });
        if outcomes.len() < options.defenses.len() && give_up(min) {
            break;
        }
    }
    Ok(Evaluation {
        none,
        none_converged: undefended.converged(),
        min: if outcomes.is_empty() { none } else { min },
        defenses: outcomes,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A defender trained by [`evaluate`]: binary (with its dual variables, for warm starts) or
/// multi-class (with whether it converged).
enum Trained {
    Binary(Fit),
    Multiclass(MulticlassModel, bool),
}

impl Trained {
    fn defender(&self) -> Defender<'_> {
        match self {
            Trained::Binary(fit) => Defender::Binary(&fit.model),
            Trained::Multiclass(model, _) => Defender::Multiclass(model),
        }
    }

    fn error(&self, test: &Dataset) -> Result<f64> {
        match self {
            Trained::Binary(fit) => fit.model.error(test),
            Trained::Multiclass(model, _) => model.error(test),
        }
    }

    /// Whether training met its tolerance (AdaGrad runs a fixed budget: true).
    fn converged(&self) -> bool {
        match self {
            Trained::Binary(fit) => fit.converged,
            Trained::Multiclass(_, converged) => *converged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BlobsOptions, make_blobs};

    #[test]
    fn evaluate_until_stops_after_the_defense_that_gives_up() {
        let data = |n, seed| {
            make_blobs(&BlobsOptions {
                n,
                d: 5,
                separation: 2.0,
                seed,
                ..Default::default()
            })
            .unwrap()
        };
        let (train_set, test, poison) = (data(300, 1), data(200, 2), data(15, 3));
        let options = EvaluationOptions::new(0.05);
        let full = evaluate(&train_set, &test, Some(&poison), &options, &|| false).unwrap();
        assert_eq!(full.defenses.len(), 5);
        let twice = EvaluationOptions {
            defenses: vec![Defense::L2, Defense::Loss, Defense::L2],
            ..options.clone()
        };
        let err = evaluate(&train_set, &test, Some(&poison), &twice, &|| false).unwrap_err();
        assert_eq!(err.to_string(), "option defenses = l2: each defense may be listed once");
        // Giving up once the minimum falls to the second defense's error or below.
        let second = full.defenses[0].test_error.min(full.defenses[1].test_error);
        let asked = std::sync::Mutex::new(Vec::new());
        let cut = evaluate_until(&train_set, &test, Some(&poison), &options, &|| false, &|min| {
            asked.lock().unwrap().push(min);
            min <= second
        })
        .unwrap();
        let ran = cut.defenses.len();
        assert!((1..=2).contains(&ran), "{ran} defenses run");
        assert_eq!(*asked.lock().unwrap().last().unwrap(), cut.min);
        assert!(cut.min <= second);
        for (a, b) in cut.defenses.iter().zip(&full.defenses) {
            assert_eq!((a.defense, a.test_error), (b.defense, b.test_error));
        }
        assert_eq!(cut.none, full.none);
        // Never giving up is the full evaluation; the last defense is never followed by a question.
        let asked = std::sync::Mutex::new(0);
        let all = evaluate_until(&train_set, &test, Some(&poison), &options, &|| false, &|_| {
            *asked.lock().unwrap() += 1;
            false
        })
        .unwrap();
        assert_eq!(all.min, full.min);
        assert_eq!(*asked.lock().unwrap(), 4);
    }
}
