//! The one error type of the core. Every variant carries the offending values, and `code()` gives
//! the stable identifier the Node binding and the CLI expose (`error[ERR_PARSE]: enron.svm:12: ...`).

use std::fmt;

/// Where in the input a problem was found: `path:line` for files, `what row i` for in-memory data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location(String);

impl Location {
    /// Line `line` (1-based) of the file `path`.
    pub fn line(path: &str, line: usize) -> Self {
        Location(format!("{path}:{line}"))
    }
    /// Row `row` (0-based) of an in-memory input named `what`.
    pub fn row(what: &str, row: usize) -> Self {
        Location(format!("{what} row {row}"))
    }
    /// A whole input (a file or an in-memory array) named `what`.
    pub fn whole(what: &str) -> Self {
        Location(what.to_string())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
        /// True when the file does not exist.
        not_found: bool,
    },
    /// Malformed input: a bad token, a non-numeric value, an unknown layout.
    #[error("{location}: {message}")]
    Parse {
        /// Where.
        location: Location,
        /// What was wrong.
        message: String,
    },
    /// A NaN or infinite value in data, labels or weights.
    #[error("{location}: non-finite value {value}")]
    NonFinite {
        /// Where.
        location: Location,
        /// The value as written.
        value: String,
    },
    /// A label that is neither ±1 nor a class index 0..k−1, or labels that mix the two.
    #[error("{location}: {message}")]
    InvalidLabel {
        /// Where.
        location: Location,
        /// What was wrong with it.
        message: String,
    },
    /// A feature index outside 1..=d (files) or 0..d (in-memory data).
    #[error("{location}: feature index {index} is out of range for d = {d}")]
    FeatureIndex {
        /// Where.
        location: Location,
        /// The index as written.
        index: u64,
        /// The declared or inferred dimension.
        d: usize,
    },
    /// Two inputs whose sizes must agree do not.
    #[error("{what}: expected {expected}, got {got}")]
    DimMismatch {
        /// Which sizes.
        what: String,
        /// The size required.
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// An option outside its domain (λ ≤ 0, a tolerance ≤ 0, an unknown loss, ...).
    #[error("option {name} = {value}: {reason}")]
    InvalidOption {
        /// The option's name as the user wrote it (camelCase).
        name: String,
        /// Its value.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A class needed by the operation has no points.
    #[error("{what}: class {class} has no points")]
    EmptyClass {
        /// Which data set.
        what: String,
        /// The class label.
        class: i32,
    },
    /// A constraint set with no point in it.
    #[error("{what} is infeasible: {reason}")]
    Infeasible {
        /// Which set.
        what: String,
        /// Why (the solver's status or the violated condition).
        reason: String,
    },
    /// A numerical solver stopped without a solution or a certificate of infeasibility.
    #[error("{solver} stopped with status {status} after {iterations} iterations")]
    Solver {
        /// Which solver.
        solver: &'static str,
        /// Its status.
        status: String,
        /// Iterations run.
        iterations: u32,
    },
    /// The caller asked the work to stop.
    #[error("aborted")]
    Aborted,
}

impl Error {
    /// The stable code of this error, as exposed to JavaScript (`error.code`) and the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { not_found: true, .. } => "ERR_FILE_NOT_FOUND",
            Error::Io { .. } => "ERR_IO",
            Error::Parse { .. } => "ERR_PARSE",
            Error::NonFinite { .. } => "ERR_NON_FINITE",
            Error::InvalidLabel { .. } => "ERR_LABEL",
            Error::FeatureIndex { .. } => "ERR_FEATURE_INDEX",
            Error::DimMismatch { .. } => "ERR_DIM_MISMATCH",
            Error::InvalidOption { .. } => "ERR_INVALID_OPTION",
            Error::EmptyClass { .. } => "ERR_EMPTY_CLASS",
            Error::Infeasible { .. } => "ERR_INFEASIBLE",
            Error::Solver { .. } => "ERR_SOLVER",
            Error::Aborted => "ERR_ABORTED",
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &str, err: &std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            message: err.to_string(),
            not_found: err.kind() == std::io::ErrorKind::NotFound,
        }
    }

    /// An option `name` whose `value` breaks `reason`.
    pub fn option(name: &str, value: impl fmt::Display, reason: &str) -> Self {
        Error::InvalidOption {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A parse error at `location`.
    pub fn parse(location: Location, message: impl Into<String>) -> Self {
        Error::Parse {
            location,
            message: message.into(),
        }
    }
}

/// Fails with [`Error::DimMismatch`] naming `what` unless `got == expected`.
pub fn check_len(what: impl Into<String>, expected: usize, got: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::DimMismatch {
            what: what.into(),
            expected,
            got,
        })
    }
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;
