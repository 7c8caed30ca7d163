//! The multi-class defender: a Crammer–Singer linear SVM (Crammer & Singer 2001), the paper's
//! 10-class MNIST model (Table 1 note; digest §2.1, the MATLAB `train.m` with `method='adagrad'`).
//! It minimizes (λ/2)‖W‖² + (1/N) Σ_i ℓ_i with the multi-class hinge
//! ℓ_i = max(0, 1 + max_{j≠y_i} s_j(x_i) − s_{y_i}(x_i)), s_j(x) = w_j·x + b_j, by AdaGrad as the
//! reference: θ₀ = 0, accumulators starting at 1e-4, step η/√(accumulated squared gradients),
//! mini-batches of 20 in a seeded random order, 3 passes, λ = 0 (no explicit regularization). It
//! stops after the passes (the reference's fixed budget; there is no convergence test).

use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::error::{Error, Result, check_len};
use crate::linalg::sq_norm;
use crate::rng::seeded;

/// A multi-class linear classifier over classes 0..k−1: predicts argmax_j w_j·x + b_j (ties: the
/// lowest class).
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassModel {
    /// One weight vector per class.
    pub w: Vec<Vec<f64>>,
    /// One bias per class.
    pub bias: Vec<f64>,
}

impl MulticlassModel {
    /// The zero model with `k` classes in dimension `d`.
    pub fn zeros(k: usize, d: usize) -> Self {
        MulticlassModel {
            w: vec![vec![0.0; d]; k],
            bias: vec![0.0; k],
        }
    }

    /// The zero model a trainer starts from, after the checks every trainer makes: at least 2
    /// classes, at least one point, labels in 0..k−1.
    pub(super) fn untrained(data: &Dataset, k: usize) -> Result<Self> {
        if k < 2 {
            return Err(Error::option("classes", k, "must be at least 2"));
        }
        if data.n() == 0 {
            return Err(Error::EmptyClass {
                what: "data the multi-class model is trained on".into(),
                class: 0,
            });
        }
        let model = MulticlassModel::zeros(k, data.d());
        model.check_dim(data)?;
        Ok(model)
    }

    /// The number of classes.
    pub fn k(&self) -> usize {
        self.w.len()
    }

    fn check_features(&self, data: &Dataset) -> Result<()> {
        check_len(
            "number of features of the data (model dimension)",
            self.w[0].len(),
            data.d(),
        )
    }

    /// The data's dimension and labels (0..k−1) fit the model.
    fn check_dim(&self, data: &Dataset) -> Result<()> {
        self.check_features(data)?;
        if let Some((i, &y)) = data
            .labels()
            .iter()
            .enumerate()
            .find(|(_, y)| !(0..self.k() as i32).contains(y))
        {
            return Err(Error::InvalidLabel {
                location: crate::error::Location::row("data", i),
                message: format!("label {y} is not a class of the model (0..{})", self.k() - 1),
            });
        }
        Ok(())
    }

    /// s_j(x_i) for every class j.
    pub fn scores(&self, data: &Dataset, i: usize) -> Vec<f64> {
        self.w
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| data.row_dot(i, w) + b)
            .collect()
    }

    /// The margin s_y − max_{j≠y} s_j of row i, with that most offending other class j.
    pub fn margin(&self, data: &Dataset, i: usize) -> (f64, usize) {
        margin_of(&self.scores(data, i), data.labels()[i] as usize)
    }

    /// The margin of every row (the multi-class hinge is max(0, 1 − margin)).
    pub fn margins(&self, data: &Dataset) -> Result<Vec<f64>> {
        self.check_dim(data)?;
        Ok((0..data.n()).map(|i| self.margin(data, i).0).collect())
    }

    /// The mean multi-class hinge max(0, 1 − margin) over the rows (0 for no rows).
    pub fn mean_hinge(&self, data: &Dataset) -> Result<f64> {
        let total: f64 = self.margins(data)?.iter().map(|m| (1.0 - m).max(0.0)).sum();
        Ok(if data.n() == 0 { 0.0 } else { total / data.n() as f64 })
    }

    /// The predicted class of every row: argmax_j s_j (ties: the lowest class).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<i32>> {
        self.check_features(data)?;
        Ok((0..data.n())
            .map(|i| {
                let s = self.scores(data, i);
                (0..s.len()).fold(0, |b, j| if s[j] > s[b] { j } else { b }) as i32
            })
            .collect())
    }

    /// The fraction of rows whose predicted class differs from the label (0 for no rows).
    pub fn error(&self, data: &Dataset) -> Result<f64> {
        self.check_dim(data)?;
        Ok(super::error_rate(&self.predict(data)?, data.labels()))
    }
}

/// The margin s_y − max_{j≠y} s_j of class scores `s`, with that other class j (ties: the lowest).
pub fn margin_of(s: &[f64], y: usize) -> (f64, usize) {
    let (rival, top) =
        s.iter()
            .enumerate()
            .filter(|&(j, _)| j != y)
            .fold(
                (usize::MAX, f64::NEG_INFINITY),
                |best, (j, &v)| if v > best.1 { (j, v) } else { best },
            );
    (s[y] - top, rival)
}

/// Options of [`train_multiclass`].
#[derive(Debug, Clone, PartialEq)]
pub struct AdagradOptions {
    /// λ of (λ/2)‖W‖² (0: the reference's MNIST defender).
    pub lambda: f64,
    /// AdaGrad step η (0.02).
    pub eta: f64,
    /// Mini-batch size (20).
    pub batch: usize,
    /// Passes over the data (3).
    pub passes: usize,
    /// Seed of the order of the points.
    pub seed: u64,
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions {
            lambda: 0.0,
            eta: 0.02,
            batch: 20,
            passes: 3,
            seed: 0,
        }
    }
}

impl AdagradOptions {
    /// The attacker's copy of these options for `n` clean points: the reference trains its decoys
    /// and the min-max game's starting model with mini-batches of min(100, ⌈0.005·n⌉)
    /// (`processOptionsGenerateTheta`, `processOptionsGenerateAttackTar`), and only the evaluating
    /// defender with the default 20.
    pub fn for_attacker(&self, n: usize) -> AdagradOptions {
        AdagradOptions {
            batch: n.div_ceil(200).clamp(1, 100),
            ..self.clone()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(Error::option("lambda", self.lambda, "must be a number ≥ 0"));
        }
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            return Err(Error::option("eta", self.eta, "must be a positive number"));
        }
        for (name, value) in [("batch", self.batch), ("passes", self.passes)] {
            if value == 0 {
                return Err(Error::option(name, value, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// A multi-class model and how its training ended.
#[derive(Debug, Clone)]
pub struct MulticlassFit {
    /// The model.
    pub model: MulticlassModel,
    /// The objective the trainer minimizes, at the model: AdaGrad's (λ/2)‖W‖² + mean hinge, the
    /// exact solver's (λ/2)(‖W‖² + ‖b‖²) + mean hinge.
    pub objective: f64,
    /// An upper bound on the objective minus its minimum (NaN for AdaGrad, which computes none).
    pub duality_gap: f64,
    /// Passes over the data run.
    pub iterations: usize,
    /// Whether the gap reached the tolerance (AdaGrad runs a fixed budget: true).
    pub converged: bool,
}

impl MulticlassFit {
    /// The fit of a model that [`train_multiclass`] trained on `data` with `options`.
    pub fn adagrad(model: MulticlassModel, data: &Dataset, options: &AdagradOptions) -> Result<Self> {
        let weights: f64 = model.w.iter().map(|w| sq_norm(w)).sum();
        Ok(MulticlassFit {
            objective: 0.5 * options.lambda * weights + model.mean_hinge(data)?,
            model,
            duality_gap: f64::NAN,
            iterations: options.passes,
            converged: true,
        })
    }
}

/// Trains the Crammer–Singer SVM on `data` (labels 0..k−1 with `k` classes) by AdaGrad.
pub fn train_multiclass(
    data: &Dataset,
    k: usize,
    options: &AdagradOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<MulticlassModel> {
    Ok(train_adagrad(data, k, options, should_stop)?.0)
}

/// AdaGrad's accumulated squared gradients of the weights, per class and feature.
pub type Accumulators = Vec<Vec<f64>>;

/// [`train_multiclass`] with the weights' accumulators it ends with (what the reference's `train`
/// returns, `theta2`, and its min-max game continues from).
pub fn train_adagrad(
    data: &Dataset,
    k: usize,
    options: &AdagradOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<(MulticlassModel, Accumulators)> {
    options.validate()?;
    let mut model = MulticlassModel::untrained(data, k)?;
    let d = data.d();
    let mut sum_sq = vec![vec![1e-4; d]; k];
    let mut bias_sq = vec![1e-4; k];
    let mut order: Vec<usize> = (0..data.n()).collect();
    let mut rng = seeded(options.seed);
    let (mut grad, mut grad_bias) = (vec![vec![0.0; d]; k], vec![0.0; k]);
    for _ in 0..options.passes {
        order.shuffle(&mut rng);
        for batch in order.chunks(options.batch) {
            if should_stop() {
                return Err(Error::Aborted);
            }
            let scale = 1.0 / batch.len() as f64;
            for (g, w) in grad.iter_mut().zip(&model.w) {
                g.iter_mut().zip(w).for_each(|(g, w)| *g = options.lambda * w);
            }
            grad_bias.iter_mut().for_each(|g| *g = 0.0);
            for &i in batch {
                let (margin, rival) = model.margin(data, i);
                if margin < 1.0 {
                    let y = data.labels()[i] as usize;
                    data.row_axpy(i, scale, &mut grad[rival]);
                    data.row_axpy(i, -scale, &mut grad[y]);
                    grad_bias[rival] += scale;
                    grad_bias[y] -= scale;
                }
            }
            for j in 0..k {
                for ((w, g), sq) in model.w[j].iter_mut().zip(&grad[j]).zip(&mut sum_sq[j]) {
                    if *g != 0.0 {
                        *sq += g * g;
                        *w -= options.eta * g / sq.sqrt();
                    }
                }
                bias_sq[j] += grad_bias[j] * grad_bias[j];
                model.bias[j] -= options.eta * grad_bias[j] / bias_sq[j].sqrt();
            }
        }
    }
    Ok((model, sum_sq))
}
