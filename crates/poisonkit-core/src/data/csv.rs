//! Dense CSV: one point per record, one column of labels, every other column a feature. The first
//! record is a header when the label column is named, or when its field in the label column (by
//! position, else the first) is not a number: a typo in a first data row's features is then an
//! error at line 1, not a header that silently drops the point.

use super::{Dataset, ReadOptions, classes_of, label_from_f64};
use crate::error::{Error, Location, Result};

pub(super) fn parse(path: &str, text: &[u8], options: &ReadOptions, should_stop: &dyn Fn() -> bool) -> Result<Dataset> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut records = reader.records().peekable();
    let line_of = |r: &csv::StringRecord| r.position().map_or(0, |p| p.line() as usize);
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line() as usize);
        Error::parse(Location::line(path, line), e.to_string())
    };

    let named = options.label_column.as_deref().filter(|o| o.parse::<usize>().is_err());
    let position = options
        .label_column
        .as_deref()
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let header = match records.peek() {
        Some(Ok(first)) if named.is_some() || first.get(position).is_some_and(|f| f.parse::<f64>().is_err()) => {
            Some(records.next().unwrap().map_err(csv_error)?)
        }
        _ => None,
    };
    let label_col = label_column(path, header.as_ref(), options.label_column.as_deref())?;

    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut labels, mut lines) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut width = header.as_ref().map(|h| h.len());
    for (i, record) in records.enumerate() {
        if i % super::read::POLL_LINES == 0 && should_stop() {
            return Err(Error::Aborted);
        }
        let record = record.map_err(csv_error)?;
        let line = line_of(&record);
        let at = || Location::line(path, line);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        match width {
            Some(w) if w != record.len() => {
                return Err(Error::parse(at(), format!("expected {w} fields, got {}", record.len())));
            }
            _ => width = Some(record.len()),
        }
        if label_col >= record.len() {
            return Err(Error::option(
                "labelColumn",
                label_col,
                &format!("{path} has only {} columns", record.len()),
            ));
        }
        let mut j = 0u32;
        for (col, field) in record.iter().enumerate() {
            let v: f64 = field
                .parse()
                .map_err(|_| Error::parse(at(), format!("field {} ({field:?}) is not a number", col + 1)))?;
            if col == label_col {
                labels.push(label_from_f64(v, at)?);
                continue;
            }
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    location: at(),
                    value: field.to_string(),
                });
            }
            if v != 0.0 {
                indices.push(j);
                values.push(v);
            }
            j += 1;
        }
        indptr.push(indices.len());
        lines.push(line);
    }
    let d = width.map_or(0, |w| w - 1);
    if let Some(want) = options.d
        && want != d
        && !labels.is_empty()
    {
        return Err(Error::DimMismatch {
            what: format!("{path}: number of feature columns (option d)"),
            expected: want,
            got: d,
        });
    }
    let locate = |i: usize| Location::line(path, lines[i]);
    let classes = classes_of(&labels, options.training_classes, locate)?;
    Dataset::from_checked_parts(indptr, indices, values, labels, options.d.unwrap_or(d), classes, path)
}

/// The label column: the option as a 0-based position or a header name; else a header column named
/// `label` or `y`; else the first column.
fn label_column(path: &str, header: Option<&csv::StringRecord>, option: Option<&str>) -> Result<usize> {
    let by_name = |name: &str| header.and_then(|h| h.iter().position(|f| f == name));
    match option {
        Some(o) => o.parse::<usize>().ok().or_else(|| by_name(o)).ok_or_else(|| {
            Error::option(
                "labelColumn",
                o,
                &format!("not a column position or a header name of {path}"),
            )
        }),
        None => Ok(by_name("label").or_else(|| by_name("y")).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, label_column: Option<&str>) -> Result<Dataset> {
        let options = ReadOptions {
            label_column: label_column.map(String::from),
            ..Default::default()
        };
        parse("t.csv", text.as_bytes(), &options, &|| false)
    }

    #[test]
    fn header_and_label_column() {
        let ds = read("a,label,b\n1.5,1,0\n0,-1,2\n", None).unwrap();
        assert_eq!((ds.n(), ds.d()), (2, 2));
        assert_eq!(ds.labels(), &[1, -1]);
        assert_eq!(ds.row(1), (&[1u32][..], &[2.0][..]));
        let plain = read("0,1,2\n2,3,0\n", None).unwrap();
        assert_eq!(plain.labels(), &[0, 2]);
        assert_eq!(read("1,2,0\n", Some("2")).unwrap().labels(), &[0]);
    }

    #[test]
    fn errors() {
        assert!(read("1,2\n1,x\n", None).unwrap_err().to_string().starts_with("t.csv:2"));
        assert_eq!(read("1,2\n1,2,3\n", None).unwrap_err().code(), "ERR_PARSE");
        assert_eq!(read("1,inf\n", None).unwrap_err().code(), "ERR_NON_FINITE");
        assert_eq!(read("a,b\n1,2\n", Some("c")).unwrap_err().code(), "ERR_INVALID_OPTION");
        assert_eq!(read("0.5,2\n", None).unwrap_err().code(), "ERR_LABEL");
        // A typo in the first row's features is that row's error, not a header.
        let typo = read("1,1.5x,2\n-1,2,1\n", None).unwrap_err().to_string();
        assert!(typo.starts_with("t.csv:1:") && typo.contains("1.5x"), "{typo}");
    }
}
