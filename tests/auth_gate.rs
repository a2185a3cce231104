//! The identity gate between links and the chat node: an honest pair authenticates and then chats; a
//! relaying middle is refused at both ends and never sees a chat frame; a changed key is held until the user
//! accepts or rejects it; a peer without the handshake passes unverified.

use multichat_core::account::Username;
use multichat_core::auth_gate::AuthGate;
use multichat_core::bridge::{LinkInfo, SessionPair};
use multichat_core::identity::{ContactBook, Identity};
use multichat_core::time::Millis;
use serde_json::{Value, json};

fn sdp(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        fingerprint.join(":")
    )
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
fn greet(
    alice: &mut AuthGate,
    bob: &mut AuthGate,
) -> (multichat_core::auth_gate::Inbound, multichat_core::auth_gate::Inbound) {
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
    // Until the engine reports the refused link closed, nothing more crosses it either way.
    assert!(bob.inbound("dc_1", json!({"type": "chat", "chat": {}}), Millis(6)).to_chat.is_empty());
    assert!(bob.outbound("dc_1", json!({"type": "mc.sync"})).is_empty());
    assert!(!alice.authenticated("secure-p2p-multichat-bob"));
}

/// Alice, who pinned bob's key, meets someone proving another key for "bob" (an impostor while bob is
/// offline, or bob on a new install) over an honest DTLS session. Returns alice's gate and the other side's.
fn meet_changed_key() -> (AuthGate, AuthGate, multichat_core::auth_gate::Inbound) {
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    greet(&mut alice, &mut bob);
    let contacts = alice.contacts().clone();
    let mut alice = AuthGate::new(Some(Identity::from_seed([1; 32])), "secure-p2p-multichat-alice".into(), contacts);
    let mut other = gate("bob", 66);
    alice.link_up(&info("bob", true, 11, 40), [9; 32]);
    other.link_up(&info("alice", false, 40, 11), [10; 32]);
    let (at_alice, _) = greet(&mut alice, &mut other);
    (alice, other, at_alice)
}

fn bob() -> Username {
    Username::parse("bob").unwrap()
}

#[test]
fn a_changed_key_for_a_known_username_is_held_until_the_user_decides() {
    let (mut alice, _other, at_alice) = meet_changed_key();
    assert_eq!(at_alice.close, None, "held, not refused: only the user can tell a new install from an impostor");
    assert!(at_alice.contacts_changed, "the new key is stored as pending");
    assert_eq!(at_alice.new_key_from, Some(bob()), "the user is told, even with no popup open");
    assert!(at_alice.to_chat.is_empty(), "what the other side sent while unproved stays held: {:?}", at_alice.to_chat);
    let contact = alice.contacts().get(&bob()).unwrap();
    assert_eq!(contact.key, Identity::from_seed([2; 32]).public_key(), "the pinned key is unchanged");
    assert_eq!(contact.pending_key.as_ref().unwrap().key, Identity::from_seed([66; 32]).public_key());
    assert!(alice.held("secure-p2p-multichat-bob"));
    assert!(!alice.authenticated("secure-p2p-multichat-bob"), "a held link is not shown as authenticated");
    // Chat stays held both ways; liveness passes, so the link is not dropped for silence meanwhile.
    assert!(alice.inbound("dc_1", json!({"type": "chat", "chat": {"text": "it is me"}}), Millis(6)).to_chat.is_empty());
    assert!(alice.outbound("dc_1", json!({"type": "mc.sync"})).is_empty());
    assert_eq!(alice.inbound("dc_1", json!({"type": "mc.ping", "n": 1}), Millis(7)).to_chat.len(), 1);
    assert_eq!(alice.outbound("dc_1", json!({"type": "mc.pong", "n": 1})).len(), 1);
}

#[test]
fn accepting_a_changed_key_pins_it_and_releases_what_was_held_in_order() {
    let (mut alice, _other, _) = meet_changed_key();
    alice.inbound("dc_1", json!({"type": "chat", "n": 1}), Millis(6));
    alice.inbound("dc_1", json!({"type": "chat", "n": 2}), Millis(7));
    alice.outbound("dc_1", json!({"type": "mc.sync"}));
    let new_key = Identity::from_seed([66; 32]).public_key();
    let released = alice.accept_new_key(&bob(), &new_key, Millis(8)).unwrap();
    assert_eq!(released.len(), 1);
    let n: Vec<i64> = released[0].to_chat.iter().filter_map(|it| it["n"].as_i64()).collect();
    assert_eq!(n, [1, 2], "held frames reach the chat node in order");
    assert_eq!(released[0].send, vec![json!({"type": "mc.sync"})]);
    assert_eq!(alice.contacts().get(&bob()).unwrap().key, new_key);
    assert!(alice.authenticated("secure-p2p-multichat-bob"));
    assert_eq!(alice.inbound("dc_1", json!({"type": "chat"}), Millis(9)).to_chat.len(), 1, "and chat flows");
    // Accepting a key that is not the one waiting is refused.
    assert!(alice.accept_new_key(&bob(), &Identity::from_seed([67; 32]).public_key(), Millis(10)).is_err());
}

#[test]
fn rejecting_a_changed_key_drops_what_was_held_and_refuses_it_from_then_on() {
    let (mut alice, _other, _) = meet_changed_key();
    alice.inbound("dc_1", json!({"type": "chat", "n": 1}), Millis(6));
    let new_key = Identity::from_seed([66; 32]).public_key();
    let closed = alice.reject_new_key(&bob(), &new_key).unwrap();
    assert_eq!(closed, vec!["dc_1".to_owned()]);
    assert!(!alice.held("secure-p2p-multichat-bob"));
    assert_eq!(
        alice.contacts().get(&bob()).unwrap().key,
        Identity::from_seed([2; 32]).public_key(),
        "the old key stays pinned"
    );
    // The same key again, on a new link: refused at once, without asking again.
    let contacts = alice.contacts().clone();
    let mut alice = AuthGate::new(Some(Identity::from_seed([1; 32])), "secure-p2p-multichat-alice".into(), contacts);
    let mut other = gate("bob", 66);
    alice.link_up(&info("bob", true, 12, 41), [11; 32]);
    other.link_up(&info("alice", false, 41, 12), [12; 32]);
    let (at_alice, _) = greet(&mut alice, &mut other);
    let (_, reason) = at_alice.close.expect("a rejected key is refused");
    assert!(reason.contains("rejected"), "{reason}");
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
    assert_eq!(alice.poll_timeout(), Some(Millis(9_000)));
    assert!(alice.handle_timeout(Millis(8_999)).is_empty());
    let expired = alice.handle_timeout(Millis(9_000));
    assert_eq!(expired.len(), 1);
    assert!(expired[0].2.contains("never proved its identity key"), "{}", expired[0].2);
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

#[test]
fn a_handshake_replayed_from_another_connection_never_verifies_and_is_named() {
    // Mallory recorded bob's hello and proof on an earlier connection with alice ...
    let (mut alice, mut bob) = (gate("alice", 1), gate("bob", 2));
    alice.link_up(&info("bob", true, 10, 20), [7; 32]);
    bob.link_up(&info("alice", false, 20, 10), [8; 32]);
    let [recorded_hello] = bob.outbound("dc_1", hello("bob")).try_into().unwrap();
    let at_bob = bob.inbound("dc_1", alice.outbound("dc_1", hello("alice")).remove(0), Millis(1));
    let [recorded_proof] = at_bob.send.try_into().unwrap();
    alice.inbound("dc_1", recorded_hello.clone(), Millis(1));
    assert!(alice.inbound("dc_1", recorded_proof.clone(), Millis(2)).close.is_none());
    assert!(alice.authenticated("secure-p2p-multichat-bob"));

    // ... and plays them back later, posing as bob (offline) on a session of her own.
    let contacts = alice.contacts().clone();
    let mut alice = AuthGate::new(Some(Identity::from_seed([1; 32])), "secure-p2p-multichat-alice".into(), contacts);
    alice.link_up(&info("bob", true, 11, 50), [9; 32]);
    alice.outbound("dc_1", hello("alice"));
    let at_alice = alice.inbound("dc_1", recorded_hello, Millis(10_000));
    assert_eq!(at_alice.send.len(), 1, "alice answers the hello with her own proof");
    let at_alice = alice.inbound("dc_1", recorded_proof, Millis(10_001));
    assert!(at_alice.to_chat.is_empty() && at_alice.send.is_empty());
    let at_alice = alice.inbound("dc_1", json!({"type": "chat", "chat": {"message": "replayed"}}), Millis(10_002));
    assert!(at_alice.to_chat.is_empty(), "nothing from the replayer reaches the chat");
    assert!(!alice.authenticated("secure-p2p-multichat-bob"));
    let expired = alice.handle_timeout(Millis(18_000));
    assert_eq!(expired.len(), 1, "the link is dropped when no proof for this connection comes");
    assert!(expired[0].2.contains("replaying an old handshake"), "{}", expired[0].2);
}

// ---------------------------------------------------------------------------------------------------------
// Issue 12: squatters. Each test below reproduces one attack against the gate and a chat node wired as the
// worker wires them (`Side`), with the attacker scripted frame by frame.

mod squatters {
    use multichat_core::account::Username;
    use multichat_core::auth_gate::AuthGate;
    use multichat_core::bridge::{LinkInfo, SessionPair};
    use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, LinkMetadata, OurMetadata};
    use multichat_core::chat::{ChatNode, Command, DeliveryState, Input, MessageId, Output, RoomId};
    use multichat_core::identity::{ContactBook, Identity};
    use multichat_core::time::Millis;
    use serde_json::{Value, json};

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    fn sessions(local: u8, remote: u8) -> Option<SessionPair> {
        Some(SessionPair { local_sdp: super::sdp(local), remote_sdp: super::sdp(remote) })
    }

    fn our_metadata() -> Value {
        wire::encode_metadata(&LinkMetadata {
            peer_ids: Vec::new(),
            ours: Some(OurMetadata { version: wire::PROTOCOL_VERSION, room: None }),
        })
    }

    /// One user's gate and chat node, driven as `src/worker.rs` drives them; what goes out is recorded.
    struct Side {
        gate: AuthGate,
        chat: ChatNode,
        seed: u8,
        /// Frames sent, by link, in order.
        wire: Vec<(String, Value)>,
        /// Links closed (by the gate or the chat node).
        closed: Vec<String>,
    }

    impl Side {
        fn new(name: &str, seed: u8, contacts: ContactBook, now: Millis) -> Side {
            let me = user(name);
            let gate = AuthGate::new(Some(Identity::from_seed([seed; 32])), me.peer_id(), contacts);
            Side { gate, chat: ChatNode::new(me, now), seed, wire: Vec::new(), closed: Vec::new() }
        }

        fn drain(&mut self) {
            while let Some(output) = self.chat.poll_output() {
                match output {
                    Output::Send { link, frame } => {
                        for frame in self.gate.outbound(&link, frame) {
                            self.wire.push((link.clone(), frame));
                        }
                    }
                    Output::Close { link } => self.closed.push(link),
                    _ => {}
                }
            }
        }

        fn command(&mut self, now: Millis, command: Command) -> Option<RoomId> {
            let room = self.chat.handle_command(now, command).unwrap();
            self.drain();
            room
        }

        fn link_up(&mut self, info: LinkInfo, now: Millis) {
            self.seed = self.seed.wrapping_add(1);
            if self.gate.link_up(&info, [self.seed; 32]).is_some() {
                self.closed.push(info.link);
                return;
            }
            let LinkInfo { link, peer_id, metadata, outgoing, .. } = info;
            self.chat.handle_input(now, Input::LinkUp { link, peer_id, metadata, outgoing });
            self.drain();
        }

        fn frame(&mut self, link: &str, frame: Value, now: Millis) {
            let inbound = self.gate.inbound(link, frame, now);
            if inbound.close.is_some() {
                self.closed.push(link.to_owned());
                self.chat.handle_input(now, Input::LinkDown { link: link.to_owned() });
                self.drain();
                return;
            }
            for frame in inbound.to_chat {
                self.chat.handle_input(now, Input::Frame { link: link.to_owned(), frame });
                self.drain();
            }
            for frame in inbound.send {
                self.wire.push((link.to_owned(), frame));
            }
        }

        fn tick(&mut self, now: Millis) {
            for (link, _, _) in self.gate.handle_timeout(now) {
                self.closed.push(link.clone());
                self.chat.handle_input(now, Input::LinkDown { link });
            }
            self.chat.handle_timeout(now);
            self.drain();
        }

        /// Everything sent on `link` so far, as text.
        fn sent_on(&self, link: &str) -> String {
            self.wire.iter().filter(|(it, _)| it == link).map(|(_, frame)| frame.to_string()).collect()
        }

        fn texts_from(&self, room: &RoomId, sender: &str) -> Vec<String> {
            self.chat
                .messages(room)
                .iter()
                .filter(|it| it.sender.as_str() == sender)
                .map(|it| it.text.clone())
                .collect()
        }
    }

    /// Moves the frames each side sent on `link` to the other, until both are quiet.
    fn pump(a: &mut Side, b: &mut Side, link: &str, now: Millis) {
        let (mut a_seen, mut b_seen) = (0, 0);
        for _ in 0..100 {
            let from_a: Vec<Value> =
                a.wire[a_seen..].iter().filter(|(it, _)| it == link).map(|(_, f)| f.clone()).collect();
            let from_b: Vec<Value> =
                b.wire[b_seen..].iter().filter(|(it, _)| it == link).map(|(_, f)| f.clone()).collect();
            (a_seen, b_seen) = (a.wire.len(), b.wire.len());
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for frame in from_a {
                b.frame(link, frame, now);
            }
            for frame in from_b {
                a.frame(link, frame, now);
            }
        }
        panic!("the two sides never went quiet");
    }

    fn bob_key() -> multichat_core::identity::PublicKey {
        Identity::from_seed([2; 32]).public_key()
    }

    /// Alice has bob's key pinned (they authenticated before), bob is offline, and she writes to him.
    fn alice_waiting_for_bob() -> (Side, RoomId) {
        let mut contacts = ContactBook::new();
        contacts.observe(&user("bob"), bob_key(), Millis(1));
        let mut alice = Side::new("alice", 1, contacts, Millis(10));
        let room = alice.command(Millis(20), Command::OpenDirect { username: user("bob") }).unwrap();
        alice.command(Millis(30), Command::Send { room: room.clone(), text: "for bob only".into(), random: [1; 16] });
        (alice, room)
    }

    fn squatter_chat(room: &RoomId, text: &str, seq: u64) -> Value {
        wire::encode(&Frame::Chat(ChatFrame {
            sender: user("bob"),
            text: text.into(),
            timestamp: Millis(1_000 + seq),
            ours: Some(ChatExtras { id: MessageId::from_random([seq as u8 + 90; 16]), seq, room: room.clone() }),
        }))
    }

    fn original_chat(text: &str) -> Value {
        json!({"type": "chat", "chat": {"sender": "bob", "message": text, "timestamp": 1_500}})
    }

    #[test]
    fn a_squatter_that_dials_with_our_metadata_and_never_greets_gets_nothing() {
        let (mut alice, room) = alice_waiting_for_bob();
        let info = LinkInfo {
            link: "dc_sq".into(),
            peer_id: user("bob").peer_id(),
            metadata: our_metadata(),
            outgoing: false,
            sessions: sessions(10, 66),
        };
        alice.link_up(info, Millis(100));
        // No hello, ever: chat, a room announcement, a catch-up request and a batch, as bob.
        alice.frame("dc_sq", squatter_chat(&room, "squatter text", 1), Millis(110));
        let sync = wire::encode(&Frame::Sync { room: room.clone(), heads: Default::default() });
        alice.frame("dc_sq", sync, Millis(120));
        alice.frame("dc_sq", json!({"type": "connections", "peerIds": ["secure-p2p-multichat-carol"]}), Millis(130));
        for now in (1_000..20_000).step_by(1_000) {
            alice.tick(Millis(now));
        }
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new(), "nothing the squatter sent is stored");
        let sent = alice.sent_on("dc_sq");
        assert!(!sent.contains("for bob only"), "the outbox never goes to the squatter: {sent}");
        assert_eq!(alice.chat.messages(&room)[0].state, Some(DeliveryState::Sending), "still waiting for bob");
    }

    #[test]
    fn a_squatter_that_dials_as_the_original_page_gets_nothing() {
        let (mut alice, room) = alice_waiting_for_bob();
        let info = LinkInfo {
            link: "dc_sq".into(),
            peer_id: user("bob").peer_id(),
            metadata: Value::Null,
            outgoing: false,
            sessions: sessions(10, 66),
        };
        alice.link_up(info, Millis(100));
        alice.frame("dc_sq", original_chat("squatter text"), Millis(110));
        for now in (1_000..20_000).step_by(1_000) {
            alice.tick(Millis(now));
        }
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new(), "nothing the squatter sent is stored");
        let sent = alice.sent_on("dc_sq");
        assert!(!sent.contains("for bob only"), "the outbox never goes to the squatter: {sent}");
        assert_eq!(alice.chat.messages(&room)[0].state, Some(DeliveryState::Sending), "not marked delivered");
    }

    #[test]
    fn a_squatter_that_answers_our_dial_as_the_original_page_gets_nothing() {
        let (mut alice, room) = alice_waiting_for_bob();
        // Alice redials bob; whoever holds bob's PeerJS id answers, and says nothing (as the original page).
        let info = LinkInfo {
            link: "dc_out".into(),
            peer_id: user("bob").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(10, 66),
        };
        alice.link_up(info, Millis(100));
        for now in (1_000..20_000).step_by(1_000) {
            alice.tick(Millis(now));
        }
        alice.frame("dc_out", original_chat("squatter text"), Millis(20_000));
        let sent = alice.sent_on("dc_out");
        assert!(!sent.contains("for bob only"), "the outbox never goes to the squatter: {sent}");
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new(), "nothing the squatter sent is stored");
        assert_eq!(alice.chat.messages(&room)[0].state, Some(DeliveryState::Sending), "not marked delivered");
    }

    /// Alice and bob, authenticated on `dc_1`.
    fn alice_and_bob_authenticated() -> (Side, Side, RoomId) {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let mut bob = Side::new("bob", 2, ContactBook::new(), Millis(10));
        let room = alice.command(Millis(20), Command::OpenDirect { username: user("bob") }).unwrap();
        let dialer = LinkInfo {
            link: "dc_1".into(),
            peer_id: user("bob").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(10, 20),
        };
        let answerer = LinkInfo {
            peer_id: user("alice").peer_id(),
            outgoing: false,
            sessions: sessions(20, 10),
            ..dialer.clone()
        };
        alice.link_up(dialer, Millis(30));
        bob.link_up(answerer, Millis(30));
        pump(&mut alice, &mut bob, "dc_1", Millis(40));
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        assert!(alice.chat.is_online(&user("bob")));
        (alice, bob, room)
    }

    #[test]
    fn an_unproved_second_link_never_displaces_a_verified_one() {
        let (mut alice, mut bob, room) = alice_and_bob_authenticated();
        // A malicious server opens a second link "from bob": a hello naming bob's key (public) and a new
        // session, then nothing it could prove.
        let info = LinkInfo {
            link: "dc_2".into(),
            peer_id: user("bob").peer_id(),
            metadata: our_metadata(),
            outgoing: false,
            sessions: sessions(11, 77),
        };
        alice.link_up(info, Millis(50));
        let hello = json!({
            "type": "mc.hello", "v": 1, "user": "bob", "caps": wire::OUR_CAPABILITIES, "session": 424_242,
            "auth": {"v": 1, "key": bob_key().to_string(), "nonce": "ab".repeat(32)},
        });
        alice.frame("dc_2", hello, Millis(60));
        alice.frame("dc_2", squatter_chat(&room, "squatter text", 1), Millis(61));
        assert!(!alice.closed.contains(&"dc_1".to_owned()), "the verified link is kept: {:?}", alice.closed);
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        alice.command(Millis(70), Command::Send { room: room.clone(), text: "still private".into(), random: [3; 16] });
        assert!(alice.sent_on("dc_1").contains("still private"), "chat goes on over the verified link");
        assert!(!alice.sent_on("dc_2").contains("still private"), "and never over the unproved one");
        pump(&mut alice, &mut bob, "dc_1", Millis(80));
        assert_eq!(bob.texts_from(&room, "alice"), ["still private"]);
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new());
    }
}
