//! Who is on the other end: long-term identity keys, the handshake that binds them to each WebRTC
//! connection, and the contacts pinned on first use. Issue 5.
//!
//! The threat: WebRTC's DTLS fingerprints travel through the PeerJS signaling server, so a malicious server
//! can sit in the middle of every connection, and on a public server anyone can register any username.
//! The defence, all sans-IO like the rest of the core:
//! - [`keys`]: each install has an Ed25519 key pair ([`Identity`]), made from random bytes the shell draws
//!   and kept in the worker's storage ([`IdentityRecord`]).
//! - [`sdp`]: the DTLS certificate fingerprint of each end, read from the SDPs the browser applied.
//! - [`handshake`]: on every link each side signs both fingerprints plus fresh nonces; the other side checks
//!   the signature against the fingerprints it sees itself. A server in the middle holds two DTLS sessions
//!   with different certificates, so both checks fail and both ends close the link.
//! - [`contacts`]: the first key seen for a username is pinned (trust on first use); a different key later
//!   is held back until the user accepts or rejects it; [`safety_number`] lets two users compare keys out
//!   of band and mark each other verified.
//!
//! Peers without the handshake (the original page, stock PeerJS clients, older multichat) still chat,
//! marked unverified. It is not the chat protocol ([`crate::chat`]) and does no IO.

pub mod contacts;
pub mod handshake;
pub mod keys;
pub mod sdp;

pub use contacts::{
    Contact, ContactBook, ContactError, KeyTrust, Observation, PendingKey, TrustState, Unauthenticated, Unproved,
    UnprovedAlert, UnprovedOutcome, UnverifiedLinks, safety_number,
};
pub use handshake::{Handshake, HandshakeError, HandshakeState, LinkContext, Role, Step};
pub use keys::{Identity, IdentityRecord, Nonce, PublicKey};
pub use sdp::{Fingerprint, dtls_fingerprint};

/// Problems with keys, stored identities and SDP fingerprints.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("The stored identity has layout version {found}, which this version of multichat cannot read")]
    RecordVersion { found: u64 },
    #[error("The stored identity is damaged: {0}")]
    RecordCorrupt(&'static str),
    #[error("not a usable public key: {0}")]
    BadPublicKey(&'static str),
    #[error("the connection description has no SHA-256 DTLS fingerprint")]
    NoFingerprint,
    #[error(
        "the connection description names more than one DTLS certificate, so a second party could take part in the encrypted session"
    )]
    SeveralFingerprints,
    #[error("the connection description's DTLS fingerprint is malformed: {0}")]
    MalformedFingerprint(&'static str),
}
