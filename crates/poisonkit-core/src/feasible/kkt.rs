//! The fast path for the KKT program (paper eq. 17; digest §4.3): argmin F = ½‖g − ε₊x₊ + ε₋x₋‖²
//! (the norm's minimizer) over x₊ in the +1 set and x₋ in the −1 set.
//!
//! F is flat along ε₊x₊ − ε₋x₋ = const, so the program is solved by proximal point steps
//! (Rockafellar 1976): z_{k+1} = argmin F(z) + (δ/2)‖z − z_k‖², each by the dual ascent of
//! [`super::dual`] over both classes' multipliers, warm-started from the previous step, with δ
//! halving per step from 10⁻² to 10⁻⁷ × (ε₊² + ε₋²). For given multipliers the inner
//! problem splits per feature j into a = x₊j and b = x₋j in their boxes:
//! min ½(g_j − ε₊a + ε₋b)² + φ₊(a) + φ₋(b), where φ holds the multiplier-weighted constraints (a
//! quadratic for the exact sphere, piecewise linear with breaks at the integers for the relaxed
//! one) and the proximal term. With the residual π = g_j − ε₊a + ε₋b, optimality reads
//! a = A(ε₊π), b = B(−ε₋π), where A and B, the minimizers of φ(x) − t·x over the box, are
//! continuous and nondecreasing; so π is the unique root of the increasing piecewise-linear
//! ψ(π) = π − g_j + ε₊A(ε₊π) − ε₋B(−ε₋π), found by bracketed Newton steps from the last root. A
//! variable moves with the multipliers where it is on a smooth piece inside its box (inner
//! curvature ρ + δ on the exact sphere, δ on the relaxed one); with Q_j the inner Hessian in those
//! variables, the dual's Hessian is −Σ_j G_jᵀ Q_j⁻¹ G_j. A step's optimality residual is
//! δ(z_{k+1} − z_k), so F − min F ≤ min(F, δ·‖z_{k+1} − z_k‖·diameter): it stops when that bound is
//! below `gap_tol` × F ([`KKT_GAP_TOL`] by default). When f64 runs out first (the dual ascent
//! fails at a tiny δ), it returns the last step as `AlmostSolved` if its bound was within
//! `ALMOST_TOL` × F; otherwise it gives up after `PROX_STEPS` steps with a solver error. Needs a
//! finite box; a zero ε₊ or ε₋ reduces to projections.

use std::cell::RefCell;

use nalgebra::DMatrix;

use super::conic::{KktSolution, SolverReport, kkt_value};
use super::dual::{Constraints, DualFunction, MAX_ITER, maximize};

/// δ relative to ε₊² + ε₋², the curvature of the objective: the first, and the smallest.
const PROX_WEIGHT: f64 = 1e-2;
/// δ falls by this factor per step: gently, so that each step starts close to its solution.
const PROX_FALL: f64 = 2.0;
const MIN_PROX_WEIGHT: f64 = 1e-7;
/// Stop when the objective is provably within this fraction of its minimum, unless asked
/// otherwise.
pub const KKT_GAP_TOL: f64 = 1e-7;
/// Where f64 runs out first (the proximal term too weak to resolve), the last step is returned as
/// `AlmostSolved` if its bound came within this fraction (or the asked one, if looser).
const ALMOST_TOL: f64 = 1e-3;
/// Dual Newton steps per proximal step after the first (they start close: a step needing more has
/// run out of f64); the first, from zero multipliers, may take the engine's `MAX_ITER`.
const PROX_ASCENT_STEPS: usize = 40;
/// Proximal steps before giving up.
const PROX_STEPS: usize = 200;
use super::{FeasibleSet, ceil, fast};
use crate::error::{Error, Result};
use crate::linalg::nonzeros;

/// The KKT program's dual: multipliers of the +1 class, then of the −1 class.
struct KktDual<'a> {
    g: &'a [f64],
    /// (ε₊, ε₋), both > 0.
    eps: [f64; 2],
    cons: [Constraints<'a>; 2],
    lower: f64,
    upper: &'a [f64],
    /// The proximal weight δ and the anchors x_k of both points.
    delta: f64,
    anchor: [Vec<f64>; 2],
    /// The residuals π of the last inner solve, where the next one starts its root search.
    last_pi: RefCell<Vec<f64>>,
}

/// x₊(λ), x₋(λ) with their bookkeeping.
struct Inner {
    x: [Vec<f64>; 2],
    /// Per feature and point: the inner curvature of a variable that moves with the multipliers
    /// (ρ on the exact sphere, 0 where fixed by a jump), NaN for one that stays put.
    kappa: [Vec<f64>; 2],
    sphere_q: [f64; 2],
    objective: f64,
}

/// One point's φ in feature j plus the proximal term (δ/2)(x − x_k)²: φ'(x) = ρx + α on the exact
/// sphere, ρ(k − ½) + α on (k − 1, k) for the relaxed one, α without a sphere.
#[derive(Clone, Copy)]
struct Phi {
    relaxed: bool,
    rho: f64,
    alpha: f64,
    delta: f64,
    anchor: f64,
}

impl Phi {
    /// argmin φ(x) + (δ/2)(x − x_k)² − t·x over [lo, hi], whether it is free (on a smooth piece
    /// strictly inside the box), and its slope dx/dt (0 where not free).
    #[inline]
    fn response_slope(self, t: f64, lo: f64, hi: f64) -> (f64, bool, f64) {
        let c = (t - self.alpha) / self.delta + self.anchor;
        let r = self.rho / self.delta;
        let (x, smooth) = if self.relaxed {
            // x + r(k − ½) = c on the piece k, or the kink below it (as the projection).
            let k = ceil((c + 0.5 * r) / (1.0 + r)).max(1.0);
            let on_piece = c - r * (k - 0.5);
            if on_piece >= k - 1.0 || k == 1.0 {
                (on_piece, true)
            } else {
                (k - 1.0, false)
            }
        } else {
            (c / (1.0 + r), true)
        };
        let clipped = x.clamp(lo, hi);
        let free = smooth && clipped == x && x > lo && x < hi;
        let slope = if !free {
            0.0
        } else if self.relaxed {
            1.0 / self.delta
        } else {
            1.0 / (self.rho + self.delta)
        };
        (clipped, free, slope)
    }
}

impl DualFunction for KktDual<'_> {
    type Inner = Inner;

    fn m(&self) -> usize {
        self.cons[0].m() + self.cons[1].m()
    }

    fn inner(&self, lambda: &[f64]) -> Inner {
        let d = self.g.len();
        let m0 = self.cons[0].m();
        let (rho_p, w_p) = self.cons[0].split(&lambda[..m0], d);
        let (rho_n, w_n) = self.cons[1].split(&lambda[m0..], d);
        let [ep, en] = self.eps;
        let lo = self.lower;
        let mut x = [vec![0.0; d], vec![0.0; d]];
        let mut kappa = [vec![f64::NAN; d], vec![f64::NAN; d]];
        let mut sphere_q = [0.0, 0.0];
        let mut objective = 0.0;
        let mut last_pi = self.last_pi.borrow_mut();
        for j in 0..d {
            let hi = self.upper[j];
            let phi = |p: usize, rho: f64, w: f64| {
                let c = &self.cons[p];
                // Without a sphere ρ = 0 and the centroid's term vanishes.
                Phi {
                    relaxed: c.relaxed,
                    rho,
                    alpha: w - rho * c.class.centroid[j],
                    delta: self.delta,
                    anchor: self.anchor[p][j],
                }
            };
            let (pp, pn) = (phi(0, rho_p, w_p[j]), phi(1, rho_n, w_n[j]));
            let gj = self.g[j];
            // ψ is continuous, piecewise linear and increasing: Newton steps on its local piece,
            // kept inside a bracket that bisection shrinks when a step leaves it.
            // ψ(π), its slope, and the responses (a, free, b, free) it was computed from.
            let psi = |pi: f64| {
                let (a, free_a, sa) = pp.response_slope(ep * pi, lo, hi);
                let (b, free_b, sb) = pn.response_slope(-en * pi, lo, hi);
                (
                    pi - gj + ep * a - en * b,
                    1.0 + ep * ep * sa + en * en * sb,
                    (a, free_a, b, free_b),
                )
            };
            let (mut lo_pi, mut hi_pi) = (gj - ep * hi + en * lo, gj - ep * lo + en * hi);
            let mut pi = last_pi[j];
            let mut root = None;
            for _ in 0..200 {
                if !(pi > lo_pi && pi < hi_pi) {
                    pi = 0.5 * (lo_pi + hi_pi);
                    if !(pi > lo_pi && pi < hi_pi) {
                        break;
                    }
                }
                let (value, slope, responses) = psi(pi);
                if value.abs() <= 1e-15 * (pi.abs() + gj.abs() + ep * hi + en * hi) {
                    root = Some((pi, responses));
                    break;
                }
                if value > 0.0 {
                    hi_pi = pi
                } else {
                    lo_pi = pi
                }
                pi -= value / slope;
            }
            // At the root, or at the bracket's upper end where it closed first.
            let (pi, (a, free_a, b, free_b)) = root.unwrap_or_else(|| (hi_pi, psi(hi_pi).2));
            last_pi[j] = pi;
            // A free variable moves with the multipliers; its inner curvature is ρ + δ (exact) or δ.
            let curvature = |phi: Phi| if phi.relaxed { phi.delta } else { phi.rho + phi.delta };
            if free_a {
                kappa[0][j] = curvature(pp);
            }
            if free_b {
                kappa[1][j] = curvature(pn);
            }
            x[0][j] = a;
            x[1][j] = b;
            let r = gj - ep * a + en * b;
            objective +=
                0.5 * r * r + 0.5 * self.delta * ((a - self.anchor[0][j]).powi(2) + (b - self.anchor[1][j]).powi(2));
        }
        for p in 0..2 {
            sphere_q[p] = if self.cons[p].sphere.is_some() {
                self.cons[p].sphere_q(&x[p], &nonzeros(&x[p]))
            } else {
                0.0
            };
        }
        Inner {
            x,
            kappa,
            sphere_q,
            objective,
        }
    }

    fn constraints(&self, inner: &Inner) -> Vec<f64> {
        let mut g = Vec::with_capacity(self.m());
        for p in 0..2 {
            self.cons[p].values(&inner.x[p], &nonzeros(&inner.x[p]), inner.sphere_q[p], &mut g);
        }
        g
    }

    fn objective(&self, inner: &Inner) -> f64 {
        inner.objective
    }

    fn curvature(&self, inner: &Inner, free: &[usize]) -> DMatrix<f64> {
        let m0 = self.cons[0].m();
        let m = self.m();
        let [ep, en] = self.eps;
        let mut h = DMatrix::<f64>::zeros(m, m);
        let (mut ga, mut gb) = (Vec::with_capacity(m0), Vec::with_capacity(m - m0));
        for j in 0..self.g.len() {
            let (ka, kb) = (inner.kappa[0][j], inner.kappa[1][j]);
            let (fa, fb) = (!ka.is_nan(), !kb.is_nan());
            if !fa && !fb {
                continue;
            }
            // Q⁻¹ of the inner Hessian [[ε₊² + κa, −ε₊ε₋], [−ε₊ε₋, ε₋² + κb]] in the free variables.
            let (qa, qb, qab) = match (fa, fb) {
                (true, false) => (1.0 / (ep * ep + ka), 0.0, 0.0),
                (false, true) => (0.0, 1.0 / (en * en + kb), 0.0),
                _ => {
                    let (a11, a22, a12) = (ep * ep + ka, en * en + kb, -ep * en);
                    let det = a11 * a22 - a12 * a12;
                    (a22 / det, a11 / det, -a12 / det)
                }
            };
            ga.clear();
            gb.clear();
            self.cons[0].gradients(j, inner.x[0][j], &mut ga);
            self.cons[1].gradients(j, inner.x[1][j], &mut gb);
            // Column by column (h is column-major); the cross block once, below the diagonal,
            // mirrored at the end.
            for (c, &v) in ga.iter().enumerate() {
                for (r, &u) in ga.iter().enumerate() {
                    h[(r, c)] += qa * u * v;
                }
            }
            for (c, &v) in gb.iter().enumerate() {
                for (r, &u) in gb.iter().enumerate() {
                    h[(m0 + r, m0 + c)] += qb * u * v;
                }
            }
            for (r, &u) in ga.iter().enumerate() {
                for (c, &v) in gb.iter().enumerate() {
                    h[(m0 + c, r)] += qab * u * v;
                }
            }
        }
        for r in 0..m0 {
            for c in m0..m {
                h[(r, c)] = h[(c, r)];
            }
        }
        DMatrix::from_fn(free.len(), free.len(), |p, q| h[(free[p], free[q])])
    }

    fn scales(&self) -> Vec<f64> {
        let mut s = Vec::with_capacity(self.m());
        for c in &self.cons {
            c.scales(&mut s);
        }
        s
    }

    fn what(&self) -> String {
        "the KKT program".into()
    }
}

/// The KKT program by the fast path, to a relative gap of `gap_tol`.
pub(super) fn kkt(set: &FeasibleSet, g: &[f64], eps_pos: f64, eps_neg: f64, gap_tol: f64) -> Result<KktSolution> {
    let (pos, neg) = (set.class(1)?, set.class(-1)?);
    let solution = |x_pos: Vec<f64>, x_neg: Vec<f64>, solver, status: &str, iterations, residual| KktSolution {
        value: kkt_value(g, eps_pos, &x_pos, eps_neg, &x_neg),
        x_pos,
        x_neg,
        report: SolverReport {
            solver,
            status: status.into(),
            iterations,
            residual,
        },
    };
    if eps_pos == 0.0 || eps_neg == 0.0 {
        // One point alone meets g: its projection; the other is any feasible point.
        let target = |eps: f64, sign: f64, class: &super::ClassSet| {
            if eps > 0.0 {
                g.iter().map(|v| sign * v / eps).collect()
            } else {
                class.centroid.clone()
            }
        };
        let p = fast::project(set, pos, &target(eps_pos, 1.0, pos))?;
        let n = fast::project(set, neg, &target(eps_neg, -1.0, neg))?;
        let (iterations, residual) = (
            p.report.iterations + n.report.iterations,
            p.report.residual.max(n.report.residual),
        );
        return Ok(solution(p.x, n.x, "dual-newton", "Solved", iterations, residual));
    }
    let (Some(lower), Some(upper)) = (set.lower, set.upper.as_deref()) else {
        return Err(Error::Solver {
            solver: "kkt-dual-newton",
            status: "NeedsFiniteBox".into(),
            iterations: 0,
        });
    };
    // Proximal point steps (Rockafellar 1976) make each inner problem strictly convex; the
    // multipliers carry over from step to step.
    let [mu_pos, mu_neg] = [&pos.centroid, &neg.centroid];
    let mut dual = KktDual {
        g,
        eps: [eps_pos, eps_neg],
        cons: [Constraints::new(set, pos), Constraints::new(set, neg)],
        lower,
        upper,
        delta: PROX_WEIGHT * (eps_pos * eps_pos + eps_neg * eps_neg),
        anchor: [mu_pos.clone(), mu_neg.clone()],
        last_pi: RefCell::new(
            (0..g.len())
                .map(|j| g[j] - eps_pos * mu_pos[j] + eps_neg * mu_neg[j])
                .collect(),
        ),
    };
    let mut lambda = vec![0.0; dual.m()];
    let mut iterations = 0;
    let base = eps_pos * eps_pos + eps_neg * eps_neg;
    let half_g_sq = 0.5 * g.iter().map(|v| v * v).sum::<f64>();
    // A bound on ‖z − z*‖: the spheres' diameters (the relaxed sphere lies inside the exact one),
    // else the boxes'.
    let box_diagonal = upper.iter().map(|u| (u - lower).powi(2)).sum::<f64>().sqrt();
    let diameter = [pos, neg]
        .iter()
        .map(|c| {
            c.sphere_radius
                .map_or(box_diagonal, |r| (2.0 * r).min(box_diagonal))
                .powi(2)
        })
        .sum::<f64>()
        .sqrt();
    // The last step whose bound came within `ALMOST_TOL`: (x₊, x₋, constraint residual).
    let mut almost: Option<([Vec<f64>; 2], f64)> = None;
    for step in 0..PROX_STEPS {
        let steps = if step == 0 { MAX_ITER } else { PROX_ASCENT_STEPS };
        let ascent = match maximize(&dual, lambda.clone(), steps, "kkt-dual-newton") {
            Ok(ascent) => ascent,
            // A proximal term too weak for f64: the last step is as close as f64 gets, if it came
            // close; else strengthen the term and retry from the same anchor.
            Err(Error::Solver { iterations: n, .. }) if dual.delta < PROX_WEIGHT * base => {
                iterations += n;
                if let Some(([x_pos, x_neg], residual)) = almost {
                    return Ok(solution(
                        x_pos,
                        x_neg,
                        "kkt-dual-newton",
                        "AlmostSolved",
                        iterations,
                        residual,
                    ));
                }
                dual.delta *= 100.0;
                continue;
            }
            Err(e) => return Err(e),
        };
        iterations += ascent.iterations;
        let [x_pos, x_neg] = ascent.inner.x;
        let moved = x_pos
            .iter()
            .chain(&x_neg)
            .zip(dual.anchor.iter().flatten())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        // The step's optimality residual is δ·(x − x_k), so F − min F ≤ δ·moved·diameter.
        let value = 0.5 * kkt_value(g, eps_pos, &x_pos, eps_neg, &x_neg).powi(2);
        // And F − min F ≤ F, as F ≥ 0: an exactly met g ends the search at once.
        let gap = (dual.delta * moved * diameter).min(value);
        let scale = value.max(1e-12 * half_g_sq);
        if gap <= gap_tol * scale {
            return Ok(solution(
                x_pos,
                x_neg,
                "kkt-dual-newton",
                "Solved",
                iterations,
                ascent.residual,
            ));
        }
        almost = (gap <= ALMOST_TOL.max(gap_tol) * scale).then(|| ([x_pos.clone(), x_neg.clone()], ascent.residual));
        dual.anchor = [x_pos, x_neg];
        dual.delta = (dual.delta / PROX_FALL).max(MIN_PROX_WEIGHT * base);
        lambda = ascent.lambda;
    }
    Err(Error::Solver {
        solver: "kkt-dual-newton",
        status: "MaxIterations".into(),
        iterations,
    })
}
