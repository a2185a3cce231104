//! SHA-256 over a file, chunk by chunk, whose state between chunks is a small value that can be stored.
//!
//! A received file is hashed as its chunks are stored, in order. Chunk sizes are multiples of 64 bytes
//! (one SHA-256 block), so between two chunks the hash is just its eight state words and the number of
//! bytes fed: a [`HashState`] the worker keeps next to the chunks. After a restart the transfer resumes
//! from that state without reading the stored chunks back. The compression is `sha2`'s; only the final
//! padding (FIPS 180-4, 5.1.1) is written here, and the tests hold it to `sha2::Sha256` on every length.

use serde::{Deserialize, Serialize};
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The hash of a file's first `fed` bytes, `fed` a multiple of 64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashState {
    pub words: [u32; 8],
    pub fed: u64,
}

/// Why bytes could not be fed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("only whole 64-byte blocks can be fed before the last chunk")]
    PartialBlock,
    #[error("the stored hash state is not at a block boundary")]
    BadState,
}

impl Default for HashState {
    fn default() -> HashState {
        HashState::new()
    }
}

impl HashState {
    pub fn new() -> HashState {
        HashState { words: INITIAL, fed: 0 }
    }

    /// Feeds a chunk that is not the file's last: a whole number of blocks.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), HashError> {
        if self.fed % 64 != 0 {
            return Err(HashError::BadState);
        }
        if bytes.len() % 64 != 0 {
            return Err(HashError::PartialBlock);
        }
        for block in bytes.chunks_exact(64) {
            sha2::compress256(&mut self.words, std::slice::from_ref(GenericArray::from_slice(block)));
        }
        self.fed += bytes.len() as u64;
        Ok(())
    }

    /// Feeds the file's last bytes (any length, possibly none) and returns the digest.
    pub fn finish(mut self, last: &[u8]) -> Result<[u8; 32], HashError> {
        if self.fed % 64 != 0 {
            return Err(HashError::BadState);
        }
        let whole = last.len() - last.len() % 64;
        self.feed(&last[..whole])?;
        let rest = &last[whole..];
        let bits = (self.fed + rest.len() as u64).wrapping_mul(8);
        // The rest, a 1 bit, zeros up to 56 bytes mod 64, and the length in bits (big-endian).
        let mut tail = Vec::with_capacity(128);
        tail.extend_from_slice(rest);
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&bits.to_be_bytes());
        for block in tail.chunks_exact(64) {
            sha2::compress256(&mut self.words, std::slice::from_ref(GenericArray::from_slice(block)));
        }
        let mut digest = [0u8; 32];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.words) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        Ok(digest)
    }
}

/// The SHA-256 of `bytes` in one go (the sender's manifest), through `sha2`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// 64 lowercase hex digits, as a digest is shown and sent.
pub fn sha256_hex(digest: &[u8; 32]) -> String {
    crate::identity::keys::to_hex(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|it| (it * 31 % 251) as u8).collect()
    }

    #[test]
    fn chunked_and_stored_state_agrees_with_sha2_on_every_tail_length() {
        for len in (0..300).chain([4096, 65536, 65536 + 63, 65536 * 3 + 1]) {
            let data = bytes(len);
            for chunk in [64usize, 128, 4096] {
                let mut state = HashState::new();
                let mut rest = &data[..];
                while rest.len() > chunk {
                    state.feed(&rest[..chunk]).unwrap();
                    // The state survives being stored and read back.
                    state = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
                    rest = &rest[chunk..];
                }
                assert_eq!(state.finish(rest).unwrap(), sha256(&data), "len {len} chunk {chunk}");
            }
        }
    }

    #[test]
    fn partial_blocks_are_refused_before_the_end() {
        let mut state = HashState::new();
        assert_eq!(state.feed(&[0; 65]), Err(HashError::PartialBlock));
        let damaged = HashState { words: INITIAL, fed: 3 };
        assert_eq!(damaged.finish(&[]), Err(HashError::BadState));
    }
}
