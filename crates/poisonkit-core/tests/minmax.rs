//! The min-max attack on synthetic count data: the point generator (digest §5.3) and the sweep
//! over decoys.

#![allow(clippy::print_stderr)]

mod common;

use std::sync::Mutex;

use common::words;
use poisonkit_core::attack::{
    Decoy, DecoyOptions, Knowledge, MinmaxOptions, Progress, generate_decoys, minmax_attack, minmax_points,
};
use poisonkit_core::data::Dataset;
use poisonkit_core::defense::Defense;
use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet, Upper};
use poisonkit_core::model::{LinearModel, Loss, Problem, SolverOptions, train};

fn fit(data: &Dataset) -> LinearModel {
    let problem = Problem::new(data, 0.05, Loss::Hinge, true, None).unwrap();
    train(&problem, &SolverOptions::default(), None, &|| false)
        .unwrap()
        .model
}

/// The clean feasible sets with the box [0, column max].
fn boxed_set(clean: &Dataset) -> FeasibleSet {
    let options = FeasibleOptions {
        upper: Upper::ColumnMax,
        ..Default::default()
    };
    FeasibleSet::from_clean(clean, &options).unwrap()
}

#[test]
fn minmax_points_are_feasible_seeded_and_damaging() {
    let (clean, test) = words(1);
    let set = boxed_set(&clean);
    let options = MinmaxOptions::new(0.05, 0.1);
    let poison = minmax_points::<LinearModel>(&clean, &set, None, &options, &|| false).unwrap();
    assert_eq!(poison.n(), 30, "round(εn) points");
    // Unrounded points lie in their class's set.
    for i in 0..poison.n() {
        let violation = set.violation(&poison.dense_row(i), poison.labels()[i]).unwrap();
        assert!(violation <= 1e-6, "point {i} violates its set by {violation}");
    }
    // The same seed gives the same points; the attack raises the undefended test error.
    let again = minmax_points::<LinearModel>(&clean, &set, None, &options, &|| false).unwrap();
    assert_eq!(poison.values(), again.values());
    let clean_error = fit(&clean).error(&test).unwrap();
    let poisoned_error = fit(&clean.concat(&poison).unwrap()).error(&test).unwrap();
    eprintln!("test error: clean {clean_error}, with min-max-basic poison {poisoned_error}");
    assert!(
        poisoned_error > clean_error + 0.02,
        "test error {clean_error} clean, {poisoned_error} poisoned"
    );
    // Rounded: non-negative integers.
    let rounded = MinmaxOptions {
        round: true,
        ..options.clone()
    };
    let ints = minmax_points::<LinearModel>(&clean, &set, None, &rounded, &|| false).unwrap();
    assert!(ints.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
}

#[test]
fn a_decoy_caps_the_points_loss_under_it() {
    let (clean, _) = words(3);
    let set = boxed_set(&clean);
    // A decoy: the clean model with its labels flipped on a third of the points.
    let flipped: Vec<i32> = clean
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &y)| if i % 3 == 0 { -y } else { y })
        .collect();
    let decoy_data = Dataset::from_csr(
        clean.indptr().to_vec(),
        clean.indices().to_vec(),
        clean.values().to_vec(),
        flipped,
        clean.d(),
        "decoy data",
    )
    .unwrap();
    let decoy = fit(&decoy_data);
    let options = MinmaxOptions::new(0.05, 0.1);
    let poison = minmax_points(&clean, &set, Some(&decoy), &options, &|| false).unwrap();
    for i in 0..poison.n() {
        let y = poison.labels()[i] as f64;
        let loss = 1.0 - y * (poison.row_dot(i, &decoy.w) + decoy.bias);
        assert!(loss <= options.loss_cap + 1e-6, "point {i}: decoy loss {loss}");
    }
    let bad = MinmaxOptions { repeats: 0, ..options };
    let err = minmax_points::<LinearModel>(&clean, &set, None, &bad, &|| false).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_OPTION");
    assert!(minmax_points::<LinearModel>(&clean, &set, None, &MinmaxOptions::new(0.05, 0.1), &|| true).is_err());
}

/// A decoy whose loss cap empties a class's set: the game plays the other class; a decoy that
/// empties both yields no candidate, and the attack goes on with the other decoys.
#[test]
fn a_decoy_that_empties_a_class_leaves_the_game_to_the_others() {
    let (clean, test) = words(3);
    let set = boxed_set(&clean);
    let model = fit(&clean);
    let options = MinmaxOptions::new(0.05, 0.1);
    // Bias +50: every point of class −1's set has loss 1 + θ·x + 50 > τ under the decoy.
    let shifted = LinearModel {
        bias: model.bias + 50.0,
        ..model.clone()
    };
    let poison = minmax_points(&clean, &set, Some(&shifted), &options, &|| false).unwrap();
    assert_eq!(poison.n(), 30);
    assert!(poison.labels().iter().all(|&y| y == 1), "only class +1 is feasible");
    // Zero weights and bias: the cap asks 1 ≤ τ of every point, in both classes.
    let flat = LinearModel {
        w: vec![0.0; clean.d()],
        bias: 0.0,
    };
    let err = minmax_points(&clean, &set, Some(&flat), &options, &|| false).unwrap_err();
    assert_eq!(err.code(), "ERR_INFEASIBLE");
    assert!(err.to_string().contains("every class's feasible set"), "{err}");
    let decoy = |model: LinearModel| Decoy {
        model,
        quantile: 0.1,
        repeats: 1,
        flipped: 0,
        train_loss: 0.0,
        test_error: 0.0,
    };
    let decoys = [decoy(flat), decoy(model), decoy(shifted)];
    let last = Mutex::new(None);
    let report = |p: Progress| *last.lock().unwrap() = Some(p);
    let result = minmax_attack(&clean, &test, &set, Some(&decoys), &options, &|| false, &report).unwrap();
    assert_eq!(result.candidates.len(), 2);
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].what, "decoy 0");
    assert_eq!(result.failures[0].error.code(), "ERR_INFEASIBLE");
    assert_ne!(result.best.decoy, Some(0));
    let p = last.lock().unwrap().expect("progress was reported");
    assert_eq!((p.done, p.total), (3, 3));
    // With only that decoy, the attack fails with its error.
    let err = minmax_attack(&clean, &test, &set, Some(&decoys[..1]), &options, &|| false, &|_| {}).unwrap_err();
    assert_eq!(err.code(), "ERR_INFEASIBLE");
}

#[test]
fn the_sweep_keeps_the_decoy_whose_poison_scores_highest() {
    let (clean, test) = words(5);
    let decoys = generate_decoys(
        &clean,
        &test,
        &DecoyOptions {
            lambda: 0.05,
            quantiles: vec![0.1, 0.2, 0.3],
            repeats: vec![2, 5],
            knowledge: Knowledge::Test,
            prune: false,
            solver: SolverOptions::default(),
            multiclass: poisonkit_core::model::AdagradOptions::default(),
        },
        &|| false,
    )
    .unwrap();
    let set = FeasibleSet::from_clean(
        &clean,
        &FeasibleOptions {
            upper: Upper::ColumnMax,
            lp_relaxation: true,
            ..Default::default()
        },
    )
    .unwrap();
    let options = MinmaxOptions {
        round: true,
        repeats: 2,
        rounding_trials: 3,
        refine: 2,
        ..MinmaxOptions::new(0.05, 0.1)
    };
    let last = Mutex::new(None);
    let report = |p: Progress| *last.lock().unwrap() = Some(p);
    let result = minmax_attack(&clean, &test, &set, Some(&decoys), &options, &|| false, &report).unwrap();
    // One game per decoy, then 2 more for each of the 2 leaders; progress reaches the total.
    assert_eq!(result.candidates.len(), decoys.len() + 2 * 2);
    let p = last.lock().unwrap().expect("progress was reported");
    assert_eq!((p.done, p.total), (result.candidates.len(), result.candidates.len()));
    // The winner has the highest score, which its evaluation and the curve's end repeat.
    let top = result.candidates.iter().map(|c| c.min_error).fold(0.0, f64::max);
    assert_eq!(result.best.min_error, top);
    assert_eq!(result.evaluation.min, top);
    assert_eq!(result.curve.last().unwrap().1, top);
    assert!(result.curve.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(result.poison.n(), 30);
    assert!(result.poison.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    let positives = result.poison.labels().iter().filter(|&&y| y == 1).count();
    assert_eq!(result.best.eps_pos, positives as f64 / 300.0);
    // Decided by the seed alone, not by the schedule; min-max-basic has one candidate, no decoy.
    let again = minmax_attack(&clean, &test, &set, Some(&decoys), &options, &|| false, &|_| {}).unwrap();
    assert_eq!(again.poison.values(), result.poison.values());
    let basic = minmax_attack::<LinearModel>(&clean, &test, &set, None, &options, &|| false, &|_| {}).unwrap();
    assert_eq!(basic.candidates.len(), 1 + 2);
    assert_eq!(basic.best.decoy, None);
    assert!(result.failures.is_empty());
    // Scored by the L2 defense alone, the best decoys (one game each) are scored again by all
    // five, and the winner is the best of them by that score.
    let mut narrowed = options.clone();
    narrowed.evaluation.defenses = vec![Defense::L2];
    narrowed.shortlist = 4;
    let r = minmax_attack(&clean, &test, &set, Some(&decoys), &narrowed, &|| false, &|_| {}).unwrap();
    let listed: Vec<_> = r.candidates.iter().filter(|c| c.shortlist_min.is_some()).collect();
    assert!(
        !listed.is_empty() && listed.len() <= 4,
        "{} on the shortlist",
        listed.len()
    );
    assert!(listed.iter().all(|c| c.errors.len() == 5));
    let mut listed_decoys: Vec<_> = listed.iter().map(|c| c.decoy).collect();
    listed_decoys.sort();
    listed_decoys.dedup();
    assert_eq!(listed_decoys.len(), listed.len(), "one game per decoy");
    let top = listed.iter().map(|c| c.shortlist_min.unwrap()).fold(0.0, f64::max);
    assert_eq!(r.best.shortlist_min, Some(top));
    assert_eq!(r.evaluation.min, top);
    // A decoy left off ranks below every listed one (its other games may not).
    let unlisted_top = r
        .candidates
        .iter()
        .filter(|c| !listed_decoys.contains(&c.decoy))
        .map(|c| c.min_error)
        .fold(0.0, f64::max);
    let last_listed = listed.iter().map(|c| c.min_error).fold(f64::INFINITY, f64::min);
    assert!(unlisted_top <= last_listed, "a decoy left off ranks above a listed one");
    // And with all five (the default) there is none.
    assert!(result.candidates.iter().all(|c| c.shortlist_min.is_none()));
    let err = minmax_attack::<LinearModel>(&clean, &test, &set, Some(&[]), &options, &|| false, &|_| {}).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_OPTION");
    let err = minmax_attack::<LinearModel>(&clean, &test, &set, None, &options, &|| true, &|_| {}).unwrap_err();
    assert_eq!(err.code(), "ERR_ABORTED");
}

#[test]
fn refitting_the_set_during_the_game_changes_the_points() {
    let (clean, _) = words(7);
    let set = boxed_set(&clean);
    let options = MinmaxOptions::new(0.05, 0.1);
    let fixed = minmax_points::<LinearModel>(&clean, &set, None, &options, &|| false).unwrap();
    let iterative = MinmaxOptions {
        refit_every: Some(3),
        ..options.clone()
    };
    let refitted = minmax_points::<LinearModel>(&clean, &set, None, &iterative, &|| false).unwrap();
    assert_eq!(refitted.n(), fixed.n());
    assert_ne!(fixed.values(), refitted.values());
    let zero = MinmaxOptions {
        refit_every: Some(0),
        ..options
    };
    let error = minmax_points::<LinearModel>(&clean, &set, None, &zero, &|| false).unwrap_err();
    assert!(error.to_string().contains("refitEvery"), "{error}");
}
