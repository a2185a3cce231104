//! The identity gate between links and the chat node (`LinkGate`), wired to a chat node as the worker wires
//! them: an honest pair authenticates and then chats; a relaying middle is refused at both ends and never
//! sees a chat frame; a changed key is held until the user accepts or rejects it; a stranger without the
//! handshake passes unverified; and every squatter attack of issue 12 gets nothing.

fn sdp(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        fingerprint.join(":")
    )
}

// ---------------------------------------------------------------------------------------------------------
// Issue 12: squatters. Each test below reproduces one attack against the gate and a chat node wired as the
// worker wires them (`Side`), with the attacker scripted frame by frame.

mod squatters {
    use multichat_core::account::Username;
    use multichat_core::auth_gate::{Alert, AlertKind, ChatLinkUp, GateOutput, LinkGate};
    use multichat_core::auth_gate::{HELLO_DEADLINE_MS, ORIGINAL_PAGE_GRACE_MS};
    use multichat_core::bridge::{LinkInfo, SessionPair};
    use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, LinkMetadata, OurMetadata};
    use multichat_core::chat::{ChatNode, Command, DeliveryState, Input, MessageId, Output, RoomId};
    use multichat_core::identity::{ContactBook, Identity, Unproved, UnverifiedLinks};
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
            ours: Some(OurMetadata { version: wire::PROTOCOL_VERSION }),
        })
    }

    /// One user's gate and chat node, wired as the worker is to wire them (`LinkGate`'s `GateOutput`, in the
    /// documented order); what goes out is recorded.
    struct Side {
        gate: LinkGate,
        chat: ChatNode,
        seed: u8,
        /// Frames sent, by link, in order.
        wire: Vec<(String, Value)>,
        /// How many of `wire` were handed to the other side.
        pumped: usize,
        /// Links closed (by the gate or the chat node).
        closed: Vec<String>,
        /// Why the gate closed links.
        reasons: Vec<String>,
        alerts: Vec<Alert>,
    }

    impl Side {
        fn new(name: &str, seed: u8, contacts: ContactBook, now: Millis) -> Side {
            let me = user(name);
            let gate = LinkGate::new(Some(Identity::from_seed([seed; 32])), me.clone(), contacts, now);
            Side {
                gate,
                chat: ChatNode::new(me, now),
                seed,
                wire: Vec::new(),
                pumped: 0,
                closed: Vec::new(),
                reasons: Vec::new(),
                alerts: Vec::new(),
            }
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

        fn apply(&mut self, out: GateOutput, now: Millis) {
            for closing in out.close {
                self.closed.push(closing.link.clone());
                self.reasons.push(closing.reason.english());
                self.chat.handle_input(now, Input::LinkDown { link: closing.link });
                self.drain();
            }
            self.wire.extend(out.send);
            for up in out.to_chat_link_up {
                let ChatLinkUp { link, peer_id, metadata, outgoing, resumed } = up;
                let input = if resumed {
                    Input::LinkResumed { link, peer_id, metadata, outgoing }
                } else {
                    Input::LinkUp { link, peer_id, metadata, outgoing }
                };
                self.chat.handle_input(now, input);
                self.drain();
            }
            for (link, frame) in out.to_chat {
                self.chat.handle_input(now, Input::Frame { link, frame });
                self.drain();
            }
            for peer_id in out.dial_failed {
                self.chat.handle_input(now, Input::DialFailed { peer_id });
                self.drain();
            }
            self.alerts.extend(out.alerts);
        }

        fn command(&mut self, now: Millis, command: Command) -> Option<RoomId> {
            let room = self.chat.handle_command(now, command).unwrap();
            self.drain();
            room
        }

        fn link_up(&mut self, info: LinkInfo, now: Millis) {
            self.seed = self.seed.wrapping_add(1);
            let out = self.gate.link_up(info, [self.seed; 32], now);
            self.apply(out, now);
        }

        fn frame(&mut self, link: &str, frame: Value, now: Millis) {
            let out = self.gate.inbound(link, frame, now);
            self.apply(out, now);
        }

        fn tick(&mut self, now: Millis) {
            let out = self.gate.handle_timeout(now);
            self.apply(out, now);
            self.chat.handle_timeout(now);
            self.drain();
        }

        fn contacts_key(&self) -> multichat_core::identity::PublicKey {
            self.gate.contacts().get(&user("bob")).expect("bob is pinned").key
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

    /// Moves the frames each side sent on `link` since the last pump to the other, until both are quiet.
    fn pump(a: &mut Side, b: &mut Side, link: &str, now: Millis) {
        for _ in 0..100 {
            let fresh = |side: &mut Side| {
                let frames: Vec<Value> =
                    side.wire[side.pumped..].iter().filter(|(it, _)| it == link).map(|(_, f)| f.clone()).collect();
                side.pumped = side.wire.len();
                frames
            };
            let (from_a, from_b) = (fresh(a), fresh(b));
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
            ours: Some(ChatExtras {
                id: MessageId::from_random([seq as u8 + 90; 16]),
                seq,
                room: room.clone(),
                sig: None,
                act: None,
            }),
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
        assert!(!alice.chat.is_online(&user("bob")), "the chat node never learned of the link");
        assert_eq!(alice.alerts, [unproved_alert(Unproved::NoHello, true)], "held like a changed key, and told once");
        assert!(alice.gate.held(&user("bob").peer_id()));
        assert!(alice.gate.contacts().get(&user("bob")).unwrap().unproved.is_some(), "stored with the contact");
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
        assert!(!alice.chat.is_online(&user("bob")), "the chat node never learned of the link");
        assert_eq!(alice.alerts, [unproved_alert(Unproved::OriginalPage, true)]);
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
        // Bob spoke multichat before: his silence gets the full hello deadline, not the original page's 3 s.
        assert_eq!(alice.gate.poll_timeout(), Some(Millis(100 + HELLO_DEADLINE_MS)));
        for now in (1_000..20_000).step_by(1_000) {
            alice.tick(Millis(now));
        }
        alice.frame("dc_out", original_chat("squatter text"), Millis(20_000));
        let sent = alice.sent_on("dc_out");
        assert!(!sent.contains("for bob only"), "the outbox never goes to the squatter: {sent}");
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new(), "nothing the squatter sent is stored");
        assert_eq!(alice.chat.messages(&room)[0].state, Some(DeliveryState::Sending), "not marked delivered");
        assert_eq!(alice.alerts, [unproved_alert(Unproved::OriginalPage, true)]);
    }

    fn unproved_alert(how: Unproved, first_time: bool) -> Alert {
        Alert { username: user("bob"), kind: AlertKind::Unproved(how), first_time }
    }

    fn squatter_link(link: &str, metadata: Value) -> LinkInfo {
        LinkInfo {
            link: link.into(),
            peer_id: user("bob").peer_id(),
            metadata,
            outgoing: false,
            sessions: sessions(10, 66),
        }
    }

    #[test]
    fn a_later_link_never_clears_the_warning_and_the_real_bob_gets_the_outbox_when_back() {
        let mut bob = Side::new("bob", 2, ContactBook::new(), Millis(5));
        let mut contacts = ContactBook::new();
        contacts.observe(&user("bob"), bob_key(), Millis(1));
        let mut alice = Side::new("alice", 1, contacts, Millis(10));
        let room = alice.command(Millis(20), Command::OpenDirect { username: user("bob") }).unwrap();
        alice.command(Millis(30), Command::Send { room: room.clone(), text: "for bob only".into(), random: [1; 16] });
        // The squatter as the original page, then again, dialing with our metadata and never greeting.
        alice.link_up(squatter_link("dc_sq1", Value::Null), Millis(100));
        alice.frame("dc_sq1", original_chat("squatter text"), Millis(110));
        alice.link_up(squatter_link("dc_sq2", our_metadata()), Millis(200));
        alice.frame("dc_sq2", squatter_chat(&room, "squatter again", 1), Millis(210));
        for now in (1_000..12_000).step_by(1_000) {
            alice.tick(Millis(now));
        }
        let how = |side: &Side| side.gate.contacts().get(&user("bob")).unwrap().unproved.as_ref().map(|it| it.how);
        assert_eq!(how(&alice), Some(Unproved::OriginalPage), "the first warning stands");
        assert_eq!(
            alice.alerts,
            [unproved_alert(Unproved::OriginalPage, true), unproved_alert(Unproved::NoHello, false)],
            "the second squatter refreshes the warning, it is not a new notification, and it clears nothing"
        );
        assert!(alice.closed.contains(&"dc_sq1".to_owned()), "one held unproved link per contact is enough");

        // The real bob is back and dials alice: his link proves his key and gets what waited for him.
        let room_bob = bob.command(Millis(12_000), Command::OpenDirect { username: user("alice") }).unwrap();
        assert_eq!(room_bob, room);
        let dialer = LinkInfo {
            link: "dc_bob".into(),
            peer_id: user("alice").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(30, 40),
        };
        let answerer =
            LinkInfo { peer_id: user("bob").peer_id(), outgoing: false, sessions: sessions(40, 30), ..dialer.clone() };
        bob.link_up(dialer, Millis(12_010));
        alice.link_up(answerer, Millis(12_010));
        pump(&mut alice, &mut bob, "dc_bob", Millis(12_020));
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        assert_eq!(bob.texts_from(&room, "alice"), ["for bob only"], "alice's message reaches the real bob");
        assert_eq!(alice.chat.messages(&room)[0].state, Some(DeliveryState::Delivered));
        assert!(!alice.sent_on("dc_sq2").contains("for bob only"), "and only him");
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new());
        assert_eq!(how(&alice), Some(Unproved::OriginalPage), "even bob proving his key does not clear the warning");

        // Only the user's decision does; "Block" keeps bob's proved link and closes the squatter's.
        let out = alice.gate.block_unverified(&user("bob")).unwrap();
        assert!(out.contacts_changed);
        assert_eq!(out.close.iter().map(|it| it.link.as_str()).collect::<Vec<_>>(), ["dc_sq2"]);
        alice.apply(out, Millis(13_000));
        assert_eq!(how(&alice), None);
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        let stored = ContactBook::from_value(&alice.gate.contacts().to_value()).unwrap();
        assert_eq!(stored.get(&user("bob")).unwrap().unverified_links, UnverifiedLinks::Block, "kept across restarts");
        alice.link_up(squatter_link("dc_sq3", Value::Null), Millis(14_000));
        assert!(alice.closed.contains(&"dc_sq3".to_owned()), "blocked at once from then on");
        assert!(alice.reasons.last().unwrap().contains("block"), "{:?}", alice.reasons.last());
    }

    #[test]
    fn allowing_unverified_lets_a_contact_chat_marked_unverified_but_never_over_a_proved_link() {
        let (mut alice, room) = alice_waiting_for_bob();
        alice.link_up(squatter_link("dc_old", Value::Null), Millis(100));
        alice.frame("dc_old", original_chat("from bob's old laptop"), Millis(110));
        assert!(alice.gate.held(&user("bob").peer_id()));
        let out = alice.gate.allow_unverified(&user("bob")).unwrap();
        assert_eq!(out.to_chat_link_up.len(), 1, "the held link goes to the chat node now");
        let (peer_id, warning) = out.warnings[0].clone();
        assert_eq!(peer_id, user("bob").peer_id());
        let warning = warning.english();
        assert!(warning.contains("unverified"), "{warning}");
        alice.apply(out, Millis(120));
        assert_eq!(alice.texts_from(&room, "bob"), ["from bob's old laptop"], "what it held, in order");
        assert!(alice.sent_on("dc_old").contains("for bob only"), "the user allowed it: the outbox goes");
        assert!(!alice.gate.authenticated(&user("bob").peer_id()), "shown unverified");
        assert_eq!(alice.gate.contacts().get(&user("bob")).unwrap().unproved, None);
        assert_eq!(
            alice.gate.contacts().get(&user("bob")).unwrap().unverified_links,
            UnverifiedLinks::Allow,
            "kept with the contact"
        );
    }

    #[test]
    fn an_allowed_unverified_link_cannot_displace_a_proved_one() {
        let (mut alice, _bob, _room) = alice_and_bob_authenticated();
        alice.gate.contacts_mut().allow_unverified(&user("bob")).unwrap();
        alice.link_up(squatter_link("dc_2", Value::Null), Millis(100));
        assert!(alice.closed.contains(&"dc_2".to_owned()));
        assert!(!alice.closed.contains(&"dc_1".to_owned()));
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
    }

    #[test]
    fn a_stranger_keeps_today_s_behaviour_and_a_first_key_is_flagged_new() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        // The original page of someone alice never met: chat at once, unverified, no alert.
        let info = LinkInfo { peer_id: user("dave").peer_id(), ..squatter_link("dc_dave", Value::Null) };
        alice.link_up(info, Millis(20));
        alice.frame(
            "dc_dave",
            json!({"type": "chat", "chat": {"sender": "dave", "message": "hi", "timestamp": 21}}),
            Millis(21),
        );
        assert!(alice.chat.is_online(&user("dave")));
        let dave_room = RoomId::direct(&user("alice"), &user("dave"));
        assert_eq!(alice.texts_from(&dave_room, "dave"), ["hi"]);
        assert!(alice.alerts.is_empty());
        // A first handshake pins the key and says so, for the "new and unverified" notice.
        let mut bob = Side::new("bob", 2, ContactBook::new(), Millis(10));
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
        let out = bob.gate.link_up(answerer, [40; 32], Millis(30));
        bob.apply(out, Millis(30));
        let out = alice.gate.link_up(dialer, [41; 32], Millis(30));
        alice.apply(out, Millis(30));
        let hello = bob.wire[0].1.clone();
        let out = alice.gate.inbound("dc_1", hello, Millis(31));
        alice.apply(out, Millis(31));
        let mut first_contact = Vec::new();
        for (_, frame) in alice.wire.clone() {
            let out = bob.gate.inbound("dc_1", frame, Millis(32));
            first_contact.extend(out.first_contact.clone());
            bob.apply(out, Millis(32));
        }
        assert_eq!(first_contact, [user("alice")]);
        let notice = multichat_core::auth_gate::first_contact_notice(&user("alice"));
        assert!(notice.contains("new and unverified") && notice.contains("safety numbers"), "{notice}");
    }

    #[test]
    fn a_link_that_never_greets_is_closed_in_time() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let info = LinkInfo { peer_id: user("erin").peer_id(), ..squatter_link("dc_e", our_metadata()) };
        alice.link_up(info, Millis(1_000));
        assert_eq!(alice.gate.poll_timeout(), Some(Millis(1_000 + HELLO_DEADLINE_MS)));
        alice.tick(Millis(1_000 + HELLO_DEADLINE_MS - 1));
        assert!(alice.closed.is_empty());
        alice.tick(Millis(1_000 + HELLO_DEADLINE_MS));
        assert_eq!(alice.closed, ["dc_e"]);
        assert!(alice.reasons[0].contains("never greeted"), "{}", alice.reasons[0]);
        assert!(!alice.chat.is_online(&user("erin")));
        assert_eq!(alice.gate.poll_timeout(), None);
    }

    #[test]
    fn a_description_with_a_second_certificate_is_refused_with_the_reason() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let mut info = squatter_link("dc_fp", our_metadata());
        let extra = format!("a=fingerprint:sha-384 {}\r\n", ["5A"; 48].join(":"));
        info.sessions.as_mut().unwrap().remote_sdp.push_str(&extra);
        alice.link_up(info, Millis(20));
        assert_eq!(alice.closed, ["dc_fp"]);
        assert!(alice.reasons[0].contains("more than one DTLS certificate"), "{}", alice.reasons[0]);
        assert!(alice.wire.is_empty(), "not even a hello went out");
    }

    #[test]
    fn a_held_link_is_kept_alive_and_a_changed_key_is_admitted_only_once_accepted() {
        let (mut alice, room) = alice_waiting_for_bob();
        // "bob" on a new install (another key) dials alice over an honest session.
        let mut new_bob = Side::new("bob", 66, ContactBook::new(), Millis(10));
        new_bob.command(Millis(20), Command::OpenDirect { username: user("alice") });
        new_bob.command(Millis(21), Command::Send { room: room.clone(), text: "it is me".into(), random: [5; 16] });
        let dialer = LinkInfo {
            link: "dc_new".into(),
            peer_id: user("alice").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(50, 60),
        };
        let answerer =
            LinkInfo { peer_id: user("bob").peer_id(), outgoing: false, sessions: sessions(60, 50), ..dialer.clone() };
        new_bob.link_up(dialer, Millis(100));
        alice.link_up(answerer, Millis(100));
        pump(&mut alice, &mut new_bob, "dc_new", Millis(110));
        let new_key = Identity::from_seed([66; 32]).public_key();
        assert_eq!(
            alice.alerts,
            [Alert { username: user("bob"), kind: AlertKind::KeyChanged { new: new_key }, first_time: true }]
        );
        assert!(!alice.chat.is_online(&user("bob")), "held: the chat node does not know the link");
        assert!(!alice.sent_on("dc_new").contains("for bob only"));
        // Pings are answered by the gate, so the held link is not dropped for silence.
        let out = alice.gate.inbound("dc_new", json!({"type": "mc.ping", "n": 7}), Millis(120));
        assert_eq!(out.send, [("dc_new".to_owned(), json!({"type": "mc.pong", "n": 7}))]);
        let out = alice.gate.accept_new_key(&user("bob"), &new_key, Millis(130)).unwrap();
        assert_eq!(out.to_chat_link_up.len(), 1);
        alice.apply(out, Millis(130));
        pump(&mut alice, &mut new_bob, "dc_new", Millis(140));
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        assert_eq!(alice.texts_from(&room, "bob"), ["it is me"]);
        assert_eq!(new_bob.texts_from(&room, "alice"), ["for bob only"]);
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

    #[test]
    fn after_a_worker_restart_a_resumed_link_proves_itself_again_and_chat_goes_on() {
        let (mut alice, bob, room) = alice_and_bob_authenticated();
        drop(bob);
        // Bob's worker restarts; the engine kept the link. His new gate greets again on it.
        let mut contacts = ContactBook::new();
        contacts.observe(&user("alice"), Identity::from_seed([1; 32]).public_key(), Millis(1));
        let mut bob = Side::new("bob", 2, contacts, Millis(500));
        let resumed = LinkInfo {
            link: "dc_1".into(),
            peer_id: user("alice").peer_id(),
            metadata: our_metadata(),
            outgoing: false,
            sessions: sessions(20, 10),
        };
        let out = bob.gate.link_resumed(resumed, [90; 32], Millis(500));
        assert!(out.to_chat_link_up.is_empty(), "not before it proved itself again");
        bob.apply(out, Millis(500));
        pump(&mut alice, &mut bob, "dc_1", Millis(510));
        assert!(alice.gate.authenticated(&user("bob").peer_id()));
        assert!(bob.gate.authenticated(&user("alice").peer_id()));
        assert!(bob.chat.is_online(&user("alice")));
        assert!(!alice.closed.contains(&"dc_1".to_owned()) && !bob.closed.contains(&"dc_1".to_owned()));
        bob.command(Millis(520), Command::OpenDirect { username: user("alice") });
        bob.command(Millis(521), Command::Send { room: room.clone(), text: "back".into(), random: [8; 16] });
        pump(&mut alice, &mut bob, "dc_1", Millis(530));
        assert_eq!(alice.texts_from(&room, "bob"), ["back"]);
        assert!(alice.alerts.is_empty() && bob.alerts.is_empty());
    }

    #[test]
    fn a_relaying_middle_is_refused_at_both_ends_and_neither_chat_node_hears_of_it() {
        // The middle answers alice with its certificate 30 and dials bob with 31, relaying frames verbatim.
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let mut bob = Side::new("bob", 2, ContactBook::new(), Millis(10));
        let room = alice.command(Millis(20), Command::OpenDirect { username: user("bob") }).unwrap();
        alice.command(Millis(21), Command::Send { room, text: "secret".into(), random: [4; 16] });
        let dialer = LinkInfo {
            link: "dc_1".into(),
            peer_id: user("bob").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(10, 30),
        };
        let answerer = LinkInfo {
            peer_id: user("alice").peer_id(),
            outgoing: false,
            sessions: sessions(20, 31),
            ..dialer.clone()
        };
        alice.link_up(dialer, Millis(30));
        bob.link_up(answerer, Millis(30));
        pump(&mut alice, &mut bob, "dc_1", Millis(40));
        assert_eq!(
            (alice.closed.as_slice(), bob.closed.as_slice()),
            (["dc_1".to_owned()].as_slice(), ["dc_1".to_owned()].as_slice())
        );
        assert!(alice.reasons[0].contains("intercept") && bob.reasons[0].contains("intercept"), "{:?}", alice.reasons);
        assert!(!alice.chat.is_online(&user("bob")) && !bob.chat.is_online(&user("alice")));
        let types: Vec<&str> = alice.wire.iter().filter_map(|(_, f)| f["type"].as_str()).collect();
        assert_eq!(types, ["mc.hello", "mc.auth.proof"], "only the handshake went to the middle");
    }

    #[test]
    fn a_pinned_contact_greeting_without_the_handshake_is_held_a_stranger_chats_unverified() {
        let (mut alice, room) = alice_waiting_for_bob();
        let bare_hello = |name: &str| json!({"type": "mc.hello", "v": 1, "user": name, "caps": wire::OUR_CAPABILITIES, "auth": null});
        alice.link_up(squatter_link("dc_b", our_metadata()), Millis(100));
        alice.frame("dc_b", bare_hello("bob"), Millis(110));
        alice.frame("dc_b", squatter_chat(&room, "stripped", 1), Millis(111));
        assert_eq!(alice.alerts, [unproved_alert(Unproved::NoHandshake, true)]);
        assert!(!alice.chat.is_online(&user("bob")));
        assert!(!alice.sent_on("dc_b").contains("for bob only"));
        // An older multichat of someone alice never met: chats, unverified, as before.
        let info = LinkInfo { peer_id: user("dave").peer_id(), ..squatter_link("dc_d", our_metadata()) };
        alice.link_up(info, Millis(120));
        alice.frame("dc_d", bare_hello("dave"), Millis(121));
        assert!(alice.chat.is_online(&user("dave")));
        assert!(!alice.gate.authenticated(&user("dave").peer_id()));
        assert_eq!(alice.alerts.len(), 1);
    }

    #[test]
    fn a_replayed_handshake_of_a_pinned_contact_is_held_and_a_stranger_s_is_closed() {
        // Bob's hello and proof from an earlier session with alice, replayed on a new one.
        let (mut alice, bob, _room) = alice_and_bob_authenticated();
        let recorded: Vec<Value> = bob
            .wire
            .iter()
            .filter(|(_, f)| matches!(f["type"].as_str(), Some("mc.hello" | "mc.auth.proof")))
            .map(|(_, f)| f.clone())
            .collect();
        alice.seed = 100; // fresh bytes for this link (equal nonces would be refused as reflected)
        alice.link_up(squatter_link("dc_r", our_metadata()), Millis(1_000));
        for frame in recorded.clone() {
            alice.frame("dc_r", frame, Millis(1_001));
        }
        alice.tick(Millis(1_001 + 8_000));
        assert_eq!(alice.alerts, [unproved_alert(Unproved::NoProof, true)]);
        assert!(alice.gate.authenticated(&user("bob").peer_id()), "bob's own link is untouched");
        // The same replay against someone who never pinned bob: closed with the reason.
        let mut carol = Side::new("carol", 3, ContactBook::new(), Millis(10));
        carol.link_up(squatter_link("dc_r", our_metadata()), Millis(1_000));
        for frame in recorded {
            carol.frame("dc_r", frame, Millis(1_001));
        }
        carol.tick(Millis(1_001 + 8_000));
        assert_eq!(carol.closed, ["dc_r"]);
        assert!(
            carol.reasons[0].contains("never proved") || carol.reasons[0].contains("replaying"),
            "{}",
            carol.reasons[0]
        );
        assert!(!carol.chat.is_online(&user("bob")));
    }

    #[test]
    fn rejecting_a_changed_key_closes_its_held_link() {
        let (mut alice, room) = alice_waiting_for_bob();
        let mut impostor = Side::new("bob", 77, ContactBook::new(), Millis(10));
        impostor.command(Millis(20), Command::OpenDirect { username: user("alice") });
        impostor.command(Millis(21), Command::Send { room: room.clone(), text: "trust me".into(), random: [6; 16] });
        let dialer = LinkInfo {
            link: "dc_i".into(),
            peer_id: user("alice").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(70, 80),
        };
        let answerer =
            LinkInfo { peer_id: user("bob").peer_id(), outgoing: false, sessions: sessions(80, 70), ..dialer.clone() };
        impostor.link_up(dialer, Millis(100));
        alice.link_up(answerer, Millis(100));
        pump(&mut alice, &mut impostor, "dc_i", Millis(110));
        let key = Identity::from_seed([77; 32]).public_key();
        let out = alice.gate.reject_new_key(&user("bob"), &key).unwrap();
        assert_eq!(out.close.iter().map(|it| it.link.as_str()).collect::<Vec<_>>(), ["dc_i"]);
        alice.apply(out, Millis(120));
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new());
        assert!(!alice.sent_on("dc_i").contains("for bob only"));
    }

    #[test]
    fn a_stranger_s_original_page_we_dialed_is_handed_to_the_chat_node_after_its_grace() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let info = LinkInfo {
            link: "dc_o".into(),
            peer_id: user("olga").peer_id(),
            metadata: our_metadata(),
            outgoing: true,
            sessions: sessions(10, 20),
        };
        alice.link_up(info, Millis(1_000));
        assert_eq!(alice.gate.poll_timeout(), Some(Millis(1_000 + ORIGINAL_PAGE_GRACE_MS)));
        alice.tick(Millis(1_000 + ORIGINAL_PAGE_GRACE_MS - 1));
        assert!(alice.wire.is_empty(), "we never greet first on a link we dialed");
        alice.tick(Millis(1_000 + ORIGINAL_PAGE_GRACE_MS));
        alice.tick(Millis(1_000 + 2 * ORIGINAL_PAGE_GRACE_MS));
        assert!(alice.chat.is_online(&user("olga")), "taken for the original page, as before");
        assert!(alice.alerts.is_empty() && alice.closed.is_empty());
    }

    #[test]
    fn a_link_without_a_readable_fingerprint_is_refused_and_an_engine_without_descriptions_chats_unverified() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let mut info = squatter_link("dc_nf", our_metadata());
        info.sessions.as_mut().unwrap().remote_sdp =
            "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n".into();
        alice.link_up(info, Millis(20));
        assert_eq!(alice.closed, ["dc_nf"]);
        assert!(alice.reasons[0].contains("fingerprint"), "{}", alice.reasons[0]);
        assert!(!alice.chat.is_online(&user("bob")));
        // An engine that reports no descriptions at all (an older one) cannot verify: the link chats, marked
        // unverified, and for a pinned contact with the warning on the member, not an alert.
        let mut contacts = ContactBook::new();
        contacts.observe(&user("bob"), bob_key(), Millis(1));
        let mut alice = Side::new("alice", 1, contacts, Millis(10));
        let plain = LinkInfo { sessions: None, ..squatter_link("dc_plain", our_metadata()) };
        let out = alice.gate.link_up(plain, [9; 32], Millis(20));
        assert!(out.to_chat_link_up.is_empty(), "not before it greets");
        alice.apply(out, Millis(20));
        let out = alice.gate.inbound(
            "dc_plain",
            json!({"type": "mc.hello", "v": 1, "user": "bob", "caps": wire::OUR_CAPABILITIES, "auth": null}),
            Millis(21),
        );
        assert_eq!(out.warnings.len(), 1, "{out:?}");
        assert!(out.alerts.is_empty());
        alice.apply(out, Millis(21));
        assert!(alice.chat.is_online(&user("bob")));
        assert!(!alice.gate.authenticated(&user("bob").peer_id()));
    }

    #[test]
    fn a_rejected_key_is_refused_at_once_on_a_later_link_without_asking_again() {
        let (mut alice, room) = alice_waiting_for_bob();
        let key = Identity::from_seed([77; 32]).public_key();
        for (round, link) in ["dc_i1", "dc_i2"].into_iter().enumerate() {
            let mut impostor = Side::new("bob", 77, ContactBook::new(), Millis(10));
            impostor.command(Millis(20), Command::OpenDirect { username: user("alice") });
            let dialer = LinkInfo {
                link: link.into(),
                peer_id: user("alice").peer_id(),
                metadata: our_metadata(),
                outgoing: true,
                sessions: sessions(70 + round as u8, 90),
            };
            let answerer = LinkInfo {
                peer_id: user("bob").peer_id(),
                outgoing: false,
                sessions: sessions(90, 70 + round as u8),
                ..dialer.clone()
            };
            impostor.seed = 120 + round as u8;
            impostor.link_up(dialer, Millis(100));
            alice.link_up(answerer, Millis(100));
            pump(&mut alice, &mut impostor, link, Millis(110));
            if round == 0 {
                assert_eq!(alice.alerts.len(), 1);
                let out = alice.gate.reject_new_key(&user("bob"), &key).unwrap();
                alice.apply(out, Millis(120));
            }
        }
        assert_eq!(alice.alerts.len(), 1, "the rejected key is not asked about again");
        assert_eq!(alice.closed, ["dc_i1", "dc_i2"]);
        assert!(alice.reasons[1].contains("rejected"), "{}", alice.reasons[1]);
        assert_eq!(alice.contacts_key(), bob_key(), "bob's own key stays pinned");
        assert!(!alice.sent_on("dc_i2").contains("for bob only"));
        assert_eq!(alice.texts_from(&room, "bob"), Vec::<String>::new());
    }

    #[test]
    fn an_honest_pair_authenticates_pins_each_other_and_chats_both_ways() {
        let (mut alice, mut bob, room) = alice_and_bob_authenticated();
        assert!(bob.gate.authenticated(&user("alice").peer_id()));
        assert_eq!(alice.gate.contacts().get(&user("bob")).map(|it| it.key), Some(bob_key()));
        assert_eq!(
            bob.gate.contacts().get(&user("alice")).map(|it| it.key),
            Some(Identity::from_seed([1; 32]).public_key())
        );
        alice.command(Millis(50), Command::Send { room: room.clone(), text: "hi bob".into(), random: [7; 16] });
        pump(&mut alice, &mut bob, "dc_1", Millis(51));
        bob.command(Millis(52), Command::Send { room: room.clone(), text: "hi alice".into(), random: [8; 16] });
        pump(&mut alice, &mut bob, "dc_1", Millis(53));
        assert_eq!(bob.texts_from(&room, "alice"), ["hi bob"]);
        assert_eq!(alice.texts_from(&room, "bob"), ["hi alice"]);
        assert!(alice.closed.is_empty() && bob.closed.is_empty() && alice.alerts.is_empty());
    }

    #[test]
    fn a_stranger_that_names_a_key_but_never_proves_it_is_closed_in_time() {
        let mut alice = Side::new("alice", 1, ContactBook::new(), Millis(10));
        let info = LinkInfo { peer_id: user("erin").peer_id(), ..squatter_link("dc_n", our_metadata()) };
        alice.link_up(info, Millis(1_000));
        let hello = json!({
            "type": "mc.hello", "v": 1, "user": "erin", "caps": wire::OUR_CAPABILITIES,
            "auth": {"v": 1, "key": Identity::from_seed([9; 32]).public_key().to_string(), "nonce": "cd".repeat(32)},
        });
        alice.frame("dc_n", hello, Millis(2_000));
        let deadline = alice.gate.poll_timeout().expect("a proof deadline");
        assert!(deadline > Millis(2_000));
        alice.frame(
            "dc_n",
            json!({"type": "chat", "chat": {"sender": "erin", "message": "early", "timestamp": 3}}),
            Millis(2_001),
        );
        alice.tick(Millis(deadline.0 - 1));
        assert!(alice.closed.is_empty());
        alice.tick(deadline);
        assert_eq!(alice.closed, ["dc_n"]);
        assert!(alice.reasons[0].contains("never proved its identity key"), "{}", alice.reasons[0]);
        assert!(!alice.chat.is_online(&user("erin")), "the chat node never heard of it");
        assert!(alice.alerts.is_empty(), "a stranger is no contact to warn about");
    }
}
