//! Training the defender (an AsyncTask) and evaluating a linear model on a data set.

use std::sync::Arc;
use std::time::Instant;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::data;
use poisonkit_core::model::{self, LinearModel, Loss, Problem};

use crate::dataset::{Dataset, check_len};
use crate::guard::{Cancel, count_or, guard};

/// The objective's parameters, shared by training and by objective/gradient/HVP evaluation.
#[napi(object)]
#[derive(Default)]
pub struct ObjectiveOptions {
    pub lambda: f64,
    pub loss: Option<String>,
    pub temperature: Option<f64>,
    pub regularize_bias: Option<bool>,
    pub sample_weights: Option<Float64Array>,
}

/// The objective's parameters, copied out of JS memory.
struct ObjectiveSpec {
    lambda: f64,
    loss: Loss,
    regularize_bias: bool,
    weights: Option<Vec<f64>>,
}

impl ObjectiveSpec {
    fn from_js(o: &ObjectiveOptions) -> Result<Self> {
        let loss = guard(|| Loss::parse(o.loss.as_deref().unwrap_or("hinge"), o.temperature))?;
        Ok(ObjectiveSpec {
            lambda: o.lambda,
            loss,
            regularize_bias: o.regularize_bias.unwrap_or(true),
            weights: o.sample_weights.as_ref().map(|w| w.to_vec()),
        })
    }

    fn problem<'a>(&self, data: &'a data::Dataset) -> poisonkit_core::Result<Problem<'a>> {
        Problem::new(
            data,
            self.lambda,
            self.loss,
            self.regularize_bias,
            self.weights.as_deref(),
        )
    }
}

#[napi(object)]
#[derive(Default)]
pub struct SolverOptions {
    pub tol: Option<f64>,
    pub max_iter: Option<f64>,
    pub seed: Option<f64>,
    pub warm_start: Option<WarmStart>,
}

#[napi(object)]
pub struct WarmStart {
    pub w: Float64Array,
    pub bias: f64,
    pub dual: Option<Float64Array>,
}

#[napi(object)]
pub struct FitResult {
    pub w: Float64Array,
    pub bias: f64,
    pub objective: f64,
    pub duality_gap: f64,
    pub iterations: u32,
    pub converged: bool,
    pub dual: Float64Array,
    pub seconds: f64,
}

pub struct TrainTask {
    data: Arc<data::Dataset>,
    spec: ObjectiveSpec,
    solver: model::SolverOptions,
    warm: Option<(LinearModel, Option<Vec<f64>>)>,
    cancel: Cancel,
}

#[napi]
impl Task for TrainTask {
    type Output = (model::Fit, f64);
    type JsValue = FitResult;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            let problem = self.spec.problem(&self.data)?;
            let warm = self.warm.as_ref().map(|(model, dual)| model::WarmStart {
                model,
                dual: dual.as_deref(),
            });
            let start = Instant::now();
            let cancel = self.cancel.clone();
            let fit = model::train(&problem, &self.solver, warm, &move || cancel.is_set())?;
            Ok((fit, start.elapsed().as_secs_f64()))
        })
    }

    fn resolve(&mut self, _env: Env, (fit, seconds): Self::Output) -> Result<Self::JsValue> {
        Ok(FitResult {
            w: Float64Array::new(fit.model.w),
            bias: fit.model.bias,
            objective: fit.objective,
            duality_gap: fit.duality_gap,
            iterations: fit.iterations as u32,
            converged: fit.converged,
            dual: Float64Array::new(fit.dual),
            seconds,
        })
    }
}

#[napi(ts_return_type = "Promise<FitResult>")]
pub fn train(
    data: &Dataset,
    objective: ObjectiveOptions,
    solver: Option<SolverOptions>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<TrainTask>> {
    let spec = ObjectiveSpec::from_js(&objective)?;
    let s = solver.unwrap_or_default();
    let def = model::SolverOptions::default();
    let solver = model::SolverOptions {
        tol: s.tol.unwrap_or(def.tol),
        max_iter: count_or("maxIter", s.max_iter, def.max_iter)?,
        seed: count_or("seed", s.seed, 0)? as u64,
    };
    let warm = s.warm_start.map(|ws| {
        (
            LinearModel {
                w: ws.w.to_vec(),
                bias: ws.bias,
            },
            ws.dual.map(|d| d.to_vec()),
        )
    });
    let cancel = Cancel::from_signal(signal.as_ref());
    let task = TrainTask {
        data: data.inner.clone(),
        spec,
        solver,
        warm,
        cancel,
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}

fn linear_model(data: &Dataset, w: &[f64], bias: f64) -> Result<LinearModel> {
    check_len(
        "model weights (number of features of the data)",
        data.inner.d(),
        w.len(),
    )?;
    Ok(LinearModel { w: w.to_vec(), bias })
}

/// w·x_i + b for every row.
#[napi]
pub fn decision_function(data: &Dataset, w: &[f64], bias: f64) -> Result<Float64Array> {
    let model = linear_model(data, w, bias)?;
    guard(|| model.decision(&data.inner)).map(Float64Array::new)
}

/// Predicted labels ±1 (+1 iff w·x + b > 0).
#[napi]
pub fn predict(data: &Dataset, w: &[f64], bias: f64) -> Result<Int32Array> {
    let model = linear_model(data, w, bias)?;
    guard(|| model.predict(&data.inner)).map(Int32Array::new)
}

/// The 0-1 error of the model on the data.
#[napi]
pub fn zero_one_error(data: &Dataset, w: &[f64], bias: f64) -> Result<f64> {
    let model = linear_model(data, w, bias)?;
    guard(|| model.error(&data.inner))
}

/// The mean loss of the model on the data.
#[napi]
pub fn mean_loss(data: &Dataset, w: &[f64], bias: f64, loss: String, temperature: Option<f64>) -> Result<f64> {
    let model = linear_model(data, w, bias)?;
    guard(|| model.mean_loss(&data.inner, Loss::parse(&loss, temperature)?))
}

#[napi(object)]
pub struct GradientResult {
    pub w: Float64Array,
    pub bias: f64,
}

/// P(w, b) of the training objective.
#[napi]
pub fn objective_value(data: &Dataset, w: &[f64], bias: f64, objective: ObjectiveOptions) -> Result<f64> {
    let model = linear_model(data, w, bias)?;
    let spec = ObjectiveSpec::from_js(&objective)?;
    guard(|| Ok(spec.problem(&data.inner)?.value(&model)))
}

/// ∇P(w, b).
#[napi]
pub fn objective_gradient(data: &Dataset, w: &[f64], bias: f64, objective: ObjectiveOptions) -> Result<GradientResult> {
    let model = linear_model(data, w, bias)?;
    let spec = ObjectiveSpec::from_js(&objective)?;
    let (g, gb) = guard(|| Ok(spec.problem(&data.inner)?.gradient(&model)))?;
    Ok(GradientResult {
        w: Float64Array::new(g),
        bias: gb,
    })
}

/// ∇²P(w, b)·(v, vBias).
#[napi]
pub fn hessian_vector_product(
    data: &Dataset,
    w: &[f64],
    bias: f64,
    v: &[f64],
    v_bias: f64,
    objective: ObjectiveOptions,
) -> Result<GradientResult> {
    let model = linear_model(data, w, bias)?;
    let spec = ObjectiveSpec::from_js(&objective)?;
    let (h, hb) = guard(|| spec.problem(&data.inner)?.hessian_vector_product(&model, v, v_bias))?;
    Ok(GradientResult {
        w: Float64Array::new(h),
        bias: hb,
    })
}
