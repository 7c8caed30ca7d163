//! Randomized rounding of continuous poison to integer data (paper §3.3): each coordinate becomes
//! ⌊x⌋ + Bernoulli(x − ⌊x⌋), so E[round(x)] = x and E[round(x)²] is the chord interpolation of x²
//! that the LP relaxation constrains. A point repeated r times is either rounded once and copied
//! (the Python reference, `rround_with_repeats`) or rounded independently for every copy (the MATLAB
//! reference's `randRound`; digest §9.9).

use rand::RngExt;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::seeded;

/// How the copies of a repeated point are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// One rounding per point, copied r times (the Python reference).
    Shared(usize),
    /// r independent roundings per point (the MATLAB reference).
    Independent(usize),
}

/// Rounds every value of `points` (rows in order, each repeated as asked), seeded.
pub fn round_points(points: &Dataset, repeats: Repeats, seed: u64) -> Result<Dataset> {
    let (r, shared) = match repeats {
        Repeats::Shared(r) => (r, true),
        Repeats::Independent(r) => (r, false),
    };
    if r == 0 {
        return Err(Error::option("repeats", r, "must be at least 1"));
    }
    let mut rng = seeded(seed);
    let mut round = |v: f64| {
        let floor = v.floor();
        floor + f64::from(rng.random::<f64>() < v - floor)
    };
    // The rows in CSR form, the values rounded to 0 left out.
    let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
    let mut labels = Vec::with_capacity(points.n() * r);
    let mut row: Vec<(u32, f64)> = Vec::new();
    for i in 0..points.n() {
        for copy in 0..r {
            if copy == 0 || !shared {
                row.clear();
                let (idx, val) = points.row(i);
                for (&j, &v) in idx.iter().zip(val) {
                    let x = round(v);
                    if x != 0.0 {
                        row.push((j, x));
                    }
                }
            }
            indices.extend(row.iter().map(|e| e.0));
            values.extend(row.iter().map(|e| e.1));
            indptr.push(indices.len());
            labels.push(points.labels()[i]);
        }
    }
    Dataset::from_csr(indptr, indices, values, labels, points.d(), "rounded points")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbiased_seeded_and_repeated() {
        let x = Dataset::from_dense(&[0.25, 2.5, 3.0, 0.0], 4, vec![1], "x").unwrap();
        let many = round_points(&x, Repeats::Independent(20000), 7).unwrap();
        let mut mean = [0.0; 4];
        for i in 0..many.n() {
            let (idx, val) = many.row(i);
            idx.iter()
                .zip(val)
                .for_each(|(&j, &v)| mean[j as usize] += v / many.n() as f64);
        }
        for (m, want) in mean.iter().zip([0.25, 2.5, 3.0, 0.0]) {
            assert!((m - want).abs() < 0.02, "{m} vs {want}");
        }
        assert!(many.values().iter().all(|v| v.fract() == 0.0));
        assert_eq!(
            round_points(&x, Repeats::Shared(3), 1).unwrap(),
            round_points(&x, Repeats::Shared(3), 1).unwrap()
        );
        let shared = round_points(&x, Repeats::Shared(5), 2).unwrap();
        assert!((1..5).all(|i| shared.row(i) == shared.row(0)));
        assert_eq!(
            round_points(&x, Repeats::Shared(0), 2).unwrap_err().code(),
            "ERR_INVALID_OPTION"
        );
    }
}
