//! Long-term identity keys: this install's Ed25519 key pair, other users' public keys, and their text forms.
//!
//! The key pair is made from 32 random bytes the shell draws (`crypto.getRandomValues`); nothing here draws
//! randomness. The secret never leaves [`Identity`] except through [`IdentityRecord`], the storage record
//! that only the worker writes.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::IdentityError;

/// The layout version of [`IdentityRecord`].
pub const IDENTITY_RECORD_VERSION: u64 = 1;

/// This install's identity: an Ed25519 signing key.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl Identity {
    /// Makes the identity from a 32-byte seed: the Ed25519 secret key itself. The seed must be fresh
    /// randomness from a cryptographic source; whoever knows it can sign as this install.
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        Identity { signing: SigningKey::from_bytes(&seed) }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The record to store. It holds the secret: only the worker's own storage may keep it.
    pub fn to_record(&self) -> IdentityRecord {
        IdentityRecord {
            v: IDENTITY_RECORD_VERSION,
            seed: to_hex(self.signing.as_bytes()),
            public_key: self.public_key(),
        }
    }

    /// Loads a stored identity, checking that the stored public key is the one the seed makes (a record
    /// damaged or pieced together from two installs is refused rather than silently used).
    pub fn from_record(record: &IdentityRecord) -> Result<Identity, IdentityError> {
        if record.v != IDENTITY_RECORD_VERSION {
            return Err(IdentityError::RecordVersion { found: record.v });
        }
        let seed =
            from_hex::<32>(&record.seed).ok_or(IdentityError::RecordCorrupt("the secret key is not 64 hex digits"))?;
        let identity = Identity::from_seed(seed);
        if identity.public_key() != record.public_key {
            return Err(IdentityError::RecordCorrupt("the public key does not belong to the secret key"));
        }
        Ok(identity)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("Identity").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

/// The stored form of an [`Identity`]: `{"v": 1, "seed": "<64 hex>", "public_key": "<64 hex>"}`.
/// The public key is redundant and checked on load.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub v: u64,
    /// The Ed25519 secret key (seed), lowercase hex.
    pub seed: String,
    pub public_key: PublicKey,
}

impl fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityRecord")
            .field("v", &self.v)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key that decodes to a curve point of full order (weak, small-order keys are refused:
/// a signature under one proves nothing). Its text form is 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, IdentityError> {
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| IdentityError::BadPublicKey("not a point on the curve"))?;
        if key.is_weak() {
            return Err(IdentityError::BadPublicKey("a weak key"));
        }
        Ok(PublicKey(bytes))
    }

    /// Parses the text form (64 lowercase hex digits).
    pub fn parse(text: &str) -> Result<PublicKey, IdentityError> {
        let bytes = from_hex::<32>(text).ok_or(IdentityError::BadPublicKey("not 64 lowercase hex digits"))?;
        PublicKey::from_bytes(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks an Ed25519 signature strictly (no malleable or small-order encodings).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        // The bytes were checked when this key was made, so decoding them again cannot fail.
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else { return false };
        key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl TryFrom<String> for PublicKey {
    type Error = IdentityError;
    fn try_from(text: String) -> Result<PublicKey, IdentityError> {
        PublicKey::parse(&text)
    }
}

impl From<PublicKey> for String {
    fn from(key: PublicKey) -> String {
        key.to_string()
    }
}

/// A handshake nonce: 32 bytes of fresh randomness (or derived from it), lowercase hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 32]);

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", to_hex(&self.0))
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// Exactly `2 * N` lowercase hex digits, or `None`. One canonical spelling per value, so text forms compare
/// as the keys do.
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (idx, pair) in digits.chunks_exact(2).enumerate() {
        out[idx] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_key_and_different_seeds_different_keys() {
        let a = Identity::from_seed([1; 32]);
        assert_eq!(a.public_key(), Identity::from_seed([1; 32]).public_key());
        assert_ne!(a.public_key(), Identity::from_seed([2; 32]).public_key());
    }

    #[test]
    fn an_identity_round_trips_through_its_record_and_json() {
        let identity = Identity::from_seed([7; 32]);
        let value = serde_json::to_value(identity.to_record()).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["seed"], "07".repeat(32));
        assert_eq!(value["public_key"], identity.public_key().to_string());
        let record: IdentityRecord = serde_json::from_value(value).unwrap();
        assert_eq!(Identity::from_record(&record).unwrap().public_key(), identity.public_key());
    }

    #[test]
    fn a_damaged_record_is_refused() {
        let identity = Identity::from_seed([7; 32]);
        let mut record = identity.to_record();
        record.public_key = Identity::from_seed([8; 32]).public_key();
        assert!(matches!(Identity::from_record(&record), Err(IdentityError::RecordCorrupt(_))));
        let mut record = identity.to_record();
        record.seed.pop();
        assert!(matches!(Identity::from_record(&record), Err(IdentityError::RecordCorrupt(_))));
        let mut record = identity.to_record();
        record.v = 2;
        assert_eq!(Identity::from_record(&record).unwrap_err(), IdentityError::RecordVersion { found: 2 });
        // A public key that is not a valid key fails while decoding the record.
        let bad = serde_json::json!({"v": 1, "seed": "07".repeat(32), "public_key": "zz"});
        assert!(serde_json::from_value::<IdentityRecord>(bad).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let identity = Identity::from_seed([0xab; 32]);
        assert!(!format!("{identity:?}").contains(&"ab".repeat(32)));
        assert!(!format!("{:?}", identity.to_record()).contains(&"ab".repeat(32)));
    }

    #[test]
    fn public_keys_have_one_text_form() {
        let key = Identity::from_seed([3; 32]).public_key();
        let text = key.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(PublicKey::parse(&text), Ok(key));
        assert!(PublicKey::parse(&text.to_uppercase()).is_err());
        assert!(PublicKey::parse(&text[..62]).is_err());
        assert!(PublicKey::parse("").is_err());
        // The identity point (a small-order key) is refused.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert_eq!(PublicKey::from_bytes(identity_point), Err(IdentityError::BadPublicKey("a weak key")));
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let identity = Identity::from_seed([5; 32]);
        let sig = identity.sign(b"hello");
        assert!(identity.public_key().verify(b"hello", &sig));
        assert!(!identity.public_key().verify(b"hellO", &sig));
        assert!(!Identity::from_seed([6; 32]).public_key().verify(b"hello", &sig));
        assert!(!identity.public_key().verify(b"hello", &[0; 64]));
    }

    #[test]
    fn hex_is_strict() {
        assert_eq!(from_hex::<2>("0aff"), Some([0x0a, 0xff]));
        assert_eq!(from_hex::<2>("0aFF"), None);
        assert_eq!(from_hex::<2>("0af"), None);
        assert_eq!(from_hex::<1>("é"), None);
        assert_eq!(to_hex(&[0x0a, 0xff]), "0aff");
    }
}
