//! Feasible sets: where an attacker places poison of class y so that the defenses cannot see it
//! (paper §3.2–3.3; digest §3). Per class, the intersection of
//! - the sphere ‖x − μ_y‖ ≤ r_y (L2 defense), or, for integer data, its **LP relaxation** for points
//!   that will be randomly rounded: Σ_j f(x_j) − 2μ_y·x + ‖μ_y‖² ≤ r_y², with f(x) = max_k
//!   (2k − 1)x − k(k − 1) the chord interpolation of x² at the integers (so E‖round(x) − μ‖² is
//!   exactly that left side; paper eq. 5–8, digest §3.2);
//! - the slab |v·(x − μ_y)| ≤ s_y, v the unit vector between the class centroids (slab defense);
//! - a box l ≤ x ≤ u (non-negativity, pixels in [0, 1], counts up to X_max);
//! - halfspaces a·x ≤ b, such as the decoy-loss cap 1 − y(θ·x + b) ≤ τ_y (digest §3.4).
//!
//! Radii default to the reference's: the 90th percentile (numpy's linear interpolation) of the
//! clean class's distances, against a defender that removes 5% (digest §3.1). By default,
//! projections and the KKT program use exact dual Newton methods ([`dual`], [`fast`], [`kkt`]);
//! linear minimization uses cutting planes on its dual ([`cutting`]) over a bounded box, proximal
//! steps of the projection otherwise; Clarabel ([`conic`]) is the general path, on request and
//! wherever the fast path cannot conclude. Every operation returns how its
//! solver ended.

mod conic;
mod cutting;
mod dual;
mod fast;
mod kkt;
mod percentile;
mod rounding;
mod simplex;

pub use conic::{KktSolution, Solution, SolverReport};
pub use kkt::KKT_GAP_TOL;
pub use percentile::{percentile, quantile_matlab};
pub use rounding::{Repeats, round_points};

use crate::data::Dataset;
use crate::defense::Centroids;
use crate::error::{Error, Result};
use crate::linalg::{dense_dot, max_abs};

/// Which solver an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The specialised solvers: dual Newton for projections and the KKT program; for linear
    /// minimization, cutting planes on the dual over a bounded box, else proximal projections.
    Fast,
    /// The general conic solver (Clarabel), the reference in tests.
    Conic,
}

/// The upper end of the box.
#[derive(Debug, Clone, PartialEq)]
pub enum Upper {
    /// No upper bound.
    None,
    /// The same bound for every feature (e.g. 1 for pixels).
    Constant(f64),
    /// The reference's rule for counts: the column's maximum over the clean data, clipped to
    /// [1, 50] (Python `upper_bounds`, digest §3.2).
    ColumnMax,
    /// The MATLAB min-max's data range: the column's maximum over the clean data, raised to 1 for
    /// integer data (so a count never seen can still be 1) and otherwise as it is, so a pixel that
    /// is always 0 stays 0 (`generateAttackTar.m` `xmax`, digest §3.2).
    DataRange,
}

/// Options of [`FeasibleSet::from_clean`].
#[derive(Debug, Clone)]
pub struct FeasibleOptions {
    /// Percentile of the clean distances used as radii; defaults to `90.0`.
    pub percentile: f64,
    /// Constrain to the sphere (or its LP relaxation); defaults to `true`.
    pub sphere: bool,
    /// Constrain to the slab (binary data only); defaults to `true`.
    pub slab: bool,
    /// Constrain x ≥ 0; defaults to `true` when the clean data are non-negative.
    pub nonnegative: Option<bool>,
    /// The box's upper end; defaults to [`Upper::None`].
    pub upper: Upper,
    /// Replace the sphere by its LP relaxation for rounded integer points; needs an upper bound
    /// (the envelope has one piece per integer up to it); defaults to `false`.
    pub lp_relaxation: bool,
}

impl Default for FeasibleOptions {
    fn default() -> Self {
        FeasibleOptions {
            percentile: 90.0,
            sphere: true,
            slab: true,
            nonnegative: None,
            upper: Upper::None,
            lp_relaxation: false,
        }
    }
}

/// The constraints of one class.
#[derive(Debug, Clone)]
pub struct ClassSet {
    /// The class label.
    pub label: i32,
    /// μ_y.
    pub centroid: Vec<f64>,
    /// r_y, or None for no sphere.
    pub sphere_radius: Option<f64>,
    /// (v, s_y) for the slab |v·(x − μ_y)| ≤ s_y, v a unit vector; None for no slab.
    pub slab: Option<(Vec<f64>, f64)>,
    /// Halfspaces a·x ≤ b.
    pub halfspaces: Vec<(Vec<f64>, f64)>,
}

/// The feasible sets of every class, sharing the box and the sphere's form.
#[derive(Debug, Clone)]
pub struct FeasibleSet {
    d: usize,
    classes: Vec<ClassSet>,
    lower: Option<f64>,
    upper: Option<Vec<f64>>,
    lp_relaxation: bool,
    /// The options it was fitted with, for [`FeasibleSet::refit`].
    options: FeasibleOptions,
}

impl FeasibleSet {
    /// Fits the sets on clean data: centroids, radii at the percentile, box and relaxation.
    pub fn from_clean(clean: &Dataset, options: &FeasibleOptions) -> Result<Self> {
        if !(0.0..=100.0).contains(&options.percentile) {
            return Err(Error::option("percentile", options.percentile, "must lie in [0, 100]"));
        }
        let centroids = Centroids::fit(clean)?;
        let d = clean.d();
        let slab_direction = if options.slab {
            Some(
                centroids
                    .slab_direction()
                    .map_err(|reason| Error::option("slab", true, reason))?,
            )
        } else {
            None
        };
        let mut classes = Vec::new();
        for &label in centroids.labels() {
            let mu = centroids.mean(label).expect("fitted").to_vec();
            let rows: Vec<usize> = (0..clean.n()).filter(|&i| clean.labels()[i] == label).collect();
            let sphere_radius = if options.sphere {
                let mu_sq = dense_dot(&mu, &mu);
                let dist: Vec<f64> = rows
                    .iter()
                    .map(|&i| clean.row_sq_distance(i, &mu, mu_sq).sqrt())
                    .collect();
                Some(percentile(&dist, options.percentile)?)
            } else {
                None
            };
            let slab = match &slab_direction {
                Some(v) => {
                    let offset = dense_dot(v, &mu);
                    let dist: Vec<f64> = rows.iter().map(|&i| (clean.row_dot(i, v) - offset).abs()).collect();
                    Some((v.clone(), percentile(&dist, options.percentile)?))
                }
                None => None,
            };
            classes.push(ClassSet {
                label,
                centroid: mu,
                sphere_radius,
                slab,
                halfspaces: Vec::new(),
            });
        }
        let nonnegative = options
            .nonnegative
            .unwrap_or_else(|| clean.values().iter().all(|&v| v >= 0.0));
        let upper = match options.upper {
            Upper::None => None,
            Upper::Constant(u) => {
                if !u.is_finite() {
                    return Err(Error::option("upper", u, "must be a finite number"));
                }
                Some(vec![u; d])
            }
            Upper::ColumnMax => Some(column_maxima(clean).into_iter().map(|m| m.clamp(1.0, 50.0)).collect()),
            Upper::DataRange => {
                let integer = clean.values().iter().all(|v| v.fract() == 0.0);
                let floor = if integer { 1.0 } else { f64::NEG_INFINITY };
                Some(column_maxima(clean).into_iter().map(|m| m.max(floor)).collect())
            }
        };
        if options.lp_relaxation && upper.is_none() {
            return Err(Error::option(
                "lpRelaxation",
                true,
                "the LP relaxation needs an upper bound (use upper: column-max, the reference's X_max)",
            ));
        }
        Ok(FeasibleSet {
            d,
            classes,
            lower: nonnegative.then_some(0.0),
            upper,
            lp_relaxation: options.lp_relaxation,
            options: options.clone(),
        })
    }

    /// The same set fitted anew on `data` (centroids, radii, the slab's direction and a
    /// column-max box), keeping every class's halfspaces: the refitting step of iterative
    /// optimization (paper Algorithm 1, digest §7.2), where `data` is clean + poison.
    pub fn refit(&self, data: &Dataset) -> Result<FeasibleSet> {
        let mut refitted = FeasibleSet::from_clean(data, &self.options)?;
        for class in &mut refitted.classes {
            if let Ok(old) = self.class(class.label) {
                class.halfspaces = old.halfspaces.clone();
            }
        }
        Ok(refitted)
    }

    /// The number of features.
    pub fn d(&self) -> usize {
        self.d
    }
    /// The per-class constraints.
    pub fn classes(&self) -> &[ClassSet] {
        &self.classes
    }
    /// Whether the sphere is LP-relaxed.
    pub fn lp_relaxation(&self) -> bool {
        self.lp_relaxation
    }

    /// The constraints of class `label`, mutable (to set radii or centroids explicitly).
    pub fn class_mut(&mut self, label: i32) -> Result<&mut ClassSet> {
        let labels: Vec<i32> = self.classes.iter().map(|c| c.label).collect();
        self.classes
            .iter_mut()
            .find(|c| c.label == label)
            .ok_or_else(|| Error::option("label", label, &format!("must be one of the set's classes {labels:?}")))
    }

    /// The constraints of class `label`.
    pub fn class(&self, label: i32) -> Result<&ClassSet> {
        let labels: Vec<i32> = self.classes.iter().map(|c| c.label).collect();
        self.classes
            .iter()
            .find(|c| c.label == label)
            .ok_or_else(|| Error::option("label", label, &format!("must be one of the set's classes {labels:?}")))
    }

    /// Adds the decoy-loss cap 1 − y(θ·x + b) ≤ τ to class y (digest §3.4).
    pub fn add_loss_cap(&mut self, label: i32, theta: &[f64], bias: f64, tau: f64) -> Result<()> {
        self.check_len("theta", theta.len())?;
        let y = label as f64;
        let a = theta.iter().map(|t| -y * t).collect();
        self.class_mut(label)?.halfspaces.push((a, tau - 1.0 + y * bias));
        Ok(())
    }

    /// Adds the halfspace a·x ≤ b to class y.
    pub fn add_halfspace(&mut self, label: i32, a: Vec<f64>, b: f64) -> Result<()> {
        self.check_len("halfspace normal", a.len())?;
        if !b.is_finite() || a.iter().any(|v| !v.is_finite()) {
            return Err(Error::option("halfspace", b, "must have finite coefficients"));
        }
        self.class_mut(label)?.halfspaces.push((a, b));
        Ok(())
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        crate::error::check_len(format!("{what}: number of features of the feasible set"), self.d, len)
    }

    /// The largest violation of class y's constraints at x (≤ 0 inside the set), for the sphere
    /// in its own form (relaxed or exact).
    pub fn violation(&self, x: &[f64], label: i32) -> Result<f64> {
        self.check_finite("point", x)?;
        let c = self.class(label)?;
        let mut worst = f64::NEG_INFINITY;
        if let Some(r) = c.sphere_radius {
            let lhs = if self.lp_relaxation {
                x.iter().map(|&v| envelope(v)).sum::<f64>() - 2.0 * dense_dot(&c.centroid, x)
                    + dense_dot(&c.centroid, &c.centroid)
            } else {
                x.iter().zip(&c.centroid).map(|(a, b)| (a - b) * (a - b)).sum()
            };
            worst = worst.max(lhs - r * r);
        }
        if let Some((v, s)) = &c.slab {
            worst = worst.max((dense_dot(v, x) - dense_dot(v, &c.centroid)).abs() - s);
        }
        for (a, b) in &c.halfspaces {
            worst = worst.max(dense_dot(a, x) - b);
        }
        if let Some(l) = self.lower {
            worst = x.iter().fold(worst, |w, &v| w.max(l - v));
        }
        if let Some(u) = &self.upper {
            worst = x.iter().zip(u).fold(worst, |w, (&v, &u)| w.max(v - u));
        }
        Ok(worst)
    }

    /// Whether x lies in class y's set, up to `tol`.
    pub fn contains(&self, x: &[f64], label: i32, tol: f64) -> Result<bool> {
        Ok(self.violation(x, label)? <= tol)
    }

    /// argmin ‖x − x0‖² over class y's set, by the fast path.
    pub fn project(&self, x0: &[f64], label: i32) -> Result<Solution> {
        self.project_with(x0, label, Method::Fast)
    }

    /// argmin ‖x − x0‖² over class y's set, by the method asked for.
    pub fn project_with(&self, x0: &[f64], label: i32, method: Method) -> Result<Solution> {
        self.check_finite("point to project", x0)?;
        let class = self.class(label)?;
        solve_by(
            method,
            || fast::project(self, class, x0),
            || conic::solve(self, class, conic::Objective::Distance(x0)),
        )
    }

    /// The KKT attack's program (paper eq. 17): argmin ‖g − ε₊x₊ + ε₋x₋‖ over x₊ in the +1 set
    /// and x₋ in the −1 set, by the fast path to [`KKT_GAP_TOL`]. Binary sets only.
    pub fn kkt_program(&self, g: &[f64], eps_pos: f64, eps_neg: f64) -> Result<KktSolution> {
        self.kkt_program_with(g, eps_pos, eps_neg, Method::Fast, KKT_GAP_TOL)
    }

    /// The KKT program by the method asked for; the fast path stops when ½‖·‖² is provably within
    /// `gap_tol` (relative) of its minimum.
    pub fn kkt_program_with(
        &self,
        g: &[f64],
        eps_pos: f64,
        eps_neg: f64,
        method: Method,
        gap_tol: f64,
    ) -> Result<KktSolution> {
        self.check_finite("gradient g", g)?;
        for (name, e) in [("epsPos", eps_pos), ("epsNeg", eps_neg)] {
            if !(e >= 0.0 && e.is_finite()) {
                return Err(Error::option(name, e, "must be a finite number ≥ 0"));
            }
        }
        if !(gap_tol > 0.0 && gap_tol < 1.0) {
            return Err(Error::option("tolerance", gap_tol, "must lie in (0, 1)"));
        }
        solve_by(
            method,
            || kkt::kkt(self, g, eps_pos, eps_neg, gap_tol),
            || conic::kkt(self, g, eps_pos, eps_neg),
        )
    }

    /// argmin c·x over class y's set (the min-max attack's inner step), by the fast path.
    pub fn minimize_linear(&self, c: &[f64], label: i32) -> Result<Solution> {
        self.minimize_linear_with(c, label, Method::Fast)
    }

    /// argmin c·x over class y's set by the method asked for.
    pub fn minimize_linear_with(&self, c: &[f64], label: i32, method: Method) -> Result<Solution> {
        self.minimize_linear_from(c, label, method, &mut Vec::new())
    }

    /// argmin c·x over class y's set, warm-started from `columns`: the box points that carried an
    /// earlier solution on this set (the cutting-plane path; empty at first), which the call
    /// replaces by its own. Calls with nearby costs, as the min-max game's rounds, then take a
    /// few cuts instead of dozens.
    pub fn minimize_linear_from(
        &self,
        c: &[f64],
        label: i32,
        method: Method,
        columns: &mut Vec<Vec<f64>>,
    ) -> Result<Solution> {
        self.check_finite("cost vector", c)?;
        let class = self.class(label)?;
        let carried = std::mem::take(columns);
        let in_box = |x: &Vec<f64>| {
            x.len() == self.d
                && x.iter()
                    .enumerate()
                    .all(|(j, &v)| self.lower.is_none_or(|l| v >= l) && self.upper.as_ref().is_none_or(|u| v <= u[j]))
        };
        if !carried.iter().all(in_box) {
            return Err(Error::option("columns", "(points)", "must be points of the set's box"));
        }
        // A cost whose square overflows (or underflows) is scaled by a power of two: the same
        // minimizer, and its value scaled back exactly.
        let top = max_abs(c);
        if top > 0.0 && !(1e-150..=1e150).contains(&top) {
            let scale = 2f64.powi(top.log2().floor() as i32);
            let scaled: Vec<f64> = c.iter().map(|v| v / scale).collect();
            *columns = carried;
            let solution = self.minimize_linear_from(&scaled, label, method, columns)?;
            return Ok(Solution {
                value: solution.value * scale,
                ..solution
            });
        }
        solve_by(
            method,
            || {
                if self.lower.is_some() && self.upper.is_some() {
                    let (solution, kept) = cutting::minimize_linear(self, class, c, carried)?;
                    *columns = kept;
                    Ok(solution)
                } else {
                    fast::minimize_linear(self, class, c)
                }
            },
            || conic::solve(self, class, conic::Objective::Linear(c)),
        )
    }

    /// Checks a vector's length and that it is finite.
    fn check_finite(&self, what: &str, v: &[f64]) -> Result<()> {
        self.check_len(what, v.len())?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                location: crate::error::Location::whole(what),
                value: "NaN or infinity".into(),
            });
        }
        Ok(())
    }
}

/// Runs the method asked for. Where the fast path cannot conclude (an empty set, a stall), the
/// conic solver gives the answer or a certificate of infeasibility.
fn solve_by<T>(method: Method, fast: impl FnOnce() -> Result<T>, conic: impl FnOnce() -> Result<T>) -> Result<T> {
    match method {
        Method::Fast => fast().or_else(|_| conic()),
        Method::Conic => conic(),
    }
}

/// f(x) = max_{k ≥ 1} (2k − 1)x − k(k − 1): x² at integers, linear in between (the expected
/// square after randomized rounding; 0-based pieces extend it as the first chord below 1).
pub fn envelope(x: f64) -> f64 {
    let k = ceil(x).max(1.0);
    (2.0 * k - 1.0) * x - k * (k - 1.0)
}

/// Each column's maximum over the rows of `data`, counting the zeros a sparse row leaves out.
fn column_maxima(data: &Dataset) -> Vec<f64> {
    let mut max = vec![f64::NEG_INFINITY; data.d()];
    let mut stored = vec![0usize; data.d()];
    for (&j, &v) in data.indices().iter().zip(data.values()) {
        max[j as usize] = max[j as usize].max(v);
        stored[j as usize] += 1;
    }
    max.iter_mut()
        .zip(stored)
        .filter(|(_, s)| *s < data.n())
        .for_each(|(m, _)| *m = m.max(0.0));
    max
}

/// ⌈x⌉ by integer conversion: `f64::ceil` is a library call on baseline x86-64, and this runs for
/// every coordinate of every projection step. Exact for |x| < 2⁶³.
#[inline]
pub(crate) fn ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ceil_matches_the_library() {
        for x in [-2.5, -1.0, -0.2, 0.0, 0.3, 1.0, 1.000001, 49.5, 1e12 + 0.5] {
            assert_eq!(ceil(x), x.ceil(), "{x}");
        }
    }

    #[test]
    fn column_rules_set_the_box_from_the_clean_data() {
        let upper = |rows: &[f64], rule: Upper| {
            let data = Dataset::from_dense(rows, 3, vec![1, -1], "clean").unwrap();
            let options = FeasibleOptions {
                upper: rule,
                ..Default::default()
            };
            FeasibleSet::from_clean(&data, &options).unwrap().upper.unwrap()
        };
        let counts = [0.0, 3.0, 1.0, 0.0, 60.0, 2.0];
        assert_eq!(upper(&counts, Upper::ColumnMax), vec![1.0, 50.0, 2.0]);
        // A count never seen may still be 1; no cap at 50.
        assert_eq!(upper(&counts, Upper::DataRange), vec![1.0, 60.0, 2.0]);
        // Pixels: one never lit stays 0; a column without zeros keeps its own maximum.
        let pixels = [0.0, 0.5, -0.5, 0.0, 0.75, -1.5];
        assert_eq!(upper(&pixels, Upper::DataRange), vec![0.0, 0.75, -0.5]);
    }

    #[test]
    fn envelope_interpolates_squares() {
        for k in 0..6 {
            assert_eq!(envelope(k as f64), (k * k) as f64);
        }
        assert_eq!(envelope(2.5), 6.5); // the chord between 4 and 9
        assert_eq!(envelope(0.25), 0.25); // the first chord, from 0 to 1
    }
}
