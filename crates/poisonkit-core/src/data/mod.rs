//! Labelled data sets: a CSR matrix (u32 column indices, f64 values) and one integer label per row.
//!
//! Labels are either binary, ±1, or class indices 0..k−1 (multi-class). Every constructor checks its
//! input (finite values, in-range sorted indices, consistent labels) and names the offending row.

mod csv;
mod npz;
mod read;
mod svmlight;
mod synthetic;

pub use read::{Format, ReadOptions, read_dataset};
pub use svmlight::write_svmlight;
pub use synthetic::{BagOfWordsOptions, BlobsOptions, make_bag_of_words, make_blobs};

use crate::error::{Error, Location, Result, check_len};

/// What the labels of a data set are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classes {
    /// Labels are −1 and +1 (either may be absent).
    Binary,
    /// Labels are class indices 0..k−1.
    Multiclass(usize),
}

/// The most features a data set may have: every model keeps dense vectors of d doubles (512 MiB
/// each at this bound), and the largest public LIBSVM sets (kdd2012, 54.7 million features) fit.
/// A larger d is almost always a stray index or a typo in `d`, which would otherwise end in an
/// allocation failure that kills the process.
pub const MAX_FEATURES: usize = 1 << 26;
/// The most classes (class indices 0..65535); a larger index is almost always a stray label.
pub const MAX_CLASSES: usize = 1 << 16;
/// The most weights (k × d) a multi-class model may have: 2 GiB of doubles.
pub const MAX_WEIGHTS: usize = 1 << 28;

/// Fails unless data with `d` features and labels of kind `classes` fit the bounds above.
fn check_size(d: usize, classes: Classes, what: &str) -> Result<()> {
    if d > MAX_FEATURES {
        return Err(Error::parse(
            Location::whole(what),
            format!("{d} features: at most {MAX_FEATURES} are supported (a model keeps d doubles)"),
        ));
    }
    if let Classes::Multiclass(k) = classes
        && k.saturating_mul(d) > MAX_WEIGHTS
    {
        return Err(Error::InvalidLabel {
            location: Location::whole(what),
            message: format!(
                "{k} classes × {d} features: a multi-class model of more than {MAX_WEIGHTS} weights is not supported"
            ),
        });
    }
    Ok(())
}

/// A labelled sparse data set in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
    labels: Vec<i32>,
    d: usize,
    classes: Classes,
}

/// Checks one label value read as a number: it must be an integer ≥ −1.
pub(crate) fn label_from_f64(value: f64, location: impl Fn() -> Location) -> Result<i32> {
    if !value.is_finite() {
        return Err(Error::NonFinite {
            location: location(),
            value: value.to_string(),
        });
    }
    if value.fract() != 0.0 || !(-1.0..=i32::MAX as f64).contains(&value) {
        return Err(Error::InvalidLabel {
            location: location(),
            message: format!("label {value} is neither ±1 nor a class index 0, 1, 2, ..."),
        });
    }
    Ok(value as i32)
}

/// Decides whether `labels` are binary (±1) or class indices, and rejects a mix of the two.
/// `locate(i)` names row i in error messages.
pub(crate) fn classify_labels(labels: &[i32], locate: impl Fn(usize) -> Location) -> Result<Classes> {
    let mut first_minus_one = None;
    let mut first_index_only = None; // first label that only makes sense as a class index (0 or ≥ 2)
    let mut max = -1;
    for (i, &y) in labels.iter().enumerate() {
        if y < -1 {
            return Err(Error::InvalidLabel {
                location: locate(i),
                message: format!("label {y} is neither ±1 nor a class index 0, 1, 2, ..."),
            });
        }
        if y >= MAX_CLASSES as i32 {
            return Err(Error::InvalidLabel {
                location: locate(i),
                message: format!("label {y}: class indices above {} are not supported", MAX_CLASSES - 1),
            });
        }
        if y == -1 && first_minus_one.is_none() {
            first_minus_one = Some(i);
        }
        if (y == 0 || y >= 2) && first_index_only.is_none() {
            first_index_only = Some(i);
        }
        max = max.max(y);
    }
    match (first_minus_one, first_index_only) {
        (Some(a), Some(b)) => Err(Error::InvalidLabel {
            location: locate(a.max(b)),
            message: format!(
                "label {} mixes binary labels (±1, first −1 at {}) with class indices (first {} at {})",
                labels[a.max(b)],
                locate(a),
                labels[b],
                locate(b)
            ),
        }),
        (_, Some(_)) => Ok(Classes::Multiclass(max as usize + 1)),
        _ => Ok(Classes::Binary),
    }
}

/// The kind of labels read for training data of kind `training` (test data, poison): that kind,
/// every label checked against it (so an all-1 test set for k-class training data is k-class data,
/// not binary); without training data, the kind the labels show ([`classify_labels`]).
pub(crate) fn classes_of(
    labels: &[i32],
    training: Option<Classes>,
    locate: impl Fn(usize) -> Location,
) -> Result<Classes> {
    match training {
        Some(classes) => check_training_classes(classes, labels, locate).map(|()| classes),
        None => classify_labels(labels, locate),
    }
}

/// Fails with `InvalidLabel` at the first of `labels` that is not of the training data's kind
/// `classes` (±1, or a class index below k); `locate(i)` names row i.
pub(crate) fn check_training_classes(
    classes: Classes,
    labels: &[i32],
    locate: impl Fn(usize) -> Location,
) -> Result<()> {
    let fits = |y: i32| match classes {
        Classes::Binary => y == 1 || y == -1,
        Classes::Multiclass(k) => usize::try_from(y).is_ok_and(|y| y < k),
    };
    let Some((i, y)) = labels.iter().enumerate().find(|(_, y)| !fits(**y)) else {
        return Ok(());
    };
    let kind = match classes {
        Classes::Binary => "±1".to_string(),
        Classes::Multiclass(k) => format!("0..{}", k - 1),
    };
    Err(Error::InvalidLabel {
        location: locate(i),
        message: format!("label {y} is not a class of the training data ({kind})"),
    })
}

impl Dataset {
    /// Builds a data set from CSR arrays, checking everything. `what` names the input in errors.
    /// Rows whose indices are not sorted are sorted; a repeated index in a row is an error.
    pub fn from_csr(
        indptr: Vec<usize>,
        mut indices: Vec<u32>,
        mut values: Vec<f64>,
        labels: Vec<i32>,
        d: usize,
        what: &str,
    ) -> Result<Self> {
        let n = labels.len();
        if indptr.len() != n + 1 {
            return Err(Error::DimMismatch {
                what: format!("{what}: indptr length (number of labels + 1)"),
                expected: n + 1,
                got: indptr.len(),
            });
        }
        if indptr[0] != 0 || indptr[n] != indices.len() || indices.len() != values.len() {
            return Err(Error::parse(
                Location::whole(what),
                format!(
                    "inconsistent CSR arrays: indptr runs {}..{}, {} indices, {} values",
                    indptr[0],
                    indptr[n],
                    indices.len(),
                    values.len()
                ),
            ));
        }
        // Non-decreasing from 0 to the number of values: every row's range then lies inside.
        if let Some(i) = (0..n).find(|&i| indptr[i] > indptr[i + 1]) {
            return Err(Error::parse(
                Location::row(what, i),
                format!("indptr decreases ({} then {})", indptr[i], indptr[i + 1]),
            ));
        }
        for i in 0..n {
            let (a, b) = (indptr[i], indptr[i + 1]);
            sort_row(&mut indices[a..b], &mut values[a..b]);
            for k in a..b {
                if indices[k] as usize >= d {
                    return Err(Error::FeatureIndex {
                        location: Location::row(what, i),
                        index: indices[k] as u64,
                        d,
                    });
                }
                if k > a && indices[k] == indices[k - 1] {
                    return Err(Error::parse(
                        Location::row(what, i),
                        format!("feature index {} appears twice", indices[k]),
                    ));
                }
                if !values[k].is_finite() {
                    return Err(Error::NonFinite {
                        location: Location::row(what, i),
                        value: values[k].to_string(),
                    });
                }
            }
        }
        let classes = classify_labels(&labels, |i| Location::row(what, i))?;
        Self::from_checked_parts(indptr, indices, values, labels, d, classes, what)
    }

    /// Builds a data set from a dense row-major `n × d` array (zeros are not stored).
    pub fn from_dense(x: &[f64], d: usize, labels: Vec<i32>, what: &str) -> Result<Self> {
        let n = labels.len();
        if x.len() != n * d {
            return Err(Error::DimMismatch {
                what: format!("{what}: dense values (n × d with n = {n}, d = {d})"),
                expected: n * d,
                got: x.len(),
            });
        }
        let mut indptr = Vec::with_capacity(n + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for row in x.chunks(d.max(1)).take(n) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Self::from_csr(indptr, indices, values, labels, d, what)
    }

    /// Assembles a data set from parts already checked by a reader, within the size bounds
    /// ([`MAX_FEATURES`], [`MAX_WEIGHTS`]); `what` names it in errors.
    pub(crate) fn from_checked_parts(
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f64>,
        labels: Vec<i32>,
        d: usize,
        classes: Classes,
        what: &str,
    ) -> Result<Self> {
        check_size(d, classes, what)?;
        Ok(Dataset {
            indptr,
            indices,
            values,
            labels,
            d,
            classes,
        })
    }

    /// Number of rows (points).
    pub fn n(&self) -> usize {
        self.labels.len()
    }
    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }
    /// Number of stored (non-zero) values.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }
    /// The labels, ±1 or 0..k−1.
    pub fn labels(&self) -> &[i32] {
        &self.labels
    }
    /// Whether the labels are ±1 or class indices.
    pub fn classes(&self) -> Classes {
        self.classes
    }
    /// The CSR row pointer (n + 1 entries).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    /// The CSR column indices (0-based, sorted within each row).
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }
    /// The CSR values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
    /// Row i as a dense vector of length d.
    pub fn dense_row(&self, i: usize) -> Vec<f64> {
        let mut x = vec![0.0; self.d];
        let (idx, val) = self.row(i);
        for (&j, &v) in idx.iter().zip(val) {
            x[j as usize] = v;
        }
        x
    }

    /// Row `i` as (column indices, values).
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The number of points of each class, in label order: (−1, +1) for binary data (both always
    /// listed), (0, 1, ..., k−1) for class indices.
    pub fn class_counts(&self) -> Vec<(i32, usize)> {
        // One pass: slot 0 holds −1, slot c + 1 holds label c (1 for binary data).
        let slots = match self.classes {
            Classes::Binary => 3,
            Classes::Multiclass(k) => k + 1,
        };
        let mut counts = vec![0; slots];
        for &y in &self.labels {
            counts[(y + 1) as usize] += 1;
        }
        let labels: Vec<i32> = match self.classes {
            Classes::Binary => vec![-1, 1],
            Classes::Multiclass(k) => (0..k as i32).collect(),
        };
        labels.into_iter().map(|c| (c, counts[(c + 1) as usize])).collect()
    }

    /// Fails with `InvalidLabel` unless the labels are ±1.
    pub fn require_binary(&self, what: &str) -> Result<()> {
        match self.classes {
            Classes::Binary => Ok(()),
            Classes::Multiclass(k) => Err(Error::InvalidLabel {
                location: Location::whole(what),
                message: format!("a binary model needs ±1 labels, got class indices 0..{}", k - 1),
            }),
        }
    }

    /// Fails with `EmptyClass` unless the data are binary with points of both classes.
    pub fn require_both_classes(&self, what: &str) -> Result<()> {
        self.require_binary(what)?;
        for (class, count) in self.class_counts() {
            if count == 0 {
                return Err(Error::EmptyClass {
                    what: what.to_string(),
                    class,
                });
            }
        }
        Ok(())
    }

    /// `other` (named `what`: test data, poison) must have this training data's d and its kind of
    /// labels: ±1, or class indices below its number of classes.
    pub fn check_compatible(&self, other: &Dataset, what: &str) -> Result<()> {
        check_len(
            format!("{what}: number of features (the training data's d)"),
            self.d(),
            other.d(),
        )?;
        check_training_classes(self.classes, other.labels(), |i| Location::row(what, i))
    }

    /// The rows `rows` (in that order, repeats allowed) as a new data set.
    pub fn slice(&self, rows: &[usize]) -> Result<Self> {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let (mut indices, mut values, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        indptr.push(0);
        for &i in rows {
            if i >= self.n() {
                return Err(Error::option(
                    "rows",
                    i,
                    &format!("row index must be below n = {}", self.n()),
                ));
            }
            let (idx, val) = self.row(i);
            indices.extend_from_slice(idx);
            values.extend_from_slice(val);
            labels.push(self.labels[i]);
            indptr.push(indices.len());
        }
        // A subset of the labels: the same kind (k classes even if the top one is left out).
        Self::from_checked_parts(indptr, indices, values, labels, self.d, self.classes, "slice")
    }

    /// The same points with other labels (one per point).
    pub fn with_labels(&self, labels: Vec<i32>) -> Result<Self> {
        check_len("labels: one per point", self.n(), labels.len())?;
        let classes = classify_labels(&labels, |i| Location::row("labels", i))?;
        Self::from_checked_parts(
            self.indptr.clone(),
            self.indices.clone(),
            self.values.clone(),
            labels,
            self.d,
            classes,
            "labels",
        )
    }

    /// This data set followed by `other` (same d; labels of the same kind).
    pub fn concat(&self, other: &Dataset) -> Result<Self> {
        check_len("concat: number of features of the second data set", self.d, other.d)?;
        let offset = self.nnz();
        let mut indptr = self.indptr.clone();
        indptr.extend(other.indptr[1..].iter().map(|&p| p + offset));
        let mut indices = self.indices.clone();
        indices.extend_from_slice(&other.indices);
        let mut values = self.values.clone();
        values.extend_from_slice(&other.values);
        let mut labels = self.labels.clone();
        labels.extend_from_slice(&other.labels);
        // Class indices if either part has them (an all-1 part is then of that kind), up to the
        // larger k; a −1 among them is an error (the mix error when the −1 is the binary part's).
        let locate = |i: usize| Location::row("concat", i);
        let classes = match (self.classes, other.classes) {
            (Classes::Binary, Classes::Binary) => Classes::Binary,
            (Classes::Multiclass(a), Classes::Multiclass(b)) => Classes::Multiclass(a.max(b)),
            (Classes::Multiclass(k), Classes::Binary) | (Classes::Binary, Classes::Multiclass(k)) => {
                classify_labels(&labels, locate)?;
                check_training_classes(Classes::Multiclass(k), &labels, locate)?;
                Classes::Multiclass(k)
            }
        };
        Self::from_checked_parts(indptr, indices, values, labels, self.d, classes, "concat")
    }

    /// The same data as labels of kind `classes` (test data or poison for training data of that
    /// kind): every label must be of it; `what` names the data in the error.
    pub fn with_classes(mut self, classes: Classes, what: &str) -> Result<Self> {
        check_training_classes(classes, &self.labels, |i| Location::row(what, i))?;
        self.classes = classes;
        Ok(self)
    }
}

/// Sorts one CSR row by column index, values alongside, if it is not sorted already.
fn sort_row(indices: &mut [u32], values: &mut [f64]) {
    if indices.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut pairs: Vec<(u32, f64)> = indices.iter().copied().zip(values.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    for (k, (j, v)) in pairs.into_iter().enumerate() {
        indices[k] = j;
        values[k] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::from_dense(&[1.0, 0.0, 0.0, 2.0, 3.0, 4.0], 2, vec![1, -1, 1], "tiny").unwrap()
    }

    #[test]
    fn dense_round_trip_and_counts() {
        let ds = tiny();
        assert_eq!((ds.n(), ds.d(), ds.nnz()), (3, 2, 4));
        assert_eq!(ds.row(1), (&[1u32][..], &[2.0][..]));
        assert_eq!(ds.class_counts(), vec![(-1, 1), (1, 2)]);
        assert_eq!(ds.classes(), Classes::Binary);
    }

    #[test]
    fn slice_and_concat() {
        let ds = tiny();
        let s = ds.slice(&[2, 0]).unwrap();
        assert_eq!(s.labels(), &[1, 1]);
        assert_eq!(s.row(0), (&[0u32, 1][..], &[3.0, 4.0][..]));
        let c = ds.concat(&s).unwrap();
        assert_eq!(c.n(), 5);
        assert_eq!(c.row(4), (&[0u32][..], &[1.0][..]));
        assert!(ds.slice(&[3]).is_err());
    }

    #[test]
    fn subsets_and_joins_keep_the_kind_of_class_indices() {
        let three = Dataset::from_dense(&[1.0, 2.0, 3.0], 1, vec![0, 1, 2], "three").unwrap();
        // Rows all of class 1 are still 3-class data, not binary.
        let ones = three.slice(&[1, 1]).unwrap();
        assert_eq!(ones.classes(), Classes::Multiclass(3));
        assert_eq!(ones.class_counts(), vec![(0, 0), (1, 2), (2, 0)]);
        // An all-1 part read by itself is binary; joined to class indices it takes their kind.
        let binary_ones = Dataset::from_dense(&[4.0], 1, vec![1], "one").unwrap();
        assert_eq!(binary_ones.classes(), Classes::Binary);
        assert_eq!(three.concat(&binary_ones).unwrap().classes(), Classes::Multiclass(3));
        assert_eq!(binary_ones.concat(&ones).unwrap().classes(), Classes::Multiclass(3));
        let minus = Dataset::from_dense(&[4.0], 1, vec![-1], "minus").unwrap();
        assert_eq!(
            ones.concat(&minus).unwrap_err().to_string(),
            "concat row 2: label -1 is not a class of the training data (0..2)"
        );
        assert_eq!(
            binary_ones
                .clone()
                .with_classes(Classes::Multiclass(3), "t")
                .unwrap()
                .classes(),
            Classes::Multiclass(3)
        );
        assert_eq!(
            minus.with_classes(Classes::Multiclass(3), "t").unwrap_err().code(),
            "ERR_LABEL"
        );
    }

    #[test]
    fn label_kinds() {
        assert_eq!(
            classify_labels(&[0, 2, 1], |i| Location::row("t", i)).unwrap(),
            Classes::Multiclass(3)
        );
        let err = classify_labels(&[1, -1, 0], |i| Location::row("t", i)).unwrap_err();
        assert_eq!(err.code(), "ERR_LABEL");
        assert_eq!(
            err.to_string(),
            "t row 2: label 0 mixes binary labels (±1, first −1 at t row 1) with class indices (first 0 at t row 2)"
        );
        assert_eq!(
            classify_labels(&[-2], |i| Location::row("t", i)).unwrap_err().code(),
            "ERR_LABEL"
        );
    }

    #[test]
    fn csr_checks() {
        let bad_index = Dataset::from_csr(vec![0, 1], vec![5], vec![1.0], vec![1], 3, "m");
        assert_eq!(bad_index.unwrap_err().code(), "ERR_FEATURE_INDEX");
        let nan = Dataset::from_csr(vec![0, 1], vec![0], vec![f64::NAN], vec![1], 3, "m");
        assert_eq!(nan.unwrap_err().code(), "ERR_NON_FINITE");
        let unsorted = Dataset::from_csr(vec![0, 2], vec![2, 0], vec![1.0, 2.0], vec![1], 3, "m").unwrap();
        assert_eq!(unsorted.row(0), (&[0u32, 2][..], &[2.0, 1.0][..]));
        let dup = Dataset::from_csr(vec![0, 2], vec![1, 1], vec![1.0, 2.0], vec![1], 3, "m");
        assert_eq!(dup.unwrap_err().code(), "ERR_PARSE");
        // A row range past the values, then a decrease: refused before any row is read.
        let past = Dataset::from_csr(vec![0, 2, 9, 6, 6], vec![0; 6], vec![1.0; 6], vec![1; 4], 3, "m");
        assert_eq!(past.unwrap_err().to_string(), "m row 2: indptr decreases (9 then 6)");
    }

    #[test]
    fn sizes_beyond_the_bounds_are_refused_not_allocated() {
        let wide = Dataset::from_csr(vec![0, 0], vec![], vec![], vec![1], MAX_FEATURES + 1, "m");
        assert_eq!(
            wide.unwrap_err().to_string(),
            format!(
                "m: {} features: at most {MAX_FEATURES} are supported (a model keeps d doubles)",
                MAX_FEATURES + 1
            )
        );
        let label = MAX_CLASSES as i32;
        let stray = Dataset::from_dense(&[1.0, 2.0], 1, vec![0, label], "m").unwrap_err();
        assert_eq!(
            stray.to_string(),
            "m row 1: label 65536: class indices above 65535 are not supported"
        );
        let many = Dataset::from_csr(vec![0, 0, 0], vec![], vec![], vec![0, 9999], MAX_FEATURES, "m");
        assert_eq!(many.unwrap_err().code(), "ERR_LABEL");
    }
}
