//! Reading a data set from a file: format by option or by file name, gzip by magic bytes.

use std::io::Read;

use super::{Dataset, csv, npz, svmlight};
use crate::error::{Error, Result};

/// A file format the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// svmlight / libsvm text: `label idx:val ...`, 1-based indices (plain or gzip).
    Svmlight,
    /// Dense comma-separated values with one label column (plain or gzip).
    Csv,
    /// NumPy `.npz`: scipy-style CSR arrays or a dense matrix, with a label array.
    Npz,
}

impl Format {
    /// Parses a format name as given on the command line or in the API.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "svmlight" | "libsvm" | "svm" => Ok(Format::Svmlight),
            "csv" => Ok(Format::Csv),
            "npz" => Ok(Format::Npz),
            _ => Err(Error::option("format", name, "must be one of svmlight, csv, npz")),
        }
    }

    /// Guesses the format from a file name (`.svm`, `.svmlight`, `.libsvm`, `.txt`, `.csv`, `.npz`,
    /// each optionally followed by `.gz`).
    pub fn from_path(path: &str) -> Result<Self> {
        let name = path.strip_suffix(".gz").unwrap_or(path).to_ascii_lowercase();
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "svm" | "svmlight" | "libsvm" | "txt" => Ok(Format::Svmlight),
            "csv" => Ok(Format::Csv),
            "npz" => Ok(Format::Npz),
            _ => Err(Error::option(
                "format",
                "(from file name)",
                &format!("cannot tell the format of {path}: name it with the format option (svmlight, csv, npz)"),
            )),
        }
    }
}

/// Options of [`read_dataset`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The number of features. Svmlight: indices beyond it are an error; without it, d is the largest
    /// index seen. CSV and npz: must equal the number of columns when given.
    pub d: Option<usize>,
    /// The format; guessed from the file name when absent.
    pub format: Option<Format>,
    /// CSV: the label column, by 0-based position or by header name; the first column by default.
    pub label_column: Option<String>,
}

/// Reads a data set from `path`.
pub fn read_dataset(path: &str, options: &ReadOptions) -> Result<Dataset> {
    if options.d == Some(0) {
        return Err(Error::option("d", 0, "must be a positive number of features"));
    }
    let format = match options.format {
        Some(f) => f,
        None => Format::from_path(path)?,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    match format {
        Format::Npz => npz::parse(path, &bytes, options.d),
        Format::Svmlight => svmlight::parse(path, &gunzip_if_needed(path, bytes)?, options.d),
        Format::Csv => csv::parse(path, &gunzip_if_needed(path, bytes)?, options),
    }
}

/// Decompresses `bytes` if they start with the gzip magic number (multi-member streams included).
fn gunzip_if_needed(path: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 5);
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, &e))?;
    Ok(out)
}
