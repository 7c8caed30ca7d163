//! svmlight / libsvm text: one point per line, `label idx:val idx:val ... # comment`, 1-based
//! strictly increasing indices, `qid:N` ignored, blank and comment-only lines skipped.

use std::io::Write;

use super::{Dataset, MAX_FEATURES, ReadOptions, classes_of, label_from_f64};
use crate::error::{Error, Location, Result};

/// Parses svmlight text. `path` is only used to name errors; `options.d` bounds the indices when
/// given.
pub(super) fn parse(path: &str, text: &[u8], options: &ReadOptions, should_stop: &dyn Fn() -> bool) -> Result<Dataset> {
    let d = options.d;
    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut line_of_row = Vec::new();
    let mut max_index = 0u64;
    for (line_no, raw) in text.split(|&b| b == b'\n').enumerate() {
        if line_no % super::read::POLL_LINES == 0 && should_stop() {
            return Err(Error::Aborted);
        }
        let line_no = line_no + 1;
        let at = || Location::line(path, line_no);
        let content = match raw.iter().position(|&b| b == b'#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        let mut tokens = content.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let Some(label_token) = tokens.next() else { continue };
        let label = parse_f64(label_token).ok_or_else(|| {
            Error::parse(
                at(),
                format!("label {:?} is not a number", String::from_utf8_lossy(label_token)),
            )
        })?;
        labels.push(label_from_f64(label, at)?);
        line_of_row.push(line_no);
        let mut previous = 0u64;
        for token in tokens {
            let Some(colon) = token.iter().position(|&b| b == b':') else {
                return Err(Error::parse(
                    at(),
                    format!("expected idx:value, got {:?}", String::from_utf8_lossy(token)),
                ));
            };
            let (key, value) = (&token[..colon], &token[colon + 1..]);
            if key == b"qid" {
                continue;
            }
            let index = parse_index(key).ok_or_else(|| {
                Error::parse(
                    at(),
                    format!(
                        "feature index {:?} is not a positive integer",
                        String::from_utf8_lossy(key)
                    ),
                )
            })?;
            if index == 0 {
                return Err(Error::parse(at(), "feature index 0: indices are 1-based"));
            }
            if index <= previous {
                return Err(Error::parse(
                    at(),
                    format!("feature indices must increase strictly, got {index} after {previous}"),
                ));
            }
            previous = index;
            if let Some(d) = d {
                if index > d as u64 {
                    return Err(Error::FeatureIndex {
                        location: at(),
                        index,
                        d,
                    });
                }
            } else if index > MAX_FEATURES as u64 {
                return Err(Error::parse(
                    at(),
                    format!("feature index {index}: at most {MAX_FEATURES} features are supported"),
                ));
            }
            let v = parse_f64(value).ok_or_else(|| {
                Error::parse(
                    at(),
                    format!(
                        "value {:?} of feature {index} is not a number",
                        String::from_utf8_lossy(value)
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    location: at(),
                    value: String::from_utf8_lossy(value).into_owned(),
                });
            }
            if v != 0.0 {
                indices.push((index - 1) as u32);
                values.push(v);
            }
            max_index = max_index.max(index);
        }
        indptr.push(indices.len());
    }
    let locate = |i: usize| Location::line(path, line_of_row[i]);
    let classes = classes_of(&labels, options.training_classes, locate)?;
    let d = d.unwrap_or(max_index as usize);
    Dataset::from_checked_parts(indptr, indices, values, labels, d, classes, path)
}

fn parse_f64(token: &[u8]) -> Option<f64> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

fn parse_index(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 19 {
        return None;
    }
    token
        .iter()
        .try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64))
}

/// Writes `data` as svmlight text to `path` (gzip'd when the name ends in `.gz`). Values are written
/// in the shortest form that reads back to the same f64.
pub fn write_svmlight(data: &Dataset, path: &str) -> Result<()> {
    let io = |e: std::io::Error| Error::io(path, &e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out: Box<dyn Write> = if path.ends_with(".gz") {
        Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()))
    } else {
        Box::new(file)
    };
    let mut buf = std::io::BufWriter::new(&mut out);
    for i in 0..data.n() {
        write!(buf, "{}", data.labels()[i]).map_err(io)?;
        let (idx, val) = data.row(i);
        for (j, v) in idx.iter().zip(val) {
            write!(buf, " {}:{}", j + 1, v).map_err(io)?;
        }
        buf.write_all(b"\n").map_err(io)?;
    }
    buf.flush().map_err(io)?;
    drop(buf);
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str, d: Option<usize>) -> Result<Dataset> {
        let options = ReadOptions {
            d,
            ..Default::default()
        };
        parse("t.svm", text.as_bytes(), &options, &|| false)
    }

    #[test]
    fn reads_comments_qid_and_blank_lines() {
        let ds = parse_str("# header\n+1 qid:3 1:0.5 3:2 # note\n\n-1 2:1e-3\r\n", Some(4)).unwrap();
        assert_eq!((ds.n(), ds.d(), ds.nnz()), (2, 4, 3));
        assert_eq!(ds.labels(), &[1, -1]);
        assert_eq!(ds.row(0), (&[0u32, 2][..], &[0.5, 2.0][..]));
        assert_eq!(parse_str("1 7:1\n", None).unwrap().d(), 7);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1 1:1\n1 2:x\n", "ERR_PARSE", "t.svm:2"),
            ("1 1:1\nspam 2:1\n", "ERR_PARSE", "t.svm:2"),
            ("1 1:nan\n", "ERR_NON_FINITE", "t.svm:1"),
            ("1 1:1\n\n2.5 1:1\n", "ERR_LABEL", "t.svm:3"),
            ("1 1:1\n-1 5:1\n", "ERR_FEATURE_INDEX", "t.svm:2"),
            ("1 3:1 2:1\n", "ERR_PARSE", "t.svm:1"),
            ("1 1 2\n", "ERR_PARSE", "t.svm:1"),
            ("1 0:1\n", "ERR_PARSE", "t.svm:1"),
            ("-1 1:1\n0 1:1\n", "ERR_LABEL", "t.svm:2"),
        ];
        for (text, code, place) in cases {
            let err = parse_str(text, Some(4)).unwrap_err();
            assert_eq!(err.code(), code, "{text:?}: {err}");
            assert!(err.to_string().starts_with(place), "{text:?}: {err}");
        }
    }

    #[test]
    fn write_then_read_is_identity() {
        let ds = parse_str("1 1:0.1 3:1234.5678\n-1 2:3\n-1\n", Some(3)).unwrap();
        for name in ["rt.svm", "rt.svm.gz"] {
            let path = std::env::temp_dir().join(format!("poisonkit-{}-{name}", std::process::id()));
            let path = path.to_str().unwrap();
            write_svmlight(&ds, path).unwrap();
            let back = super::super::read_dataset(
                path,
                &super::super::ReadOptions {
                    d: Some(3),
                    ..Default::default()
                },
                &|| false,
            );
            std::fs::remove_file(path).unwrap();
            assert_eq!(back.unwrap(), ds);
        }
    }
}
