//! Percentiles as the reference computes them: numpy's default ("linear") interpolation for the
//! attacker's radii (`np.percentile`, digest §3.1), and MATLAB's `quantile` for the decoys' margin
//! thresholds (digest §4.1).

use crate::error::{Error, Result};

/// The `q`-th percentile (q ∈ [0, 100]) of `values`: sort, take rank h = q/100·(n − 1), and
/// interpolate linearly between the neighbours of h.
pub fn percentile(values: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&q) {
        return Err(Error::option("percentile", q, "must lie in [0, 100]"));
    }
    if values.is_empty() {
        return Err(Error::option("percentile", q, "needs at least one value"));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Ok(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// MATLAB's `quantile(values, p)` (p ∈ [0, 1]): the sorted values sit at (i − ½)/n, with linear
/// interpolation between them and the extremes beyond.
pub fn quantile_matlab(values: &[f64], p: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::option("quantile", p, "must lie in [0, 1]"));
    }
    if values.is_empty() {
        return Err(Error::option("quantile", p, "needs at least one value"));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let h = p * n as f64 - 0.5; // 0-based position
    if h <= 0.0 {
        return Ok(sorted[0]);
    }
    if h >= (n - 1) as f64 {
        return Ok(sorted[n - 1]);
    }
    let lo = h.floor() as usize;
    Ok(sorted[lo] + (h - lo as f64) * (sorted[lo + 1] - sorted[lo]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // np.percentile([1, 2, 3, 4, 10], [0, 50, 90, 100]) = [1, 3, 7.6, 10]
        let v = [4.0, 1.0, 10.0, 3.0, 2.0];
        for (q, want) in [(0.0, 1.0), (50.0, 3.0), (90.0, 7.6), (100.0, 10.0)] {
            assert!((percentile(&v, q).unwrap() - want).abs() < 1e-12, "q {q}");
        }
        assert!(percentile(&[], 50.0).is_err());
        assert!(percentile(&v, 101.0).is_err());
    }

    #[test]
    fn matches_matlab_quantile() {
        // MATLAB: quantile([1 2 3 4], [0.1 0.3 0.5 0.95]) = [1 1.7 2.5 4]
        let v = [3.0, 1.0, 4.0, 2.0];
        for (p, want) in [(0.1, 1.0), (0.3, 1.7), (0.5, 2.5), (0.95, 4.0)] {
            assert!((quantile_matlab(&v, p).unwrap() - want).abs() < 1e-12, "p {p}");
        }
        assert!(quantile_matlab(&v, 1.5).is_err());
    }
}
