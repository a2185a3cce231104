//! A deterministic simulated network for the chat layer: multichat nodes and peers of the original page,
//! PeerJS-style links between them, per-node storage, and a simulated clock.
//!
//! Frames travel in order per link and are lost when a link drops. Crashing a node loses its memory but
//! not its storage; restarting it rebuilds it from storage, reading in the three stages a shell would.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use multichat_core::account::Username;
use multichat_core::chat::history::{self, DeliveryState};
use multichat_core::chat::{ChatEvent, ChatNode, Command, Input, Output, RoomId, StoredMessage};
use multichat_core::storage::Snapshot;
use multichat_core::time::Millis;
use serde_json::{Value, json};

pub fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

pub struct SimNode {
    /// `None` while crashed.
    pub node: Option<ChatNode>,
    pub disk: Snapshot,
    pub events: Vec<ChatEvent>,
    /// Frozen: its links stay up but nothing reaches it or leaves it (a hung peer).
    pub frozen: bool,
    pub random_counter: u64,
}

/// A peer running the original peerjs-multichat page, reduced to its data-channel behaviour.
pub struct OriginalPage {
    pub username: String,
    /// Peer id → link, as the page's `connections` object.
    pub connections: BTreeMap<String, String>,
    /// The `chat` objects it stored, exactly as received.
    pub chats: Vec<Value>,
    /// Every frame it received, for checking we sent it nothing but the original shapes.
    pub received: Vec<Value>,
    /// Metadata it could not read (the real page would throw on it).
    pub broken_metadata: Vec<Value>,
    /// A stock PeerJS client speaking the original chat frames but never sending `connections`.
    pub quiet: bool,
}

struct SimLink {
    dialer: String,
    target: String,
}

pub struct Sim {
    pub now: Millis,
    pub nodes: BTreeMap<String, SimNode>,
    pub pages: BTreeMap<String, OriginalPage>,
    links: BTreeMap<String, SimLink>,
    queue: VecDeque<(String, String, Value)>,
    next_link: u64,
    pub frames_sent: u64,
    /// Frames lost in flight when their link dropped.
    pub frames_lost: u64,
    /// Storage reads the nodes asked for after starting (older pages).
    pub page_reads: u64,
}

impl Sim {
    pub fn new(nodes: &[&str], pages: &[&str]) -> Sim {
        let mut sim = Sim {
            now: Millis(1_700_000_000_000),
            nodes: BTreeMap::new(),
            pages: BTreeMap::new(),
            links: BTreeMap::new(),
            queue: VecDeque::new(),
            next_link: 0,
            frames_sent: 0,
            frames_lost: 0,
            page_reads: 0,
        };
        for name in nodes {
            let node = ChatNode::new(user(name), sim.now);
            sim.nodes.insert(
                (*name).to_owned(),
                SimNode {
                    node: Some(node),
                    disk: Snapshot::default(),
                    events: Vec::new(),
                    frozen: false,
                    random_counter: 0,
                },
            );
        }
        for name in pages {
            sim.pages.insert(
                (*name).to_owned(),
                OriginalPage {
                    username: (*name).to_owned(),
                    connections: BTreeMap::new(),
                    chats: Vec::new(),
                    received: Vec::new(),
                    broken_metadata: Vec::new(),
                    quiet: false,
                },
            );
        }
        sim
    }

    pub fn node(&self, name: &str) -> &ChatNode {
        self.nodes[name].node.as_ref().expect("the node is running")
    }

    fn node_mut(&mut self, name: &str) -> &mut ChatNode {
        self.nodes.get_mut(name).unwrap().node.as_mut().expect("the node is running")
    }

    fn random(&mut self, name: &str) -> [u8; 16] {
        let node = self.nodes.get_mut(name).unwrap();
        node.random_counter += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&node.random_counter.to_be_bytes());
        bytes[8..].copy_from_slice(&(name.len() as u64 * 0x9e37_79b9 + u64::from(name.as_bytes()[0])).to_be_bytes());
        bytes
    }

    // ---------------------------------------------------------------------------------------------------
    // User actions.

    pub fn command(&mut self, name: &str, command: Command) -> Option<RoomId> {
        let now = self.now;
        let res = self.node_mut(name).handle_command(now, command).unwrap();
        self.settle();
        res
    }

    pub fn open_direct(&mut self, name: &str, other: &str) -> RoomId {
        self.command(name, Command::OpenDirect { username: user(other) }).unwrap()
    }

    pub fn create_group(&mut self, name: &str, title: &str) -> RoomId {
        let random = self.random(name);
        self.command(name, Command::CreateGroup { name: title.into(), random }).unwrap()
    }

    pub fn invite(&mut self, name: &str, room: &RoomId, other: &str) {
        self.command(name, Command::Invite { room: room.clone(), username: user(other) });
    }

    pub fn send(&mut self, name: &str, room: &RoomId, text: &str) {
        let random = self.random(name);
        self.command(name, Command::Send { room: room.clone(), text: text.into(), random });
    }

    /// The original page's `submitChat`: store it, send it to every connection.
    pub fn page_send(&mut self, name: &str, text: &str) {
        let now = self.now;
        let page = self.pages.get_mut(name).unwrap();
        let chat = json!({"sender": page.username, "message": text, "timestamp": now.0});
        page.chats.push(chat.clone());
        let links: Vec<String> = page.connections.values().cloned().collect();
        for link in links {
            self.transmit(&link, name, json!({"type": "chat", "chat": chat}));
        }
        self.settle();
    }

    /// The original page's `submitConnection`.
    pub fn page_connect(&mut self, name: &str, other: &str) {
        let peer_ids: Vec<String> = self.pages[name].connections.keys().cloned().collect();
        self.dial(name, &user(other).peer_id(), json!({"peerIds": peer_ids}));
        self.settle();
    }

    // ---------------------------------------------------------------------------------------------------
    // Faults.

    /// The node's process dies: memory gone, links drop (with whatever was in flight), storage kept.
    pub fn crash(&mut self, name: &str) {
        self.drop_links_of(name);
        self.nodes.get_mut(name).unwrap().node = None;
        self.settle();
    }

    /// The node starts again from its storage, reading it in stages as a shell would.
    pub fn restart(&mut self, name: &str) {
        let owner = user(name);
        let disk = &self.nodes[name].disk;
        let mut keys = vec![history::rooms_key(&owner)];
        keys.extend(history::meta_keys(&owner, &history::read(disk, &keys)));
        keys.extend(history::open_page_keys(&owner, &history::read(disk, &keys)));
        let node = ChatNode::restore(owner, &history::read(disk, &keys), self.now);
        self.nodes.get_mut(name).unwrap().node = Some(node);
        self.settle();
    }

    /// Every link of `name` drops (a network change), in-flight frames lost; the node keeps running.
    pub fn drop_links_of(&mut self, name: &str) {
        let ids: Vec<String> = self
            .links
            .iter()
            .filter(|(_, it)| it.dialer == name || it.target == name)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.tear_down(&id);
        }
    }

    pub fn set_frozen(&mut self, name: &str, frozen: bool) {
        self.nodes.get_mut(name).unwrap().frozen = frozen;
    }

    pub fn linked(&self, a: &str, b: &str) -> bool {
        self.links.values().any(|it| (it.dialer == a && it.target == b) || (it.dialer == b && it.target == a))
    }

    pub fn link_count(&self, a: &str, b: &str) -> usize {
        self.links
            .values()
            .filter(|it| (it.dialer == a && it.target == b) || (it.dialer == b && it.target == a))
            .count()
    }

    fn tear_down(&mut self, id: &str) {
        let Some(link) = self.links.remove(id) else { return };
        let before = self.queue.len();
        self.queue.retain(|(link, _, _)| link != id);
        self.frames_lost += (before - self.queue.len()) as u64;
        for side in [link.dialer, link.target] {
            self.link_down_at(&side, id);
        }
    }

    fn link_down_at(&mut self, side: &str, id: &str) {
        let now = self.now;
        if let Some(page) = self.pages.get_mut(side) {
            page.connections.retain(|_, link| link != id);
        } else if let Some(node) = self.nodes.get_mut(side).and_then(|it| it.node.as_mut()) {
            node.handle_input(now, Input::LinkDown { link: id.to_owned() });
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Time and delivery.

    /// Advances the clock by `ms` in 100 ms ticks, firing every due timeout.
    ///
    /// Every tick also checks that a node's timers and its `poll_timeout` agree: a node asked for the time
    /// early does nothing, and one woken at its time leaves nothing due (else a shell would spin on it).
    pub fn advance(&mut self, ms: u64) {
        // Outputs a fault left behind (`drop_links_of` does not settle) are performed first, so the check
        // sees only what the timers do.
        self.settle();
        let end = self.now.saturating_add(ms);
        while self.now < end {
            self.now = self.now.saturating_add(100).min(end);
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for name in names {
                let now = self.now;
                let sim_node = self.nodes.get_mut(&name).unwrap();
                if sim_node.frozen {
                    continue;
                }
                if let Some(node) = sim_node.node.as_mut() {
                    check_timers(&name, node, now);
                }
            }
            self.settle();
        }
    }

    /// Performs every output and delivers every frame until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let mut moved = false;
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for name in names {
                while let Some(output) =
                    self.nodes.get_mut(&name).unwrap().node.as_mut().and_then(ChatNode::poll_output)
                {
                    moved = true;
                    self.perform(&name, output);
                }
            }
            if let Some((link, to, frame)) = self.queue.pop_front() {
                moved = true;
                self.deliver(&link, &to, frame);
            }
            if !moved {
                return;
            }
        }
        panic!("the simulation did not settle");
    }

    fn perform(&mut self, name: &str, output: Output) {
        let now = self.now;
        match output {
            Output::Dial { peer_id, metadata } => self.dial(name, &peer_id, metadata),
            Output::Send { link, frame } => self.transmit(&link, name, frame),
            Output::Close { link } => self.tear_down(&link),
            Output::Write(writes) => history::apply(&mut self.nodes.get_mut(name).unwrap().disk, &writes),
            Output::Read { keys } => {
                self.page_reads += 1;
                let snapshot = history::read(&self.nodes[name].disk, &keys);
                self.node_mut(name).handle_input(now, Input::Read(snapshot));
            }
            Output::Event(event) => self.nodes.get_mut(name).unwrap().events.push(event),
        }
    }

    fn is_reachable(&self, name: &str) -> bool {
        self.pages.contains_key(name) || self.nodes.get(name).is_some_and(|it| it.node.is_some() && !it.frozen)
    }

    fn dial(&mut self, from: &str, peer_id: &str, metadata: Value) {
        let now = self.now;
        let target = Username::from_peer_id(peer_id).map(|it| it.to_string()).unwrap_or_default();
        if !self.is_reachable(&target) {
            if let Some(node) = self.nodes.get_mut(from).and_then(|it| it.node.as_mut()) {
                node.handle_input(now, Input::DialFailed { peer_id: peer_id.to_owned() });
            }
            return;
        }
        self.next_link += 1;
        let id = format!("dc_{}", self.next_link);
        self.links.insert(id.clone(), SimLink { dialer: from.to_owned(), target: target.clone() });
        // The receiving side first, as a PeerJS `connection` event precedes the dialer's `open`.
        self.link_up_at(&target, &id, &user(from).peer_id(), &metadata, false);
        self.link_up_at(from, &id, peer_id, &metadata, true);
    }

    fn link_up_at(&mut self, side: &str, id: &str, peer_id: &str, metadata: &Value, outgoing: bool) {
        let now = self.now;
        if self.pages.contains_key(side) {
            self.page_link_up(side, id, peer_id, metadata, outgoing);
        } else if let Some(node) = self.nodes.get_mut(side).and_then(|it| it.node.as_mut()) {
            node.handle_input(
                now,
                Input::LinkUp {
                    link: id.to_owned(),
                    peer_id: peer_id.to_owned(),
                    metadata: metadata.clone(),
                    outgoing,
                },
            );
        }
    }

    fn transmit(&mut self, link: &str, from: &str, frame: Value) {
        if self.nodes.get(from).is_some_and(|it| it.frozen) {
            return;
        }
        let Some(sim_link) = self.links.get(link) else { return };
        let to = if sim_link.dialer == from { sim_link.target.clone() } else { sim_link.dialer.clone() };
        self.frames_sent += 1;
        self.queue.push_back((link.to_owned(), to, frame));
    }

    fn deliver(&mut self, link: &str, to: &str, frame: Value) {
        let now = self.now;
        if self.pages.contains_key(to) {
            self.page_frame(to, link, frame);
        } else if let Some(sim_node) = self.nodes.get_mut(to) {
            if sim_node.frozen {
                return;
            }
            if let Some(node) = sim_node.node.as_mut() {
                node.handle_input(now, Input::Frame { link: link.to_owned(), frame });
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // The original page's behaviour (Rubilmax/peerjs-multichat index.html, reduced).

    fn page_link_up(&mut self, name: &str, id: &str, peer_id: &str, metadata: &Value, outgoing: bool) {
        // `configureConnection` runs `conn.metadata.peerIds.forEach` on every connection.
        let listed: Vec<String> = match metadata.get("peerIds").and_then(Value::as_array) {
            Some(ids) => ids.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            None => {
                self.pages.get_mut(name).unwrap().broken_metadata.push(metadata.clone());
                return;
            }
        };
        let page = self.pages.get_mut(name).unwrap();
        if !outgoing && page.connections.contains_key(peer_id) {
            return;
        }
        page.connections.insert(peer_id.to_owned(), id.to_owned());
        for other in listed {
            self.page_initiate(name, &other);
        }
        if !outgoing && !self.pages[name].quiet {
            let peer_ids: Vec<String> = self.pages[name].connections.keys().cloned().collect();
            self.transmit(id, name, json!({"type": "connections", "peerIds": peer_ids}));
        }
    }

    fn page_initiate(&mut self, name: &str, peer_id: &str) {
        let page = &self.pages[name];
        if page.connections.contains_key(peer_id) || *peer_id == user(&page.username).peer_id() {
            return;
        }
        let peer_ids: Vec<String> = page.connections.keys().cloned().collect();
        self.dial(name, peer_id, json!({"peerIds": peer_ids}));
    }

    fn page_frame(&mut self, name: &str, _link: &str, frame: Value) {
        self.pages.get_mut(name).unwrap().received.push(frame.clone());
        match frame.get("type").and_then(Value::as_str) {
            Some("connections") => {
                let ids: Vec<String> = frame["peerIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                for id in ids {
                    self.page_initiate(name, &id);
                }
            }
            Some("chat") => self.pages.get_mut(name).unwrap().chats.push(frame["chat"].clone()),
            _ => {}
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Checks.

    /// `(sender, text)` of every loaded message of `room` at `name`, in stored order.
    pub fn texts(&self, name: &str, room: &RoomId) -> Vec<(String, String)> {
        self.node(name).messages(room).iter().map(|it| (it.sender.to_string(), it.text.clone())).collect()
    }

    /// Every message of `room` in `name`'s storage (all pages), in stored order.
    pub fn stored(&self, name: &str, room: &RoomId) -> Vec<StoredMessage> {
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

    pub fn state_of(&self, name: &str, room: &RoomId, text: &str) -> Option<DeliveryState> {
        self.node(name).messages(room).iter().find(|it| it.text == text).and_then(|it| it.state)
    }

    /// Asserts every message is stored exactly once at `name`, with each sender's messages in seq order.
    pub fn assert_exactly_once_in_order(&self, name: &str, room: &RoomId) {
        let stored = self.stored(name, room);
        let mut ids = BTreeSet::new();
        let mut last_seq: BTreeMap<String, u64> = BTreeMap::new();
        for message in &stored {
            assert!(ids.insert(message.id.clone()), "{name} stored {} twice", message.id);
            if message.seq > 0 {
                let last = last_seq.entry(message.sender.to_string()).or_default();
                assert!(message.seq > *last, "{name}: {}'s seq {} came after {}", message.sender, message.seq, last);
                *last = message.seq;
            }
        }
    }

    pub fn dropped_frames(&self, name: &str) -> Vec<String> {
        self.nodes[name]
            .events
            .iter()
            .filter_map(|it| match it {
                ChatEvent::FrameDropped { reason, .. } => Some(reason.to_string()),
                _ => None,
            })
            .collect()
    }
}

/// Calls `handle_timeout(now)` whether or not the node is due, and checks it agrees with `poll_timeout`:
/// before the announced time nothing comes out; at it, the node acts so that nothing is due any more.
pub fn check_timers(name: &str, node: &mut ChatNode, now: Millis) {
    let timeout = node.poll_timeout();
    let due = timeout.is_some_and(|it| it <= now);
    node.handle_timeout(now);
    if due {
        let next = node.poll_timeout();
        assert!(
            next.is_none_or(|it| it > now),
            "{name} was due at {timeout:?} and woken at {now:?}, yet poll_timeout still says {next:?}"
        );
    } else {
        let early: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
        assert!(early.is_empty(), "{name} acted at {now:?}, before its next deadline {timeout:?}: {early:?}");
    }
}
