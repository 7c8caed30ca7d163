//! The SVD defense (paper §2.2; digest §2.3, `pca-subspace`): a point far from the low-rank
//! subspace spanned by the data's top right singular vectors is an outlier.
//!
//! Reference rule: σ are the singular values of the **uncentered** matrix X the defense is fitted on
//! (scipy `svds`, the top min(1000, d − 1)); with r_i = Σ_{j ≤ i} σ_j² / ‖X‖²_F (0-based i), k is
//! the first i with r_i > 0.95 and the top k right singular vectors are kept (one fewer than the
//! paper's "smallest k with r ≥ 0.95", [`SvdRule::Paper`]); if r never exceeds 0.95, k = 999.
//! P is an orthonormal basis of span(V_k, μ₊, μ₋) and s(x, y) = ‖(I − PᵀP)(x − μ_y)‖.
//!
//! The top singular triplets are the top eigenpairs of K = XXᵀ or XᵀX, whichever is smaller
//! (side ≤ `DENSE_SIDE`: K is formed and fully decomposed, exact like a dense LAPACK solve). On a
//! larger side, block Lanczos with full reorthogonalization (Golub & Van Loan, *Matrix
//! Computations*, §10.3.6; Saad, *Numerical Methods for Large Eigenvalue Problems*, §6.3): a
//! Krylov basis grown by blocks of `BLOCK` from a seeded random block, Rayleigh-Ritz on it at
//! checkpoints. The first checkpoint comes at three times `FIRST_RANK` vectors, the next ones where the
//! residuals' decay so far predicts convergence. It stops once the kept vectors and the first one
//! left out have relative residuals ‖Kv − θv‖/θ ≤ `TOL` (scores then agree with scipy's `svds`
//! to about 1e-5), or at `MAX_DIM` basis vectors, when the result is marked not converged. If the
//! 95% crossing lies beyond the Ritz values, the basis grows until it appears or until all
//! min(1000, d − 1) triplets the reference computes have converged. No dense d×d or n×n matrix
//! is formed on that path. Dense products and eigen-decompositions use faer, sequentially or
//! over fixed chunks, so that results do not depend on the number of threads.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::centroid::Centroids;
use crate::data::Dataset;
use crate::error::{Error, Result, check_len};
use crate::linalg::{Csc, dense_dot, sq_norm};
use crate::rng::seeded;

/// How the SVD defense picks its rank from the cumulative energy ratios r_i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvdRule {
    /// k = first 0-based i with r_i > 0.95 (the authors' code).
    Reference,
    /// k = the smallest count whose energy ratio reaches 0.95 (the paper's text): one more.
    Paper,
}

const ENERGY: f64 = 0.95;
const MAX_SINGULAR: usize = 1000;
const FIRST_RANK: usize = 384;
const BLOCK: usize = 64;
const DENSE_SIDE: usize = 1500;
const TOL: f64 = 1e-4;
const MAX_DIM: usize = 4 * MAX_SINGULAR;

/// The SVD-defense score of every row of `data`, the subspace fitted on `fit_on`, and whether
/// the singular subspace reached its tolerance. `should_stop` is polled between blocks.
pub fn svd_scores(
    data: &Dataset,
    fit_on: &Dataset,
    rule: SvdRule,
    seed: u64,
    should_stop: &dyn Fn() -> bool,
) -> Result<(Vec<f64>, bool)> {
    check_len(
        "SVD defense: number of features of the fitted data",
        data.d(),
        fit_on.d(),
    )?;
    let solver = Solver {
        first_rank: FIRST_RANK,
        dense_side: DENSE_SIDE,
        max_dim: MAX_DIM,
        seed,
        should_stop,
    };
    let subspace = Subspace::fit(fit_on, rule, &solver)?;
    Ok((subspace.scores(data)?, subspace.converged))
}

/// How the top eigenpairs are found (the tests shrink the constants).
struct Solver<'a> {
    first_rank: usize,
    dense_side: usize,
    max_dim: usize,
    seed: u64,
    should_stop: &'a dyn Fn() -> bool,
}

/// The fitted basis: V_k (k rows, stored as the k × d matrix whose column j is V[j, :]) and the
/// extra orthonormal directions of the centroids, with the class centroids.
struct Subspace {
    vk: DMatrix<f64>,
    extra: Vec<Vec<f64>>,
    centroids: Centroids,
    converged: bool,
}

impl Subspace {
    /// Fits the subspace.
    fn fit(x: &Dataset, rule: SvdRule, solver: &Solver) -> Result<Self> {
        let centroids = Centroids::fit(x)?;
        let (n, d) = (x.n(), x.d());
        let csc = Csc::from(x);
        let energy = sq_norm(x.values());
        // svds computes min(1000, d − 1) triplets; it also needs fewer than min(n, d).
        let t_max = MAX_SINGULAR.min(d.saturating_sub(1)).min(n.saturating_sub(1)).max(1);
        let op = Gram {
            x,
            csc: &csc,
            left: n <= d,
        };
        // k from the eigenvalues θ (descending; Ritz values are lower bounds). None: the crossing
        // lies beyond them, and fewer than t_max of them are known.
        let rank = |theta: &[f64]| {
            let mut cumulative = 0.0;
            let crossing = theta.iter().take(t_max).position(|&t| {
                cumulative += t.max(0.0);
                cumulative > ENERGY * energy
            });
            match (crossing, rule) {
                (Some(i), SvdRule::Reference) => Some(i),
                (Some(i), SvdRule::Paper) => Some(i + 1),
                (None, _) if theta.len() >= t_max => Some(match rule {
                    SvdRule::Reference => t_max - 1,
                    SvdRule::Paper => t_max,
                }),
                (None, _) => None,
            }
        };
        let (theta, vectors, converged) = if op.side() <= solver.dense_side {
            let (theta, vectors) = op.eigen()?;
            (theta, vectors, true)
        } else {
            // The kept vectors and the first one left out must converge.
            op.top_eigen(solver, |theta| rank(theta).map(|k| k + 1))?
        };
        let k = rank(&theta).unwrap_or(theta.len()).min(vectors.nrows());
        // Right singular vectors: the eigenvectors themselves (K = XᵀX), or Xᵀu_i/σ_i (K = XXᵀ).
        let top = vectors.rows(0, k).into_owned();
        let vk = if op.left {
            let mut v = csc.transpose_times(&top);
            for (l, mut row) in v.row_iter_mut().enumerate() {
                let s = theta[l].max(f64::MIN_POSITIVE).sqrt(); // σ_l = √θ_l
                row /= s;
            }
            v
        } else {
            top
        };
        let extra = orthogonal_directions(&vk, &centroids);
        Ok(Subspace {
            vk,
            extra,
            centroids,
            converged,
        })
    }

    fn scores(&self, data: &Dataset) -> Result<Vec<f64>> {
        let classes: Vec<usize> = data
            .labels()
            .iter()
            .map(|&y| self.centroids.index(y))
            .collect::<Result<_>>()?;
        let k = self.vk.nrows();
        let per_class: Vec<ClassProjection> = self
            .centroids
            .labels()
            .iter()
            .map(|&y| {
                let mu = self.centroids.mean(y).expect("fitted class").to_vec();
                ClassProjection {
                    v_mu: (0..k)
                        .map(|l| dense_dot(self.vk.row(l).transpose().as_slice(), &mu))
                        .collect(),
                    extra_mu: self.extra.iter().map(|e| dense_dot(e, &mu)).collect(),
                    sq_norm: dense_dot(&mu, &mu),
                    mu,
                }
            })
            .collect();
        Ok((0..data.n())
            .into_par_iter()
            .map(|i| {
                let ClassProjection {
                    mu,
                    sq_norm: mu_sq,
                    v_mu: vmu,
                    extra_mu: emu,
                } = &per_class[classes[i]];
                let (idx, val) = data.row(i);
                let dist_sq = data.row_sq_distance(i, mu, *mu_sq);
                // ‖P(x − μ)‖² over the orthonormal rows of V_k and the extra directions.
                let mut c = vmu.iter().map(|v| -v).collect::<Vec<f64>>();
                for (&j, &v) in idx.iter().zip(val) {
                    let col = self.vk.column(j as usize);
                    c.iter_mut().zip(col.iter()).for_each(|(c, w)| *c += v * w);
                }
                let mut proj: f64 = c.iter().map(|c| c * c).sum();
                for (e, em) in self.extra.iter().zip(emu) {
                    let t = data.row_dot(i, e) - em;
                    proj += t * t;
                }
                (dist_sq - proj).max(0.0).sqrt()
            })
            .collect())
    }
}

/// A class centroid μ and its projections on the basis: ‖μ‖², V_k μ and e·μ for the extra
/// directions e.
struct ClassProjection {
    mu: Vec<f64>,
    sq_norm: f64,
    v_mu: Vec<f64>,
    extra_mu: Vec<f64>,
}

/// The centroids' components orthogonal to the rows of `vk` (and to each other), normalized;
/// directions already in the span are dropped (scipy's `orth` does the same by rank).
fn orthogonal_directions(vk: &DMatrix<f64>, centroids: &Centroids) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for &y in centroids.labels().iter().rev() {
        let Some(mu) = centroids.mean(y) else { continue };
        let mut u = mu.to_vec();
        let norm0 = dense_dot(&u, &u).sqrt();
        // Twice is enough (Gram-Schmidt re-orthogonalization).
        for _ in 0..2 {
            for l in 0..vk.nrows() {
                let row = vk.row(l).transpose();
                let c = dense_dot(row.as_slice(), &u);
                u.iter_mut().zip(row.iter()).for_each(|(u, v)| *u -= c * v);
            }
            for e in &out {
                let c = dense_dot(e, &u);
                u.iter_mut().zip(e).for_each(|(u, v)| *u -= c * v);
            }
        }
        let norm = dense_dot(&u, &u).sqrt();
        if norm > 1e-10 * norm0.max(f64::MIN_POSITIVE) {
            u.iter_mut().for_each(|v| *v /= norm);
            out.push(u);
        }
    }
    out
}

/// K = XXᵀ (`left`, acting on n-vectors) or XᵀX (on d-vectors).
struct Gram<'a> {
    x: &'a Dataset,
    csc: &'a Csc,
    left: bool,
}

impl Gram<'_> {
    /// The length of the vectors K acts on: n for XXᵀ, d for XᵀX.
    fn side(&self) -> usize {
        if self.left { self.x.n() } else { self.x.d() }
    }

    /// K·B for a tall block B (side × q). The sparse products work on transposes (a block's
    /// values for one row or feature contiguous): the first gathers B's rows, the second
    /// scatters into the result, so that the random accesses stay in the arrays of the smaller
    /// side (on IMDB, 13 MB in place of 46 MB, which the cache does not hold).
    fn apply(&self, b: MatRef<'_, f64>) -> Mat<f64> {
        let t = DMatrix::from_fn(b.ncols(), b.nrows(), |r, c| b[(c, r)]);
        let kt = if self.left {
            scatter_times(&self.csc.transpose_times(&t), self.x.n(), |j| self.csc.column(j))
        } else {
            scatter_times(&csr_times(self.x, &t), self.x.d(), |i| self.x.row(i))
        };
        Mat::from_fn(b.nrows(), b.ncols(), |r, c| kt[(c, r)])
    }

    /// Every eigenvalue (descending) with its eigenvector as a row, from K formed densely: row a
    /// of XXᵀ is Σ_j x_aj X[:, j], row a of XᵀX is Σ_i x_ia X[i, :].
    fn eigen(&self) -> Result<(Vec<f64>, DMatrix<f64>)> {
        let side = self.side();
        let mut k = vec![0.0; side * side];
        k.par_chunks_mut(side).enumerate().for_each(|(a, row)| {
            let (idx, val) = if self.left { self.x.row(a) } else { self.csc.column(a) };
            for (&j, &v) in idx.iter().zip(val) {
                let (inner, w) = if self.left {
                    self.csc.column(j as usize)
                } else {
                    self.x.row(j as usize)
                };
                inner.iter().zip(w).for_each(|(&b, &w)| row[b as usize] += v * w);
            }
        });
        let (theta, u) = descending_eigen(MatRef::from_column_major_slice(&k, side, side))?;
        Ok((theta, DMatrix::from_fn(side, side, |r, c| u[(c, r)])))
    }

    /// The top eigenvalues (descending) of K as Ritz values of a block Krylov basis, the first
    /// `wanted(θ)` Ritz vectors as rows, and whether those converged.
    ///
    /// The basis starts from a seeded random block; each step applies K to the newest block,
    /// orthogonalizes the result against the two newest blocks and then the whole basis (the
    /// coefficients are the new columns of the Rayleigh quotient H = SᵀKS) and appends it,
    /// orthonormalized. At a
    /// checkpoint, H is decomposed; with Y = (I − SSᵀ)KB_last, the Ritz pair (θ, Sw) has residual
    /// ‖Kv − θv‖ = ‖Y w_last‖, w_last being w's entries on the newest block. It stops once the
    /// first `wanted(θ)` pairs have relative residuals ≤ `TOL`, or unconverged at
    /// `solver.max_dim` vectors. An invariant basis (Y = 0) is exact.
    fn top_eigen(
        &self,
        solver: &Solver,
        wanted: impl Fn(&[f64]) -> Option<usize>,
    ) -> Result<(Vec<f64>, DMatrix<f64>, bool)> {
        let side = self.side();
        let max_dim = solver.max_dim.clamp(1, side);
        let mut rng = seeded(solver.seed);
        let start = Mat::from_fn(side, BLOCK.min(max_dim), |_, _| StandardNormal.sample(&mut rng));
        let start_scale = max_sq_column(start.as_ref());
        let first = orthonormal_columns(start, MatRef::from_column_major_slice(&[], side, 0), start_scale)?;
        let mut scale: f64 = 0.0;
        // The basis S, column-major (side × dim), and per block its offset and SᵀKB.
        let mut newest = first.ncols();
        let mut vectors: Vec<f64> = Vec::new();
        append_columns(&mut vectors, first.as_ref());
        let mut rayleigh_blocks: Vec<(usize, Mat<f64>)> = Vec::new();
        let mut next_check = (3 * solver.first_rank).clamp(1, max_dim);
        let mut last_check: Option<(usize, f64)> = None;
        loop {
            if (solver.should_stop)() {
                return Err(Error::Aborted);
            }
            let dim = vectors.len() / side;
            let s = MatRef::from_column_major_slice(&vectors, side, dim);
            let mut y = self.apply(s.subcols(dim - newest, newest));
            // ‖K‖², from below: the longest column K has produced so far.
            scale = scale.max(max_sq_column(y.as_ref()));
            // Against the two newest blocks (all KB has in exact arithmetic), then against the
            // whole basis to restore the orthogonality rounding erodes.
            let near = rayleigh_blocks.last().map_or(0, |&(offset, _)| offset);
            let mut coefficients = Mat::zeros(dim, newest);
            let local = project_out(y.as_mut(), s.subcols(near, dim - near));
            coefficients.as_mut().subrows_mut(near, dim - near).copy_from(&local);
            coefficients += project_out(y.as_mut(), s);
            rayleigh_blocks.push((dim - newest, coefficients));
            let fresh = orthonormal_columns(y.clone(), s, scale)?;
            let at_end = dim >= max_dim || fresh.ncols() == 0;
            if dim >= next_check || at_end {
                let (theta, w) = descending_eigen(rayleigh(&rayleigh_blocks, dim).as_ref())?;
                match wanted(&theta).map(|m| m.min(dim)) {
                    Some(m) => {
                        let g = inner(y.as_ref(), y.as_ref());
                        let last = w.subrows(dim - newest, newest);
                        let worst = (0..m)
                            .map(|i| {
                                let c = last.col(i);
                                let mut sq = 0.0;
                                for a in 0..newest {
                                    for b in 0..newest {
                                        sq += c[a] * g[(a, b)] * c[b];
                                    }
                                }
                                // Relative to θ, or for θ near zero to the spectrum's scale
                                // (ARPACK's floor ε^(2/3)·θ₁).
                                let scale = theta[i].max(f64::EPSILON.powf(2.0 / 3.0) * theta[0]);
                                sq.max(0.0).sqrt() / (TOL * scale.max(f64::MIN_POSITIVE))
                            })
                            .fold(0.0, f64::max);
                        // An invariant basis is exact whatever the residuals' rounding.
                        let converged = worst <= 1.0 || fresh.ncols() == 0;
                        if converged || at_end {
                            return Ok((theta, ritz_rows(s, w.subcols(0, m)), converged));
                        }
                        // Residuals fall about geometrically with the dimension: aim a little
                        // beyond where the last two checkpoints' rate meets the tolerance, but
                        // at most a quarter of the basis further, as the rate itself grows with
                        // the basis (on IMDB, steps of half the basis overshot convergence,
                        // near 2,700 vectors, by 700 more that each cost a full reorthogonalization).
                        let step = match last_check {
                            Some((d0, w0)) if worst < w0 => {
                                let rate = (w0 / worst).ln() / (dim - d0) as f64;
                                (1.1 * worst.ln() / rate).ceil() as usize
                            }
                            _ => dim / 4,
                        };
                        next_check = dim + step.clamp(BLOCK, (dim / 4).max(BLOCK));
                        last_check = Some((dim, worst));
                    }
                    // The crossing lies beyond the whole basis, which is invariant or capped.
                    None if at_end => {
                        let converged = fresh.ncols() == 0;
                        return Ok((theta, ritz_rows(s, w.as_ref()), converged));
                    }
                    None => next_check = dim + (dim / 4).max(BLOCK),
                }
            }
            newest = fresh.ncols();
            append_columns(&mut vectors, fresh.as_ref());
        }
    }
}

/// Appends the columns of `m` to a column-major buffer.
fn append_columns(buffer: &mut Vec<f64>, m: MatRef<'_, f64>) {
    buffer.reserve(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        buffer.extend((0..m.nrows()).map(|i| m[(i, j)]));
    }
}

/// The Rayleigh quotient H = SᵀKS (dim × dim) from each block's coefficients SᵀKB, which
/// cover the rows of the basis up to that block: its columns, and by symmetry its rows.
fn rayleigh(blocks: &[(usize, Mat<f64>)], dim: usize) -> Mat<f64> {
    let mut h = Mat::zeros(dim, dim);
    for (offset, c) in blocks {
        for col in 0..c.ncols() {
            for row in 0..c.nrows() {
                h[(row, offset + col)] = c[(row, col)];
                h[(offset + col, row)] = c[(row, col)];
            }
        }
    }
    h
}

/// The Ritz vectors S·W as the rows of a (columns of W × side) matrix.
fn ritz_rows(s: MatRef<'_, f64>, w: MatRef<'_, f64>) -> DMatrix<f64> {
    let u = times_small(s, w);
    DMatrix::from_fn(u.ncols(), u.nrows(), |r, c| u[(c, r)])
}

/// The eigenvalues of a symmetric matrix in descending order, with the matching eigenvectors
/// as columns (faer, sequential: the same bits on any number of threads).
fn descending_eigen(a: MatRef<'_, f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = a.nrows();
    if n == 0 {
        // faer's workspace size needs n ≥ 1.
        return Ok((Vec::new(), Mat::zeros(0, 0)));
    }
    let params = Default::default();
    let mut values = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let mut buffer = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        params,
    ));
    self_adjoint_evd(
        a,
        values.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut buffer),
        params,
    )
    .map_err(|e| Error::Solver {
        solver: "SVD defense: symmetric eigen-decomposition",
        status: format!("{e:?}"),
        iterations: 0,
    })?;
    let values = values.column_vector();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    Ok((
        order.iter().map(|&i| values[i]).collect(),
        Mat::from_fn(n, n, |r, c| u[(r, order[c])]),
    ))
}

/// X·M for M stored transposed (block × d): returns (block × n), column i = Σ_j x_ij M[:, j].
fn csr_times(x: &Dataset, mt: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(mt.nrows(), x.n());
    sparse_times(mt, &mut out, |i| x.row(i));
    out
}

impl Csc {
    /// Xᵀ·M for M stored transposed (block × n): returns (block × d), column j = Σ_i x_ij M[:, i].
    fn transpose_times(&self, mt: &DMatrix<f64>) -> DMatrix<f64> {
        let mut out = DMatrix::zeros(mt.nrows(), self.ncols());
        sparse_times(mt, &mut out, |j| self.column(j));
        out
    }
}

/// out[:, c] = Σ_{(i, v) ∈ entries(c)} v·M[:, i] for every column c of `out`, M stored like `out`
/// (block × side). Rows of the block are processed in slabs of `SLAB` so that the columns of M
/// being gathered stay in cache.
fn sparse_times<'a>(
    m: &DMatrix<f64>,
    out: &mut DMatrix<f64>,
    entries: impl Fn(usize) -> (&'a [u32], &'a [f64]) + Sync,
) {
    const SLAB: usize = 64;
    let b = m.nrows();
    let src = m.as_slice();
    for start in (0..b).step_by(SLAB) {
        let end = (start + SLAB).min(b);
        out.as_mut_slice().par_chunks_mut(b).enumerate().for_each(|(c, col)| {
            let col = &mut col[start..end];
            let (idx, val) = entries(c);
            for (&i, &v) in idx.iter().zip(val) {
                let from = &src[i as usize * b + start..i as usize * b + end];
                col.iter_mut().zip(from).for_each(|(o, m)| *o += v * m);
            }
        });
    }
}

/// The product of a sparse matrix with M (block × count, stored like `sparse_times`'s), by the
/// sparse matrix's other orientation: out[:, c] += v·M[:, k] for every (c, v) ∈ entries(k), k
/// ascending, into out (block × side). Each out[:, c] gets its terms in the order of k with the
/// same operations as `sparse_times` over the transposed structure, so the bits are the same;
/// this one reads M in order and keeps its random accesses in `out`. The block's rows are split
/// into one slab per thread, each written to its own matrix, then interleaved.
fn scatter_times<'a>(
    m: &DMatrix<f64>,
    side: usize,
    entries: impl Fn(usize) -> (&'a [u32], &'a [f64]) + Sync,
) -> DMatrix<f64> {
    let b = m.nrows();
    let src = m.as_slice();
    let slab = b.div_ceil(rayon::current_num_threads()).max(1);
    let slabs: Vec<(usize, usize, Vec<f64>)> = (0..b)
        .step_by(slab)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let w = slab.min(b - start);
            let mut part = vec![0.0; w * side];
            for k in 0..m.ncols() {
                let from = &src[k * b + start..k * b + start + w];
                let (idx, val) = entries(k);
                for (&c, &v) in idx.iter().zip(val) {
                    let to = &mut part[c as usize * w..(c as usize + 1) * w];
                    to.iter_mut().zip(from).for_each(|(o, m)| *o += v * m);
                }
            }
            (start, w, part)
        })
        .collect();
    let mut out = DMatrix::zeros(b, side);
    for (start, w, part) in &slabs {
        for (c, values) in part.chunks_exact(*w).enumerate() {
            out.view_mut((*start, c), (*w, 1)).copy_from_slice(values);
        }
    }
    out
}

/// Rows per parallel chunk of the tall products: fixed, so that sums do not depend on the
/// number of threads.
const CHUNK: usize = 512;

/// Aᵀ·B for two tall matrices (side × p and side × q), summed over fixed row chunks in order.
fn inner(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let side = a.nrows();
    let parts: Vec<Mat<f64>> = (0..side.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (from, len) = (c * CHUNK, CHUNK.min(side - c * CHUNK));
            let mut part = Mat::zeros(a.ncols(), b.ncols());
            let (a, b) = (a.subrows(from, len), b.subrows(from, len));
            matmul(part.as_mut(), Accum::Replace, a.transpose(), b, 1.0, Par::Seq);
            part
        })
        .collect();
    let mut sum = Mat::zeros(a.ncols(), b.ncols());
    for part in &parts {
        for j in 0..sum.ncols() {
            for i in 0..sum.nrows() {
                sum[(i, j)] += part[(i, j)];
            }
        }
    }
    sum
}

/// A·T for a tall A (side × p) and a small T (p × q), in parallel over row chunks.
fn times_small(a: MatRef<'_, f64>, t: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::zeros(a.nrows(), t.ncols());
    out.as_mut()
        .par_row_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let rows = a.subrows(c * CHUNK, chunk.nrows());
            matmul(chunk, Accum::Replace, rows, t, 1.0, Par::Seq);
        });
    out
}

/// Removes from the tall B its components in span(S) (S with orthonormal columns), one pass of
/// classical Gram-Schmidt; returns the coefficients SᵀB of B as it was.
fn project_out(mut b: MatMut<'_, f64>, s: MatRef<'_, f64>) -> Mat<f64> {
    let c = inner(s, b.rb());
    b.rb_mut().par_row_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let rows = s.subrows(i * CHUNK, chunk.nrows());
        matmul(chunk, Accum::Add, rows, c.as_ref(), -1.0, Par::Seq);
    });
    c
}

/// The largest squared column norm of a tall block.
fn max_sq_column(b: MatRef<'_, f64>) -> f64 {
    (0..b.ncols()).map(|j| b.col(j).squared_norm_l2()).fold(0.0, f64::max)
}

/// An orthonormal basis of span(B), B already orthogonal to span(S): normalized through the
/// eigen-decomposition of BᵀB, dropping directions shorter than `DEPENDENT` times √`scale`
/// (the squared length of the longest column of K·S or of the start: numerically zero), then
/// projected out of S once more (normalizing magnifies what rounding left in it) and
/// normalized again.
fn orthonormal_columns(b: Mat<f64>, s: MatRef<'_, f64>, scale: f64) -> Result<Mat<f64>> {
    const DEPENDENT: f64 = 1e-10;
    let normalize = |b: MatRef<'_, f64>, floor: f64| -> Result<Mat<f64>> {
        let (lambda, v) = descending_eigen(inner(b, b).as_ref())?;
        let kept = lambda.iter().take_while(|&&l| l > floor).count();
        let t = Mat::from_fn(b.ncols(), kept, |r, c| v[(r, c)] / lambda[c].sqrt());
        Ok(times_small(b, t.as_ref()))
    };
    let mut q = normalize(b.as_ref(), DEPENDENT * DEPENDENT * scale)?;
    project_out(q.as_mut(), s);
    normalize(q.as_ref(), DEPENDENT * DEPENDENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BagOfWordsOptions, make_bag_of_words};

    /// A seeded bag of words with n documents over d words.
    fn corpus(n: usize, d: usize) -> Dataset {
        make_bag_of_words(&BagOfWordsOptions {
            n,
            d,
            doc_length: 20.0,
            ..Default::default()
        })
        .unwrap()
    }

    /// Exact singular values and right singular vectors by a dense eigen-decomposition of XᵀX.
    fn exact(x: &Dataset) -> (Vec<f64>, DMatrix<f64>) {
        let mut dense = DMatrix::zeros(x.n(), x.d());
        for i in 0..x.n() {
            let (idx, val) = x.row(i);
            idx.iter().zip(val).for_each(|(&j, &v)| dense[(i, j as usize)] = v);
        }
        let eig = nalgebra::SymmetricEigen::new(dense.transpose() * &dense);
        let mut order: Vec<usize> = (0..x.d()).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let values = order.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect();
        let vectors = DMatrix::from_fn(x.d(), x.d(), |r, c| eig.eigenvectors[(r, order[c])]);
        (values, vectors)
    }

    #[test]
    fn scattering_gives_the_bits_of_gathering() {
        let x = corpus(300, 500);
        let csc = Csc::from(&x);
        let mut rng = seeded(3);
        for b in [1, 7, 64, 130] {
            let by_row = DMatrix::from_fn(b, x.d(), |_, _| StandardNormal.sample(&mut rng));
            let by_feature = DMatrix::from_fn(b, x.n(), |_, _| StandardNormal.sample(&mut rng));
            // X·M and Xᵀ·M, each by gathering over one orientation and scattering over the other.
            let xm = scatter_times(&by_row, x.n(), |j| csc.column(j));
            let xtm = scatter_times(&by_feature, x.d(), |i| x.row(i));
            let bits = |m: &DMatrix<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&xm), bits(&csr_times(&x, &by_row)));
            assert_eq!(bits(&xtm), bits(&csc.transpose_times(&by_feature)));
        }
    }

    #[test]
    fn scores_match_a_dense_computation() {
        // Both sides of the Gram trick (n < d and n > d): decomposed densely; a first checkpoint
        // before the 95% crossing is among the Ritz values (first rank 8); block Lanczos with
        // its first checkpoint late (first rank 300; dense side 0 in both).
        for (n, d, first_rank, dense_side) in [
            (120, 300, FIRST_RANK, DENSE_SIDE),
            (400, 60, FIRST_RANK, DENSE_SIDE),
            (300, 400, 8, 0),
            (500, 200, 8, 0),
            (400, 900, 300, 0),
            (900, 400, 300, 0),
        ] {
            let x = corpus(n, d);
            let (values, vectors) = exact(&x);
            let energy = sq_norm(x.values());
            let mut cumulative = 0.0;
            let k = values.iter().position(|&v| {
                cumulative += v;
                cumulative > ENERGY * energy
            });
            let k = k.unwrap();
            let solver = Solver {
                first_rank,
                dense_side,
                max_dim: MAX_DIM,
                seed: 1,
                should_stop: &|| false,
            };
            let fitted = Subspace::fit(&x, SvdRule::Reference, &solver).unwrap();
            assert!(fitted.converged, "n {n} d {d}");
            assert_eq!(fitted.vk.nrows(), k, "n {n} d {d}");
            // Same subspace: the projector onto the fitted rows equals the exact one.
            let exact_vk = vectors.columns(0, k).transpose();
            let p_fit = fitted.vk.transpose() * &fitted.vk;
            let p_exact = exact_vk.transpose() * &exact_vk;
            // Exact when dense; the Krylov basis meets its residual tolerance.
            let tol = if dense_side > 0 { 1e-6 } else { 1e-3 };
            let err = (p_fit - p_exact).abs().max();
            assert!(err < tol, "n {n} d {d}: projector error {err}");
            // Scores: distance to span(V_k, μ₊, μ₋) after centering, by dense least squares.
            let scores = fitted.scores(&x).unwrap();
            let c = Centroids::fit(&x).unwrap();
            let mut basis = exact_vk.transpose();
            for y in [1, -1] {
                let last = basis.ncols();
                basis = basis.insert_column(last, 0.0);
                basis.column_mut(last).copy_from_slice(c.mean(y).unwrap());
            }
            let q = basis.qr().q();
            for i in (0..x.n()).step_by(7) {
                let mut z = nalgebra::DVector::zeros(x.d());
                let (idx, val) = x.row(i);
                idx.iter().zip(val).for_each(|(&j, &v)| z[j as usize] = v);
                z -= nalgebra::DVector::from_column_slice(c.mean(x.labels()[i]).unwrap());
                let residual = &z - &q * (q.transpose() * &z);
                let gap = (residual.norm() - scores[i]).abs();
                assert!(gap < 10.0 * tol * (1.0 + scores[i]), "n {n} d {d} row {i}: {gap}");
            }
        }
    }

    #[test]
    fn low_rank_data_exhaust_the_krylov_basis_exactly() {
        // 400 rows repeating 25 documents: rank 25 at most, smaller than the first block.
        let words = corpus(25, 600)
            .slice(&(0..400).map(|i| i % 25).collect::<Vec<_>>())
            .unwrap();
        // 400 rows repeating 10 one-word documents: 10 similar singular values, so the paper's
        // rule keeps all 10 and wants an 11th, zero up to rounding, converged too.
        let (n, d) = (400, 600);
        let one_hot: Vec<f64> = (0..n * d)
            .map(|a| {
                let word = (a / d) % 10;
                if a % d == word { 1.0 + word as f64 / 30.0 } else { 0.0 }
            })
            .collect();
        let labels = (0..n).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
        let flat = Dataset::from_dense(&one_hot, d, labels, "one-word documents").unwrap();
        for (x, first_rank) in [(&words, 8), (&words, 300), (&flat, 8)] {
            let solver = Solver {
                first_rank,
                dense_side: 0,
                max_dim: MAX_DIM,
                seed: 1,
                should_stop: &|| false,
            };
            let krylov = Subspace::fit(x, SvdRule::Paper, &solver).unwrap();
            let dense = Subspace::fit(
                x,
                SvdRule::Paper,
                &Solver {
                    dense_side: DENSE_SIDE,
                    ..solver
                },
            )
            .unwrap();
            assert!(krylov.converged);
            assert_eq!(krylov.vk.nrows(), dense.vk.nrows());
            let (a, b) = (krylov.scores(x).unwrap(), dense.scores(x).unwrap());
            let gap = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(gap < 1e-6, "first rank {first_rank}: scores differ by {gap}");
        }
    }

    #[test]
    fn the_krylov_basis_reports_its_budget_and_stops_when_asked() {
        let x = corpus(400, 900);
        let solver = |max_dim, should_stop| Solver {
            first_rank: 300,
            dense_side: 0,
            max_dim,
            seed: 1,
            should_stop,
        };
        let short = Subspace::fit(&x, SvdRule::Reference, &solver(2 * BLOCK, &|| false)).unwrap();
        assert!(
            !short.converged,
            "a basis of {} vectors does not meet the tolerance",
            2 * BLOCK
        );
        assert!(
            Subspace::fit(&x, SvdRule::Reference, &solver(MAX_DIM, &|| false))
                .unwrap()
                .converged
        );
        let stopped = Subspace::fit(&x, SvdRule::Reference, &solver(MAX_DIM, &|| true));
        assert_eq!(stopped.err().map(|e| e.code()), Some("ERR_ABORTED"));
    }
}
