//! NumPy `.npz` archives in one of two layouts:
//! - scipy-style CSR: arrays `data`, `indices`, `indptr`, `shape` (as `scipy.sparse.save_npz` writes,
//!   `format` = `csr`), plus a label array;
//! - dense: a 2-D array `X` (or `x`), plus a label array.
//!
//! The label array is the first of `y`, `Y`, `labels` present. Numbers of any integer, float or bool
//! dtype are read.

use std::io::{Cursor, Read};

use npyz::{NpyFile, TypeChar};

use super::{Dataset, ReadOptions, classes_of};
use crate::error::{Error, Location, Result};

pub(super) fn parse(path: &str, bytes: &[u8], options: &ReadOptions) -> Result<Dataset> {
    let d = options.d;
    let mut archive = Archive::open(path, bytes)?;
    let labels_name = ["y", "Y", "labels"]
        .into_iter()
        .find(|n| archive.has(n))
        .ok_or_else(|| archive.layout_error("no label array (expected one named y, Y or labels)"))?;
    let labels_f = archive.numbers(labels_name)?.1;
    let labels = labels_f
        .iter()
        .enumerate()
        .map(|(i, &v)| super::label_from_f64(v, || Location::row(&format!("{path}: {labels_name}"), i)))
        .collect::<Result<Vec<i32>>>()?;
    let classes = classes_of(&labels, options.training_classes, |i| {
        Location::row(&format!("{path}: {labels_name}"), i)
    })?;
    let what = path.to_string();

    let (dataset, cols) = if archive.has("indptr") {
        if archive.has("format") {
            let format = archive.string("format")?;
            if format != "csr" {
                return Err(archive.layout_error(&format!("sparse format {format:?}: only csr is supported")));
            }
        }
        let shape = to_usize(path, "shape", &archive.numbers("shape")?.1)?;
        if shape.len() != 2 {
            return Err(archive.layout_error("shape must have two entries"));
        }
        let (rows, cols) = (shape[0], shape[1]);
        let indptr = to_usize(path, "indptr", &archive.numbers("indptr")?.1)?;
        let indices = to_usize(path, "indices", &archive.numbers("indices")?.1)?;
        let indices = indices.into_iter().map(|j| j.min(u32::MAX as usize) as u32).collect();
        let values = archive.numbers("data")?.1;
        check_rows(path, rows, labels.len())?;
        (
            Dataset::from_csr(indptr, indices, values, labels, d.unwrap_or(cols), &what)?,
            cols,
        )
    } else {
        let name = ["X", "x"].into_iter().find(|n| archive.has(n)).ok_or_else(|| {
            archive.layout_error("no matrix (expected CSR arrays data/indices/indptr/shape or a dense X)")
        })?;
        let (shape, values) = archive.numbers(name)?;
        if shape.len() != 2 {
            return Err(archive.layout_error(&format!("{name} must be 2-D, has shape {shape:?}")));
        }
        let (rows, cols) = (shape[0] as usize, shape[1] as usize);
        check_rows(path, rows, labels.len())?;
        (Dataset::from_dense(&values, cols, labels, &what)?, cols)
    };
    if let Some(d) = d
        && d < cols
    {
        return Err(Error::DimMismatch {
            what: format!("{path}: number of columns (option d)"),
            expected: d,
            got: cols,
        });
    }
    // Its labels were checked above: training data's kind, or their own.
    dataset.with_classes(classes, &what)
}

fn check_rows(path: &str, rows: usize, labels: usize) -> Result<()> {
    if rows != labels {
        return Err(Error::DimMismatch {
            what: format!("{path}: number of labels (rows of the matrix)"),
            expected: rows,
            got: labels,
        });
    }
    Ok(())
}

fn to_usize(path: &str, name: &str, values: &[f64]) -> Result<Vec<usize>> {
    values
        .iter()
        .map(|&v| {
            if v >= 0.0 && v.fract() == 0.0 {
                Ok(v as usize)
            } else {
                Err(Error::parse(
                    Location::whole(&format!("{path}: {name}")),
                    format!("{v} is not a non-negative integer"),
                ))
            }
        })
        .collect()
}

/// A zip archive of `.npy` members.
struct Archive<'a> {
    path: String,
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
}

impl<'a> Archive<'a> {
    fn open(path: &str, bytes: &'a [u8]) -> Result<Self> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| Error::parse(Location::whole(path), format!("not an npz (zip) archive: {e}")))?;
        Ok(Archive {
            path: path.to_string(),
            zip,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(&format!("{name}.npy")).is_some()
    }

    fn layout_error(&self, message: &str) -> Error {
        Error::parse(Location::whole(&self.path), message.to_string())
    }

    fn member_error(&self, name: &str, message: impl std::fmt::Display) -> Error {
        Error::parse(Location::whole(&format!("{}: {name}", self.path)), message.to_string())
    }

    fn npy(&mut self, name: &str) -> Result<NpyFile<Cursor<Vec<u8>>>> {
        let mut raw = Vec::new();
        let read = match self.zip.by_name(&format!("{name}.npy")) {
            Ok(mut member) => member.read_to_end(&mut raw).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        read.map_err(|e| self.member_error(name, e))?;
        NpyFile::new(Cursor::new(raw)).map_err(|e| self.member_error(name, e))
    }

    /// The member `name` as a shape and its values (C order) converted to f64.
    fn numbers(&mut self, name: &str) -> Result<(Vec<u64>, Vec<f64>)> {
        let npy = self.npy(name)?;
        let shape = npy.shape().to_vec();
        if npy.order() == npyz::Order::Fortran && shape.len() > 1 {
            return Err(self.member_error(name, "Fortran-ordered arrays are not supported; save it C-ordered"));
        }
        let npyz::DType::Plain(ts) = npy.dtype() else {
            return Err(self.member_error(name, "structured arrays are not supported"));
        };
        let err = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => self.member_error(
                name,
                format!("fewer values than its shape {shape:?} needs (a truncated or mislabelled array)"),
            ),
            _ => self.member_error(name, e),
        };
        let values: Vec<f64> = match (ts.type_char(), ts.size_field()) {
            (TypeChar::Float, 8) => npy.into_vec::<f64>().map_err(err)?,
            (TypeChar::Float, 4) => widen(npy.into_vec::<f32>(), err)?,
            (TypeChar::Int, 8) => npy
                .into_vec::<i64>()
                .map_err(err)?
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            (TypeChar::Int, 4) => widen(npy.into_vec::<i32>(), err)?,
            (TypeChar::Int, 2) => widen(npy.into_vec::<i16>(), err)?,
            (TypeChar::Int, 1) => widen(npy.into_vec::<i8>(), err)?,
            (TypeChar::Uint, 8) => npy
                .into_vec::<u64>()
                .map_err(err)?
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            (TypeChar::Uint, 4) => widen(npy.into_vec::<u32>(), err)?,
            (TypeChar::Uint, 2) => widen(npy.into_vec::<u16>(), err)?,
            (TypeChar::Uint, 1) => widen(npy.into_vec::<u8>(), err)?,
            (TypeChar::Bool, 1) => npy
                .into_vec::<bool>()
                .map_err(err)?
                .into_iter()
                .map(f64::from)
                .collect(),
            _ => return Err(self.member_error(name, format!("dtype {ts} is not a number type"))),
        };
        Ok((shape, values))
    }

    /// The member `name` as a string scalar (e.g. scipy's `format`).
    fn string(&mut self, name: &str) -> Result<String> {
        let npy = self.npy(name)?;
        let v = npy.into_vec::<String>().map_err(|e| self.member_error(name, e))?;
        Ok(v.into_iter().next().unwrap_or_default())
    }
}

fn widen<T: Into<f64>>(values: std::io::Result<Vec<T>>, err: impl Fn(std::io::Error) -> Error) -> Result<Vec<f64>> {
    Ok(values.map_err(err)?.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal `.npy` (format 1.0) member for tests.
    fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let shape = match shape {
            [] => "()".to_string(),
            [n] => format!("({n},)"),
            s => format!("({})", s.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")),
        };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in members {
            zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn le<T: Copy, const N: usize>(values: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&v| f(v)).collect()
    }

    #[test]
    fn reads_scipy_csr_with_labels() {
        let bytes = npz(&[
            ("data", npy("<f4", &[3], &le(&[1.0f32, 2.0, 3.0], f32::to_le_bytes))),
            ("indices", npy("<i4", &[3], &le(&[0i32, 2, 1], i32::to_le_bytes))),
            ("indptr", npy("<i4", &[3], &le(&[0i32, 2, 3], i32::to_le_bytes))),
            ("shape", npy("<i8", &[2], &le(&[2i64, 3], i64::to_le_bytes))),
            (
                "format",
                npy("<U3", &[], &le(&['c' as u32, 's' as u32, 'r' as u32], u32::to_le_bytes)),
            ),
            ("y", npy("<i8", &[2], &le(&[1i64, -1], i64::to_le_bytes))),
        ]);
        let ds = parse("t.npz", &bytes, &Default::default()).unwrap();
        assert_eq!((ds.n(), ds.d(), ds.nnz()), (2, 3, 3));
        assert_eq!(ds.row(1), (&[1u32][..], &[3.0][..]));
        assert_eq!(ds.labels(), &[1, -1]);
    }

    #[test]
    fn reads_dense_and_reports_missing_labels() {
        let x = npy("<f8", &[2, 2], &le(&[0.0f64, 1.5, 2.0, 0.0], f64::to_le_bytes));
        let y = npy("<f8", &[2], &le(&[0.0f64, 1.0], f64::to_le_bytes));
        let ds = parse("t.npz", &npz(&[("X", x.clone()), ("labels", y)]), &Default::default()).unwrap();
        assert_eq!(ds.labels(), &[0, 1]);
        assert_eq!(ds.row(0), (&[1u32][..], &[1.5][..]));
        let err = parse("t.npz", &npz(&[("X", x)]), &Default::default()).unwrap_err();
        assert_eq!(err.code(), "ERR_PARSE");
        assert!(err.to_string().contains("no label array"), "{err}");
        assert_eq!(
            parse("t.npz", b"not a zip", &Default::default()).unwrap_err().code(),
            "ERR_PARSE"
        );
    }
}
