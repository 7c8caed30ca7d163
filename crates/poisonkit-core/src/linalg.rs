//! Sparse kernels on the rows of a data set: the inner loops of every trainer, written by hand.
//!
//! A `Dataset` guarantees that every stored column index is below its `d` (checked when it is
//! built), so after one length check per call the loops index the dense vector unchecked.

use crate::data::Dataset;

/// Column-major (CSC) copy of a data set: for each feature, the rows where it is non-zero.
pub struct Csc {
    indptr: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<f64>,
}

impl Csc {
    /// The transpose of `data`'s CSR structure.
    pub fn from(data: &Dataset) -> Self {
        let mut indptr = vec![0usize; data.d() + 1];
        for &j in data.indices() {
            indptr[j as usize + 1] += 1;
        }
        for j in 0..data.d() {
            indptr[j + 1] += indptr[j];
        }
        let mut next = indptr.clone();
        let mut rows = vec![0u32; data.nnz()];
        let mut values = vec![0.0; data.nnz()];
        for i in 0..data.n() {
            let (idx, val) = data.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let at = next[j as usize];
                rows[at] = i as u32;
                values[at] = v;
                next[j as usize] += 1;
            }
        }
        Csc { indptr, rows, values }
    }

    /// Number of columns (features).
    pub fn ncols(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Column j as (row indices, values), rows ascending.
    #[inline]
    pub fn column(&self, j: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[j], self.indptr[j + 1]);
        (&self.rows[a..b], &self.values[a..b])
    }
}

impl Dataset {
    /// x_i·w, the dot product of row i with a dense vector of length ≥ d.
    #[inline]
    pub fn row_dot(&self, i: usize, w: &[f64]) -> f64 {
        assert!(w.len() >= self.d(), "dense vector shorter than d");
        let (indices, values) = self.row(i);
        // SAFETY (every `get_unchecked` below): j < d ≤ w.len(), by the Dataset invariant and the
        // assert above.
        let at = |j: u32| unsafe { *w.get_unchecked(j as usize) };
        // Four partial sums break the floating-point dependency chain of one running sum.
        let mut s = [0.0; 4];
        let (idx4, idx_rest) = indices.split_at(indices.len() & !3);
        let (val4, val_rest) = values.split_at(idx4.len());
        for (j, v) in idx4.chunks_exact(4).zip(val4.chunks_exact(4)) {
            s[0] += v[0] * at(j[0]);
            s[1] += v[1] * at(j[1]);
            s[2] += v[2] * at(j[2]);
            s[3] += v[3] * at(j[3]);
        }
        for (&j, &v) in idx_rest.iter().zip(val_rest) {
            s[0] += v * at(j);
        }
        (s[0] + s[1]) + (s[2] + s[3])
    }

    /// w += a·x_i, for a dense vector of length ≥ d.
    #[inline]
    pub fn row_axpy(&self, i: usize, a: f64, w: &mut [f64]) {
        assert!(w.len() >= self.d(), "dense vector shorter than d");
        let (indices, values) = self.row(i);
        for (&j, &v) in indices.iter().zip(values) {
            // SAFETY: j < d ≤ w.len(), by the Dataset invariant and the assert above.
            unsafe { *w.get_unchecked_mut(j as usize) += a * v };
        }
    }
}

impl Dataset {
    /// ‖x_i − μ‖² given ‖μ‖², computed as ‖μ‖² + Σ_{j ∈ nz(x_i)} ((x_ij − μ_j)² − μ_j²) so that no
    /// cancellation between ‖x‖² and ‖μ‖² occurs. `mu` has length ≥ d.
    #[inline]
    pub fn row_sq_distance(&self, i: usize, mu: &[f64], mu_sq_norm: f64) -> f64 {
        let (indices, values) = self.row(i);
        let correction: f64 = indices
            .iter()
            .zip(values)
            .map(|(&j, &x)| {
                let m = mu[j as usize];
                (x - m) * (x - m) - m * m
            })
            .sum();
        (mu_sq_norm + correction).max(0.0)
    }
}

/// Σ values[k]²: the squared norm of a sparse row's values.
#[inline]
pub fn sq_norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum()
}

/// Σ a[k]·b[k] for dense vectors.
#[inline]
pub fn dense_dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
