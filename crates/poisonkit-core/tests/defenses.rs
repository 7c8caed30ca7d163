//! The evaluation harness against `../shared/fixtures/enron-minmax-eps0.03`: 48 recorded min-max
//! attacks on Enron with the per-defense test errors of a reference-faithful evaluator (see the
//! fixture's README), and the clean Enron errors listed there.

#![allow(clippy::print_stderr)]

mod common;

use std::io::Read;

use poisonkit_core::data::{Dataset, ReadOptions, read_dataset};
use poisonkit_core::defense::{Defense, Evaluation, EvaluationOptions, evaluate};

const D: usize = 5116;

fn evaluate_enron(train: &Dataset, test: &Dataset, poison: Option<&Dataset>) -> Evaluation {
    evaluate(train, test, poison, &EvaluationOptions::new(0.09), &|| false).unwrap()
}

fn error_of(e: &Evaluation, defense: Defense) -> f64 {
    e.defenses.iter().find(|o| o.defense == defense).unwrap().test_error
}

#[test]
fn clean_enron_matches_the_fixture_readme() {
    let Some((train, test)) = common::load("enron", D) else {
        return;
    };
    let e = evaluate_enron(&train, &test, None);
    // README table (misclassified test points of 1035): none 30, L2 32, slab 29, loss 31, svd 34, knn 31.
    let count = |x: f64| (x * 1035.0).round() as i64;
    assert_eq!(count(e.none), 30);
    for (defense, want) in [
        (Defense::L2, 32),
        (Defense::Slab, 29),
        (Defense::Loss, 31),
        (Defense::Svd, 34),
        (Defense::Knn, 31),
    ] {
        let got = count(error_of(&e, defense));
        eprintln!("clean {defense:?}: {got} (reference {want})");
        assert!(
            (got - want).abs() <= 3,
            "{defense:?}: {got} misclassified, reference {want}"
        );
    }
}

/// The expected results of the fixture: (attack name, none, [l2, slab, loss, svd, knn]).
fn expected(dir: &std::path::Path) -> Vec<(String, f64, [f64; 5])> {
    let mut text = String::new();
    std::fs::File::open(dir.join("expected.jsonl"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| {
            // Flat numeric fields of one JSON line, read without a JSON dependency.
            let field = |key: &str| -> f64 {
                let at = line
                    .find(&format!("\"{key}\": "))
                    .unwrap_or_else(|| panic!("{key} in {line}"));
                let rest = &line[at + key.len() + 4..];
                rest[..rest.find([',', '}']).unwrap()].trim().parse().unwrap()
            };
            let name = line.split('"').nth(3).unwrap().to_string();
            (
                name,
                field("none"),
                [field("L2"), field("slab"), field("loss"), field("svd"), field("knn")],
            )
        })
        .collect()
}

#[test]
fn minmax_fixture_within_reference_tolerance() {
    let Some((train, test)) = common::load("enron", D) else {
        return;
    };
    let dir = common::data_dir().join("../fixtures/enron-minmax-eps0.03");
    let rows = expected(&dir);
    assert_eq!(rows.len(), 48);
    let (mut close, mut total) = (0, 0);
    for (name, none, want) in &rows {
        let path = dir.join(format!("{name}.svm.gz"));
        let options = ReadOptions {
            d: Some(D),
            ..Default::default()
        };
        let poison = read_dataset(path.to_str().unwrap(), &options, &|| false).unwrap();
        let e = evaluate_enron(&train, &test, Some(&poison));
        // No defense: the same deterministic problem, so exactly the same error.
        assert_eq!((e.none * 1035.0).round(), (none * 1035.0).round(), "{name}: none");
        close += 1;
        total += 1;
        for (defense, want) in Defense::ALL.iter().zip(want) {
            let got = error_of(&e, *defense);
            total += 1;
            if (got - want).abs() <= 0.003 + 1e-12 {
                close += 1;
            } else {
                eprintln!("{name} {defense:?}: {got:.4} vs reference {want:.4}");
            }
        }
    }
    eprintln!("within 0.3 points: {close} of {total}");
    // The bar: at least 95% of the 48 × 6 numbers within 0.3 percentage points.
    assert!(close as f64 >= 0.95 * total as f64, "{close} of {total}");
}
