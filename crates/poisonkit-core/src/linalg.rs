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

/// max |values[k]| (0 for none).
pub fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Σ a[k]·b[k] for dense vectors.
#[inline]
pub fn dense_dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The indices of x's nonzeros, in order (written without a branch per entry, which scattered
/// nonzeros would mispredict).
pub fn nonzeros(x: &[f64]) -> Vec<usize> {
    let mut nz = vec![0; x.len()];
    let mut k = 0;
    for (j, v) in x.iter().enumerate() {
        nz[k] = j;
        k += usize::from(*v != 0.0);
    }
    nz.truncate(k);
    nz
}

/// Σ a[j]·x[j] over `nz`, the indices of x's nonzeros in order ([`nonzeros`]): the sequential sum
/// of [`dense_dot`] without its exact zero terms, which leave a nonzero sum unchanged (and a zero
/// one at most in its sign), so the same number without the work of the zeros. For the feasible
/// sets' inner minimizers, which sit mostly at a box end of 0.
#[inline]
pub fn dot_on(a: &[f64], x: &[f64], nz: &[usize]) -> f64 {
    nz.iter().map(|&j| a[j] * x[j]).sum()
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    #[test]
    fn a_dot_over_the_nonzeros_is_the_dense_dot_to_the_bit() {
        let mut rng = crate::rng::seeded(7);
        for density in [0.0, 0.05, 0.5, 1.0] {
            let a: Vec<f64> = (0..997).map(|_| rng.random::<f64>() - 0.5).collect();
            let x: Vec<f64> = (0..997)
                .map(|_| {
                    if rng.random::<f64>() < density {
                        rng.random_range(1..20) as f64 * 0.37
                    } else {
                        0.0
                    }
                })
                .collect();
            let nz = nonzeros(&x);
            assert!(nz.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(nz.len(), x.iter().filter(|v| **v != 0.0).count());
            let (sparse, dense) = (dot_on(&a, &x, &nz), dense_dot(&a, &x));
            // Equal as numbers (a sum of no terms may differ in the sign of its zero).
            assert!(sparse == dense && (dense == 0.0 || sparse.to_bits() == dense.to_bits()));
        }
    }
}
