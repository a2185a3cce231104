//! A link the engine closes with frames still queued (its bound on bytes per link, `src/send_queue.rs`)
//! loses no message: what was dropped with the link comes again on the next one, exactly once. Checked for
//! both ways the chat layer delivers: its outbox (our own messages until the peer acknowledges them) and
//! catch-up (`mc.sync` answered with `mc.batch`, which serves a link each message once, so a link closed
//! mid-serve must not leave the rest unserved on the next link).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use multichat_core::chat::history::{self, DeliveryState};
use multichat_core::chat::wire;
use multichat_core::chat::{ChatNode, Command, Input, Output, RoomId, StoredMessage};
use multichat_core::send_queue::MAX_LINK_QUEUED_BYTES;
use multichat_core::storage::{Snapshot, StorageWrite};
use multichat_core::time::Millis;

use crate::chat_sim::user;

struct Node {
    node: ChatNode,
    disk: Snapshot,
    reachable: bool,
    random: u64,
}

/// A few nodes and their links. Frames travel in order; `close_after` makes the engine "overflow": after
/// that many more frames of a type from `from` to `to` are delivered, the link closes and every frame still
/// in flight on it is lost, as when the engine drops a full queue and closes the link.
struct Net {
    now: Millis,
    nodes: BTreeMap<&'static str, Node>,
    links: BTreeMap<String, (&'static str, &'static str)>,
    in_flight: VecDeque<(String, &'static str, serde_json::Value)>,
    next_link: u64,
    close_after: Option<(&'static str, &'static str, &'static str, usize)>,
    /// Chat and batch frames lost in flight when a link closed.
    lost_messages: usize,
    closes: usize,
    /// The engine's bound on bytes per link, modelled: with it on, a link whose frames in flight from one
    /// side would pass [`MAX_LINK_QUEUED_BYTES`] closes, as the engine closes it. Frames drain only between
    /// the nodes' steps (a node's whole step is queued first), so a step's output is never smaller here than
    /// on a slow channel.
    bounded: bool,
    queued: BTreeMap<(String, &'static str), u64>,
    peak_queued: u64,
    /// With it on, frames are delivered at most this many bytes per 100 ms of the clock (over all links):
    /// a slow channel, so timers fire while a long catch-up is still on its way.
    bandwidth: Option<u64>,
    tick_left: u64,
}

impl Net {
    fn new(names: &[&'static str]) -> Net {
        let now = Millis(1_700_000_000_000);
        let nodes = names
            .iter()
            .map(|name| {
                (
                    *name,
                    Node {
                        node: ChatNode::new(user(name), now),
                        disk: Snapshot::default(),
                        reachable: true,
                        random: 0,
                    },
                )
            })
            .collect();
        Net {
            now,
            nodes,
            links: BTreeMap::new(),
            in_flight: VecDeque::new(),
            next_link: 0,
            close_after: None,
            lost_messages: 0,
            closes: 0,
            bounded: false,
            queued: BTreeMap::new(),
            peak_queued: 0,
            bandwidth: None,
            tick_left: 0,
        }
    }

    fn command(&mut self, name: &'static str, command: Command) -> Option<RoomId> {
        let now = self.now;
        let res = self.nodes.get_mut(name).unwrap().node.handle_command(now, command).unwrap();
        self.settle();
        res
    }

    fn send(&mut self, name: &'static str, room: &RoomId, text: &str) {
        let node = self.nodes.get_mut(name).unwrap();
        node.random += 1;
        let mut random = [name.as_bytes()[0]; 16];
        random[..8].copy_from_slice(&node.random.to_be_bytes());
        self.command(name, Command::Send { room: room.clone(), text: text.into(), random });
    }

    /// `name` goes offline (its links drop) or comes back.
    fn set_reachable(&mut self, name: &'static str, reachable: bool) {
        self.nodes.get_mut(name).unwrap().reachable = reachable;
        if !reachable {
            let ids: Vec<String> =
                self.links.iter().filter(|(_, (a, b))| *a == name || *b == name).map(|(id, _)| id.clone()).collect();
            for id in ids {
                self.close(&id);
            }
        }
        self.settle();
    }

    fn close(&mut self, id: &str) {
        let Some((a, b)) = self.links.remove(id) else { return };
        let before = self.in_flight.len();
        let lost: Vec<_> = self.in_flight.iter().filter(|(link, ..)| link == id).cloned().collect();
        self.in_flight.retain(|(link, ..)| link != id);
        self.queued.retain(|(link, _), _| link != id);
        self.lost_messages +=
            lost.iter().filter(|(.., frame)| frame["type"] == "chat" || frame["type"] == "mc.batch").count();
        debug_assert_eq!(before - self.in_flight.len(), lost.len());
        let now = self.now;
        for side in [a, b] {
            self.nodes.get_mut(side).unwrap().node.handle_input(now, Input::LinkDown { link: id.to_owned() });
        }
    }

    fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let mut moved = false;
            let names: Vec<&'static str> = self.nodes.keys().copied().collect();
            for name in names {
                while let Some(output) = self.nodes.get_mut(name).unwrap().node.poll_output() {
                    moved = true;
                    self.perform(name, output);
                }
            }
            let len = self.in_flight.front().map(|(.., frame)| wire::encoded_len(frame) as u64);
            let fits = |len: u64| self.bandwidth.is_none_or(|full| len <= self.tick_left || self.tick_left == full);
            if let Some(len) = len.filter(|it| fits(*it)) {
                self.tick_left = self.tick_left.saturating_sub(len);
                let (link, to, frame) = self.in_flight.pop_front().unwrap();
                moved = true;
                self.deliver(&link, to, frame);
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not settle");
    }

    fn perform(&mut self, name: &'static str, output: Output) {
        let now = self.now;
        match output {
            Output::Dial { peer_id, metadata } => {
                let target = self.nodes.keys().copied().find(|it| user(it).peer_id() == peer_id);
                let Some(target) = target.filter(|it| self.nodes[it].reachable && self.nodes[name].reachable) else {
                    self.nodes.get_mut(name).unwrap().node.handle_input(now, Input::DialFailed { peer_id });
                    return;
                };
                self.next_link += 1;
                let id = format!("dc_{}", self.next_link);
                self.links.insert(id.clone(), (name, target));
                let up = |link: &str, peer: &str, outgoing| Input::LinkUp {
                    link: link.to_owned(),
                    peer_id: user(peer).peer_id(),
                    metadata: metadata.clone(),
                    outgoing,
                };
                self.nodes.get_mut(target).unwrap().node.handle_input(now, up(&id, name, false));
                self.nodes.get_mut(name).unwrap().node.handle_input(now, up(&id, target, true));
            }
            Output::Send { link, frame } => {
                let Some(&(a, b)) = self.links.get(&link) else { return };
                let to = if a == name { b } else { a };
                if self.bounded {
                    let queued = self.queued.entry((link.clone(), name)).or_default();
                    *queued += wire::encoded_len(&frame) as u64;
                    self.peak_queued = self.peak_queued.max(*queued);
                    if *queued > MAX_LINK_QUEUED_BYTES {
                        // The engine drops what waited and closes the link.
                        self.in_flight.push_back((link.clone(), to, frame));
                        self.closes += 1;
                        self.close(&link);
                        return;
                    }
                }
                self.in_flight.push_back((link, to, frame));
            }
            Output::Close { link } => self.close(&link),
            Output::Write(writes) => {
                // As `history::apply`, moving the records rather than copying them (pages of 12 KB texts).
                let disk = &mut self.nodes.get_mut(name).unwrap().disk;
                for write in writes {
                    match write {
                        StorageWrite::Set { key, value } => disk.0.insert(key, value),
                        StorageWrite::Remove { key } => disk.0.remove(&key),
                    };
                }
            }
            Output::Read { keys } => {
                let snapshot = history::read(&self.nodes[name].disk, &keys);
                self.nodes.get_mut(name).unwrap().node.handle_input(now, Input::Read(snapshot));
            }
            Output::Event(_) => {}
        }
    }

    fn deliver(&mut self, link: &str, to: &'static str, frame: serde_json::Value) {
        let Some(&(a, b)) = self.links.get(link) else { return };
        let from = if a == to { b } else { a };
        if let Some(queued) = self.queued.get_mut(&(link.to_owned(), from)) {
            *queued = queued.saturating_sub(wire::encoded_len(&frame) as u64);
        }
        if let Some((overflow_from, overflow_to, kind, left)) = self.close_after.as_mut()
            && *overflow_from == from
            && *overflow_to == to
            && frame["type"] == *kind
        {
            if *left == 0 {
                // The engine's queue for this link is full: the link closes with this frame and the rest.
                self.close_after = None;
                self.in_flight.push_front((link.to_owned(), to, frame));
                self.closes += 1;
                self.close(link);
                return;
            }
            *left -= 1;
        }
        let now = self.now;
        self.nodes.get_mut(to).unwrap().node.handle_input(now, Input::Frame { link: link.to_owned(), frame });
    }

    /// Runs the clock `ms` forward in 100 ms steps, firing what is due.
    fn advance(&mut self, ms: u64) {
        let end = self.now.saturating_add(ms);
        while self.now < end {
            self.now = self.now.saturating_add(100).min(end);
            self.tick_left = self.bandwidth.unwrap_or(0);
            let now = self.now;
            for node in self.nodes.values_mut() {
                if node.node.poll_timeout().is_some_and(|it| it <= now) {
                    node.node.handle_timeout(now);
                }
            }
            self.settle();
        }
    }

    /// Every stored message of `room` at `name`, all pages, in stored order.
    fn stored_messages(&self, name: &str, room: &RoomId) -> Vec<StoredMessage> {
        let owner = user(name);
        let disk = &self.nodes[name].disk;
        let mut messages = Vec::new();
        for page in 0.. {
            let Some(value) = disk.0.get(&history::page_key(&owner, room, page)) else { break };
            let page: history::Page = serde_json::from_value(value.clone()).unwrap();
            messages.extend(page.messages);
        }
        messages
    }

    /// `(sender, text)` of every stored message of `room` at `name`, checked to be there once each.
    fn stored_once(&self, name: &str, room: &RoomId) -> Vec<(String, String)> {
        let mut ids = BTreeSet::new();
        let mut texts = Vec::new();
        for message in self.stored_messages(name, room) {
            assert!(ids.insert(message.id.clone()), "{name} stored {} twice", message.id);
            texts.push((message.sender.to_string(), message.text));
        }
        texts
    }
}

fn texts_of(sender: &str, n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (sender.to_owned(), format!("{sender} {i}"))).collect()
}

#[test]
fn messages_in_the_outbox_come_again_after_the_link_is_closed_full() {
    let mut net = Net::new(&["alice", "bob"]);
    net.set_reachable("bob", false);
    let room = net.command("alice", Command::OpenDirect { username: user("bob") }).unwrap();
    for (_, text) in texts_of("alice", 300) {
        net.send("alice", &room, &text);
    }
    // Bob comes back and asks for the conversation's history (he had none of it): alice's outbox goes as
    // catch-up, and the engine's queue is full at its first batch and closes the link.
    net.close_after = Some(("alice", "bob", "mc.batch", 0));
    net.set_reachable("bob", true);
    net.advance(120_000);
    assert_eq!(net.closes, 1, "the link was closed once, full");
    assert!(net.lost_messages > 0, "the messages were dropped with the link ({} frames lost)", net.lost_messages);
    assert_eq!(net.stored_once("bob", &room), texts_of("alice", 300), "every message once, in order");
    let not_delivered: Vec<String> = net
        .stored_messages("alice", &room)
        .into_iter()
        .filter(|it| it.state != Some(DeliveryState::Delivered))
        .map(|it| it.text)
        .collect();
    assert_eq!(not_delivered, Vec::<String>::new(), "alice sees each one delivered");
}

#[test]
fn catch_up_cut_by_a_closed_link_is_served_in_full_on_the_next_one() {
    let mut net = Net::new(&["alice", "bob", "carol"]);
    let room = net.command("alice", Command::CreateGroup { name: "friends".into(), random: [9; 16] }).unwrap();
    for other in ["bob", "carol"] {
        net.command("alice", Command::Invite { room: room.clone(), username: user(other) });
    }
    net.advance(5_000);
    net.send("bob", &room, "bob is here");
    net.advance(5_000);
    // Bob is away while carol writes; carol leaves before bob is back, so only alice can catch him up.
    net.set_reachable("bob", false);
    for (_, text) in texts_of("carol", 400) {
        net.send("carol", &room, &text);
    }
    net.advance(5_000);
    net.set_reachable("carol", false);
    // Alice serves bob's catch-up; after her first batch the link closes full, the other batches lost.
    net.close_after = Some(("alice", "bob", "mc.batch", 1));
    net.set_reachable("bob", true);
    net.advance(120_000);
    assert_eq!(net.closes, 1);
    assert!(net.lost_messages > 0, "catch-up was cut by the close");
    let mut expected = vec![("bob".to_owned(), "bob is here".to_owned())];
    expected.extend(texts_of("carol", 400));
    let mut got = net.stored_once("bob", &room);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "bob has every message of carol's, once, from alice's catch-up");
}

/// Issue 13's gap: catch-up of up to [`multichat_core::chat::node::CATCHUP_MAX_MESSAGES`] messages was sent
/// at once, so an honest backlog of near-limit texts passed the engine's 16 MiB bound, the link was closed,
/// and every reconnect did the same: the member never caught up. Served in pieces, each asked for once the
/// last one arrived, it completes on one link.
#[test]
fn a_thirty_mib_catch_up_completes_under_the_engines_bound() {
    let mut net = Net::new(&["alice", "bob", "carol"]);
    let room = net.command("alice", Command::CreateGroup { name: "friends".into(), random: [9; 16] }).unwrap();
    for other in ["bob", "carol"] {
        net.command("alice", Command::Invite { room: room.clone(), username: user(other) });
    }
    net.advance(5_000);
    net.send("bob", &room, "bob is here");
    net.advance(5_000);
    net.set_reachable("bob", false);
    // Carol writes 30 MiB of texts near the 12 KB limit while bob is away, then leaves: only alice can
    // catch him up.
    let filler = "x".repeat(wire::MAX_TEXT_BYTES - 16);
    let mut expected = vec![("bob".to_owned(), "bob is here".to_owned())];
    let mut backlog_bytes = 0;
    for i in 0.. {
        let text = format!("carol {i:05} {filler}");
        backlog_bytes += text.len();
        net.send("carol", &room, &text);
        expected.push(("carol".to_owned(), text));
        if backlog_bytes >= 30 << 20 {
            break;
        }
    }
    net.advance(5_000);
    net.set_reachable("carol", false);
    net.bounded = true;
    net.bandwidth = Some(BYTES_PER_TICK);
    net.set_reachable("bob", true);
    net.advance(120_000);
    let mut got = net.stored_once("bob", &room);
    println!(
        "backlog {} messages, {backlog_bytes} B of text; links closed at the bound: {}; peak queued on a link: {} B",
        expected.len() - 1,
        net.closes,
        net.peak_queued
    );
    assert_eq!(net.closes, 0, "no link was closed at the engine's bound");
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len(), "bob holds every message of the backlog");
    assert!(got == expected, "bob holds exactly the backlog, each message once");
}

/// 2 MB a second: a slow channel, so a 30 MiB catch-up takes 15 s of the clock and every timer (pings,
/// the outbox's re-sends) fires meanwhile.
const BYTES_PER_TICK: u64 = 200_000;

/// The same backlog in the author's own outbox: on the member's return its messages are due to be re-sent
/// all at once. Re-sent as they were, they passed the engine's bound as catch-up did.
#[test]
fn a_thirty_mib_outbox_reaches_a_member_back_online_under_the_engines_bound() {
    let mut net = Net::new(&["alice", "bob"]);
    net.set_reachable("bob", false);
    let room = net.command("alice", Command::OpenDirect { username: user("bob") }).unwrap();
    let filler = "x".repeat(wire::MAX_TEXT_BYTES - 16);
    let mut expected = Vec::new();
    let mut backlog_bytes = 0;
    while backlog_bytes < 30 << 20 {
        let text = format!("alice {:05} {filler}", expected.len());
        backlog_bytes += text.len();
        net.send("alice", &room, &text);
        expected.push(("alice".to_owned(), text));
    }
    net.advance(5_000);
    net.bounded = true;
    net.bandwidth = Some(BYTES_PER_TICK);
    net.set_reachable("bob", true);
    net.advance(120_000);
    println!(
        "outbox {} messages, {backlog_bytes} B of text; links closed at the bound: {}; peak queued on a link: {} B",
        expected.len(),
        net.closes,
        net.peak_queued
    );
    assert_eq!(net.closes, 0, "no link was closed at the engine's bound");
    let got = net.stored_once("bob", &room);
    assert_eq!(got.len(), expected.len(), "bob holds every message of the outbox");
    assert!(got == expected, "bob holds exactly the outbox, each message once, in order");
    let not_delivered =
        net.stored_messages("alice", &room).into_iter().filter(|it| it.state != Some(DeliveryState::Delivered)).count();
    assert_eq!(not_delivered, 0, "alice sees each one delivered");
}
