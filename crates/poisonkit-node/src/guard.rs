//! The boundary: core errors become JS errors tagged with their code, panics become errors
//! instead of aborting the Node process, and an AbortSignal sets a flag the solvers poll.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use napi::bindgen_prelude::AbortSignal;
use napi::{Error, Status};
use poisonkit_core::Error as CoreError;

/// A JS error whose message starts with `[CODE] `; the TypeScript layer moves the code to `.code`.
pub fn js_error(code: &str, message: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, format!("[{code}] {message}"))
}

/// Converts a core error.
pub fn to_js(e: CoreError) -> Error {
    js_error(e.code(), &e)
}

/// Runs `f`, converting its core error and any panic into a JS error.
pub fn guard<T>(f: impl FnOnce() -> Result<T, CoreError>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(to_js),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(js_error(
                "ERR_INTERNAL",
                format!("internal error (please report it): {what}"),
            ))
        }
    }
}

/// A flag set when the JS AbortSignal fires, polled by long-running work.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag tied to `signal`, if any.
    pub fn from_signal(signal: Option<&AbortSignal>) -> Self {
        let cancel = Cancel::default();
        if let Some(signal) = signal {
            let flag = cancel.0.clone();
            signal.on_abort(move || flag.store(true, Ordering::Relaxed));
        }
        cancel
    }

    /// True once the signal fired.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A JS number that must be a non-negative integer (counts, dimensions, seeds).
pub fn count(name: &str, value: f64) -> napi::Result<usize> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 2f64.powi(53) {
        Ok(value as usize)
    } else {
        Err(js_error(
            "ERR_INVALID_OPTION",
            format!("option {name} = {value}: must be a non-negative integer"),
        ))
    }
}

/// An optional count option: checked by [`count`] if given, else `default`.
pub fn count_or(name: &str, value: Option<f64>, default: usize) -> napi::Result<usize> {
    value.map_or(Ok(default), |v| count(name, v))
}
