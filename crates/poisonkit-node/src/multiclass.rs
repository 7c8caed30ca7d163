//! Training the multi-class defender (an AsyncTask) and predicting with a multi-class model,
//! whose weights cross the boundary as one row-major k × d array.

use std::sync::Arc;
use std::time::Instant;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::data::{self, Classes};
use poisonkit_core::model::{self, AdagradOptions, MulticlassFit, MulticlassModel};

use crate::dataset::{Dataset, check_len};
use crate::defense::choice;
use crate::guard::{Cancel, count_or, guard, js_error};

#[napi(object)]
pub struct MulticlassTrainOptions {
    pub lambda: f64,
    pub optimizer: Option<String>,
    pub eta: Option<f64>,
    pub batch: Option<f64>,
    pub passes: Option<f64>,
    pub tol: Option<f64>,
    pub max_iter: Option<f64>,
    pub seed: Option<f64>,
}

#[napi(object)]
pub struct MulticlassFitResult {
    /// The weights, row j (class j) at [j·d, (j+1)·d).
    pub w: Float64Array,
    pub bias: Float64Array,
    pub objective: f64,
    pub duality_gap: f64,
    pub iterations: u32,
    pub converged: bool,
    pub seconds: f64,
}

/// The exact solver (its options) or AdaGrad.
enum Trainer {
    Exact(f64, model::SolverOptions),
    Adagrad(AdagradOptions),
}

pub struct MulticlassTrainTask {
    data: Arc<data::Dataset>,
    k: usize,
    trainer: Trainer,
    cancel: Cancel,
}

#[napi]
impl Task for MulticlassTrainTask {
    type Output = (MulticlassFit, f64);
    type JsValue = MulticlassFitResult;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            let start = Instant::now();
            let cancel = self.cancel.clone();
            let stop = move || cancel.is_set();
            let fit = match &self.trainer {
                Trainer::Exact(lambda, solver) => {
                    model::train_crammer_singer(&self.data, self.k, *lambda, solver, &stop)?
                }
                Trainer::Adagrad(options) => {
                    let model = model::train_multiclass(&self.data, self.k, options, &stop)?;
                    MulticlassFit::adagrad(model, &self.data, options)?
                }
            };
            Ok((fit, start.elapsed().as_secs_f64()))
        })
    }

    fn resolve(&mut self, _env: Env, (fit, seconds): Self::Output) -> Result<Self::JsValue> {
        Ok(MulticlassFitResult {
            w: Float64Array::new(fit.model.w.concat()),
            bias: Float64Array::new(fit.model.bias),
            objective: fit.objective,
            duality_gap: fit.duality_gap,
            iterations: fit.iterations as u32,
            converged: fit.converged,
            seconds,
        })
    }
}

/// Trains the Crammer–Singer SVM on data labelled 0..k−1: by AdaGrad (the paper's, default) or
/// exactly (`optimizer: 'exact'`, λ > 0).
#[napi(ts_return_type = "Promise<MulticlassFitResult>")]
pub fn train_multiclass(
    data: &Dataset,
    options: MulticlassTrainOptions,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<MulticlassTrainTask>> {
    let Classes::Multiclass(k) = data.inner.classes() else {
        return Err(js_error(
            "ERR_LABEL",
            "training data: the multi-class model needs class indices 0..k−1 as labels, got ±1 (train the binary model instead)",
        ));
    };
    let exact = choice(
        "optimizer",
        options.optimizer.as_deref(),
        false,
        &[("adagrad", false), ("exact", true)],
    )?;
    let seed = count_or("seed", options.seed, 0)? as u64;
    let trainer = if exact {
        let def = model::SolverOptions::default();
        Trainer::Exact(
            options.lambda,
            model::SolverOptions {
                tol: options.tol.unwrap_or(def.tol),
                max_iter: count_or("maxIter", options.max_iter, def.max_iter)?,
                seed,
            },
        )
    } else {
        let def = AdagradOptions::default();
        Trainer::Adagrad(AdagradOptions {
            lambda: options.lambda,
            eta: options.eta.unwrap_or(def.eta),
            batch: count_or("batch", options.batch, def.batch)?,
            passes: count_or("passes", options.passes, def.passes)?,
            seed,
        })
    };
    let cancel = Cancel::from_signal(signal.as_ref());
    let task = MulticlassTrainTask {
        data: data.inner.clone(),
        k,
        trainer,
        cancel,
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}

fn multiclass_model(data: &Dataset, w: &[f64], bias: &[f64]) -> Result<MulticlassModel> {
    let (k, d) = (bias.len(), data.inner.d());
    if k < 2 {
        return Err(js_error(
            "ERR_INVALID_OPTION",
            format!("multi-class model: {k} biases, needs one per class (at least 2)"),
        ));
    }
    check_len(
        "multi-class model weights (classes × features of the data)",
        k * d,
        w.len(),
    )?;
    Ok(MulticlassModel {
        w: (0..k).map(|j| w[j * d..(j + 1) * d].to_vec()).collect(),
        bias: bias.to_vec(),
    })
}

/// The predicted class (argmax_j w_j·x + b_j, ties: the lowest) of every row.
#[napi]
pub fn multiclass_predict(data: &Dataset, w: &[f64], bias: &[f64]) -> Result<Int32Array> {
    let model = multiclass_model(data, w, bias)?;
    guard(|| model.predict(&data.inner)).map(Int32Array::new)
}

/// The fraction of rows whose predicted class differs from the label.
#[napi]
pub fn multiclass_error(data: &Dataset, w: &[f64], bias: &[f64]) -> Result<f64> {
    let model = multiclass_model(data, w, bias)?;
    guard(|| model.error(&data.inner))
}

/// The mean multi-class hinge max(0, 1 + max_{j≠y} s_j − s_y) over the rows.
#[napi]
pub fn multiclass_mean_hinge(data: &Dataset, w: &[f64], bias: &[f64]) -> Result<f64> {
    let model = multiclass_model(data, w, bias)?;
    guard(|| model.mean_hinge(&data.inner))
}
