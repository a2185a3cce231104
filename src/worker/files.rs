//! Files and images in the worker (issue 15): the user's [`Transfers`], fed the links that take files, their
//! file frames and chunks, and the popup's requests; their outputs performed.
//!
//! Every file's bytes are stored before they are shown or sent: a file the user sends is stored chunk by
//! chunk as the popup hands it over ([`Request::SendFilePiece`](crate::bridge::Request::SendFilePiece)),
//! so it survives the popup closing and restarts and goes to an offline recipient once they are back; a
//! received chunk is stored before it is acknowledged, and its record with every [`RECORD_EVERY_CHUNKS`]th.
//! Chunks and records are history ([`Key::is_history`]): the vault seals them like messages.
//!
//! Sending is pulled: when [`Output::ChunksReady`] says chunks may flow to a peer, the worker takes
//! [`Transfers::next_chunk`] while the transfer's window allows (at most `link_window_chunks` of 64 KiB in
//! flight per link, below the engine's send queue high water), reads those chunks
//! ([`Effect::ReadFile`]) and hands each to the engine. Acknowledgements open the window again.

use std::collections::BTreeMap;

use serde_json::Value;

use super::requests::Outcome;
use super::{Effect, WorkerError, WorkerModel};
use crate::account::Username;
use crate::bridge::{FileView, Request, Response, WorkerToEngine};
use crate::chat::ids::{LinkId, RoomId};
use crate::entropy::Entropy;
use crate::identity::Identity;
use crate::phrase::{Code, Phrase};
use crate::storage::{self, Key, Snapshot, StorageWrite};
use crate::time::Millis;
use crate::transfer::hash::HashState;
use crate::transfer::manager::{Limits, NewFile, Output, Peer, TransferEvent, Transfers};
use crate::transfer::record::{self, FileIndex, FileKey, IncomingRecord, IncomingState, OutgoingRecord};
use crate::transfer::{CHUNK_BYTES, HARD_MAX_FILE_BYTES, TransferError, TransferId, wire};

/// A received file's record is stored with every this many of its chunks (and once it is whole): 2 MiB.
const RECORD_EVERY_CHUNKS: u32 = 32;

/// Why the worker asked for chunks ([`Effect::ReadFile`]); the shell hands it back with what it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileRead {
    /// Chunks of our files to send to `to`.
    Send { to: Username, chunks: Vec<(TransferId, u32)> },
    /// A whole file for the popup ([`crate::bridge::Request::OpenFile`]).
    Open { key: FileKey },
}

/// A file the popup is handing over, piece by piece.
struct Upload {
    id: TransferId,
    room: RoomId,
    name: String,
    mime: String,
    size: u64,
    /// Bytes stored so far.
    stored: u64,
    hash: HashState,
    timestamp: Millis,
}

/// The signed-in user's transfers and what the worker keeps about them in memory.
pub(super) struct Files {
    me: Username,
    transfers: Transfers,
    /// The link (and the peer's session on it) each peer's files go on, as last told to `transfers`.
    links: BTreeMap<Username, (LinkId, Option<u64>)>,
    uploads: BTreeMap<String, Upload>,
    /// Offers refused before anything was stored (too big, too many), shown in their room until a restart.
    refused: Vec<FileView>,
    /// How many offers were refused so far: names each refused one's view.
    refusals: u64,
    /// The last progress step (a twentieth) shown per transfer, so a view goes out every 5 %, not per chunk.
    shown_progress: BTreeMap<FileKey, u64>,
}

impl Files {
    /// The user's transfers as storage holds them (the index and the records it names).
    pub(super) fn restore(me: Username, identity: Identity, max_file_bytes: u64, snapshot: &Snapshot) -> Files {
        // A wider window than the core's default: a chunk's round trip here passes through two workers, their
        // storage and four extension ports. 120 chunks of 64 KiB in flight per link (7.5 MiB) stay below the
        // engine's channel high water (8 MiB), so its send queue holds no file bytes beyond what the channel
        // buffers.
        let limits =
            Limits { max_file_bytes, window_chunks: 96, link_window_chunks: 120, ack_every: 24, ..Limits::default() };
        let index: FileIndex = snapshot
            .get(&Key::FileIndex(me.clone()))
            .and_then(|it| serde_json::from_value(it.clone()).ok())
            .unwrap_or_default();
        let mut incoming = Vec::new();
        let mut outgoing = Vec::new();
        for file in index.files {
            let Some(value) = snapshot.get(&Key::File { owner: me.clone(), file: file.clone() }) else { continue };
            match file {
                FileKey::In { .. } => incoming.extend(serde_json::from_value::<IncomingRecord>(value.clone()).ok()),
                FileKey::Out(_) => outgoing.extend(serde_json::from_value::<OutgoingRecord>(value.clone()).ok()),
            }
        }
        Files {
            transfers: Transfers::restore(me.clone(), identity, limits, incoming, outgoing),
            me,
            links: BTreeMap::new(),
            uploads: BTreeMap::new(),
            refused: Vec::new(),
            refusals: 0,
            shown_progress: BTreeMap::new(),
        }
    }

    /// Settings changed the largest file accepted.
    pub(super) fn set_max_file_bytes(&mut self, bytes: u64) {
        self.transfers.set_max_file_bytes(bytes);
    }

    /// The files of `room`, oldest first, for the view.
    pub(super) fn views(&self, room: &RoomId, online: impl Fn(&Username) -> bool) -> Vec<FileView> {
        let mut views: Vec<FileView> =
            self.transfers.incoming_records().filter(|it| &it.offer.room == room).map(FileView::incoming).collect();
        let outgoing = self.transfers.outgoing_ids().filter_map(|id| self.transfers.outgoing(id));
        views.extend(outgoing.filter(|it| &it.offer.room == room).map(|it| FileView::outgoing(&it, &online)));
        views.extend(self.refused.iter().filter(|it| it.room == room.as_str()).cloned());
        views.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.key.cmp(&b.key)));
        views
    }
}

/// The records the stored index names (read at start, after the index).
pub(super) fn record_keys(owner: &Username, snapshot: &Snapshot) -> Vec<String> {
    let Some(index) = snapshot.get(&Key::FileIndex(owner.clone())) else { return Vec::new() };
    let index: FileIndex = serde_json::from_value(index.clone()).unwrap_or_default();
    index.files.into_iter().map(|file| Key::File { owner: owner.clone(), file }.to_string()).collect()
}

/// The keys of a file's chunks.
fn chunk_keys(owner: &Username, file: &FileKey, count: u64) -> Vec<String> {
    (0..count as u32)
        .map(|index| Key::FileChunk { owner: owner.clone(), file: file.clone(), index }.to_string())
        .collect()
}

fn parse_key(raw: &str) -> Result<FileKey, WorkerError> {
    let mut parts = raw.split('/');
    let key = FileKey::parse_path(&mut parts).ok_or(TransferError::UnknownTransfer)?;
    match parts.next() {
        None => Ok(key),
        Some(_) => Err(TransferError::UnknownTransfer.into()),
    }
}

impl WorkerModel {
    /// Tells the transfers which peers' links take files now: a new link, or a peer that restarted on the
    /// same link (a new session), is a link down and up, so what was in flight is sent again from where the
    /// peer resumes.
    pub(super) fn sync_file_links(&mut self, now: Millis) {
        let (Some(chat), Some(files)) = (self.chat.as_ref(), self.files.as_mut()) else { return };
        let mut links: BTreeMap<Username, (LinkId, Option<u64>)> = BTreeMap::new();
        for (link, user, session) in chat.files_links() {
            links.entry(user.clone()).or_insert_with(|| (link.clone(), session));
        }
        if links == files.links {
            return;
        }
        for (user, link) in &files.links {
            if links.get(user) != Some(link) {
                files.transfers.link_down(user);
            }
        }
        for (user, link) in &links {
            if files.links.get(user) != Some(link) {
                files.transfers.link_up(user);
            }
        }
        files.links = links;
        self.drain_files(now);
    }

    /// The files of `room` for the view.
    pub(super) fn file_views(&self, room: &RoomId) -> Vec<FileView> {
        let (Some(files), Some(chat)) = (self.files.as_ref(), self.chat.as_ref()) else { return Vec::new() };
        files.views(room, |user| chat.files_link(user).is_some())
    }

    /// A file frame on `link` ([`wire::is_file_frame`]).
    pub(super) fn file_frame(&mut self, now: Millis, link: &LinkId, frame: &Value) {
        self.sync_file_links(now);
        let Some(user) = self.chat.as_ref().and_then(|chat| chat.files_peer(link)).cloned() else {
            self.log_dropped(now, &format!("dropped a file frame on {link}, whose peer did not announce files"));
            return;
        };
        let (Some(chat), Some(files)) = (self.chat.as_ref(), self.files.as_mut()) else { return };
        let key = self.gate.as_ref().and_then(|gate| gate.contacts().get(&user)).map(|it| it.key);
        // Files from someone we have a conversation with go ahead; from anyone else they wait for "Accept".
        let contact = chat.room(&RoomId::direct(chat.me(), &user)).is_some();
        let peer = Peer { user: &user, key: key.as_ref(), contact };
        files.transfers.frame(peer, frame, |room| chat.room(room).is_some_and(|it| it.members.contains(&user)));
        self.drain_files(now);
    }

    /// A binary message on `link`, its bytes as the engine received them.
    pub(super) fn file_chunk(&mut self, now: Millis, link: &LinkId, bytes: Vec<u8>) {
        self.sync_file_links(now);
        let user = self.chat.as_ref().and_then(|chat| chat.files_peer(link)).cloned();
        let Some(user) = user else {
            self.log_dropped(
                now,
                &format!("dropped a binary message on {link}: not a file chunk of a link taking files"),
            );
            return;
        };
        let Some(files) = self.files.as_mut() else { return };
        files.transfers.chunk(&user, &bytes);
        self.drain_files(now);
    }

    /// Performs what the transfers asked for, in order.
    pub(super) fn drain_files(&mut self, now: Millis) {
        loop {
            let Some(files) = self.files.as_mut() else { return };
            let Some(output) = files.transfers.poll_output() else { return };
            let me = files.me.clone();
            match output {
                Output::Send { to, frame } => {
                    let Some(link) = self.chat.as_ref().and_then(|chat| chat.files_link(&to)).cloned() else {
                        continue;
                    };
                    let value = wire::encode(&frame);
                    let frames = match self.gate.as_mut() {
                        Some(gate) => gate.outbound(&link, value),
                        None => vec![value],
                    };
                    for frame in frames {
                        self.command(WorkerToEngine::Send { link: link.clone(), frame });
                    }
                }
                Output::ChunksReady { to } => {
                    let mut chunks = Vec::new();
                    while let Some(next) = files.transfers.next_chunk(&to) {
                        chunks.push((next.id, next.index));
                    }
                    if !chunks.is_empty() {
                        let keys = chunks
                            .iter()
                            .map(|(id, index)| {
                                Key::FileChunk { owner: me.clone(), file: FileKey::Out(*id), index: *index }.to_string()
                            })
                            .collect();
                        self.push(Effect::ReadFile { keys, then: FileRead::Send { to, chunks } });
                    }
                }
                Output::StoreChunk { key, index, bytes, record } => {
                    let chunk = Key::FileChunk { owner: me.clone(), file: key.clone(), index };
                    let mut writes =
                        vec![StorageWrite::Set { key: chunk.to_string(), value: record::chunk_value(&bytes) }];
                    // The record (how many chunks are stored, and their hash state) is stored with every
                    // `RECORD_EVERY_CHUNKS`th chunk and once the file is whole, not with each: what storage holds
                    // of it is then a little behind the chunks, never ahead (chunks are written first), and a
                    // resume starts from it, the chunks after it sent again and written over.
                    if record.state != IncomingState::Receiving || record.stored % RECORD_EVERY_CHUNKS == 0 {
                        writes.push(storage::set(Key::File { owner: me, file: key.clone() }, &record));
                    }
                    self.write(writes);
                    // Every effect after this write waits for it: the acknowledgement leaves once it is stored.
                    if let Some(files) = self.files.as_mut() {
                        files.transfers.stored(&key, index);
                    }
                }
                Output::StoreIndex(index) => self.write(vec![storage::set(Key::FileIndex(me), &index)]),
                Output::StoreIncoming(record) => {
                    self.write(vec![storage::set(Key::File { owner: me, file: record.key() }, &record)]);
                    self.view_changed();
                }
                Output::StoreOutgoing(record) => {
                    self.write(vec![storage::set(Key::File { owner: me, file: record.key() }, &record)]);
                    self.view_changed();
                }
                Output::DiscardChunks { key, chunks } => {
                    // After a restart, up to `RECORD_EVERY_CHUNKS` chunks past the stored record may be stored.
                    let count = match &key {
                        FileKey::In { from, id } => {
                            files.transfers.incoming(from, *id).map(|it| it.offer.chunk_count())
                        }
                        FileKey::Out(_) => None,
                    };
                    let chunks = match count {
                        Some(count) => {
                            u32::try_from(count).unwrap_or(u32::MAX).min(chunks.saturating_add(RECORD_EVERY_CHUNKS))
                        }
                        None => chunks,
                    };
                    let writes = (0..chunks)
                        .map(|index| storage::remove(Key::FileChunk { owner: me.clone(), file: key.clone(), index }))
                        .collect();
                    self.write(writes);
                }
                Output::Event(event) => self.file_event(event),
                Output::Dropped { from, reason } => {
                    self.log_dropped(now, &format!("dropped a file frame or chunk from {from}: {reason:?}"));
                }
            }
        }
    }

    fn file_event(&mut self, event: TransferEvent) {
        let Some(files) = self.files.as_mut() else { return };
        match event {
            TransferEvent::Progress { key, done, total, .. } => {
                let step = done.saturating_mul(20).checked_div(total).unwrap_or(20);
                if files.shown_progress.insert(key, step) != Some(step) {
                    self.view_changed();
                }
            }
            TransferEvent::Refused { from, room, name, size, reason } => {
                let detail = crate::transfer::ended_phrase(&name, size, &from, reason, &crate::transfer::Party::Us);
                files.refusals += 1;
                files.refused.push(FileView {
                    key: format!("refused/{}/{}", from.as_str(), files.refusals),
                    room: room.as_str().to_owned(),
                    name,
                    mime: String::new(),
                    size,
                    from: from.as_str().to_owned(),
                    mine: false,
                    timestamp: 0,
                    image: false,
                    status: crate::bridge::FileStatus::Failed,
                    done: 0,
                    detail: vec![detail],
                    stored: false,
                });
                // Only the latest few: a peer offering many cannot grow this.
                let excess = files.refused.len().saturating_sub(16);
                files.refused.drain(..excess);
                self.view_changed();
            }
            TransferEvent::Offered { key } => {
                self.view_changed();
                self.notify_file(&key, true);
            }
            TransferEvent::Received { key } => {
                self.view_changed();
                self.notify_file(&key, false);
            }
            _ => self.view_changed(),
        }
    }

    /// A notification for a file that waits for "Accept" (`offered`) or arrived, as for a message: not for a
    /// muted conversation, nor one the popup shows; its name hidden with the message text.
    fn notify_file(&mut self, key: &FileKey, offered: bool) {
        let FileKey::In { from, id } = key else { return };
        let (Some(files), Some(chat)) = (self.files.as_ref(), self.chat.as_ref()) else { return };
        let Some(record) = files.transfers.incoming(from, *id) else { return };
        let room = record.offer.room.clone();
        let Some(view) = chat.room_views().into_iter().find(|it| it.id == room) else { return };
        if view.prefs.muted || !offered && self.popup_open && self.selected_room.as_ref() == Some(&room) {
            return;
        }
        let sender = crate::chat::names::display_name(from.as_str());
        let text = if self.loaded.settings.hide_notification_text {
            Code::NotifyHidden.into()
        } else if offered {
            let size = crate::transfer::human_size(record.offer.size);
            Phrase::new(Code::NotifyFileOffered).with(&sender).with(&record.offer.name).with(size)
        } else {
            Phrase::new(Code::NotifyFileSent).with(&sender).with(&record.offer.name)
        };
        let arrival = super::Arrival {
            title: super::Arrival::title_for(&sender, &view.title),
            text,
            notification_id: view.notification_id(),
        };
        self.notify(arrival);
    }

    /// What the shell read for an [`Effect::ReadFile`]. `random`: 32 fresh bytes (for sealing).
    pub fn handle_file_read(&mut self, then: FileRead, found: Snapshot, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let opened = self.vault.incoming(found);
        self.add_problems(opened.problems.iter().map(super::passphrase_phrase));
        let found = opened.snapshot;
        let Some(me) = self.files.as_ref().map(|it| it.me.clone()) else { return self.end_input() };
        match then {
            FileRead::Send { to, chunks } => {
                let link = self.chat.as_ref().and_then(|chat| chat.files_link(&to)).cloned();
                for (id, index) in chunks {
                    let key = Key::FileChunk { owner: me.clone(), file: FileKey::Out(id), index };
                    let (Some(link), Some(bytes)) = (&link, found.get(&key).and_then(record::chunk_bytes)) else {
                        self.log_dropped(now, &format!("could not send chunk {index} of {id} to {to}"));
                        continue;
                    };
                    let data = wire::encode_chunk(&id, index, &bytes);
                    self.command(WorkerToEngine::SendChunk { link: link.clone(), data });
                }
            }
            FileRead::Open { key } => {
                let reply = self.assemble(&me, &key, &found);
                self.push(Effect::Reply(match reply {
                    Ok(response) => response,
                    Err(err) => Response::Error { message: err.phrase() },
                }));
            }
        }
        self.end_input();
    }

    fn assemble(&self, me: &Username, key: &FileKey, found: &Snapshot) -> Result<Response, WorkerError> {
        let files = self.files.as_ref().ok_or(WorkerError::NotSignedIn)?;
        let offer = match key {
            FileKey::Out(id) => files.transfers.outgoing(*id).map(|it| it.offer),
            FileKey::In { from, id } => files.transfers.incoming(from, *id).map(|it| it.offer.clone()),
        }
        .ok_or(TransferError::UnknownTransfer)?;
        let mut bytes = Vec::with_capacity(offer.size as usize);
        for name in chunk_keys(me, key, offer.chunk_count()) {
            let chunk = found.0.get(&name).and_then(record::chunk_bytes).ok_or(TransferError::UnknownTransfer)?;
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != offer.size {
            return Err(TransferError::SizeMismatch { read: bytes.len() as u64, declared: offer.size }.into());
        }
        Ok(Response::File { name: offer.name, mime: offer.mime, data: record::chunk_base64(&bytes) })
    }

    /// A piece of a file the user sends: stored at once; the file goes out once every piece is stored.
    pub(super) fn file_piece(&mut self, now: Millis, random: [u8; 32], piece: Request) -> Result<Outcome, WorkerError> {
        let Request::SendFilePiece { upload, room, name, mime, size, offset, data } = piece else {
            return Err(TransferError::UnknownTransfer.into());
        };
        let chat = self.chat.as_ref().ok_or(WorkerError::NotSignedIn)?;
        let files = self.files.as_mut().ok_or(WorkerError::NotSignedIn)?;
        let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
        let record = chat.room(&room).ok_or(WorkerError::NoSuchRoom)?;
        let recipients: Vec<Username> =
            record.members.iter().filter(|it| **it != files.me && !record.departed.contains(*it)).cloned().collect();
        if size > HARD_MAX_FILE_BYTES {
            return Err(TransferError::TooBig { size, limit: HARD_MAX_FILE_BYTES }.into());
        }
        let bytes =
            record::chunk_bytes(&Value::String(data)).ok_or(TransferError::SizeMismatch { read: 0, declared: size })?;
        if offset == 0 {
            let id = TransferId::from_random(Entropy::new(random).file_id());
            let hash = HashState::new();
            let new = Upload { id, room: room.clone(), name, mime, size, stored: 0, hash, timestamp: now };
            files.uploads.insert(upload.clone(), new);
        }
        let up = files.uploads.get_mut(&upload).ok_or(TransferError::UnknownTransfer)?;
        let end = offset + bytes.len() as u64;
        let chunk = u64::from(CHUNK_BYTES);
        if offset != up.stored || end > up.size || (end < up.size && bytes.len() as u64 % chunk != 0) {
            let read = up.stored;
            files.uploads.remove(&upload);
            return Err(TransferError::SizeMismatch { read, declared: size }.into());
        }
        let mut writes = Vec::new();
        let mut digest = None;
        let first = (offset / chunk) as u32;
        let pieces: Vec<&[u8]> = if bytes.is_empty() { vec![&[]] } else { bytes.chunks(chunk as usize).collect() };
        for (n, part) in pieces.into_iter().enumerate() {
            let index = first + n as u32;
            let last = u64::from(index) * chunk + part.len() as u64 == up.size;
            if !part.is_empty() {
                let key = Key::FileChunk { owner: files.me.clone(), file: FileKey::Out(up.id), index };
                writes.push(StorageWrite::Set { key: key.to_string(), value: record::chunk_value(part) });
            }
            let hashed =
                if last { up.hash.clone().finish(part).map(|it| digest = Some(it)) } else { up.hash.feed(part) };
            hashed.map_err(|_| TransferError::SizeMismatch { read: up.stored, declared: size })?;
        }
        up.stored = end;
        let done = (up.stored == up.size).then_some(digest).flatten();
        let file = done.map(|sha256| NewFile {
            id: up.id,
            room: up.room.clone(),
            name: up.name.clone(),
            mime: up.mime.clone(),
            size: up.size,
            sha256,
            timestamp: up.timestamp,
        });
        if file.is_some() {
            files.uploads.remove(&upload);
        }
        let sent = match file {
            Some(file) => files.transfers.send(file, recipients).map(|()| true),
            None => Ok(false),
        };
        self.write(writes);
        let sent = sent?;
        self.drain_files(now);
        Ok(if sent { Outcome::Changed } else { Outcome::Unchanged })
    }

    pub(super) fn answer_file(&mut self, now: Millis, key: &str, accept: bool) -> Result<Outcome, WorkerError> {
        let FileKey::In { from, id } = parse_key(key)? else { return Err(TransferError::NotWaiting.into()) };
        let files = self.files.as_mut().ok_or(WorkerError::NotSignedIn)?;
        if accept {
            files.transfers.accept(&from, id)?
        } else {
            files.transfers.decline(&from, id)?
        }
        self.drain_files(now);
        Ok(Outcome::Changed)
    }

    pub(super) fn cancel_file(&mut self, now: Millis, key: &str) -> Result<Outcome, WorkerError> {
        let key = parse_key(key)?;
        let files = self.files.as_mut().ok_or(WorkerError::NotSignedIn)?;
        files.transfers.cancel(&key)?;
        self.drain_files(now);
        Ok(Outcome::Changed)
    }

    /// Reads a stored file for the popup; answered once read ([`FileRead::Open`]).
    pub(super) fn open_file(&mut self, key: &str) -> Result<Outcome, WorkerError> {
        let key = parse_key(key)?;
        let files = self.files.as_ref().ok_or(WorkerError::NotSignedIn)?;
        let count = match &key {
            FileKey::Out(id) => files.transfers.outgoing(*id).map(|it| it.offer.chunk_count()),
            FileKey::In { from, id } => files
                .transfers
                .incoming(from, *id)
                .filter(|it| it.state == IncomingState::Complete)
                .map(|it| it.offer.chunk_count()),
        }
        .ok_or(TransferError::UnknownTransfer)?;
        let keys = chunk_keys(&files.me, &key, count);
        self.push(Effect::ReadFile { keys, then: FileRead::Open { key } });
        Ok(Outcome::Queued)
    }
}
