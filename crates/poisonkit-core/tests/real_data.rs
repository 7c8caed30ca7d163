//! The defender on the paper's real data sets (Table 1), checked against the paper and against
//! scikit-learn on the same files.
//!
//! scikit-learn numbers: `benchmarks/python/sklearn_baseline.py` (scikit-learn 1.9.1,
//! `LinearSVC(loss='hinge', C=1/(nλ), intercept_scaling=1)` and liblinear `LogisticRegression`,
//! both with the bias regularized like ours), recorded below with the settings that produced them.

mod common;

use poisonkit_core::model::{Fit, Loss, Problem, SolverOptions, train};

fn fit(data: &poisonkit_core::data::Dataset, lambda: f64, loss: Loss, regularize_bias: bool) -> Fit {
    let problem = Problem::new(data, lambda, loss, regularize_bias, None).unwrap();
    train(&problem, &SolverOptions::default(), None, &|| false).unwrap()
}

/// Enron hinge, λ 0.09: LinearSVC's objective at tol 1e-6, and at tol 1e-10 (≈ the optimum; tol
/// 1e-12 agrees to 8e-14).
const ENRON_SKLEARN_TOL6: f64 = 0.2733370519413005;
const ENRON_OPTIMUM: f64 = 0.2733370510458962;
/// Enron logistic, λ 0.09: liblinear LogisticRegression at tol 1e-10.
const ENRON_LOGISTIC_OPTIMUM: f64 = 0.3441747507829065;

#[test]
fn enron_hinge_matches_the_paper_and_liblinear() {
    let Some((tr, te)) = common::load("enron", 5116) else {
        return;
    };
    let f = fit(&tr, 0.09, Loss::Hinge, true);
    assert!(f.converged);
    // The paper's 2.9%; scikit-learn gives exactly 30 of 1035.
    let wrong = (f.model.error(&te).unwrap() * te.n() as f64).round();
    assert_eq!(wrong, 30.0, "misclassified test points");
    // Within 1e-6 of the optimum (certified by the gap, and checked against liblinear's optimum),
    // and not above liblinear's tol-1e-6 objective by more than that.
    assert!(f.duality_gap <= 1e-6 * f.objective);
    assert!(
        (f.objective - ENRON_OPTIMUM).abs() <= 1e-6 * ENRON_OPTIMUM,
        "objective {}",
        f.objective
    );
    assert!(
        f.objective <= ENRON_SKLEARN_TOL6 * (1.0 + 1e-6),
        "objective {}",
        f.objective
    );
    // The certificate is consistent with the reference optimum.
    assert!(f.objective - f.duality_gap <= ENRON_OPTIMUM * (1.0 + 1e-12));
}

#[test]
fn enron_logistic_matches_liblinear() {
    let Some((tr, _)) = common::load("enron", 5116) else {
        return;
    };
    let f = fit(&tr, 0.09, Loss::Logistic, true);
    assert!(f.converged);
    assert!(
        (f.objective - ENRON_LOGISTIC_OPTIMUM).abs() <= 1e-6 * ENRON_LOGISTIC_OPTIMUM,
        "{}",
        f.objective
    );
}

#[test]
fn enron_unregularized_bias_is_no_worse_on_its_objective() {
    let Some((tr, _)) = common::load("enron", 5116) else {
        return;
    };
    let free = fit(&tr, 0.09, Loss::Hinge, false);
    let regularized = fit(&tr, 0.09, Loss::Hinge, true);
    assert!(free.converged);
    let p = Problem::new(&tr, 0.09, Loss::Hinge, false, None).unwrap();
    assert!(free.objective <= p.value(&regularized.model) + free.duality_gap);
    assert!(free.duality_gap <= 1e-6 * free.objective);
}

#[test]
fn imdb_and_mnist17_errors_match_the_paper() {
    // Paper Table 1: IMDB 11.9% (scikit-learn here: 11.80%), MNIST-1-7 0.7% (0.74%); tolerances
    // from the issue: ±0.3 and ±0.2 percentage points.
    for (name, d, lambda, paper, tol) in [
        ("mnist17", 784, 0.01, 0.007, 0.002),
        ("imdb", 89527, 0.01, 0.119, 0.003),
    ] {
        let Some((tr, te)) = common::load(name, d) else { return };
        let f = fit(&tr, lambda, Loss::Hinge, true);
        let err = f.model.error(&te).unwrap();
        assert!(f.converged, "{name}");
        assert!((err - paper).abs() <= tol, "{name}: test error {err}, paper {paper}");
    }
}
