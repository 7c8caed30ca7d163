//! The KKT attack (an AsyncTask): decoys, the sweep and its progress, which a JS timer polls from
//! an `AttackProgress` (no JS callback is ever called from the worker threads).

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::attack::{self, DecoyOptions, KktOptions, KktProgress, KktResult, Knowledge};
use poisonkit_core::data;
use poisonkit_core::defense::Defense;
use poisonkit_core::feasible::{self, FeasibleOptions, Upper};
use poisonkit_core::model::SolverOptions;

use crate::dataset::Dataset;
use crate::defense::{EvaluationResult, choice};
use crate::feasible::{FeasibleSet, parse_upper};
use crate::guard::{Cancel, count, guard, js_error};

#[napi(object)]
#[derive(Default)]
pub struct KktAttackOptions {
    pub lambda: f64,
    pub eps: f64,
    pub knowledge: Option<String>,
    pub grid: Option<String>,
    pub quantiles: Option<Vec<f64>>,
    pub copies: Option<Vec<f64>>,
    pub prune: Option<bool>,
    pub round: Option<bool>,
    pub repeats: Option<f64>,
    pub rounding_trials: Option<f64>,
    pub refine: Option<f64>,
    pub loss_percentile: Option<f64>,
    /// A number, or "column-max".
    pub upper: Option<Either<f64, String>>,
    pub defenses: Option<Vec<String>>,
    pub seed: Option<f64>,
}

#[napi(object)]
#[derive(Clone, Default)]
pub struct ProgressSnapshot {
    /// `decoys` while the decoy parameters are fitted, then `candidates`.
    pub phase: String,
    pub done: u32,
    pub total: u32,
    pub best: f64,
    pub seconds: f64,
}

/// Where a running attack is; the TypeScript layer polls it to drive `onProgress`.
#[napi]
pub struct AttackProgress {
    state: Arc<Mutex<ProgressSnapshot>>,
}

fn fitting_decoys() -> ProgressSnapshot {
    ProgressSnapshot {
        phase: "decoys".into(),
        ..Default::default()
    }
}

impl Default for AttackProgress {
    fn default() -> Self {
        AttackProgress {
            state: Arc::new(Mutex::new(fitting_decoys())),
        }
    }
}

#[napi]
impl AttackProgress {
    #[napi(constructor)]
    pub fn new() -> Self {
        AttackProgress::default()
    }

    #[napi]
    pub fn snapshot(&self) -> ProgressSnapshot {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[napi(object)]
pub struct DecoyInfo {
    /// Index in the decoy list (sorted by test error, highest first).
    pub index: u32,
    pub quantile: f64,
    pub copies: u32,
    pub flipped: u32,
    pub train_loss: f64,
    pub test_error: f64,
}

#[napi(object)]
pub struct CurvePoint {
    pub seconds: f64,
    pub min_error: f64,
}

#[napi(object)]
pub struct KktSummary {
    pub decoy: DecoyInfo,
    pub eps_pos: f64,
    pub eps_neg: f64,
    pub residual: f64,
    pub evaluation: EvaluationResult,
    pub curve: Vec<CurvePoint>,
    pub candidates: u32,
    pub decoys: u32,
    pub round: bool,
    pub seconds: f64,
}

/// The attack's outcome: the poison points and a summary.
#[napi]
pub struct KktAttackOutcome {
    poison: Arc<data::Dataset>,
    summary: Option<KktSummary>,
}

#[napi]
impl KktAttackOutcome {
    #[napi(getter)]
    pub fn poison(&self) -> Dataset {
        Dataset {
            inner: self.poison.clone(),
        }
    }

    /// The summary; taken once.
    #[napi]
    pub fn take_summary(&mut self) -> Result<KktSummary> {
        self.summary
            .take()
            .ok_or_else(|| js_error("ERR_INTERNAL", "the attack's summary was already taken"))
    }
}

pub struct KktAttackTask {
    train: Arc<data::Dataset>,
    test: Arc<data::Dataset>,
    set: Option<Arc<feasible::FeasibleSet>>,
    decoy_options: DecoyOptions,
    options: KktOptions,
    upper: Upper,
    state: Arc<Mutex<ProgressSnapshot>>,
    cancel: Cancel,
}

/// The clean data are counts: non-negative integers (rounded poison, the LP relaxation).
fn is_counts(d: &data::Dataset) -> bool {
    d.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0)
}

#[napi]
impl Task for KktAttackTask {
    type Output = (KktResult, Vec<attack::Decoy>);
    type JsValue = KktAttackOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let cancel = self.cancel.clone();
        let stop = move || cancel.is_set();
        let state = self.state.clone();
        let set_state = move |s: ProgressSnapshot| *state.lock().unwrap_or_else(|e| e.into_inner()) = s;
        guard(|| {
            set_state(fitting_decoys());
            let decoys = attack::generate_decoys(&self.train, &self.test, &self.decoy_options, &stop)?;
            let set = match &self.set {
                Some(set) => set.as_ref().clone(),
                None => {
                    let options = FeasibleOptions {
                        upper: self.upper.clone(),
                        lp_relaxation: self.options.round && self.upper != Upper::None,
                        ..Default::default()
                    };
                    feasible::FeasibleSet::from_clean(&self.train, &options)?
                }
            };
            // The attacker scores candidates on what it knows: the test set, or the clean
            // training set when the test set is unknown (paper §6.1).
            let dev = match self.decoy_options.knowledge {
                Knowledge::Test => &self.test,
                Knowledge::Train => &self.train,
            };
            let report = |p: KktProgress| {
                set_state(ProgressSnapshot {
                    phase: "candidates".into(),
                    done: p.done as u32,
                    total: p.total as u32,
                    best: p.best,
                    seconds: p.seconds,
                })
            };
            let result = attack::kkt_attack(&self.train, dev, &set, &decoys, &self.options, &stop, &report)?;
            Ok((result, decoys))
        })
    }

    fn resolve(&mut self, _env: Env, (result, decoys): Self::Output) -> Result<Self::JsValue> {
        let decoy = &decoys[result.best.decoy];
        let summary = KktSummary {
            decoy: DecoyInfo {
                index: result.best.decoy as u32,
                quantile: decoy.quantile,
                copies: decoy.repeats as u32,
                flipped: decoy.flipped as u32,
                train_loss: decoy.train_loss,
                test_error: decoy.test_error,
            },
            eps_pos: result.best.eps_pos,
            eps_neg: result.best.eps_neg,
            residual: result.best.residual,
            evaluation: result.evaluation.into(),
            curve: result
                .curve
                .iter()
                .map(|&(seconds, min_error)| CurvePoint { seconds, min_error })
                .collect(),
            candidates: result.candidates.len() as u32,
            decoys: decoys.len() as u32,
            round: self.options.round,
            seconds: result.seconds,
        };
        Ok(KktAttackOutcome {
            poison: Arc::new(result.poison),
            summary: Some(summary),
        })
    }
}

fn positive_count(name: &str, value: Option<f64>, default: usize) -> Result<usize> {
    match value {
        None => Ok(default),
        Some(v) => match count(name, v)? {
            0 => Err(js_error(
                "ERR_INVALID_OPTION",
                format!("option {name} = 0: must be at least 1"),
            )),
            n => Ok(n),
        },
    }
}

#[napi(ts_return_type = "Promise<KktAttackOutcome>")]
pub fn kkt_attack(
    train: &Dataset,
    test: &Dataset,
    options: KktAttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<KktAttackTask>> {
    let o = options;
    for (name, v) in [("lambda", o.lambda), ("eps", o.eps)] {
        if !(v > 0.0 && v.is_finite()) {
            return Err(js_error(
                "ERR_INVALID_OPTION",
                format!("option {name} = {v}: must be a positive number"),
            ));
        }
    }
    let knowledge = choice(
        "knowledge",
        o.knowledge.as_deref(),
        Knowledge::Test,
        &[("test", Knowledge::Test), ("train", Knowledge::Train)],
    )?;
    let grid = o.grid.as_deref().unwrap_or("enron");
    let (mut quantiles, mut copies) = attack::reference_grid(grid).ok_or_else(|| {
        js_error(
            "ERR_INVALID_OPTION",
            format!("option grid = {grid}: must be one of enron, imdb, mnist17, mnist, dogfish"),
        )
    })?;
    if let Some(q) = o.quantiles {
        quantiles = q;
    }
    if let Some(c) = o.copies {
        copies = c
            .iter()
            .map(|&r| positive_count("copies", Some(r), 1))
            .collect::<Result<_>>()?;
    }
    let seed = o.seed.map(|s| count("seed", s)).transpose()?.unwrap_or(0) as u64;
    let decoy_options = DecoyOptions {
        lambda: o.lambda,
        quantiles,
        repeats: copies,
        knowledge,
        prune: o.prune.unwrap_or(false),
        solver: SolverOptions::default(),
    };
    let counts = is_counts(&train.inner);
    let upper = match parse_upper(o.upper)? {
        Some(upper) => upper,
        None if counts => Upper::ColumnMax,
        None => Upper::None,
    };
    let mut options = KktOptions::new(o.lambda, o.eps);
    options.round = o.round.unwrap_or(counts);
    options.repeats = positive_count("repeats", o.repeats, options.repeats)?;
    options.rounding_trials = positive_count("roundingTrials", o.rounding_trials, options.rounding_trials)?;
    options.refine = positive_count("refine", o.refine, options.refine)?;
    if let Some(p) = o.loss_percentile {
        options.loss_percentile = p;
    }
    if let Some(names) = &o.defenses {
        options.evaluation.defenses = names
            .iter()
            .map(|n| guard(|| Defense::parse(n)))
            .collect::<Result<Vec<_>>>()?;
    }
    options.evaluation.scores.seed = seed;
    options.seed = seed;
    let task = KktAttackTask {
        train: train.inner.clone(),
        test: test.inner.clone(),
        set: set.map(|s| s.inner.clone()),
        decoy_options,
        options,
        upper,
        state: progress.map_or_else(|| AttackProgress::new().state, |p| p.state.clone()),
        cancel: Cancel::from_signal(signal.as_ref()),
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}
