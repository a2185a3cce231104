//! The identity handshake of one link: each side proves that it holds its long-term key *and* sits at
//! the end of this very DTLS session, sans-IO.
//!
//! # Why
//! WebRTC encrypts with DTLS, but the certificate fingerprints travel through the signaling server, so a
//! malicious server can answer each side with its own certificate and relay (man in the middle). Here each
//! side signs both DTLS fingerprints *as its own browser sees them*; in the middle, the two legs have
//! different certificates, so neither signature verifies at the other end.
//!
//! # Frames
//! - Step 1 rides on the chat protocol's `mc.hello`, in its reserved `auth` field:
//!   `"auth": {"v": 1, "key": "<public key, 64 hex>", "nonce": "<32 random bytes, 64 hex>"}`.
//!   `mc.hello` is already sent once each way on every link of ours and never to the original page, and it
//!   carries the username the key is claimed for; a separate frame would add a round trip and a second
//!   "is this peer ours" rule. A hello without `auth` (or with an `auth` of another version) is a peer
//!   without the handshake: [`Step::Unsupported`], the chat goes on unverified.
//! - Step 2 is its own frame, sent once the peer's hello is in:
//!   `{"type": "mc.auth.proof", "v": 1, "for": "<the receiver's nonce>", "sig": "<128 hex>",
//!   "fps": ["<dialer fingerprint, 64 hex>", "<answerer fingerprint>"]}`.
//!   `for` names the round the proof answers: a proof for an earlier round (left over from before a restart)
//!   is ignored, never mistaken for an attack. `fps` is what the signer saw; it only sharpens the error
//!   message (the verdict comes from the signature alone).
//!
//! # The signed transcript
//! Ed25519 over the concatenation of these fields, each preceded by its length as a 4-byte big-endian
//! number (so no two transcripts run together the same way):
//! `"multichat-auth-v1"`, dialer peer id, answerer peer id, dialer fingerprint (32 bytes), answerer
//! fingerprint, dialer nonce (32 bytes), answerer nonce, dialer public key (32 bytes), answerer public key,
//! and the signer's role (`"dialer"` or `"answerer"`). The dialer is the side that sent the PeerJS OFFER,
//! so its fingerprint is in the offer. Each side fills the fingerprints from its own local and remote SDP
//! (for the dialer, local = dialer; for the answerer, local = answerer) and verifies the peer's signature
//! over the transcript *it* computes. The keys are in the transcript so that a proof made for one pair of
//! keys cannot be presented for another; the role, so a proof cannot be reflected back to its signer.
//! A replayed proof fails because each session has fresh nonces and its own fingerprints.
//!
//! # Rounds
//! One [`Handshake`] lives as long as its link. A hello received when the current round already had one
//! (the peer restarted and greets again) starts a new round with a fresh nonce derived from the random
//! bytes given at creation, and the step returned then asks for a new `mc.hello` carrying
//! [`Handshake::auth_field`] before the proof.
//!
//! Timeouts are the caller's: a peer that sent `auth` but no valid proof within [`HANDSHAKE_TIMEOUT_MS`]
//! should be treated like a failed handshake.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::keys::{Identity, Nonce, PublicKey, from_hex, to_hex};
use super::sdp::Fingerprint;

/// The handshake version, `v` in both frames.
pub const AUTH_VERSION: u64 = 1;
/// The `type` of the proof frame.
pub const PROOF_TYPE: &str = "mc.auth.proof";
/// The first field of every signed transcript.
pub const TRANSCRIPT_DOMAIN: &str = "multichat-auth-v1";
/// A suggested limit for the caller: a peer that offered `auth` and has not proved itself this long after
/// its hello should be treated as failed. Shorter than the chat layer's 9 s silence limit, so the user
/// hears why such a link was dropped instead of only that the peer stopped responding.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 8_000;
/// How many earlier rounds of ours a late proof is recognised for (one crossing a new hello on the wire).
const STALE_ROUNDS_REMEMBERED: u64 = 4;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the identity frame is not a JSON object")]
    NotAnObject,
    #[error("the frame is not an identity proof")]
    WrongType,
    #[error("the identity field `{0}` is missing")]
    Missing(&'static str),
    #[error("the identity field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
    #[error("identity proof version {0} is not supported")]
    UnsupportedVersion(u64),
    #[error("the peer sent its proof of identity before its hello")]
    ProofBeforeHello,
    #[error("the peer sent a second proof of identity")]
    UnexpectedProof,
    #[error("the peer sent back our own handshake nonce: someone may be intercepting this connection")]
    ReflectedNonce,
    #[error(
        "they see a different encrypted session than we do, so someone (perhaps the signaling server) may be intercepting this connection"
    )]
    FingerprintMismatch,
    #[error(
        "their proof of identity does not match this encrypted session, so someone may be intercepting this connection or replaying an old one"
    )]
    BadSignature,
}

impl HandshakeError {
    /// Whether the failure points at someone in the middle (rather than a broken or buggy peer). Either
    /// way the link must be closed.
    pub fn is_possible_interception(&self) -> bool {
        matches!(
            self,
            HandshakeError::FingerprintMismatch | HandshakeError::BadSignature | HandshakeError::ReflectedNonce
        )
    }
}

/// Which end of the PeerJS connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We called `peer.connect` and sent the OFFER.
    Dialer,
    /// We received the OFFER and answered.
    Answerer,
}

impl Role {
    fn other(self) -> Role {
        match self {
            Role::Dialer => Role::Answerer,
            Role::Answerer => Role::Dialer,
        }
    }

    fn label(self) -> &'static [u8] {
        match self {
            Role::Dialer => b"dialer",
            Role::Answerer => b"answerer",
        }
    }
}

/// What our browser knows about the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkContext {
    pub role: Role,
    /// Our full PeerJS id and the peer's, as this side knows them.
    pub our_peer_id: String,
    pub their_peer_id: String,
    /// [`super::dtls_fingerprint`] of `pc.localDescription.sdp` and of `pc.remoteDescription.sdp`.
    pub local_fingerprint: Fingerprint,
    pub remote_fingerprint: Fingerprint,
}

impl LinkContext {
    /// (dialer, answerer) peer ids.
    fn peer_ids(&self) -> (&str, &str) {
        match self.role {
            Role::Dialer => (&self.our_peer_id, &self.their_peer_id),
            Role::Answerer => (&self.their_peer_id, &self.our_peer_id),
        }
    }

    /// (dialer, answerer) fingerprints.
    fn fingerprints(&self) -> (Fingerprint, Fingerprint) {
        match self.role {
            Role::Dialer => (self.local_fingerprint, self.remote_fingerprint),
            Role::Answerer => (self.remote_fingerprint, self.local_fingerprint),
        }
    }
}

/// Where the current round stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeState {
    /// Waiting for the peer's `mc.hello`.
    AwaitingHello,
    /// The peer claimed this key; its proof has not come yet.
    AwaitingProof { their_key: PublicKey },
    /// The peer holds this key and sees the same DTLS session as we do.
    Verified(PublicKey),
    /// The peer's hello carried no handshake: it chats unverified.
    Unsupported,
    /// The handshake failed; the link must be closed. Final: later frames are ignored.
    Failed(HandshakeError),
}

/// What the caller must do after a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Nothing (a proof left over from an earlier round, or a frame after a failure).
    Nothing,
    /// Send these on the link, in this order: an `mc.hello` whose `auth` is `hello_auth` when present (the
    /// peer started a new round, so ours needs a fresh nonce), then the `proof` frame.
    Send { hello_auth: Option<Value>, proof: Value },
    /// The peer proved this key on this connection. Check it against the contact book.
    Verified(PublicKey),
    /// The peer does not do the handshake: chat with it unverified (see `ContactBook::observe_unauthenticated`).
    Unsupported,
}

/// The handshake of one link.
#[derive(Clone, Debug)]
pub struct Handshake {
    identity: Identity,
    our_key: PublicKey,
    context: LinkContext,
    seed: [u8; 32],
    round: u64,
    our_nonce: Nonce,
    /// The peer's hello of this round was handled.
    heard_hello: bool,
    their: Option<(PublicKey, Nonce)>,
    state: HandshakeState,
    /// A proof for a nonce we never sent on this link arrived (a replay, most likely).
    foreign_proof: bool,
}

impl Handshake {
    /// `random` must be 32 fresh random bytes (one draw per link); each round's nonce is derived from it.
    pub fn new(identity: &Identity, context: LinkContext, random: [u8; 32]) -> Handshake {
        Handshake {
            identity: identity.clone(),
            our_key: identity.public_key(),
            context,
            seed: random,
            round: 0,
            our_nonce: derive_nonce(&random, 0),
            heard_hello: false,
            their: None,
            state: HandshakeState::AwaitingHello,
            foreign_proof: false,
        }
    }

    /// True once a proof made for a nonce we never sent on this link arrived: if no valid proof follows,
    /// someone is probably replaying a handshake recorded on another connection.
    pub fn saw_foreign_proof(&self) -> bool {
        self.foreign_proof
    }

    pub fn state(&self) -> &HandshakeState {
        &self.state
    }

    pub fn context(&self) -> &LinkContext {
        &self.context
    }

    /// The value of the `auth` field for every `mc.hello` we send on this link.
    pub fn auth_field(&self) -> Value {
        json!({"v": AUTH_VERSION, "key": self.our_key.to_string(), "nonce": to_hex(&self.our_nonce.0)})
    }

    /// Any frame of the link: an `mc.hello` (its `auth` field is read) or an `mc.auth.proof` is handled;
    /// every other frame is none of the handshake's business ([`Step::Nothing`]).
    pub fn handle_frame(&mut self, frame: &Value) -> Result<Step, HandshakeError> {
        match frame.get("type").and_then(Value::as_str) {
            Some("mc.hello") => self.handle_hello(frame.get("auth").filter(|it| !it.is_null())),
            Some(PROOF_TYPE) => self.handle_proof(frame),
            _ => Ok(Step::Nothing),
        }
    }

    /// The peer's `mc.hello` arrived; `auth` is its `auth` field (`None` when absent or null).
    pub fn handle_hello(&mut self, auth: Option<&Value>) -> Result<Step, HandshakeError> {
        if matches!(self.state, HandshakeState::Failed(_)) {
            return Ok(Step::Nothing);
        }
        let new_round = self.heard_hello;
        if new_round {
            self.round = self.round.saturating_add(1);
            self.our_nonce = derive_nonce(&self.seed, self.round);
            self.their = None;
        }
        self.heard_hello = true;
        let Some((their_key, their_nonce)) = parse_auth(auth).map_err(|err| self.fail(err))? else {
            self.state = HandshakeState::Unsupported;
            return Ok(Step::Unsupported);
        };
        if their_nonce == self.our_nonce {
            return Err(self.fail(HandshakeError::ReflectedNonce));
        }
        self.their = Some((their_key, their_nonce));
        self.state = HandshakeState::AwaitingProof { their_key };
        let (dialer_fp, answerer_fp) = self.context.fingerprints();
        let signature = self.identity.sign(&self.transcript(self.context.role));
        let proof = json!({
            "type": PROOF_TYPE,
            "v": AUTH_VERSION,
            "for": to_hex(&their_nonce.0),
            "sig": to_hex(&signature),
            "fps": [to_hex(&dialer_fp.0), to_hex(&answerer_fp.0)],
        });
        Ok(Step::Send { hello_auth: new_round.then(|| self.auth_field()), proof })
    }

    /// The peer's `mc.auth.proof` arrived.
    pub fn handle_proof(&mut self, frame: &Value) -> Result<Step, HandshakeError> {
        if matches!(self.state, HandshakeState::Failed(_)) {
            return Ok(Step::Nothing);
        }
        let proof = parse_proof(frame).map_err(|err| self.fail(err))?;
        if proof.for_nonce != self.our_nonce {
            // It proves nothing now. Made for an earlier round of ours on this link, it is no attack either;
            // made for a nonce we never sent here, it is a replay, or one in flight across a restart of ours.
            // Only the missing proof for this round decides (the caller's timeout); this is remembered for
            // the reason given then.
            let earlier = (self.round.saturating_sub(STALE_ROUNDS_REMEMBERED)..self.round)
                .any(|round| derive_nonce(&self.seed, round) == proof.for_nonce);
            self.foreign_proof |= !earlier;
            return Ok(Step::Nothing);
        }
        let their_key = match &self.state {
            HandshakeState::AwaitingProof { their_key } => *their_key,
            HandshakeState::AwaitingHello => return Err(self.fail(HandshakeError::ProofBeforeHello)),
            HandshakeState::Verified(_) | HandshakeState::Unsupported | HandshakeState::Failed(_) => {
                return Err(self.fail(HandshakeError::UnexpectedProof));
            }
        };
        let transcript = self.transcript(self.context.role.other());
        if !their_key.verify(&transcript, &proof.signature) {
            let (dialer_fp, answerer_fp) = self.context.fingerprints();
            let err = if proof.fingerprints != (dialer_fp, answerer_fp) {
                HandshakeError::FingerprintMismatch
            } else {
                HandshakeError::BadSignature
            };
            return Err(self.fail(err));
        }
        self.state = HandshakeState::Verified(their_key);
        Ok(Step::Verified(their_key))
    }

    fn fail(&mut self, err: HandshakeError) -> HandshakeError {
        self.state = HandshakeState::Failed(err.clone());
        err
    }

    /// The transcript signed by `signer` for the current round. Only called once the peer's key and
    /// nonce are known; before that the peer's fields are zero (and nothing is signed or verified).
    fn transcript(&self, signer: Role) -> Vec<u8> {
        let (their_key, their_nonce) =
            self.their.map_or(([0u8; 32], [0u8; 32]), |(key, nonce)| (*key.as_bytes(), nonce.0));
        let (dialer_id, answerer_id) = self.context.peer_ids();
        let (dialer_fp, answerer_fp) = self.context.fingerprints();
        let ((dialer_nonce, answerer_nonce), (dialer_key, answerer_key)) = match self.context.role {
            Role::Dialer => ((self.our_nonce.0, their_nonce), (*self.our_key.as_bytes(), their_key)),
            Role::Answerer => ((their_nonce, self.our_nonce.0), (their_key, *self.our_key.as_bytes())),
        };
        let fields: [&[u8]; 10] = [
            TRANSCRIPT_DOMAIN.as_bytes(),
            dialer_id.as_bytes(),
            answerer_id.as_bytes(),
            &dialer_fp.0,
            &answerer_fp.0,
            &dialer_nonce,
            &answerer_nonce,
            &dialer_key,
            &answerer_key,
            signer.label(),
        ];
        let mut out = Vec::with_capacity(fields.iter().map(|it| it.len() + 4).sum());
        for field in fields {
            // Peer ids are short (PeerJS ids of at most ~90 characters); saturate rather than wrap regardless.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }
}

/// The nonce of round `round`: SHA-256 of a label, the link's random bytes and the round number.
fn derive_nonce(seed: &[u8; 32], round: u64) -> Nonce {
    let mut hasher = Sha256::new();
    hasher.update(b"multichat-auth-nonce-v1");
    hasher.update(seed);
    hasher.update(round.to_be_bytes());
    Nonce(hasher.finalize().into())
}

/// `None` when the peer does not do (this version of) the handshake.
fn parse_auth(auth: Option<&Value>) -> Result<Option<(PublicKey, Nonce)>, HandshakeError> {
    let Some(auth) = auth else { return Ok(None) };
    let object = auth.as_object().ok_or(HandshakeError::Invalid { field: "auth", reason: "not an object" })?;
    if u64_field(object, "v")? != AUTH_VERSION {
        // A later version we cannot check; it should offer v1 too. Until then: unverified, not failed.
        return Ok(None);
    }
    let key = PublicKey::parse(str_field(object, "key")?)
        .map_err(|_| HandshakeError::Invalid { field: "key", reason: "not a valid public key" })?;
    let nonce = hex_field::<32>(object, "nonce")?;
    Ok(Some((key, Nonce(nonce))))
}

struct Proof {
    for_nonce: Nonce,
    signature: [u8; 64],
    fingerprints: (Fingerprint, Fingerprint),
}

fn parse_proof(frame: &Value) -> Result<Proof, HandshakeError> {
    let object = frame.as_object().ok_or(HandshakeError::NotAnObject)?;
    match object.get("type") {
        Some(Value::String(kind)) if kind == PROOF_TYPE => {}
        _ => return Err(HandshakeError::WrongType),
    }
    let version = u64_field(object, "v")?;
    if version != AUTH_VERSION {
        return Err(HandshakeError::UnsupportedVersion(version));
    }
    let fingerprints = match object.get("fps") {
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(dialer), Value::String(answerer)] => from_hex::<32>(dialer).zip(from_hex::<32>(answerer)),
            _ => None,
        },
        Some(_) => None,
        None => return Err(HandshakeError::Missing("fps")),
    };
    let (dialer, answerer) =
        fingerprints.ok_or(HandshakeError::Invalid { field: "fps", reason: "not two fingerprints" })?;
    Ok(Proof {
        for_nonce: Nonce(hex_field::<32>(object, "for")?),
        signature: hex_field::<64>(object, "sig")?,
        fingerprints: (Fingerprint(dialer), Fingerprint(answerer)),
    })
}

fn u64_field(object: &Map<String, Value>, field: &'static str) -> Result<u64, HandshakeError> {
    match object.get(field) {
        Some(value) => value.as_u64().ok_or(HandshakeError::Invalid { field, reason: "not a whole number" }),
        None => Err(HandshakeError::Missing(field)),
    }
}

fn str_field<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, HandshakeError> {
    match object.get(field) {
        Some(Value::String(it)) => Ok(it),
        Some(_) => Err(HandshakeError::Invalid { field, reason: "not a string" }),
        None => Err(HandshakeError::Missing(field)),
    }
}

fn hex_field<const N: usize>(object: &Map<String, Value>, field: &'static str) -> Result<[u8; N], HandshakeError> {
    from_hex::<N>(str_field(object, field)?)
        .ok_or(HandshakeError::Invalid { field, reason: "not lowercase hex of the right length" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(byte: u8) -> Fingerprint {
        Fingerprint([byte; 32])
    }

    /// Alice dials bob over one DTLS session (alice's certificate 0xA1, bob's 0xB1).
    fn pair() -> (Handshake, Handshake) {
        let alice = Handshake::new(
            &Identity::from_seed([1; 32]),
            LinkContext {
                role: Role::Dialer,
                our_peer_id: "secure-p2p-multichat-alice".into(),
                their_peer_id: "secure-p2p-multichat-bob".into(),
                local_fingerprint: fp(0xA1),
                remote_fingerprint: fp(0xB1),
            },
            [11; 32],
        );
        let bob = Handshake::new(
            &Identity::from_seed([2; 32]),
            LinkContext {
                role: Role::Answerer,
                our_peer_id: "secure-p2p-multichat-bob".into(),
                their_peer_id: "secure-p2p-multichat-alice".into(),
                local_fingerprint: fp(0xB1),
                remote_fingerprint: fp(0xA1),
            },
            [22; 32],
        );
        (alice, bob)
    }

    fn proof_of(step: Result<Step, HandshakeError>) -> Value {
        match step {
            Ok(Step::Send { proof, .. }) => proof,
            other => panic!("expected a proof, got {other:?}"),
        }
    }

    #[test]
    fn two_honest_peers_verify_each_other() {
        let (mut alice, mut bob) = pair();
        // The node's order: the answerer greets, the dialer greets back and proves, the answerer proves.
        let alice_proof = proof_of(alice.handle_hello(Some(&bob.auth_field())));
        let bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        assert_eq!(bob.handle_proof(&alice_proof), Ok(Step::Verified(Identity::from_seed([1; 32]).public_key())));
        assert_eq!(alice.handle_proof(&bob_proof), Ok(Step::Verified(Identity::from_seed([2; 32]).public_key())));
        assert_eq!(alice.state(), &HandshakeState::Verified(Identity::from_seed([2; 32]).public_key()));
    }

    #[test]
    fn a_hello_without_auth_is_unsupported() {
        let (mut alice, _) = pair();
        assert_eq!(alice.handle_hello(None), Ok(Step::Unsupported));
        assert_eq!(alice.state(), &HandshakeState::Unsupported);
        // A newer version we do not know is unverified too, not a failure.
        let (mut alice2, _) = pair();
        assert_eq!(alice2.handle_hello(Some(&json!({"v": 2, "key": "x"}))), Ok(Step::Unsupported));
    }

    #[test]
    fn a_proof_with_a_wrong_fingerprint_view_says_interception() {
        let (mut alice, mut bob) = pair();
        bob.context.remote_fingerprint = fp(0xEE); // bob sees someone else's certificate
        let _ = alice.handle_hello(Some(&bob.auth_field()));
        let bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        let err = alice.handle_proof(&bob_proof).unwrap_err();
        assert_eq!(err, HandshakeError::FingerprintMismatch);
        assert!(err.is_possible_interception());
        assert_eq!(alice.state(), &HandshakeState::Failed(HandshakeError::FingerprintMismatch));
        // Final: more frames change nothing.
        assert_eq!(alice.handle_proof(&bob_proof), Ok(Step::Nothing));
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let (mut alice, mut bob) = pair();
        let _ = alice.handle_hello(Some(&bob.auth_field()));
        let mut bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        let sig = bob_proof["sig"].as_str().unwrap().to_owned();
        let flipped = format!("{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
        bob_proof["sig"] = json!(flipped);
        assert_eq!(alice.handle_proof(&bob_proof), Err(HandshakeError::BadSignature));
    }

    #[test]
    fn a_reflected_hello_fails() {
        let (mut alice, _) = pair();
        let own = alice.auth_field();
        assert_eq!(alice.handle_hello(Some(&own)), Err(HandshakeError::ReflectedNonce));
    }

    #[test]
    fn a_proof_before_the_hello_fails_but_a_stale_one_is_ignored() {
        let (mut alice, mut bob) = pair();
        let bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        assert_eq!(alice.clone().handle_proof(&bob_proof), Err(HandshakeError::ProofBeforeHello));
        let mut stale = bob_proof.clone();
        stale["for"] = json!("00".repeat(32));
        assert_eq!(alice.handle_proof(&stale), Ok(Step::Nothing));
        assert_eq!(alice.state(), &HandshakeState::AwaitingHello);
        assert!(alice.saw_foreign_proof(), "a proof for a nonce alice never sent is remembered");
    }

    #[test]
    fn a_second_proof_in_a_round_fails() {
        let (mut alice, mut bob) = pair();
        let _ = alice.handle_hello(Some(&bob.auth_field()));
        let bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        assert!(matches!(alice.handle_proof(&bob_proof), Ok(Step::Verified(_))));
        assert_eq!(alice.handle_proof(&bob_proof), Err(HandshakeError::UnexpectedProof));
    }

    #[test]
    fn a_peer_that_greets_again_starts_a_new_round() {
        let (mut alice, mut bob) = pair();
        let alice_proof = proof_of(alice.handle_hello(Some(&bob.auth_field())));
        let bob_proof = proof_of(bob.handle_hello(Some(&alice.auth_field())));
        assert!(matches!(bob.handle_proof(&alice_proof), Ok(Step::Verified(_))));
        assert!(matches!(alice.handle_proof(&bob_proof), Ok(Step::Verified(_))));

        // Bob's worker restarts: a new handshake (new random) on the same link greets again.
        let mut bob = Handshake::new(&Identity::from_seed([2; 32]), bob.context.clone(), [33; 32]);
        let old_alice_nonce = alice.auth_field();
        let Ok(Step::Send { hello_auth: Some(alice_new_auth), proof: alice_proof }) =
            alice.handle_hello(Some(&bob.auth_field()))
        else {
            panic!("alice must greet again");
        };
        assert_ne!(alice_new_auth, old_alice_nonce, "a new round has a new nonce");
        // The old proof of alice's (for bob's previous nonce) would be ignored by the new bob.
        assert_eq!(bob.clone().handle_proof(&proof_for_old_round(&alice_proof)), Ok(Step::Nothing));
        let bob_proof = proof_of(bob.handle_hello(Some(&alice_new_auth)));
        assert!(matches!(bob.handle_proof(&alice_proof), Ok(Step::Verified(_))));
        assert!(matches!(alice.handle_proof(&bob_proof), Ok(Step::Verified(_))));
    }

    fn proof_for_old_round(proof: &Value) -> Value {
        let mut proof = proof.clone();
        proof["for"] = json!(to_hex(&derive_nonce(&[22; 32], 0).0));
        proof
    }

    #[test]
    fn malformed_frames_say_why_and_fail_the_handshake() {
        let cases = [
            (json!([]), HandshakeError::NotAnObject),
            (json!({"type": "chat"}), HandshakeError::WrongType),
            (json!({"type": PROOF_TYPE}), HandshakeError::Missing("v")),
            (json!({"type": PROOF_TYPE, "v": 2}), HandshakeError::UnsupportedVersion(2)),
            (json!({"type": PROOF_TYPE, "v": 1, "for": "00", "sig": "00"}), HandshakeError::Missing("fps")),
            (
                json!({"type": PROOF_TYPE, "v": 1, "fps": ["00"], "for": "00", "sig": "00"}),
                HandshakeError::Invalid { field: "fps", reason: "not two fingerprints" },
            ),
            (
                json!({"type": PROOF_TYPE, "v": 1, "fps": ["00".repeat(32), "00".repeat(32)], "for": 5, "sig": "00"}),
                HandshakeError::Invalid { field: "for", reason: "not a string" },
            ),
            (
                json!({"type": PROOF_TYPE, "v": 1, "fps": ["00".repeat(32), "00".repeat(32)], "for": "00".repeat(32), "sig": "00"}),
                HandshakeError::Invalid { field: "sig", reason: "not lowercase hex of the right length" },
            ),
        ];
        for (frame, expected) in cases {
            let (mut alice, _) = pair();
            assert_eq!(alice.handle_proof(&frame), Err(expected.clone()), "{frame}");
            assert_eq!(alice.state(), &HandshakeState::Failed(expected));
        }
        let bad_auth = [
            (json!("x"), HandshakeError::Invalid { field: "auth", reason: "not an object" }),
            (json!({"key": "x"}), HandshakeError::Missing("v")),
            (
                json!({"v": 1, "key": "x", "nonce": "00"}),
                HandshakeError::Invalid { field: "key", reason: "not a valid public key" },
            ),
        ];
        for (auth, expected) in bad_auth {
            let (mut alice, _) = pair();
            assert_eq!(alice.handle_hello(Some(&auth)), Err(expected), "{auth}");
        }
    }

    #[test]
    fn handle_frame_dispatches_hellos_and_proofs() {
        let (mut alice, mut bob) = pair();
        let hello = |auth: Value| json!({"type": "mc.hello", "v": 1, "user": "x", "caps": [], "auth": auth});
        let alice_proof = proof_of(alice.handle_frame(&hello(bob.auth_field())));
        let _ = bob.handle_frame(&hello(alice.auth_field()));
        assert!(matches!(bob.handle_frame(&alice_proof), Ok(Step::Verified(_))));
        let (mut carol, _) = pair();
        assert_eq!(carol.handle_frame(&json!({"type": "chat"})), Ok(Step::Nothing));
        assert_eq!(carol.handle_frame(&json!(5)), Ok(Step::Nothing));
        assert_eq!(carol.state(), &HandshakeState::AwaitingHello);
        assert_eq!(carol.handle_frame(&hello(Value::Null)), Ok(Step::Unsupported));
    }
}
