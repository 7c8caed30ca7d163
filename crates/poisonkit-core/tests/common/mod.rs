//! Shared helpers of the integration tests: where the real data sets are.

#![allow(dead_code, clippy::print_stderr)]

use std::path::PathBuf;

use poisonkit_core::data::{BagOfWordsOptions, Dataset, ReadOptions, make_bag_of_words, read_dataset};

/// `$POISONKIT_DATA` (relative paths are taken from the repository root), default `../shared/data`.
pub fn data_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var("POISONKIT_DATA") {
        Ok(p) if !p.is_empty() => root.join(p),
        _ => root.join("../shared/data"),
    }
}

/// Train and test split of a real data set with its declared d, or None (with a visible message)
/// when the data folder is absent.
pub fn load(name: &str, d: usize) -> Option<(Dataset, Dataset)> {
    let dir = data_dir();
    if !dir.is_dir() {
        eprintln!("SKIPPED: data folder {} not found (set POISONKIT_DATA)", dir.display());
        return None;
    }
    let options = ReadOptions {
        d: Some(d),
        ..Default::default()
    };
    let read = |split: &str| {
        let path = dir.join(format!("{name}.{split}.svm.gz"));
        read_dataset(path.to_str().unwrap(), &options, &|| false).unwrap()
    };
    Some((read("train"), read("test")))
}

/// A training and a test set of 300 documents each from one distribution.
pub fn words(seed: u64) -> (Dataset, Dataset) {
    let all = make_bag_of_words(&BagOfWordsOptions {
        n: 600,
        d: 30,
        doc_length: 20.0,
        signal: 0.3,
        seed,
        ..Default::default()
    })
    .unwrap();
    let rows: Vec<usize> = (0..600).collect();
    (all.slice(&rows[..300]).unwrap(), all.slice(&rows[300..]).unwrap())
}
