//! Sanitization: per class, drop the points with the highest defense scores (paper §2.2;
//! digest §2.2, step 6). The reference removes by count: it keeps the round(0.95·n_y) lowest scores
//! of class y (numpy's round half to even, ties at the cut broken by position: a stable sort); a
//! per-class threshold τ_y (keep s ≤ τ_y) is the paper's form.

use crate::error::{Error, Result};

/// Which points a sanitizer removes.
#[derive(Debug, Clone, PartialEq)]
pub enum Removal {
    /// Remove this fraction p ∈ (0, 1) of every class: keep round_half_even((1 − p)·n_y).
    Fraction(f64),
    /// Remove the points of class `label` whose score exceeds `tau`, for each (label, tau) given;
    /// classes not listed keep every point.
    Threshold(Vec<(i32, f64)>),
}

impl Removal {
    /// Checks the removal fraction or thresholds.
    pub fn validate(&self) -> Result<()> {
        match self {
            Removal::Fraction(p) if !(*p > 0.0 && *p < 1.0) => {
                Err(Error::option("removeFraction", p, "must lie in (0, 1)"))
            }
            Removal::Threshold(t) => match t.iter().find(|(_, tau)| tau.is_nan()) {
                Some((label, _)) => Err(Error::option(&format!("threshold[{label}]"), "NaN", "must be a number")),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// The indices (ascending) of the points kept. `scores[i]` belongs to the point with label
/// `labels[i]`; higher scores are removed first.
pub fn sanitize(scores: &[f64], labels: &[i32], removal: &Removal) -> Result<Vec<usize>> {
    removal.validate()?;
    if scores.len() != labels.len() {
        return Err(Error::DimMismatch {
            what: "sanitize: one score per point".into(),
            expected: labels.len(),
            got: scores.len(),
        });
    }
    let mut keep = vec![false; scores.len()];
    let mut classes: Vec<i32> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    for class in classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        match removal {
            Removal::Fraction(p) => {
                let count = ((1.0 - p) * members.len() as f64).round_ties_even() as usize;
                members.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
                members[..count].iter().for_each(|&i| keep[i] = true);
            }
            Removal::Threshold(taus) => {
                let tau = taus.iter().find(|t| t.0 == class).map_or(f64::INFINITY, |t| t.1);
                members
                    .iter()
                    .filter(|&&i| scores[i] <= tau)
                    .for_each(|&i| keep[i] = true);
            }
        }
    }
    Ok((0..scores.len()).filter(|&i| keep[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_count_with_half_even_rounding_and_stable_ties() {
        // Class 1 has 10 points: keep round(9.5) = 10 with p = 0.05 (half to even), 9 with p = 0.1.
        let labels = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1];
        let scores = [0., 1., 2., 3., 4., 5., 6., 7., 9., 9., 5., 1., 1.];
        assert_eq!(sanitize(&scores, &labels, &Removal::Fraction(0.05)).unwrap().len(), 13);
        let kept = sanitize(&scores, &labels, &Removal::Fraction(0.1)).unwrap();
        // Class 1 drops the later of the two tied 9s; class −1 keeps round(2.7) = 3.
        assert_eq!(kept, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]);
        let kept = sanitize(&scores, &labels, &Removal::Fraction(0.5)).unwrap();
        // Class 1 keeps 5 (0..4); class −1 keeps round(1.5) = 2, the two 1s.
        assert_eq!(kept, vec![0, 1, 2, 3, 4, 11, 12]);
    }

    #[test]
    fn thresholds_and_bad_fractions() {
        let kept = sanitize(&[0.5, 2.0, 3.0], &[1, 1, -1], &Removal::Threshold(vec![(1, 1.0)])).unwrap();
        assert_eq!(kept, vec![0, 2]);
        for p in [0.0, 1.0, -0.1, f64::NAN] {
            assert_eq!(
                sanitize(&[1.0], &[1], &Removal::Fraction(p)).unwrap_err().code(),
                "ERR_INVALID_OPTION"
            );
        }
    }
}
