//! Forged edits and deletes (issue 15): a member signs, with its own valid key, an edit or a delete of
//! another member's message. Alice refuses it, and the message keeps its text on screen and in storage,
//! whether she held it before the forgery arrived or only after.

use multichat_core::chat::actions::Action;
use multichat_core::chat::fold::fold;
use multichat_core::chat::node::NodeConfig;
use multichat_core::chat::signing::{Signature, signed_payload};
use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello, OUR_CAPABILITIES};
use multichat_core::chat::{ChatEvent, ChatNode, Command, DropReason, Input, MessageId, Output, RoomId};
use multichat_core::identity::Identity;
use multichat_core::time::Millis;
use serde_json::{Value, json};

use crate::chat_sim::user;

fn identity(name: &str) -> Identity {
    let mut seed = [0u8; 32];
    seed[..name.len()].copy_from_slice(name.as_bytes());
    Identity::from_seed(seed)
}

struct Alice {
    node: ChatNode,
    now: Millis,
    outputs: Vec<Output>,
}

impl Alice {
    fn input(&mut self, input: Input) {
        self.now = self.now.saturating_add(1);
        self.node.handle_input(self.now, input);
        self.outputs.extend(std::iter::from_fn(|| self.node.poll_output()));
    }

    fn frame(&mut self, link: &str, frame: Value) {
        self.input(Input::Frame { link: link.into(), frame });
    }

    fn drops(&mut self) -> Vec<DropReason> {
        std::mem::take(&mut self.outputs)
            .into_iter()
            .filter_map(|it| match it {
                Output::Event(ChatEvent::FrameDropped { reason, .. }) => Some(reason),
                _ => None,
            })
            .collect()
    }

    /// `(sender, text, edited, deleted)` of what alice shows.
    fn shown(&self, room: &RoomId) -> Vec<(String, String, bool, bool)> {
        let messages = self.node.messages(room);
        fold(&messages).into_iter().map(|it| (it.message.sender.to_string(), it.text, it.edited, it.deleted)).collect()
    }
}

/// Alice's group "Friends" with bob and carol, both linked to her with proved keys.
fn friends() -> (Alice, RoomId) {
    let config = NodeConfig { identity: Some(identity("alice")), ..NodeConfig::default() };
    let mut alice = Alice {
        node: ChatNode::with_config(user("alice"), Millis(1_000), config),
        now: Millis(1_000),
        outputs: Vec::new(),
    };
    let room = alice
        .node
        .handle_command(Millis(1_000), Command::CreateGroup { name: "Friends".into(), random: [1; 16] })
        .unwrap()
        .unwrap();
    for (link, peer) in [("dc_b", "bob"), ("dc_c", "carol")] {
        let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
        alice.input(Input::LinkUp { link: link.into(), peer_id: user(peer).peer_id(), metadata, outgoing: false });
        alice.input(Input::PeerKey { username: user(peer), key: identity(peer).public_key() });
        let hello = Hello {
            version: 1,
            user: user(peer),
            capabilities: OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect(),
            auth: None,
            session: Some(1),
        };
        alice.frame(link, wire::encode(&Frame::Hello(hello)));
        alice.node.handle_command(alice.now, Command::Invite { room: room.clone(), username: user(peer) }).unwrap();
    }
    alice.outputs.clear();
    std::iter::from_fn(|| alice.node.poll_output()).for_each(drop);
    (alice, room)
}

/// A message of `author`'s, validly signed by `author`, doing `act`.
fn message(author: &str, room: &RoomId, seq: u64, text: &str, act: Option<Action>) -> Value {
    let id = MessageId::parse(&format!("m-{author}-{seq}")).unwrap();
    let timestamp = Millis(500 + seq);
    let payload = signed_payload(room, &id, seq, &user(author), text, timestamp, act.as_ref());
    let sig = Signature::sign(&identity(author), &payload);
    wire::encode(&Frame::Chat(ChatFrame {
        sender: user(author),
        text: text.into(),
        timestamp,
        ours: Some(ChatExtras { id, seq, room: room.clone(), sig: Some(sig), act }),
    }))
}

fn carols_first() -> MessageId {
    MessageId::parse("m-carol-1").unwrap()
}

#[test]
fn a_member_cannot_edit_or_delete_another_members_message() {
    let (mut alice, room) = friends();
    alice.frame("dc_c", message("carol", &room, 1, "carol's own words", None));
    alice.drops();
    alice.frame(
        "dc_b",
        message("bob", &room, 1, "bob's words in carol's mouth", Some(Action::Edit { to: carols_first() })),
    );
    alice.frame("dc_b", message("bob", &room, 2, "deleted", Some(Action::Delete { to: carols_first(), seq: 1 })));
    assert_eq!(alice.drops(), [DropReason::NotTheAuthor, DropReason::NotTheAuthor]);
    assert_eq!(alice.shown(&room), [("carol".into(), "carol's own words".into(), false, false)]);
    let stored = alice.node.messages(&room);
    assert!(stored.iter().all(|it| it.act.is_none()), "a forged action was stored");
    // Carol's own edit is taken.
    alice.frame("dc_c", message("carol", &room, 2, "carol, edited", Some(Action::Edit { to: carols_first() })));
    assert!(alice.drops().is_empty());
    assert_eq!(alice.shown(&room), [("carol".into(), "carol, edited".into(), true, false)]);
}

#[test]
fn a_forged_edit_or_delete_sent_before_its_target_does_not_apply_to_it() {
    let (mut alice, room) = friends();
    // Bob names carol's message before alice has it; his delete names a slot of his own, seq 2.
    alice.frame("dc_b", message("bob", &room, 1, "edited by bob", Some(Action::Edit { to: carols_first() })));
    alice.frame("dc_b", message("bob", &room, 3, "deleted", Some(Action::Delete { to: carols_first(), seq: 2 })));
    assert_eq!(alice.node.messages(&room).len(), 3, "bob's edit, his tombstone and his delete are his own");
    alice.frame("dc_c", message("carol", &room, 1, "carol's own words", None));
    let shown = alice.shown(&room);
    assert!(
        shown.contains(&("carol".into(), "carol's own words".into(), false, false)),
        "carol's message was changed by bob: {shown:?}"
    );
    assert!(alice.node.messages(&room).iter().any(|it| it.sender == user("carol") && it.text == "carol's own words"));
}

#[test]
fn a_delete_cannot_name_another_slot_than_its_targets() {
    let (mut alice, room) = friends();
    alice.frame("dc_b", message("bob", &room, 1, "bob one", None));
    alice.frame("dc_b", message("bob", &room, 2, "bob two", None));
    // Bob's delete of his message 1 claims to be of his slot 2: refused, nothing deleted.
    let one = MessageId::parse("m-bob-1").unwrap();
    alice.frame("dc_b", message("bob", &room, 3, "deleted", Some(Action::Delete { to: one, seq: 2 })));
    assert_eq!(alice.drops(), [DropReason::NotTheAuthor]);
    let texts: Vec<String> = alice.shown(&room).into_iter().map(|it| it.1).collect();
    assert_eq!(texts, ["bob one", "bob two"]);
}
