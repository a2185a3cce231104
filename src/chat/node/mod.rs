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
//!
//! # Layout
//! This file holds the public types, the constants, the node's state and the output plumbing. Each other
//! file is one `impl ChatNode` block for one concern (`api`, `links`, `legacy`, `frames`, `delivery`,
//! `catchup`, `timers`, `manage`) that imports only from this file and from outside the node, never from a sibling,
//! so the files form no import cycle. `timers` holds the one table of deadlines that both
//! [`ChatNode::poll_timeout`] and [`ChatNode::handle_timeout`] read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::history::{self, HistoryError, RoomHistory, SenderProgress, StoredMessage};
use super::ids::{LinkId, MessageId, RoomId};
pub use super::pending::{MessageRequest, PendingInvitation};
use super::room::{RoomError, RoomsRecord};
use super::wire::{self, ChatFrame, Frame, WireError};
use crate::account::Username;
use crate::identity::{Identity, PublicKey};
use crate::storage::{Snapshot, StorageWrite, set};
use crate::time::Millis;
pub use actions::ActOn;

mod actions;
mod api;
mod catchup;
mod delivery;
mod frames;
mod legacy;
mod links;
mod manage;
mod requests;
#[cfg(test)]
mod tests;
mod timers;
mod trust;

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
/// Most messages looked for to answer one `mc.sync` (a piece is cut from them, [`CATCHUP_PIECE_BYTES`]).
pub const CATCHUP_MAX_MESSAGES: usize = 2_000;
/// Bytes of `mc.batch` frames in one piece of catch-up (at least one message). A peer that pulls
/// ([`wire::PULL_CAPABILITY`]) asks for the next piece once this one arrived; any other gets one piece per
/// `mc.sync`. So catch-up of any size stays far below the engine's bound on a link's queued bytes
/// (`crate::send_queue::MAX_LINK_QUEUED_BYTES`, 16 MiB), which closes the link.
pub const CATCHUP_PIECE_BYTES: usize = 1024 * 1024;
/// Pieces one link may have on their way at once (one per room); further rooms' `mc.sync` wait for one of
/// them to be answered.
pub const CATCHUP_PIECES_PER_LINK: usize = 4;
/// Most seqs asked for in one `mc.want`.
pub const MAX_WANT_SEQS: usize = 64;
/// Loaded pages per room beyond which pages read for catch-up or scrolling are dropped again.
pub const MAX_LOADED_PAGES: usize = 64;
/// Frames a peer may send per second on one link, sustained; beyond it frames are dropped (an honest
/// sender's messages come back through its outbox and catch-up, so nothing is lost).
pub const MAX_FRAMES_PER_SECOND: u64 = 300;
/// Frames a peer may send in one burst (catch-up after a long absence sends many at once).
pub const MAX_FRAME_BURST: u64 = 3_000;
/// How far ahead of what we hold of a sender a seq may be; further is refused (it could only be meant to
/// make later real messages look old).
pub const MAX_SEQ_AHEAD: u64 = 10_000;
/// Messages held back behind gaps, over all rooms and senders; more are refused (catch-up brings them).
pub const MAX_HELD: usize = 5_000;
/// Messages held until their author's key is known, over all authors; more are refused.
pub const MAX_AWAITING_KEY: usize = 2_000;
/// Invitations waiting for the user's answer, over all inviters.
pub const MAX_PENDING_INVITATIONS: usize = 16;
/// Invitations one peer may send us in one run of the node (accepted, declined or waiting).
pub const MAX_INVITATIONS_PER_PEER: u32 = 4;
/// Catch-up requests waiting for older pages to be read, over all links.
pub const MAX_PENDING_SERVES: usize = 64;
/// Peers one legacy frame (its `connections` list or dial metadata) can make us dial.
pub const MAX_DIALS_PER_LEGACY_LIST: usize = 16;
/// Message requests (first messages from usernames with no conversation) waiting for the user; a stranger's
/// first message beyond it is refused (its sender re-sends it later, as it re-sends anything unacknowledged).
pub const MAX_PENDING_REQUESTS: usize = 20;
/// "bob is typing…" is sent at most this often while the user types.
pub const TYPING_EVERY_MS: u64 = 1_000;
/// And shown this long after the last one arrived (so it is gone within 5 s after they stop).
pub const TYPING_SHOWN_MS: u64 = 5_000;
/// Messages kept per request; later ones are refused until the user accepts (then they are re-sent).
pub const MAX_MESSAGES_PER_REQUEST: usize = 5;

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
    /// Invite a user to a group room, by an invitation we sign: every member learns of them, and they
    /// join once they accept.
    Invite {
        room: RoomId,
        username: Username,
    },
    /// Join a room we were invited to ([`ChatEvent::Invited`]): connect to its members, catch up.
    AcceptInvitation {
        room: RoomId,
    },
    /// Turn an invitation down; the same room is not offered again in this run.
    DeclineInvitation {
        room: RoomId,
    },
    /// Accept a message request: it becomes the direct conversation, with its messages.
    AcceptRequest {
        username: Username,
    },
    /// Block a username: its request (if any) is discarded, its links closed and refused, nothing of it
    /// stored, and it is never dialed.
    Block {
        username: Username,
    },
    Unblock {
        username: Username,
    },
    /// Send a message; `random` makes its id.
    Send {
        room: RoomId,
        text: String,
        random: [u8; 16],
    },
    /// Reply to, react to, edit or delete the message `to` (edit and delete only our own); `random` makes
    /// the id of the message that does it.
    Act {
        room: RoomId,
        to: MessageId,
        what: ActOn,
        random: [u8; 16],
    },
    /// The user is typing in `room` (members are told at most every [`TYPING_EVERY_MS`]).
    Typing {
        room: RoomId,
    },
    /// Whether we send and show typing indicators and read receipts (honoured both ways).
    SetPrivacy(Privacy),
    MarkRead {
        room: RoomId,
    },
    /// Read the next older page of a room (scrolling back).
    LoadOlder {
        room: RoomId,
    },
    /// Delete a conversation: its room and stored history are removed; a group is left first (its members
    /// are told by our signed `mc.leave` and stop dialing us).
    DeleteRoom {
        room: RoomId,
    },
    /// Leave a group as [`Command::DeleteRoom`] does, keeping the conversation and its history here,
    /// read-only.
    LeaveGroup {
        room: RoomId,
    },
    /// The user's own settings for a room: a local name, muted, pinned (nobody else learns of them).
    SetRoomPrefs {
        room: RoomId,
        prefs: super::room::RoomPrefs,
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
    /// `username`'s key, proved on a link (the identity handshake): their messages are verified with it,
    /// and those held for it are verified and stored now. It replaces a key a member introduced.
    PeerKey {
        username: Username,
        key: PublicKey,
    },
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
    /// "`inviter` invites you to `name`": answer with [`Command::AcceptInvitation`] or
    /// [`Command::DeclineInvitation`]. Nothing is joined before. `name` is cleaned for display.
    Invited {
        room: RoomId,
        name: String,
        inviter: Username,
    },
    /// The invitations waiting for an answer changed (one was accepted, declined or replaced).
    InvitationsChanged,
    /// A first message from `from`, who has no conversation with us: a new message request. Reported once
    /// per request (later messages of the same request are [`ChatEvent::RequestsChanged`]).
    Requested {
        from: Username,
    },
    /// Message requests or the block list changed.
    RequestsChanged,
    /// A stored record of requests, invitations or blocks could not be read, worded for the user.
    PendingProblem(crate::phrase::Phrase),
    /// Who is typing in `room` changed ([`ChatNode::typing_in`]).
    TypingChanged {
        room: RoomId,
    },
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
    #[error("a message's signature is not its author's (forged or altered)")]
    BadSignature,
    #[error("a relayed message is unsigned, so it cannot be shown as its author's")]
    Unsigned,
    #[error("a message's seq is more than {MAX_SEQ_AHEAD} beyond what we hold of its sender")]
    SeqTooFar,
    #[error("the room names us without an invitation from the sender")]
    NotInvited,
    #[error("a member was added without a valid invitation from a member")]
    BadInvitation,
    #[error(
        "the peer sent more than {MAX_INVITATIONS_PER_PEER} invitations, or {MAX_PENDING_INVITATIONS} wait already; it is ignored"
    )]
    TooManyInvitations,
    #[error("catch-up for this room is already under way on this link")]
    CatchUpPending,
    #[error("too many requests are waiting ({0}); this one is refused")]
    TooManyPending(&'static str),
    #[error("the sender has no conversation with us (its first messages wait as a message request)")]
    NoConversation,
    #[error("the sender is blocked")]
    Blocked,
    #[error("only a message's author may edit or delete it")]
    NotTheAuthor,
    #[error("the invitation would make the group larger than {} members; it is refused", super::room::MAX_ROOM_MEMBERS)]
    RoomFull,
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
    #[error("There is no invitation to this room (it may have been answered already)")]
    NoInvitation,
    #[error("There is no message request from {0} (it may have been answered already)")]
    NoRequest(Username),
    #[error("You blocked {0}; unblock them in Settings to chat with them")]
    Blocked(Username),
    #[error("That message is not here any more (it may have been deleted)")]
    NoSuchMessage,
    #[error("You can only edit or delete your own messages")]
    NotYours,
    #[error("A reaction is one emoji (or a few characters, no spaces)")]
    NotAReaction,
    #[error("You left this group: its messages are kept here, but you can no longer write in it")]
    LeftGroup,
}

/// Typing indicators and read receipts: each is sent only when on, and shown only when on (so receipts
/// show only between two users who both turned them on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Privacy {
    pub typing: bool,
    pub receipts: bool,
}

impl From<&crate::settings::Settings> for Privacy {
    fn from(settings: &crate::settings::Settings) -> Privacy {
        Privacy { typing: settings.typing_indicators, receipts: settings.read_receipts }
    }
}

impl Default for Privacy {
    fn default() -> Privacy {
        Privacy { typing: true, receipts: false }
    }
}

/// How a node is set up. [`NodeConfig::default`] is the secure one for a node with a key; without an
/// identity the node sends unsigned messages and verifies nothing (everything is unverified).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Our identity key: our messages and invitations are signed with it, and relayed messages are
    /// verified against their authors' keys ([`Input::PeerKey`]).
    pub identity: Option<Identity>,
    /// Invitations wait for the user ([`ChatEvent::Invited`]); false joins at once (for a shell that
    /// cannot ask yet: the invitation rules and caps still apply).
    pub ask_before_joining: bool,
    /// A first message from a username with no conversation waits as a message request
    /// ([`ChatEvent::Requested`]) for the user's Accept or Block; false opens the conversation at once.
    pub message_requests: bool,
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig { identity: None, ask_before_joining: true, message_requests: true }
    }
}

impl NodeConfig {
    /// What [`ChatNode::new`] and [`ChatNode::restore`] use: no key, invitations accepted unasked. The
    /// worker uses it until it hands the node its identity, the proved keys and the user's answers.
    pub fn unsigned_unasked() -> NodeConfig {
        NodeConfig { identity: None, ask_before_joining: false, message_requests: false }
    }
}

/// A key we know for a user, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    pub key: PublicKey,
    /// `None`: proved on a link. `Some(member)`: introduced by the member who invited them.
    pub introduced_by: Option<Username>,
}

/// A message whose author's key is not known yet: held, unseen, until it is.
#[derive(Clone, Debug)]
struct AwaitingKey {
    message: StoredMessage,
    link: LinkId,
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
    /// Per room and sender, the seqs already sent on this link by catch-up: a repeated `mc.sync` or
    /// `mc.want` is not served them again (the link is reliable and ordered; a new link starts afresh).
    served: BTreeMap<(RoomId, Username), SenderProgress>,
    /// For a legacy peer, the peers its page listed for a direct room the user has not chatted in yet:
    /// dialed once the user writes there (see `legacy.rs`), never on a stranger's word alone.
    gossip: Vec<Username>,
    /// The peer's hello announced [`crate::transfer::CAPABILITY`]: files may be sent on this link.
    files: bool,
    /// The peer's hello announced [`wire::PULL_CAPABILITY`]: it asks for each next piece of catch-up.
    pulls: bool,
    /// Rooms whose catch-up piece is on its way to the peer (or being read): a slot each, until the peer's
    /// next `mc.sync` for the room, at most [`CATCHUP_PIECES_PER_LINK`].
    pieces_out: BTreeSet<RoomId>,
    /// The peer's `mc.sync` of rooms that wait for a slot, by room (a later one replaces an earlier one).
    deferred_syncs: BTreeMap<RoomId, BTreeMap<Username, u64>>,
    /// Bytes of our messages re-sent on this link since the `Millis`: at most [`CATCHUP_PIECE_BYTES`] every
    /// [`RESEND_AFTER_MS`], the rest put off to the next round (catch-up brings them meanwhile).
    resent: (Millis, usize),
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
    /// The room the next dial is for (for the original page, its connected members are listed in a
    /// `connections` frame once the link shows it is one; never in the dial metadata).
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
    /// A piece of a pulling peer's catch-up: its last batch asks for the next ([`Frame::Batch`]'s `pull`),
    /// and it holds the room's slot in [`Link::pieces_out`].
    piece: bool,
}

pub struct ChatNode {
    me: Username,
    config: NodeConfig,
    /// Other users' keys.
    keys: BTreeMap<Username, KnownKey>,
    /// Messages held for their author's key, by author.
    awaiting_key: BTreeMap<Username, Vec<AwaitingKey>>,
    invitations: BTreeMap<RoomId, PendingInvitation>,
    /// Rooms the user declined in this run: not offered again.
    declined: BTreeSet<RoomId>,
    /// Invitations each peer sent in this run (the per-peer cap).
    invitations_from: BTreeMap<Username, u32>,
    /// Message requests waiting for the user, by sender.
    requests: BTreeMap<Username, MessageRequest>,
    /// Usernames the user blocked.
    blocked: BTreeSet<Username>,
    /// Stored records of requests, invitations or blocks that could not be read: never written over.
    damaged_pending: BTreeSet<String>,
    rooms: RoomsRecord,
    histories: BTreeMap<RoomId, RoomHistory>,
    links: BTreeMap<LinkId, Link>,
    contacts: BTreeMap<Username, Contact>,
    held: BTreeMap<(RoomId, Username), BTreeMap<u64, Held>>,
    /// When each (message, recipient) was last sent, for re-sending.
    last_sent: BTreeMap<(MessageId, Username), Millis>,
    pending_serves: Vec<PendingServe>,
    reading: BTreeSet<String>,
    privacy: Privacy,
    /// Who is typing where, until when.
    typing: BTreeMap<(RoomId, Username), Millis>,
    /// When we last said we are typing, per room.
    typing_sent: BTreeMap<RoomId, Millis>,
    /// The last read receipt we sent, per room.
    receipt_sent: BTreeMap<RoomId, MessageId>,
    /// Per room and member, the message their last receipt said they read up to (not stored).
    read_by: BTreeMap<RoomId, BTreeMap<Username, MessageId>>,
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
    /// A node with no stored history, no key, and invitations accepted unasked
    /// ([`NodeConfig::unsigned_unasked`]).
    pub fn new(me: Username, now: Millis) -> ChatNode {
        ChatNode::with_config(me, now, NodeConfig::unsigned_unasked())
    }

    /// A node with no stored history.
    pub fn with_config(me: Username, now: Millis, config: NodeConfig) -> ChatNode {
        ChatNode {
            me,
            config,
            keys: BTreeMap::new(),
            awaiting_key: BTreeMap::new(),
            invitations: BTreeMap::new(),
            declined: BTreeSet::new(),
            invitations_from: BTreeMap::new(),
            requests: BTreeMap::new(),
            blocked: BTreeSet::new(),
            damaged_pending: BTreeSet::new(),
            rooms: RoomsRecord::default(),
            histories: BTreeMap::new(),
            links: BTreeMap::new(),
            contacts: BTreeMap::new(),
            held: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            pending_serves: Vec::new(),
            reading: BTreeSet::new(),
            privacy: Privacy::default(),
            typing: BTreeMap::new(),
            typing_sent: BTreeMap::new(),
            receipt_sent: BTreeMap::new(),
            read_by: BTreeMap::new(),
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
        ChatNode::restore_with(me, snapshot, now, NodeConfig::unsigned_unasked())
    }

    /// [`ChatNode::restore`] with a configuration.
    pub fn restore_with(me: Username, snapshot: &Snapshot, now: Millis, config: NodeConfig) -> ChatNode {
        let loaded = history::load(&me, snapshot);
        let mut node = ChatNode::with_config(me, now, config);
        node.rooms = loaded.rooms;
        node.histories = loaded.histories;
        node.damaged_rooms = loaded.damaged_rooms;
        for problem in loaded.problems {
            node.event(ChatEvent::HistoryProblem(problem));
        }
        node.restore_pending(snapshot);
        node.finish_step();
        node
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

/// What checking a message's signature found.
#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    /// Signed by its author: stored with the signature.
    Verified(super::signing::Signature),
    /// Accepted without a signature (from its own author on its link, or by a node that verifies nothing).
    Unverified,
    /// The author's key is not known yet: held.
    AwaitKey,
    Refused(DropReason),
}

fn caps() -> Vec<String> {
    wire::OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect()
}

/// A chat in exactly the original page's shape.
fn legacy_chat(sender: &Username, text: &str, timestamp: Millis) -> Value {
    wire::encode(&Frame::Chat(ChatFrame { sender: sender.clone(), text: text.to_owned(), timestamp, ours: None }))
}
