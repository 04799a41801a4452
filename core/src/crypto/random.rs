//! The operating system's random number generator, as the `rand_core` 0.10 traits that the
//! RustCrypto crates (`rsa` key generation, PKCS#5 salts) ask for.
//!
//! It is ring's `SystemRandom` underneath, so the whole crate draws randomness from one place.

use std::fmt;

use pkcs8::rand_core::{TryCryptoRng, TryRng};
use ring::rand::SecureRandom;

/// ring's `SystemRandom` behind the `rand_core` 0.10 fallible RNG traits.
#[derive(Debug)]
pub(crate) struct SystemRng(ring::rand::SystemRandom);

impl SystemRng {
    /// A generator reading the operating system's RNG.
    pub(crate) fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }

    /// `N` random bytes.
    pub(crate) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], RngError> {
        let mut out = [0u8; N];
        self.try_fill_bytes(&mut out)?;
        Ok(out)
    }
}

impl TryRng for SystemRng {
    type Error = RngError;

    fn try_next_u32(&mut self) -> Result<u32, RngError> {
        Ok(u32::from_le_bytes(self.bytes::<4>()?))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngError> {
        Ok(u64::from_le_bytes(self.bytes::<8>()?))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngError> {
        self.0.fill(dst).map_err(|_| RngError)
    }
}

impl TryCryptoRng for SystemRng {}

/// `N` bytes from the operating system's RNG as unpadded base64url: ACME challenge tokens and
/// nonces. Not for secrets, which stay in `Zeroizing` buffers.
pub fn random_base64url<const N: usize>() -> crate::Result<String> {
    use base64::Engine as _;
    let bytes = SystemRng::new().bytes::<N>().map_err(|e| crate::Error::crypto(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RngError;

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random number generator failed")
    }
}

impl std::error::Error for RngError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        let mut rng = SystemRng::new();
        let a = rng.bytes::<32>().unwrap();
        let b = rng.bytes::<32>().unwrap();
        assert_ne!(a, b);
    }
}
