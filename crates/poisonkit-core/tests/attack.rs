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
        multiclass: poisonkit_core::model::AdagradOptions::default(),
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

#[test]
fn enron_kkt_attack_is_seeded_integer_and_abortable() {
    use poisonkit_core::attack::{Candidate, KktOptions, kkt_attack};
    use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet, Upper};
    let Some((train, test)) = common::load("enron", 5116) else {
        return;
    };
    let options = DecoyOptions {
        lambda: 0.09,
        quantiles: vec![0.1, 0.3],
        repeats: vec![2],
        knowledge: Knowledge::Test,
        prune: false,
        solver: SolverOptions::default(),
        multiclass: poisonkit_core::model::AdagradOptions::default(),
    };
    let decoys = generate_decoys(&train, &test, &options, &|| false).unwrap();
    let set_options = FeasibleOptions {
        upper: Upper::ColumnMax,
        lp_relaxation: true,
        ..Default::default()
    };
    let set = FeasibleSet::from_clean(&train, &set_options).unwrap();
    let attack = KktOptions {
        round: true,
        repeats: 2,
        seed: 7,
        ..KktOptions::new(0.09, 0.03)
    };
    let a = kkt_attack(&train, &test, &set, &decoys, &attack, &|| false, &|_| {}).unwrap();
    // ε·n = 0.03 × 4137 → 124 points, non-negative integers, both parts present as split.
    assert_eq!(a.poison.n(), 124);
    assert!(a.poison.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    // Per decoy: 7 grid splits, and the exact-bias split when it lies in [0, ε]; then 7 more
    // roundings of each of the 5 leaders.
    let k = decoys.len();
    let swept = a.candidates.len() - 5 * 7;
    assert!((7 * k..=8 * k).contains(&swept), "{swept} candidates");
    let positives = a.poison.labels().iter().filter(|&&y| y == 1).count();
    assert_eq!(positives, (a.best.eps_pos * train.n() as f64).round() as usize);
    // The curve ends at the best score by the scoring defenses (L2, slab, loss).
    let best = a.candidates.iter().map(|c| c.min_error).fold(0.0, f64::max);
    assert_eq!(a.curve.last().unwrap().1, best);
    assert!(a.curve.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 <= w[1].0));
    // The shortlist: the best candidates by that score, scored again by all five defenses, up to
    // the first whose score is below the best five-defense score; the winner is the best of them.
    let (listed, rest): (Vec<_>, Vec<_>) = a.candidates.iter().partition(|c| c.shortlist_min.is_some());
    assert!((1..=4).contains(&listed.len()), "{} on the shortlist", listed.len());
    let winner = listed.iter().map(|c| c.shortlist_min.unwrap()).fold(0.0, f64::max);
    assert_eq!(a.best.shortlist_min, Some(winner));
    assert_eq!(a.evaluation.min, winner);
    for c in &listed {
        let defenses: Vec<_> = c.errors.iter().map(|e| e.0).collect();
        assert_eq!(defenses.len(), 5, "{defenses:?}");
        let min = c.errors.iter().map(|e| e.1).fold(1.0, f64::min);
        assert_eq!(c.shortlist_min, Some(min));
        assert!(min <= c.min_error);
    }
    // One per program (decoy and split), its best rounding; the rest of the programs rank below.
    let program = |c: &Candidate| (c.decoy, c.eps_pos.to_bits());
    let programs: Vec<_> = listed.iter().map(|c| program(c)).collect();
    assert!(programs.iter().enumerate().all(|(i, p)| !programs[..i].contains(p)));
    let lowest_listed = listed.iter().map(|c| c.min_error).fold(1.0, f64::min);
    for c in rest.iter().filter(|c| !c.partial) {
        let listed_program = listed.iter().find(|l| program(l) == program(c));
        match listed_program {
            Some(l) => assert!(c.min_error <= l.min_error),
            None => assert!(c.min_error <= lowest_listed),
        }
        // The scan stopped early: no other program could still win.
        if listed.len() < 4 && listed_program.is_none() {
            assert!(c.min_error < winner, "{} could still win", c.min_error);
        }
    }
    eprintln!(
        "KKT attack, 2 decoys: min error {:.4} by the scoring defenses, {:.4} by all five ({} listed) in {:.1} s",
        best,
        winner,
        listed.len(),
        a.seconds
    );
    // Without the shortlist the scoring defenses select, as the reference.
    let reference = KktOptions {
        shortlist: 0,
        ..attack.clone()
    };
    let r = kkt_attack(&train, &test, &set, &decoys, &reference, &|| false, &|_| {}).unwrap();
    assert!(r.candidates.iter().all(|c| c.shortlist_min.is_none()));
    assert_eq!(r.best.min_error, best);
    // The same seed gives the same points.
    let b = kkt_attack(&train, &test, &set, &decoys, &attack, &|| false, &|_| {}).unwrap();
    assert_eq!(
        (a.poison.indices(), a.poison.values()),
        (b.poison.indices(), b.poison.values())
    );
    // Iterative optimization: each program solved again against its sets refitted on clean +
    // poison gives other points, still 124 non-negative integers.
    let refitted = KktOptions {
        refit_rounds: 1,
        ..attack.clone()
    };
    let c = kkt_attack(&train, &test, &set, &decoys, &refitted, &|| false, &|_| {}).unwrap();
    assert_eq!(c.poison.n(), 124);
    assert!(c.poison.values().iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    assert_ne!(c.poison.values(), a.poison.values());
    eprintln!("KKT attack refitted once: min error {:.4}", c.best.min_error);
    // An abort ends the sweep with ERR_ABORTED.
    let err = kkt_attack(&train, &test, &set, &decoys, &attack, &|| true, &|_| {}).unwrap_err();
    assert_eq!(err.code(), "ERR_ABORTED");
}
