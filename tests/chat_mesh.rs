//! Multichat nodes chatting on the simulated network: direct and group rooms, the mesh, catch-up,
//! reconnects and liveness.

use multichat_core::chat::history::DeliveryState;
use multichat_core::chat::node::{DEAD_AFTER_MS, PING_EVERY_MS};
use multichat_core::chat::{ChatEvent, Command};

use crate::chat_sim::{Sim, user};

#[test]
fn a_direct_chat_works_both_ways_and_is_acknowledged() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    assert!(sim.linked("alice", "bob"));
    sim.send("alice", &room, "hi bob");
    sim.send("bob", &room, "hi alice");
    let expected = vec![("alice".to_owned(), "hi bob".to_owned()), ("bob".to_owned(), "hi alice".to_owned())];
    assert_eq!(sim.texts("alice", &room), expected);
    assert_eq!(sim.texts("bob", &room), expected);
    assert_eq!(sim.state_of("alice", &room, "hi bob"), Some(DeliveryState::Delivered));
    assert_eq!(sim.state_of("bob", &room, "hi alice"), Some(DeliveryState::Delivered));
    assert_eq!(sim.node("alice").outbox_len(), 0);
    // Unread counts: bob has one from alice until he reads it.
    assert_eq!(sim.node("bob").total_unread(), 1);
    sim.command("bob", Command::MarkRead { room: room.clone() });
    assert_eq!(sim.node("bob").total_unread(), 0);
    let views = sim.node("alice").room_views();
    assert_eq!(views[0].title, "bob");
    assert!(views[0].members[0].online);
    assert!(sim.dropped_frames("alice").is_empty() && sim.dropped_frames("bob").is_empty());
}

#[test]
fn history_survives_a_restart() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    for n in 0..300 {
        sim.send(if n % 2 == 0 { "alice" } else { "bob" }, &room, &format!("message {n}"));
    }
    sim.crash("alice");
    sim.restart("alice");
    sim.advance(2_000);
    let loaded = sim.texts("alice", &room);
    // Opening reads only the last two pages, which end with the newest message.
    assert!(loaded.len() >= 128 && loaded.len() < 300);
    assert_eq!(loaded.last().unwrap().1, "message 299");
    assert_eq!(sim.stored("alice", &room).len(), 300);
    // Reconnected by itself, and still chatting.
    assert!(sim.linked("alice", "bob"));
    sim.send("alice", &room, "back");
    assert_eq!(sim.texts("bob", &room).last().unwrap().1, "back");
    // Scrolling back reads one older page.
    sim.command("alice", Command::LoadOlder { room: room.clone() });
    assert_eq!(sim.texts("alice", &room).len(), 301);
}

/// Alice creates a room and invites bob; carol joins through bob alone. Everyone ends up linked to
/// everyone, and every message reaches every member.
fn three_member_room(sim: &mut Sim) -> multichat_core::chat::RoomId {
    let room = sim.create_group("alice", "Friends");
    sim.invite("alice", &room, "bob");
    sim.invite("bob", &room, "carol");
    room
}

#[test]
fn a_room_joined_through_one_member_becomes_a_full_mesh() {
    let mut sim = Sim::new(&["alice", "bob", "carol"], &[]);
    let room = three_member_room(&mut sim);
    assert!(sim.linked("alice", "bob") && sim.linked("bob", "carol") && sim.linked("alice", "carol"));
    for name in ["alice", "bob", "carol"] {
        let record = sim.node(name).room(&room).unwrap();
        assert_eq!(record.members, [user("alice"), user("bob"), user("carol")].into(), "{name}");
        assert_eq!(record.name(), Some("Friends"));
    }
    sim.send("alice", &room, "from alice");
    sim.send("bob", &room, "from bob");
    sim.send("carol", &room, "from carol");
    for name in ["alice", "bob", "carol"] {
        let texts: Vec<String> = sim.texts(name, &room).into_iter().map(|it| it.1).collect();
        assert_eq!(texts, ["from alice", "from bob", "from carol"], "{name}");
        sim.assert_exactly_once_in_order(name, &room);
    }
    assert_eq!(sim.state_of("carol", &room, "from carol"), Some(DeliveryState::Delivered));
    for (a, b) in [("alice", "bob"), ("alice", "carol"), ("bob", "carol")] {
        assert_eq!(sim.link_count(a, b), 1, "one link between {a} and {b}");
    }
}

#[test]
fn a_member_offline_for_a_while_catches_up() {
    let mut sim = Sim::new(&["alice", "bob", "carol"], &[]);
    let room = three_member_room(&mut sim);
    sim.send("carol", &room, "before");
    sim.crash("carol");
    for n in 0..20 {
        sim.send("alice", &room, &format!("alice {n}"));
        sim.send("bob", &room, &format!("bob {n}"));
        sim.advance(500);
    }
    assert_eq!(sim.state_of("alice", &room, "alice 0"), Some(DeliveryState::Sending));
    sim.advance(60_000);
    assert_eq!(sim.state_of("alice", &room, "alice 0"), Some(DeliveryState::Failed));
    sim.restart("carol");
    sim.advance(5_000);
    assert_eq!(sim.stored("carol", &room).len(), 41);
    sim.assert_exactly_once_in_order("carol", &room);
    // Acknowledged once stored: nothing waits any more, and "failed" turned "delivered".
    assert_eq!(sim.node("alice").outbox_len(), 0);
    assert_eq!(sim.node("bob").outbox_len(), 0);
    assert_eq!(sim.state_of("alice", &room, "alice 0"), Some(DeliveryState::Delivered));
}

#[test]
fn catch_up_reaches_pages_that_are_not_loaded() {
    let mut sim = Sim::new(&["alice", "bob", "carol"], &[]);
    let room = three_member_room(&mut sim);
    sim.crash("bob");
    for n in 0..400 {
        sim.send("carol", &room, &format!("carol {n}"));
    }
    // Carol leaves; alice restarts and so holds only her last pages in memory. Bob's catch-up of carol's
    // messages must come from alice, from pages she has to read first.
    sim.crash("carol");
    sim.crash("alice");
    sim.restart("alice");
    assert!(sim.texts("alice", &room).len() < 400);
    sim.restart("bob");
    sim.advance(5_000);
    assert!(sim.page_reads >= 2, "older pages were read to serve bob ({})", sim.page_reads);
    assert_eq!(sim.stored("bob", &room).len(), 400);
    sim.assert_exactly_once_in_order("bob", &room);
    // Carol's outbox still waits for bob's own acknowledgement, which he gives when she is back.
    sim.restart("carol");
    sim.advance(5_000);
    assert_eq!(sim.node("carol").outbox_len(), 0);
    assert_eq!(sim.stored("bob", &room).len(), 400);
}

/// A deterministic stand-in for randomness in the test (the core has none of its own).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn no_duplicates_and_per_sender_order_across_link_drops_and_crashes() {
    let names = ["alice", "bob", "carol"];
    let mut sim = Sim::new(&names, &[]);
    let room = three_member_room(&mut sim);
    let mut rng = Lcg(7);
    let (mut sent, mut crashes, mut drops) = (0, 0, 0);
    for step in 0..300 {
        let name = names[rng.next(3) as usize];
        match rng.next(20) {
            0 => {
                drops += 1;
                sim.drop_links_of(name);
            }
            1 if sim.nodes[name].node.is_some() => {
                crashes += 1;
                sim.crash(name);
            }
            _ if sim.nodes[name].node.is_none() => sim.restart(name),
            _ => {
                sim.send(name, &room, &format!("{name} {step}"));
                sent += 1;
            }
        }
        sim.advance(300);
    }
    for name in names {
        if sim.nodes[name].node.is_none() {
            sim.restart(name);
        }
    }
    sim.advance(30_000);
    println!(
        "sent {sent} messages through {crashes} crashes and {drops} link drops; {} frames lost in flight",
        sim.frames_lost
    );
    assert!(crashes >= 5 && drops >= 5 && sent >= 150);
    for name in names {
        assert_eq!(sim.stored(name, &room).len(), sent, "{name} has every message");
        sim.assert_exactly_once_in_order(name, &room);
        assert_eq!(sim.node(name).outbox_len(), 0, "{name}'s outbox is empty");
    }
}

#[test]
fn a_silent_peer_is_declared_dead_within_ten_seconds_and_redialed() {
    let mut sim = Sim::new(&["alice", "bob"], &[]);
    let room = sim.open_direct("alice", "bob");
    sim.advance(PING_EVERY_MS * 3);
    assert!(sim.linked("alice", "bob"), "pings keep a healthy link");
    sim.set_frozen("bob", true);
    let frozen_at = sim.now;
    let mut dead_at = None;
    for _ in 0..200 {
        sim.advance(100);
        if sim.nodes["alice"].events.iter().any(|it| matches!(it, ChatEvent::PeerDead { .. })) {
            dead_at = Some(sim.now);
            break;
        }
    }
    let waited = dead_at.expect("bob was declared dead").saturating_sub(frozen_at);
    assert!((DEAD_AFTER_MS - PING_EVERY_MS..=10_000).contains(&waited), "noticed after {waited} ms");
    assert!(!sim.node("alice").is_online(&user("bob")));
    sim.set_frozen("bob", false);
    sim.send("alice", &room, "are you back?");
    sim.advance(35_000);
    assert!(sim.node("alice").is_online(&user("bob")));
    assert_eq!(sim.texts("bob", &room).last().unwrap().1, "are you back?");
}
