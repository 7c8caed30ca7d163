//! The attacks (one AsyncTask): KKT and min-max (decoys, then the sweep), influence, random label
//! flips and alfa; their progress, which a JS timer polls from an `AttackProgress` (no JS callback
//! is ever called from the worker threads).

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::attack::{
    self, AlfaOptions, AttackResult, Decoy, DecoyOptions, InfluenceOptions, KktOptions, Knowledge, LabelFlipOptions,
    MinmaxOptions, Player, Progress,
};
use poisonkit_core::data::{self, Classes};
use poisonkit_core::defense::{Defense, Evaluation, EvaluationOptions};
use poisonkit_core::feasible::{self, FeasibleOptions, Upper};
use poisonkit_core::model::{AdagradOptions, SolverOptions};

use crate::dataset::Dataset;
use crate::defense::{EvaluateOptions, EvaluationResult, choice, evaluation_options};
use crate::feasible::{FeasibleSet, parse_upper};
use crate::guard::{Cancel, count_or, guard, js_error};

/// The options of both attacks; each reads its own.
#[napi(object)]
#[derive(Default)]
pub struct AttackOptions {
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
    /// Score every candidate under every scoring defense (no pruning).
    pub score_all: Option<bool>,
    pub loss_percentile: Option<f64>,
    /// A number, "column-max" or "data-range".
    pub upper: Option<Either<f64, String>>,
    pub defenses: Option<Vec<String>>,
    pub seed: Option<f64>,
    /// Min-max: no decoy (min-max-basic).
    pub basic: Option<bool>,
    pub eta: Option<f64>,
    pub burn: Option<f64>,
    pub loss_cap: Option<f64>,
    /// Influence: one trajectory per step size.
    pub step_sizes: Option<Vec<f64>>,
    pub max_iter: Option<f64>,
    pub check_every: Option<f64>,
    pub patience: Option<f64>,
    pub refit_every: Option<f64>,
    /// KKT: each program solved again this many times against refitted sets.
    pub refit_rounds: Option<f64>,
    /// How many of the best work items (a KKT program, a min-max decoy, an influence snapshot;
    /// each by its best rounding) are scored again by all five defenses.
    pub shortlist: Option<f64>,
    pub score_every: Option<f64>,
    pub temperature: Option<f64>,
    /// alfa: at most this many copies of one pool point.
    pub max_copies: Option<f64>,
    /// The defenses of the final evaluation on the test set (the evaluation's default).
    pub evaluation_defenses: Option<Vec<String>>,
    /// How the defender trains, in the scoring and the final evaluation (`evaluate`'s optimizer).
    pub optimizer: Option<String>,
}

#[napi(object)]
#[derive(Clone, Default)]
pub struct ProgressSnapshot {
    /// `decoys` while the decoy parameters are fitted, then `candidates`, then `shortlist`, then
    /// `evaluation` (the numbers stay the sweep's).
    pub phase: String,
    pub done: u32,
    pub total: u32,
    pub best: f64,
    pub seconds: f64,
}

/// Where a running attack is; the TypeScript layer polls it to drive `onProgress`.
#[napi]
pub struct AttackProgress {
    state: Arc<Mutex<Phases>>,
}

/// The current snapshot, and the last one of each phase that ended since the last poll (so that
/// every phase's end is reported, however briefly it ran).
struct Phases {
    current: ProgressSnapshot,
    ended: Vec<ProgressSnapshot>,
}

impl Phases {
    fn starting(phase: &str) -> Self {
        Phases {
            current: ProgressSnapshot {
                phase: phase.into(),
                ..Default::default()
            },
            ended: Vec::new(),
        }
    }

    fn set(&mut self, snapshot: ProgressSnapshot) {
        let last = std::mem::replace(&mut self.current, snapshot);
        if last.phase != self.current.phase {
            self.ended.push(last);
        }
    }
}

impl Default for AttackProgress {
    fn default() -> Self {
        AttackProgress {
            state: Arc::new(Mutex::new(Phases::starting("decoys"))),
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
        self.state.lock().unwrap_or_else(|e| e.into_inner()).current.clone()
    }

    /// The last snapshot of each phase ended since the last call, in order.
    #[napi]
    pub fn take_ended(&self) -> Vec<ProgressSnapshot> {
        std::mem::take(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()).ended)
    }
}

#[napi(object)]
#[derive(Clone)]
pub struct DecoyInfo {
    /// Index in the decoy list (sorted by test error, highest first).
    pub index: u32,
    pub quantile: f64,
    pub copies: u32,
    pub flipped: u32,
    pub train_loss: f64,
    pub test_error: f64,
}

impl<M> From<(usize, &Decoy<M>)> for DecoyInfo {
    fn from((index, decoy): (usize, &Decoy<M>)) -> Self {
        DecoyInfo {
            index: index as u32,
            quantile: decoy.quantile,
            copies: decoy.repeats as u32,
            flipped: decoy.flipped as u32,
            train_loss: decoy.train_loss,
            test_error: decoy.test_error,
        }
    }
}

#[napi(object)]
pub struct CurvePoint {
    pub seconds: f64,
    pub min_error: f64,
}

#[napi(object)]
pub struct DefenseError {
    pub defense: String,
    pub test_error: f64,
}

/// A work item that yielded no candidate: the item, why (`ERR_SOLVER`: its solver stopped, with
/// the solver's status; `ERR_INFEASIBLE`: its feasible sets were empty) and the whole message.
#[napi(object)]
pub struct AttackFailure {
    pub what: String,
    pub code: String,
    pub status: Option<String>,
    pub message: String,
}

impl From<&attack::Failure> for AttackFailure {
    fn from(f: &attack::Failure) -> Self {
        AttackFailure {
            what: f.what.clone(),
            code: f.error.code().into(),
            status: match &f.error {
                poisonkit_core::Error::Solver { status, .. } => Some(status.clone()),
                _ => None,
            },
            message: f.error.to_string(),
        }
    }
}

/// One scored candidate: where it came from and its test error under each scoring defense.
#[napi(object)]
pub struct CandidateScore {
    pub decoy: Option<u32>,
    pub eps_pos: f64,
    pub eps_neg: f64,
    pub step_size: Option<f64>,
    pub iteration: Option<u32>,
    /// The test error under each scoring defense, in the order scored.
    pub errors: Vec<DefenseError>,
    pub min_error: f64,
    /// The minimum over all five defenses, for a candidate of the shortlist.
    pub shortlist_min: Option<f64>,
    /// Scoring stopped early: the candidate could no longer lead.
    pub partial: bool,
    pub seconds: f64,
}

impl From<&attack::Candidate> for CandidateScore {
    fn from(c: &attack::Candidate) -> Self {
        CandidateScore {
            decoy: c.decoy.map(|i| i as u32),
            eps_pos: c.eps_pos,
            eps_neg: c.eps_neg,
            step_size: c.step_size,
            iteration: c.iteration.map(|i| i as u32),
            errors: c
                .errors
                .iter()
                .map(|&(defense, test_error)| DefenseError {
                    defense: defense.name().to_string(),
                    test_error,
                })
                .collect(),
            min_error: c.min_error,
            shortlist_min: c.shortlist_min,
            partial: c.partial,
            seconds: c.finished,
        }
    }
}

#[napi(object)]
pub struct AttackSummary {
    /// None for min-max-basic.
    pub decoy: Option<DecoyInfo>,
    pub eps_pos: f64,
    pub eps_neg: f64,
    /// The KKT program's residual (KKT only).
    pub residual: Option<f64>,
    /// The winner's step size and gradient steps (influence only).
    pub step_size: Option<f64>,
    pub iteration: Option<u32>,
    /// The winner's evaluation on the dev data, by which it was selected.
    pub selection: EvaluationResult,
    /// Its final evaluation: on the test set, against the `evaluationDefenses`.
    pub evaluation: EvaluationResult,
    pub curve: Vec<CurvePoint>,
    /// Every candidate scored, in sweep order.
    pub candidates: Vec<CandidateScore>,
    /// The work items that yielded no candidate (a solver failure, empty sets), in sweep order.
    pub failures: Vec<AttackFailure>,
    pub decoys: u32,
    pub round: bool,
    pub seconds: f64,
}

/// The attack's outcome: the poison points and a summary.
#[napi]
pub struct AttackOutcome {
    poison: Arc<data::Dataset>,
    summary: Option<AttackSummary>,
}

#[napi]
impl AttackOutcome {
    #[napi(getter)]
    pub fn poison(&self) -> Dataset {
        Dataset {
            inner: self.poison.clone(),
        }
    }

    /// The summary; taken once.
    #[napi]
    pub fn take_summary(&mut self) -> Result<AttackSummary> {
        self.summary
            .take()
            .ok_or_else(|| js_error("ERR_INTERNAL", "the attack's summary was already taken"))
    }
}

/// Which attack, with its options.
enum Kind {
    Kkt(KktOptions),
    Minmax { options: MinmaxOptions, basic: bool },
    Influence(InfluenceOptions),
    LabelFlip(LabelFlipOptions),
    Alfa(AlfaOptions),
}

impl Kind {
    /// Whether the poison is rounded to integers (label flips copy real points).
    fn round(&self) -> bool {
        match self {
            Kind::Kkt(o) => o.round,
            Kind::Minmax { options, .. } => options.round,
            Kind::Influence(o) => o.round,
            Kind::LabelFlip(_) | Kind::Alfa(_) => false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Kind::Kkt(_) => "KKT",
            Kind::Minmax { .. } => "min-max",
            Kind::Influence(_) => "influence",
            Kind::LabelFlip(_) => "label-flip",
            Kind::Alfa(_) => "alfa",
        }
    }
}

pub struct AttackTask {
    train: Arc<data::Dataset>,
    test: Arc<data::Dataset>,
    set: Option<Arc<feasible::FeasibleSet>>,
    decoy_options: DecoyOptions,
    kind: Kind,
    upper: Upper,
    /// The final evaluation's options.
    evaluation: EvaluationOptions,
    state: Arc<Mutex<Phases>>,
    cancel: Cancel,
}

/// The clean data are counts: non-negative integers (rounded poison, the LP relaxation).
fn is_counts(d: &data::Dataset) -> bool {
    d.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0)
}

#[napi]
impl Task for AttackTask {
    type Output = (AttackResult, Evaluation, Vec<DecoyInfo>);
    type JsValue = AttackOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let cancel = self.cancel.clone();
        let stop = move || cancel.is_set();
        let state = self.state.clone();
        let phases = || state.lock().unwrap_or_else(|e| e.into_inner());
        guard(|| {
            *phases() = Phases::starting(match self.kind {
                Kind::Kkt(_) | Kind::Minmax { basic: false, .. } => "decoys",
                _ => "candidates",
            });
            let multiclass = matches!(self.train.classes(), Classes::Multiclass(_));
            // The attacker scores candidates on what it knows: the test set, or the clean
            // training set when the test set is unknown (paper §6.1).
            let dev = match self.decoy_options.knowledge {
                Knowledge::Test => &self.test,
                Knowledge::Train => &self.train,
            };
            let set = match &self.set {
                Some(set) => set.as_ref().clone(),
                // The label-flip pool, as the reference's alfa: flipped dev points inside the
                // sphere fitted on the dev data itself (the L2 defense only, paper Appendix D).
                None if matches!(self.kind, Kind::LabelFlip(_) | Kind::Alfa(_)) => {
                    let options = FeasibleOptions {
                        slab: false,
                        ..Default::default()
                    };
                    feasible::FeasibleSet::from_clean(dev, &options)?
                }
                None => {
                    // The reference's influence-basic (`--baseline`, digest §6) fits a tighter
                    // set: radii at the 80th percentile and no LP relaxation.
                    let basic_influence = matches!(&self.kind, Kind::Influence(o) if o.basic);
                    let mut options = FeasibleOptions {
                        upper: self.upper.clone(),
                        lp_relaxation: self.kind.round() && self.upper != Upper::None && !basic_influence,
                        slab: !multiclass,
                        ..Default::default()
                    };
                    if basic_influence {
                        options.percentile = 80.0;
                    }
                    feasible::FeasibleSet::from_clean(&self.train, &options)?
                }
            };
            let report = |p: Progress| {
                phases().set(ProgressSnapshot {
                    phase: if p.shortlist { "shortlist" } else { "candidates" }.into(),
                    done: p.done as u32,
                    total: p.total as u32,
                    best: p.best,
                    seconds: p.seconds,
                })
            };
            let (train, test, options) = (&self.train, &self.test, &self.decoy_options);
            // The min-max attack against either defender; min-max-basic fits no decoy.
            fn minmax<M: Player>(
                decoys: impl FnOnce() -> poisonkit_core::Result<Vec<Decoy<M>>>,
                basic: bool,
                play: impl FnOnce(Option<&[Decoy<M>]>) -> poisonkit_core::Result<AttackResult>,
            ) -> poisonkit_core::Result<(AttackResult, Vec<DecoyInfo>)> {
                let decoys = if basic { Vec::new() } else { decoys()? };
                let result = play((!basic).then_some(&decoys[..]))?;
                Ok((result, decoys.iter().enumerate().map(DecoyInfo::from).collect()))
            }
            let (result, decoys) = match (&self.kind, multiclass) {
                (kind @ (Kind::Kkt(_) | Kind::Influence(_) | Kind::LabelFlip(_) | Kind::Alfa(_)), true) => {
                    Err(poisonkit_core::Error::option(
                        "train",
                        "class indices",
                        &format!(
                            "the {} attack needs binary ±1 labels (the min-max attack takes multi-class data)",
                            kind.name()
                        ),
                    ))
                }
                (Kind::Influence(o), false) => Ok((
                    attack::influence_attack(train, dev, &set, o, &stop, &report)?,
                    Vec::new(),
                )),
                (Kind::LabelFlip(o), false) => Ok((
                    attack::label_flip_attack(train, dev, &set, o, &stop, &report)?,
                    Vec::new(),
                )),
                (Kind::Alfa(o), false) => Ok((attack::alfa_attack(train, dev, &set, o, &stop, &report)?, Vec::new())),
                (Kind::Kkt(kkt), false) => {
                    let decoys = attack::generate_decoys(train, test, options, &stop)?;
                    let result = attack::kkt_attack(train, dev, &set, &decoys, kkt, &stop, &report)?;
                    Ok((result, decoys.iter().enumerate().map(DecoyInfo::from).collect()))
                }
                (Kind::Minmax { options: mm, basic }, false) => minmax(
                    || attack::generate_decoys(train, test, options, &stop),
                    *basic,
                    |decoys| attack::minmax_attack(train, dev, &set, decoys, mm, &stop, &report),
                ),
                (Kind::Minmax { options: mm, basic }, true) => minmax(
                    || attack::generate_multiclass_decoys(train, test, options, &stop),
                    *basic,
                    |decoys| attack::minmax_attack(train, dev, &set, decoys, mm, &stop, &report),
                ),
            }?;
            {
                let mut phases = phases();
                let sweep = phases.current.clone();
                phases.set(ProgressSnapshot {
                    phase: "evaluation".into(),
                    ..sweep
                });
            }
            let on_test = options.knowledge == Knowledge::Test;
            let evaluation = result.evaluate_on(train, test, on_test, &self.evaluation, &stop)?;
            Ok((result, evaluation, decoys))
        })
    }

    fn resolve(&mut self, _env: Env, (result, evaluation, decoys): Self::Output) -> Result<Self::JsValue> {
        let summary = AttackSummary {
            decoy: result.best.decoy.map(|index| decoys[index].clone()),
            eps_pos: result.best.eps_pos,
            eps_neg: result.best.eps_neg,
            residual: result.best.residual,
            step_size: result.best.step_size,
            iteration: result.best.iteration.map(|i| i as u32),
            selection: result.evaluation.into(),
            evaluation: evaluation.into(),
            curve: result
                .curve
                .iter()
                .map(|&(seconds, min_error)| CurvePoint { seconds, min_error })
                .collect(),
            candidates: result.candidates.iter().map(CandidateScore::from).collect(),
            failures: result.failures.iter().map(AttackFailure::from).collect(),
            decoys: decoys.len() as u32,
            round: self.kind.round(),
            seconds: result.seconds,
        };
        Ok(AttackOutcome {
            poison: Arc::new(result.poison),
            summary: Some(summary),
        })
    }
}

fn positive_count(name: &str, value: Option<f64>, default: usize) -> Result<usize> {
    match count_or(name, value, default)? {
        0 => Err(js_error(
            "ERR_INVALID_OPTION",
            format!("option {name} = 0: must be at least 1"),
        )),
        n => Ok(n),
    }
}

/// What both attacks read from the options: the decoys, the box, whether to round, the
/// defenses that score candidates, the seed.
struct Common {
    decoy_options: DecoyOptions,
    upper: Upper,
    round: bool,
    defenses: Option<Vec<Defense>>,
    seed: u64,
    /// The decoy grid's name (the data set whose reference settings apply).
    grid: String,
    multiclass: bool,
    /// The final evaluation's options: those of `evaluate` with the attack's λ, evaluation
    /// defenses and seed.
    evaluation: EvaluationOptions,
}

fn common(o: &AttackOptions, train: &Dataset, test: &Dataset, prune: bool) -> Result<Common> {
    // The multi-class defender may go unregularized (λ = 0, the paper's MNIST model).
    let multiclass = matches!(train.inner.classes(), Classes::Multiclass(_));
    for (name, v, zero_ok) in [("lambda", o.lambda, multiclass), ("eps", o.eps, false)] {
        if !((v > 0.0 || (zero_ok && v == 0.0)) && v.is_finite()) {
            let rule = if zero_ok { "a number ≥ 0" } else { "a positive number" };
            return Err(js_error(
                "ERR_INVALID_OPTION",
                format!("option {name} = {v}: must be {rule}"),
            ));
        }
    }
    // Before any decoy is fitted: binary data need both classes, the test data the training
    // data's d and classes, and ε at least one point.
    if !multiclass {
        guard(|| train.inner.require_both_classes("training data"))?;
    }
    guard(|| train.inner.check_compatible(&test.inner, "test data"))?;
    guard(|| attack::poison_count(&train.inner, o.eps))?;
    let knowledge = choice(
        "knowledge",
        o.knowledge.as_deref(),
        Knowledge::Test,
        &[("test", Knowledge::Test), ("train", Knowledge::Train)],
    )?;
    let grid = o.grid.as_deref().unwrap_or(if multiclass { "mnist" } else { "enron" });
    let (mut quantiles, mut copies) = attack::reference_grid(grid).ok_or_else(|| {
        js_error(
            "ERR_INVALID_OPTION",
            format!("option grid = {grid}: must be one of enron, imdb, mnist17, mnist, dogfish"),
        )
    })?;
    if let Some(q) = &o.quantiles {
        quantiles = q.clone();
    }
    if let Some(c) = &o.copies {
        copies = c
            .iter()
            .map(|&r| positive_count("copies", Some(r), 1))
            .collect::<Result<_>>()?;
    }
    let counts = is_counts(&train.inner);
    let upper = match parse_upper(o.upper.clone())? {
        Some(upper) => upper,
        None if counts => Upper::ColumnMax,
        None => Upper::None,
    };
    let seed = count_or("seed", o.seed, 0)? as u64;
    let defenses = match &o.defenses {
        Some(names) => Some(
            names
                .iter()
                .map(|n| guard(|| Defense::parse(n)))
                .collect::<Result<Vec<_>>>()?,
        ),
        None => None,
    };
    let evaluate_options = EvaluateOptions {
        lambda: o.lambda,
        defenses: o.evaluation_defenses.clone(),
        optimizer: o.optimizer.clone(),
        seed: o.seed,
        ..Default::default()
    };
    Ok(Common {
        evaluation: evaluation_options(&evaluate_options, multiclass)?,
        decoy_options: DecoyOptions {
            lambda: o.lambda,
            quantiles,
            repeats: copies,
            knowledge,
            prune: o.prune.unwrap_or(prune),
            solver: SolverOptions::default(),
            multiclass: AdagradOptions {
                lambda: o.lambda,
                seed,
                ..Default::default()
            },
        },
        grid: grid.to_string(),
        multiclass,
        upper,
        round: o.round.unwrap_or(counts),
        defenses,
        seed,
    })
}

fn task(
    train: &Dataset,
    test: &Dataset,
    common: Common,
    kind: Kind,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> AsyncTask<AttackTask> {
    let task = AttackTask {
        train: train.inner.clone(),
        test: test.inner.clone(),
        set: set.map(|s| s.inner.clone()),
        decoy_options: common.decoy_options,
        kind,
        upper: common.upper,
        evaluation: common.evaluation,
        state: progress.map_or_else(|| AttackProgress::new().state, |p| p.state.clone()),
        cancel: Cancel::from_signal(signal.as_ref()),
    };
    AsyncTask::with_optional_signal(task, signal)
}

#[napi(ts_return_type = "Promise<AttackOutcome>")]
pub fn kkt_attack(
    train: &Dataset,
    test: &Dataset,
    options: AttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<AttackTask>> {
    let o = &options;
    let common = common(o, train, test, false)?;
    let mut kkt = KktOptions::new(o.lambda, o.eps);
    kkt.round = common.round;
    kkt.repeats = positive_count("repeats", o.repeats, kkt.repeats)?;
    kkt.rounding_trials = positive_count("roundingTrials", o.rounding_trials, kkt.rounding_trials)?;
    kkt.refine = positive_count("refine", o.refine, kkt.refine)?;
    kkt.score_all = o.score_all.unwrap_or(false);
    kkt.refit_rounds = count_or("refitRounds", o.refit_rounds, 0)?;
    kkt.shortlist = count_or("shortlist", o.shortlist, kkt.shortlist)?;
    if let Some(p) = o.loss_percentile {
        kkt.loss_percentile = p;
    }
    scoring(&common, &mut kkt.evaluation);
    kkt.seed = common.seed;
    Ok(task(train, test, common, Kind::Kkt(kkt), set, progress, signal))
}

#[napi(ts_return_type = "Promise<AttackOutcome>")]
pub fn minmax_attack(
    train: &Dataset,
    test: &Dataset,
    options: AttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<AttackTask>> {
    let o = &options;
    // The reference's min-max plays the Pareto front of the decoys (48 on Enron), but all of them
    // when the attacker knows only the training data (its `use_train` runs, digest §4.1).
    let mut common = common(o, train, test, o.knowledge.as_deref() != Some("train"))?;
    // The reference's min-max always boxes non-negative data, counts and pixels alike, by the data
    // range (digest §3.2), which `upper: "data-range"` gives; by default here by the column maxima
    // clamped to [1, 50] (the Python X_max), which for pixels is the paper's [0, 1] domain (Table 1).
    if o.upper.is_none() && train.inner.values().iter().all(|v| *v >= 0.0) {
        common.upper = Upper::ColumnMax;
    }
    let mut minmax = MinmaxOptions::new(o.lambda, o.eps);
    minmax.round = common.round;
    // Repeated points are for integer data (paper §4.3.2): the reference's att_rep 2 when rounding.
    minmax.repeats = positive_count("repeats", o.repeats, if minmax.round { 2 } else { 1 })?;
    minmax.rounding_trials = positive_count("roundingTrials", o.rounding_trials, minmax.rounding_trials)?;
    minmax.refine = positive_count("refine", o.refine, minmax.refine)?;
    minmax.score_all = o.score_all.unwrap_or(false);
    minmax.shortlist = count_or("shortlist", o.shortlist, minmax.shortlist)?;
    minmax.eta = o.eta.unwrap_or(minmax.eta);
    minmax.burn = o.burn.unwrap_or(attack::reference_burn(&common.grid, o.eps));
    minmax.loss_cap = o.loss_cap.unwrap_or(minmax.loss_cap);
    minmax.refit_every = o
        .refit_every
        .map(|v| positive_count("refitEvery", Some(v), 1))
        .transpose()?;
    if common.multiclass {
        // The paper's multi-class defenses (§5.7); the slab is binary only.
        minmax.evaluation.defenses = vec![Defense::L2, Defense::Loss];
    }
    scoring(&common, &mut minmax.evaluation);
    minmax.seed = common.seed;
    let basic = o.basic.unwrap_or(false);
    Ok(task(
        train,
        test,
        common,
        Kind::Minmax { options: minmax, basic },
        set,
        progress,
        signal,
    ))
}

/// Applies the defenses option, if given, the defender's optimizer (the final evaluation's) and the
/// seed to the candidates' scoring.
fn scoring(common: &Common, evaluation: &mut poisonkit_core::defense::EvaluationOptions) {
    if let Some(defenses) = &common.defenses {
        evaluation.defenses = defenses.clone();
    }
    evaluation.multiclass_exact = common.evaluation.multiclass_exact;
    evaluation.single_pass = common.evaluation.single_pass;
    evaluation.set_seed(common.seed);
}

#[napi(ts_return_type = "Promise<AttackOutcome>")]
pub fn influence_attack(
    train: &Dataset,
    test: &Dataset,
    options: AttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<AttackTask>> {
    let o = &options;
    let common = common(o, train, test, false)?;
    let mut influence = InfluenceOptions::new(o.lambda, o.eps);
    influence.basic = o.basic.unwrap_or(false);
    influence.round = common.round;
    influence.repeats = positive_count("repeats", o.repeats, influence.repeats)?;
    influence.rounding_trials = positive_count("roundingTrials", o.rounding_trials, influence.rounding_trials)?;
    influence.refine = positive_count("refine", o.refine, influence.refine)?;
    influence.score_all = o.score_all.unwrap_or(false);
    influence.shortlist = count_or("shortlist", o.shortlist, influence.shortlist)?;
    influence.max_iter = count_or("maxIter", o.max_iter, influence.max_iter)?;
    influence.check_every = positive_count("checkEvery", o.check_every, influence.check_every)?;
    influence.patience = positive_count("patience", o.patience, influence.patience)?;
    influence.score_every = positive_count("scoreEvery", o.score_every, influence.score_every)?;
    influence.refit_every = o
        .refit_every
        .map(|v| positive_count("refitEvery", Some(v), 1))
        .transpose()?;
    if let Some(steps) = &o.step_sizes {
        influence.step_sizes = steps.clone();
    }
    influence.temperature = o.temperature.unwrap_or(influence.temperature);
    scoring(&common, &mut influence.evaluation);
    influence.seed = common.seed;
    Ok(task(
        train,
        test,
        common,
        Kind::Influence(influence),
        set,
        progress,
        signal,
    ))
}

#[napi(ts_return_type = "Promise<AttackOutcome>")]
pub fn label_flip_attack(
    train: &Dataset,
    test: &Dataset,
    options: AttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<AttackTask>> {
    let o = &options;
    let common = common(o, train, test, false)?;
    let mut flips = LabelFlipOptions::new(o.lambda, o.eps);
    scoring(&common, &mut flips.evaluation);
    flips.seed = common.seed;
    Ok(task(train, test, common, Kind::LabelFlip(flips), set, progress, signal))
}

#[napi(ts_return_type = "Promise<AttackOutcome>")]
pub fn alfa_attack(
    train: &Dataset,
    test: &Dataset,
    options: AttackOptions,
    set: Option<&FeasibleSet>,
    progress: Option<&AttackProgress>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<AttackTask>> {
    let o = &options;
    let common = common(o, train, test, false)?;
    let mut alfa = AlfaOptions::new(o.lambda, o.eps);
    alfa.max_iter = positive_count("maxIter", o.max_iter, alfa.max_iter)?;
    alfa.max_copies = o
        .max_copies
        .map(|v| positive_count("maxCopies", Some(v), 1))
        .transpose()?;
    scoring(&common, &mut alfa.evaluation);
    Ok(task(train, test, common, Kind::Alfa(alfa), set, progress, signal))
}

/// The number of poison points of fraction ε of `train`: round(ε·n), an error unless at least 1.
#[napi]
pub fn poison_count(train: &Dataset, eps: f64) -> Result<f64> {
    guard(|| attack::poison_count(&train.inner, eps)).map(|m| m as f64)
}
