//! Attacks on a room from inside and outside (issue 13), each against one node (alice) driven with the raw
//! frames a hostile peer would send. Members cannot forge, pre-empt or silence; strangers cannot walk in,
//! force rooms or dials on alice, or make her serve catch-up over and over.

use multichat_core::account::Username;
use multichat_core::chat::node::NodeConfig;
use multichat_core::chat::room::{MAX_ROOM_MEMBERS, RoomError};
use multichat_core::chat::signing::{Signature, invitation_payload, message_payload};
use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello, OUR_CAPABILITIES};
use multichat_core::chat::{ChatError, ChatEvent, ChatNode, Command, DropReason, Input, MessageId, Output, RoomId};
use multichat_core::identity::Identity;
use multichat_core::time::Millis;
use serde_json::{Value, json};

use crate::chat_sim::user;

/// Alice's node, and her side of links to peers by name.
struct Alice {
    node: ChatNode,
    outputs: Vec<Output>,
    now: Millis,
}

impl Alice {
    fn new() -> Alice {
        let config = NodeConfig { identity: Some(identity("alice")), ..NodeConfig::default() };
        let node = ChatNode::with_config(user("alice"), Millis(1_000), config);
        Alice { node, outputs: Vec::new(), now: Millis(1_000) }
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

    /// `peer` dialed alice with our metadata (`room` as an old multichat put it there), proved its key (the
    /// identity gate below the node hands it over) and said hello.
    fn link_from(&mut self, link: &str, peer: &str, metadata: Value) {
        let peer_id = user(peer).peer_id();
        self.input(Input::LinkUp { link: link.into(), peer_id, metadata, outgoing: false });
        self.input(Input::PeerKey { username: user(peer), key: identity(peer).public_key() });
        let hello = Hello {
            version: 1,
            user: user(peer),
            capabilities: OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect(),
            auth: None,
            session: Some(1),
        };
        self.frame(link, wire::encode(&Frame::Hello(hello)));
    }

    fn frame(&mut self, link: &str, frame: Value) {
        self.input(Input::Frame { link: link.into(), frame });
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    fn texts(&self, room: &RoomId) -> Vec<(String, String)> {
        self.node.messages(room).iter().map(|it| (it.sender.to_string(), it.text.clone())).collect()
    }
}

/// Each user's identity key (the tests' stand-in for the key a shell draws).
fn identity(name: &str) -> Identity {
    let mut seed = [0u8; 32];
    seed[..name.len()].copy_from_slice(name.as_bytes());
    Identity::from_seed(seed)
}

fn drops(outputs: &[Output]) -> Vec<DropReason> {
    outputs
        .iter()
        .filter_map(|it| match it {
            Output::Event(ChatEvent::FrameDropped { reason, .. }) => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn ours() -> Value {
    json!({"peerIds": [], "multichat": {"v": 1}})
}

fn sent<'a>(outputs: &'a [Output], kind: &str) -> Vec<&'a Value> {
    outputs
        .iter()
        .filter_map(|it| match it {
            Output::Send { frame, .. } if frame["type"] == kind => Some(frame),
            _ => None,
        })
        .collect()
}

fn dials(outputs: &[Output]) -> usize {
    outputs.iter().filter(|it| matches!(it, Output::Dial { .. })).count()
}

/// A chat as `sender` sends it, signed with its key.
fn live_chat(sender: &str, room: &RoomId, seq: u64, text: &str) -> Value {
    let id = MessageId::parse(&format!("m-{sender}-{seq}")).unwrap();
    let timestamp = Millis(500 + seq);
    let sig = signed_by(sender, room, &id, seq, sender, text, timestamp);
    wire::encode(&Frame::Chat(ChatFrame {
        sender: user(sender),
        text: text.into(),
        timestamp,
        ours: Some(ChatExtras { id, seq, room: room.clone(), sig: Some(sig), act: None }),
    }))
}

/// `signer`'s signature over a message claiming to be `author`'s.
fn signed_by(signer: &str, room: &RoomId, id: &MessageId, seq: u64, author: &str, text: &str, at: Millis) -> Signature {
    Signature::sign(&identity(signer), &message_payload(room, id, seq, &user(author), text, at))
}

/// A batch of messages, each `(signer, author, seq, text)`: a genuine relay when signer and author agree.
fn signed_batch(room: &RoomId, messages: &[(&str, &str, u64, &str)]) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .map(|(signer, author, seq, text)| {
            let id = MessageId::parse(&format!("m-{author}-{seq}")).unwrap();
            let sig = signed_by(signer, room, &id, *seq, author, text, Millis(900));
            json!({
                "id": id.as_str(),
                "seq": seq,
                "chat": {"sender": author, "message": text, "timestamp": 900},
                "sig": sig.to_string(),
            })
        })
        .collect();
    json!({"type": "mc.batch", "room": room.as_str(), "messages": messages})
}

/// A batch as a hostile member writes it: any sender, any seq, no signature.
fn forged_batch(room: &RoomId, messages: &[(&str, u64, &str)]) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .map(|(sender, seq, text)| {
            json!({
                "id": format!("m-forged-{sender}-{seq}"),
                "seq": seq,
                "chat": {"sender": sender, "message": text, "timestamp": 900},
            })
        })
        .collect();
    json!({"type": "mc.batch", "room": room.as_str(), "messages": messages})
}

/// Alice made "Friends" and invited bob and carol, who are both linked to her (dc_b, dc_c).
fn friends() -> (Alice, RoomId) {
    let mut alice = Alice::new();
    let room = alice.command(Command::CreateGroup { name: "Friends".into(), random: [1; 16] }).unwrap();
    alice.link_from("dc_b", "bob", ours());
    alice.link_from("dc_c", "carol", ours());
    for name in ["bob", "carol"] {
        alice.command(Command::Invite { room: room.clone(), username: user(name) });
    }
    alice.take();
    (alice, room)
}

#[test]
fn a_member_cannot_forge_a_batch_from_another_member_or_from_us() {
    let (mut alice, room) = friends();
    alice.frame("dc_b", forged_batch(&room, &[("carol", 1, "carol never said this"), ("alice", 1, "nor did alice")]));
    // Signed, but by bob, not by the author.
    alice.frame("dc_b", signed_batch(&room, &[("bob", "carol", 1, "signed by bob"), ("bob", "alice", 1, "me too")]));
    assert!(alice.texts(&room).is_empty(), "forged messages were stored: {:?}", alice.texts(&room));
    let reasons = drops(&alice.take());
    assert_eq!(reasons, [DropReason::Unsigned, DropReason::BadSignature], "{reasons:?}");
    // Carol's real first message still arrives and is stored as hers.
    alice.frame("dc_c", live_chat("carol", &room, 1, "the real one"));
    assert_eq!(alice.texts(&room), [("carol".to_owned(), "the real one".to_owned())]);
}

#[test]
fn a_member_cannot_pre_empt_another_members_next_seq() {
    let (mut alice, room) = friends();
    alice.frame("dc_c", live_chat("carol", &room, 1, "carol 1"));
    // Bob sends "carol's" seq 2 before carol does.
    alice.frame("dc_b", forged_batch(&room, &[("carol", 2, "bob's words in carol's mouth")]));
    alice.frame("dc_c", live_chat("carol", &room, 2, "carol 2"));
    let texts: Vec<String> = alice.texts(&room).into_iter().map(|it| it.1).collect();
    assert_eq!(texts, ["carol 1", "carol 2"]);
}

#[test]
fn a_member_cannot_saturate_our_own_seq() {
    let (mut alice, room) = friends();
    let sync = json!({"type": "mc.sync", "room": room.as_str(), "heads": {"alice": u64::MAX}});
    alice.frame("dc_b", sync);
    alice.command(Command::Send { room: room.clone(), text: "still heard".into(), random: [2; 16] });
    let chats = sent(&alice.take(), "chat").into_iter().cloned().collect::<Vec<_>>();
    assert!(!chats.is_empty());
    for chat in &chats {
        assert_eq!(chat["seq"], 1, "alice's first message keeps seq 1: {chat}");
    }
    // And carol, who never heard of the saturated head, stores it.
    let stored = alice.node.messages(&room);
    assert_eq!(stored.last().map(|it| it.seq), Some(1));
}

#[test]
fn a_seq_far_beyond_what_is_held_is_refused() {
    let (mut alice, room) = friends();
    alice.frame("dc_c", live_chat("carol", &room, 1, "carol 1"));
    alice.frame("dc_c", live_chat("carol", &room, 1 << 40, "far away"));
    alice.input(Input::EngineGreeted);
    alice.node.handle_timeout(Millis(1_000_000));
    let texts: Vec<String> = alice.texts(&room).into_iter().map(|it| it.1).collect();
    assert_eq!(texts, ["carol 1"], "a seq 2^40 ahead is never stored");
}

#[test]
fn a_stranger_with_a_leaked_room_id_cannot_walk_in() {
    let (mut alice, room) = friends();
    alice.command(Command::Send { room: room.clone(), text: "for members only".into(), random: [3; 16] });
    alice.take();
    // Mallory learned the room id (from dial metadata seen by the signaling server, say).
    alice.link_from("dc_m", "mallory", json!({"peerIds": [], "multichat": {"v": 1, "room": room.as_str()}}));
    alice.frame("dc_m", json!({"type": "mc.sync", "room": room.as_str(), "heads": {}}));
    alice.frame("dc_m", json!({"type": "mc.want", "room": room.as_str(), "sender": "alice", "seqs": [1]}));
    let info = json!({
        "type": "mc.room", "room": room.as_str(), "name": "Friends",
        "members": ["alice", "bob", "carol", "mallory"], "since": {},
    });
    alice.frame("dc_m", info);
    alice.frame("dc_m", forged_batch(&room, &[("mallory", 1, "hello from the inside")]));
    alice.frame("dc_m", live_chat("mallory", &room, 1, "hello again"));
    let outputs = alice.take();
    assert!(sent(&outputs, "mc.batch").is_empty(), "nothing is served to a stranger");
    assert!(!alice.node.room(&room).unwrap().members.contains(&user("mallory")), "mallory is no member");
    assert_eq!(alice.texts(&room).len(), 1, "{:?}", alice.texts(&room));
    // Nothing about the room goes to her either.
    for frame in outputs
        .iter()
        .filter_map(|it| if let Output::Send { frame, link } = it { (link == "dc_m").then_some(frame) } else { None })
    {
        assert!(!frame.to_string().contains(room.as_str()), "alice told mallory about the room: {frame}");
    }
}

#[test]
fn our_dials_carry_no_room_id() {
    let (mut alice, room) = friends();
    alice.command(Command::Invite { room: room.clone(), username: user("dave") });
    let outputs = alice.take();
    let metadata: Vec<&Value> = outputs
        .iter()
        .filter_map(|it| if let Output::Dial { metadata, .. } = it { Some(metadata) } else { None })
        .collect();
    assert_eq!(metadata.len(), 1);
    assert!(!metadata[0].to_string().contains(room.as_str()), "the room id is in the dial metadata: {}", metadata[0]);
}

#[test]
fn a_connections_frame_from_a_non_member_adds_nobody() {
    let (mut alice, room) = friends();
    // Mallory names the room in her metadata (as a dialer of ours) or is taken for the original page.
    alice.link_from("dc_m", "mallory", json!({"peerIds": [], "multichat": {"v": 1, "room": room.as_str()}}));
    let names: Vec<String> = (0..50).map(|it| user(&format!("victim{it}")).peer_id()).collect();
    alice.frame("dc_m", json!({"type": "connections", "peerIds": names}));
    alice.input(Input::LinkUp {
        link: "dc_m2".into(),
        peer_id: user("mallory").peer_id(),
        metadata: json!({"peerIds": []}),
        outgoing: false,
    });
    alice.frame("dc_m2", json!({"type": "connections", "peerIds": names}));
    let outputs = alice.take();
    let members = &alice.node.room(&room).unwrap().members;
    assert_eq!(members, &[user("alice"), user("bob"), user("carol")].into(), "{members:?}");
    assert_eq!(dials(&outputs), 0, "a stranger's list makes alice dial nobody");
}

#[test]
fn a_strangers_room_spam_creates_no_rooms_and_no_dials() {
    let mut alice = Alice::new();
    alice.link_from("dc_m", "mallory", ours());
    for n in 0..20u8 {
        let mut members: Vec<String> = (0..510).map(|it| format!("target{n}x{it}")).collect();
        members.push("mallory".into());
        members.push("alice".into());
        let room = RoomId::group_from_random([n; 16]);
        let info = json!({"type": "mc.room", "room": room.as_str(), "name": format!("Spam {n}"), "members": members});
        alice.frame("dc_m", info);
    }
    let outputs = alice.take();
    assert!(alice.node.room_views().is_empty(), "{} rooms were created", alice.node.room_views().len());
    assert_eq!(dials(&outputs), 0, "dials caused by a stranger");
    alice.node.handle_timeout(Millis(10_000_000));
    let later: Vec<Output> = std::iter::from_fn(|| alice.node.poll_output()).collect();
    assert_eq!(dials(&later), 0, "redials caused by a stranger");
    let refused = outputs.iter().filter(|it| matches!(it, Output::Event(ChatEvent::FrameDropped { .. }))).count();
    assert!(refused >= 17, "the refusals are reported ({refused})");
}

#[test]
fn repeated_syncs_are_served_once() {
    let (mut alice, room) = friends();
    for n in 0..200 {
        alice.command(Command::Send { room: room.clone(), text: format!("message {n}"), random: [n as u8; 16] });
    }
    alice.take();
    let sync = json!({"type": "mc.sync", "room": room.as_str(), "heads": {}});
    alice.frame("dc_b", sync.clone());
    let first: usize = sent(&alice.take(), "mc.batch").iter().map(|it| it["messages"].as_array().unwrap().len()).sum();
    assert_eq!(first, 200);
    for _ in 0..50 {
        alice.frame("dc_b", sync.clone());
    }
    let outputs = alice.take();
    let again: usize = sent(&outputs, "mc.batch").iter().map(|it| it["messages"].as_array().unwrap().len()).sum();
    assert_eq!(again, 0, "50 more syncs on the same link are not served again");
}

#[test]
fn an_invitation_joins_nothing_before_it_is_accepted() {
    let mut alice = Alice::new();
    alice.link_from("dc_b", "bob", ours());
    let room = RoomId::group_from_random([7; 16]);
    let info =
        json!({"type": "mc.room", "room": room.as_str(), "name": "Friends", "members": ["alice", "bob", "carol"]});
    alice.frame("dc_b", info);
    let outputs = alice.take();
    assert!(alice.node.room(&room).is_none(), "alice joined before accepting");
    assert_eq!(dials(&outputs), 0, "alice dialed carol before accepting");
    assert!(sent(&outputs, "mc.sync").is_empty(), "alice asked for history before accepting");
}

#[test]
fn catch_up_serves_a_newcomer_only_from_when_it_joined() {
    let mut alice = Alice::new();
    let room = alice.command(Command::CreateGroup { name: "Friends".into(), random: [1; 16] }).unwrap();
    alice.link_from("dc_b", "bob", ours());
    alice.command(Command::Invite { room: room.clone(), username: user("bob") });
    for n in 0..10 {
        alice.command(Command::Send { room: room.clone(), text: format!("before carol {n}"), random: [n; 16] });
    }
    alice.link_from("dc_c", "carol", ours());
    alice.command(Command::Invite { room: room.clone(), username: user("carol") });
    alice.take();
    // Carol asks for everything since the start.
    alice.frame("dc_c", json!({"type": "mc.sync", "room": room.as_str(), "heads": {}}));
    let outputs = alice.take();
    let served: usize = sent(&outputs, "mc.batch").iter().map(|it| it["messages"].as_array().unwrap().len()).sum();
    assert_eq!(served, 0, "carol was served history from before she joined");
}

#[test]
fn group_names_and_usernames_are_shown_without_bidi_or_control_characters() {
    let mut alice = Alice::new();
    let room =
        alice.command(Command::CreateGroup { name: "Fri\u{202e}sdne\u{7}\u{200f}".into(), random: [1; 16] }).unwrap();
    let view = alice.node.room_views().into_iter().find(|it| it.id == room).unwrap();
    assert_eq!(view.title, "Frisdne");
    assert_eq!(view.direct_with, None);
    let direct = alice.command(Command::OpenDirect { username: Username::parse("bob").unwrap() }).unwrap();
    let view = alice.node.room_views().into_iter().find(|it| it.id == direct).unwrap();
    assert_eq!(view.direct_with, Some(user("bob")), "a direct room is told apart from a group named \"bob\"");
}

#[test]
fn a_genuine_relay_is_stored_with_its_signature_and_relayed_on_verifiably() {
    let (mut alice, room) = friends();
    // Bob relays carol's own signed message.
    alice.frame("dc_b", signed_batch(&room, &[("carol", "carol", 1, "relayed by bob")]));
    assert_eq!(alice.texts(&room), [("carol".to_owned(), "relayed by bob".to_owned())]);
    let stored = alice.node.messages(&room)[0].clone();
    assert!(stored.signature.is_some(), "stored as verified");
    // Catch-up by alice to dave, a later member, carries carol's signature on.
    alice.link_from("dc_d", "dave", ours());
    alice.command(Command::Invite { room: room.clone(), username: user("dave") });
    alice.take();
    let invitation = alice.node.room(&room).unwrap().invitations[&user("dave")].clone();
    assert_eq!(invitation.since.get(&user("carol")), Some(&1), "dave starts after carol's first message");
    // Bob (no floor) asks again on a fresh link: served with carol's signature.
    alice.input(Input::LinkDown { link: "dc_b".into() });
    alice.link_from("dc_b2", "bob", ours());
    alice.take();
    alice.frame("dc_b2", json!({"type": "mc.sync", "room": room.as_str(), "heads": {}}));
    let outputs = alice.take();
    let batch = sent(&outputs, "mc.batch");
    assert_eq!(batch.len(), 1);
    let relayed = &batch[0]["messages"][0];
    let sig = Signature::parse(relayed["sig"].as_str().unwrap()).unwrap();
    let payload = message_payload(&room, &stored.id, 1, &user("carol"), "relayed by bob", Millis(900));
    assert!(sig.verifies(&identity("carol").public_key(), &payload));
}

#[test]
fn a_message_whose_authors_key_is_unknown_is_held_until_the_key_is_known() {
    let (mut alice, room) = friends();
    // Dave joined through bob (bob's signed invitation introduces no key); alice never linked to dave.
    let payload = invitation_payload(&room, "Friends", &user("bob"), &user("dave"), None, &Default::default());
    let invite = json!({"by": "bob", "to": "dave", "since": {},
        "sig": Signature::sign(&identity("bob"), &payload).to_string()});
    let info = json!({"type": "mc.room", "room": room.as_str(), "name": "Friends",
        "members": ["alice", "bob", "carol", "dave"], "invites": [invite]});
    alice.frame("dc_b", info);
    assert!(alice.node.room(&room).unwrap().members.contains(&user("dave")), "bob's signed invitation admits dave");
    alice.frame("dc_b", signed_batch(&room, &[("dave", "dave", 1, "hi from dave")]));
    assert!(alice.texts(&room).is_empty(), "not shown as dave's before his key is known");
    assert_eq!(alice.node.awaiting_key_len(), 1);
    alice.input(Input::PeerKey { username: user("dave"), key: identity("dave").public_key() });
    assert_eq!(alice.texts(&room), [("dave".to_owned(), "hi from dave".to_owned())]);
    assert_eq!(alice.node.awaiting_key_len(), 0);
    // Once the key is known, a forgery is refused at once.
    alice.take();
    alice.frame("dc_b", signed_batch(&room, &[("bob", "dave", 2, "bob as dave")]));
    assert_eq!(alice.node.messages(&room).len(), 1);
    assert_eq!(drops(&alice.take()), [DropReason::BadSignature]);
}

#[test]
fn an_invitation_is_reported_and_joined_only_when_accepted() {
    let mut alice = Alice::new();
    alice.link_from("dc_b", "bob", ours());
    let room = RoomId::group_from_random([7; 16]);
    let invitation = |to: &str| {
        let key = identity(to).public_key();
        let since = [(user("bob"), 3)].into();
        let payload = invitation_payload(&room, "Friends", &user("bob"), &user(to), Some(&key), &since);
        json!({"by": "bob", "to": to, "key": key.to_string(), "since": {"bob": 3},
            "sig": Signature::sign(&identity("bob"), &payload).to_string()})
    };
    let info = json!({"type": "mc.room", "room": room.as_str(), "name": "Friends",
        "members": ["alice", "bob", "carol"], "invites": [invitation("alice"), invitation("carol")]});
    alice.frame("dc_b", info.clone());
    let outputs = alice.take();
    let invited: Vec<&ChatEvent> = outputs
        .iter()
        .filter_map(|it| if let Output::Event(event @ ChatEvent::Invited { .. }) = it { Some(event) } else { None })
        .collect();
    assert_eq!(invited, [&ChatEvent::Invited { room: room.clone(), name: "Friends".into(), inviter: user("bob") }]);
    assert!(alice.node.room(&room).is_none());
    assert_eq!(dials(&outputs), 0);
    // The same invitation again is not a second one.
    alice.frame("dc_b", info);
    assert_eq!(alice.node.invitations().len(), 1);
    alice.command(Command::AcceptInvitation { room: room.clone() });
    let outputs = alice.take();
    let record = alice.node.room(&room).unwrap();
    assert_eq!(record.members, [user("alice"), user("bob"), user("carol")].into());
    assert_eq!(dials(&outputs), 1, "carol is dialed once alice accepted");
    let syncs = sent(&outputs, "mc.sync");
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0]["heads"], json!({"bob": 3}), "alice's history starts where bob's invitation says");
    let carol = alice.node.known_key(&user("carol")).unwrap();
    assert_eq!(carol.introduced_by, Some(user("bob")), "carol's key is known, introduced by bob");
    // An unsigned invitation from bob, whose key is known, is refused; a declined one is not offered again.
    let other = RoomId::group_from_random([8; 16]);
    let unsigned = json!({"type": "mc.room", "room": other.as_str(), "name": "Other",
        "members": ["alice", "bob"], "invites": [{"by": "bob", "to": "alice"}]});
    alice.frame("dc_b", unsigned);
    assert_eq!(drops(&alice.take()), [DropReason::BadInvitation]);
    assert!(alice.node.invitations().is_empty());
}

/// Bob's genuine invitation of `invitee` to alice's "Friends", as `mc.room` carries it.
fn bobs_invitation(room: &RoomId, invitee: &str) -> Value {
    let payload = invitation_payload(room, "Friends", &user("bob"), &user(invitee), None, &Default::default());
    let sig = Signature::sign(&identity("bob"), &payload);
    json!({"by": "bob", "to": invitee, "key": null, "since": {}, "sig": sig.to_string()})
}

/// Issue 13's gap: a member allowed to invite could add about 510 members to a room (as many dials, and
/// each member a full mesh of links). A room holds at most `MAX_ROOM_MEMBERS`; invitations past it are
/// refused and reported.
#[test]
fn a_member_cannot_grow_a_room_past_its_member_cap() {
    let (mut alice, room) = friends();
    let guests: Vec<String> = (0..200).map(|n| format!("guest{n}")).collect();
    for chunk in guests.chunks(40) {
        let mut members: Vec<&str> = vec!["alice", "bob", "carol"];
        members.extend(chunk.iter().map(String::as_str));
        let invites: Vec<Value> = chunk.iter().map(|it| bobs_invitation(&room, it)).collect();
        let info = json!({"type": "mc.room", "room": room.as_str(), "name": "Friends", "members": members,
            "invites": invites});
        alice.frame("dc_b", info);
    }
    let outputs = alice.take();
    let members = alice.node.room(&room).unwrap().members.len();
    assert_eq!(members, MAX_ROOM_MEMBERS, "the room grew to {members} members");
    assert!(dials(&outputs) <= MAX_ROOM_MEMBERS, "{} dials", dials(&outputs));
    assert!(drops(&outputs).contains(&DropReason::RoomFull), "the refusal is reported: {:?}", drops(&outputs));
}

/// An invitation to a room listing more members than a room may hold is refused as it arrives.
#[test]
fn an_invitation_to_an_overfull_room_is_refused() {
    let mut alice = Alice::new();
    alice.link_from("dc_b", "bob", ours());
    let room = RoomId::group_from_random([7; 16]);
    let mut members: Vec<String> = (0..100).map(|n| format!("guest{n}")).collect();
    members.extend(["alice".to_owned(), "bob".to_owned()]);
    let payload = invitation_payload(&room, "Crowd", &user("bob"), &user("alice"), None, &Default::default());
    let sig = Signature::sign(&identity("bob"), &payload);
    let invite = json!({"by": "bob", "to": "alice", "key": null, "since": {}, "sig": sig.to_string()});
    alice.frame(
        "dc_b",
        json!({"type": "mc.room", "room": room.as_str(), "name": "Crowd", "members": members, "invites": [invite]}),
    );
    let outputs = alice.take();
    assert!(alice.node.invitations().is_empty(), "an invitation to an overfull room waits for alice's answer");
    assert_eq!(drops(&outputs), vec![DropReason::RoomFull]);
}

/// The user's own invitation past the cap is refused with words for people.
#[test]
fn the_users_invitation_past_the_cap_says_the_group_is_full() {
    let mut alice = Alice::new();
    let room = alice.command(Command::CreateGroup { name: "Friends".into(), random: [1; 16] }).unwrap();
    for n in 1..MAX_ROOM_MEMBERS {
        alice.command(Command::Invite { room: room.clone(), username: user(&format!("guest{n}")) });
    }
    let res = alice.node.handle_command(alice.now, Command::Invite { room: room.clone(), username: user("onemore") });
    let err = res.unwrap_err();
    assert_eq!(err, ChatError::Room(RoomError::TooManyMembers));
    assert_eq!(err.to_string(), format!("This group is full: a group can have at most {MAX_ROOM_MEMBERS} members"));
    assert_eq!(alice.node.room(&room).unwrap().members.len(), MAX_ROOM_MEMBERS);
}
