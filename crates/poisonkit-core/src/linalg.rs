//! Sparse kernels on CSR rows: the inner loops of every trainer, written by hand.

/// Σ_k values[k] · w[indices[k]]: the dot product of a sparse row with a dense vector.
#[inline]
pub fn dot(indices: &[u32], values: &[f64], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for (&j, &v) in indices.iter().zip(values) {
        s += v * w[j as usize];
    }
    s
}

/// w[indices[k]] += a · values[k]: adds a multiple of a sparse row to a dense vector.
#[inline]
pub fn axpy(a: f64, indices: &[u32], values: &[f64], w: &mut [f64]) {
    for (&j, &v) in indices.iter().zip(values) {
        w[j as usize] += a * v;
    }
}

/// Σ values[k]²: the squared norm of a sparse row.
#[inline]
pub fn sq_norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum()
}

/// Σ a[k]·b[k] for dense vectors.
#[inline]
pub fn dense_dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
