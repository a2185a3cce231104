//! The chat engine of one signed-in user, sans-IO: user commands, link events, frames and time go in;
//! dials, frames to send, links to close, storage writes, storage reads and UI events come out.
//!
//! It sees only "links" (one PeerJS data connection each) and never a socket, a clock or a random source.
//! It is not the PeerJS layer (`crate::peerjs` turns signaling and data channels into links) and not the
//! worker (which owns storage IO and the popup).
//!
//! # Driving it
//! Call [`ChatNode::handle_command`], [`ChatNode::handle_input`] or [`ChatNode::handle_timeout`], then
//! drain [`ChatNode::poll_output`] and perform each [`Output`] **in order**, awaiting every
//! [`Output::Write`] before performing the outputs after it: an acknowledgement queued after a write must
//! not leave before the message it acknowledges is stored. Call `handle_timeout` at
//! [`ChatNode::poll_timeout`]. If a write fails, the node's memory is ahead of storage: drop the remaining
//! outputs and rebuild the node with [`ChatNode::restore`] (senders re-send whatever was not acknowledged).
//!
//! # Reliability
//! Each message has a random id and a per-sender, per-room `seq`. A receiver stores, then acknowledges;
//! de-duplication is by `(sender, seq)` ([`SenderProgress`]), which needs no message in memory. Our
//! unacknowledged messages stay in the room's outbox (in its meta, so it survives restarts) and are
//! re-sent every [`RESEND_AFTER_MS`] while a recipient is connected, and through catch-up on reconnect:
//! on every new link both ends send `mc.sync` (per sender, the highest seq held without gaps) for each
//! shared room, and each pushes what the other lacks. A message that arrives ahead of a gap is held back
//! (up to [`HOLD_MAX_MS`]) and the gap asked for with `mc.want`, so history keeps per-sender order.
//! Liveness: our peers are pinged every [`PING_EVERY_MS`]; one silent for [`DEAD_AFTER_MS`] is closed
//! and redialed. Every contact of every room is redialed with backoff until it answers.
//!
//! # Peers of the original page
//! We greet first only a dialer whose metadata says it is ours; on a link we dialed, we wait for the
//! peer's `mc.hello`, so the original page never receives a frame type it does not know.
//! A peer that does not say `mc.hello` within [`HELLO_GRACE_MS`] (or that dials without our metadata, or
//! sends `connections`) is "legacy": it gets only `chat` (original shape) and `connections` frames, its
//! messages get an id derived from their content, it cannot acknowledge (handing it the message counts as
//! delivery) and it takes no part in catch-up. Its link belongs to one room: the room we dialed it for,
//! else the group it is a member of, else our direct room with it. Peers it lists are dialed, as the
//! original page does, so its mesh forms.
//! A dialer whose metadata says it is ours is never taken for legacy, however late its hello: its own
//! grace may run out first when our hello reaches it late (a busy worker), and the original-shape chats it
//! then sends us are dropped rather than stored under content ids (they would be stored twice); they
//! arrive again through catch-up once it hears our hello.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::history::{self, DeliveryState, HistoryError, OutboxEntry, RoomHistory, SenderProgress, StoredMessage};
use super::ids::{LinkId, MessageId, RoomId};
use super::room::{RoomError, RoomRecord, RoomView, RoomsRecord};
use super::wire::{
    self, ChatExtras, ChatFrame, Frame, Hello, LinkMetadata, OurMetadata, RoomInfo, WireError, WireMessage,
};
use crate::account::Username;
use crate::storage::{Snapshot, StorageWrite, set};
use crate::time::Millis;

/// How often our peers are pinged.
pub const PING_EVERY_MS: u64 = 3_000;
/// A peer silent this long is dead: closed and redialed (so death is noticed within 10 s).
pub const DEAD_AFTER_MS: u64 = 9_000;
/// How long a new link may stay silent about `mc.hello` before we treat the peer as the original page.
pub const HELLO_GRACE_MS: u64 = 3_000;
/// Re-send an unacknowledged message to a connected recipient this often.
pub const RESEND_AFTER_MS: u64 = 5_000;
/// A message not acknowledged by everyone after this long is shown as failed (and still re-sent).
pub const FAILED_AFTER_MS: u64 = 60_000;
/// A dial that neither opens nor fails within this long is given up and retried.
pub const DIAL_TIMEOUT_MS: u64 = 15_000;
/// Redial backoff: doubles from the first to the last.
pub const REDIAL_FIRST_MS: u64 = 1_000;
pub const REDIAL_MAX_MS: u64 = 30_000;
/// A message held back behind a gap is stored anyway after this long.
pub const HOLD_MAX_MS: u64 = 5_000;
/// Most messages pushed for one `mc.sync`; the rest follow on the next reconnect.
pub const CATCHUP_MAX_MESSAGES: usize = 2_000;
/// Most seqs asked for in one `mc.want`.
pub const MAX_WANT_SEQS: usize = 64;
/// Loaded pages per room beyond which pages read for catch-up or scrolling are dropped again.
pub const MAX_LOADED_PAGES: usize = 64;
/// Frames a peer may send per second on one link, sustained; beyond it frames are dropped (an honest
/// sender's messages come back through its outbox and catch-up, so nothing is lost).
pub const MAX_FRAMES_PER_SECOND: u64 = 300;
/// Frames a peer may send in one burst (catch-up after a long absence sends many at once).
pub const MAX_FRAME_BURST: u64 = 3_000;

/// Something the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Open (or find) the direct conversation with a user and connect to them.
    OpenDirect {
        username: Username,
    },
    /// Create a group room; `random` makes its id.
    CreateGroup {
        name: String,
        random: [u8; 16],
    },
    /// Add a user to a group room: they and every member connect and learn of each other.
    Invite {
        room: RoomId,
        username: Username,
    },
    /// Send a message; `random` makes its id.
    Send {
        room: RoomId,
        text: String,
        random: [u8; 16],
    },
    MarkRead {
        room: RoomId,
    },
    /// Read the next older page of a room (scrolling back).
    LoadOlder {
        room: RoomId,
    },
    /// Close every link and stop. Stored history is kept (it is namespaced by user).
    SignOut,
}

/// What the shell reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A data connection opened. `metadata` is what the dialer attached; `outgoing` is true if we dialed.
    LinkUp {
        link: LinkId,
        peer_id: String,
        metadata: Value,
        outgoing: bool,
    },
    /// A JSON value arrived on a link.
    Frame {
        link: LinkId,
        frame: Value,
    },
    LinkDown {
        link: LinkId,
    },
    /// A link that was already open before this node was built (the worker restarted while the engine kept
    /// its connections, `EngineToWorker::Hello { links }`). The greeting already happened, so we greet
    /// again and the peer answers.
    LinkResumed {
        link: LinkId,
        peer_id: String,
        metadata: Value,
        outgoing: bool,
    },
    /// A dial we asked for failed (e.g. PeerJS `peer-unavailable`).
    DialFailed {
        peer_id: String,
    },
    /// The engine (re)started and greeted: dials asked for before may never have reached it (a freshly
    /// created engine does not listen at once), so the ones still pending are made again.
    EngineGreeted,
    /// The records asked for with [`Output::Read`] (absent keys simply missing).
    Read(Snapshot),
}

/// What the node asks the shell to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Dial {
        peer_id: String,
        metadata: Value,
    },
    Send {
        link: LinkId,
        frame: Value,
    },
    Close {
        link: LinkId,
    },
    /// Persist these, and wait until they are stored before performing the next output.
    Write(Vec<StorageWrite>),
    /// Read these keys and hand them back with [`Input::Read`].
    Read {
        keys: Vec<String>,
    },
    Event(ChatEvent),
}

/// News for the UI (and for logs).
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// Rooms, their members, online state or unread counts changed.
    RoomsChanged,
    /// A message was stored (before any acknowledgement leaves).
    MessageStored {
        room: RoomId,
        id: MessageId,
        incoming: bool,
    },
    /// Loaded messages changed otherwise (delivery state, older pages).
    MessagesChanged {
        room: RoomId,
    },
    PeerOnline {
        username: Username,
        speaks_multichat: bool,
    },
    PeerOffline {
        username: Username,
    },
    /// A peer stopped answering pings; its link was closed and it will be redialed.
    PeerDead {
        username: Username,
    },
    /// A frame was ignored; the link is kept.
    FrameDropped {
        peer_id: String,
        reason: DropReason,
    },
    /// Stored history that could not be read, worded for the user.
    HistoryProblem(HistoryError),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DropReason {
    #[error("malformed frame: {0}")]
    Malformed(#[from] WireError),
    #[error("the message claims to come from someone else")]
    SenderMismatch,
    #[error("the room is unknown here")]
    UnknownRoom,
    #[error("the sender is not a member of the room")]
    NotAMember,
    #[error("the peer id is not a multichat user")]
    ForeignPeerId,
    #[error("the frame arrived on a link we do not know")]
    UnknownLink,
    #[error(
        "the peer sends faster than {MAX_FRAMES_PER_SECOND} frames a second; frames are dropped until it slows down"
    )]
    RateLimited,
    #[error("a multichat peer sent a message in the original page's shape (it has not heard our hello yet)")]
    OriginalShapeFromOurs,
}

/// Why a command was refused, worded for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("Please type a message first")]
    EmptyMessage,
    #[error("This message is too long to send; please split it into shorter messages")]
    MessageTooLong,
    #[error("You are signed out")]
    SignedOut,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LinkKind {
    /// Not yet known whether the peer speaks our protocol.
    Unknown,
    Ours,
    Legacy,
}

#[derive(Clone, Debug)]
struct Link {
    peer_id: String,
    peer: Username,
    outgoing: bool,
    kind: LinkKind,
    opened_at: Millis,
    last_heard: Millis,
    last_ping: Millis,
    /// For a legacy peer, the room its messages belong to. For ours, the room it was dialed for.
    room: Option<RoomId>,
    /// We said `mc.hello` on this link. On links we dialed we wait for the peer's hello first, so a peer
    /// of the original page never sees a frame it does not know.
    hello_sent: bool,
    /// The rate limit's bucket, in thousandths of a frame, as of `credit_at`.
    credit: u64,
    credit_at: Millis,
    /// Frames are being dropped for rate; reported once per episode.
    rate_limited: bool,
    /// The peer dialed us with our metadata: it speaks our protocol, however long its hello takes (a busy
    /// worker catching up may answer after [`HELLO_GRACE_MS`]), so the link never falls back to legacy.
    dialer_is_ours: bool,
    /// The session the peer's hello on this link named (see [`wire::Hello::session`]).
    session: Option<u64>,
}

impl Link {
    /// Takes one frame from the bucket; false when the peer is over its rate.
    fn take_credit(&mut self, now: Millis) -> bool {
        let refill = now.saturating_sub(self.credit_at).saturating_mul(MAX_FRAMES_PER_SECOND);
        self.credit = self.credit.saturating_add(refill).min(MAX_FRAME_BURST * 1_000);
        self.credit_at = now;
        match self.credit.checked_sub(1_000) {
            Some(left) => {
                self.credit = left;
                true
            }
            None => false,
        }
    }
}

impl Link {
    fn is_ready(&self) -> bool {
        self.kind != LinkKind::Unknown
    }
}

/// Reconnection state per contact.
#[derive(Clone, Debug, Default)]
struct Contact {
    dialing_since: Option<Millis>,
    attempt: u32,
    next_dial: Millis,
    /// The room the next dial is for (its members go into the metadata).
    dial_room: Option<RoomId>,
}

/// A message waiting for the ones before it (same room, same sender).
#[derive(Clone, Debug)]
struct Held {
    message: StoredMessage,
    ack_link: Option<LinkId>,
    since: Millis,
}

/// Catch-up for a peer that needs messages from pages not loaded yet.
#[derive(Clone, Debug)]
struct PendingServe {
    link: LinkId,
    room: RoomId,
    needed: BTreeMap<Username, BTreeSet<u64>>,
}

pub struct ChatNode {
    me: Username,
    rooms: RoomsRecord,
    histories: BTreeMap<RoomId, RoomHistory>,
    links: BTreeMap<LinkId, Link>,
    contacts: BTreeMap<Username, Contact>,
    held: BTreeMap<(RoomId, Username), BTreeMap<u64, Held>>,
    /// When each (message, recipient) was last sent, for re-sending.
    last_sent: BTreeMap<(MessageId, Username), Millis>,
    pending_serves: Vec<PendingServe>,
    reading: BTreeSet<String>,
    now: Millis,
    ping_counter: u64,
    /// When this node started: the session named in our hellos.
    started_at: Millis,
    /// The stored room list could not be read: copied aside before the first new list is written.
    damaged_rooms: Option<Value>,
    signed_out: bool,
    /// Writes of the current step, by key (a later write of the same record replaces an earlier one).
    step_writes: BTreeMap<String, StorageWrite>,
    step_outputs: Vec<Output>,
    outputs: VecDeque<Output>,
}

impl ChatNode {
    /// A node with no stored history.
    pub fn new(me: Username, now: Millis) -> ChatNode {
        ChatNode {
            me,
            rooms: RoomsRecord::default(),
            histories: BTreeMap::new(),
            links: BTreeMap::new(),
            contacts: BTreeMap::new(),
            held: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            pending_serves: Vec::new(),
            reading: BTreeSet::new(),
            now,
            ping_counter: 0,
            started_at: now,
            damaged_rooms: None,
            signed_out: false,
            step_writes: BTreeMap::new(),
            step_outputs: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Rebuilds the node from storage read in the three stages of [`history`] ([`history::rooms_key`],
    /// [`history::meta_keys`], [`history::open_page_keys`]). Problems are reported as events; every
    /// contact is dialed.
    pub fn restore(me: Username, snapshot: &Snapshot, now: Millis) -> ChatNode {
        let loaded = history::load(&me, snapshot);
        let mut node = ChatNode::new(me, now);
        node.rooms = loaded.rooms;
        node.histories = loaded.histories;
        node.damaged_rooms = loaded.damaged_rooms;
        for problem in loaded.problems {
            node.event(ChatEvent::HistoryProblem(problem));
        }
        node.finish_step();
        node
    }

    // -----------------------------------------------------------------------------------------------------
    // Queries for the UI.

    pub fn me(&self) -> &Username {
        &self.me
    }

    pub fn room_views(&self) -> Vec<RoomView> {
        let mut views: Vec<RoomView> = self
            .rooms
            .rooms
            .iter()
            .map(|record| {
                RoomView::build(record, self.histories.get(&record.id).map(|it| &it.meta), &self.me, |it| {
                    self.is_online(it)
                })
            })
            .collect();
        views.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then_with(|| a.id.cmp(&b.id)));
        views
    }

    pub fn room(&self, room: &RoomId) -> Option<&RoomRecord> {
        self.rooms.get(room)
    }

    /// The loaded messages of a room, in stored (arrival) order.
    pub fn messages(&self, room: &RoomId) -> Vec<&StoredMessage> {
        self.histories.get(room).map(|it| it.loaded_messages().collect()).unwrap_or_default()
    }

    pub fn history(&self, room: &RoomId) -> Option<&RoomHistory> {
        self.histories.get(room)
    }

    /// The toolbar badge count.
    pub fn total_unread(&self) -> u32 {
        self.histories.values().map(|it| it.meta.unread).sum()
    }

    pub fn is_online(&self, username: &Username) -> bool {
        self.links.values().any(|it| &it.peer == username && it.is_ready())
    }

    /// Our messages not yet acknowledged by everyone, over all rooms.
    pub fn outbox_len(&self) -> usize {
        self.histories.values().map(|it| it.meta.outbox.len()).sum()
    }

    // -----------------------------------------------------------------------------------------------------
    // The state-machine verbs.

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`ChatNode::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.signed_out {
            return None;
        }
        let mut deadlines: Vec<Millis> = Vec::new();
        for link in self.links.values() {
            match link.kind {
                LinkKind::Unknown if !link.dialer_is_ours => {
                    deadlines.push(link.opened_at.saturating_add(HELLO_GRACE_MS))
                }
                LinkKind::Unknown => {}
                LinkKind::Ours => {
                    deadlines.push(link.last_ping.saturating_add(PING_EVERY_MS));
                    deadlines.push(link.last_heard.saturating_add(DEAD_AFTER_MS));
                }
                LinkKind::Legacy => {}
            }
        }
        let mut peers = self.rooms.contacts(&self.me);
        peers.extend(self.contacts.keys().cloned());
        for peer in peers {
            let contact = self.contacts.get(&peer).cloned().unwrap_or_default();
            match contact.dialing_since {
                Some(since) => deadlines.push(since.saturating_add(DIAL_TIMEOUT_MS)),
                None if self.wants_link(&peer) => deadlines.push(contact.next_dial),
                None => {}
            }
        }
        for history in self.histories.values() {
            for entry in &history.meta.outbox {
                if self.state_of(history, &entry.id) == Some(DeliveryState::Sending) {
                    deadlines.push(entry.sent_at.saturating_add(FAILED_AFTER_MS));
                }
                for member in &entry.waiting {
                    if self.ours_link(member).is_some() {
                        let last =
                            self.last_sent.get(&(entry.id.clone(), member.clone())).copied().unwrap_or(Millis(0));
                        deadlines.push(last.saturating_add(RESEND_AFTER_MS));
                    }
                }
            }
        }
        for held in self.held.values() {
            deadlines.extend(held.values().map(|it| it.since.saturating_add(HOLD_MAX_MS)));
        }
        deadlines.into_iter().min()
    }

    pub fn handle_command(&mut self, now: Millis, command: Command) -> Result<Option<RoomId>, ChatError> {
        if self.signed_out {
            return Err(ChatError::SignedOut);
        }
        self.now = self.now.max(now);
        let res = self.command(command);
        self.finish_step();
        res
    }

    pub fn handle_input(&mut self, now: Millis, input: Input) {
        if self.signed_out {
            return;
        }
        self.now = self.now.max(now);
        match input {
            Input::LinkUp { link, peer_id, metadata, outgoing } => self.link_up(link, peer_id, &metadata, outgoing),
            Input::Frame { link, frame } => self.frame(&link, &frame),
            Input::LinkDown { link } => self.link_down(&link),
            Input::EngineGreeted => {
                let pending: Vec<Username> = self
                    .contacts
                    .iter()
                    .filter(|(peer, it)| {
                        it.dialing_since.is_some() && !self.links.values().any(|link| &link.peer == *peer)
                    })
                    .map(|(peer, _)| peer.clone())
                    .collect();
                for peer in pending {
                    self.dial(&peer);
                }
            }
            Input::LinkResumed { link, peer_id, metadata, outgoing } => {
                self.link_up(link.clone(), peer_id, &metadata, outgoing);
                // A legacy dialer was recognised from its metadata; anyone else may be ours. The original
                // page ignores a frame type it does not know, so the rare hello it may get here is harmless.
                if self.links.get(&link).is_some_and(|it| it.kind == LinkKind::Unknown && !it.hello_sent) {
                    self.send_hello(&link);
                }
            }
            Input::DialFailed { peer_id } => {
                if let Some(peer) = Username::from_peer_id(&peer_id) {
                    self.dial_failed(&peer);
                }
            }
            Input::Read(snapshot) => self.pages_read(&snapshot),
        }
        self.finish_step();
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.signed_out {
            return;
        }
        self.now = self.now.max(now);
        self.timers();
        self.finish_step();
    }

    // -----------------------------------------------------------------------------------------------------
    // Commands.

    fn command(&mut self, command: Command) -> Result<Option<RoomId>, ChatError> {
        match command {
            Command::OpenDirect { username } => {
                let (room, created) = self.rooms.ensure_direct(&self.me, &username)?;
                if created {
                    self.write_rooms();
                    self.event(ChatEvent::RoomsChanged);
                }
                self.connect_now(&username, Some(room.clone()));
                Ok(Some(room))
            }
            Command::CreateGroup { name, random } => {
                let room = self.rooms.create_group(RoomId::group_from_random(random), &name, &self.me)?;
                self.histories.entry(room.clone()).or_default();
                self.write_rooms();
                self.event(ChatEvent::RoomsChanged);
                Ok(Some(room))
            }
            Command::Invite { room, username } => {
                let record = self.rooms.get(&room).ok_or(RoomError::UnknownRoom)?;
                if room.is_direct() {
                    return Err(RoomError::NotAGroup.into());
                }
                if username == self.me {
                    return Err(RoomError::WithYourself.into());
                }
                if record.members.len() >= wire::MAX_LIST_LEN {
                    return Err(RoomError::TooManyMembers.into());
                }
                let name = record.name().unwrap_or_default().to_owned();
                let added = self.rooms.merge_group(&room, &name, &[username.clone()].into(), &self.me);
                if !added.is_empty() {
                    self.write_rooms();
                    self.event(ChatEvent::RoomsChanged);
                }
                self.rebind_legacy(&room, &added);
                self.announce_room(&room);
                self.connect_now(&username, Some(room.clone()));
                Ok(Some(room))
            }
            Command::Send { room, text, random } => self.send_text(&room, text, random).map(|()| Some(room)),
            Command::MarkRead { room } => {
                let history = self.histories.get_mut(&room).ok_or(RoomError::UnknownRoom)?;
                if history.meta.unread > 0 {
                    history.meta.unread = 0;
                    let write = history::meta_write(&self.me, &room, &history.meta);
                    self.stage_write(write);
                    self.event(ChatEvent::RoomsChanged);
                }
                Ok(Some(room))
            }
            Command::LoadOlder { room } => {
                let history = self.histories.get(&room).ok_or(RoomError::UnknownRoom)?;
                if let Some(page) = history.next_older_page() {
                    self.read_page(&room, page);
                }
                Ok(Some(room))
            }
            Command::SignOut => {
                let links: Vec<LinkId> = self.links.keys().cloned().collect();
                for link in links {
                    self.output(Output::Close { link });
                }
                self.links.clear();
                self.contacts.clear();
                self.signed_out = true;
                Ok(None)
            }
        }
    }

    fn send_text(&mut self, room: &RoomId, text: String, random: [u8; 16]) -> Result<(), ChatError> {
        let record = self.rooms.get(room).ok_or(RoomError::UnknownRoom)?.clone();
        if text.trim().is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        if text.len() > wire::MAX_TEXT_BYTES {
            return Err(ChatError::MessageTooLong);
        }
        let id = MessageId::from_random(random);
        let history = self.histories.entry(room.clone()).or_default();
        let seq = history.meta.senders.get(&self.me).map_or(0, SenderProgress::highest).saturating_add(1);
        let frame = Frame::Chat(ChatFrame {
            sender: self.me.clone(),
            text: text.clone(),
            timestamp: self.now,
            ours: Some(ChatExtras { id: id.clone(), seq, room: room.clone() }),
        });
        let encoded = wire::encode(&frame);
        if wire::encoded_len(&encoded) > wire::MAX_FRAME_BYTES {
            return Err(ChatError::MessageTooLong);
        }
        let mut waiting: BTreeSet<Username> = record.others(&self.me).cloned().collect();
        // Hand it to every connected recipient now; a legacy peer cannot acknowledge, so handing it over
        // is delivery.
        let mut sends = Vec::new();
        for member in waiting.clone() {
            match self.ready_link(&member) {
                Some((link, LinkKind::Ours)) => {
                    sends.push(Output::Send { link, frame: encoded.clone() });
                    self.last_sent.insert((id.clone(), member), self.now);
                }
                Some((link, LinkKind::Legacy)) => {
                    sends.push(Output::Send { link, frame: legacy_chat(&self.me, &text, self.now) });
                    waiting.remove(&member);
                }
                _ => {}
            }
        }
        let state = if waiting.is_empty() { DeliveryState::Delivered } else { DeliveryState::Sending };
        let message = StoredMessage {
            id: id.clone(),
            room: room.clone(),
            sender: self.me.clone(),
            text,
            timestamp: self.now,
            received_at: self.now,
            seq,
            state: Some(state),
        };
        let history = self.histories.entry(room.clone()).or_default();
        history.meta.senders.entry(self.me.clone()).or_default().record(seq);
        // The outbox entry goes into the meta before the append writes it, so one meta write has both.
        let page = if history.meta.page_count == 0 || history.meta.last_page_len as usize >= history::PAGE_SIZE {
            history.meta.page_count
        } else {
            history.meta.page_count - 1
        };
        if !waiting.is_empty() {
            history.meta.outbox.push(OutboxEntry { id: id.clone(), seq, page, waiting, sent_at: self.now });
        }
        self.append(message);
        self.event(ChatEvent::MessageStored { room: room.clone(), id, incoming: false });
        for send in sends {
            self.output(send);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------------------
    // Links.

    fn link_up(&mut self, link_id: LinkId, peer_id: String, metadata: &Value, outgoing: bool) {
        let Some(peer) = Username::from_peer_id(&peer_id).filter(|it| *it != self.me) else {
            self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::ForeignPeerId });
            self.output(Output::Close { link: link_id });
            return;
        };
        let metadata = wire::decode_metadata(metadata);
        let contact = self.contacts.entry(peer.clone()).or_default();
        let dial_room = if outgoing { contact.dial_room.clone() } else { None };
        if outgoing {
            contact.dialing_since = None;
        }
        let room = metadata.ours.as_ref().and_then(|it| it.room.clone()).or(dial_room);
        let link = Link {
            peer_id: peer_id.clone(),
            peer: peer.clone(),
            outgoing,
            kind: LinkKind::Unknown,
            opened_at: self.now,
            last_heard: self.now,
            last_ping: self.now,
            room,
            hello_sent: false,
            credit: MAX_FRAME_BURST * 1_000,
            credit_at: self.now,
            rate_limited: false,
            dialer_is_ours: !outgoing && metadata.ours.is_some(),
            session: None,
        };
        self.links.insert(link_id.clone(), link);
        // Our dialer told us it speaks our protocol: greet it. On a link we dialed, the peer greets first.
        if !outgoing && metadata.ours.is_some() {
            self.send_hello(&link_id);
        }
        if !outgoing && metadata.ours.is_none() {
            // Only the original page (or a stock client) dials without our metadata.
            self.become_ready(&link_id, LinkKind::Legacy);
            self.merge_legacy_peers(&link_id, &metadata.peer_ids);
        }
    }

    fn send_hello(&mut self, link_id: &LinkId) {
        if let Some(link) = self.links.get_mut(link_id) {
            link.hello_sent = true;
        }
        let hello = Hello {
            version: wire::PROTOCOL_VERSION,
            user: self.me.clone(),
            capabilities: caps(),
            auth: None,
            session: Some(self.started_at.0),
        };
        self.output(Output::Send { link: link_id.clone(), frame: wire::encode(&Frame::Hello(hello)) });
    }

    fn link_down(&mut self, link_id: &LinkId) {
        let Some(link) = self.links.remove(link_id) else { return };
        if link.is_ready() && !self.is_online(&link.peer) {
            self.event(ChatEvent::PeerOffline { username: link.peer.clone() });
            self.event(ChatEvent::RoomsChanged);
        }
        self.schedule_redial(&link.peer);
    }

    fn dial_failed(&mut self, peer: &Username) {
        if let Some(contact) = self.contacts.get_mut(peer) {
            contact.dialing_since = None;
        }
        self.schedule_redial(peer);
    }

    fn schedule_redial(&mut self, peer: &Username) {
        let now = self.now;
        let contact = self.contacts.entry(peer.clone()).or_default();
        let delay = REDIAL_FIRST_MS.saturating_mul(1 << contact.attempt.min(10)).min(REDIAL_MAX_MS);
        contact.attempt = contact.attempt.saturating_add(1);
        contact.next_dial = now.saturating_add(delay);
    }

    /// Dials `peer` now unless a link exists or a dial is under way.
    fn connect_now(&mut self, peer: &Username, room: Option<RoomId>) {
        // A connected peer already heard about the room (see `announce_room`).
        if self.ready_link(peer).is_some() {
            return;
        }
        let contact = self.contacts.entry(peer.clone()).or_default();
        if room.is_some() {
            contact.dial_room = room;
        }
        contact.attempt = 0;
        if contact.dialing_since.is_none() && !self.links.values().any(|it| &it.peer == peer) {
            self.dial(peer);
        }
    }

    fn dial(&mut self, peer: &Username) {
        let dial_room = self.contacts.get(peer).and_then(|it| it.dial_room.clone());
        // The original page merges with everyone listed: list the room's connected members (none for a
        // direct room), so a legacy peer joins exactly that room.
        let peer_ids = match dial_room.as_ref().and_then(|it| self.rooms.get(it)) {
            Some(record) if !record.id.is_direct() => {
                record.others(&self.me).filter(|it| *it != peer && self.is_online(it)).map(Username::peer_id).collect()
            }
            _ => Vec::new(),
        };
        let metadata =
            LinkMetadata { peer_ids, ours: Some(OurMetadata { version: wire::PROTOCOL_VERSION, room: dial_room }) };
        let contact = self.contacts.entry(peer.clone()).or_default();
        contact.dialing_since = Some(self.now);
        self.output(Output::Dial { peer_id: peer.peer_id(), metadata: wire::encode_metadata(&metadata) });
    }

    /// True when we should be connected to `peer` but are not.
    fn wants_link(&self, peer: &Username) -> bool {
        let is_contact = self.rooms.rooms.iter().any(|it| it.members.contains(peer)) && peer != &self.me;
        is_contact && !self.links.values().any(|it| &it.peer == peer)
    }

    fn ready_link(&self, peer: &Username) -> Option<(LinkId, LinkKind)> {
        // The newest ready link wins; duplicates are closed as they become ready.
        let newest =
            self.links.iter().filter(|(_, it)| &it.peer == peer && it.is_ready()).max_by_key(|(_, it)| it.opened_at);
        newest.map(|(id, it)| (id.clone(), it.kind.clone()))
    }

    fn ours_link(&self, peer: &Username) -> Option<LinkId> {
        self.ready_link(peer).filter(|(_, kind)| *kind == LinkKind::Ours).map(|(id, _)| id)
    }

    fn become_ready(&mut self, link_id: &LinkId, kind: LinkKind) {
        let Some(link) = self.links.get_mut(link_id) else { return };
        let was_ready = link.is_ready();
        let upgraded = link.kind == LinkKind::Legacy && kind == LinkKind::Ours;
        if was_ready && !upgraded {
            return;
        }
        link.kind = kind.clone();
        let peer = link.peer.clone();
        self.close_duplicates(link_id);
        if !self.links.contains_key(link_id) {
            return;
        }
        if let Some(contact) = self.contacts.get_mut(&peer) {
            contact.attempt = 0;
            contact.dialing_since = None;
        }
        if !was_ready {
            self.event(ChatEvent::PeerOnline { username: peer.clone(), speaks_multichat: kind == LinkKind::Ours });
            self.event(ChatEvent::RoomsChanged);
        }
        match kind {
            LinkKind::Ours => self.greet_ours(link_id, &peer),
            LinkKind::Legacy => self.greet_legacy(link_id, &peer),
            LinkKind::Unknown => {}
        }
    }

    /// Two ready links to one peer: both ends keep the same one (the one dialed by the smaller username;
    /// between two dialed by the same side, the newer one). A link from an earlier session of the peer (it
    /// restarted) always gives way: it is dead, and keeping it would leave the peer unreachable until it is
    /// found silent.
    fn close_duplicates(&mut self, new_link: &LinkId) {
        let Some(new) = self.links.get(new_link).cloned() else { return };
        let others: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(id, it)| *id != new_link && it.peer == new.peer && it.is_ready())
            .map(|(id, _)| id.clone())
            .collect();
        for other_id in others {
            let other = &self.links[&other_id];
            let keep_new = match (new.session, other.session) {
                // The peer restarted since the other link was made: that link is dead, whatever the rule.
                // Only this end holds both links, so no agreement with the peer is needed.
                (Some(new_session), Some(other_session)) if new_session != other_session => true,
                _ if other.outgoing == new.outgoing => true,
                _ => {
                    let we_are_smaller = self.me < new.peer;
                    new.outgoing == we_are_smaller
                }
            };
            let loser = if keep_new { other_id } else { new_link.clone() };
            self.links.remove(&loser);
            self.output(Output::Close { link: loser.clone() });
            if &loser == new_link {
                return;
            }
        }
    }

    fn greet_ours(&mut self, link: &LinkId, peer: &Username) {
        // Rooms first (a newcomer must know a room before its history), then catch-up for each shared room.
        let groups: Vec<RoomId> = self.rooms.groups_with(peer).map(|it| it.id.clone()).collect();
        for room in &groups {
            self.send_room_info(link, room);
        }
        let shared: Vec<RoomId> = self.rooms.shared_with(peer).map(|it| it.id.clone()).collect();
        for room in shared {
            self.send_sync(link, &room);
        }
    }

    fn greet_legacy(&mut self, link_id: &LinkId, peer: &Username) {
        // The room a legacy link belongs to: the one it was dialed for, else a group it is in, else direct.
        let bound =
            self.links[link_id].room.clone().filter(|it| self.rooms.get(it).is_some_and(|r| r.members.contains(peer)));
        let bound = bound.or_else(|| {
            let groups = self.rooms.groups_with(peer);
            groups
                .max_by_key(|it| self.histories.get(&it.id).map_or(Millis(0), |h| h.meta.last_activity))
                .map(|it| it.id.clone())
        });
        let room = match bound {
            Some(room) => room,
            None => match self.rooms.ensure_direct(&self.me, peer) {
                Ok((room, created)) => {
                    if created {
                        self.write_rooms();
                    }
                    room
                }
                Err(_) => return,
            },
        };
        if let Some(link) = self.links.get_mut(link_id) {
            link.room = Some(room.clone());
        }
        // As the original page does when accepting a connection: tell the dialer whom to merge with.
        let link = &self.links[link_id];
        if !link.outgoing {
            let peer_ids: Vec<String> = self.rooms.get(&room).map_or_else(Vec::new, |record| {
                record.others(&self.me).filter(|it| *it != peer && self.is_online(it)).map(Username::peer_id).collect()
            });
            if !peer_ids.is_empty() {
                self.output(Output::Send {
                    link: link_id.clone(),
                    frame: wire::encode(&Frame::Connections { peer_ids }),
                });
            }
        }
        // Hand over what waited for this peer; it cannot acknowledge, so that is delivery.
        let rooms: Vec<RoomId> = self.rooms.shared_with(peer).map(|it| it.id.clone()).collect();
        for room in rooms {
            let Some(history) = self.histories.get(&room) else { continue };
            let pending: Vec<MessageId> =
                history.meta.outbox.iter().filter(|it| it.waiting.contains(peer)).map(|it| it.id.clone()).collect();
            for id in pending {
                if let Some((_, message)) = self.histories[&room].find(&id) {
                    let frame = legacy_chat(&message.sender, &message.text, message.timestamp);
                    self.output(Output::Send { link: link_id.clone(), frame });
                }
                self.acknowledged(&room, &id, peer);
            }
        }
    }

    /// A legacy peer we took for a direct contact turned out to be a member of a group (its dial raced the
    /// news of its invitation): its messages belong to the group from now on.
    fn rebind_legacy(&mut self, room: &RoomId, added: &[Username]) {
        for link in self.links.values_mut() {
            let is_direct = link.room.as_ref().is_none_or(RoomId::is_direct);
            if link.kind == LinkKind::Legacy && is_direct && added.contains(&link.peer) {
                link.room = Some(room.clone());
            }
        }
    }

    /// The original page's merge: dial every listed peer we are not connected to, for the same room.
    fn merge_legacy_peers(&mut self, link_id: &LinkId, peer_ids: &[String]) {
        let room = self.links.get(link_id).and_then(|it| it.room.clone()).filter(|it| !it.is_direct());
        for peer_id in peer_ids.iter().take(wire::MAX_LIST_LEN) {
            let Some(peer) = Username::from_peer_id(peer_id) else { continue };
            if peer == self.me || self.links.values().any(|it| it.peer == peer) {
                continue;
            }
            if let Some(room) = &room {
                let name = self.rooms.get(room).and_then(RoomRecord::name).unwrap_or_default().to_owned();
                if !self.rooms.merge_group(room, &name, &[peer.clone()].into(), &self.me).is_empty() {
                    self.write_rooms();
                }
            }
            self.connect_now(&peer, room.clone());
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Frames.

    fn frame(&mut self, link_id: &LinkId, value: &Value) {
        let Some(link) = self.links.get_mut(link_id) else {
            self.event(ChatEvent::FrameDropped { peer_id: String::new(), reason: DropReason::UnknownLink });
            return;
        };
        link.last_heard = self.now;
        if !link.take_credit(self.now) {
            if !std::mem::replace(&mut link.rate_limited, true) {
                let peer_id = link.peer_id.clone();
                self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::RateLimited });
            }
            return;
        }
        link.rate_limited = false;
        let (peer, peer_id) = (link.peer.clone(), link.peer_id.clone());
        let frame = match wire::decode(value) {
            Ok(frame) => frame,
            Err(err) => {
                self.event(ChatEvent::FrameDropped { peer_id, reason: DropReason::Malformed(err) });
                return;
            }
        };
        let res = match frame {
            Frame::Hello(hello) => {
                if hello.user == peer {
                    if let Some(link) = self.links.get_mut(link_id) {
                        link.session = hello.session.or(link.session);
                    }
                    // Answer a first hello, and a second one on a link already greeted (the peer restarted
                    // and lost it). A restarted peer has sent its hello already and does not answer ours,
                    // so this never loops.
                    let link = &self.links[link_id];
                    if !link.hello_sent || link.kind == LinkKind::Ours {
                        self.send_hello(link_id);
                    }
                    self.become_ready(link_id, LinkKind::Ours);
                    Ok(())
                } else {
                    Err(DropReason::SenderMismatch)
                }
            }
            Frame::Ping { n } => {
                self.output(Output::Send { link: link_id.clone(), frame: wire::encode(&Frame::Pong { n }) });
                Ok(())
            }
            Frame::Pong { .. } => Ok(()),
            Frame::Connections { peer_ids } => {
                // Only the original page sends this.
                let link = &self.links[link_id];
                if link.kind == LinkKind::Unknown && !link.dialer_is_ours {
                    self.become_ready(link_id, LinkKind::Legacy);
                }
                self.merge_legacy_peers(link_id, &peer_ids);
                Ok(())
            }
            Frame::Chat(chat) => self.chat_frame(link_id, &peer, chat),
            Frame::Ack { room, ids } => {
                for id in ids {
                    self.acknowledged(&room, &id, &peer);
                }
                Ok(())
            }
            Frame::Room(info) => self.room_frame(&peer, info),
            Frame::Sync { room, heads } => self.sync_frame(link_id, &peer, &room, &heads),
            Frame::Want { room, sender, seqs } => self.check_member(&room, &peer).map(|()| {
                let needed = [(sender, seqs.into_iter().take(MAX_WANT_SEQS).collect())].into();
                self.serve(PendingServe { link: link_id.clone(), room, needed });
            }),
            Frame::Batch { room, messages } => self.batch_frame(link_id, &peer, &room, messages),
        };
        if let Err(reason) = res {
            self.event(ChatEvent::FrameDropped { peer_id, reason });
        }
    }

    fn chat_frame(&mut self, link_id: &LinkId, peer: &Username, chat: ChatFrame) -> Result<(), DropReason> {
        if &chat.sender != peer {
            return Err(DropReason::SenderMismatch);
        }
        match chat.ours {
            Some(ours) => {
                let room = self.room_for(&ours.room, peer)?;
                let message = StoredMessage {
                    id: ours.id,
                    room: room.clone(),
                    sender: chat.sender,
                    text: chat.text,
                    timestamp: chat.timestamp,
                    received_at: self.now,
                    seq: ours.seq,
                    state: None,
                };
                let mut acks = Vec::new();
                self.receive(message, Some(link_id), true, &mut acks);
                self.send_acks(link_id, &room, acks);
            }
            None => {
                // A multichat dialer sends the original shape only while it takes us for the original page
                // (our hello reached it late). Such a message has no id or seq, so storing it would store
                // it twice once the proper copy arrives: drop it; catch-up delivers it after the hellos.
                if self.links[link_id].dialer_is_ours {
                    return Err(DropReason::OriginalShapeFromOurs);
                }
                // A chat in the original shape proves an original peer.
                if self.links[link_id].kind == LinkKind::Unknown {
                    self.become_ready(link_id, LinkKind::Legacy);
                }
                let room = match self.links.get(link_id).and_then(|it| it.room.clone()) {
                    Some(room) => room,
                    None => self
                        .rooms
                        .ensure_direct(&self.me, peer)
                        .map(|(room, _)| room)
                        .map_err(|_| DropReason::SenderMismatch)?,
                };
                let message = StoredMessage {
                    id: MessageId::for_legacy(&chat.sender, chat.timestamp.0, &chat.text),
                    room,
                    sender: chat.sender,
                    text: chat.text,
                    timestamp: chat.timestamp,
                    received_at: self.now,
                    seq: 0,
                    state: None,
                };
                self.receive(message, None, true, &mut Vec::new());
            }
        }
        Ok(())
    }

    /// The room a frame names, if `peer` may speak in it. A direct room is created on first contact.
    fn room_for(&mut self, room: &RoomId, peer: &Username) -> Result<RoomId, DropReason> {
        if room.is_direct() {
            let (a, b) = room.direct_members().ok_or(DropReason::UnknownRoom)?;
            let is_ours = (a == self.me && &b == peer) || (&a == peer && b == self.me);
            if !is_ours {
                return Err(DropReason::NotAMember);
            }
            if let Ok((_, true)) = self.rooms.ensure_direct(&self.me, peer) {
                self.write_rooms();
                self.event(ChatEvent::RoomsChanged);
            }
            return Ok(room.clone());
        }
        self.check_member(room, peer)?;
        Ok(room.clone())
    }

    fn check_member(&self, room: &RoomId, peer: &Username) -> Result<(), DropReason> {
        let record = self.rooms.get(room).ok_or(DropReason::UnknownRoom)?;
        if record.members.contains(peer) { Ok(()) } else { Err(DropReason::NotAMember) }
    }

    fn room_frame(&mut self, peer: &Username, info: RoomInfo) -> Result<(), DropReason> {
        // Whoever tells us about a room must be in it, and must count us in.
        if !info.members.contains(peer) || !info.members.contains(&self.me) {
            return Err(DropReason::NotAMember);
        }
        let is_new = self.rooms.get(&info.room).is_none();
        let added = self.rooms.merge_group(&info.room, &info.name, &info.members, &self.me);
        if is_new {
            // A newcomer starts from the room's present: history before it joined is not caught up.
            let history = self.histories.entry(info.room.clone()).or_default();
            for (sender, seq) in &info.since {
                history.meta.senders.entry(sender.clone()).or_default().contiguous = *seq;
            }
            let write = history::meta_write(&self.me, &info.room, &history.meta);
            self.stage_write(write);
        }
        if is_new || !added.is_empty() {
            self.write_rooms();
            self.event(ChatEvent::RoomsChanged);
        }
        self.rebind_legacy(&info.room, &added);
        // Whoever learns of new members tells every member, and connects to those it lacks: a full mesh.
        let told_us_everything = self.rooms.get(&info.room).is_some_and(|it| it.members == info.members);
        if !added.is_empty() || !told_us_everything {
            self.announce_room(&info.room);
        }
        let others: Vec<Username> =
            self.rooms.get(&info.room).map(|it| it.others(&self.me).cloned().collect()).unwrap_or_default();
        for member in others {
            if !self.links.values().any(|it| it.peer == member) {
                self.connect_now(&member, Some(info.room.clone()));
            }
        }
        if is_new {
            let links: Vec<LinkId> = self.ours_links_in(&info.room);
            for link in links {
                self.send_sync(&link, &info.room);
            }
        }
        Ok(())
    }

    fn sync_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        heads: &BTreeMap<Username, u64>,
    ) -> Result<(), DropReason> {
        let room = self.room_for(room, peer)?;
        let history = self.histories.entry(room.clone()).or_default();
        // Our own messages a peer holds that we lost (storage cleared): never reuse their seqs.
        if let Some(theirs) = heads.get(&self.me) {
            let mine = history.meta.senders.entry(self.me.clone()).or_default();
            if *theirs > mine.highest() {
                mine.contiguous = *theirs;
                mine.above.clear();
            }
        }
        let mut needed: BTreeMap<Username, BTreeSet<u64>> = BTreeMap::new();
        let mut n_needed = 0;
        for (sender, progress) in &history.meta.senders {
            let theirs = heads.get(sender).copied().unwrap_or(0);
            let from_contiguous = theirs.saturating_add(1)..=progress.contiguous;
            let seqs: BTreeSet<u64> = from_contiguous
                .chain(progress.above.iter().copied().filter(|it| *it > theirs))
                .take(CATCHUP_MAX_MESSAGES.saturating_sub(n_needed))
                .collect();
            n_needed += seqs.len();
            if !seqs.is_empty() {
                needed.insert(sender.clone(), seqs);
            }
        }
        if !needed.is_empty() {
            self.serve(PendingServe { link: link_id.clone(), room, needed });
        }
        Ok(())
    }

    fn batch_frame(
        &mut self,
        link_id: &LinkId,
        peer: &Username,
        room: &RoomId,
        messages: Vec<WireMessage>,
    ) -> Result<(), DropReason> {
        let room = self.room_for(room, peer)?;
        let members = self.rooms.get(&room).map(|it| it.members.clone()).unwrap_or_default();
        let mut acks = Vec::new();
        let mut messages = messages;
        messages.sort_by(|a, b| (&a.sender, a.seq).cmp(&(&b.sender, b.seq)));
        for message in messages {
            if !members.contains(&message.sender) || message.seq == 0 {
                continue;
            }
            let state = (message.sender == self.me).then_some(DeliveryState::Delivered);
            let stored = StoredMessage {
                id: message.id,
                room: room.clone(),
                sender: message.sender,
                text: message.text,
                timestamp: message.timestamp,
                received_at: self.now,
                seq: message.seq,
                state,
            };
            self.receive(stored, Some(link_id), false, &mut acks);
        }
        self.send_acks(link_id, &room, acks);
        Ok(())
    }

    /// Stores an incoming message unless it is a duplicate, holding it back behind a gap in its sender's
    /// sequence. Ids to acknowledge (stored or already held) are pushed to `acks`.
    fn receive(&mut self, message: StoredMessage, ack_link: Option<&LinkId>, live: bool, acks: &mut Vec<MessageId>) {
        let room = message.room.clone();
        let history = self.histories.entry(room.clone()).or_default();
        if message.seq == 0 {
            if history.find(&message.id).is_none() {
                self.store(message);
            }
            return;
        }
        if history.holds(&message.sender, message.seq) {
            acks.push(message.id);
            return;
        }
        let contiguous = history.meta.senders.get(&message.sender).map_or(0, |it| it.contiguous);
        let key = (room.clone(), message.sender.clone());
        if message.seq > contiguous.saturating_add(1) {
            let held = self.held.entry(key).or_default();
            if held.contains_key(&message.seq) {
                return;
            }
            let (sender, seq) = (message.sender.clone(), message.seq);
            held.insert(seq, Held { message, ack_link: ack_link.cloned(), since: self.now });
            if let (true, Some(link)) = (live, ack_link) {
                let history = &self.histories[&room];
                let held = &self.held[&(room.clone(), sender.clone())];
                let missing: Vec<u64> = (contiguous.saturating_add(1)..seq)
                    .filter(|it| !history.holds(&sender, *it) && !held.contains_key(it))
                    .take(MAX_WANT_SEQS)
                    .collect();
                if !missing.is_empty() {
                    let frame = wire::encode(&Frame::Want { room: room.clone(), sender, seqs: missing });
                    self.output(Output::Send { link: link.clone(), frame });
                }
            }
            return;
        }
        acks.push(message.id.clone());
        self.store(message);
        self.release_held(&key, false);
    }

    /// Stores held messages that are next in line (or all of them when `force`), acknowledging each.
    fn release_held(&mut self, key: &(RoomId, Username), force: bool) {
        loop {
            let contiguous =
                self.histories.get(&key.0).and_then(|it| it.meta.senders.get(&key.1)).map_or(0, |it| it.contiguous);
            let Some(held) = self.held.get_mut(key) else { return };
            let Some((&seq, _)) = held.iter().next() else {
                self.held.remove(key);
                return;
            };
            if !force && seq != contiguous.saturating_add(1) {
                return;
            }
            let held = held.remove(&seq).expect("the first held entry was just seen");
            let duplicate = self.histories.get(&key.0).is_some_and(|it| it.holds(&key.1, seq));
            let id = held.message.id.clone();
            if !duplicate {
                self.store(held.message);
            }
            if let Some(link) = held.ack_link.filter(|it| self.links.contains_key(it)) {
                self.send_acks(&link, &key.0, vec![id]);
            }
        }
    }

    fn store(&mut self, message: StoredMessage) {
        let room = message.room.clone();
        let (id, incoming) = (message.id.clone(), message.sender != self.me);
        let history = self.histories.entry(room.clone()).or_default();
        if message.seq > 0 {
            history.meta.senders.entry(message.sender.clone()).or_default().record(message.seq);
        }
        if incoming {
            history.meta.unread = history.meta.unread.saturating_add(1);
        }
        self.append(message);
        self.event(ChatEvent::MessageStored { room, id, incoming });
    }

    fn append(&mut self, message: StoredMessage) {
        let room = message.room.clone();
        let history = self.histories.entry(room.clone()).or_default();
        let appended = history::append(&self.me, history, message);
        for write in appended.writes {
            self.stage_write(write);
        }
        if appended.new_page {
            if let Some(record) = self.rooms.get_mut(&room) {
                record.pages_hint = appended.page;
                self.write_rooms();
            }
        }
        let history = self.histories.get_mut(&room).expect("the room's history was just appended to");
        if history.pages.len() > MAX_LOADED_PAGES && !self.pending_serves.iter().any(|it| it.room == room) {
            history::trim(history);
        }
    }

    fn send_acks(&mut self, link: &LinkId, room: &RoomId, ids: Vec<MessageId>) {
        // Acks go after this step's writes (see `finish_step`), so they never precede the storing.
        for chunk in ids.chunks(wire::MAX_LIST_LEN) {
            let frame = wire::encode(&Frame::Ack { room: room.clone(), ids: chunk.to_vec() });
            self.output(Output::Send { link: link.clone(), frame });
        }
    }

    /// `peer` has stored our message `id`.
    fn acknowledged(&mut self, room: &RoomId, id: &MessageId, peer: &Username) {
        let Some(history) = self.histories.get_mut(room) else { return };
        let Some(index) = history.meta.outbox.iter().position(|it| &it.id == id) else { return };
        let entry = &mut history.meta.outbox[index];
        if !entry.waiting.remove(peer) {
            return;
        }
        self.last_sent.remove(&(id.clone(), peer.clone()));
        if entry.waiting.is_empty() {
            history.meta.outbox.remove(index);
            if let Some(write) = history::set_state(&self.me, room, history, id, DeliveryState::Delivered) {
                self.stage_write(write);
            }
            self.event(ChatEvent::MessagesChanged { room: room.clone() });
        }
        let write = history::meta_write(&self.me, room, &self.histories[room].meta);
        self.stage_write(write);
    }

    // -----------------------------------------------------------------------------------------------------
    // Rooms and catch-up.

    fn room_info(&self, room: &RoomId) -> Option<RoomInfo> {
        let record = self.rooms.get(room)?;
        let since = self
            .histories
            .get(room)
            .map(|it| it.meta.senders.iter().map(|(sender, progress)| (sender.clone(), progress.contiguous)).collect())
            .unwrap_or_default();
        Some(RoomInfo {
            room: room.clone(),
            name: record.name().unwrap_or_default().to_owned(),
            members: record.members.clone(),
            since,
        })
    }

    fn send_room_info(&mut self, link: &LinkId, room: &RoomId) {
        if let Some(info) = self.room_info(room) {
            self.output(Output::Send { link: link.clone(), frame: wire::encode(&Frame::Room(info)) });
        }
    }

    /// Sends the room's membership to every connected member that speaks our protocol.
    fn announce_room(&mut self, room: &RoomId) {
        for link in self.ours_links_in(room) {
            self.send_room_info(&link, room);
        }
    }

    fn ours_links_in(&self, room: &RoomId) -> Vec<LinkId> {
        let Some(record) = self.rooms.get(room) else { return Vec::new() };
        record.others(&self.me).filter_map(|it| self.ours_link(it)).collect()
    }

    fn send_sync(&mut self, link: &LinkId, room: &RoomId) {
        let heads = self
            .histories
            .get(room)
            .map(|it| it.meta.senders.iter().map(|(sender, progress)| (sender.clone(), progress.contiguous)).collect())
            .unwrap_or_default();
        self.output(Output::Send {
            link: link.clone(),
            frame: wire::encode(&Frame::Sync { room: room.clone(), heads }),
        });
    }

    /// Sends what of `needed` the loaded pages hold; asks for an older page if more is needed.
    fn serve(&mut self, mut pending: PendingServe) {
        if !self.links.contains_key(&pending.link) {
            return;
        }
        let Some(history) = self.histories.get(&pending.room) else { return };
        let mut found: Vec<WireMessage> = Vec::new();
        for message in history.loaded_messages() {
            if let Some(seqs) = pending.needed.get_mut(&message.sender) {
                if seqs.remove(&message.seq) {
                    found.push(WireMessage {
                        id: message.id.clone(),
                        sender: message.sender.clone(),
                        seq: message.seq,
                        text: message.text.clone(),
                        timestamp: message.timestamp,
                    });
                }
            }
        }
        pending.needed.retain(|_, seqs| !seqs.is_empty());
        let older = history.next_older_page();
        // Our own messages in the batch count as re-sent: the outbox timer need not send them again.
        if let Some(peer) = self.links.get(&pending.link).map(|it| it.peer.clone()) {
            for message in found.iter().filter(|it| it.sender == self.me) {
                self.last_sent.insert((message.id.clone(), peer.clone()), self.now);
            }
        }
        found.sort_by(|a, b| (&a.sender, a.seq).cmp(&(&b.sender, b.seq)));
        self.send_batches(&pending.link, &pending.room, found);
        if let (false, Some(page)) = (pending.needed.is_empty(), older) {
            let room = pending.room.clone();
            self.pending_serves.push(pending);
            self.read_page(&room, page);
        }
    }

    fn send_batches(&mut self, link: &LinkId, room: &RoomId, messages: Vec<WireMessage>) {
        // Envelope plus slack for the room id; messages are added while the frame stays under the limit.
        const ENVELOPE_BYTES: usize = 200;
        let mut batch: Vec<WireMessage> = Vec::new();
        let mut size = ENVELOPE_BYTES;
        for message in messages {
            let len = wire::encoded_len(&wire::encode_wire_message(&message)) + 1;
            if !batch.is_empty() && size + len > wire::MAX_FRAME_BYTES {
                let frame = wire::encode(&Frame::Batch { room: room.clone(), messages: std::mem::take(&mut batch) });
                self.output(Output::Send { link: link.clone(), frame });
                size = ENVELOPE_BYTES;
            }
            size += len;
            batch.push(message);
        }
        if !batch.is_empty() {
            self.output(Output::Send {
                link: link.clone(),
                frame: wire::encode(&Frame::Batch { room: room.clone(), messages: batch }),
            });
        }
    }

    fn read_page(&mut self, room: &RoomId, page: u32) {
        let key = history::page_key(&self.me, room, page);
        if self.reading.insert(key.clone()) {
            self.output(Output::Read { keys: vec![key] });
        }
    }

    fn pages_read(&mut self, snapshot: &Snapshot) {
        for key in snapshot.0.keys() {
            self.reading.remove(key);
        }
        let rooms: Vec<RoomId> = self.histories.keys().cloned().collect();
        for room in rooms {
            let prefix = format!("h/{}/{}/", self.me, room);
            let has_pages = snapshot.0.keys().any(|key| key.starts_with(&prefix));
            let history = self.histories.get_mut(&room).expect("rooms were listed from the histories");
            if !has_pages {
                continue;
            }
            let problems = history::absorb_pages(&self.me, &room, snapshot, history);
            for problem in problems {
                self.event(ChatEvent::HistoryProblem(problem));
            }
            self.event(ChatEvent::MessagesChanged { room: room.clone() });
            let (mine, others): (Vec<PendingServe>, Vec<PendingServe>) =
                std::mem::take(&mut self.pending_serves).into_iter().partition(|it| it.room == room);
            self.pending_serves = others;
            for pending in mine {
                self.serve(pending);
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Time.

    fn timers(&mut self) {
        let now = self.now;
        // Links: hello grace, liveness.
        let link_ids: Vec<LinkId> = self.links.keys().cloned().collect();
        for link_id in link_ids {
            let Some(link) = self.links.get(&link_id) else { continue };
            match link.kind {
                LinkKind::Unknown if !link.dialer_is_ours && now.saturating_sub(link.opened_at) >= HELLO_GRACE_MS => {
                    self.become_ready(&link_id, LinkKind::Legacy);
                }
                LinkKind::Ours if now.saturating_sub(link.last_heard) >= DEAD_AFTER_MS => {
                    let peer = link.peer.clone();
                    self.links.remove(&link_id);
                    self.output(Output::Close { link: link_id.clone() });
                    self.event(ChatEvent::PeerDead { username: peer.clone() });
                    if !self.is_online(&peer) {
                        self.event(ChatEvent::PeerOffline { username: peer.clone() });
                        self.event(ChatEvent::RoomsChanged);
                    }
                    // Redial at once: the peer may well be there, behind a dead connection.
                    let contact = self.contacts.entry(peer).or_default();
                    contact.attempt = 0;
                    contact.next_dial = now;
                }
                LinkKind::Ours if now.saturating_sub(link.last_ping) >= PING_EVERY_MS => {
                    self.ping_counter += 1;
                    let frame = wire::encode(&Frame::Ping { n: self.ping_counter });
                    if let Some(link) = self.links.get_mut(&link_id) {
                        link.last_ping = now;
                    }
                    self.output(Output::Send { link: link_id, frame });
                }
                _ => {}
            }
        }
        // Dials: time out, and redial every contact we lack.
        let mut wanted: BTreeSet<Username> = self.rooms.contacts(&self.me);
        wanted.extend(self.contacts.keys().cloned());
        for peer in wanted {
            let contact = self.contacts.entry(peer.clone()).or_default();
            if let Some(since) = contact.dialing_since {
                if now.saturating_sub(since) >= DIAL_TIMEOUT_MS {
                    self.dial_failed(&peer);
                }
                continue;
            }
            if self.wants_link(&peer) && self.contacts[&peer].next_dial <= now {
                if self.contacts[&peer].dial_room.is_none() {
                    let room = self.rooms.shared_with(&peer).find(|it| !it.id.is_direct()).map(|it| it.id.clone());
                    self.contacts.get_mut(&peer).expect("the contact was just inserted").dial_room = room;
                }
                self.dial(&peer);
            }
        }
        // Held messages: store them anyway after a while (the gap may never be filled).
        let keys: Vec<(RoomId, Username)> = self
            .held
            .iter()
            .filter(|(_, held)| held.values().any(|it| now.saturating_sub(it.since) >= HOLD_MAX_MS))
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.release_held(&key, true);
        }
        // Outbox: re-send to connected recipients, and mark long-unacknowledged messages failed.
        let rooms: Vec<RoomId> = self.histories.keys().cloned().collect();
        for room in rooms {
            let entries = self.histories[&room].meta.outbox.clone();
            for entry in entries {
                if now.saturating_sub(entry.sent_at) >= FAILED_AFTER_MS {
                    let history = self.histories.get_mut(&room).expect("rooms were listed from the histories");
                    if let Some(write) = history::set_state(&self.me, &room, history, &entry.id, DeliveryState::Failed)
                    {
                        self.stage_write(write);
                        self.event(ChatEvent::MessagesChanged { room: room.clone() });
                    }
                }
                for member in &entry.waiting {
                    let Some(link) = self.ours_link(member) else { continue };
                    let key = (entry.id.clone(), member.clone());
                    let last = self.last_sent.get(&key).copied().unwrap_or(Millis(0));
                    if now.saturating_sub(last) < RESEND_AFTER_MS {
                        continue;
                    }
                    let Some((_, message)) = self.histories[&room].find(&entry.id) else { continue };
                    let frame = wire::encode(&Frame::Chat(ChatFrame {
                        sender: message.sender.clone(),
                        text: message.text.clone(),
                        timestamp: message.timestamp,
                        ours: Some(ChatExtras { id: message.id.clone(), seq: message.seq, room: room.clone() }),
                    }));
                    self.last_sent.insert(key, now);
                    self.output(Output::Send { link, frame });
                }
            }
        }
    }

    fn state_of(&self, history: &RoomHistory, id: &MessageId) -> Option<DeliveryState> {
        history.find(id).and_then(|(_, it)| it.state)
    }

    // -----------------------------------------------------------------------------------------------------
    // Output plumbing. Within one step, writes are emitted first (merged by key), then everything else in
    // the order it was queued; so nothing sent in a step can get ahead of what the step stored.

    fn stage_write(&mut self, write: StorageWrite) {
        let key = match &write {
            StorageWrite::Set { key, .. } | StorageWrite::Remove { key } => key.clone(),
        };
        self.step_writes.insert(key, write);
    }

    fn write_rooms(&mut self) {
        let key = history::rooms_key(&self.me);
        if let Some(original) = self.damaged_rooms.take() {
            // In the same batch as the new list, so the damaged one is never lost.
            self.stage_write(StorageWrite::Set { key: history::damaged_copy_key(&key), value: original });
        }
        let write = set(&key, &self.rooms);
        self.stage_write(write);
    }

    fn output(&mut self, output: Output) {
        self.step_outputs.push(output);
    }

    fn event(&mut self, event: ChatEvent) {
        self.step_outputs.push(Output::Event(event));
    }

    fn finish_step(&mut self) {
        let writes = std::mem::take(&mut self.step_writes);
        if !writes.is_empty() {
            self.outputs.push_back(Output::Write(writes.into_values().collect()));
        }
        self.outputs.extend(self.step_outputs.drain(..));
    }
}

fn caps() -> Vec<String> {
    wire::OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect()
}

/// A chat in exactly the original page's shape.
fn legacy_chat(sender: &Username, text: &str, timestamp: Millis) -> Value {
    wire::encode(&Frame::Chat(ChatFrame { sender: sender.clone(), text: text.to_owned(), timestamp, ours: None }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    /// Alice with a direct room and a link to bob that said hello; outputs drained.
    fn alice_linked_to_bob() -> (ChatNode, RoomId) {
        let mut node = ChatNode::new(user("alice"), Millis(1_000));
        let room = node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap().unwrap();
        let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
        node.handle_input(
            Millis(1_000),
            Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false },
        );
        let hello = Hello { version: 1, user: user("bob"), capabilities: caps(), auth: None, session: None };
        node.handle_input(
            Millis(1_000),
            Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Hello(hello)) },
        );
        drain(&mut node);
        (node, room)
    }

    fn drain(node: &mut ChatNode) -> Vec<Output> {
        std::iter::from_fn(|| node.poll_output()).collect()
    }

    /// Alice (the smaller username) dialed bob on dc_1; bob's hello there named `first`. Then bob dials
    /// alice on dc_2 and greets with `second`. Returns the links alice closed.
    fn second_link_from_bob(first: Option<u64>, second: Option<u64>) -> Vec<LinkId> {
        let mut node = ChatNode::new(user("alice"), Millis(1_000));
        node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap();
        let ours = json!({"peerIds": [], "multichat": {"v": 1}});
        let hello = |session| {
            wire::encode(&Frame::Hello(Hello {
                version: 1,
                user: user("bob"),
                capabilities: caps(),
                auth: None,
                session,
            }))
        };
        node.handle_input(
            Millis(1_000),
            Input::LinkUp {
                link: "dc_1".into(),
                peer_id: user("bob").peer_id(),
                metadata: ours.clone(),
                outgoing: true,
            },
        );
        node.handle_input(Millis(1_000), Input::Frame { link: "dc_1".into(), frame: hello(first) });
        drain(&mut node);
        node.handle_input(
            Millis(2_000),
            Input::LinkUp { link: "dc_2".into(), peer_id: user("bob").peer_id(), metadata: ours, outgoing: false },
        );
        node.handle_input(Millis(2_000), Input::Frame { link: "dc_2".into(), frame: hello(second) });
        drain(&mut node)
            .into_iter()
            .filter_map(|it| if let Output::Close { link } = it { Some(link) } else { None })
            .collect()
    }

    #[test]
    fn dials_the_engine_may_have_missed_are_made_again_when_it_greets() {
        let mut node = ChatNode::new(user("alice"), Millis(1_000));
        node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap();
        let dials = |outputs: Vec<Output>| outputs.into_iter().filter(|it| matches!(it, Output::Dial { .. })).count();
        assert_eq!(dials(drain(&mut node)), 1);
        // The engine was just being created and never saw that dial; when it greets, bob is dialed again
        // rather than after the 15 s dial timeout.
        node.handle_input(Millis(1_200), Input::EngineGreeted);
        assert_eq!(dials(drain(&mut node)), 1);
        // With a link up, nothing is dialed again.
        let ours = json!({"peerIds": [], "multichat": {"v": 1}});
        node.handle_input(
            Millis(1_300),
            Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata: ours, outgoing: true },
        );
        drain(&mut node);
        node.handle_input(Millis(1_400), Input::EngineGreeted);
        assert_eq!(dials(drain(&mut node)), 0);
    }

    #[test]
    fn a_link_from_an_earlier_session_of_the_peer_gives_way_at_once() {
        // Bob's browser restarted: the link alice dialed belongs to his earlier session and is dead.
        assert_eq!(second_link_from_bob(Some(10), Some(20)), ["dc_1"]);
        // The same session: both ends apply the usual rule and keep the link the smaller username dialed.
        assert_eq!(second_link_from_bob(Some(10), Some(10)), ["dc_2"]);
        // A peer that names no session (an older multichat) gets the usual rule too.
        assert_eq!(second_link_from_bob(None, None), ["dc_2"]);
    }

    fn chat_from_bob(room: &RoomId, seq: u64) -> Input {
        let frame = Frame::Chat(ChatFrame {
            sender: user("bob"),
            text: format!("bob {seq}"),
            timestamp: Millis(seq),
            ours: Some(ChatExtras { id: MessageId::parse(&format!("m-bob-{seq}")).unwrap(), seq, room: room.clone() }),
        });
        Input::Frame { link: "dc_1".into(), frame: wire::encode(&frame) }
    }

    fn sent_types(outputs: &[Output]) -> Vec<String> {
        outputs
            .iter()
            .filter_map(|it| match it {
                Output::Send { frame, .. } => Some(frame["type"].as_str().unwrap_or_default().to_owned()),
                Output::Write(_) => Some("(write)".to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_flooding_peer_is_rate_limited_and_the_link_kept() {
        let (mut node, _room) = alice_linked_to_bob();
        let ping = |n| Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Ping { n }) };
        for n in 0..MAX_FRAME_BURST + 500 {
            node.handle_input(Millis(2_000), ping(n));
        }
        let outputs = drain(&mut node);
        let pongs = sent_types(&outputs).iter().filter(|it| it.as_str() == "mc.pong").count() as u64;
        assert_eq!(pongs, MAX_FRAME_BURST, "the burst is answered, the rest dropped");
        let drops: Vec<_> = outputs
            .iter()
            .filter(|it| matches!(it, Output::Event(ChatEvent::FrameDropped { reason: DropReason::RateLimited, .. })))
            .collect();
        assert_eq!(drops.len(), 1, "reported once per episode, not per frame");
        assert!(!outputs.iter().any(|it| matches!(it, Output::Close { .. })), "the link is kept");
        // A second later the peer may send again.
        node.handle_input(Millis(3_000), ping(1));
        assert_eq!(sent_types(&drain(&mut node)), ["mc.pong"]);
    }

    #[test]
    fn a_message_is_stored_before_it_is_acknowledged() {
        let (mut node, room) = alice_linked_to_bob();
        node.handle_input(Millis(2_000), chat_from_bob(&room, 1));
        assert_eq!(sent_types(&drain(&mut node)), ["(write)", "mc.ack"]);
        // The same message again is acknowledged again but not stored again.
        node.handle_input(Millis(2_001), chat_from_bob(&room, 1));
        assert_eq!(sent_types(&drain(&mut node)), ["mc.ack"]);
        assert_eq!(node.messages(&room).len(), 1);
    }

    #[test]
    fn a_gap_holds_later_messages_back_and_asks_for_the_missing_ones() {
        let (mut node, room) = alice_linked_to_bob();
        node.handle_input(Millis(2_000), chat_from_bob(&room, 1));
        node.handle_input(Millis(2_000), chat_from_bob(&room, 4));
        let outputs = drain(&mut node);
        let want = outputs.iter().find_map(|it| match it {
            Output::Send { frame, .. } if frame["type"] == "mc.want" => Some(frame["seqs"].clone()),
            _ => None,
        });
        assert_eq!(want, Some(json!([2, 3])));
        node.handle_input(Millis(2_100), chat_from_bob(&room, 3));
        node.handle_input(Millis(2_200), chat_from_bob(&room, 2));
        let seqs: Vec<u64> = node.messages(&room).iter().map(|it| it.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        // A gap that is never filled is given up on after a while.
        node.handle_input(Millis(3_000), chat_from_bob(&room, 9));
        assert_eq!(node.messages(&room).len(), 4);
        node.handle_timeout(Millis(3_000 + HOLD_MAX_MS));
        assert_eq!(node.messages(&room).len(), 5);
    }

    #[test]
    fn bad_frames_are_dropped_with_a_reason_and_the_link_is_kept() {
        let (mut node, room) = alice_linked_to_bob();
        node.handle_input(
            Millis(2_000),
            Input::Frame { link: "dc_1".into(), frame: json!({"type": "chat", "chat": 5}) },
        );
        let forged =
            Frame::Chat(ChatFrame { sender: user("carol"), text: "hi".into(), timestamp: Millis(1), ours: None });
        node.handle_input(Millis(2_000), Input::Frame { link: "dc_1".into(), frame: wire::encode(&forged) });
        let reasons: Vec<DropReason> = drain(&mut node)
            .into_iter()
            .filter_map(|it| match it {
                Output::Event(ChatEvent::FrameDropped { reason, .. }) => Some(reason),
                _ => None,
            })
            .collect();
        assert!(matches!(&reasons[..], [DropReason::Malformed(_), DropReason::SenderMismatch]), "{reasons:?}");
        assert!(node.is_online(&user("bob")));
        node.handle_input(Millis(2_001), chat_from_bob(&room, 1));
        assert_eq!(node.messages(&room).len(), 1);
    }

    #[test]
    fn sending_refuses_what_cannot_be_sent() {
        let (mut node, room) = alice_linked_to_bob();
        let send = |text: String| Command::Send { room: room.clone(), text, random: [1; 16] };
        assert_eq!(node.handle_command(Millis(2_000), send("  ".into())), Err(ChatError::EmptyMessage));
        assert_eq!(
            node.handle_command(Millis(2_000), send("x".repeat(wire::MAX_TEXT_BYTES + 1))),
            Err(ChatError::MessageTooLong)
        );
        // Control characters are escaped six times their size in JSON: over the frame limit.
        assert_eq!(node.handle_command(Millis(2_000), send("\u{1}".repeat(4_000))), Err(ChatError::MessageTooLong));
        let unknown = Command::Send { room: RoomId::group_from_random([9; 16]), text: "hi".into(), random: [1; 16] };
        assert_eq!(node.handle_command(Millis(2_000), unknown), Err(ChatError::Room(RoomError::UnknownRoom)));
        assert_eq!(
            ChatError::MessageTooLong.to_string(),
            "This message is too long to send; please split it into shorter messages"
        );
    }

    #[test]
    fn our_message_is_sending_until_acknowledged() {
        let (mut node, room) = alice_linked_to_bob();
        node.handle_command(Millis(2_000), Command::Send { room: room.clone(), text: "hi".into(), random: [1; 16] })
            .unwrap();
        assert_eq!(sent_types(&drain(&mut node)), ["(write)", "chat"]);
        assert_eq!(node.messages(&room)[0].state, Some(DeliveryState::Sending));
        // Not acknowledged: re-sent after a while.
        node.handle_timeout(Millis(2_000 + RESEND_AFTER_MS));
        assert!(sent_types(&drain(&mut node)).contains(&"chat".to_owned()));
        let id = node.messages(&room)[0].id.clone();
        let ack = wire::encode(&Frame::Ack { room: room.clone(), ids: vec![id] });
        node.handle_input(Millis(8_000), Input::Frame { link: "dc_1".into(), frame: ack });
        assert_eq!(node.messages(&room)[0].state, Some(DeliveryState::Delivered));
        assert_eq!(node.outbox_len(), 0);
    }

    #[test]
    fn a_restarted_node_greets_resumed_links_and_the_peer_answers() {
        // Bob's node, linked to alice (bob dialed). Then alice's node restarts with the link still open.
        let mut bob = ChatNode::new(user("bob"), Millis(0));
        let up = Input::LinkUp {
            link: "dc_1".into(),
            peer_id: user("alice").peer_id(),
            metadata: json!({}),
            outgoing: true,
        };
        bob.handle_input(Millis(0), up);
        let hello_from = |name: &str| Input::Frame {
            link: "dc_1".into(),
            frame: wire::encode(&Frame::Hello(Hello {
                version: 1,
                user: user(name),
                capabilities: caps(),
                auth: None,
                session: None,
            })),
        };
        bob.handle_input(Millis(1), hello_from("alice"));
        drain(&mut bob);
        let mut alice = ChatNode::new(user("alice"), Millis(2));
        let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
        let resumed =
            Input::LinkResumed { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false };
        alice.handle_input(Millis(2), resumed);
        assert!(sent_types(&drain(&mut alice)).contains(&"mc.hello".to_owned()));
        bob.handle_input(Millis(3), hello_from("alice"));
        assert!(sent_types(&drain(&mut bob)).contains(&"mc.hello".to_owned()), "bob answers the second hello");
        alice.handle_input(Millis(4), hello_from("bob"));
        assert!(!sent_types(&drain(&mut alice)).contains(&"mc.hello".to_owned()), "and alice does not answer back");
        assert!(alice.is_online(&user("bob")));
    }

    #[test]
    fn a_dialer_with_our_metadata_is_never_taken_for_legacy() {
        // Bob dialed with our metadata; alice greeted, but bob's answer is slow (his worker is busy) and
        // his grace ran out first, so he sends original-shape chats for a while.
        let mut node = ChatNode::new(user("alice"), Millis(0));
        let room = node.handle_command(Millis(0), Command::OpenDirect { username: user("bob") }).unwrap().unwrap();
        let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
        node.handle_input(
            Millis(0),
            Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false },
        );
        drain(&mut node);
        node.handle_timeout(Millis(HELLO_GRACE_MS * 4));
        assert!(!node.is_online(&user("bob")), "still waiting for bob's hello, not legacy");
        assert!(node.poll_timeout().is_none_or(|it| it > Millis(HELLO_GRACE_MS * 4)), "no busy timer for the wait");
        let legacy = legacy_chat(&user("bob"), "bob 1", Millis(5));
        node.handle_input(Millis(HELLO_GRACE_MS * 4), Input::Frame { link: "dc_1".into(), frame: legacy });
        let outputs = drain(&mut node);
        assert!(
            outputs.iter().any(|it| matches!(
                it,
                Output::Event(ChatEvent::FrameDropped { reason: DropReason::OriginalShapeFromOurs, .. })
            )),
            "{outputs:?}"
        );
        assert!(node.messages(&room).is_empty(), "an original-shape copy is never stored");
        assert!(!sent_types(&outputs).iter().any(|it| it == "chat" || it == "connections"));
        // Bob's hello arrives at last: the link is ours, and catch-up starts.
        let hello = Hello { version: 1, user: user("bob"), capabilities: caps(), auth: None, session: None };
        node.handle_input(
            Millis(13_000),
            Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Hello(hello)) },
        );
        assert!(sent_types(&drain(&mut node)).contains(&"mc.sync".to_owned()));
        assert!(node.is_online(&user("bob")));
    }

    #[test]
    fn a_dialer_without_our_metadata_gets_only_original_frames() {
        let mut node = ChatNode::new(user("alice"), Millis(0));
        let metadata = json!({"peerIds": []});
        node.handle_input(
            Millis(0),
            Input::LinkUp { link: "dc_9".into(), peer_id: user("dave").peer_id(), metadata, outgoing: false },
        );
        let room = RoomId::direct(&user("alice"), &user("dave"));
        node.handle_command(Millis(1), Command::Send { room, text: "hi".into(), random: [2; 16] }).unwrap();
        node.handle_timeout(Millis(60_000));
        for output in drain(&mut node) {
            if let Output::Send { frame, .. } = output {
                assert!(matches!(frame["type"].as_str(), Some("chat" | "connections")), "{frame}");
                assert!(frame.get("id").is_none(), "{frame}");
            }
        }
    }
}
