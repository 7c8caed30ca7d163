//! The min-max game against the multi-class defender (paper §4.3 and §5.7; digest §5.3, the MATLAB
//! `generateAttackTar.m` in its multi-class branch). (W, b) starts at the clean Crammer–Singer
//! model (trained with the attacker's mini-batches, `AdagradOptions::for_attacker`) with zero
//! biases, and AdaGrad continues from the weights' accumulators its training ended with (the
//! reference's `train` returns them; the binary game's exact SVM returns ones), the biases' from 1.
//! Each round, for every class y, a random
//! other class j (seeded) is the target: the point of class y's feasible set maximizing the loss
//! 1 + s_j(x) − s_y(x) (a linear minimization), under a decoy the caps 1 + s̃_i(x) − s̃_y(x) ≤ τ
//! against every other class i; the class whose point has the largest loss wins, so the attack
//! chooses every poison point's label. The step is AdaGrad on the mean multi-class hinge
//! subgradient of the clean data + ε × the last point's + λW. It stops after round(εn)·(1 + burn)
//! points and returns the last round(εn).

use rand::RngExt;
use rayon::prelude::*;

use super::minmax::{GameSets, MinmaxOptions, Player, adagrad, budget, copies, last_points};
use crate::data::{Classes, Dataset};
use crate::error::{Error, Result};
use crate::feasible::FeasibleSet;
use crate::linalg::dense_dot;
use crate::model::{Accumulators, MulticlassModel, margin_of, train_adagrad};
use crate::rng::seeded;

impl Player for MulticlassModel {
    type Start = (MulticlassModel, Accumulators);

    fn clean(train_set: &Dataset, options: &MinmaxOptions, should_stop: &dyn Fn() -> bool) -> Result<Self::Start> {
        let Classes::Multiclass(k) = train_set.classes() else {
            return Err(Error::option(
                "classes",
                "±1",
                "the multi-class game needs class indices 0..k−1",
            ));
        };
        let attacker = options.evaluation.multiclass.for_attacker(train_set.n());
        train_adagrad(train_set, k, &attacker, should_stop)
    }

    fn play(
        (clean, accumulators): &Self::Start,
        train_set: &Dataset,
        set: &FeasibleSet,
        decoy: Option<&Self>,
        options: &MinmaxOptions,
        seed: u64,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<Dataset> {
        let (k, n) = (clean.k(), train_set.n());
        let mut set = set.clone();
        if let Some(decoy) = decoy {
            for y in 0..k {
                for i in (0..k).filter(|&i| i != y) {
                    let a = decoy.w[i].iter().zip(&decoy.w[y]).map(|(a, b)| a - b).collect();
                    set.add_halfspace(y as i32, a, options.loss_cap - 1.0 - decoy.bias[i] + decoy.bias[y])?;
                }
            }
        }
        let mut model = MulticlassModel {
            w: clean.w.clone(),
            bias: vec![0.0; k],
        };
        // The reference's `train` returns the weights' accumulators only: the biases' restart at 1,
        // as in the binary game.
        let mut sum_sq = accumulators.clone();
        let mut bias_sq = vec![1.0; k];
        let (count, total) = budget(n, options);
        let mut rng = seeded(seed);
        let mut points: Vec<(Vec<f64>, i32)> = Vec::with_capacity(total + options.repeats);
        let mut sets = GameSets::new(set, k);
        while points.len() < total {
            if should_stop() {
                return Err(Error::Aborted);
            }
            sets.refit(train_set, &points, count, options)?;
            // Per class y, the feasible point of highest loss against a random other class.
            let mut best: Option<(f64, Vec<f64>, i32)> = None;
            for y in 0..k {
                let j = (y + 1 + rng.random_range(0..k - 1)) % k;
                let cost: Vec<f64> = model.w[y].iter().zip(&model.w[j]).map(|(a, b)| a - b).collect();
                let Some(solution) = sets.minimize(y, y as i32, &cost)? else {
                    continue;
                };
                let loss = 1.0 + model.bias[j] - model.bias[y] - solution.value;
                if best.as_ref().is_none_or(|(l, _, _)| loss > *l) {
                    best = Some((loss, solution.x, y as i32));
                }
            }
            let (_, x, label) = best.ok_or_else(|| sets.all_empty())?;
            points.extend(copies(x, label, options, &mut rng)?);
            let (mut grad, mut grad_bias) = clean_gradient(&model, train_set, options.evaluation.multiclass.lambda);
            // ε × the last point's multi-class hinge subgradient.
            let (last, y) = points.last().map(|(x, l)| (x, *l as usize)).expect("just appended");
            let scores: Vec<f64> = (0..k).map(|j| dense_dot(&model.w[j], last) + model.bias[j]).collect();
            let (margin, rival) = margin_of(&scores, y);
            if margin < 1.0 {
                grad[rival]
                    .iter_mut()
                    .zip(last)
                    .for_each(|(g, v)| *g += options.eps * v);
                grad[y].iter_mut().zip(last).for_each(|(g, v)| *g -= options.eps * v);
                grad_bias[rival] += options.eps;
                grad_bias[y] -= options.eps;
            }
            for j in 0..k {
                adagrad(&mut model.w[j], &grad[j], &mut sum_sq[j], options.eta);
            }
            adagrad(&mut model.bias, &grad_bias, &mut bias_sq, options.eta);
        }
        last_points(&points, count, train_set)
    }
}

/// Rows per block of the parallel gradient (fixed, so the sums do not depend on the schedule).
const BLOCK: usize = 2048;

/// The mean multi-class hinge subgradient over `data` plus λW: blocks of rows in parallel, their
/// sums added in order.
fn clean_gradient(model: &MulticlassModel, data: &Dataset, lambda: f64) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (k, d, n) = (model.k(), data.d(), data.n());
    let rows: Vec<usize> = (0..n).collect();
    let blocks: Vec<(Vec<Vec<f64>>, Vec<f64>)> = rows
        .par_chunks(BLOCK)
        .map(|block| {
            let (mut g, mut gb) = (vec![vec![0.0; d]; k], vec![0.0; k]);
            for &i in block {
                let (margin, rival) = model.margin(data, i);
                if margin < 1.0 {
                    let y = data.labels()[i] as usize;
                    data.row_axpy(i, 1.0 / n as f64, &mut g[rival]);
                    data.row_axpy(i, -1.0 / n as f64, &mut g[y]);
                    gb[rival] += 1.0 / n as f64;
                    gb[y] -= 1.0 / n as f64;
                }
            }
            (g, gb)
        })
        .collect();
    let mut grad: Vec<Vec<f64>> = model.w.iter().map(|w| w.iter().map(|w| lambda * w).collect()).collect();
    let mut grad_bias = vec![0.0; k];
    for (g, gb) in blocks {
        grad.iter_mut()
            .flatten()
            .zip(g.iter().flatten())
            .for_each(|(a, b)| *a += b);
        grad_bias.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
    }
    (grad, grad_bias)
}
