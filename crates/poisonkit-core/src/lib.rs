//! poisonkit-core: data-poisoning attacks and data-sanitization defenses on linear classifiers,
//! after Koh, Steinhardt & Liang, *Stronger Data Poisoning Attacks Break Data Sanitization
//! Defenses* (2018). Pure Rust; the Node binding lives in `poisonkit-node`.
//!
//! - [`data`]: labelled sparse data sets, readers (svmlight, CSV, npz), writer, synthetic data;
//! - [`model`]: the defender, L2-regularized linear SVM and logistic regression.

pub mod attack;
pub mod data;
pub mod defense;
pub mod error;
pub mod feasible;
pub mod linalg;
pub mod model;
pub mod rng;

pub use error::{Error, Result};
