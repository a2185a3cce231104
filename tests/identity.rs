//! The identity handshake end to end: two honest peers verify each other; a server in the middle that
//! relays between two DTLS sessions is caught at both ends; replayed proofs never verify; hostile JSON never
//! panics; and the contact book turns proved keys into pins, warnings and safety numbers.

use multichat_core::account::Username;
use multichat_core::identity::{
    ContactBook, Fingerprint, Handshake, HandshakeError, HandshakeState, Identity, IdentityRecord, LinkContext,
    Observation, PublicKey, Role, Step, Unauthenticated, dtls_fingerprint, safety_number,
};
use multichat_core::time::Millis;
use proptest::prelude::*;
use serde_json::{Value, json};

const ALICE: &str = "secure-p2p-multichat-alice";
const BOB: &str = "secure-p2p-multichat-bob";

fn alice_identity() -> Identity {
    Identity::from_seed([0xA0; 32])
}

fn bob_identity() -> Identity {
    Identity::from_seed([0xB0; 32])
}

fn fp(byte: u8) -> Fingerprint {
    Fingerprint([byte; 32])
}

/// An SDP as Chromium writes it, with this certificate fingerprint.
fn sdp_with(fingerprint: Fingerprint, setup: &str) -> String {
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\n\
         a=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
         a=ice-ufrag:Zf0L\r\na=ice-pwd:kUxf3o8nAMi8ZcNxVb6qyEf4\r\na=ice-options:trickle\r\n\
         a=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"
    )
}

/// One side of a link, as the engine would build it from the browser's two SDPs.
fn side(
    identity: &Identity,
    role: Role,
    ours: &str,
    theirs: &str,
    local: Fingerprint,
    remote: Fingerprint,
    random: u8,
) -> Handshake {
    let local_sdp = sdp_with(local, if role == Role::Dialer { "actpass" } else { "active" });
    let remote_sdp = sdp_with(remote, if role == Role::Dialer { "active" } else { "actpass" });
    let context = LinkContext {
        role,
        our_peer_id: ours.into(),
        their_peer_id: theirs.into(),
        local_fingerprint: dtls_fingerprint(&local_sdp).unwrap(),
        remote_fingerprint: dtls_fingerprint(&remote_sdp).unwrap(),
    };
    Handshake::new(identity, context, [random; 32])
}

fn hello(auth: Value) -> Value {
    json!({"type": "mc.hello", "v": 1, "user": "x", "caps": ["ack"], "auth": auth})
}

/// The frames one side sends for a step, in order.
/// `greet`: the node greets back here whatever the handshake says (the dialer's first hello).
fn frames_of(step: &Step, handshake: &Handshake, greet: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let new_round = matches!(step, Step::Send { hello_auth: Some(_), .. });
    if greet || new_round {
        out.push(hello(handshake.auth_field()));
    }
    if let Step::Send { proof, .. } = step {
        out.push(proof.clone());
    }
    out
}

/// Runs the node's greeting order between a dialer and an answerer, with `wire` applied to every frame in
/// flight (`to_dialer` says which way it goes). Returns the final state of each side.
fn run(
    mut dialer: Handshake,
    mut answerer: Handshake,
    wire: impl Fn(Value, bool) -> Option<Value>,
) -> (HandshakeState, HandshakeState) {
    // The answerer greets first; the dialer greets back and proves; the answerer proves.
    let mut to_dialer = vec![hello(answerer.auth_field())];
    let mut to_answerer = Vec::new();
    for _ in 0..4 {
        for frame in std::mem::take(&mut to_dialer) {
            let Some(frame) = wire(frame, true) else { continue };
            let first_hello = matches!(dialer.state(), HandshakeState::AwaitingHello);
            if let Ok(step) = dialer.handle_frame(&frame) {
                to_answerer.extend(frames_of(&step, &dialer, first_hello && frame["type"] == "mc.hello"));
            }
        }
        for frame in std::mem::take(&mut to_answerer) {
            let Some(frame) = wire(frame, false) else { continue };
            if let Ok(step) = answerer.handle_frame(&frame) {
                to_dialer.extend(frames_of(&step, &answerer, false));
            }
        }
    }
    (dialer.state().clone(), answerer.state().clone())
}

fn honest_pair(random: u8) -> (Handshake, Handshake) {
    (
        side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA1), fp(0xB1), random),
        side(&bob_identity(), Role::Answerer, BOB, ALICE, fp(0xB1), fp(0xA1), random.wrapping_add(1)),
    )
}

#[test]
fn without_anyone_in_the_middle_both_sides_verify() {
    let (alice, bob) = honest_pair(1);
    let (alice_end, bob_end) = run(alice, bob, |frame, _| Some(frame));
    assert_eq!(alice_end, HandshakeState::Verified(bob_identity().public_key()));
    assert_eq!(bob_end, HandshakeState::Verified(alice_identity().public_key()));
}

/// Alice dials bob, but the server answers with mallory's certificate; mallory dials bob as alice with
/// another certificate of hers, and relays every frame between the two DTLS sessions.
fn mitm_pair() -> (Handshake, Handshake) {
    (
        side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA1), fp(0x11), 1),
        side(&bob_identity(), Role::Answerer, BOB, ALICE, fp(0xB1), fp(0x22), 2),
    )
}

fn assert_caught(state: &HandshakeState) {
    match state {
        HandshakeState::Failed(err) => assert!(err.is_possible_interception(), "{err:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_relaying_server_in_the_middle_is_caught_at_both_ends() {
    let (alice, bob) = mitm_pair();
    let (alice_end, bob_end) = run(alice, bob, |frame, _| Some(frame));
    assert_eq!(alice_end, HandshakeState::Failed(HandshakeError::FingerprintMismatch));
    assert_eq!(bob_end, HandshakeState::Failed(HandshakeError::FingerprintMismatch));
}

#[test]
fn a_relay_that_also_rewrites_the_fingerprint_hints_is_still_caught() {
    let (alice, bob) = mitm_pair();
    // Mallory rewrites `fps` to what the receiver sees, so only the signature can tell.
    let rewrite = |mut frame: Value, to_dialer: bool| {
        if frame["type"] == "mc.auth.proof" {
            let (dialer, answerer) = if to_dialer { (fp(0xA1), fp(0x11)) } else { (fp(0x22), fp(0xB1)) };
            frame["fps"] = json!([hex(&dialer.0), hex(&answerer.0)]);
        }
        Some(frame)
    };
    let (alice_end, bob_end) = run(alice, bob, rewrite);
    assert_eq!(alice_end, HandshakeState::Failed(HandshakeError::BadSignature));
    assert_eq!(bob_end, HandshakeState::Failed(HandshakeError::BadSignature));
    assert_caught(&alice_end);
    assert_caught(&bob_end);
}

#[test]
fn a_middle_that_strips_the_handshake_leaves_both_unverified_and_known_contacts_warn() {
    let (alice, bob) = mitm_pair();
    let strip = |mut frame: Value, _| {
        if frame["type"] == "mc.hello" {
            frame["auth"] = Value::Null;
        }
        Some(frame)
    };
    let (alice_end, bob_end) = run(alice, bob, strip);
    assert_eq!((alice_end, bob_end), (HandshakeState::Unsupported, HandshakeState::Unsupported));
    // Alice has talked to the real bob before: this is a downgrade, not a stranger.
    let mut book = ContactBook::new();
    let bob_name = Username::parse("bob").unwrap();
    book.observe(&bob_name, bob_identity().public_key(), Millis(1));
    assert!(matches!(book.observe_unauthenticated(&bob_name), Unauthenticated::Downgrade { .. }));
}

#[test]
fn a_middle_with_its_own_key_is_a_changed_key_for_a_known_contact_and_a_different_safety_number() {
    // Mallory terminates both handshakes herself with her own identity: each leg verifies, as mallory.
    let mallory = Identity::from_seed([0xEE; 32]);
    let alice_leg = run(
        side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA1), fp(0x11), 1),
        side(&mallory, Role::Answerer, BOB, ALICE, fp(0x11), fp(0xA1), 2),
        |frame, _| Some(frame),
    );
    assert_eq!(alice_leg.0, HandshakeState::Verified(mallory.public_key()));
    let mut book = ContactBook::new();
    let bob_name = Username::parse("bob").unwrap();
    book.observe(&bob_name, bob_identity().public_key(), Millis(1));
    assert_eq!(
        book.observe(&bob_name, mallory.public_key(), Millis(2)),
        Observation::KeyChanged { old: bob_identity().public_key(), new: mallory.public_key() }
    );
    // Had alice never met bob, comparing safety numbers would show it.
    let alice_sees = safety_number(&alice_identity().public_key(), &mallory.public_key());
    let bob_sees = safety_number(&bob_identity().public_key(), &mallory.public_key());
    assert_ne!(alice_sees, bob_sees);
    assert_eq!(
        safety_number(&alice_identity().public_key(), &bob_identity().public_key()),
        safety_number(&bob_identity().public_key(), &alice_identity().public_key())
    );
}

#[test]
fn a_proof_from_another_session_never_verifies() {
    // Session 1: record everything bob sent.
    let (mut alice1, mut bob1) = honest_pair(1);
    let bob_hello = hello(bob1.auth_field());
    let Ok(Step::Send { proof: alice_proof, .. }) = alice1.handle_frame(&bob_hello) else { panic!() };
    let Ok(Step::Send { proof: bob_proof, .. }) = bob1.handle_frame(&hello(alice1.auth_field())) else { panic!() };
    assert!(matches!(bob1.handle_frame(&alice_proof), Ok(Step::Verified(_))));

    // Session 2, on a new DTLS session with a new nonce: someone replays bob's frames to alice.
    let mut alice2 = side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA2), fp(0xC2), 9);
    assert!(matches!(alice2.handle_frame(&bob_hello), Ok(Step::Send { .. })));
    // As recorded: it answers alice's old nonce, so it is ignored and alice stays unverified.
    assert_eq!(alice2.handle_frame(&bob_proof), Ok(Step::Nothing));
    assert!(matches!(alice2.state(), HandshakeState::AwaitingProof { .. }));
    // Re-addressed to alice's new nonce, the signature no longer fits.
    let mut readdressed = bob_proof.clone();
    readdressed["for"] = json!(hex(&nonce_of(&alice2)));
    readdressed["fps"] = json!([hex(&fp(0xA2).0), hex(&fp(0xC2).0)]);
    assert_eq!(alice2.handle_frame(&readdressed), Err(HandshakeError::BadSignature));

    // Even on the very same fingerprints, fresh nonces make an old proof useless.
    let mut alice3 = side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA1), fp(0xB1), 77);
    let _ = alice3.handle_frame(&bob_hello);
    let mut readdressed = bob_proof;
    readdressed["for"] = json!(hex(&nonce_of(&alice3)));
    assert_eq!(alice3.handle_frame(&readdressed), Err(HandshakeError::BadSignature));
}

fn nonce_of(handshake: &Handshake) -> [u8; 32] {
    let text = handshake.auth_field()["nonce"].as_str().unwrap().to_owned();
    let mut out = [0u8; 32];
    for (idx, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[idx * 2..idx * 2 + 2], 16).unwrap();
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|it| format!("{it:02x}")).collect()
}

#[test]
fn a_proof_for_other_peer_ids_fails() {
    // The server tells bob the dialer is "carol": bob's transcript names carol, alice's names alice.
    let alice = side(&alice_identity(), Role::Dialer, ALICE, BOB, fp(0xA1), fp(0xB1), 1);
    let bob = side(&bob_identity(), Role::Answerer, BOB, "secure-p2p-multichat-carol", fp(0xB1), fp(0xA1), 2);
    let (alice_end, bob_end) = run(alice, bob, |frame, _| Some(frame));
    assert_eq!(alice_end, HandshakeState::Failed(HandshakeError::BadSignature));
    assert_eq!(bob_end, HandshakeState::Failed(HandshakeError::BadSignature));
}

#[test]
fn a_verified_key_goes_into_the_contact_book() {
    let (alice, bob) = honest_pair(3);
    let (HandshakeState::Verified(bob_key), _) = run(alice, bob, |frame, _| Some(frame)) else { panic!() };
    let mut book = ContactBook::new();
    let bob_name = Username::from_peer_id(BOB).unwrap();
    assert_eq!(book.observe(&bob_name, bob_key, Millis(5)), Observation::NewPinned);
    // Stored and loaded by the worker, with the identity next to it.
    let stored = book.to_value();
    let loaded = ContactBook::from_value(&stored).unwrap();
    assert_eq!(loaded.get(&bob_name).unwrap().key, bob_key);
    let record: IdentityRecord =
        serde_json::from_value(serde_json::to_value(alice_identity().to_record()).unwrap()).unwrap();
    assert_eq!(Identity::from_record(&record).unwrap().public_key(), alice_identity().public_key());
}

// ---------------------------------------------------------------------------------------------------------
// Hostile input.

fn json_value() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("type".to_owned()),
        Just("v".to_owned()),
        Just("key".to_owned()),
        Just("nonce".to_owned()),
        Just("for".to_owned()),
        Just("sig".to_owned()),
        Just("fps".to_owned()),
        Just("auth".to_owned()),
        Just("contacts".to_owned()),
        Just("state".to_owned()),
        Just("seed".to_owned()),
        Just("public_key".to_owned()),
        "[a-z]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..3).prop_map(Value::from),
        any::<f64>().prop_map(|it| serde_json::Number::from_f64(it).map_or(Value::Null, Value::Number)),
        prop_oneof![Just("mc.hello"), Just("mc.auth.proof"), Just("pinned"), Just("verified"), Just("bob")]
            .prop_map(Value::from),
        "[0-9a-f]{64}".prop_map(Value::from),
        "[0-9a-f]{128}".prop_map(Value::from),
        Just(Value::from(alice_identity().public_key().to_string())),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|it| Value::Object(it.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_frames_never_panic_and_never_verify(frames in prop::collection::vec(json_value(), 1..6)) {
        let (mut alice, _) = honest_pair(1);
        for frame in &frames {
            let res = alice.handle_frame(frame);
            prop_assert!(!matches!(res, Ok(Step::Verified(_))));
            let _ = alice.handle_hello(Some(frame));
            let _ = alice.handle_proof(frame);
            prop_assert!(!matches!(alice.state(), HandshakeState::Verified(_)));
        }
    }

    #[test]
    fn an_altered_proof_never_verifies(
        sig in "[0-9a-f]{128}",
        nonce_byte in any::<u8>(),
        which in 0..3usize,
    ) {
        let (mut alice, mut bob) = honest_pair(1);
        let _ = alice.handle_frame(&hello(bob.auth_field()));
        let Ok(Step::Send { proof, .. }) = bob.handle_frame(&hello(alice.auth_field())) else { panic!() };
        let mut altered = proof.clone();
        match which {
            0 => altered["sig"] = json!(sig),
            1 => altered["for"] = json!(hex(&[nonce_byte; 32])),
            _ => altered["type"] = json!("mc.hello"),
        }
        prop_assume!(altered != proof);
        prop_assert!(!matches!(alice.handle_frame(&altered), Ok(Step::Verified(_))));
    }

    #[test]
    fn arbitrary_text_never_panics_the_parsers(text in ".{0,200}", lines in prop::collection::vec("(a=fingerprint:)?(sha-256 )?[0-9A-Fa-f:]{0,100}", 0..5)) {
        let _ = dtls_fingerprint(&text);
        let _ = dtls_fingerprint(&lines.join("\r\n"));
        let _ = PublicKey::parse(&text);
    }

    #[test]
    fn arbitrary_stored_records_never_panic(value in json_value()) {
        let _ = ContactBook::from_value(&value);
        if let Ok(record) = serde_json::from_value::<IdentityRecord>(value) {
            let _ = Identity::from_record(&record);
        }
    }
}

/// Issue 12: the worker's first sign-in made the PeerJS token from the first 16 of its 32 random bytes and
/// the identity key's seed from all 32. The token travels in the socket URL to the signaling server, the
/// very party the handshake defends against. Now each comes from its own derivation (`crate::entropy`).
#[test]
fn the_worker_s_peerjs_token_reveals_nothing_of_the_identity_seed() {
    use multichat_core::bridge::Request;
    use multichat_core::worker::MemShell;
    let mut shell = MemShell::seeded(7);
    shell.request(Request::SignIn { username: "alice".into() }, Millis(2));
    let token = shell.disk.0.get("account").and_then(|it| it["token"].as_str().map(str::to_owned)).expect("a token");
    let record: IdentityRecord = serde_json::from_value(shell.disk.0["identity"].clone()).unwrap();
    let seed: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&record.seed[2 * i..2 * i + 2], 16).unwrap()).collect();
    let from_seed = multichat_core::peerjs::signal::random_token(&seed[..16]);
    assert_ne!(token, from_seed, "the token is the seed's first 16 bytes, each reduced modulo 36");
}

proptest! {
    /// Issue 12: values derived for different purposes from the same shell bytes share nothing: the token
    /// is neither the old `random_token(bytes[..16])` nor made from the seed, and no value is the input.
    #[test]
    fn entropy_never_shares_bytes_between_purposes(random in proptest::array::uniform32(any::<u8>())) {
        use multichat_core::entropy::{Entropy, Purpose};
        use multichat_core::peerjs::signal::random_token;
        let entropy = Entropy::new(random);
        let seed = entropy.identity_seed();
        let token = entropy.peerjs_token();
        prop_assert_eq!(token.len(), 16);
        prop_assert_ne!(&token, &random_token(&random[..16]), "the old derivation");
        prop_assert_ne!(&token, &random_token(&seed[..16]));
        prop_assert_ne!(&token, &random_token(&seed[16..]));
        prop_assert_ne!(seed, random);
        let token_bytes: [u8; 16] = entropy.bytes(Purpose::PeerjsToken);
        prop_assert!(!seed.windows(4).any(|it| token_bytes.windows(4).any(|other| other == it)));
        let values = [seed, entropy.handshake(0), entropy.handshake(1), entropy.bytes(Purpose::MessageId)];
        for (i, x) in values.iter().enumerate() {
            for y in &values[i + 1..] {
                prop_assert_ne!(x, y);
            }
        }
    }
}
