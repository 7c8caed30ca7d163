//! The multi-class defender (Crammer–Singer by AdaGrad), its evaluation, and the multi-class
//! min-max game, on Gaussian blobs and on 10-class MNIST.

#![allow(clippy::print_stderr)]

mod common;

use poisonkit_core::attack::{DecoyOptions, Knowledge, MinmaxOptions, generate_multiclass_decoys, minmax_points};
use poisonkit_core::data::{BlobsOptions, Dataset, make_blobs};
use poisonkit_core::defense::{Defense, EvaluationOptions, evaluate};
use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet};
use poisonkit_core::model::{AdagradOptions, MulticlassModel, SolverOptions, train_multiclass};

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
