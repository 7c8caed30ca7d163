//! The Node.js binding of poisonkit-core: converts types and runs long work off the JS thread.
//! The public API is the TypeScript layer (`ts/`), which wraps these functions and turns the
//! `[ERR_CODE] message` of a native error into an `Error` with a stable `code`.

#![deny(clippy::all)]
#![allow(missing_docs)] // documented in ts/, where users read it

mod attack;
mod dataset;
mod defense;
mod feasible;
mod guard;
mod model;
mod multiclass;

pub use attack::*;
pub use dataset::*;
pub use defense::*;
pub use feasible::*;
pub use model::*;
pub use multiclass::*;
