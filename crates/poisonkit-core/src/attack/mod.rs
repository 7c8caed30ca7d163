//! Attacks on the defender: decoy parameters (shared by the KKT and min-max attacks), the KKT
//! attack and the min-max attack.

mod decoy;
mod kkt;
mod minmax;

pub use decoy::{Decoy, DecoyOptions, Knowledge, generate_decoys, reference_grid};
pub use kkt::{KktCandidate, KktOptions, KktProgress, KktResult, PROGRAM_GAP_TOL, kkt_attack};
pub use minmax::{MinmaxOptions, minmax_points};
