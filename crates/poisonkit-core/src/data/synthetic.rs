//! Seeded synthetic data sets for demos and tests: Gaussian blobs (dense real features) and a
//! bag-of-words model (sparse integer counts, like Enron and IMDB).

use rand::RngExt;
use rand_distr::{Distribution, Normal, Poisson, StandardNormal};

use super::{Classes, Dataset};
use crate::error::{Error, Result};
use crate::rng::seeded;

/// Options of [`make_blobs`].
#[derive(Debug, Clone)]
pub struct BlobsOptions {
    /// Number of points; defaults to `1000`.
    pub n: usize,
    /// Number of features; defaults to `20`.
    pub d: usize,
    /// Number of classes: 2 gives labels ±1, more gives 0..k−1; defaults to `2`.
    pub classes: usize,
    /// Distance between any class mean and the origin, times 2 (so two classes are this far apart);
    /// defaults to `3.0`.
    pub separation: f64,
    /// Standard deviation of every feature around its class mean; defaults to `1.0`.
    pub std: f64,
    /// Seed; defaults to `0`.
    pub seed: u64,
}

impl Default for BlobsOptions {
    fn default() -> Self {
        BlobsOptions {
            n: 1000,
            d: 20,
            classes: 2,
            separation: 3.0,
            std: 1.0,
            seed: 0,
        }
    }
}

/// Gaussian blobs: class c has mean m_c (random direction, norm separation/2; for two classes
/// m_{−1} = −m_{+1}) and covariance std²·I. Points cycle through the classes in order.
pub fn make_blobs(o: &BlobsOptions) -> Result<Dataset> {
    positive("n", o.n as f64)?;
    positive("d", o.d as f64)?;
    if o.classes < 2 {
        return Err(Error::option("classes", o.classes, "must be at least 2"));
    }
    positive("separation", o.separation)?;
    positive("std", o.std)?;
    let mut rng = seeded(o.seed);
    let direction = |rng: &mut crate::rng::Rng| {
        let v: Vec<f64> = (0..o.d).map(|_| StandardNormal.sample(rng)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        v.into_iter()
            .map(|x| x * o.separation / 2.0 / norm)
            .collect::<Vec<f64>>()
    };
    let means: Vec<Vec<f64>> = if o.classes == 2 {
        let m = direction(&mut rng);
        vec![m.iter().map(|x| -x).collect(), m]
    } else {
        (0..o.classes).map(|_| direction(&mut rng)).collect()
    };
    let noise = Normal::new(0.0, o.std).map_err(|e| Error::option("std", o.std, &e.to_string()))?;
    let mut x = Vec::with_capacity(o.n * o.d);
    let mut labels = Vec::with_capacity(o.n);
    for i in 0..o.n {
        let c = i % o.classes;
        x.extend(means[c].iter().map(|m| m + noise.sample(&mut rng)));
        labels.push(if o.classes == 2 { 2 * c as i32 - 1 } else { c as i32 });
    }
    Dataset::from_dense(&x, o.d, labels, "blobs")
}

/// Options of [`make_bag_of_words`].
#[derive(Debug, Clone)]
pub struct BagOfWordsOptions {
    /// Number of documents; defaults to `2000`.
    pub n: usize,
    /// Vocabulary size; defaults to `1000`.
    pub d: usize,
    /// Mean document length (Poisson); defaults to `60.0`.
    pub doc_length: f64,
    /// Fraction of documents labelled +1; defaults to `0.3` (Enron has 29% spam).
    pub positive_fraction: f64,
    /// How strongly word frequencies differ between the classes (log-scale spread of the
    /// per-word tilt); defaults to `0.5`.
    pub signal: f64,
    /// Seed; defaults to `0`.
    pub seed: u64,
}

impl Default for BagOfWordsOptions {
    fn default() -> Self {
        BagOfWordsOptions {
            n: 2000,
            d: 1000,
            doc_length: 60.0,
            positive_fraction: 0.3,
            signal: 0.5,
            seed: 0,
        }
    }
}

/// Bag of words: word j has a Zipf base frequency 1/(j+1), tilted by exp(±signal·z_j) (z_j standard
/// normal) towards class ±1; a document draws a Poisson(doc_length) length (at least 1) and then
/// its words independently from its class's distribution. Features are integer counts.
pub fn make_bag_of_words(o: &BagOfWordsOptions) -> Result<Dataset> {
    positive("n", o.n as f64)?;
    positive("d", o.d as f64)?;
    positive("docLength", o.doc_length)?;
    if !(o.positive_fraction > 0.0 && o.positive_fraction < 1.0) {
        return Err(Error::option(
            "positiveFraction",
            o.positive_fraction,
            "must lie in (0, 1)",
        ));
    }
    if !(o.signal >= 0.0 && o.signal.is_finite()) {
        return Err(Error::option("signal", o.signal, "must be a finite number ≥ 0"));
    }
    let mut rng = seeded(o.seed);
    let tilt: Vec<f64> = (0..o.d)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            o.signal * z
        })
        .collect();
    // Cumulative word distributions of class −1 (index 0) and +1 (index 1).
    let cumulative = |sign: f64| {
        let mut acc = 0.0;
        let mut c: Vec<f64> = (0..o.d)
            .map(|j| {
                acc += (sign * tilt[j]).exp() / (j as f64 + 1.0);
                acc
            })
            .collect();
        c.iter_mut().for_each(|v| *v /= acc);
        c
    };
    let dists = [cumulative(-1.0), cumulative(1.0)];
    let length = Poisson::new(o.doc_length).map_err(|e| Error::option("docLength", o.doc_length, &e.to_string()))?;

    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut words = Vec::new();
    for _ in 0..o.n {
        let positive = rng.random::<f64>() < o.positive_fraction;
        let dist = &dists[positive as usize];
        let len = (length.sample(&mut rng) as usize).max(1);
        words.clear();
        words.extend((0..len).map(|_| {
            let u: f64 = rng.random();
            dist.partition_point(|&c| c < u).min(o.d - 1) as u32
        }));
        words.sort_unstable();
        for chunk in words.chunk_by(|a, b| a == b) {
            indices.push(chunk[0]);
            values.push(chunk.len() as f64);
        }
        indptr.push(indices.len());
        labels.push(if positive { 1 } else { -1 });
    }
    Dataset::from_checked_parts(indptr, indices, values, labels, o.d, Classes::Binary, "bag of words")
}

fn positive(name: &str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::option(name, v, "must be a positive number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_shaped() {
        let a = make_bag_of_words(&BagOfWordsOptions::default()).unwrap();
        assert_eq!(a, make_bag_of_words(&BagOfWordsOptions::default()).unwrap());
        assert_ne!(
            a,
            make_bag_of_words(&BagOfWordsOptions {
                seed: 1,
                ..Default::default()
            })
            .unwrap()
        );
        assert!(a.values().iter().all(|v| v.fract() == 0.0 && *v >= 1.0));
        let pos = a.labels().iter().filter(|&&y| y == 1).count() as f64 / a.n() as f64;
        assert!((pos - 0.3).abs() < 0.05, "positive fraction {pos}");
        // Mean document length is Poisson(60).
        let mean_len = a.values().iter().sum::<f64>() / a.n() as f64;
        assert!((mean_len - 60.0).abs() < 1.0, "mean length {mean_len}");

        let b = make_blobs(&BlobsOptions {
            classes: 3,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(b.classes(), Classes::Multiclass(3));
        assert_eq!(b.class_counts(), vec![(0, 334), (1, 333), (2, 333)]);
    }

    #[test]
    fn rejects_bad_options() {
        let err = make_blobs(&BlobsOptions {
            std: -1.0,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_OPTION");
        assert!(err.to_string().contains("std"));
        assert!(
            make_bag_of_words(&BagOfWordsOptions {
                positive_fraction: 1.0,
                ..Default::default()
            })
            .is_err()
        );
    }
}
