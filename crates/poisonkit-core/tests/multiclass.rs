//! The multi-class defender (Crammer–Singer by AdaGrad), its evaluation, and the multi-class
//! min-max game, on Gaussian blobs and on 10-class MNIST.

#![allow(clippy::print_stderr)]

mod common;

use poisonkit_core::attack::{
    DecoyOptions, Knowledge, MinmaxOptions, generate_multiclass_decoys, minmax_attack, minmax_points,
};
use poisonkit_core::data::{BlobsOptions, Dataset, make_blobs};
use poisonkit_core::defense::{Defense, EvaluationOptions, evaluate};
use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet};
use poisonkit_core::model::{AdagradOptions, MulticlassModel, SolverOptions, train_crammer_singer, train_multiclass};

fn blobs() -> (Dataset, Dataset) {
    let all = make_blobs(&BlobsOptions {
        n: 900,
        d: 8,
        classes: 3,
        separation: 8.0,
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    let rows: Vec<usize> = (0..900).collect();
    (all.slice(&rows[..600]).unwrap(), all.slice(&rows[600..]).unwrap())
}

#[test]
fn adagrad_crammer_singer_learns_seeded_and_checks_its_options() {
    let (train, test) = blobs();
    let model = train_multiclass(&train, 3, &AdagradOptions::default(), &|| false).unwrap();
    let error = model.error(&test).unwrap();
    assert!(error < 0.1, "test error {error} on well-separated blobs");
    // Margins are s_y − max_{j≠y} s_j: positive exactly where the prediction is right.
    let margins = model.margins(&test).unwrap();
    let wrong = margins.iter().filter(|&&m| m <= 0.0).count() as f64 / test.n() as f64;
    assert!((wrong - error).abs() < 1e-12);
    let again = train_multiclass(&train, 3, &AdagradOptions::default(), &|| false).unwrap();
    assert_eq!(model, again, "same seed, same model");
    // The attacker's batches: min(100, ⌈0.005·n⌉), the rest unchanged.
    let defender = AdagradOptions::default();
    let batches = [60_000, 13_007, 1_000, 1].map(|n| defender.for_attacker(n).batch);
    assert_eq!(batches, [100, 66, 5, 1]);
    assert_eq!(defender.for_attacker(60_000).eta, defender.eta);
    for bad in [
        AdagradOptions {
            eta: 0.0,
            ..Default::default()
        },
        AdagradOptions {
            batch: 0,
            ..Default::default()
        },
        AdagradOptions {
            lambda: -1.0,
            ..Default::default()
        },
    ] {
        let err = train_multiclass(&train, 3, &bad, &|| false).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_OPTION", "{err}");
    }
    assert_eq!(
        train_multiclass(&train, 3, &AdagradOptions::default(), &|| true)
            .unwrap_err()
            .code(),
        "ERR_ABORTED"
    );
}

#[test]
fn the_multiclass_game_picks_labels_inside_the_sets_and_under_the_decoy_cap() {
    let (train, test) = blobs();
    let set = FeasibleSet::from_clean(
        &train,
        &FeasibleOptions {
            slab: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut options = MinmaxOptions::new(0.0, 0.05);
    options.evaluation.defenses = vec![Defense::L2, Defense::Loss];
    let poison = minmax_points::<MulticlassModel>(&train, &set, None, &options, &|| false).unwrap();
    assert_eq!(poison.n(), 30);
    let dense = |i: usize| poison.dense_row(i);
    for i in 0..poison.n() {
        let violation = set.violation(&dense(i), poison.labels()[i]).unwrap();
        assert!(violation <= 1e-6, "point {i} violates its set by {violation}");
    }
    // With a decoy, every point keeps its multi-class hinge under the decoy ≤ τ.
    let decoys = generate_multiclass_decoys(
        &train,
        &test,
        &DecoyOptions {
            lambda: 0.0,
            quantiles: vec![0.2],
            repeats: vec![3],
            knowledge: Knowledge::Test,
            prune: false,
            solver: SolverOptions::default(),
            multiclass: AdagradOptions::default(),
        },
        &|| false,
    )
    .unwrap();
    let decoy = &decoys[0].model;
    let poison = minmax_points(&train, &set, Some(decoy), &options, &|| false).unwrap();
    for (i, m) in decoy.margins(&poison).unwrap().iter().enumerate() {
        assert!(1.0 - m <= options.loss_cap + 1e-6, "point {i}: decoy loss {}", 1.0 - m);
    }
    let ev = evaluate(&train, &test, Some(&poison), &options.evaluation, &|| false).unwrap();
    assert_eq!(ev.defenses.len(), 2);
    // A decoy whose class 0 trails every other by 50 leaves no point in class 0's capped set:
    // the game labels its points with the other classes.
    let mut behind = decoy.clone();
    behind.bias[0] -= 50.0;
    let poison = minmax_points(&train, &set, Some(&behind), &options, &|| false).unwrap();
    assert_eq!(poison.n(), 30);
    assert!(poison.labels().iter().all(|&y| y != 0));
    // Multi-class data have not all five defenses: scored by two, the attack has no shortlist.
    let result = minmax_attack(&train, &test, &set, Some(&decoys), &options, &|| false, &|_| {}).unwrap();
    assert!(
        result
            .candidates
            .iter()
            .all(|c| c.shortlist_min.is_none() && c.errors.len() <= 2)
    );
}

#[test]
fn mnist_clean_multiclass_error_matches_the_paper() {
    let Some((train, test)) = common::load("mnist", 784) else {
        return;
    };
    let model = train_multiclass(&train, 10, &AdagradOptions::default(), &|| false).unwrap();
    let error = model.error(&test).unwrap();
    eprintln!("MNIST clean multi-class SVM test error {error}");
    // Paper Table 1: 7.5% (AdaGrad, batch 20, η 0.02, 3 passes, no explicit regularization).
    assert!((0.065..=0.085).contains(&error), "clean test error {error}");
    let mut options = EvaluationOptions::new(0.0);
    options.defenses = vec![Defense::L2, Defense::Loss];
    let ev = evaluate(&train, &test, None, &options, &|| false).unwrap();
    assert_eq!(ev.none, error, "the evaluation trains the same defender");
    assert!(ev.defenses.iter().all(|d| d.test_error < 0.1));
}

/// min (λ/2)‖W̃‖² + (1/n) Σ ξ_i s.t. ξ_i ≥ 1 + (w̃_m − w̃_{y_i})·xt_i (m ≠ y_i), ξ_i ≥ 0: the
/// Crammer–Singer primal as a QP, solved by Clarabel, an independent check of the dual solver.
fn crammer_singer_qp(data: &Dataset, k: usize, lambda: f64) -> f64 {
    use clarabel::algebra::CscMatrix;
    use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus};
    let (n, width) = (data.n(), data.d() + 1);
    let weights = k * width;
    let vars = weights + n;
    let w = |m: usize, j: usize| m * width + j;
    let (mut ai, mut aj, mut av, mut b) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let y = data.labels()[i] as usize;
        let (idx, val) = data.row(i);
        let xt: Vec<(usize, f64)> = idx
            .iter()
            .map(|&j| j as usize)
            .zip(val.iter().copied())
            .chain([(data.d(), 1.0)])
            .collect();
        for m in (0..k).filter(|&m| m != y) {
            let row = b.len();
            for &(j, v) in &xt {
                ai.extend([row, row]);
                aj.extend([w(m, j), w(y, j)]);
                av.extend([v, -v]);
            }
            ai.push(row);
            aj.push(weights + i);
            av.push(-1.0);
            b.push(-1.0);
        }
        ai.push(b.len());
        aj.push(weights + i);
        av.push(-1.0);
        b.push(0.0);
    }
    let a = CscMatrix::new_from_triplets(b.len(), vars, ai, aj, av);
    let p = CscMatrix::new_from_triplets(
        vars,
        vars,
        (0..weights).collect(),
        (0..weights).collect(),
        vec![lambda; weights],
    );
    let q: Vec<f64> = (0..vars)
        .map(|v| if v < weights { 0.0 } else { 1.0 / n as f64 })
        .collect();
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-12)
        .tol_gap_rel(1e-12)
        .build()
        .unwrap();
    let mut solver = DefaultSolver::new(&p, &q, &a, &b, &[NonnegativeConeT(b.len())], settings).unwrap();
    solver.solve();
    assert_eq!(solver.solution.status, SolverStatus::Solved);
    solver.solution.obj_val
}

#[test]
fn exact_crammer_singer_reaches_the_qp_optimum_and_checks_its_options() {
    // Overlapping blobs: many points inside the margin, so the bounds are active.
    let data = make_blobs(&BlobsOptions {
        n: 150,
        d: 4,
        classes: 3,
        separation: 2.0,
        seed: 5,
        ..Default::default()
    })
    .unwrap();
    let lambda = 0.05;
    let options = SolverOptions {
        tol: 1e-9,
        ..Default::default()
    };
    let fit = train_crammer_singer(&data, 3, lambda, &options, &|| false).unwrap();
    assert!(fit.converged && fit.duality_gap <= 1e-9 * fit.objective, "{fit:?}");
    let optimum = crammer_singer_qp(&data, 3, lambda);
    assert!(
        (fit.objective - optimum).abs() <= 1e-6 * optimum,
        "dual solver {} against the QP optimum {optimum}",
        fit.objective
    );
    // The reported objective is P at the returned model.
    let weights: f64 = fit.model.w.iter().flatten().chain(&fit.model.bias).map(|v| v * v).sum();
    let p = 0.5 * lambda * weights + fit.model.mean_hinge(&data).unwrap();
    assert!((p - fit.objective).abs() <= 1e-12 * p);
    let again = train_crammer_singer(&data, 3, lambda, &options, &|| false).unwrap();
    assert_eq!(fit.model, again.model, "same seed, same model");
    // A one-epoch budget is reported, not hidden; λ = 0 and an abort are errors.
    let short = SolverOptions {
        max_iter: 1,
        ..options.clone()
    };
    let one = train_crammer_singer(&data, 3, lambda, &short, &|| false).unwrap();
    assert!(!one.converged && one.iterations == 1 && one.duality_gap > 1e-9 * one.objective);
    // The evaluation trains the same defender when asked for the exact solver.
    let (train, test) = blobs();
    let mut evaluation = EvaluationOptions::new(lambda);
    evaluation.multiclass_exact = true;
    evaluation.defenses = vec![Defense::L2, Defense::Loss];
    let ev = evaluate(&train, &test, None, &evaluation, &|| false).unwrap();
    let exact = train_crammer_singer(&train, 3, lambda, &SolverOptions::default(), &|| false).unwrap();
    assert_eq!(ev.none, exact.model.error(&test).unwrap());
    assert!(ev.none_converged && ev.defenses.iter().all(|d| d.converged));
    let err = train_crammer_singer(&data, 3, 0.0, &options, &|| false).unwrap_err();
    assert!(err.to_string().contains("lambda"), "{err}");
    let err = train_crammer_singer(&data, 3, lambda, &options, &|| true).unwrap_err();
    assert!(matches!(err, poisonkit_core::Error::Aborted), "{err}");
}
