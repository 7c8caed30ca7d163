//! Attacks on the defender: decoy parameters (shared by the KKT and min-max attacks).

mod decoy;

pub use decoy::{Decoy, DecoyOptions, Knowledge, generate_decoys, reference_grid};
