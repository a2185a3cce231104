//! Strangers (issue 13): a first message from a username with no conversation is a request, not a
//! conversation; strangers cannot flood requests, keep links that never greet, or learn who is in a room from
//! the dial metadata the signaling server sees.

use multichat_core::auth_gate::LinkGate;
use multichat_core::bridge::{LinkInfo, SessionPair};
use multichat_core::chat::node::NodeConfig;
use multichat_core::chat::signing::{Signature, message_payload};
use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello, OUR_CAPABILITIES};
use multichat_core::chat::{ChatEvent, ChatNode, Command, Input, MessageId, Output, RoomId};
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
        Alice { node: ChatNode::with_config(user("alice"), Millis(1_000), config), outputs: Vec::new(), now: Millis(1_000) }
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
        ours: Some(ChatExtras { id, seq, room, sig: Some(sig) }),
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
