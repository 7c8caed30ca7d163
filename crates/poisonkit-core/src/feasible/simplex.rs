//! A small dense linear program max c·z s.t. a_i·z ≤ b_i in a few variables and many rows, kept
//! optimal by dual simplex steps (Lemke 1954) as rows are added or right-hand sides change: the
//! cutting-plane master of [`super::cutting`], where every new cut leaves the last basis dual
//! feasible, so a few pivots re-optimize it. A basis is n rows whose multipliers u (c = Σ u_k a_k)
//! are ≥ 0; each step brings in the most violated row and drops the basis row that the dual ratio
//! test picks (ties to the lowest row). It stops when no row is violated by more than `FEAS_TOL`
//! (relative), reports an empty program when a violated row cannot enter, and gives up after
//! `max_steps` pivots (the guard against cycling on degenerate masters; the caller then turns to
//! the conic path).

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};

/// Violation, relative to the row's norm and the right-hand side, below which a row holds.
const FEAS_TOL: f64 = 1e-12;
/// Ratio-test entries below this are treated as zero.
const PIVOT_TOL: f64 = 1e-12;

/// The program with its current basis.
pub(super) struct DualSimplex {
    c: Vec<f64>,
    rows: Vec<Vec<f64>>,
    rhs: Vec<f64>,
    basis: Vec<usize>,
    /// The basis rows' multipliers.
    u: Vec<f64>,
    /// The vertex of the basis.
    z: Vec<f64>,
}

impl DualSimplex {
    /// The program with `basis` (n row indices), which must be dual feasible.
    pub fn new(c: Vec<f64>, rows: Vec<Vec<f64>>, rhs: Vec<f64>, basis: Vec<usize>) -> Result<Self> {
        let mut lp = DualSimplex {
            c,
            rows,
            rhs,
            basis,
            u: Vec::new(),
            z: Vec::new(),
        };
        lp.u = lp.solve_basis(true, &lp.c)?;
        if lp.u.iter().any(|&u| u < -PIVOT_TOL) {
            return Err(singular("a basis that is not dual feasible"));
        }
        lp.z = lp.vertex()?;
        Ok(lp)
    }

    /// Adds the row a·z ≤ b.
    pub fn add_row(&mut self, a: Vec<f64>, b: f64) {
        self.rows.push(a);
        self.rhs.push(b);
    }

    /// Sets row i's right-hand side.
    pub fn set_rhs(&mut self, i: usize, b: f64) -> Result<()> {
        self.rhs[i] = b;
        self.z = self.vertex()?;
        Ok(())
    }

    /// The optimal vertex.
    pub fn z(&self) -> &[f64] {
        &self.z
    }

    /// The optimal multiplier of row i (0 off the basis).
    pub fn multiplier(&self, i: usize) -> f64 {
        self.basis
            .iter()
            .position(|&k| k == i)
            .map_or(0.0, |p| self.u[p].max(0.0))
    }

    /// Dual simplex pivots until every row holds.
    pub fn optimize(&mut self, max_steps: usize) -> Result<()> {
        for _ in 0..max_steps {
            let z = &self.z;
            let violation = |i: usize| {
                let a = &self.rows[i];
                let lhs: f64 = a.iter().zip(z).map(|(a, z)| a * z).sum();
                let norm = a.iter().map(|a| a * a).sum::<f64>().sqrt();
                (lhs - self.rhs[i]) / (norm * (1.0 + z.iter().map(|v| v.abs()).fold(0.0, f64::max)) + self.rhs[i].abs())
            };
            let Some((r, worst)) = (0..self.rows.len())
                .map(|i| (i, violation(i)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            else {
                return Ok(());
            };
            if worst <= FEAS_TOL {
                return Ok(());
            }
            // a_r = Σ v_k a_{basis k}; raising r's multiplier θ lowers the others by θv.
            let v = self.solve_basis(true, &self.rows[r].clone())?;
            let leave = (0..v.len()).filter(|&k| v[k] > PIVOT_TOL).min_by(|&a, &b| {
                (self.u[a] / v[a])
                    .total_cmp(&(self.u[b] / v[b]))
                    .then(self.basis[a].cmp(&self.basis[b]))
            });
            let Some(k) = leave else {
                return Err(Error::Infeasible {
                    what: "the cutting-plane master program".into(),
                    reason: format!("row {r} cannot hold with the others"),
                });
            };
            let theta = (self.u[k] / v[k]).max(0.0);
            for (u, v) in self.u.iter_mut().zip(&v) {
                *u -= theta * v;
            }
            self.u[k] = theta;
            self.basis[k] = r;
            self.z = self.vertex()?;
        }
        Err(Error::Solver {
            solver: "dual-simplex",
            status: "MaxIterations".into(),
            iterations: max_steps as u32,
        })
    }

    /// Solves A_B x = rhs (or A_Bᵀ x = rhs) for the basis rows A_B.
    fn solve_basis(&self, transpose: bool, rhs: &[f64]) -> Result<Vec<f64>> {
        let n = self.c.len();
        let a = DMatrix::from_fn(n, n, |i, j| {
            if transpose {
                self.rows[self.basis[j]][i]
            } else {
                self.rows[self.basis[i]][j]
            }
        });
        a.lu()
            .solve(&DVector::from_column_slice(rhs))
            .map(|x| x.as_slice().to_vec())
            .ok_or_else(|| singular("a singular basis"))
    }

    /// The basis's vertex: its rows held with equality.
    fn vertex(&self) -> Result<Vec<f64>> {
        let b: Vec<f64> = self.basis.iter().map(|&k| self.rhs[k]).collect();
        self.solve_basis(false, &b)
    }
}

fn singular(what: &str) -> Error {
    Error::Solver {
        solver: "dual-simplex",
        status: what.into(),
        iterations: 0,
    }
}
