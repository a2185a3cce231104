//! Replies, reactions, edits and deletes (issue 15) on the simulated network: every member of a group
//! sees them, also one who was offline and caught up; the original page is never sent one; and typing
//! indicators and read receipts behave as their settings say.

use multichat_core::bridge::Request;
use multichat_core::chat::fold::fold;
use multichat_core::chat::node::{ActOn, Privacy, TYPING_SHOWN_MS};
use multichat_core::chat::{Command, MessageId, RoomId};
use multichat_core::time::Millis;
use serde_json::Value;

use crate::chat_sim::{Sim, user};

/// What a member shows of a room: per shown message, `(sender, text, edited, deleted, reactions, quote)`.
type Display = Vec<(String, String, bool, bool, Vec<(String, Vec<String>)>, Option<String>)>;

fn display(sim: &Sim, name: &str, room: &RoomId) -> Display {
    let messages = sim.node(name).messages(room);
    fold(&messages)
        .into_iter()
        .map(|it| {
            let reactions =
                it.reactions.into_iter().map(|(e, who)| (e, who.iter().map(ToString::to_string).collect())).collect();
            let quote =
                it.reply.map(|q| format!("{}: {}", q.author, if q.deleted { "(deleted)".into() } else { q.excerpt }));
            (it.message.sender.to_string(), it.text, it.edited, it.deleted, reactions, quote)
        })
        .collect()
}

fn id_of(sim: &Sim, name: &str, room: &RoomId, text: &str) -> MessageId {
    sim.node(name).messages(room).iter().find(|it| it.text == text).expect("the message is loaded").id.clone()
}

/// Deterministic ids for the actions of a test (apart from the simulation's own).
struct Ids(u8);

impl Ids {
    fn next(&mut self) -> [u8; 16] {
        self.0 += 1;
        [0xa0, self.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee]
    }
}

fn act(sim: &mut Sim, ids: &mut Ids, name: &str, room: &RoomId, to: &MessageId, what: ActOn) {
    let random = ids.next();
    sim.command(name, Command::Act { room: room.clone(), to: to.clone(), what, random });
}

fn three_member_room(sim: &mut Sim) -> RoomId {
    let room = sim.create_group("alice", "Friends");
    sim.invite("alice", &room, "bob");
    sim.invite("bob", &room, "carol");
    room
}

/// The same conversation: alice writes two messages, bob quotes the first, carol and bob react, alice
/// edits the first and deletes the second.
fn converse(sim: &mut Sim, room: &RoomId, ids: &mut Ids) {
    sim.send("alice", room, "hello");
    sim.send("alice", room, "a secret said too soon");
    let hello = id_of(sim, "alice", room, "hello");
    let secret = id_of(sim, "alice", room, "a secret said too soon");
    act(sim, ids, "bob", room, &hello, ActOn::Reply { text: "hi alice".into() });
    act(sim, ids, "carol", room, &hello, ActOn::React { emoji: "👍".into() });
    act(sim, ids, "bob", room, &hello, ActOn::React { emoji: "👍".into() });
    act(sim, ids, "bob", room, &hello, ActOn::React { emoji: "🎉".into() });
    // Bob takes his 🎉 back: a second click on the same emoji.
    act(sim, ids, "bob", room, &hello, ActOn::React { emoji: "🎉".into() });
    act(sim, ids, "alice", room, &hello, ActOn::Edit { text: "hello everyone".into() });
    act(sim, ids, "alice", room, &secret, ActOn::Delete);
}

fn expected() -> Display {
    vec![
        (
            "alice".into(),
            "hello everyone".into(),
            true,
            false,
            vec![("👍".into(), vec!["bob".into(), "carol".into()])],
            None,
        ),
        ("alice".into(), String::new(), false, true, vec![], None),
        ("bob".into(), "hi alice".into(), false, false, vec![], Some("alice: hello everyone".into())),
    ]
}

#[test]
fn replies_reactions_edits_and_deletes_show_on_every_member_of_a_group() {
    let mut sim = Sim::new(&["alice", "bob", "carol"], &[]);
    let room = three_member_room(&mut sim);
    converse(&mut sim, &room, &mut Ids(0));
    for name in ["alice", "bob", "carol"] {
        assert_eq!(display(&sim, name, &room), expected(), "{name}");
        sim.assert_exactly_once_in_order(name, &room);
        // Deleted for everyone: the text is gone from every member's storage, the slot kept.
        let stored = sim.stored(name, &room);
        assert!(stored.iter().all(|it| !it.text.contains("secret")), "{name} still stores the deleted text");
        assert!(stored.iter().any(|it| it.deleted), "{name} keeps the deleted message's slot");
        assert_eq!(sim.node(name).outbox_len(), 0, "{name}: every action was acknowledged");
    }
    assert!(sim.dropped_frames("bob").is_empty(), "{:?}", sim.dropped_frames("bob"));
}

#[test]
fn a_member_who_was_offline_catches_up_on_every_action() {
    let mut sim = Sim::new(&["alice", "bob", "carol"], &[]);
    let room = three_member_room(&mut sim);
    sim.send("bob", &room, "before carol left");
    sim.crash("carol");
    let mut ids = Ids(0);
    // Carol cannot react while away: her reaction is replaced by alice's.
    sim.send("alice", &room, "hello");
    sim.send("alice", &room, "a secret said too soon");
    let hello = id_of(&sim, "alice", &room, "hello");
    let secret = id_of(&sim, "alice", &room, "a secret said too soon");
    act(&mut sim, &mut ids, "bob", &room, &hello, ActOn::Reply { text: "hi alice".into() });
    act(&mut sim, &mut ids, "bob", &room, &hello, ActOn::React { emoji: "👍".into() });
    act(&mut sim, &mut ids, "alice", &room, &hello, ActOn::Edit { text: "hello everyone".into() });
    act(&mut sim, &mut ids, "alice", &room, &secret, ActOn::Delete);
    sim.advance(1_000);
    sim.restart("carol");
    sim.advance(10_000);
    let alice = display(&sim, "alice", &room);
    assert_eq!(alice.len(), 4);
    assert_eq!(display(&sim, "carol", &room), alice, "carol shows what alice shows");
    assert_eq!(alice[1].1, "hello everyone");
    assert!(alice[2].3, "the deleted message is a tombstone");
    // Carol never held the deleted message: it was not relayed, and its slot is filled.
    let stored = sim.stored("carol", &room);
    assert!(stored.iter().all(|it| !it.text.contains("secret")), "the deleted text reached carol");
    sim.assert_exactly_once_in_order("carol", &room);
    for name in ["alice", "bob"] {
        assert_eq!(sim.node(name).outbox_len(), 0, "{name} has nothing waiting for carol");
    }
    // And after a restart the actions still apply (they are stored like messages).
    sim.crash("carol");
    sim.restart("carol");
    assert_eq!(display(&sim, "carol", &room), alice);
}

#[test]
fn only_the_author_can_edit_or_delete_from_the_user_interface() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    sim.send("alice", &room, "mine");
    let id = id_of(&sim, "bob", &room, "mine");
    let now = sim.now;
    let node = sim.nodes.get_mut("bob").unwrap().node.as_mut().unwrap();
    for what in [ActOn::Edit { text: "bob's words".into() }, ActOn::Delete] {
        let res = node.handle_command(now, Command::Act { room: room.clone(), to: id.clone(), what, random: [7; 16] });
        assert_eq!(res, Err(multichat_core::chat::ChatError::NotYours));
    }
    let res = node.handle_command(
        now,
        Command::Act { room: room.clone(), to: id, what: ActOn::React { emoji: "no spaces".into() }, random: [8; 16] },
    );
    assert_eq!(res, Err(multichat_core::chat::ChatError::NotAReaction));
}

#[test]
fn the_original_page_is_sent_no_action_and_a_reply_only_as_its_text() {
    let mut sim = Sim::new(&["alice", "bob"], &["dave"]);
    let room = sim.create_group("alice", "Mixed");
    sim.invite("alice", &room, "bob");
    sim.invite("alice", &room, "dave");
    sim.advance(100);
    sim.page_send("dave", "hello from the page");
    sim.send("alice", &room, "hello dave");
    let mut ids = Ids(0);
    let theirs = id_of(&sim, "alice", &room, "hello from the page");
    let mine = id_of(&sim, "alice", &room, "hello dave");
    act(&mut sim, &mut ids, "alice", &room, &theirs, ActOn::React { emoji: "👍".into() });
    act(&mut sim, &mut ids, "alice", &room, &theirs, ActOn::Reply { text: "nice page".into() });
    act(&mut sim, &mut ids, "alice", &room, &mine, ActOn::Edit { text: "hello, dave".into() });
    act(&mut sim, &mut ids, "alice", &room, &mine, ActOn::Delete);
    sim.advance(10_000);
    let frames: &Vec<Value> = &sim.pages["dave"].received;
    for frame in frames {
        assert!(matches!(frame["type"].as_str(), Some("chat" | "connections")), "dave got {frame}");
        assert!(frame.get("act").is_none() && frame.get("id").is_none(), "dave got our extras: {frame}");
    }
    let texts: Vec<&str> = sim.pages["dave"].chats.iter().filter_map(|it| it["message"].as_str()).collect();
    assert_eq!(texts, ["hello from the page", "hello dave", "nice page"]);
    // Bob, who speaks our protocol, has all of it; nothing waits for the page.
    assert_eq!(display(&sim, "bob", &room), display(&sim, "alice", &room));
    assert_eq!(sim.node("alice").outbox_len(), 0);
}

#[test]
fn typing_shows_within_a_second_and_goes_five_seconds_after_the_last() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    sim.command("alice", Command::Typing { room: room.clone() });
    assert_eq!(sim.node("bob").typing_in(&room), [&user("alice")]);
    // Typing on: a keystroke every 300 ms for 3 s sends at most one frame a second, and keeps it shown.
    for _ in 0..10 {
        sim.advance(300);
        sim.command("alice", Command::Typing { room: room.clone() });
        assert_eq!(sim.node("bob").typing_in(&room).len(), 1);
    }
    let stopped = sim.now;
    sim.advance(TYPING_SHOWN_MS - 1_000);
    sim.advance(1_000);
    assert!(
        sim.node("bob").typing_in(&room).is_empty(),
        "still typing {} ms after the last keystroke",
        sim.now.0 - stopped.0
    );
    // A message ends it at once.
    sim.command("alice", Command::Typing { room: room.clone() });
    sim.send("alice", &room, "done");
    assert!(sim.node("bob").typing_in(&room).is_empty());
    // Turned off on bob's side: he neither shows nor sends it.
    sim.command("bob", Command::SetPrivacy(Privacy { typing: false, receipts: false }));
    sim.advance(1_000);
    sim.command("alice", Command::Typing { room: room.clone() });
    assert!(sim.node("bob").typing_in(&room).is_empty());
    sim.command("bob", Command::Typing { room: room.clone() });
    assert!(sim.node("alice").typing_in(&room).is_empty());
    // Nothing of it was stored.
    assert_eq!(sim.stored("bob", &room).len(), 1);
}

#[test]
fn typing_right_after_sending_a_message_is_shown() {
    // A message ends "… is typing" on the other side at once, so the next keystroke must say so again even
    // within a second of the last one that did (the browser e2e typed "hel" just after sending "first":
    // nothing was ever shown).
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    sim.command("alice", Command::Typing { room: room.clone() });
    sim.send("alice", &room, "first");
    assert!(sim.node("bob").typing_in(&room).is_empty());
    sim.advance(300);
    sim.command("alice", Command::Typing { room: room.clone() });
    assert_eq!(sim.node("bob").typing_in(&room), [&user("alice")], "typing again 300 ms after a message");
    // The limit of one frame a second still holds while she goes on typing.
    sim.advance(300);
    sim.command("alice", Command::Typing { room: room.clone() });
    sim.advance(TYPING_SHOWN_MS - 100);
    assert!(sim.node("bob").typing_in(&room).is_empty(), "a keystroke within the second renewed it");
}

#[test]
fn the_worker_refreshes_the_popup_when_typing_expires() {
    // Through two worker models: the expiry is on the worker's timer, and its view update reaches the
    // popup with no other input (no engine report, no request) in between.
    let (mut alice, mut bob, room) = crate::worker_model::chatting();
    alice.request(Request::Typing { room: room.clone() }, Millis(1_000));
    crate::worker_model::pump(&mut alice, &mut bob, "dc_1", Millis(1_010));
    assert_eq!(bob.view().open_room.unwrap().typing, ["alice"]);
    let until = Millis(1_010 + TYPING_SHOWN_MS);
    assert!(bob.model.next_timeout().is_some_and(|it| it <= until), "{:?}", bob.model.next_timeout());
    bob.timeout(Millis(until.0 - 1));
    assert_eq!(bob.view().open_room.unwrap().typing, ["alice"]);
    assert_eq!(bob.model.next_timeout(), Some(until), "the next timer is the expiry");
    let updates = bob.view_updates;
    bob.timeout(until);
    assert!(bob.view().open_room.unwrap().typing.is_empty());
    assert_eq!(bob.view_updates, updates + 1, "one fresh view for the popup");
}

#[test]
fn read_receipts_show_only_when_both_opted_in() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    sim.send("alice", &room, "one");
    // Off by default on both sides.
    sim.command("bob", Command::MarkRead { room: room.clone() });
    assert!(sim.node("alice").read_receipts(&room).is_empty());
    // Bob turns them on, alice has not: alice is shown nothing.
    sim.command("bob", Command::SetPrivacy(Privacy { typing: true, receipts: true }));
    sim.send("alice", &room, "two");
    sim.command("bob", Command::MarkRead { room: room.clone() });
    assert!(sim.node("alice").read_receipts(&room).is_empty(), "alice did not opt in");
    // Alice opted in, bob not: bob's side sends nothing.
    sim.command("bob", Command::SetPrivacy(Privacy { typing: true, receipts: false }));
    sim.command("alice", Command::SetPrivacy(Privacy { typing: true, receipts: true }));
    sim.send("alice", &room, "three");
    sim.command("bob", Command::MarkRead { room: room.clone() });
    assert!(sim.node("alice").read_receipts(&room).is_empty(), "bob did not opt in");
    // Both: alice sees that bob read up to "four".
    sim.command("bob", Command::SetPrivacy(Privacy { typing: true, receipts: true }));
    sim.send("alice", &room, "four");
    sim.command("bob", Command::MarkRead { room: room.clone() });
    let four = id_of(&sim, "alice", &room, "four");
    assert_eq!(sim.node("alice").read_receipts(&room), [(&user("bob"), &four)]);
}
