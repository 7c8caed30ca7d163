//! Attacks on the defender: decoy parameters (shared by the KKT and min-max attacks), the KKT
//! attack and the min-max attack.

mod decoy;
mod kkt;
mod minmax;
mod minmax_multiclass;
mod sweep;

pub use decoy::{
    Decoy, DecoyOptions, Knowledge, generate_decoys, generate_multiclass_decoys, reference_burn, reference_grid,
};
pub use kkt::{KktOptions, PROGRAM_GAP_TOL, kkt_attack};
pub use minmax::{MinmaxOptions, Player, minmax_attack, minmax_points};
pub use sweep::{AttackResult, Candidate, Progress};
