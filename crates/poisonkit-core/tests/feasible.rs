//! Feasible sets: radii against the digest's Enron table, projection and linear minimization
//! properties, infeasibility, and the LP relaxation's guarantee after randomized rounding.

mod common;

use poisonkit_core::data::{BagOfWordsOptions, Dataset, make_bag_of_words};
use poisonkit_core::feasible::{FeasibleOptions, FeasibleSet, Repeats, Upper, round_points};
use poisonkit_core::rng::seeded;
use rand::RngExt;

fn small_set(lp: bool) -> (Dataset, FeasibleSet) {
    let data = make_bag_of_words(&BagOfWordsOptions {
        n: 300,
        d: 40,
        doc_length: 30.0,
        ..Default::default()
    })
    .unwrap();
    let options = FeasibleOptions {
        upper: Upper::ColumnMax,
        lp_relaxation: lp,
        ..Default::default()
    };
    let set = FeasibleSet::from_clean(&data, &options).unwrap();
    (data, set)
}

/// 200 documents over 25 words, for the comparisons with Clarabel.
fn small_words(seed: u64) -> Dataset {
    make_bag_of_words(&BagOfWordsOptions {
        n: 200,
        d: 25,
        doc_length: 40.0,
        seed,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn enron_radii_match_the_digest() {
    let Some((train, _)) = common::load("enron", 5116) else {
        return;
    };
    let set = FeasibleSet::from_clean(&train, &FeasibleOptions::default()).unwrap();
    // Digest §1.2 (numpy, 90th percentile): sphere 25.74 / 20.54, slab 7.736 / 0.610 for −1 / +1.
    for (label, sphere, slab) in [(-1, 25.74, 7.736), (1, 20.54, 0.610)] {
        let c = set.class(label).unwrap();
        assert!(
            (c.sphere_radius.unwrap() - sphere).abs() < 5e-3,
            "{label}: {:?}",
            c.sphere_radius
        );
        assert!(
            (c.slab.as_ref().unwrap().1 - slab).abs() < 5e-4,
            "{label}: {:?}",
            c.slab.as_ref().unwrap().1
        );
    }
}

#[test]
fn projection_is_feasible_idempotent_and_nearest() {
    for lp in [false, true] {
        let (_, set) = small_set(lp);
        let mut rng = seeded(3);
        for label in [-1, 1] {
            for _ in 0..5 {
                let x0: Vec<f64> = (0..set.d()).map(|_| 6.0 * rng.random::<f64>() - 1.0).collect();
                let p = set.project(&x0, label).unwrap();
                assert!(set.violation(&p.x, label).unwrap() <= 1e-6, "lp {lp}: violation");
                let again = set.project(&p.x, label).unwrap();
                let moved: f64 = again
                    .x
                    .iter()
                    .zip(&p.x)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                assert!(moved <= 1e-5, "lp {lp}: not idempotent ({moved})");
                // No feasible point tried is nearer: the centroid and points between it and p.
                let mu = &set.class(label).unwrap().centroid;
                for t in [0.0, 0.5, 0.9] {
                    let z: Vec<f64> = mu.iter().zip(&p.x).map(|(m, x)| m + t * (x - m)).collect();
                    if set.contains(&z, label, 1e-9).unwrap() {
                        let dz: f64 = z.iter().zip(&x0).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                        assert!(p.value <= dz + 1e-6, "lp {lp}: a nearer feasible point");
                    }
                }
            }
            // A feasible point comes back unchanged.
            let mu = set.class(label).unwrap().centroid.clone();
            let p = set.project(&mu, label).unwrap();
            assert!(p.value < 1e-5, "lp {lp}: the centroid moved by {}", p.value);
        }
    }
}

#[test]
fn linear_minimization_beats_feasible_points() {
    let (_, set) = small_set(true);
    let mut rng = seeded(5);
    let c: Vec<f64> = (0..set.d()).map(|_| rng.random::<f64>() - 0.5).collect();
    let best = set.minimize_linear(&c, 1).unwrap();
    assert!(set.violation(&best.x, 1).unwrap() <= 1e-6);
    for _ in 0..20 {
        let x0: Vec<f64> = (0..set.d()).map(|_| 5.0 * rng.random::<f64>()).collect();
        let z = set.project(&x0, 1).unwrap().x;
        let cz: f64 = c.iter().zip(&z).map(|(a, b)| a * b).sum();
        assert!(best.value <= cz + 1e-6);
    }
}

#[test]
fn a_cap_that_excludes_the_ball_is_infeasible() {
    let (_, mut set) = small_set(false);
    // 1 − (θ·x + b) ≤ τ with θ = 0, b = −5, τ = 0.1: 6 ≤ 0.1 never holds.
    let theta = vec![0.0; set.d()];
    set.add_loss_cap(1, &theta, -5.0, 0.1).unwrap();
    let err = set.project(&vec![1.0; set.d()], 1).unwrap_err();
    assert_eq!(err.code(), "ERR_INFEASIBLE", "{err}");
    let err = set.minimize_linear(&vec![1.0; set.d()], 1).unwrap_err();
    assert_eq!(err.code(), "ERR_INFEASIBLE", "{err}");
    assert!(
        set.project(&vec![1.0; set.d()], -1).is_ok(),
        "the other class is unaffected"
    );
}

#[test]
fn lp_relaxation_keeps_rounded_points_in_the_sphere_on_average() {
    let Some((train, _)) = common::load("enron", 5116) else {
        return;
    };
    let options = |lp| FeasibleOptions {
        slab: false,
        upper: Upper::ColumnMax,
        lp_relaxation: lp,
        ..Default::default()
    };
    // Push as far as possible along a fixed direction (the min-max attack's inner step).
    let label = 1;
    let mut rng = seeded(11);
    let c: Vec<f64> = (0..train.d()).map(|_| -rng.random::<f64>()).collect();
    for lp in [true, false] {
        let set = FeasibleSet::from_clean(&train, &options(lp)).unwrap();
        let class = set.class(label).unwrap();
        let r2 = class.sphere_radius.unwrap().powi(2);
        let x = set.minimize_linear(&c, label).unwrap().x;
        let point = Dataset::from_dense(&x, train.d(), vec![label], "x").unwrap();
        let rounded = round_points(&point, Repeats::Independent(1000), 1).unwrap();
        let sq: Vec<f64> = (0..rounded.n())
            .map(|i| {
                let mut z = class.centroid.clone();
                let (idx, val) = rounded.row(i);
                idx.iter().zip(val).for_each(|(&j, &v)| z[j as usize] -= v);
                z.iter().map(|v| v * v).sum()
            })
            .collect();
        let mean = sq.iter().sum::<f64>() / sq.len() as f64;
        let sd = (sq.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (sq.len() - 1) as f64).sqrt();
        let standard_error = sd / (sq.len() as f64).sqrt();
        if lp {
            assert!(
                mean <= r2 + 3.0 * standard_error,
                "LP: mean {mean} > r² {r2} (se {standard_error})"
            );
        } else {
            assert!(
                mean > r2 + 3.0 * standard_error,
                "sphere: mean {mean} ≤ r² {r2} (se {standard_error})"
            );
        }
    }
}

#[test]
fn fast_path_agrees_with_clarabel_for_every_combination() {
    use poisonkit_core::feasible::Method;
    let data = small_words(4);
    let mut rng = seeded(21);
    let (mut checked, mut linear) = (0, 0);
    for sphere in ["none", "exact", "relaxed"] {
        for slab in [false, true] {
            for boxed in [false, true] {
                for halfspaces in 0..3 {
                    if sphere == "relaxed" && !boxed {
                        continue; // the relaxation needs the box's upper end
                    }
                    let options = FeasibleOptions {
                        sphere: sphere != "none",
                        slab,
                        nonnegative: Some(boxed),
                        upper: if boxed { Upper::ColumnMax } else { Upper::None },
                        lp_relaxation: sphere == "relaxed",
                        ..Default::default()
                    };
                    let mut set = FeasibleSet::from_clean(&data, &options).unwrap();
                    let mu = set.class(1).unwrap().centroid.clone();
                    for _ in 0..halfspaces {
                        // A random cap that the centroid satisfies with some room.
                        let a: Vec<f64> = (0..set.d()).map(|_| rng.random::<f64>() - 0.5).collect();
                        let at_mu: f64 = a.iter().zip(&mu).map(|(a, m)| a * m).sum();
                        set.add_halfspace(1, a, at_mu + 0.3).unwrap();
                    }
                    if sphere == "none" && !slab && !boxed && halfspaces == 0 {
                        continue; // no constraint at all
                    }
                    for _ in 0..4 {
                        let x0: Vec<f64> = (0..set.d()).map(|_| 8.0 * rng.random::<f64>() - 2.0).collect();
                        let what = format!("sphere {sphere} slab {slab} box {boxed} halfspaces {halfspaces}");
                        let fast = set
                            .project_with(&x0, 1, Method::Fast)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        let conic = set.project_with(&x0, 1, Method::Conic).unwrap();
                        assert_eq!(
                            fast.report.solver, "dual-newton",
                            "{what}: the fast path fell back to {:?}",
                            fast.report
                        );
                        let gap: f64 = fast
                            .x
                            .iter()
                            .zip(&conic.x)
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>()
                            .sqrt();
                        let what = format!("sphere {sphere} slab {slab} box {boxed} halfspaces {halfspaces}");
                        assert!(
                            gap <= 1e-5 * (1.0 + conic.value),
                            "{what}: fast and Clarabel differ by {gap}"
                        );
                        assert!(fast.value <= conic.value + 1e-7, "{what}: fast is farther");
                        assert!(
                            set.violation(&fast.x, 1).unwrap() <= 1e-9 * (1.0 + conic.value),
                            "{what}: infeasible"
                        );
                        checked += 1;
                        // Linear minimization, where the set is bounded.
                        if sphere == "none" && !boxed {
                            continue;
                        }
                        let c: Vec<f64> = (0..set.d()).map(|_| rng.random::<f64>() - 0.5).collect();
                        let fast = set
                            .minimize_linear_with(&c, 1, Method::Fast)
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                        let conic = set.minimize_linear_with(&c, 1, Method::Conic).unwrap();
                        let solver = if boxed { "cutting-plane" } else { "proximal-dual-newton" };
                        assert_eq!(fast.report.solver, solver, "{what}: {:?}", fast.report);
                        assert!(
                            (fast.value - conic.value).abs() <= 1e-6 * (1.0 + conic.value.abs()),
                            "{what}: min c·x {} by the fast path, {} by Clarabel",
                            fast.value,
                            conic.value
                        );
                        assert!(
                            set.violation(&fast.x, 1).unwrap() <= 1e-9,
                            "{what}: infeasible minimizer"
                        );
                        linear += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked >= 100 && linear >= 80,
        "{checked} projections, {linear} linear minimizations"
    );
}

#[test]
fn kkt_program_finds_the_best_pair() {
    let (_, set) = small_set(true);
    let (ep, en) = (0.02, 0.01);
    let mut rng = seeded(8);
    // A target reachable exactly: g = ε₊a − ε₋b for feasible a, b.
    let a = set
        .project(&(0..set.d()).map(|_| 4.0 * rng.random::<f64>()).collect::<Vec<_>>(), 1)
        .unwrap()
        .x;
    let b = set
        .project(&(0..set.d()).map(|_| 4.0 * rng.random::<f64>()).collect::<Vec<_>>(), -1)
        .unwrap()
        .x;
    let g: Vec<f64> = a.iter().zip(&b).map(|(a, b)| ep * a - en * b).collect();
    let exact = set.kkt_program(&g, ep, en).unwrap();
    assert!(exact.value < 1e-6, "reachable target left a residual {}", exact.value);
    // An unreachable target: the solution is feasible and no worse than feasible pairs tried.
    let g: Vec<f64> = (0..set.d()).map(|_| rng.random::<f64>() - 0.8).collect();
    let best = set.kkt_program(&g, ep, en).unwrap();
    assert!(set.violation(&best.x_pos, 1).unwrap() <= 1e-6 && set.violation(&best.x_neg, -1).unwrap() <= 1e-6);
    for _ in 0..10 {
        let a = set
            .project(&(0..set.d()).map(|_| 6.0 * rng.random::<f64>()).collect::<Vec<_>>(), 1)
            .unwrap()
            .x;
        let b = set
            .project(&(0..set.d()).map(|_| 6.0 * rng.random::<f64>()).collect::<Vec<_>>(), -1)
            .unwrap()
            .x;
        let r: f64 = (0..set.d())
            .map(|j| (g[j] - ep * a[j] + en * b[j]).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(best.value <= r + 1e-7);
    }
    assert_eq!(set.kkt_program(&g, -1.0, en).unwrap_err().code(), "ERR_INVALID_OPTION");
}

#[test]
fn fast_kkt_program_agrees_with_clarabel() {
    use poisonkit_core::feasible::{KKT_GAP_TOL, Method};
    let data = small_words(6);
    let mut rng = seeded(33);
    let mut checked = 0;
    for sphere in ["none", "exact", "relaxed"] {
        for slab in [false, true] {
            for caps in [false, true] {
                let options = FeasibleOptions {
                    sphere: sphere != "none",
                    slab,
                    upper: Upper::ColumnMax,
                    lp_relaxation: sphere == "relaxed",
                    ..Default::default()
                };
                let mut set = FeasibleSet::from_clean(&data, &options).unwrap();
                if caps {
                    // The KKT attack's constraints: support vectors and loss caps under a decoy.
                    let theta: Vec<f64> = (0..set.d()).map(|_| rng.random::<f64>() - 0.5).collect();
                    let bias = 0.3;
                    set.add_loss_cap(1, &theta, bias, 2.0).unwrap();
                    set.add_loss_cap(-1, &theta, bias, 2.0).unwrap();
                    set.add_halfspace(1, theta.clone(), 1.0 - bias).unwrap();
                    set.add_halfspace(-1, theta.iter().map(|t| -t).collect(), 1.0 + bias)
                        .unwrap();
                }
                for (ep, en) in [(0.02, 0.01), (0.005, 0.025), (0.015, 0.015), (0.03, 0.0)] {
                    let g: Vec<f64> = (0..set.d()).map(|_| 0.1 * (rng.random::<f64>() - 0.5)).collect();
                    let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                    let what = format!("sphere {sphere} slab {slab} caps {caps} eps ({ep}, {en})");
                    let conic = match set.kkt_program_with(&g, ep, en, Method::Conic, KKT_GAP_TOL) {
                        Ok(k) => k,
                        Err(e) if e.code() == "ERR_INFEASIBLE" => continue,
                        Err(e) => panic!("{what}: {e}"),
                    };
                    let fast = set
                        .kkt_program_with(&g, ep, en, Method::Fast, KKT_GAP_TOL)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_ne!(fast.report.solver, "clarabel", "{what}: the fast path fell back");
                    assert!(
                        (fast.value - conic.value).abs() <= 1e-6 * conic.value + 1e-9 * gnorm,
                        "{what}: {} by the fast path, {} by Clarabel",
                        fast.value,
                        conic.value
                    );
                    for (x, label) in [(&fast.x_pos, 1), (&fast.x_neg, -1)] {
                        assert!(set.violation(x, label).unwrap() <= 1e-8, "{what}: infeasible");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 40, "{checked} instances");
}

#[test]
fn fast_kkt_program_agrees_with_clarabel_on_enron() {
    use poisonkit_core::feasible::{KKT_GAP_TOL, Method};
    use poisonkit_core::model::{Loss, Problem, SolverOptions, train};
    let Some((train_set, _)) = common::load("enron", 5116) else {
        return;
    };
    // The KKT attack's program for a decoy (here the clean SVM, λ 0.09): target gradient from the
    // points with margin < 0.99, support-vector constraints, loss caps at the 90th percentile.
    let problem = Problem::new(&train_set, 0.09, Loss::Hinge, false, None).unwrap();
    let fit = train(&problem, &SolverOptions::default(), None, &|| false).unwrap();
    let (theta, bias) = (&fit.model.w, fit.model.bias);
    let n = train_set.n() as f64;
    let mut g: Vec<f64> = theta.iter().map(|t| 1.03 * 0.09 * t).collect();
    let mut losses = [Vec::new(), Vec::new()];
    for i in 0..train_set.n() {
        let y = train_set.labels()[i] as f64;
        let margin = y * (train_set.row_dot(i, theta) + bias);
        if margin < 0.99 {
            train_set.row_axpy(i, -y / n, &mut g);
        }
        losses[usize::from(y > 0.0)].push((1.0 - margin).max(0.0));
    }
    let options = FeasibleOptions {
        upper: Upper::ColumnMax,
        lp_relaxation: true,
        ..Default::default()
    };
    let mut set = FeasibleSet::from_clean(&train_set, &options).unwrap();
    for (label, k) in [(1, 1), (-1, 0)] {
        let cap = poisonkit_core::feasible::percentile(&losses[k], 90.0).unwrap();
        set.add_loss_cap(label, theta, bias, cap).unwrap();
        let y = label as f64;
        set.add_halfspace(label, theta.iter().map(|t| y * t).collect(), 1.0 - y * bias)
            .unwrap();
    }
    let fast = set.kkt_program_with(&g, 0.02, 0.01, Method::Fast, KKT_GAP_TOL).unwrap();
    let conic = set
        .kkt_program_with(&g, 0.02, 0.01, Method::Conic, KKT_GAP_TOL)
        .unwrap();
    assert_eq!(fast.report.solver, "kkt-dual-newton");
    assert!(
        (fast.value - conic.value).abs() <= 1e-6 * conic.value,
        "{} by the fast path, {} by Clarabel",
        fast.value,
        conic.value
    );
    assert!(set.violation(&fast.x_pos, 1).unwrap() <= 1e-8 && set.violation(&fast.x_neg, -1).unwrap() <= 1e-8);
    // The attack's looser gap: ½‖·‖² within that fraction of the minimum, still feasible.
    let loose = set.kkt_program_with(&g, 0.02, 0.01, Method::Fast, 1e-4).unwrap();
    assert_eq!(loose.report.solver, "kkt-dual-newton");
    let (f, f_min) = (loose.value.powi(2), conic.value.powi(2));
    assert!(
        f >= f_min * (1.0 - 1e-9) && f <= f_min * (1.0 + 1e-4),
        "{f} against {f_min}"
    );
    assert!(set.violation(&loose.x_pos, 1).unwrap() <= 1e-8 && set.violation(&loose.x_neg, -1).unwrap() <= 1e-8);
    let err = set.kkt_program_with(&g, 0.02, 0.01, Method::Fast, 0.0).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_OPTION");
    assert!(err.to_string().contains("tolerance"), "{err}");
}

#[test]
fn extreme_scales_give_answers_not_nan() {
    // A zero radius: the sphere is its centroid, which the projection returns (the fast path's
    // multipliers overflow there, and it hands over to the conic solver).
    let (_, mut set) = small_set(false);
    set.class_mut(1).unwrap().sphere_radius = Some(0.0);
    let centroid = set.class(1).unwrap().centroid.clone();
    let x0: Vec<f64> = (0..set.d()).map(|j| j as f64).collect();
    let p = set.project(&x0, 1).unwrap();
    assert!(
        p.x.iter().zip(&centroid).all(|(a, b)| (a - b).abs() < 1e-6),
        "{:?}",
        p.x
    );
    // A cost whose square overflows has the minimizer of the same cost scaled down.
    let (_, set) = small_set(true);
    let mut c = vec![0.0; set.d()];
    c[0] = 1.0;
    let unit = set.minimize_linear(&c, 1).unwrap();
    c[0] = 1e155;
    let huge = set.minimize_linear(&c, 1).unwrap();
    assert_eq!(huge.x, unit.x);
    assert!(
        (huge.value / (1e155 * unit.value) - 1.0).abs() < 1e-12,
        "{} vs {}",
        huge.value,
        unit.value
    );
}

#[test]
fn huge_kkt_gradients_are_solved_and_only_empty_sets_are_infeasible() {
    use poisonkit_core::feasible::{KKT_GAP_TOL, Method};
    // The program's constraints do not involve g. At ‖g‖ ≥ 1e9 Clarabel used to certify the
    // (non-empty) sets infeasible within two iterations; the cone's rows are now scaled by
    // max |g_j|, and both methods agree.
    for lp in [false, true] {
        let (_, set) = small_set(lp);
        for scale in [1e9, 1e12, 1e15] {
            let g: Vec<f64> = (0..set.d()).map(|j| scale * ((j % 7) as f64 - 3.0)).collect();
            let value = |method| set.kkt_program_with(&g, 0.02, 0.01, method, KKT_GAP_TOL).unwrap().value;
            let (fast, conic) = (value(Method::Fast), value(Method::Conic));
            assert!(
                (fast / conic - 1.0).abs() < 1e-9,
                "lp {lp}, scale {scale:e}: {fast} vs {conic}"
            );
        }
        // An empty set is still reported as such: x ≥ 0 and Σx ≤ −1.
        let mut empty = set.clone();
        empty.add_halfspace(-1, vec![1.0; set.d()], -1.0).unwrap();
        let g = vec![0.1; set.d()];
        for method in [Method::Fast, Method::Conic] {
            let e = empty.kkt_program_with(&g, 0.02, 0.01, method, KKT_GAP_TOL).unwrap_err();
            assert_eq!(e.code(), "ERR_INFEASIBLE", "{e}");
        }
    }
}
