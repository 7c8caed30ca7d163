//! The one seeded random generator of the crate: every random routine takes a `u64` seed and
//! derives its stream here, so the same seed gives the same bytes on every platform.

use rand::SeedableRng;

/// xoshiro256++: fast, small state, and a fixed, documented output stream.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator seeded from `seed` (by SplitMix64 expansion, as the xoshiro authors recommend).
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}
