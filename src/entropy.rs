//! One typed source of randomness: the shell's random bytes in, labelled and independent values out.
//!
//! The shell draws 32 bytes (`crypto.getRandomValues`) for each input that needs randomness. Using the same
//! bytes for two purposes can leak one through the other: a PeerJS token made from the bytes an identity
//! seed is made from gives the signaling server (which sees the token in its socket URL) part of the secret
//! key. So no value is ever the shell's bytes themselves: each is HKDF-SHA256 (RFC 5869) of them, expanded
//! with its own label ([`Purpose::label`]). Values for different purposes are independent even when drawn
//! from the same bytes, and none reveals the bytes or another value (HKDF is a pseudorandom function).
//!
//! What is deliberately absent: no random source of its own (the core stays sans-IO), and no `Clone` or
//! `Debug` output of the input bytes.

use hkdf::Hkdf;
use sha2::Sha256;

/// The version of the PeerJS token's derivation. An account record whose token was made by an earlier
/// one (or that says none: records made before this existed, whose token came from the same bytes as the
/// identity seed) gets a new token on the next start; the identity key is kept.
pub const TOKEN_DERIVATION: u64 = 1;

/// The HKDF salt: fixed, so the derivation is a plain function of the input bytes (RFC 5869 allows this;
/// the input is already uniformly random).
const SALT: &[u8] = b"multichat-entropy-v1";

/// What a derived value is for. Each has its own label, so no two purposes ever share bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The PeerJS token (sent to the signaling server in the socket URL).
    PeerjsToken,
    /// The seed of this install's Ed25519 identity key (the secret key).
    IdentitySeed,
    /// The random bytes of the identity handshake of the `n`-th link that comes up with one input.
    Handshake(u64),
    /// A message id.
    MessageId,
    /// A group room's id.
    GroupId,
    /// A file transfer's id (issue 15).
    FileId,
}

impl Purpose {
    /// The HKDF `info` of this purpose.
    pub fn label(self) -> Vec<u8> {
        let (name, index) = match self {
            Purpose::PeerjsToken => ("peerjs-token", None),
            Purpose::IdentitySeed => ("identity-seed", None),
            Purpose::Handshake(index) => ("handshake", Some(index)),
            Purpose::MessageId => ("message-id", None),
            Purpose::GroupId => ("group-id", None),
            Purpose::FileId => ("file-id", None),
        };
        let mut label = format!("multichat/{name}").into_bytes();
        if let Some(index) = index {
            label.push(0);
            label.extend_from_slice(&index.to_be_bytes());
        }
        label
    }
}

/// Fresh randomness from the shell, to derive values from. Make one per input from the 32 bytes that
/// came with it; it cannot be copied, so every value comes from a call that names its purpose.
pub struct Entropy {
    prk: Hkdf<Sha256>,
}

impl Entropy {
    /// `shell_random` must be 32 fresh bytes from a cryptographic source.
    pub fn new(shell_random: [u8; 32]) -> Entropy {
        Entropy { prk: Hkdf::<Sha256>::new(Some(SALT), &shell_random) }
    }

    /// `N` bytes for `purpose`.
    pub fn bytes<const N: usize>(&self, purpose: Purpose) -> [u8; N] {
        let mut out = [0u8; N];
        // HKDF-SHA256 expands to at most 8160 bytes; every caller asks for 32 or fewer.
        self.prk.expand(&purpose.label(), &mut out).expect("HKDF output length within 255 hash lengths");
        out
    }

    /// The PeerJS token, made with [`TOKEN_DERIVATION`]: 16 base-36 characters, as the stock client's.
    pub fn peerjs_token(&self) -> String {
        crate::peerjs::signal::random_token(&self.bytes::<16>(Purpose::PeerjsToken))
    }

    /// The seed of a new identity key ([`crate::identity::Identity::from_seed`]).
    pub fn identity_seed(&self) -> [u8; 32] {
        self.bytes(Purpose::IdentitySeed)
    }

    /// The random bytes for the handshake of the `index`-th link that came up with this input
    /// ([`crate::auth_gate::LinkGate::link_up`]).
    pub fn handshake(&self, index: u64) -> [u8; 32] {
        self.bytes(Purpose::Handshake(index))
    }

    /// The random bytes of a new message's id.
    pub fn message_id(&self) -> [u8; 16] {
        self.bytes(Purpose::MessageId)
    }

    /// The random bytes of a new group's id.
    pub fn group_id(&self) -> [u8; 16] {
        self.bytes(Purpose::GroupId)
    }

    /// A file transfer's id.
    pub fn file_id(&self) -> [u8; 16] {
        self.bytes(Purpose::FileId)
    }
}

/// Whether an account record's token, made with derivation `version` (0 for records that do not say),
/// must be replaced: it was made by an earlier derivation that shared bytes with the identity seed.
pub fn token_needs_renewal(version: u64) -> bool {
    version < TOKEN_DERIVATION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_give_the_same_values_and_labels_are_distinct() {
        let a = Entropy::new([7; 32]);
        let b = Entropy::new([7; 32]);
        assert_eq!(a.identity_seed(), b.identity_seed());
        assert_eq!(a.peerjs_token(), b.peerjs_token());
        assert_ne!(Entropy::new([8; 32]).identity_seed(), a.identity_seed());
        let labels = [
            Purpose::PeerjsToken,
            Purpose::IdentitySeed,
            Purpose::Handshake(0),
            Purpose::Handshake(1),
            Purpose::MessageId,
            Purpose::GroupId,
            Purpose::FileId,
        ]
        .map(Purpose::label);
        for (i, x) in labels.iter().enumerate() {
            for y in &labels[i + 1..] {
                assert!(!x.starts_with(y) && !y.starts_with(x), "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn hkdf_matches_rfc_5869_test_case_1() {
        // The crate's HKDF checked against RFC 5869 A.1, so the construction is the standard one.
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 42];
        Hkdf::<Sha256>::new(Some(&salt), &ikm).expand(&info, &mut okm).unwrap();
        assert_eq!(
            crate::identity::keys::to_hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn old_token_records_are_renewed() {
        assert!(token_needs_renewal(0));
        assert!(!token_needs_renewal(TOKEN_DERIVATION));
    }
}
