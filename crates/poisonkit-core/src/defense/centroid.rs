//! Class centroids and the two centroid defenses of the paper (§2.2; digest §2.3):
//! - L2: s(x, y) = ‖x − μ_y‖₂ (`l2-ball`);
//! - slab: s(x, y) = |v·(x − μ_y)| with v = (μ₋ − μ₊)/‖μ₋ − μ₊‖ (`centroid-vec`; the paper's
//!   unnormalized β₁ − β₋₁ differs only by a constant per class). Binary data only.

use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::dense_dot;

/// The mean of each class, in label order (−1, +1 for binary data; 0..k−1 otherwise).
#[derive(Debug, Clone)]
pub struct Centroids {
    labels: Vec<i32>,
    means: Vec<Vec<f64>>,
    sq_norms: Vec<f64>,
}

impl Centroids {
    /// Fits the class means of `data`; every class must have a point.
    pub fn fit(data: &Dataset) -> Result<Self> {
        let counts = data.class_counts();
        let labels: Vec<i32> = counts.iter().map(|c| c.0).collect();
        if let Some(&(class, _)) = counts.iter().find(|c| c.1 == 0) {
            return Err(Error::EmptyClass {
                what: "data the defense is fitted on".into(),
                class,
            });
        }
        let mut means = vec![vec![0.0; data.d()]; labels.len()];
        for i in 0..data.n() {
            let y = data.labels()[i];
            let c = labels.iter().position(|&l| l == y).expect("every label is a class");
            data.row_axpy(i, 1.0, &mut means[c]);
        }
        for (mean, &(_, count)) in means.iter_mut().zip(&counts) {
            mean.iter_mut().for_each(|v| *v /= count as f64);
        }
        let sq_norms = means.iter().map(|m| dense_dot(m, m)).collect();
        Ok(Centroids {
            labels,
            means,
            sq_norms,
        })
    }

    /// v = (μ₋ − μ₊)/‖μ₋ − μ₊‖, the unit vector between the two class centroids (binary data only).
    /// Fails with the reason there is none; the caller names the option that asked for the slab.
    pub fn slab_direction(&self) -> std::result::Result<Vec<f64>, &'static str> {
        let (Some(neg), Some(pos)) = (self.mean(-1), self.mean(1)) else {
            return Err("the slab needs binary ±1 labels with both classes present");
        };
        let mut v: Vec<f64> = neg.iter().zip(pos).map(|(a, b)| a - b).collect();
        let norm = dense_dot(&v, &v).sqrt();
        if norm == 0.0 {
            return Err("the two class centroids coincide, so the slab has no direction");
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Ok(v)
    }

    /// The class labels, in label order.
    pub fn labels(&self) -> &[i32] {
        &self.labels
    }

    /// The mean of the class with label `label`, if that class exists.
    pub fn mean(&self, label: i32) -> Option<&[f64]> {
        self.labels.iter().position(|&l| l == label).map(|c| &self.means[c][..])
    }

    /// The position of class `label` in label order (the row of its centroid).
    pub(crate) fn index(&self, label: i32) -> Result<usize> {
        self.labels
            .iter()
            .position(|&l| l == label)
            .ok_or_else(|| Error::InvalidLabel {
                location: crate::error::Location::whole("scored data"),
                message: format!("label {label} is not a class of the data the defense was fitted on"),
            })
    }
}

/// ‖x_i − μ_{y_i}‖ for every row.
pub fn l2_scores(data: &Dataset, centroids: &Centroids) -> Result<Vec<f64>> {
    let classes: Vec<usize> = data
        .labels()
        .iter()
        .map(|&y| centroids.index(y))
        .collect::<Result<_>>()?;
    Ok((0..data.n())
        .into_par_iter()
        .map(|i| {
            let c = classes[i];
            data.row_sq_distance(i, &centroids.means[c], centroids.sq_norms[c])
                .sqrt()
        })
        .collect())
}

/// |v·x_i − v·μ_{y_i}| for every row, v the unit vector from the +1 to the −1 centroid. Without
/// such a v, the error names the slab as one of the `defenses`.
pub fn slab_scores(data: &Dataset, centroids: &Centroids) -> Result<Vec<f64>> {
    let v = centroids
        .slab_direction()
        .map_err(|reason| Error::option("defenses", "slab", reason))?;
    let offsets = [-1, 1].map(|y| dense_dot(&v, centroids.mean(y).expect("binary centroids")));
    Ok((0..data.n())
        .into_par_iter()
        .map(|i| (data.row_dot(i, &v) - offsets[usize::from(data.labels()[i] > 0)]).abs())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn scores_on_a_tiny_set() {
        // Class +1: (2, 0), (4, 0) → μ₊ = (3, 0); class −1: (0, 1), (0, 3) → μ₋ = (0, 2).
        let ds = Dataset::from_dense(&[2.0, 0.0, 4.0, 0.0, 0.0, 1.0, 0.0, 3.0], 2, vec![1, 1, -1, -1], "t").unwrap();
        let c = Centroids::fit(&ds).unwrap();
        assert_eq!(c.mean(1).unwrap(), &[3.0, 0.0]);
        let l2 = l2_scores(&ds, &c).unwrap();
        for s in l2 {
            assert_relative_eq!(s, 1.0, epsilon = 1e-12);
        }
        // v = (−3, 2)/√13; every point is ±1 along its class axis → |v·(x − μ)| = 3/√13 or 2/√13.
        let slab = slab_scores(&ds, &c).unwrap();
        let r = 13f64.sqrt();
        for (s, want) in slab.iter().zip([3.0 / r, 3.0 / r, 2.0 / r, 2.0 / r]) {
            assert_relative_eq!(*s, want, epsilon = 1e-12);
        }
    }

    #[test]
    fn a_slab_without_direction_names_the_option_that_asked_for_it() {
        // Both centroids at the origin: no slab direction.
        let ds = Dataset::from_dense(&[1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0], 2, vec![1, 1, -1, -1], "t").unwrap();
        let message = |e: Error| (e.code(), e.to_string());
        let defense = slab_scores(&ds, &Centroids::fit(&ds).unwrap()).unwrap_err();
        let reason = "the two class centroids coincide, so the slab has no direction";
        assert_eq!(
            message(defense),
            ("ERR_INVALID_OPTION", format!("option defenses = slab: {reason}"))
        );
        let set = crate::feasible::FeasibleSet::from_clean(&ds, &Default::default()).unwrap_err();
        assert_eq!(
            message(set),
            ("ERR_INVALID_OPTION", format!("option slab = true: {reason}"))
        );
    }
}
