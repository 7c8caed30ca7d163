//! Attacks on real data: the decoy parameters of the KKT attack on Enron (digest §4.1).

#![allow(clippy::print_stderr)]

mod common;

use poisonkit_core::attack::{DecoyOptions, Knowledge, generate_decoys, reference_grid};
use poisonkit_core::model::SolverOptions;

#[test]
fn enron_decoys_follow_the_reference_grid_and_pareto_front() {
    let Some((train, test)) = common::load("enron", 5116) else {
        return;
    };
    let (quantiles, repeats) = reference_grid("enron").unwrap();
    let options = |prune| DecoyOptions {
        lambda: 0.09,
        quantiles: quantiles.clone(),
        repeats: repeats.clone(),
        knowledge: Knowledge::Test,
        prune,
        solver: SolverOptions::default(),
    };
    let all = generate_decoys(&train, &test, &options(false), &|| false).unwrap();
    assert_eq!(all.len(), 99, "11 quantiles × 9 repeats");
    for pair in all.windows(2) {
        assert!(pair[0].test_error >= pair[1].test_error, "sorted by test error");
    }
    eprintln!(
        "decoys: test error {:.4}..{:.4}, clean loss {:.4}..{:.4}",
        all.last().unwrap().test_error,
        all[0].test_error,
        all.iter().map(|d| d.train_loss).fold(f64::INFINITY, f64::min),
        all.iter().map(|d| d.train_loss).fold(0.0, f64::max)
    );
    // More flipped points and more copies push the decoy further from the clean model (2.9%).
    assert!(
        all[0].test_error > 0.2,
        "the most damaging decoy: {}",
        all[0].test_error
    );
    assert!(
        all[0].quantile >= 0.2 && all[0].repeats >= 5,
        "{:?}",
        (all[0].quantile, all[0].repeats)
    );
    let pruned = generate_decoys(&train, &test, &options(true), &|| false).unwrap();
    eprintln!("pruned: {} of 99", pruned.len());
    assert!(pruned.len() >= 5 && pruned.len() < 99);
    for pair in pruned.windows(2) {
        assert!(pair[0].test_error >= pair[1].test_error && pair[0].train_loss > pair[1].train_loss);
    }
    // The front dominates every dropped candidate: none has higher error and lower clean loss.
    for d in &all {
        assert!(
            pruned
                .iter()
                .any(|p| p.test_error >= d.test_error && p.train_loss <= d.train_loss),
            "candidate q {} r {} is not dominated",
            d.quantile,
            d.repeats
        );
    }
}
