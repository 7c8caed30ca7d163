//! The k-NN defense (paper §2.2; digest §2.3): a point far from its nearest neighbours is an
//! outlier. The reference scores the **sum** of the Euclidean distances to the k = 5 nearest points
//! of the reference set, the point itself included when it belongs to that set (scikit-learn's
//! `NearestNeighbors` queried on its own training data); the paper's text says the distance to the
//! k-th neighbour, available as [`KnnRule::Kth`].
//!
//! Exact and parallel on sparse data: the reference set is transposed to CSC; for each query row the
//! dot products with every reference row are accumulated column by column (cost Σ_j nnz(col j) per
//! nonzero of the query), then d² = ‖q‖² + ‖r‖² − 2 q·r and the k smallest are kept. Query rows are
//! spread over threads in fixed blocks, so the result does not depend on scheduling.

use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result, check_len};
use crate::linalg::{Csc, sq_norm};

/// How the distances to the k nearest neighbours become a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnnRule {
    /// The sum of the k distances (the reference code).
    Sum,
    /// The distance to the k-th nearest neighbour (the paper's text).
    Kth,
}

/// The k-NN score of every row of `query` against the rows of `reference` (same d).
pub fn knn_scores(query: &Dataset, reference: &Dataset, k: usize, rule: KnnRule) -> Result<Vec<f64>> {
    check_len(
        "k-NN: number of features of the reference set",
        query.d(),
        reference.d(),
    )?;
    if k == 0 || k > reference.n() {
        return Err(Error::option(
            "knnK",
            k,
            &format!(
                "must lie in 1..={}: the k-NN defense's neighbours come from the {} points it is fitted on",
                reference.n(),
                reference.n()
            ),
        ));
    }
    let csc = Csc::from(reference);
    let ref_sq: Vec<f64> = (0..reference.n()).map(|r| sq_norm(reference.row(r).1)).collect();
    const BLOCK: usize = 64;
    let blocks: Vec<Vec<f64>> = (0..query.n().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut dots = vec![0.0; reference.n()];
            let mut nearest = Vec::with_capacity(k + 1);
            (b * BLOCK..((b + 1) * BLOCK).min(query.n()))
                .map(|i| {
                    dots.iter_mut().for_each(|v| *v = 0.0);
                    let (idx, val) = query.row(i);
                    for (&j, &v) in idx.iter().zip(val) {
                        let (rows, values) = csc.column(j as usize);
                        for (&r, &u) in rows.iter().zip(values) {
                            dots[r as usize] += v * u;
                        }
                    }
                    let q_sq = sq_norm(val);
                    // The k smallest squared distances, kept sorted ascending.
                    nearest.clear();
                    for (r, &dot) in dots.iter().enumerate() {
                        let d2 = (q_sq + ref_sq[r] - 2.0 * dot).max(0.0);
                        if nearest.len() < k || d2 < nearest[k - 1] {
                            let at = nearest.partition_point(|&x| x <= d2);
                            nearest.insert(at, d2);
                            nearest.truncate(k);
                        }
                    }
                    match rule {
                        KnnRule::Sum => nearest.iter().map(|d2| d2.sqrt()).sum(),
                        KnnRule::Kth => nearest[k - 1].sqrt(),
                    }
                })
                .collect()
        })
        .collect();
    Ok(blocks.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BlobsOptions, make_blobs};

    /// The same scores by brute force on dense rows.
    fn brute(query: &Dataset, reference: &Dataset, k: usize, rule: KnnRule) -> Vec<f64> {
        let dense = |ds: &Dataset, i: usize| ds.dense_row(i);
        (0..query.n())
            .map(|i| {
                let q = dense(query, i);
                let mut d: Vec<f64> = (0..reference.n())
                    .map(|r| {
                        dense(reference, r)
                            .iter()
                            .zip(&q)
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .collect();
                d.sort_by(f64::total_cmp);
                match rule {
                    KnnRule::Sum => d[..k].iter().sum(),
                    KnnRule::Kth => d[k - 1],
                }
            })
            .collect()
    }

    #[test]
    fn matches_brute_force() {
        let a = make_blobs(&BlobsOptions {
            n: 150,
            d: 6,
            seed: 1,
            ..Default::default()
        })
        .unwrap();
        let b = make_blobs(&BlobsOptions {
            n: 90,
            d: 6,
            seed: 2,
            ..Default::default()
        })
        .unwrap();
        for rule in [KnnRule::Sum, KnnRule::Kth] {
            for (q, r) in [(&a, &a), (&b, &a)] {
                let fast = knn_scores(q, r, 5, rule).unwrap();
                for (x, y) in fast.iter().zip(brute(q, r, 5, rule)) {
                    assert!((x - y).abs() < 1e-9 * (1.0 + y), "{x} vs {y}");
                }
            }
        }
        // Fitted on itself, every point is its own nearest neighbour at distance 0.
        assert_eq!(knn_scores(&a, &a, 1, KnnRule::Kth).unwrap(), vec![0.0; a.n()]);
        assert_eq!(
            knn_scores(&a, &a, 0, KnnRule::Sum).unwrap_err().code(),
            "ERR_INVALID_OPTION"
        );
        let few = a.slice(&[0, 1, 2]).unwrap();
        let err = knn_scores(&few, &few, 5, KnnRule::Sum).unwrap_err().to_string();
        assert!(err.contains("option knnK = 5: must lie in 1..=3"), "{err}");
    }
}
