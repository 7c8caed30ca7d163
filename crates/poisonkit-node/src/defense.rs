//! The evaluation harness (an AsyncTask): test error with no defense and under each defense.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::data;
use poisonkit_core::defense::{self, Defense, EvaluationOptions, KnnRule, LossScore, Removal, SvdRule};
use poisonkit_core::model::{Loss, check_exact_lambda};

use crate::dataset::Dataset;
use crate::guard::{Cancel, count, guard, js_error};

#[napi(object)]
#[derive(Default)]
pub struct EvaluateOptions {
    pub lambda: f64,
    pub loss: Option<String>,
    pub optimizer: Option<String>,
    pub defenses: Option<Vec<String>>,
    pub remove_fraction: Option<f64>,
    pub thresholds: Option<Vec<ClassThreshold>>,
    pub fit: Option<String>,
    pub loss_score: Option<String>,
    pub knn_k: Option<f64>,
    pub knn_rule: Option<String>,
    pub svd_rule: Option<String>,
    pub seed: Option<f64>,
    pub tol: Option<f64>,
}

#[napi(object)]
pub struct ClassThreshold {
    pub label: i32,
    pub tau: f64,
}

#[napi(object)]
pub struct DefenseOutcome {
    pub defense: String,
    pub test_error: f64,
    pub poison_kept: Option<f64>,
    pub clean_kept: f64,
    pub converged: bool,
    pub score_seconds: f64,
    pub train_seconds: f64,
}

#[napi(object)]
pub struct EvaluationResult {
    pub none: f64,
    pub none_converged: bool,
    pub defenses: Vec<DefenseOutcome>,
    pub min: f64,
    pub seconds: f64,
}

pub(crate) fn choice<T: Copy>(name: &str, value: Option<&str>, default: T, allowed: &[(&str, T)]) -> Result<T> {
    match value {
        None => Ok(default),
        Some(v) => allowed.iter().find(|(n, _)| *n == v).map(|(_, t)| *t).ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            js_error(
                "ERR_INVALID_OPTION",
                format!("option {name} = {v}: must be one of {}", names.join(", ")),
            )
        }),
    }
}

/// The evaluation's options; for multi-class data the defender is the multi-class SVM, whose λ
/// may be 0 (the paper's MNIST model), and the defenses default to L2 and loss (paper §5.7).
pub(crate) fn evaluation_options(o: &EvaluateOptions, multiclass: bool) -> Result<EvaluationOptions> {
    let mut options = EvaluationOptions::new(o.lambda);
    if !((o.lambda > 0.0 || (multiclass && o.lambda == 0.0)) && o.lambda.is_finite()) {
        let rule = if multiclass {
            "a number ≥ 0"
        } else {
            "a positive number"
        };
        return Err(js_error(
            "ERR_INVALID_OPTION",
            format!("option lambda = {}: must be {rule}", o.lambda),
        ));
    }
    options.loss = choice(
        "loss",
        o.loss.as_deref(),
        Loss::Hinge,
        &[("hinge", Loss::Hinge), ("logistic", Loss::Logistic)],
    )?;
    // (multi-class exact, binary single pass); the first choice of each kind is its default.
    let optimizers: &[(&str, (bool, bool))] = if multiclass {
        &[("adagrad", (false, false)), ("exact", (true, false))]
    } else {
        &[("exact", (false, false)), ("sgd", (false, true))]
    };
    (options.multiclass_exact, options.single_pass) =
        choice("optimizer", o.optimizer.as_deref(), (false, false), optimizers)?;
    if options.multiclass_exact {
        guard(|| check_exact_lambda(o.lambda))?;
    }
    if let Some(names) = &o.defenses {
        options.defenses = names
            .iter()
            .map(|n| guard(|| Defense::parse(n)))
            .collect::<Result<Vec<_>>>()?;
    } else if multiclass {
        options.defenses = vec![Defense::L2, Defense::Loss];
    }
    match (o.remove_fraction, &o.thresholds) {
        (Some(_), Some(_)) => {
            return Err(js_error(
                "ERR_INVALID_OPTION",
                "options removeFraction and thresholds: give one or the other",
            ));
        }
        (Some(p), None) => options.removal = Removal::Fraction(p),
        (None, Some(t)) => options.removal = Removal::Threshold(t.iter().map(|c| (c.label, c.tau)).collect()),
        (None, None) => {}
    }
    guard(|| options.removal.validate())?;
    options.oracle = choice(
        "fit",
        o.fit.as_deref(),
        false,
        &[("empirical", false), ("oracle", true)],
    )?;
    options.scores.loss = choice(
        "lossScore",
        o.loss_score.as_deref(),
        LossScore::Margin,
        &[
            ("margin", LossScore::Margin),
            ("hinge", LossScore::Hinge),
            ("logistic", LossScore::Logistic),
        ],
    )?;
    options.scores.knn_rule = choice(
        "knnRule",
        o.knn_rule.as_deref(),
        KnnRule::Sum,
        &[("sum", KnnRule::Sum), ("kth", KnnRule::Kth)],
    )?;
    options.scores.svd_rule = choice(
        "svdRule",
        o.svd_rule.as_deref(),
        SvdRule::Reference,
        &[("reference", SvdRule::Reference), ("paper", SvdRule::Paper)],
    )?;
    if let Some(k) = o.knn_k {
        options.scores.knn_k = count("knnK", k)?;
    }
    if let Some(seed) = o.seed {
        options.set_seed(count("seed", seed)? as u64);
    }
    if let Some(tol) = o.tol {
        options.solver.tol = tol;
    }
    Ok(options)
}

pub struct EvaluateTask {
    train: Arc<data::Dataset>,
    test: Arc<data::Dataset>,
    poison: Option<Arc<data::Dataset>>,
    options: EvaluationOptions,
    cancel: Cancel,
}

#[napi]
impl Task for EvaluateTask {
    type Output = defense::Evaluation;
    type JsValue = EvaluationResult;

    fn compute(&mut self) -> Result<Self::Output> {
        let cancel = self.cancel.clone();
        guard(|| {
            defense::evaluate(
                &self.train,
                &self.test,
                self.poison.as_deref(),
                &self.options,
                &move || cancel.is_set(),
            )
        })
    }

    fn resolve(&mut self, _env: Env, e: Self::Output) -> Result<Self::JsValue> {
        Ok(e.into())
    }
}

impl From<defense::Evaluation> for EvaluationResult {
    fn from(e: defense::Evaluation) -> Self {
        EvaluationResult {
            none: e.none,
            none_converged: e.none_converged,
            defenses: e
                .defenses
                .into_iter()
                .map(|o| DefenseOutcome {
                    defense: o.defense.name().to_string(),
                    test_error: o.test_error,
                    poison_kept: o.poison_kept,
                    clean_kept: o.clean_kept,
                    converged: o.converged,
                    score_seconds: o.score_seconds,
                    train_seconds: o.train_seconds,
                })
                .collect(),
            min: e.min,
            seconds: e.seconds,
        }
    }
}

#[napi(ts_return_type = "Promise<EvaluationResult>")]
pub fn evaluate(
    train: &Dataset,
    test: &Dataset,
    poison: Option<&Dataset>,
    options: EvaluateOptions,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<EvaluateTask>> {
    let multiclass = matches!(train.inner.classes(), poisonkit_core::data::Classes::Multiclass(_));
    let options = evaluation_options(&options, multiclass)?;
    let cancel = Cancel::from_signal(signal.as_ref());
    let task = EvaluateTask {
        train: train.inner.clone(),
        test: test.inner.clone(),
        poison: poison.map(|p| p.inner.clone()),
        options,
        cancel,
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}
