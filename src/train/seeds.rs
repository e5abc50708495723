//! Every random choice of a run derives from its seed and the epoch number, so a resumed run
//! shuffles and dequantizes exactly as an uninterrupted one would.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// The order in which epoch `epoch` visits the `n` training images.
pub fn epoch_order(seed: u64, epoch: u32, n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut StdRng::seed_from_u64(
        seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(epoch as u64 + 1)),
    ));
    order
}

/// The dequantization noise stream of epoch `epoch` (`u32::MAX`: the data-dependent start).
pub fn noise_seed(seed: u64, epoch: u32) -> u32 {
    (seed as u32) ^ (epoch.wrapping_add(1)).wrapping_mul(0x85eb_ca6b)
}

/// Seed of the fixed dequantization noise used for validation (the same every epoch, so the
/// validation curve measures the model, not the noise).
pub const VALID_SEED: u32 = 0x5eed_0001;
pub const TEST_SEED: u32 = 0x5eed_1000;
