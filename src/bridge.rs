//! The typed bridge between the popup and the background worker.
//!
//! The popup opens a `chrome.runtime` port and sends [`PopupToWorker`] frames; the worker answers each
//! request once with a [`WorkerToPopup::Reply`] carrying the same id, and pushes [`WorkerToPopup::Update`]
//! whenever what the popup shows has changed. The shells move these values with serde-wasm-bindgen in its
//! JSON-compatible mode, so every type here must round-trip through JSON.

use serde::{Deserialize, Serialize};

use crate::peerjs::Serialization;
pub use crate::phrase::{Arg, Code, Phrase};
pub use crate::search::{SearchHit, SearchResults};
use crate::settings::Settings;

/// Name of the `chrome.runtime` port the popup opens to the worker.
pub const POPUP_PORT_NAME: &str = "popup";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// What should the popup show right now?
    GetView,
    SignIn {
        username: String,
    },
    SignOut,
    SaveSettings {
        settings: Settings,
    },
    /// Open (or find) the direct conversation with a user, connect to them, and show it.
    OpenDirect {
        username: String,
    },
    /// Create a named group room and show it.
    CreateGroup {
        name: String,
    },
    /// Add a user to a group room.
    Invite {
        room: String,
        username: String,
    },
    /// Show this room (and mark it read), or the room list when `None`.
    SelectRoom {
        room: Option<String>,
    },
    SendText {
        room: String,
        text: String,
    },
    /// Quote-reply to the message `to`.
    Reply {
        room: String,
        to: String,
        text: String,
    },
    /// Add `emoji` to the message `to`, or take it back if the user has it there already.
    React {
        room: String,
        to: String,
        emoji: String,
    },
    /// Replace the text of the user's own message `to`.
    Edit {
        room: String,
        to: String,
        text: String,
    },
    /// Delete the user's own message `to` for everyone (a tombstone keeps its place).
    Delete {
        room: String,
        to: String,
    },
    /// The user is typing in `room` (sent on input; the worker tells members at most once a second).
    Typing {
        room: String,
    },
    /// Show one more page of older messages in the open room.
    LoadOlder {
        room: String,
    },
    /// The user compared this safety number with `username` out of band: mark their key verified. The
    /// number shown is sent back, so a key that changed meanwhile is not verified by mistake.
    MarkVerified {
        username: String,
        safety_number: String,
    },
    /// `username` proved a new identity key and the user accepts it: it is pinned and what was held is
    /// released. The new key's safety number as shown is sent back, so only that key is accepted.
    AcceptNewKey {
        username: String,
        safety_number: String,
    },
    /// The user refuses `username`'s new identity key: held messages are dropped, and that key is refused
    /// from now on.
    RejectNewKey {
        username: String,
        safety_number: String,
    },
    /// Join the group room we were invited to (see [`View::invitations`]).
    AcceptInvitation {
        room: String,
    },
    /// Refuse the invitation to this room: nothing of it is joined.
    DeclineInvitation {
        room: String,
    },
    /// Accept `username`'s message request (see [`View::requests`]): it becomes a conversation, with its
    /// messages.
    AcceptRequest {
        username: String,
    },
    /// Block `username`: its request is discarded, its connections refused, nothing of it stored, and it is
    /// never dialed (see [`View::blocked`]).
    BlockUser {
        username: String,
    },
    /// Take `username` off the block list.
    UnblockUser {
        username: String,
    },
    /// "Allow unverified for this contact": links as `username` that do not prove the pinned key chat,
    /// marked unverified, from now on (the red warning about `username` is answered).
    AllowUnverified {
        username: String,
    },
    /// "Block": links as `username` that do not prove the pinned key are closed, from now on (a link that
    /// proves it still chats).
    BlockUnverified {
        username: String,
    },
    /// Everything stored (identity key, account, settings, contacts, rooms, history) as one file to save.
    ExportData,
    /// Replace everything stored with an export file's records (`json` is the file's text), then start over
    /// from them. A wrong or damaged file is refused and changes nothing.
    ImportData {
        json: String,
    },
    /// Opens the history with the passphrase (while [`View::locked`]).
    Unlock {
        passphrase: String,
    },
    /// Protects the stored history with a passphrase (none set yet).
    SetPassphrase {
        passphrase: String,
    },
    /// Seals the history again under a new passphrase; `old` must be the current one.
    ChangePassphrase {
        old: String,
        new: String,
    },
    /// Stores the history in the clear again; `passphrase` must be the current one.
    RemovePassphrase {
        passphrase: String,
    },
    /// Forgets the key until the passphrase is entered again.
    LockNow,
    /// Messages containing `query` in every conversation, answered with [`Response::Search`] (an empty
    /// query prepares the search and finds nothing).
    Search {
        query: String,
    },
    /// Shows the conversation `room` around its message `id` (a search hit), marked ([`OpenRoom::focus`]).
    ShowMessage {
        room: String,
        id: String,
    },
    /// Delete a conversation: its history and every stored record of it are removed. A group is left first
    /// (see [`Request::LeaveGroup`]).
    DeleteConversation {
        room: String,
    },
    /// Leave a group: its members are told (by a leave we sign) and stop dialing us; the conversation and
    /// its history here are removed.
    LeaveGroup {
        room: String,
    },
    /// Leave a group as [`Request::LeaveGroup`] does, keeping the conversation and its history here,
    /// read-only.
    LeaveGroupKeepHistory {
        room: String,
    },
    /// This device's own settings for a conversation; a field left `None` is unchanged. `name: Some("")`
    /// takes the local name away.
    ConversationSettings {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        muted: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pinned: Option<bool>,
    },
    /// Keeps what is typed in `room`'s message box (empty: none), so it survives the popup closing.
    SaveDraft {
        room: String,
        text: String,
    },
    /// "Forgot passphrase": erases everything stored (history, contacts, identity key, account, settings)
    /// and starts over as a new install.
    EraseEverything,
    /// A piece of a file the user sends to `room` (issue 15): `data` is bytes `offset..` in standard base64,
    /// a whole number of [`crate::transfer::CHUNK_BYTES`] chunks except the file's last piece. The worker
    /// stores each piece; once all `size` bytes are stored, the file is sent (see [`FileView`]).
    SendFilePiece {
        /// Names this upload among the popup's pieces (chosen by the popup).
        upload: String,
        room: String,
        name: String,
        mime: String,
        size: u64,
        offset: u64,
        data: String,
    },
    /// Accept or decline a file waiting for the user's answer ([`FileStatus::AwaitingYou`]).
    AnswerFile {
        key: String,
        accept: bool,
    },
    /// Stop sending or receiving a file.
    CancelFile {
        key: String,
    },
    /// The bytes of a stored file, answered with [`Response::File`].
    OpenFile {
        key: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// Boxed: the view is large, and every other answer small.
    View { view: Box<View> },
    /// The request was refused; `message` is said to the user in the popup's language.
    Error { message: Phrase },
    /// The answer to [`Request::ExportData`]: a JSON document for the popup to save as `file_name`.
    Export { file_name: String, json: String },
    /// The answer to [`Request::Search`].
    Search { results: SearchResults },
    /// The answer to [`Request::OpenFile`]: the file's bytes in standard base64.
    File { name: String, mime: String, data: String },
}

/// Everything the popup renders. The popup keeps no state of its own beyond what it is typing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub account: Option<AccountView>,
    pub engine: EngineStatus,
    pub settings: Settings,
    /// Problems the worker met loading storage, for the user.
    pub storage_problems: Vec<Phrase>,
    /// Every conversation: pinned ones first, then by most recent activity.
    pub rooms: Vec<RoomSummary>,
    /// The conversation the popup shows, with its latest messages.
    pub open_room: Option<OpenRoom>,
    /// Invitations to groups waiting for the user's answer ("bob invites you to Friends").
    #[serde(default)]
    pub invitations: Vec<InvitationView>,
    /// First messages from usernames with no conversation, waiting for Accept or Block, oldest first.
    #[serde(default)]
    pub requests: Vec<RequestView>,
    /// The usernames the user blocked, for Settings (with Unblock).
    #[serde(default)]
    pub blocked: Vec<String>,
    /// The history is protected by a passphrase.
    #[serde(default)]
    pub passphrase_set: bool,
    /// The passphrase has not been entered in this browser session: nothing of the history is shown and
    /// the engine is not running.
    #[serde(default)]
    pub locked: bool,
}

/// An invitation to a group, waiting for Accept or Decline. Nothing of the group is joined before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub room: String,
    /// The group's name, cleaned for display.
    pub name: String,
    pub inviter: String,
}

/// A message request: a first message from a username with no conversation. Nothing is a conversation
/// (or counts as unread) before the user accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub from: String,
    /// The first message's text (shown as text, never as HTML).
    pub first_text: String,
    /// How many messages the request holds.
    pub messages: usize,
    /// Milliseconds since the epoch when it arrived.
    pub since: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: String,
    /// The group's name, or the other user's name for a direct conversation.
    pub title: String,
    pub is_group: bool,
    /// For a direct conversation, the other user: a group named like a contact is still told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_with: Option<String>,
    /// The other members and whether each is connected now.
    pub members: Vec<MemberSummary>,
    pub unread: u32,
    /// Milliseconds since the epoch of the last message (0 when none).
    pub last_activity: u64,
    /// The last message, for the conversation list (its text shortened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<LastMessage>,
    /// Unread messages are counted, but raise no notification.
    #[serde(default)]
    pub muted: bool,
    /// Listed above the others.
    #[serde(default)]
    pub pinned: bool,
    /// `title` is a name the user gave it on this device.
    #[serde(default)]
    pub renamed: bool,
    /// A group the user left and kept: its history is shown, read-only; nothing can be sent to it.
    #[serde(default)]
    pub left: bool,
}

/// The last message of a conversation as its list row shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    pub sender: String,
    /// At most [`LAST_MESSAGE_CHARS`] characters of its text (plain text, never HTML).
    pub text: String,
    /// The sender's clock, milliseconds since the epoch.
    pub timestamp: u64,
    pub mine: bool,
}

/// How much of the last message the conversation list shows.
pub const LAST_MESSAGE_CHARS: usize = 80;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSummary {
    pub username: String,
    pub online: bool,
    /// A link to this member proved their identity key on its very DTLS session (no one in the middle).
    #[serde(default)]
    pub authenticated: bool,
    /// The safety number of our key and the member's pinned key, to compare out of band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_number: Option<String>,
    /// The user compared safety numbers with this member and marked the key verified.
    #[serde(default)]
    pub verified: bool,
    /// Why we could not reach this member lately, while they are offline (or the warning about an allowed
    /// unverified link while it is up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Phrase>,
    /// We were ever connected to this username: they are online now, their key is pinned, or a conversation
    /// holds a message of theirs. A username never reached may never have been online (a typo, say), where
    /// a contact who is offline now was reached before.
    #[serde(default)]
    pub reached: bool,
    /// The member proved an identity key other than the pinned one: the safety number with the new key.
    /// Messages from it are held until the user accepts or rejects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key_safety_number: Option<String>,
    /// A connection as this member did not prove their pinned key: the red warning, until the user
    /// chooses "Allow unverified for this contact" or "Block".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unproved: Option<Phrase>,
    /// The member's key was pinned on first contact and not verified yet: what the conversation says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_notice: Option<Phrase>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRoom {
    pub room: RoomSummary,
    /// The latest messages, oldest first; only a window of the history, so the popup stays fast.
    pub messages: Vec<MessageView>,
    /// True when older messages exist beyond this window.
    pub has_older: bool,
    /// The message a search opened: the window is around it (not the latest), and the popup marks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    /// True when newer messages exist beyond this window (only around a [`OpenRoom::focus`]).
    #[serde(default)]
    pub has_newer: bool,
    /// Members typing now ("bob is typing…"), when typing indicators are on.
    #[serde(default)]
    pub typing: Vec<String>,
    /// What the user had typed in this room's message box and not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
    /// Files sent and received in this conversation, oldest first (issue 15).
    #[serde(default)]
    pub files: Vec<FileView>,
}

pub use crate::transfer::view::{FileStatus, FileView};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: String,
    pub sender: String,
    /// Plain text from a peer: the popup renders it as text, never as HTML.
    pub text: String,
    /// The sender's clock, milliseconds since the epoch.
    pub timestamp: u64,
    pub mine: bool,
    pub state: MessageState,
    /// The author's signature was checked against their key before the message was stored.
    #[serde(default)]
    pub verified: bool,
    /// The author's key was introduced by this member (who invited them), not proved on a link of ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced_by: Option<String>,
    /// Its author edited it (`text` is the latest).
    #[serde(default)]
    pub edited: bool,
    /// Deleted for everyone: shown as a tombstone, `text` empty.
    #[serde(default)]
    pub deleted: bool,
    /// Each emoji on it with who put it there, in the order first used.
    #[serde(default)]
    pub reactions: Vec<ReactionView>,
    /// The message this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<QuoteView>,
    /// For ours: the members it was sent to, those who stored it, and those it waits for (offline ones
    /// first named in "Waiting for bob to come online").
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub delivered_to: Vec<String>,
    #[serde(default)]
    pub waiting_for: Vec<String>,
    /// For ours, with read receipts on at both ends: who has read it.
    #[serde(default)]
    pub read_by: Vec<String>,
    /// Why it will never be sent, for the user ([`MessageState::Failed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Phrase>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionView {
    pub emoji: String,
    pub who: Vec<String>,
    /// The user is among `who` (a click takes it back).
    pub mine: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteView {
    pub to: String,
    pub author: String,
    /// The quoted text as it is now (empty when the quoted message was deleted).
    pub excerpt: String,
    pub deleted: bool,
    /// The quoted message is in the shown history, so clicking the quote can jump to it.
    pub loaded: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Received,
    Sending,
    Delivered,
    /// Will never be sent (the reason is in [`MessageView::failure`]).
    Failed,
    /// Queued for members who are offline (or have not confirmed): it goes when they are back.
    Waiting,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    pub peer_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopupToWorker {
    pub id: u64,
    pub request: Request,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum WorkerToPopup {
    Reply { id: u64, response: Response },
    Update { view: Box<View> },
}

// ---------------------------------------------------------------------------------------------------------
// Worker ⇄ engine. The engine (Chrome: the offscreen document; Firefox: the background page) holds the
// PeerJS signaling connection and the WebRTC data channels and nothing else: every frame a peer sends is
// handed to the worker, which owns the chat state and tells the engine what to send.

/// Messages to the engine travel through `chrome.runtime.sendMessage` (Chrome) with this `to` tag, so the
/// popup and the worker ignore them.
pub const ENGINE_ADDRESS: &str = "engine";
pub const WORKER_ADDRESS: &str = "worker";

/// Identifies one data connection: the PeerJS connection id (`dc_…`), unique per connection.
pub type LinkId = String;

/// How the engine's signaling connection is doing, as the popup shows it. Externally tagged (`"online"`,
/// `{"failed": {"message": …}}`), so the popup reads it without serde buffering the value first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineStatus {
    /// Not signed in, or the engine has not started yet.
    #[default]
    Offline,
    Connecting,
    Online,
    /// The connection dropped; the engine is retrying with the same id.
    Reconnecting {
        attempt: u32,
        /// Why we are not online, for the user.
        message: Phrase,
    },
    /// The engine gave up; `message` is for the user (e.g. the username is taken).
    Failed {
        message: Phrase,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerToEngine {
    /// Register `peer_id` with the signaling server in `settings` (reconnects if either changed).
    /// `token` is the account's secret PeerJS token (None: the engine makes a fresh one).
    Configure {
        peer_id: String,
        #[serde(default)]
        token: Option<String>,
        settings: Settings,
    },
    /// Disconnect everything and forget the id (sign out).
    Shutdown,
    /// Send a fresh [`EngineToWorker::Hello`]: the worker restarted and lost track of the links.
    Greet,
    /// Open a data connection to `peer_id` with this metadata. Chat uses `json` (what the original page
    /// speaks); the other serializations are there for PeerJS apps that chose them.
    Dial {
        peer_id: String,
        metadata: serde_json::Value,
        #[serde(default)]
        serialization: Serialization,
    },
    /// Send one JSON value on a link.
    Send {
        link: LinkId,
        frame: serde_json::Value,
    },
    /// Send one file chunk (`crate::transfer::wire::encode_chunk`) as a binary message on a link whose peer
    /// takes files; it waits in the link's send queue like a frame. Its bytes cross to the engine as a
    /// `Uint8Array` (structured clone), or as an array of numbers where only JSON passes.
    SendChunk {
        link: LinkId,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    Close {
        link: LinkId,
    },
}

/// A data connection as the engine reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub link: LinkId,
    pub peer_id: String,
    /// The connection metadata the dialing side attached (the original page puts its member list here).
    pub metadata: serde_json::Value,
    /// True when we dialed.
    pub outgoing: bool,
    /// This session's descriptions as our browser holds them; their DTLS fingerprints are what the identity
    /// handshake binds to. Absent from engines that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionPair>,
}

/// The local and remote SDP of one data connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPair {
    pub local_sdp: String,
    pub remote_sdp: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineToWorker {
    /// The engine started (or restarted) and has these links open; the worker answers with its
    /// configuration (a [`WorkerToEngine::Configure`] or [`WorkerToEngine::Shutdown`]).
    Hello {
        status: EngineStatus,
        links: Vec<LinkInfo>,
    },
    Status {
        status: EngineStatus,
    },
    LinkUp {
        info: LinkInfo,
    },
    Frame {
        link: LinkId,
        frame: serde_json::Value,
    },
    /// A binary message of ours arrived on a link (a file chunk, `crate::transfer::wire::decode_chunk`); its
    /// bytes as [`WorkerToEngine::SendChunk`]'s.
    Chunk {
        link: LinkId,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    LinkDown {
        link: LinkId,
        reason: String,
    },
    DialFailed {
        peer_id: String,
        reason: Phrase,
    },
}

/// The envelope on `chrome.runtime.sendMessage`: who it is for, and the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Addressed<T> {
    pub to: String,
    pub body: T,
}

/// The name of the long-lived port the engine opens to the worker (Chrome's offscreen document): its reports
/// and the worker's commands travel over it, in order, without a `chrome.runtime.sendMessage` broadcast (and
/// its reply channel) per report.
pub const ENGINE_PORT_NAME: &str = "engine";

/// What the worker posts on the engine's port: the commands answering one [`EngineToWorker`] batch the
/// engine posted (`reply`, in the order the batches were posted), or commands of the worker's own
/// (a popup's request, a timer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineCommands {
    pub reply: bool,
    pub commands: Vec<WorkerToEngine>,
}
