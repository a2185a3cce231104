//! Strangers (issue 13): a first message from a username with no conversation is a request, not a
//! conversation; strangers cannot flood requests, keep links that never greet, or learn who is in a room from
//! the dial metadata the signaling server sees.

use multichat_core::auth_gate::LinkGate;
use multichat_core::bridge::{LinkInfo, SessionPair};
use multichat_core::chat::node::{MAX_MESSAGES_PER_REQUEST, MAX_PENDING_REQUESTS, NodeConfig};
use multichat_core::chat::signing::{Signature, message_payload};
use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello, OUR_CAPABILITIES};
use multichat_core::chat::{ChatEvent, ChatNode, Command, DropReason, Input, MessageId, Output, RoomId};
use multichat_core::identity::{ContactBook, Identity};
use multichat_core::time::Millis;
use serde_json::{Value, json};

use crate::chat_sim::user;

/// Each user's identity key (the tests' stand-in for the key a shell draws).
fn identity(name: &str) -> Identity {
    let mut seed = [0u8; 32];
    seed[..name.len()].copy_from_slice(name.as_bytes());
    Identity::from_seed(seed)
}

struct Alice {
    node: ChatNode,
    outputs: Vec<Output>,
    now: Millis,
}

impl Alice {
    fn new() -> Alice {
        let config = NodeConfig { identity: Some(identity("alice")), ..NodeConfig::default() };
        Alice {
            node: ChatNode::with_config(user("alice"), Millis(1_000), config),
            outputs: Vec::new(),
            now: Millis(1_000),
        }
    }

    fn input(&mut self, input: Input) {
        self.now = self.now.saturating_add(1);
        self.node.handle_input(self.now, input);
        self.outputs.extend(std::iter::from_fn(|| self.node.poll_output()));
    }

    fn command(&mut self, command: Command) -> Option<RoomId> {
        self.now = self.now.saturating_add(1);
        let res = self.node.handle_command(self.now, command).unwrap();
        self.outputs.extend(std::iter::from_fn(|| self.node.poll_output()));
        res
    }

    /// `peer` dialed alice, proved its key (the gate hands it over) and said hello.
    fn link_from(&mut self, link: &str, peer: &str) {
        let peer_id = user(peer).peer_id();
        self.input(Input::LinkUp { link: link.into(), peer_id, metadata: ours(), outgoing: false });
        self.input(Input::PeerKey { username: user(peer), key: identity(peer).public_key() });
        self.frame(link, hello(peer));
    }

    fn frame(&mut self, link: &str, frame: Value) {
        self.input(Input::Frame { link: link.into(), frame });
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }
}

fn ours() -> Value {
    json!({"peerIds": [], "multichat": {"v": 1}})
}

fn hello(peer: &str) -> Value {
    wire::encode(&Frame::Hello(Hello {
        version: 1,
        user: user(peer),
        capabilities: OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect(),
        auth: None,
        session: Some(1),
    }))
}

/// A chat as `sender` sends it in its direct room with alice, signed with its key.
fn direct_chat(sender: &str, seq: u64, text: &str) -> Value {
    let room = RoomId::direct(&user("alice"), &user(sender));
    let id = MessageId::parse(&format!("m-{sender}-{seq}")).unwrap();
    let timestamp = Millis(500 + seq);
    let sig = Signature::sign(&identity(sender), &message_payload(&room, &id, seq, &user(sender), text, timestamp));
    wire::encode(&Frame::Chat(ChatFrame {
        sender: user(sender),
        text: text.into(),
        timestamp,
        ours: Some(ChatExtras { id, seq, room, sig: Some(sig), act: None }),
    }))
}

fn stored(outputs: &[Output]) -> usize {
    outputs.iter().filter(|it| matches!(it, Output::Event(ChatEvent::MessageStored { .. }))).count()
}

#[test]
fn a_strangers_first_messages_make_no_conversation_and_no_badge() {
    let mut alice = Alice::new();
    for n in 0..40 {
        let stranger = format!("stranger{n}");
        alice.link_from(&format!("dc_{n}"), &stranger);
        for seq in 1..=10 {
            alice.frame(&format!("dc_{n}"), direct_chat(&stranger, seq, "buy now"));
        }
    }
    let outputs = alice.take();
    assert!(alice.node.room_views().is_empty(), "{} conversations were created", alice.node.room_views().len());
    assert_eq!(alice.node.total_unread(), 0, "no badge");
    assert_eq!(stored(&outputs), 0, "nothing of a stranger's is stored as a message");
    // The first strangers wait as requests, each with its first few messages; the rest are refused, and said so.
    let requests = alice.node.requests();
    assert_eq!(requests.len(), MAX_PENDING_REQUESTS);
    assert!(requests.iter().all(|it| it.messages.len() == MAX_MESSAGES_PER_REQUEST));
    let requested = outputs.iter().filter(|it| matches!(it, Output::Event(ChatEvent::Requested { .. }))).count();
    assert_eq!(requested, MAX_PENDING_REQUESTS, "one event (one notification) per request, not per message");
    let refusals: Vec<DropReason> = outputs
        .iter()
        .filter_map(|it| match it {
            Output::Event(ChatEvent::FrameDropped { reason: reason @ DropReason::TooManyPending(_), .. }) => {
                Some(reason.clone())
            }
            _ => None,
        })
        .collect();
    assert!(refusals.contains(&DropReason::TooManyPending("message requests")), "{refusals:?}");
    assert!(refusals.contains(&DropReason::TooManyPending("messages of one message request")), "{refusals:?}");
    // A stranger's catch-up request opens nothing either.
    let room = RoomId::direct(&user("alice"), &user("stranger39"));
    alice.frame("dc_39", json!({"type": "mc.sync", "room": room.as_str(), "heads": {}}));
    assert!(alice.node.room_views().is_empty());
}

#[test]
fn a_blocked_contact_is_closed_never_redialed_and_nothing_of_theirs_is_stored() {
    let mut alice = Alice::new();
    let room = alice.command(Command::OpenDirect { username: user("bob") }).unwrap();
    alice.link_from("dc_b", "bob");
    alice.frame("dc_b", direct_chat("bob", 1, "before the block"));
    alice.take();
    alice.command(Command::Block { username: user("bob") });
    let outputs = alice.take();
    assert!(outputs.iter().any(|it| matches!(it, Output::Close { link } if link == "dc_b")), "{outputs:?}");
    assert!(!alice.node.is_online(&user("bob")));
    // Long after: no redial, though bob is a contact.
    for now in (10_000..600_000).step_by(10_000) {
        alice.node.handle_timeout(Millis(now));
    }
    let later: Vec<Output> = std::iter::from_fn(|| alice.node.poll_output()).collect();
    assert!(!later.iter().any(|it| matches!(it, Output::Dial { .. })), "a blocked contact is redialed: {later:?}");
    // A new link of his is closed at once, and what he sends on it is not stored.
    alice.now = Millis(600_000);
    alice.link_from("dc_b2", "bob");
    alice.frame("dc_b2", direct_chat("bob", 2, "after the block"));
    let outputs = alice.take();
    assert!(outputs.iter().any(|it| matches!(it, Output::Close { link } if link == "dc_b2")));
    assert_eq!(stored(&outputs), 0);
    let texts: Vec<String> = alice.node.messages(&room).iter().map(|it| it.text.clone()).collect();
    assert_eq!(texts, ["before the block"]);
    assert!(matches!(
        alice.node.handle_command(Millis(600_100), Command::OpenDirect { username: user("bob") }),
        Err(multichat_core::chat::ChatError::Blocked(_))
    ));
    // Unblocked, he is a contact again and is dialed.
    alice.command(Command::Unblock { username: user("bob") });
    alice.node.handle_timeout(Millis(700_000));
    let outputs: Vec<Output> = std::iter::from_fn(|| alice.node.poll_output()).collect();
    assert!(outputs.iter().any(|it| matches!(it, Output::Dial { .. })), "{outputs:?}");
}

#[test]
fn dials_tell_the_signaling_server_neither_the_room_nor_who_is_in_it() {
    let mut alice = Alice::new();
    let room = alice.command(Command::CreateGroup { name: "Friends".into(), random: [1; 16] }).unwrap();
    alice.link_from("dc_b", "bob");
    alice.link_from("dc_c", "carol");
    for name in ["bob", "carol", "dave"] {
        alice.command(Command::Invite { room: room.clone(), username: user(name) });
    }
    alice.command(Command::OpenDirect { username: user("erin") });
    let outputs = alice.take();
    let metadata: Vec<&Value> = outputs
        .iter()
        .filter_map(|it| if let Output::Dial { metadata, .. } = it { Some(metadata) } else { None })
        .collect();
    assert_eq!(metadata.len(), 2, "dave and erin are dialed");
    for metadata in metadata {
        let text = metadata.to_string();
        assert!(!text.contains(room.as_str()), "the room id is in the dial metadata: {text}");
        for member in ["alice", "bob", "carol", "dave", "erin"] {
            assert!(!text.contains(&user(member).peer_id()), "{member} is named in the dial metadata: {text}");
        }
    }
}

fn sdp(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        fingerprint.join(":")
    )
}

fn dialer_link(link: &str, peer: &str, cert: u8) -> LinkInfo {
    LinkInfo {
        link: link.into(),
        peer_id: user(peer).peer_id(),
        metadata: ours(),
        outgoing: false,
        sessions: Some(SessionPair { local_sdp: sdp(1), remote_sdp: sdp(cert) }),
    }
}

#[test]
fn links_that_never_greet_cannot_exhaust_the_connections() {
    let mut gate = LinkGate::new(Some(identity("alice")), user("alice"), ContactBook::new(), Millis(1));
    // An honest stranger greets (without the handshake: it chats unverified) and is admitted.
    let out = gate.link_up(dialer_link("dc_honest", "honest", 7), [7; 32], Millis(10));
    assert!(out.close.is_empty());
    let out = gate.inbound("dc_honest", hello("honest"), Millis(11));
    assert_eq!(out.to_chat_link_up.len(), 1, "the honest link passes");
    // 200 links that say they are multichat and never greet, faster than any hello deadline.
    let mut closed = Vec::new();
    for n in 0..200u64 {
        let info = dialer_link(&format!("dc_{n}"), &format!("silent{n}"), (n % 200) as u8 + 20);
        let out = gate.link_up(info, [n as u8; 32], Millis(100 + n));
        closed.extend(out.close.into_iter().map(|it| it.link));
    }
    assert!(!closed.contains(&"dc_honest".to_owned()), "a greeted link is never displaced");
    let open_silent = 200 - closed.len();
    let slots = multichat_core::peerjs::peer::MAX_CONNECTIONS;
    assert!(open_silent <= slots / 2, "{open_silent} links that never greeted are kept, of {slots} connection slots");
    // Someone who greets still gets in.
    let out = gate.link_up(dialer_link("dc_late", "latecomer", 250), [9; 32], Millis(400));
    assert!(out.close.iter().all(|it| it.link != "dc_late" && it.link != "dc_honest"));
    let out = gate.inbound("dc_late", hello("latecomer"), Millis(401));
    assert_eq!(out.to_chat_link_up.len(), 1, "a greeting link passes after the flood");
}

// ---------------------------------------------------------------------------------------------------------
// The same through the worker (`MemShell`): what the popup sees, what is stored, what survives a restart.

mod worker {
    use multichat_core::bridge::{EngineToWorker, LinkInfo, Request, Response, SessionPair, View, WorkerToEngine};
    use multichat_core::time::Millis;
    use multichat_core::worker::MemShell;

    use super::sdp;

    fn signed_in(name: &str, seed: u8) -> MemShell {
        let mut profile = MemShell::seeded(seed);
        profile.request(Request::SignIn { username: name.into() }, Millis(1));
        profile.to_engine.clear();
        profile
    }

    fn view(profile: &MemShell) -> View {
        profile.view()
    }

    fn pump(a: &mut MemShell, b: &mut MemShell, link: &str, now: Millis) {
        for _ in 0..50 {
            let from_a: Vec<WorkerToEngine> = a.to_engine.drain(..).collect();
            let from_b: Vec<WorkerToEngine> = b.to_engine.drain(..).collect();
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for command in from_a {
                if let WorkerToEngine::Send { frame, .. } = command {
                    b.engine(EngineToWorker::Frame { link: link.into(), frame }, now);
                }
            }
            for command in from_b {
                if let WorkerToEngine::Send { frame, .. } = command {
                    a.engine(EngineToWorker::Frame { link: link.into(), frame }, now);
                }
            }
        }
        panic!("the two workers never went quiet");
    }

    /// The link up on both ends (the dialer's engine commands dropped); returns what the answerer's engine
    /// was told right after (a `Close` when it refused the link).
    fn connect(dialer: &mut MemShell, answerer: &mut MemShell, link: &str, now: Millis) -> Vec<WorkerToEngine> {
        dialer.to_engine.clear();
        let (dialer_id, answerer_id) = (view(dialer).account.unwrap().peer_id, view(answerer).account.unwrap().peer_id);
        let info = |peer_id: String, outgoing: bool, local: u8, remote: u8| LinkInfo {
            link: link.into(),
            peer_id,
            metadata: super::ours(),
            outgoing,
            sessions: Some(SessionPair { local_sdp: sdp(local), remote_sdp: sdp(remote) }),
        };
        dialer.engine(EngineToWorker::LinkUp { info: info(answerer_id, true, 10, 20) }, now);
        answerer.engine(EngineToWorker::LinkUp { info: info(dialer_id, false, 20, 10) }, now);
        let told = answerer.to_engine.clone();
        pump(dialer, answerer, link, now);
        told
    }

    /// Bob opens a conversation with alice, who has none with him, and writes `texts`.
    fn bob_writes_to_alice(texts: &[&str]) -> (MemShell, MemShell) {
        let mut alice = signed_in("alice", 1);
        let mut bob = signed_in("bob", 50);
        bob.request(Request::OpenDirect { username: "alice".into() }, Millis(10));
        let room = view(&bob).open_room.unwrap().room.id;
        connect(&mut bob, &mut alice, "dc_1", Millis(20));
        for (n, text) in texts.iter().enumerate() {
            bob.request(Request::SendText { room: room.clone(), text: (*text).into() }, Millis(30 + n as u64));
            pump(&mut bob, &mut alice, "dc_1", Millis(30 + n as u64));
        }
        (alice, bob)
    }

    fn stored_text(profile: &MemShell) -> String {
        profile.disk.0.values().map(|it| it.to_string()).collect()
    }

    #[test]
    fn a_first_message_is_one_quiet_request_that_survives_a_restart_until_accepted() {
        let (mut alice, mut bob) = bob_writes_to_alice(&["hi alice", "it is bob", "from the conference"]);
        let shown = view(&alice);
        assert!(shown.rooms.is_empty(), "no conversation before Accept: {:?}", shown.rooms);
        assert_eq!(shown.requests.len(), 1);
        assert_eq!((shown.requests[0].from.as_str(), shown.requests[0].first_text.as_str()), ("bob", "hi alice"));
        assert_eq!(shown.requests[0].messages, 3);
        assert_eq!(alice.model.unread(), 0, "no badge for a request");
        assert_eq!(alice.notified.len(), 1, "one notification for the request, not one per message");
        assert!(
            !alice.notified[0].text.english().contains("hi alice"),
            "the notification is quiet: {:?}",
            alice.notified[0]
        );
        // Bob's multichat re-sends what is not acknowledged: nothing more notifies.
        bob.timeout(Millis(6_000));
        pump(&mut bob, &mut alice, "dc_1", Millis(6_000));
        assert_eq!(alice.notified.len(), 1, "re-sent messages notify nothing");
        // A restart keeps the request, and does not notify again; bob connects again.
        alice.restart(Millis(7_000));
        assert_eq!(view(&alice).requests.len(), 1, "the request survives a restart");
        bob.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(7_001));
        connect(&mut bob, &mut alice, "dc_2", Millis(7_010));
        bob.timeout(Millis(13_000));
        pump(&mut bob, &mut alice, "dc_2", Millis(13_000));
        assert_eq!(alice.notified.len(), 1, "nothing notifies after the restart either");
        assert_eq!(view(&alice).requests[0].messages, 3, "re-sent messages are kept once");

        let Response::View { view: after } =
            alice.request(Request::AcceptRequest { username: "bob".into() }, Millis(13_100))
        else {
            panic!("Accept is answered with the view")
        };
        assert!(after.requests.is_empty());
        let open = after.open_room.expect("the accepted conversation opens");
        let texts: Vec<String> = open.messages.iter().map(|it| it.text.clone()).collect();
        assert_eq!(texts, ["hi alice", "it is bob", "from the conference"]);
        pump(&mut alice, &mut bob, "dc_2", Millis(13_101));
        let states: Vec<_> = view(&bob).open_room.unwrap().messages.into_iter().map(|it| it.state).collect();
        assert!(
            states.iter().all(|it| *it == multichat_core::bridge::MessageState::Delivered),
            "bob's messages are acknowledged once accepted: {states:?}"
        );
    }

    #[test]
    fn a_blocked_username_stores_nothing_is_refused_and_the_block_survives_restart_export_and_import() {
        let (mut alice, mut bob) = bob_writes_to_alice(&["buy my coins"]);
        alice.request(Request::BlockUser { username: "bob".into() }, Millis(100));
        assert!(view(&alice).requests.is_empty());
        assert_eq!(view(&alice).blocked, ["bob"]);
        assert!(alice.to_engine.iter().any(|it| matches!(it, WorkerToEngine::Close { link } if link == "dc_1")));
        assert!(!stored_text(&alice).contains("buy my coins"), "a blocked request's messages are discarded");
        alice.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(101));

        alice.restart(Millis(200));
        alice.to_engine.clear();
        bob.request(Request::OpenDirect { username: "alice".into() }, Millis(210));
        let told = connect(&mut bob, &mut alice, "dc_2", Millis(220));
        assert!(told.iter().any(|it| matches!(it, WorkerToEngine::Close { link } if link == "dc_2")), "{told:?}");
        assert!(
            !told.iter().any(|it| matches!(it, WorkerToEngine::Send { link, .. } if link == "dc_2")),
            "nothing is sent to a blocked username: {told:?}"
        );
        let room = view(&bob).open_room.unwrap().room.id;
        bob.request(Request::SendText { room, text: "let me in".into() }, Millis(230));
        pump(&mut bob, &mut alice, "dc_2", Millis(231));
        assert!(!stored_text(&alice).contains("let me in"));
        assert!(view(&alice).requests.is_empty() && view(&alice).rooms.is_empty());
        assert_eq!(alice.model.unread(), 0);
        assert_eq!(alice.notified.len(), 1, "only the first request ever notified");
        assert!(!alice.to_engine.iter().any(|it| matches!(it, WorkerToEngine::Dial { .. })), "bob is never dialed");

        // Export, then import into another browser: the block list comes along.
        let Response::Export { json, .. } = alice.request(Request::ExportData, Millis(300)) else {
            panic!("an export")
        };
        let mut elsewhere = MemShell::seeded(90);
        elsewhere.request(Request::ImportData { json }, Millis(310));
        assert_eq!(view(&elsewhere).blocked, ["bob"]);
        elsewhere.request(Request::UnblockUser { username: "bob".into() }, Millis(320));
        assert!(view(&elsewhere).blocked.is_empty());
        elsewhere.restart(Millis(330));
        assert!(view(&elsewhere).blocked.is_empty(), "Unblock is stored");
    }

    #[test]
    fn an_invitation_waiting_for_accept_survives_a_worker_restart() {
        let mut alice = signed_in("alice", 1);
        let mut bob = signed_in("bob", 50);
        alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
        connect(&mut alice, &mut bob, "dc_1", Millis(20));
        alice.request(Request::CreateGroup { name: "Friends".into() }, Millis(30));
        let group = view(&alice).open_room.unwrap().room.id;
        alice.request(Request::Invite { room: group.clone(), username: "bob".into() }, Millis(31));
        pump(&mut alice, &mut bob, "dc_1", Millis(32));
        assert_eq!(view(&bob).invitations.len(), 1);
        bob.restart(Millis(40));
        let waiting = view(&bob).invitations;
        assert_eq!(waiting.len(), 1, "the invitation survives the restart");
        assert_eq!((waiting[0].name.as_str(), waiting[0].inviter.as_str()), ("Friends", "alice"));
        bob.request(Request::AcceptInvitation { room: group.clone() }, Millis(50));
        assert!(view(&bob).rooms.iter().any(|it| it.id == group), "accepted after the restart");
        assert!(view(&bob).invitations.is_empty());
        bob.restart(Millis(60));
        assert!(view(&bob).invitations.is_empty(), "an answered invitation is not back after a restart");
    }

    #[test]
    fn with_a_passphrase_no_contact_username_is_stored_in_the_clear() {
        let (mut alice, _bob) = bob_writes_to_alice(&["hello"]);
        alice.request(Request::AcceptRequest { username: "bob".into() }, Millis(100));
        alice.request(Request::OpenDirect { username: "carol".into() }, Millis(101));
        alice.request(Request::BlockUser { username: "mallory".into() }, Millis(102));
        let values = |profile: &MemShell| profile.disk.0.values().map(|it| it.to_string()).collect::<Vec<_>>();
        assert!(values(&alice).iter().any(|it| it.contains("bob")), "without a passphrase, contacts are readable");
        let set = alice.request(Request::SetPassphrase { passphrase: "correct horse battery".into() }, Millis(110));
        assert!(matches!(set, Response::View { .. }), "{set:?}");
        for name in ["bob", "carol", "mallory"] {
            let readable: Vec<&String> =
                alice.disk.0.iter().filter(|(_, v)| v.to_string().contains(name)).map(|(k, _)| k).collect();
            assert!(readable.is_empty(), "{name} is readable in {readable:?}");
        }
        // What is written afterwards is sealed too.
        alice.request(Request::BlockUser { username: "trent".into() }, Millis(120));
        alice.restart(Millis(130));
        assert!(!values(&alice).iter().any(|it| it.contains("trent")));
        assert_eq!(view(&alice).blocked, ["mallory", "trent"], "and opens again with the session's key");
    }
}

/// The original page's shape (no id, no seq, no signature), as its users send it.
fn original_chat(sender: &str, text: &str, timestamp: u64) -> Value {
    wire::encode(&Frame::Chat(ChatFrame {
        sender: user(sender),
        text: text.into(),
        timestamp: Millis(timestamp),
        ours: None,
    }))
}

#[test]
fn a_stranger_posing_as_the_original_page_gets_a_request_not_a_conversation() {
    // Skipping our protocol must not skip the request: the original page's dialect is open to anyone.
    let mut alice = Alice::new();
    for n in 0..30 {
        let stranger = format!("page{n}");
        let link = format!("dc_p{n}");
        alice.input(Input::LinkUp {
            link: link.clone(),
            peer_id: user(&stranger).peer_id(),
            metadata: json!({"peerIds": []}),
            outgoing: false,
        });
        for k in 0..8 {
            alice.frame(&link, original_chat(&stranger, &format!("buy now {k}"), 2_000 + k));
        }
    }
    let outputs = alice.take();
    assert!(alice.node.room_views().is_empty(), "{} conversations were created", alice.node.room_views().len());
    assert_eq!(alice.node.total_unread(), 0, "no badge");
    assert_eq!(stored(&outputs), 0, "nothing of a stranger's is stored as a message");
    let requests = alice.node.requests();
    assert_eq!(requests.len(), MAX_PENDING_REQUESTS);
    assert!(requests.iter().all(|it| it.messages.len() == MAX_MESSAGES_PER_REQUEST));

    // Accepted, the page's conversation is a normal one: its kept messages, and what it writes next.
    let room = alice.command(Command::AcceptRequest { username: user("page0") }).unwrap();
    let texts: Vec<String> = alice.node.messages(&room).iter().map(|it| it.text.clone()).collect();
    assert_eq!(texts.len(), MAX_MESSAGES_PER_REQUEST, "{texts:?}");
    alice.frame("dc_p0", original_chat("page0", "after accept", 9_000));
    assert!(alice.node.messages(&room).iter().any(|it| it.text == "after accept"));
    // Nothing of our protocol went to the page.
    let outputs = alice.take();
    for output in &outputs {
        if let Output::Send { link, frame } = output {
            if link == "dc_p0" {
                assert_eq!(frame["type"], "chat", "a frame the original page does not read: {frame}");
            }
        }
    }
}
