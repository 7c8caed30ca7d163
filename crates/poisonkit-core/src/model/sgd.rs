//! One pass of stochastic gradient descent over the data: the defender of paper §6.3 (Figure 11
//! left), "each sample is looked at exactly once". It approximately minimizes the objective P of
//! the module doc and stops after the n-th update.
//!
//! The points are visited in a seeded random order. The step size is scikit-learn's `'optimal'`
//! schedule of `SGDClassifier` (Bottou 2012): η_t = 1/(λ(t₀ + t − 1)), t = 1, 2, …, with
//! t₀ = 1/(λ·η₀) and η₀ = λ^(−1/4). Each update first shrinks θ by (1 − η_t·λ) (the bias only when it
//! is regularized), then adds −η_t·s_i·ℓ'(m_i)·y_i·(x_i, 1), with m_i the margin before the update
//! and s_i = c_i·N the point's weight. w is kept as scale·v so that the shrinking costs O(1).

use rand::seq::SliceRandom;

use super::{Fit, LinearModel, Problem};
use crate::rng::seeded;

/// Below this the scale of w is folded back into v, to keep v finite.
const MIN_SCALE: f64 = 1e-9;

pub(super) fn train(problem: &Problem, seed: u64) -> Fit {
    let data = problem.data();
    let (n, d) = (data.n(), data.d());
    let (lambda, loss) = (problem.lambda(), problem.loss());
    let (coef, y) = (problem.coef(), problem.y());
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded(seed));
    let eta0 = lambda.powf(-0.25);
    let t0 = 1.0 / (lambda * eta0);
    let mut v = vec![0.0; d];
    let mut scale = 1.0;
    let mut bias = 0.0;
    for (t, &i) in order.iter().enumerate() {
        let eta = 1.0 / (lambda * (t0 + t as f64));
        let margin = y[i] * (scale * data.row_dot(i, &v) + bias);
        let step = -eta * coef[i] * n as f64 * loss.derivative(margin) * y[i];
        let shrink = (1.0 - eta * lambda).max(0.0);
        scale *= shrink;
        if problem.regularize_bias() {
            bias *= shrink;
        }
        if scale < MIN_SCALE {
            v.iter_mut().for_each(|v| *v *= scale);
            scale = 1.0;
        }
        if step != 0.0 {
            data.row_axpy(i, step / scale, &mut v);
            bias += step;
        }
    }
    let model = LinearModel {
        w: v.iter().map(|v| v * scale).collect(),
        bias,
    };
    let objective = problem.value(&model);
    Fit {
        model,
        objective,
        duality_gap: f64::NAN,
        iterations: 1,
        converged: true,
        dual: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BlobsOptions, make_blobs};
    use crate::model::{Loss, SolverOptions, train as train_exact};

    /// On overlapping blobs (separation 3, std 1) one pass lands near the optimum: its objective within 20% of the
    /// exact solver's, and it classifies about as well; the same seed gives the same model.
    #[test]
    fn one_pass_approaches_the_optimum_and_is_seeded() {
        let data = make_blobs(&BlobsOptions {
            n: 4000,
            d: 10,
            seed: 5,
            ..Default::default()
        })
        .unwrap();
        for loss in [Loss::Hinge, Loss::Logistic] {
            let problem = Problem::new(&data, 0.01, loss, true, None).unwrap();
            let exact = train_exact(&problem, &SolverOptions::default(), None, &|| false).unwrap();
            let sgd = train(&problem, 1);
            assert!(sgd.objective >= exact.objective - 1e-9);
            assert!(
                sgd.objective <= 1.2 * exact.objective,
                "{loss:?}: one pass {} against the optimum {}",
                sgd.objective,
                exact.objective
            );
            let (e_sgd, e_exact) = (sgd.model.error(&data).unwrap(), exact.model.error(&data).unwrap());
            assert!(e_sgd <= e_exact + 0.02, "{loss:?}: error {e_sgd} against {e_exact}");
            assert_eq!(train(&problem, 1).model, sgd.model);
            assert_ne!(train(&problem, 2).model, sgd.model);
        }
    }
}
