//! Leaving a group and deleting a conversation (issue 15), against one node (alice) driven with the frames
//! her peers send: a member's signed leave takes them out of the group for good and ends the dials to them;
//! a leave forged by anyone but its author is refused; alice's own leave is signed, goes to every member on
//! a link of ours (and to one who was offline when it links again), and nothing of the room stays stored.

use multichat_core::account::Username;
use multichat_core::chat::history;
use multichat_core::chat::node::NodeConfig;
use multichat_core::chat::signing::{Signature, invitation_payload, leave_payload};
use multichat_core::chat::wire::{self, Frame, Hello, Leave, OUR_CAPABILITIES};
use multichat_core::chat::{ChatEvent, ChatNode, Command, DropReason, Input, Output, RoomId};
use multichat_core::identity::Identity;
use multichat_core::storage::StorageWrite;
use multichat_core::time::Millis;
use serde_json::{Value, json};

use crate::chat_sim::user;

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

    /// `peer` dialed alice with our metadata, proved its key and said hello.
    fn link_from(&mut self, link: &str, peer: &str) {
        let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
        self.input(Input::LinkUp { link: link.into(), peer_id: user(peer).peer_id(), metadata, outgoing: false });
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

    /// Runs alice's timers for `ms` milliseconds, a second at a time.
    fn run_for(&mut self, ms: u64) {
        let end = self.now.saturating_add(ms);
        while self.now < end {
            self.now = self.now.saturating_add(1_000);
            self.node.handle_timeout(self.now);
            self.outputs.extend(std::iter::from_fn(|| self.node.poll_output()));
        }
    }

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    fn members(&self, room: &RoomId) -> Vec<String> {
        self.node.room(room).map(|it| it.members.iter().map(ToString::to_string).collect()).unwrap_or_default()
    }
}

fn identity(name: &str) -> Identity {
    let mut seed = [0u8; 32];
    seed[..name.len()].copy_from_slice(name.as_bytes());
    Identity::from_seed(seed)
}

/// `user`'s leave of `room`, signed by `signer` (None: unsigned).
fn leave(room: &RoomId, who: &str, signer: Option<&str>) -> Value {
    let timestamp = Millis(777);
    let sig = signer.map(|it| Signature::sign(&identity(it), &leave_payload(room, &user(who), timestamp)));
    wire::encode(&Frame::Leave(Leave { room: room.clone(), user: user(who), timestamp, sig }))
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

fn dials_to(outputs: &[Output], peer: &str) -> usize {
    let peer_id = user(peer).peer_id();
    outputs.iter().filter(|it| matches!(it, Output::Dial { peer_id: id, .. } if *id == peer_id)).count()
}

/// Every frame of type `kind` sent, with its link.
fn sent<'a>(outputs: &'a [Output], kind: &str) -> Vec<(&'a str, &'a Value)> {
    outputs
        .iter()
        .filter_map(|it| match it {
            Output::Send { link, frame } if frame["type"] == kind => Some((link.as_str(), frame)),
            _ => None,
        })
        .collect()
}

/// Alice made "Friends" and invited bob and carol, both linked to her (dc_b, dc_c).
fn friends() -> (Alice, RoomId) {
    let mut alice = Alice::new();
    let room = alice.command(Command::CreateGroup { name: "Friends".into(), random: [1; 16] }).unwrap();
    alice.link_from("dc_b", "bob");
    alice.link_from("dc_c", "carol");
    for name in ["bob", "carol"] {
        alice.command(Command::Invite { room: room.clone(), username: user(name) });
    }
    alice.take();
    (alice, room)
}

#[test]
fn without_a_leave_a_lost_member_is_redialed() {
    // The baseline the next test changes: bob's link goes down and alice keeps dialing him.
    let (mut alice, _room) = friends();
    alice.input(Input::LinkDown { link: "dc_b".into() });
    alice.run_for(120_000);
    assert!(dials_to(&alice.take(), "bob") >= 3, "alice stopped dialing bob without a leave");
}

#[test]
fn a_members_signed_leave_takes_them_out_and_ends_the_dials() {
    let (mut alice, room) = friends();
    alice.command(Command::Send { room: room.clone(), text: "still there?".into(), random: [5; 16] });
    alice.take();
    alice.frame("dc_b", leave(&room, "bob", Some("bob")));
    let outputs = alice.take();
    assert!(drops(&outputs).is_empty(), "{:?}", drops(&outputs));
    assert_eq!(alice.members(&room), ["alice", "carol"]);
    // No room is shared with bob any more: his link is closed, and he is not waited for.
    assert!(outputs.iter().any(|it| matches!(it, Output::Close { link } if link == "dc_b")));
    let history = alice.node.history(&room).unwrap();
    assert!(history.meta.outbox.iter().all(|it| !it.waiting.contains(&user("bob"))));
    alice.input(Input::LinkDown { link: "dc_b".into() });
    alice.run_for(120_000);
    assert_eq!(dials_to(&alice.take(), "bob"), 0, "alice still dials bob after he left");
    // Carol, still a member, gossips the room with bob's old invitation: he does not come back.
    let since = std::collections::BTreeMap::new();
    let payload = invitation_payload(&room, "Friends", &user("alice"), &user("bob"), None, &since);
    let sig = Signature::sign(&identity("alice"), &payload);
    let info = json!({"type": "mc.room", "room": room.as_str(), "name": "Friends",
        "members": ["alice", "bob", "carol"],
        "invites": [{"by": "alice", "to": "bob", "since": {}, "sig": sig.to_string()}]});
    alice.frame("dc_c", info);
    assert_eq!(alice.members(&room), ["alice", "carol"]);
    assert_eq!(dials_to(&alice.take(), "bob"), 0);
}

#[test]
fn a_leave_forged_by_anyone_but_its_author_is_refused() {
    let (mut alice, room) = friends();
    // Carol says bob left: unsigned, then signed by herself; and bob's own link with a signature not his.
    alice.frame("dc_c", leave(&room, "bob", None));
    alice.frame("dc_c", leave(&room, "bob", Some("carol")));
    alice.frame("dc_b", leave(&room, "bob", Some("carol")));
    alice.frame("dc_b", leave(&room, "bob", None));
    // Nobody can make alice leave, nor take out someone who is not a member.
    alice.frame("dc_b", leave(&room, "alice", Some("alice")));
    alice.frame("dc_b", leave(&room, "dave", Some("dave")));
    let reasons = drops(&alice.take());
    assert_eq!(
        reasons,
        [
            DropReason::Unsigned,
            DropReason::BadSignature,
            DropReason::BadSignature,
            DropReason::Unsigned,
            DropReason::SenderMismatch,
            DropReason::NotAMember,
        ],
        "{reasons:?}"
    );
    assert_eq!(alice.members(&room), ["alice", "bob", "carol"]);
    // Bob's genuine leave, relayed by carol, is his word: it counts.
    alice.frame("dc_c", leave(&room, "bob", Some("bob")));
    assert!(drops(&alice.take()).is_empty());
    assert_eq!(alice.members(&room), ["alice", "carol"]);
}

#[test]
fn our_leave_is_signed_sent_to_every_member_and_again_to_one_who_was_away() {
    let (mut alice, room) = friends();
    alice.command(Command::Send { room: room.clone(), text: "bye all".into(), random: [6; 16] });
    alice.input(Input::LinkDown { link: "dc_c".into() });
    alice.take();
    alice.command(Command::DeleteRoom { room: room.clone() });
    let outputs = alice.take();
    let leaves = sent(&outputs, "mc.leave");
    // Only bob is linked: he is told now.
    assert_eq!(leaves.iter().map(|it| it.0).collect::<Vec<_>>(), ["dc_b"]);
    let frame = wire::decode(leaves[0].1).unwrap();
    let Frame::Leave(ours) = frame else { panic!("not a leave: {frame:?}") };
    assert_eq!(ours.user, user("alice"));
    let payload = leave_payload(&room, &user("alice"), ours.timestamp);
    assert!(ours.sig.unwrap().verifies(&identity("alice").public_key(), &payload));
    // The room and its stored history are gone.
    assert!(alice.node.room(&room).is_none() && alice.node.history(&room).is_none());
    let removed: Vec<String> = outputs
        .iter()
        .filter_map(|it| match it {
            Output::Write(writes) => Some(writes.iter().filter_map(|w| match w {
                StorageWrite::Remove { key } => Some(key.clone()),
                StorageWrite::Set { .. } => None,
            })),
            _ => None,
        })
        .flatten()
        .collect();
    let me: Username = user("alice");
    assert!(removed.contains(&history::meta_key(&me, &room)), "{removed:?}");
    assert!(removed.contains(&history::page_key(&me, &room, 0)), "{removed:?}");
    // Alice no longer dials anyone for it.
    alice.run_for(120_000);
    assert_eq!(dials_to(&alice.take(), "carol"), 0);
    // Carol comes back (she dials alice, who is still in her room): she is told at once.
    alice.link_from("dc_c2", "carol");
    let outputs = alice.take();
    assert_eq!(sent(&outputs, "mc.leave").iter().map(|it| it.0).collect::<Vec<_>>(), ["dc_c2"]);
    // Her room frame about it is answered with the leave again, and is no invitation.
    let info = json!({"type": "mc.room", "room": room.as_str(), "name": "Friends",
        "members": ["alice", "bob", "carol"], "invites": []});
    alice.frame("dc_c2", info);
    let outputs = alice.take();
    assert_eq!(sent(&outputs, "mc.leave").len(), 1);
    assert!(alice.node.invitations().is_empty() && alice.node.room(&room).is_none());
}

#[test]
fn a_mistyped_direct_conversation_can_be_deleted_and_is_not_dialed() {
    let mut alice = Alice::new();
    let room = alice.command(Command::OpenDirect { username: user("bbo") }).unwrap();
    assert!(dials_to(&alice.take(), "bbo") >= 1);
    alice.input(Input::DialFailed { peer_id: user("bbo").peer_id() });
    alice.command(Command::DeleteRoom { room: room.clone() });
    let outputs = alice.take();
    assert!(sent(&outputs, "mc.leave").is_empty(), "a direct conversation sends no leave");
    assert!(alice.node.room_views().is_empty());
    alice.run_for(120_000);
    assert_eq!(dials_to(&alice.take(), "bbo"), 0);
}

/// "Leave the group but keep its history": the members are told as when it is deleted and alice dials
/// nobody for it, but the conversation and every message stay, read-only.
#[test]
fn a_group_left_with_its_history_kept_stays_readable_and_silent() {
    let (mut alice, room) = friends();
    alice.command(Command::Send { room: room.clone(), text: "see you all".into(), random: [6; 16] });
    alice.input(Input::LinkDown { link: "dc_c".into() });
    alice.take();
    alice.command(Command::LeaveGroup { room: room.clone() });
    let outputs = alice.take();
    assert_eq!(sent(&outputs, "mc.leave").iter().map(|it| it.0).collect::<Vec<_>>(), ["dc_b"], "bob is told now");
    let removes = outputs.iter().any(
        |it| matches!(it, Output::Write(writes) if writes.iter().any(|w| matches!(w, StorageWrite::Remove { .. }))),
    );
    assert!(!removes, "nothing of the room is removed from storage");
    let view = alice.node.room_views().into_iter().find(|it| it.id == room).expect("the conversation stays");
    assert!(view.left && view.members.is_empty(), "{view:?}");
    let texts: Vec<String> = alice.node.messages(&room).iter().map(|it| it.text.clone()).collect();
    assert_eq!(texts, ["see you all"]);
    // Read-only: nothing is sent or invited any more.
    let send = Command::Send { room: room.clone(), text: "one more".into(), random: [7; 16] };
    let refused = alice.node.handle_command(alice.now, send).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "You left this group: its messages are kept here, but you can no longer write in it"
    );
    let invite = Command::Invite { room: room.clone(), username: user("dave") };
    assert!(alice.node.handle_command(alice.now, invite).is_err());
    // Nobody is dialed for it; carol, back, is told of the leave, and her frames about the room are
    // answered with it rather than taken in.
    alice.run_for(120_000);
    assert_eq!(dials_to(&alice.take(), "carol"), 0);
    alice.link_from("dc_c2", "carol");
    assert_eq!(sent(&alice.take(), "mc.leave").iter().map(|it| it.0).collect::<Vec<_>>(), ["dc_c2"]);
    alice.frame("dc_c2", json!({"type": "mc.sync", "room": room.as_str(), "heads": {}}));
    let outputs = alice.take();
    assert_eq!(sent(&outputs, "mc.leave").len(), 1, "answered with the leave");
    assert!(sent(&outputs, "mc.batch").is_empty(), "and served nothing");
    // Deleting it later removes it, with no second leave.
    alice.command(Command::DeleteRoom { room: room.clone() });
    let outputs = alice.take();
    assert!(sent(&outputs, "mc.leave").is_empty());
    assert!(alice.node.room(&room).is_none() && alice.node.history(&room).is_none());
}
