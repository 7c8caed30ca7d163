//! The defender's trainers on small synthetic problems: optimality certificates, the two bias
//! forms, sample weights, warm starts, determinism and abort.

use approx::assert_relative_eq;
use poisonkit_core::data::{BagOfWordsOptions, BlobsOptions, Dataset, make_bag_of_words, make_blobs};
use poisonkit_core::model::{Fit, Loss, Problem, SolverOptions, WarmStart, train};

fn never() -> bool {
    false
}

fn blobs(seed: u64) -> Dataset {
    make_blobs(&BlobsOptions {
        n: 300,
        d: 10,
        separation: 2.0,
        seed,
        ..Default::default()
    })
    .unwrap()
}

fn fit(data: &Dataset, loss: Loss, regularize_bias: bool, tol: f64) -> Fit {
    let problem = Problem::new(data, 0.05, loss, regularize_bias, None).unwrap();
    let options = SolverOptions {
        tol,
        ..Default::default()
    };
    train(&problem, &options, None, &never).unwrap()
}

#[test]
fn reported_objective_and_gap_are_honest() {
    for data in [
        blobs(1),
        make_bag_of_words(&BagOfWordsOptions {
            n: 500,
            d: 200,
            ..Default::default()
        })
        .unwrap(),
    ] {
        for loss in [Loss::Hinge, Loss::Logistic, Loss::SmoothHinge { t: 0.05 }] {
            for reg in [true, false] {
                let problem = Problem::new(&data, 0.05, loss, reg, None).unwrap();
                let f = fit(&data, loss, reg, 1e-6);
                assert!(f.converged, "{loss:?} reg {reg}");
                assert_relative_eq!(f.objective, problem.value(&f.model), max_relative = 1e-12);
                // A much tighter solve is the reference optimum: the loose one is within its gap.
                let tight = fit(&data, loss, reg, 1e-9);
                assert!(tight.converged, "{loss:?} reg {reg}: reference solve did not converge");
                let excess = f.objective - tight.objective;
                assert!(
                    excess >= -1e-9 * tight.objective,
                    "{loss:?} reg {reg}: below the optimum by {excess}"
                );
                assert!(
                    excess <= f.duality_gap + 1e-12,
                    "{loss:?} reg {reg}: excess {excess} > gap {}",
                    f.duality_gap
                );
                assert!(f.duality_gap <= 1e-6 * f.objective);
            }
        }
    }
}

#[test]
fn unregularized_bias_is_optimal_in_b() {
    // Data far from the origin, so that the best bias is far from 0 and the two forms differ.
    let blobs = make_blobs(&BlobsOptions {
        n: 400,
        d: 5,
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    let shifted: Vec<f64> = (0..blobs.n())
        .flat_map(|i| {
            let mut row = vec![1.0; 5];
            let (idx, val) = blobs.row(i);
            idx.iter().zip(val).for_each(|(j, v)| row[*j as usize] += v);
            row
        })
        .collect();
    let data = Dataset::from_dense(&shifted, 5, blobs.labels().to_vec(), "shifted").unwrap();
    for loss in [Loss::Hinge, Loss::Logistic] {
        let free = fit(&data, loss, false, 1e-7);
        let regularized = fit(&data, loss, true, 1e-7);
        assert!(
            free.converged,
            "{loss:?}: gap {} objective {} iterations {}",
            free.duality_gap, free.objective, free.iterations
        );
        let problem = Problem::new(&data, 0.05, loss, false, None).unwrap();
        // Better than the regularized solution on the unregularized objective...
        assert!(free.objective < problem.value(&regularized.model), "{loss:?}");
        // ...and no bias nearby does better than the certified gap allows.
        for delta in [-1e-2, -1e-4, 1e-4, 1e-2] {
            let mut moved = free.model.clone();
            moved.bias += delta;
            assert!(
                problem.value(&moved) >= free.objective - free.duality_gap,
                "{loss:?} δ {delta}"
            );
        }
        if loss.is_smooth() {
            // ∂P/∂b = 0 at the optimum of a smooth loss.
            assert!(problem.gradient(&free.model).1.abs() < 1e-6, "{loss:?}");
        }
    }
}

#[test]
fn integer_weights_equal_copies() {
    let data = blobs(2);
    let mut weights = vec![1.0; data.n()];
    weights[0] = 3.0;
    weights[7] = 0.0;
    let mut rows: Vec<usize> = (0..data.n()).filter(|&i| i != 7).collect();
    rows.extend([0, 0]);
    let copies = data.slice(&rows).unwrap();
    for loss in [Loss::Hinge, Loss::Logistic] {
        let weighted = Problem::new(&data, 0.05, loss, true, Some(&weights)).unwrap();
        let a = train(
            &weighted,
            &SolverOptions {
                tol: 1e-10,
                ..Default::default()
            },
            None,
            &never,
        )
        .unwrap();
        let b = fit(&copies, loss, true, 1e-10);
        assert_relative_eq!(a.objective, b.objective, max_relative = 1e-8);
        for (x, y) in a.model.w.iter().zip(&b.model.w) {
            assert!((x - y).abs() < 1e-4, "{loss:?}: {x} vs {y}");
        }
    }
}

#[test]
fn warm_start_reaches_the_same_optimum_faster() {
    let data = make_bag_of_words(&BagOfWordsOptions {
        n: 1500,
        d: 300,
        ..Default::default()
    })
    .unwrap();
    let problem = Problem::new(&data, 0.01, Loss::Hinge, true, None).unwrap();
    let options = SolverOptions {
        tol: 1e-8,
        ..Default::default()
    };
    let cold = train(&problem, &options, None, &never).unwrap();
    let warm = WarmStart {
        model: &cold.model,
        dual: Some(&cold.dual),
    };
    let again = train(&problem, &options, Some(warm), &never).unwrap();
    assert!(
        again.iterations < cold.iterations,
        "{} vs {}",
        again.iterations,
        cold.iterations
    );
    assert_relative_eq!(again.objective, cold.objective, max_relative = 1e-7);
    // Without the dual the hinge solver cannot warm-start.
    let no_dual = WarmStart {
        model: &cold.model,
        dual: None,
    };
    assert_eq!(
        train(&problem, &options, Some(no_dual), &never).unwrap_err().code(),
        "ERR_INVALID_OPTION"
    );
}

#[test]
fn same_seed_same_bytes_and_abort() {
    let data = blobs(4);
    let a = fit(&data, Loss::Hinge, true, 1e-6);
    let b = fit(&data, Loss::Hinge, true, 1e-6);
    assert_eq!(a.model, b.model);
    let problem = Problem::new(&data, 0.05, Loss::Hinge, true, None).unwrap();
    let err = train(&problem, &SolverOptions::default(), None, &|| true).unwrap_err();
    assert_eq!(err.code(), "ERR_ABORTED");
}

#[test]
fn max_iter_budgets_passes_over_the_data_not_epochs() {
    // At a small λ the hinge solver's slow tail runs on the few points shrinking leaves active:
    // 200 passes' worth of visits buys more than 200 such epochs, enough to converge here.
    let data = blobs(1);
    let problem = Problem::new(&data, 1e-3, Loss::Hinge, true, None).unwrap();
    let budget = |max_iter| SolverOptions {
        max_iter,
        ..Default::default()
    };
    let f = train(&problem, &budget(200), None, &never).unwrap();
    assert!(f.converged && f.iterations > 200, "{} epochs", f.iterations);
    assert!(f.duality_gap <= 1e-6 * f.objective);
    // The budget still binds: one pass is one full epoch, reported as not converged.
    let one = train(&problem, &budget(1), None, &never).unwrap();
    assert!(!one.converged && one.iterations == 1, "{} epochs", one.iterations);
}

#[test]
fn gradient_and_hessian_match_finite_differences() {
    let data = blobs(5);
    let problem = Problem::new(&data, 0.05, Loss::SmoothHinge { t: 0.5 }, true, None).unwrap();
    let model = fit(&data, Loss::Logistic, true, 1e-3).model; // any point
    let (g, gb) = problem.gradient(&model);
    let v: Vec<f64> = (0..data.d()).map(|j| ((j * 7 % 5) as f64 - 2.0) / 3.0).collect();
    let vb = 0.7;
    let h = 1e-6;
    let shifted = |s: f64| {
        let mut m = model.clone();
        m.w.iter_mut().zip(&v).for_each(|(w, v)| *w += s * v);
        m.bias += s * vb;
        m
    };
    let directional = (problem.value(&shifted(h)) - problem.value(&shifted(-h))) / (2.0 * h);
    let g_dot_v: f64 = g.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() + gb * vb;
    assert_relative_eq!(directional, g_dot_v, max_relative = 1e-6);
    let (hv, hvb) = problem.hessian_vector_product(&model, &v, vb).unwrap();
    let (gp, gpb) = problem.gradient(&shifted(h));
    let (gm, gmb) = problem.gradient(&shifted(-h));
    for j in 0..data.d() {
        assert_relative_eq!(hv[j], (gp[j] - gm[j]) / (2.0 * h), epsilon = 1e-6, max_relative = 1e-5);
    }
    assert_relative_eq!(hvb, (gpb - gmb) / (2.0 * h), epsilon = 1e-6, max_relative = 1e-5);
}

#[test]
fn bad_problems_are_rejected() {
    let data = blobs(6);
    let code = |r: poisonkit_core::Result<Problem>| r.unwrap_err().code();
    assert_eq!(
        code(Problem::new(&data, 0.0, Loss::Hinge, true, None)),
        "ERR_INVALID_OPTION"
    );
    assert_eq!(
        code(Problem::new(&data, f64::NAN, Loss::Hinge, true, None)),
        "ERR_INVALID_OPTION"
    );
    assert_eq!(
        code(Problem::new(&data, 0.1, Loss::Hinge, true, Some(&[1.0]))),
        "ERR_DIM_MISMATCH"
    );
    let neg = vec![-1.0; data.n()];
    assert_eq!(
        code(Problem::new(&data, 0.1, Loss::Hinge, true, Some(&neg))),
        "ERR_INVALID_OPTION"
    );
    let positives: Vec<usize> = (0..data.n()).filter(|&i| data.labels()[i] == 1).collect();
    let one_class = data.slice(&positives).unwrap();
    let err = Problem::new(&one_class, 0.1, Loss::Hinge, true, None).unwrap_err();
    assert_eq!(err.code(), "ERR_EMPTY_CLASS");
    assert!(err.to_string().contains("class -1"), "{err}");
}

#[test]
fn degenerate_and_extreme_data_converge_or_say_why() {
    // One point with both labels: the optimum is w = 0, b = 0 (objective 1, the mean hinge loss).
    // Both projected gradients stay equal on the way there, which once ended the solve early.
    let both = Dataset::from_dense(&[1.0, 2.0, 1.0, 2.0], 2, vec![1, -1], "both").unwrap();
    for regularize_bias in [true, false] {
        let problem = Problem::new(&both, 0.1, Loss::Hinge, regularize_bias, None).unwrap();
        let f = train(&problem, &SolverOptions::default(), None, &never).unwrap();
        assert!(
            f.converged && (f.objective - 1.0).abs() < 1e-6,
            "{} {:?}",
            f.objective,
            f.model
        );
    }
    // Weights whose sum overflows give the model of equal weights.
    let data = blobs(2);
    let fit_with = |w: f64| {
        let weights = vec![w; data.n()];
        let problem = Problem::new(&data, 0.05, Loss::Hinge, true, Some(&weights)).unwrap();
        train(&problem, &SolverOptions::default(), None, &never).unwrap().model
    };
    let (huge, unit) = (fit_with(1e308), fit_with(1.0));
    assert!(
        huge.w.iter().zip(&unit.w).all(|(a, b)| (a - b).abs() < 1e-9),
        "{huge:?} vs {unit:?}"
    );
    // Values whose squares overflow: a clear error, not an infinite objective called converged.
    let scaled = Dataset::from_dense(&[1e155, 0.0, 0.0, 1e155], 2, vec![1, -1], "scaled").unwrap();
    let err = Problem::new(&scaled, 0.1, Loss::Logistic, true, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "training data row 0: its squared norm overflows (a value of magnitude 1e155): rescale the data"
    );
    let large = Dataset::from_dense(&[1e100, 0.0, 0.0, 1e100], 2, vec![1, -1], "large").unwrap();
    let problem = Problem::new(&large, 0.1, Loss::Logistic, true, None).unwrap();
    match train(&problem, &SolverOptions::default(), None, &never) {
        Ok(f) => assert!(f.objective.is_finite(), "{f:?}"),
        Err(e) => assert_eq!(e.code(), "ERR_SOLVER", "{e}"),
    }
}
