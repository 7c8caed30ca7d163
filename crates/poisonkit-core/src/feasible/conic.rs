//! The general path: one class's feasible set as a conic program for Clarabel (Goulart & Chen,
//! 2024), `min ½zᵀPz + qᵀz s.t. Az + s = b, s ∈ K`, with z = x, or z = (x, e) when the sphere is
//! LP-relaxed (e_j ≥ (2k − 1)x_j − k(k − 1) for k = 1..⌈u_j⌉, Σ e − 2μ·x ≤ r² − ‖μ‖²).
//! Linear constraints go to the non-negative cone, the exact sphere to a second-order cone
//! (r, x − μ). Clarabel stops at gap tolerances of 1e-12 (feasibility 1e-8); its status is reported, and a
//! primal-infeasibility certificate becomes [`Error::Infeasible`].

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SecondOrderConeT, SolverStatus, SupportedConeT,
};

use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::dense_dot;

/// What to minimize over the set.
pub(super) enum Objective<'a> {
    /// ½‖x − x0‖².
    Distance(&'a [f64]),
    /// c·x.
    Linear(&'a [f64]),
}

/// How the solver ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverReport {
    /// The solver's name.
    pub solver: &'static str,
    /// Its final status (`Solved`, `AlmostSolved`).
    pub status: String,
    /// Iterations run.
    pub iterations: u32,
    /// Primal residual at the solution.
    pub residual: f64,
}

/// A point of the set and how it was found.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The minimizer.
    pub x: Vec<f64>,
    /// The objective at x: ‖x − x0‖ for a projection, c·x for a linear objective.
    pub value: f64,
    /// How the solver ended.
    pub report: SolverReport,
}

/// Rows of Az + s = b for the non-negative cone, as triplets, plus the second-order cone block.
#[derive(Default)]
struct Rows {
    i: Vec<usize>,
    j: Vec<usize>,
    v: Vec<f64>,
    b: Vec<f64>,
}

impl Rows {
    /// Adds the row Σ coef·z ≤ rhs.
    fn push(&mut self, entries: impl IntoIterator<Item = (usize, f64)>, rhs: f64) {
        let row = self.b.len();
        for (j, v) in entries {
            if v != 0.0 {
                self.i.push(row);
                self.j.push(j);
                self.v.push(v);
            }
        }
        self.b.push(rhs);
    }
}

pub(super) fn solve(set: &FeasibleSet, class: &ClassSet, objective: Objective) -> Result<Solution> {
    let d = set.d;
    let relaxed = set.lp_relaxation && class.sphere_radius.is_some();
    let n_vars = if relaxed { 2 * d } else { d };
    let mu = &class.centroid;

    let mut rows = Rows::default();
    if let Some(l) = set.lower {
        for j in 0..d {
            rows.push([(j, -1.0)], -l);
        }
    }
    if let Some(u) = &set.upper {
        for (j, &u) in u.iter().enumerate() {
            rows.push([(j, 1.0)], u);
        }
    }
    if let Some((v, s)) = &class.slab {
        let offset = dense_dot(v, mu);
        rows.push(v.iter().copied().enumerate(), s + offset);
        rows.push(v.iter().map(|x| -x).enumerate(), s - offset);
    }
    for (a, b) in &class.halfspaces {
        rows.push(a.iter().copied().enumerate(), *b);
    }
    if relaxed {
        let r = class.sphere_radius.expect("relaxed sphere");
        let upper = set.upper.as_ref().expect("the relaxation has an upper bound");
        for (j, &u) in upper.iter().enumerate() {
            for k in 1..=(u.ceil().max(1.0) as usize) {
                let k = k as f64;
                rows.push([(j, 2.0 * k - 1.0), (d + j, -1.0)], k * (k - 1.0));
            }
        }
        let entries = (0..d).map(|j| (j, -2.0 * mu[j])).chain((0..d).map(|j| (d + j, 1.0)));
        rows.push(entries, r * r - dense_dot(mu, mu));
    }
    let linear_rows = rows.b.len();
    let mut cones: Vec<SupportedConeT<f64>> = vec![NonnegativeConeT(linear_rows)];
    if let (Some(r), false) = (class.sphere_radius, relaxed) {
        // s = (r, x − μ) ∈ SOC: the row for r is empty, then −x_j + s_j = −μ_j.
        rows.b.push(r);
        for (j, &m) in mu.iter().enumerate() {
            rows.i.push(linear_rows + 1 + j);
            rows.j.push(j);
            rows.v.push(-1.0);
            rows.b.push(-m);
        }
        cones.push(SecondOrderConeT(d + 1));
    }
    let m = rows.b.len();
    let a = CscMatrix::new_from_triplets(m, n_vars, rows.i, rows.j, rows.v);
    let (p, q) = match objective {
        Objective::Distance(x0) => {
            let p = CscMatrix::new_from_triplets(n_vars, n_vars, (0..d).collect(), (0..d).collect(), vec![1.0; d]);
            let mut q = vec![0.0; n_vars];
            q[..d].iter_mut().zip(x0).for_each(|(q, x)| *q = -x);
            (p, q)
        }
        Objective::Linear(c) => {
            let mut q = vec![0.0; n_vars];
            q[..d].copy_from_slice(c);
            (CscMatrix::zeros((n_vars, n_vars)), q)
        }
    };
    // The projection's objective is ½‖x − x0‖²: a gap ε leaves x off by about √(2ε), so the gap
    // tolerances are tightened from Clarabel's 1e-8 to 1e-12.
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-12)
        .tol_gap_rel(1e-12)
        .build()
        .expect("valid default settings");
    let mut solver = DefaultSolver::new(&p, &q, &a, &rows.b, &cones, settings).map_err(|e| Error::Solver {
        solver: "clarabel",
        status: format!("setup failed: {e}"),
        iterations: 0,
    })?;
    solver.solve();
    let sol = &solver.solution;
    let report = SolverReport {
        solver: "clarabel",
        status: format!("{:?}", sol.status),
        iterations: sol.iterations,
        residual: sol.r_prim,
    };
    match sol.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {
            let x = sol.x[..d].to_vec();
            let value = match objective {
                Objective::Distance(x0) => x.iter().zip(x0).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt(),
                Objective::Linear(c) => dense_dot(c, &x),
            };
            Ok(Solution { x, value, report })
        }
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => Err(Error::Infeasible {
            what: format!("the feasible set of class {}", class.label),
            reason: format!("clarabel status {:?}", sol.status),
        }),
        other => Err(Error::Solver {
            solver: "clarabel",
            status: format!("{other:?}"),
            iterations: sol.iterations,
        }),
    }
}
