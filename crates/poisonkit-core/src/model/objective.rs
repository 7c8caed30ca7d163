//! The training objective P(w, b) of the module doc, its gradient, its exact Hessian-vector product
//! and a duality gap, for any margin loss. The bias is the last coordinate, θ = (w, b).

use super::{LinearModel, Loss};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, max_abs};

/// A training problem: data, λ, loss, bias regularization and sample weights.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    data: &'a Dataset,
    lambda: f64,
    loss: Loss,
    regularize_bias: bool,
    /// c_i = s_i / N, the weight of point i's loss in P.
    coef: Vec<f64>,
    /// Labels as ±1.0.
    y: Vec<f64>,
    /// ‖x̃_i‖² = ‖x_i‖² + 1, to bound what a row adds to the Hessian.
    row_sq_norms: Vec<f64>,
}

impl<'a> Problem<'a> {
    /// Checks and builds a problem. `weights` (one per point, finite, ≥ 0, not all 0) default to 1;
    /// N = Σ weights. Both classes must be present.
    pub fn new(
        data: &'a Dataset,
        lambda: f64,
        loss: Loss,
        regularize_bias: bool,
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(Error::option("lambda", lambda, "must be a positive number"));
        }
        data.require_both_classes("training data")?;
        let coef = match weights {
            None => vec![1.0 / data.n() as f64; data.n()],
            Some(s) => {
                if s.len() != data.n() {
                    return Err(Error::DimMismatch {
                        what: "sampleWeights: one weight per training point".into(),
                        expected: data.n(),
                        got: s.len(),
                    });
                }
                if let Some((i, v)) = s.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
                    return Err(Error::option(
                        &format!("sampleWeights[{i}]"),
                        v,
                        "must be a finite number ≥ 0",
                    ));
                }
                let total: f64 = s.iter().sum();
                if total <= 0.0 {
                    return Err(Error::option("sampleWeights", "(all zero)", "must not all be zero"));
                }
                if total.is_finite() {
                    s.iter().map(|v| v / total).collect()
                } else {
                    // Weights near the largest double: their sum overflows, their ratios do not.
                    let top = max_abs(s);
                    let total: f64 = s.iter().map(|v| v / top).sum();
                    s.iter().map(|v| v / top / total).collect()
                }
            }
        };
        let y = data.labels().iter().map(|&y| y as f64).collect();
        let row_sq_norms: Vec<f64> = (0..data.n())
            .map(|i| 1.0 + data.row(i).1.iter().map(|v| v * v).sum::<f64>())
            .collect();
        if let Some(i) = row_sq_norms.iter().position(|q| !q.is_finite()) {
            let top = max_abs(data.row(i).1);
            return Err(Error::parse(
                crate::error::Location::row("training data", i),
                format!("its squared norm overflows (a value of magnitude {top:e}): rescale the data"),
            ));
        }
        Ok(Problem {
            data,
            lambda,
            loss,
            regularize_bias,
            coef,
            y,
            row_sq_norms,
        })
    }

    /// The training data.
    pub fn data(&self) -> &'a Dataset {
        self.data
    }
    /// λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }
    /// Whether the bias is regularized (ρ = 1).
    pub fn regularize_bias(&self) -> bool {
        self.regularize_bias
    }
    /// c_i = s_i / N for every point.
    pub(super) fn coef(&self) -> &[f64] {
        &self.coef
    }
    /// The labels as ±1.0.
    pub(super) fn y(&self) -> &[f64] {
        &self.y
    }
    fn rho(&self) -> f64 {
        if self.regularize_bias { 1.0 } else { 0.0 }
    }

    /// The margins m_i = y_i(w·x_i + b).
    pub fn margins(&self, model: &LinearModel) -> Vec<f64> {
        (0..self.data.n())
            .map(|i| self.y[i] * (self.data.row_dot(i, &model.w) + model.bias))
            .collect()
    }

    /// (λ/2)‖w‖² + (λρ/2)b², the regularizer.
    pub(super) fn regularizer(&self, model: &LinearModel) -> f64 {
        0.5 * self.lambda * (dense_dot(&model.w, &model.w) + self.rho() * model.bias * model.bias)
    }

    /// P(w, b) given the margins of `model`.
    pub(super) fn value_at(&self, model: &LinearModel, margins: &[f64]) -> f64 {
        let data_term: f64 = margins
            .iter()
            .zip(&self.coef)
            .map(|(&m, &c)| c * self.loss.value(m))
            .sum();
        self.regularizer(model) + data_term
    }

    /// P(w, b).
    pub fn value(&self, model: &LinearModel) -> f64 {
        self.value_at(model, &self.margins(model))
    }

    /// Σ_i a_i·x̃_i with x̃_i = (x_i, 1): a weighted sum of the augmented rows.
    pub(super) fn combine_rows(&self, a: &[f64]) -> (Vec<f64>, f64) {
        let mut v = vec![0.0; self.data.d()];
        let mut vb = 0.0;
        for (i, &ai) in a.iter().enumerate() {
            if ai != 0.0 {
                self.data.row_axpy(i, ai, &mut v);
                vb += ai;
            }
        }
        (v, vb)
    }

    /// ∇P(w, b) = λ(w, ρb) + Σ c_i ℓ'(m_i) y_i x̃_i (a subgradient for the hinge).
    pub fn gradient(&self, model: &LinearModel) -> (Vec<f64>, f64) {
        let m = self.margins(model);
        self.gradient_at(model, &m)
    }

    pub(super) fn gradient_at(&self, model: &LinearModel, margins: &[f64]) -> (Vec<f64>, f64) {
        let a: Vec<f64> = (0..margins.len())
            .map(|i| self.coef[i] * self.loss.derivative(margins[i]) * self.y[i])
            .collect();
        let (mut g, mut gb) = self.combine_rows(&a);
        g.iter_mut().zip(&model.w).for_each(|(g, w)| *g += self.lambda * w);
        gb += self.lambda * self.rho() * model.bias;
        (g, gb)
    }

    /// ∇²P(w, b)·(v, v_b) = λ(v, ρv_b) + Σ c_i ℓ''(m_i)(x̃_i·ṽ) x̃_i, exact for smooth losses.
    pub fn hessian_vector_product(&self, model: &LinearModel, v: &[f64], vb: f64) -> Result<(Vec<f64>, f64)> {
        if v.len() != self.data.d() {
            return Err(Error::DimMismatch {
                what: "Hessian-vector product: length of the vector".into(),
                expected: self.data.d(),
                got: v.len(),
            });
        }
        let curvature = self.curvature(&self.margins(model));
        Ok(self.hvp_with(&curvature, v, vb))
    }

    /// The per-point curvatures c_i ℓ''(m_i) at the margins.
    pub(super) fn curvature(&self, margins: &[f64]) -> Vec<f64> {
        margins
            .iter()
            .zip(&self.coef)
            .map(|(&m, &c)| c * self.loss.second_derivative(m))
            .collect()
    }

    /// The Hessian-vector product given the per-point curvatures c_i ℓ''(m_i). Rows whose term
    /// c_i‖x̃_i‖² is below 1e-12·λ/n are skipped: together they change the Hessian by less than
    /// 1e-12·λ in norm, a relative 1e-12 of its smallest eigenvalue, while the smoothed hinge at
    /// t = 0.001 leaves all but the rows near the margin with such vanishing curvature.
    pub(super) fn hvp_with(&self, curvature: &[f64], v: &[f64], vb: f64) -> (Vec<f64>, f64) {
        let negligible = 1e-12 * self.lambda / self.data.n() as f64;
        let a: Vec<f64> = (0..self.data.n())
            .map(|i| {
                if curvature[i] * self.row_sq_norms[i] <= negligible {
                    return 0.0;
                }
                curvature[i] * (self.data.row_dot(i, v) + vb)
            })
            .collect();
        let (mut h, mut hb) = self.combine_rows(&a);
        h.iter_mut().zip(v).for_each(|(h, v)| *h += self.lambda * v);
        hb += self.lambda * self.rho() * vb;
        (h, hb)
    }

    /// The dual objective D(a) = −Σ c_i ℓ*(−a_i) − ‖Σ c_i a_i y_i x̃_i‖²/(2λ) at a ∈ [0, 1]ⁿ, a
    /// lower bound on min P. Without bias regularization the bias coordinate is left out, which
    /// makes it a lower bound on min over w of P(w, b) at the model's fixed b (plus the linear term
    /// −b·Σ c_i a_i y_i).
    pub(super) fn dual_value(&self, a: &[f64], bias: f64) -> f64 {
        let weights: Vec<f64> = (0..a.len()).map(|i| self.coef[i] * a[i] * self.y[i]).collect();
        let (v, vb) = self.combine_rows(&weights);
        let conj: f64 = a
            .iter()
            .zip(&self.coef)
            .map(|(&ai, &c)| c * self.loss.conjugate_neg(ai))
            .sum();
        let quad = dense_dot(&v, &v) + if self.regularize_bias { vb * vb } else { 0.0 };
        let fixed_bias_term = if self.regularize_bias { 0.0 } else { -bias * vb };
        -conj - quad / (2.0 * self.lambda) + fixed_bias_term
    }
    /// Solves ∇²P(w, b)·(u, u_b) = (v, v_b) by conjugate gradients on exact Hessian-vector
    /// products (no d×d matrix), for smooth losses: the inverse Hessian-vector product of the
    /// influence attack (paper §4.1; the reference runs `fmin_ncg` on ½uᵀHu − vᵀu, digest §6). It
    /// stops at a residual ≤ `rel_tol`·‖(v, v_b)‖ or after `max_iter` steps.
    pub fn inverse_hessian_product(
        &self,
        model: &LinearModel,
        v: &[f64],
        vb: f64,
        rel_tol: f64,
        max_iter: usize,
    ) -> Result<ConjugateGradient> {
        if !self.loss.is_smooth() {
            return Err(Error::option(
                "loss",
                self.loss.name(),
                "the Hessian exists for smooth losses only (use the smoothed hinge)",
            ));
        }
        if v.len() != self.data.d() {
            return Err(Error::DimMismatch {
                what: "inverse Hessian-vector product: length of the vector".into(),
                expected: self.data.d(),
                got: v.len(),
            });
        }
        let curvature = self.curvature(&self.margins(model));
        let norm = (dense_dot(v, v) + vb * vb).sqrt();
        Ok(self.conjugate_gradient(&curvature, v, vb, rel_tol * norm, max_iter))
    }

    /// Conjugate gradients on H·(u, u_b) = (v, v_b), H given by the per-point curvatures, from 0,
    /// until ‖residual‖ ≤ `tol`, a direction of non-positive curvature, or `max_iter` steps.
    pub(super) fn conjugate_gradient(
        &self,
        curvature: &[f64],
        v: &[f64],
        vb: f64,
        tol: f64,
        max_iter: usize,
    ) -> ConjugateGradient {
        let mut u = vec![0.0; v.len()];
        let mut ub = 0.0;
        let mut r = v.to_vec();
        let mut rb = vb;
        let mut p = r.clone();
        let mut pb = rb;
        let mut rr = dense_dot(&r, &r) + rb * rb;
        let mut iterations = 0;
        while iterations < max_iter.max(1) && rr.sqrt() > tol {
            let (hp, hpb) = self.hvp_with(curvature, &p, pb);
            let php = dense_dot(&p, &hp) + pb * hpb;
            if php <= 0.0 {
                break;
            }
            iterations += 1;
            let alpha = rr / php;
            u.iter_mut().zip(&p).for_each(|(u, p)| *u += alpha * p);
            ub += alpha * pb;
            r.iter_mut().zip(&hp).for_each(|(r, h)| *r -= alpha * h);
            rb -= alpha * hpb;
            let rr_new = dense_dot(&r, &r) + rb * rb;
            let beta = rr_new / rr;
            p.iter_mut().zip(&r).for_each(|(p, r)| *p = r + beta * *p);
            pb = rb + beta * pb;
            rr = rr_new;
        }
        ConjugateGradient {
            u,
            ub,
            residual: rr.sqrt(),
            iterations,
        }
    }
}

/// The result of conjugate gradients on a Hessian system.
#[derive(Debug, Clone)]
pub struct ConjugateGradient {
    /// The solution's weight part.
    pub u: Vec<f64>,
    /// Its bias part.
    pub ub: f64,
    /// ‖H·(u, u_b) − (v, v_b)‖ at the end.
    pub residual: f64,
    /// CG steps taken.
    pub iterations: usize,
}
