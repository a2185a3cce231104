//! The identity gate between links and the chat node: an honest pair authenticates and then chats; a
//! relaying middle is refused at both ends and never sees a chat frame; a changed key is refused with a
//! warning; a peer without the handshake passes unverified.

use multichat_core::auth_gate::AuthGate;
use multichat_core::bridge::{LinkInfo, SessionPair};
use multichat_core::identity::{ContactBook, Identity};
use multichat_core::time::Millis;
use serde_json::{Value, json};

fn sdp(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", fingerprint.join(":"))
}

fn info(peer: &str, outgoing: bool, local: u8, remote: u8) -> LinkInfo {
    LinkInfo {
        link: "dc_1".into(),
        peer_id: format!("secure-p2p-multichat-{peer}"),
        metadata: Value::Null,
        outgoing,
        sessions: Some(SessionPair { local_sdp: sdp(local), remote_sdp: sdp(remote) }),
    }
}

fn gate(name: &str, seed: u8) -> AuthGate {
    AuthGate::new(Some(Identity::from_seed([seed; 32])), format!("secure-p2p-multichat-{name}"), ContactBook::new())
}

fn hello(user: &str) -> Value {
    json!({"type": "mc.hello", "v": 1, "user": user, "caps": [], "auth": null})
}

/// Runs the greeting the chat nodes make (the answerer greets first, the dialer answers) through both gates;
/// returns what each side's gate said when the other's proof arrived.
fn greet(alice: &mut AuthGate, bob: &mut AuthGate) -> (multichat_core::auth_gate::Inbound, multichat_core::auth_gate::Inbound) {
    let [hello_b] = bob.outbound("dc_1", hello("bob")).try_into().unwrap();
    assert!(hello_b["auth"].is_object(), "our hellos carry the key and a nonce");
    let at_alice = alice.inbound("dc_1", hello_b, Millis(1));
    assert_eq!(at_alice.to_chat.len(), 1, "the hello itself goes on to the chat node");
    let [proof_a] = at_alice.send.try_into().unwrap();
    // Alice's chat node answers the hello; the proof follows it.
    let [hello_a] = alice.outbound("dc_1", hello("alice")).try_into().unwrap();
    let at_bob = bob.inbound("dc_1", hello_a, Millis(2));
    let [proof_b] = at_bob.send.try_into().unwrap();
    // Until the proof verifies, chat frames wait in both directions.
    assert!(bob.outbound("dc_1", json!({"type": "mc.sync"})).is_empty());
    assert!(bob.inbound("dc_1", json!({"type": "chat", "chat": {}}), Millis(3)).to_chat.is_empty());
    let bob_verdict = bob.inbound("dc_1", proof_a, Millis(4));
    let alice_verdict = alice.inbound("dc_1", proof_b, Millis(5));
    (alice_verdict, bob_verdict)
}

#[test]
fn an_honest_pair_authenticates_and_then_chats() {
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    let (at_alice, at_bob) = greet(&mut alice, &mut bob);
    assert_eq!(at_alice.close, None);
    assert_eq!(at_bob.close, None);
    assert!(at_bob.contacts_changed, "the key is pinned");
    // What waited is released: bob's held sync goes out, alice's held chat comes in.
    assert_eq!(at_bob.send, vec![json!({"type": "mc.sync"})]);
    assert_eq!(at_bob.to_chat, vec![json!({"type": "chat", "chat": {}})]);
    assert!(alice.authenticated("secure-p2p-multichat-bob"));
    assert!(bob.authenticated("secure-p2p-multichat-alice"));
    assert_eq!(alice.outbound("dc_1", json!({"type": "chat"})).len(), 1);
}

#[test]
fn a_relaying_middle_is_refused_at_both_ends_and_reads_nothing() {
    // Mallory answers alice's OFFER herself (alice sees mallory's certificate 30) and dials bob with her own
    // (bob sees 31); she relays the handshake frames verbatim between the two DTLS sessions.
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 30), [7; 32]);
    bob.link_up(&info("alice", false, 20, 31), [8; 32]);
    let (at_alice, at_bob) = greet(&mut alice, &mut bob);
    let (alice_reason, bob_reason) = (at_alice.close.expect("alice refuses").1, at_bob.close.expect("bob refuses").1);
    assert!(alice_reason.contains("intercept"), "{alice_reason}");
    assert!(bob_reason.contains("intercept"), "{bob_reason}");
    assert!(at_bob.send.is_empty() && at_bob.to_chat.is_empty(), "nothing held is released to the middle");
    assert!(!alice.authenticated("secure-p2p-multichat-bob"));
}

#[test]
fn a_changed_key_for_a_known_username_is_refused_with_a_warning() {
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    greet(&mut alice, &mut bob);
    // Later someone else claims "bob" (while bob is offline) with another key, over an honest DTLS session.
    let contacts = alice.contacts().clone();
    let mut alice = AuthGate::new(Some(Identity::from_seed([1; 32])), "secure-p2p-multichat-alice".into(), contacts);
    let mut impostor = gate("bob", 66);
    alice.link_up(&info("bob", true, 11, 40), [9; 32]);
    impostor.link_up(&info("alice", false, 40, 11), [10; 32]);
    let (at_alice, _) = greet(&mut alice, &mut impostor);
    let (_, reason) = at_alice.close.expect("alice refuses the changed key");
    assert!(reason.contains("not the one you talked to before"), "{reason}");
}

#[test]
fn a_peer_without_the_handshake_passes_unverified() {
    let mut alice = gate("alice", 1);
    alice.link_up(&info("dave", true, 10, 20), [7; 32]);
    // An older multichat: a hello without auth.
    let inbound = alice.inbound("dc_1", hello("dave"), Millis(1));
    assert_eq!(inbound.to_chat.len(), 1);
    assert_eq!(inbound.close, None);
    assert_eq!(alice.inbound("dc_1", json!({"type": "chat", "chat": {}}), Millis(2)).to_chat.len(), 1);
    assert!(!alice.authenticated("secure-p2p-multichat-dave"));
    // The original page never says hello at all: its frames pass too.
    let mut alice = gate("alice", 1);
    alice.link_up(&info("erin", true, 10, 20), [7; 32]);
    assert_eq!(alice.inbound("dc_1", json!({"type": "connections", "peerIds": []}), Millis(1)).to_chat.len(), 1);
}

#[test]
fn a_peer_that_never_proves_its_key_is_dropped_in_time() {
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    let [hello_b] = bob.outbound("dc_1", hello("bob")).try_into().unwrap();
    alice.inbound("dc_1", hello_b, Millis(1_000));
    // The proof never comes.
    assert_eq!(alice.poll_timeout(), Some(Millis(11_000)));
    assert!(alice.handle_timeout(Millis(10_999)).is_empty());
    let expired = alice.handle_timeout(Millis(11_000));
    assert_eq!(expired.len(), 1);
    assert!(expired[0].2.contains("never proved its key"), "{}", expired[0].2);
    assert_eq!(alice.poll_timeout(), None);
}

#[test]
fn a_link_without_a_readable_fingerprint_is_refused() {
    let mut alice = gate("alice", 1);
    let mut link = info("bob", true, 10, 20);
    link.sessions.as_mut().unwrap().remote_sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n".into();
    let reason = alice.link_up(&link, [7; 32]).expect("refused");
    assert!(reason.contains("no readable DTLS fingerprint"), "{reason}");
    // An engine that reports no descriptions at all (an older one) still chats, unverified.
    let mut plain = info("bob", true, 10, 20);
    plain.sessions = None;
    assert_eq!(alice.link_up(&plain, [7; 32]), None);
    assert_eq!(alice.inbound("dc_1", hello("bob"), Millis(1)).to_chat.len(), 1);
}

#[test]
fn a_known_contact_without_the_handshake_is_a_warned_downgrade() {
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    greet(&mut alice, &mut bob);
    // Next time "bob" says hello without any key (a middle stripped it): chat goes on, with a warning.
    alice.link_up(&LinkInfo { link: "dc_2".into(), ..info("bob", true, 12, 22) }, [9; 32]);
    let inbound = alice.inbound("dc_2", hello("bob"), Millis(10));
    assert_eq!(inbound.to_chat.len(), 1);
    let (peer_id, text) = inbound.warning.expect("a downgrade warning");
    assert_eq!(peer_id, "secure-p2p-multichat-bob");
    assert!(text.contains("Someone may be in the middle"), "{text}");
    // A stranger without the handshake is simply unverified.
    alice.link_up(&info("carl", true, 13, 23), [9; 32]);
    assert_eq!(alice.inbound("dc_1", hello("carl"), Millis(11)).warning, None);
}
