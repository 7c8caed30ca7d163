//! Reading a data set from a file: format by option or by file name, gzip by magic bytes.

use std::io::Read;

use super::{Classes, Dataset, MAX_FEATURES, csv, npz, svmlight};
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
    /// The training data's kind of labels, when reading test or poison data for it: a label of
    /// another kind (not ±1, or not a class index below k) is an error at its line.
    pub training_classes: Option<Classes>,
}

/// Reads a data set from `path`; `should_stop` is polled while it decompresses and every
/// [`POLL_LINES`] lines of text.
pub fn read_dataset(path: &str, options: &ReadOptions, should_stop: &dyn Fn() -> bool) -> Result<Dataset> {
    if let Some(d) = options.d
        && !(1..=MAX_FEATURES).contains(&d)
    {
        return Err(Error::option(
            "d",
            d,
            &format!("must be a number of features from 1 to {MAX_FEATURES}"),
        ));
    }
    let format = match options.format {
        Some(f) => f,
        None => Format::from_path(path)?,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    match format {
        Format::Npz => npz::parse(path, &bytes, options),
        Format::Svmlight => svmlight::parse(path, &gunzip_if_needed(path, bytes, should_stop)?, options, should_stop),
        Format::Csv => csv::parse(path, &gunzip_if_needed(path, bytes, should_stop)?, options, should_stop),
    }
}

/// Lines of text parsed between two polls of `should_stop`.
pub const POLL_LINES: usize = 1 << 16;

/// Decompressed bytes between two polls of `should_stop`.
const POLL_BYTES: u64 = 1 << 24;

/// Decompresses `bytes` if they start with the gzip magic number (multi-member streams included).
fn gunzip_if_needed(path: &str, bytes: Vec<u8>, should_stop: &dyn Fn() -> bool) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 5);
    let mut decoder = flate2::read::MultiGzDecoder::new(&bytes[..]);
    loop {
        if should_stop() {
            return Err(Error::Aborted);
        }
        let read = (&mut decoder)
            .take(POLL_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(path, &e))?;
        if read == 0 {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::Write;

    use super::*;

    /// A file of `lines` svmlight lines, plain or gzip'd, in the temp folder.
    fn svmlight_file(name: &str, lines: usize, gzip: bool) -> String {
        let text: String = (0..lines)
            .map(|i| format!("{} 1:{} 3:1\n", 1 - 2 * (i % 2) as i32, i % 7))
            .collect();
        let path = std::env::temp_dir().join(format!("poisonkit-read-{}-{name}", std::process::id()));
        let bytes = if gzip {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).unwrap();
            encoder.finish().unwrap()
        } else {
            text.into_bytes()
        };
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    }

    #[test]
    fn a_read_stops_when_asked_and_polls_as_it_goes() {
        let lines = 3 * POLL_LINES + 5;
        for (name, gzip) in [("stop.svm", false), ("stop.svm.gz", true)] {
            let path = svmlight_file(name, lines, gzip);
            let options = ReadOptions::default();
            assert_eq!(read_dataset(&path, &options, &|| false).unwrap().n(), lines);
            // Stopped at once, and stopped after a few polls: the parser polls every POLL_LINES lines.
            let err = read_dataset(&path, &options, &|| true).unwrap_err();
            assert_eq!(err.code(), "ERR_ABORTED", "{name}: {err}");
            let polls = Cell::new(0);
            let later = || {
                polls.set(polls.get() + 1);
                polls.get() > 3
            };
            assert_eq!(read_dataset(&path, &options, &later).unwrap_err().code(), "ERR_ABORTED");
            std::fs::remove_file(&path).unwrap();
        }
    }
}
