//! The general path: one class's feasible set as a conic program for Clarabel (Goulart & Chen,
//! 2024), `min ½zᵀPz + qᵀz s.t. Az + s = b, s ∈ K`, with z = x, or z = (x, e) when the sphere is
//! LP-relaxed (e_j ≥ (2k − 1)x_j − k(k − 1) for k = 1..⌈min(u_j, μ_j + r)⌉, Σ e − 2μ·x ≤ r² − ‖μ‖²).
//! Linear constraints go to the non-negative cone, the exact sphere to a second-order cone
//! (r, x − μ). Clarabel stops at gap tolerances of 1e-12 (feasibility 1e-8); its status is reported, and a
//! primal-infeasibility certificate becomes [`Error::Infeasible`].

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SecondOrderConeT, SolverStatus, SupportedConeT,
};

use super::{ClassSet, FeasibleSet};
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, max_abs};

/// The most envelope rows the relaxed sphere may need: a bound far past real count data.
const MAX_RELAXATION_ROWS: f64 = 1e7;

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

/// Rows Σ coef·z ≤ rhs of the non-negative cone, as triplets.
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

/// A second-order cone block: s = b − A z with s₀ ≥ ‖s₁..‖; entries are (row in block, column, value).
struct Soc {
    entries: Vec<(usize, usize, f64)>,
    b: Vec<f64>,
}

/// A conic program under construction: the non-negative rows, then the second-order cones.
#[derive(Default)]
struct Program {
    n_vars: usize,
    linear: Rows,
    socs: Vec<Soc>,
}

impl Program {
    /// Allocates `n` variables; returns the first column.
    fn vars(&mut self, n: usize) -> usize {
        self.n_vars += n;
        self.n_vars - n
    }

    /// Adds class y's constraints on the d variables starting at column `x`.
    fn class(&mut self, set: &FeasibleSet, class: &ClassSet, x: usize) -> Result<()> {
        let d = set.d;
        let mu = &class.centroid;
        // The relaxed sphere implies ‖x − μ‖ ≤ r (its envelope is ≥ x²), so x_j ≤ μ_j + r: the box's
        // upper end is lowered to K_j = ⌈min(u_j, μ_j + r)⌉ (the same set), and the envelope's
        // pieces past K_j, never active, are left out. A box far wider than the sphere then costs
        // no more rows than the sphere reaches, and no huge bound reaches the solver.
        let tops: Option<Vec<f64>> = match (set.lp_relaxation, class.sphere_radius, &set.upper) {
            (true, Some(r), Some(u)) => Some(u.iter().zip(mu).map(|(&u, &m)| u.min(m + r).ceil().max(1.0)).collect()),
            _ => None,
        };
        if let Some(tops) = &tops {
            let pieces: f64 = tops.iter().sum();
            if pieces > MAX_RELAXATION_ROWS {
                return Err(Error::option(
                    "lpRelaxation",
                    true,
                    &format!(
                        "the relaxed sphere needs {pieces:e} rows (a piece per integer up to the box's upper end or the sphere's reach, \
                         {MAX_RELAXATION_ROWS:e} at most): lower the upper bound or rescale the data"
                    ),
                ));
            }
        }
        let rows = &mut self.linear;
        if let Some(l) = set.lower {
            for j in 0..d {
                rows.push([(x + j, -1.0)], -l);
            }
        }
        if let Some(u) = &set.upper {
            for (j, &u) in u.iter().enumerate() {
                rows.push([(x + j, 1.0)], tops.as_ref().map_or(u, |t| u.min(t[j])));
            }
        }
        if let Some((v, s)) = &class.slab {
            let offset = dense_dot(v, mu);
            rows.push(v.iter().enumerate().map(|(j, &c)| (x + j, c)), s + offset);
            rows.push(v.iter().enumerate().map(|(j, &c)| (x + j, -c)), s - offset);
        }
        for (a, b) in &class.halfspaces {
            rows.push(a.iter().enumerate().map(|(j, &c)| (x + j, c)), *b);
        }
        let Some(r) = class.sphere_radius else { return Ok(()) };
        if let Some(tops) = tops {
            // e_j ≥ (2k − 1)x_j − k(k − 1) for k = 1..K_j, Σ e − 2μ·x ≤ r² − ‖μ‖².
            let e = self.vars(d);
            let rows = &mut self.linear;
            for (j, &top) in tops.iter().enumerate() {
                for k in 1..=(top as usize) {
                    let k = k as f64;
                    rows.push([(x + j, 2.0 * k - 1.0), (e + j, -1.0)], k * (k - 1.0));
                }
            }
            let entries = (0..d)
                .map(|j| (x + j, -2.0 * mu[j]))
                .chain((0..d).map(|j| (e + j, 1.0)));
            rows.push(entries, r * r - dense_dot(mu, mu));
        } else {
            // s = (r, x − μ): the row for r is empty, then −x_j + s_j = −μ_j.
            let entries = (0..d).map(|j| (1 + j, x + j, -1.0)).collect();
            let b = std::iter::once(r).chain(mu.iter().map(|m| -m)).collect();
            self.socs.push(Soc { entries, b });
        }
        Ok(())
    }

    /// Solves min ½zᵀPz + qᵀz over the constraints; returns z and how the solver ended, or the
    /// infeasibility of the set named `what`.
    fn solve(self, p: CscMatrix<f64>, q: &[f64], what: &str) -> Result<(Vec<f64>, SolverReport)> {
        let Program { n_vars, linear, socs } = self;
        let (mut ai, mut aj, mut av, mut b) = (linear.i, linear.j, linear.v, linear.b);
        let mut cones: Vec<SupportedConeT<f64>> = vec![NonnegativeConeT(b.len())];
        for soc in socs {
            let start = b.len();
            for (r, c, v) in soc.entries {
                ai.push(start + r);
                aj.push(c);
                av.push(v);
            }
            cones.push(SecondOrderConeT(soc.b.len()));
            b.extend(soc.b);
        }
        let a = CscMatrix::new_from_triplets(b.len(), n_vars, ai, aj, av);
        // The projection's objective is ½‖x − x0‖²: a gap ε leaves x off by about √(2ε), so the gap
        // tolerances are tightened from Clarabel's 1e-8 to 1e-12.
        let settings = DefaultSettingsBuilder::default()
            .verbose(false)
            .tol_gap_abs(1e-12)
            .tol_gap_rel(1e-12)
            .build()
            .expect("valid default settings");
        let mut solver = DefaultSolver::new(&p, q, &a, &b, &cones, settings).map_err(|e| Error::Solver {
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
            SolverStatus::Solved | SolverStatus::AlmostSolved => Ok((sol.x.clone(), report)),
            SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => Err(Error::Infeasible {
                what: what.to_string(),
                reason: format!("clarabel status {:?}", sol.status),
            }),
            other => Err(Error::Solver {
                solver: "clarabel",
                status: format!("{other:?}"),
                iterations: sol.iterations,
            }),
        }
    }
}

pub(super) fn solve(set: &FeasibleSet, class: &ClassSet, objective: Objective) -> Result<Solution> {
    let d = set.d;
    let mut program = Program::default();
    let x = program.vars(d);
    program.class(set, class, x)?;
    let n = program.n_vars;
    let (p, q) = match objective {
        Objective::Distance(x0) => {
            let p = CscMatrix::new_from_triplets(n, n, (0..d).collect(), (0..d).collect(), vec![1.0; d]);
            let mut q = vec![0.0; n];
            q[..d].iter_mut().zip(x0).for_each(|(q, x)| *q = -x);
            (p, q)
        }
        Objective::Linear(c) => {
            let mut q = vec![0.0; n];
            q[..d].copy_from_slice(c);
            (CscMatrix::zeros((n, n)), q)
        }
    };
    let (z, report) = program.solve(p, &q, &format!("the feasible set of class {}", class.label))?;
    let x = z[..d].to_vec();
    let value = match objective {
        Objective::Distance(x0) => x.iter().zip(x0).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt(),
        Objective::Linear(c) => dense_dot(c, &x),
    };
    Ok(Solution { x, value, report })
}

/// The KKT attack's program (paper eq. 17; digest §4.3): min ‖g − ε₊x₊ + ε₋x₋‖ over x₊ in the +1
/// set and x₋ in the −1 set, as min t s.t. (t, g − ε₊x₊ + ε₋x₋) in a second-order cone.
pub(super) fn kkt(set: &FeasibleSet, g: &[f64], eps_pos: f64, eps_neg: f64) -> Result<KktSolution> {
    let d = set.d;
    let mut program = Program::default();
    let t = program.vars(1);
    let xp = program.vars(d);
    let xn = program.vars(d);
    program.class(set, set.class(1)?, xp)?;
    program.class(set, set.class(-1)?, xn)?;
    // s = (t, c(g − ε₊x₊ + ε₋x₋)) = b − A z, with c = 1 / max(1, max_j |g_j|): the same cone and
    // minimizer (t is c times the norm), but b of order 1. Unscaled, a g of 1e9 made Clarabel
    // certify non-empty sets infeasible within two iterations.
    let c = 1.0 / max_abs(g).max(1.0);
    let mut entries = vec![(0, t, -1.0)];
    for j in 0..d {
        entries.push((1 + j, xp + j, c * eps_pos));
        entries.push((1 + j, xn + j, -c * eps_neg));
    }
    let b = std::iter::once(0.0).chain(g.iter().map(|v| c * v)).collect();
    program.socs.push(Soc { entries, b });
    let n = program.n_vars;
    let mut q = vec![0.0; n];
    q[t] = 1.0;
    let (z, report) = program.solve(CscMatrix::zeros((n, n)), &q, "the KKT program")?;
    let (x_pos, x_neg) = (z[xp..xp + d].to_vec(), z[xn..xn + d].to_vec());
    Ok(KktSolution {
        value: kkt_value(g, eps_pos, &x_pos, eps_neg, &x_neg),
        x_pos,
        x_neg,
        report,
    })
}

/// ‖g − ε₊x₊ + ε₋x₋‖.
pub(super) fn kkt_value(g: &[f64], eps_pos: f64, x_pos: &[f64], eps_neg: f64, x_neg: &[f64]) -> f64 {
    (0..g.len())
        .map(|j| (g[j] - eps_pos * x_pos[j] + eps_neg * x_neg[j]).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The KKT program's minimizers.
#[derive(Debug, Clone)]
pub struct KktSolution {
    /// The +1 poison point.
    pub x_pos: Vec<f64>,
    /// The −1 poison point.
    pub x_neg: Vec<f64>,
    /// ‖g − ε₊x₊ + ε₋x₋‖ at the solution.
    pub value: f64,
    /// How the solver ended.
    pub report: SolverReport,
}
