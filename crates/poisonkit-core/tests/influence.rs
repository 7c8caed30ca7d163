//! The influence attack, iterative refitting and the label-flip baselines on synthetic count data.

#![allow(clippy::print_stderr)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::words;
use poisonkit_core::attack::{
    AlfaOptions, InfluenceOptions, LabelFlipOptions, alfa_attack, flip_pool, influence_attack, label_flip_attack,
};
use poisonkit_core::data::Dataset;
use poisonkit_core::defense::{Defense, EvaluationOptions, evaluate};
use poisonkit_core::error::Error;
use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet, Upper};

/// The clean sets with the LP relaxation in the box [0, column max], as for Enron.
fn lp_set(clean: &Dataset) -> FeasibleSet {
    let options = FeasibleOptions {
        upper: Upper::ColumnMax,
        lp_relaxation: true,
        ..Default::default()
    };
    FeasibleSet::from_clean(clean, &options).unwrap()
}

fn options(basic: bool) -> InfluenceOptions {
    let mut o = InfluenceOptions::new(0.05, 0.1);
    o.basic = basic;
    o.round = true;
    o.max_iter = 60;
    o.score_every = 20;
    o.evaluation.defenses = vec![Defense::L2, Defense::Slab, Defense::Loss];
    o
}

fn clean_min(clean: &Dataset, test: &Dataset, defenses: &[Defense]) -> f64 {
    let mut o = EvaluationOptions::new(0.05);
    o.defenses = defenses.to_vec();
    evaluate(clean, test, None, &o, &|| false).unwrap().min
}

#[test]
fn influence_raises_the_test_error_with_round_en_integer_points() {
    let (clean, test) = words(1);
    let set = lp_set(&clean);
    let o = options(false);
    let scored = AtomicUsize::new(0);
    let result = influence_attack(&clean, &test, &set, &o, &|| false, &|p| {
        scored.fetch_max(p.done, Ordering::Relaxed);
        assert!(p.done <= p.total);
    })
    .unwrap();
    assert_eq!(result.poison.n(), 30, "round(εn) points");
    assert!(result.poison.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    // Two distinct points, copies in inverse class balance.
    let negatives = clean.labels().iter().filter(|&&y| y == -1).count() as f64;
    let pos = result.poison.labels().iter().filter(|&&y| y == 1).count();
    assert_eq!(pos, (negatives / 300.0 * 30.0).round() as usize);
    // Every step size's snapshots are scored (iteration 0 included), the curve is monotone.
    assert_eq!(scored.load(Ordering::Relaxed), result.candidates.len());
    assert!(result.candidates.iter().any(|c| c.iteration == Some(0)));
    assert!(result.curve.windows(2).all(|w| w[1].1 >= w[0].1));
    let best = result.best.min_error;
    let start = clean_min(&clean, &test, &o.evaluation.defenses);
    eprintln!(
        "min over L2, slab, loss: clean {start}, influence {best} at step {:?}",
        result.best.iteration
    );
    assert!(best >= start + 0.02, "clean {start}, poisoned {best}");
    // Seeded: the same bytes again.
    let again = influence_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_eq!(result.poison.values(), again.poison.values());
    assert_eq!(result.poison.indices(), again.poison.indices());
    // With a shortlist of 2, the best two snapshots are scored again by all five defenses, and
    // the winner is the better of them by that score; none without it.
    assert!(result.candidates.iter().all(|c| c.shortlist_min.is_none()));
    let listed_run = influence_attack(
        &clean,
        &test,
        &set,
        &InfluenceOptions { shortlist: 2, ..o },
        &|| false,
        &|_| {},
    )
    .unwrap();
    let listed: Vec<_> = listed_run
        .candidates
        .iter()
        .filter_map(|c| c.shortlist_min.map(|m| (c, m)))
        .collect();
    assert!(
        !listed.is_empty() && listed.len() <= 2,
        "{} on the shortlist",
        listed.len()
    );
    assert!(listed.iter().all(|(c, _)| c.errors.len() == 5));
    let top = listed.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    assert_eq!(listed_run.best.shortlist_min, Some(top));
}

#[test]
fn influence_basic_moves_round_en_separate_points() {
    let (clean, test) = words(2);
    let set = lp_set(&clean);
    let mut o = options(true);
    o.step_sizes = vec![0.3];
    o.max_iter = 20;
    let result = influence_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_eq!(result.poison.n(), 30);
    // Snapshots at steps 0 and 20, each then rounded 7 more times (2 leaders of at most 4).
    let mut steps: Vec<Option<usize>> = result.candidates.iter().map(|c| c.iteration).collect();
    steps.sort();
    steps.dedup();
    assert_eq!(steps, vec![Some(0), Some(20)]);
    assert_eq!(result.candidates.len(), 2 + 2 * 7);
}

#[test]
fn iterative_refitting_changes_the_set_and_the_poison() {
    let (clean, test) = words(3);
    let set = lp_set(&clean);
    let mut o = options(false);
    o.step_sizes = vec![0.3];
    let fixed = influence_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    o.refit_every = Some(2);
    let refitted = influence_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_ne!(fixed.poison.values(), refitted.poison.values());
    // Refitting on clean + poison itself: the poison moves the centroids.
    let with_poison = clean.concat(&fixed.poison).unwrap();
    let moved = set.refit(&with_poison).unwrap();
    let (a, b) = (&set.class(1).unwrap().centroid, &moved.class(1).unwrap().centroid);
    assert!(a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-6));
}

#[test]
fn influence_rejects_bad_options_and_aborts() {
    let (clean, test) = words(4);
    let set = lp_set(&clean);
    for (o, name) in [
        (
            InfluenceOptions {
                step_sizes: vec![],
                ..options(false)
            },
            "stepSizes",
        ),
        (
            InfluenceOptions {
                eps: 1.5,
                ..options(false)
            },
            "eps",
        ),
        (
            InfluenceOptions {
                score_every: 0,
                ..options(false)
            },
            "scoreEvery",
        ),
    ] {
        let error = influence_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap_err();
        assert!(error.to_string().contains(name), "{error}");
    }
    let aborted = influence_attack(&clean, &test, &set, &options(false), &|| true, &|_| {});
    assert!(matches!(aborted, Err(Error::Aborted)));
}

/// The feasible sets of `dev` without the slab, where the flips are drawn from.
fn without_slab(dev: &Dataset) -> FeasibleSet {
    let options = FeasibleOptions {
        slab: false,
        ..Default::default()
    };
    FeasibleSet::from_clean(dev, &options).unwrap()
}

#[test]
fn label_flips_come_from_the_feasible_pool() {
    let (clean, test) = words(5);
    let set = without_slab(&test);
    let pool = flip_pool(&test, &set).unwrap();
    assert!(pool.n() > 0 && pool.n() < test.n());
    for i in 0..pool.n() {
        assert!(set.contains(&pool.dense_row(i), pool.labels()[i], 1e-9).unwrap());
    }
    let o = LabelFlipOptions::new(0.05, 0.1);
    let random = label_flip_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_eq!(random.poison.n(), 30);
    let again = label_flip_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_eq!(random.poison.values(), again.poison.values());
}

#[test]
fn alfa_puts_its_copies_where_the_lp_says() {
    let (clean, test) = words(6);
    let set = without_slab(&test);
    let o = AlfaOptions::new(0.05, 0.1);
    let one = alfa_attack(&clean, &test, &set, &o, &|| false, &|_| {}).unwrap();
    assert_eq!(one.poison.n(), 30);
    // No cap: the LP's vertex, every copy the same point.
    let first = one.poison.row(0);
    assert!((1..30).all(|i| one.poison.row(i) == first));
    // A cap of 3 copies: at least 10 distinct points.
    let capped = AlfaOptions {
        max_copies: Some(3),
        ..o.clone()
    };
    let spread = alfa_attack(&clean, &test, &set, &capped, &|| false, &|_| {}).unwrap();
    let mut rows: Vec<(Vec<u32>, Vec<u64>)> = (0..30)
        .map(|i| {
            let (idx, vals) = spread.poison.row(i);
            (idx.to_vec(), vals.iter().map(|v| v.to_bits()).collect())
        })
        .collect();
    rows.dedup();
    assert!(rows.len() >= 10, "{} runs of equal rows", rows.len());
    let impossible = AlfaOptions {
        max_copies: Some(0),
        ..o
    };
    assert!(alfa_attack(&clean, &test, &set, &impossible, &|| false, &|_| {}).is_err());
}
