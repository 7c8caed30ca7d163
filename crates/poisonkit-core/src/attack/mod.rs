//! Attacks on the defender: decoy parameters (shared by the KKT and min-max attacks) and the KKT
//! attack.

mod decoy;
mod kkt;

pub use decoy::{Decoy, DecoyOptions, Knowledge, generate_decoys, reference_grid};
pub use kkt::{KktCandidate, KktOptions, KktProgress, KktResult, PROGRAM_GAP_TOL, kkt_attack};
