//! `Dataset`: a Rust-owned data set handle, its readers, writer and synthetic generators.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::data::{self, Classes, Format, ReadOptions};

use crate::guard::{Cancel, count, count_or, guard, js_error};

/// A labelled sparse data set held in native memory.
#[napi]
pub struct Dataset {
    pub(crate) inner: Arc<data::Dataset>,
}

impl Dataset {
    pub(crate) fn wrap(inner: data::Dataset) -> Self {
        Dataset { inner: Arc::new(inner) }
    }
}

#[napi(object)]
pub struct ClassCount {
    pub label: i32,
    pub count: u32,
}

#[napi(object)]
pub struct CsrArrays {
    pub indptr: Float64Array,
    pub indices: Uint32Array,
    pub values: Float64Array,
    pub labels: Int32Array,
    pub n: u32,
    pub d: u32,
}

#[napi]
impl Dataset {
    #[napi(getter)]
    pub fn n(&self) -> u32 {
        self.inner.n() as u32
    }
    #[napi(getter)]
    pub fn d(&self) -> u32 {
        self.inner.d() as u32
    }
    #[napi(getter)]
    pub fn nnz(&self) -> f64 {
        self.inner.nnz() as f64
    }
    #[napi(getter)]
    pub fn labels(&self) -> Int32Array {
        Int32Array::new(self.inner.labels().to_vec())
    }
    /// 0 for ±1 labels, k for class indices 0..k−1.
    #[napi(getter)]
    pub fn num_classes(&self) -> u32 {
        match self.inner.classes() {
            Classes::Binary => 0,
            Classes::Multiclass(k) => k as u32,
        }
    }
    #[napi(getter)]
    pub fn class_counts(&self) -> Vec<ClassCount> {
        self.inner
            .class_counts()
            .into_iter()
            .map(|(label, count)| ClassCount {
                label,
                count: count as u32,
            })
            .collect()
    }

    #[napi]
    pub fn slice(&self, rows: Float64Array) -> Result<Dataset> {
        let rows = rows.iter().map(|&r| count("rows", r)).collect::<Result<Vec<usize>>>()?;
        guard(|| self.inner.slice(&rows)).map(Dataset::wrap)
    }

    #[napi]
    pub fn concat(&self, other: &Dataset) -> Result<Dataset> {
        guard(|| self.inner.concat(&other.inner)).map(Dataset::wrap)
    }

    #[napi]
    pub fn to_csr(&self) -> CsrArrays {
        let ds = &self.inner;
        CsrArrays {
            indptr: Float64Array::new(ds.indptr().iter().map(|&p| p as f64).collect()),
            indices: Uint32Array::new(ds.indices().to_vec()),
            values: Float64Array::new(ds.values().to_vec()),
            labels: Int32Array::new(ds.labels().to_vec()),
            n: ds.n() as u32,
            d: ds.d() as u32,
        }
    }

    #[napi(factory)]
    pub fn from_csr(
        indptr: Float64Array,
        indices: Uint32Array,
        values: Float64Array,
        labels: Int32Array,
        d: f64,
    ) -> Result<Dataset> {
        let d = count("d", d)?;
        let indptr = indptr
            .iter()
            .map(|&p| count("indptr", p))
            .collect::<Result<Vec<usize>>>()?;
        let (indices, values, labels) = (indices.to_vec(), values.to_vec(), labels.to_vec());
        guard(|| data::Dataset::from_csr(indptr, indices, values, labels, d, "fromCsr")).map(Dataset::wrap)
    }

    #[napi(factory)]
    pub fn from_dense(values: Float64Array, d: f64, labels: Int32Array) -> Result<Dataset> {
        let d = count("d", d)?;
        guard(|| data::Dataset::from_dense(&values, d, labels.to_vec(), "fromDense")).map(Dataset::wrap)
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn write_svmlight(&self, path: String) -> AsyncTask<WriteTask> {
        AsyncTask::new(WriteTask {
            data: self.inner.clone(),
            path,
        })
    }
}

pub struct WriteTask {
    data: Arc<data::Dataset>,
    path: String,
}

#[napi]
impl Task for WriteTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| data::write_svmlight(&self.data, &self.path))
    }

    fn resolve(&mut self, _env: Env, _output: Self::Output) -> Result<Self::JsValue> {
        Ok(())
    }
}

#[napi(object)]
#[derive(Default)]
pub struct LoadOptions {
    pub d: Option<f64>,
    pub format: Option<String>,
    pub label_column: Option<String>,
    /// The training data's `numClasses` (0: ±1 labels, k: class indices 0..k−1).
    pub training_classes: Option<f64>,
}

pub struct LoadTask {
    path: String,
    options: ReadOptions,
    cancel: Cancel,
}

#[napi]
impl Task for LoadTask {
    type Output = data::Dataset;
    type JsValue = Dataset;

    fn compute(&mut self) -> Result<Self::Output> {
        let cancel = self.cancel.clone();
        guard(|| data::read_dataset(&self.path, &self.options, &move || cancel.is_set()))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(Dataset::wrap(output))
    }
}

#[napi(ts_return_type = "Promise<Dataset>")]
pub fn load_dataset(
    path: String,
    options: Option<LoadOptions>,
    signal: Option<AbortSignal>,
) -> Result<AsyncTask<LoadTask>> {
    let o = options.unwrap_or_default();
    let d = o.d.map(|d| count("d", d)).transpose()?;
    let format = match o.format {
        Some(f) => Some(guard(|| Format::parse(&f))?),
        None => None,
    };
    let cancel = Cancel::from_signal(signal.as_ref());
    let task = LoadTask {
        path,
        options: ReadOptions {
            d,
            format,
            label_column: o.label_column,
            training_classes: match o.training_classes.map(|k| count("trainingClasses", k)).transpose()? {
                None => None,
                Some(0) => Some(Classes::Binary),
                Some(k) => Some(Classes::Multiclass(k)),
            },
        },
        cancel,
    };
    Ok(AsyncTask::with_optional_signal(task, signal))
}

#[napi(object)]
#[derive(Default)]
pub struct BlobsOptions {
    pub n: Option<f64>,
    pub d: Option<f64>,
    pub classes: Option<f64>,
    pub separation: Option<f64>,
    pub std: Option<f64>,
    pub seed: Option<f64>,
}

#[napi]
pub fn make_blobs(options: Option<BlobsOptions>) -> Result<Dataset> {
    let def = data::BlobsOptions::default();
    let o = options.unwrap_or_default();
    let opts = data::BlobsOptions {
        n: count_or("n", o.n, def.n)?,
        d: count_or("d", o.d, def.d)?,
        classes: count_or("classes", o.classes, def.classes)?,
        separation: o.separation.unwrap_or(def.separation),
        std: o.std.unwrap_or(def.std),
        seed: count_or("seed", o.seed, 0)? as u64,
    };
    guard(|| data::make_blobs(&opts)).map(Dataset::wrap)
}

#[napi(object)]
#[derive(Default)]
pub struct BagOfWordsOptions {
    pub n: Option<f64>,
    pub d: Option<f64>,
    pub doc_length: Option<f64>,
    pub positive_fraction: Option<f64>,
    pub signal: Option<f64>,
    pub seed: Option<f64>,
}

#[napi]
pub fn make_bag_of_words(options: Option<BagOfWordsOptions>) -> Result<Dataset> {
    let def = data::BagOfWordsOptions::default();
    let o = options.unwrap_or_default();
    let opts = data::BagOfWordsOptions {
        n: count_or("n", o.n, def.n)?,
        d: count_or("d", o.d, def.d)?,
        doc_length: o.doc_length.unwrap_or(def.doc_length),
        positive_fraction: o.positive_fraction.unwrap_or(def.positive_fraction),
        signal: o.signal.unwrap_or(def.signal),
        seed: count_or("seed", o.seed, 0)? as u64,
    };
    guard(|| data::make_bag_of_words(&opts)).map(Dataset::wrap)
}

/// Checks that a JS-side dimension matches (used by the model functions).
pub(crate) fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(js_error(
            "ERR_DIM_MISMATCH",
            format!("{what}: expected {expected}, got {got}"),
        ))
    }
}
