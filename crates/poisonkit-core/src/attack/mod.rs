//! Attacks on the defender: decoy parameters (shared by the KKT and min-max attacks), the KKT
//! attack, the min-max attack, the influence attack and the label-flip baselines (random, alfa).

mod alfa;
mod decoy;
mod influence;
mod kkt;
mod labelflip;
mod minmax;
mod minmax_multiclass;
mod sweep;

pub use alfa::{AlfaOptions, alfa_attack};
pub use decoy::{
    Decoy, DecoyOptions, Knowledge, generate_decoys, generate_multiclass_decoys, reference_burn, reference_grid,
};
pub use influence::{InfluenceOptions, influence_attack};
pub use kkt::{KktOptions, PROGRAM_GAP_TOL, kkt_attack};
pub use labelflip::{LabelFlipOptions, flip_pool, label_flip_attack};
pub use minmax::{MinmaxOptions, Player, minmax_attack, minmax_points};
pub use sweep::{AttackResult, Candidate, Failure, Progress, poison_count};
