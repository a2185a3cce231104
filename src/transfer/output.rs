//! What [`super::manager::Transfers`] asks its shell to do, and what it tells the user's view.

use std::collections::VecDeque;

use super::record::{FileIndex, FileKey, IncomingRecord, OutgoingRecord};
use super::wire::{FileFrame, Refusal};
use super::{DropReason, Party};
use crate::account::Username;
use crate::identity::Identity;

/// One thing for the shell to do, in the order given. Storage writes come in the order they must land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this frame (signed by us) on `to`'s link, encoded with [`super::wire::encode`].
    Send { to: Username, frame: FileFrame },
    /// Chunks may flow to `to` now: call [`super::manager::Transfers::next_chunk`] while its channel has room.
    ChunksReady { to: Username },
    /// Store this chunk and, in the same write or not at all (a record a few chunks behind is as good to
    /// resume from: chunks after it are sent again), the record that accounts for it; then report
    /// [`super::manager::Transfers::stored`].
    StoreChunk { key: FileKey, index: u32, bytes: Vec<u8>, record: IncomingRecord },
    /// Write the index of the user's transfers (before the first record of a new transfer).
    StoreIndex(FileIndex),
    /// Write the record of a file we receive.
    StoreIncoming(IncomingRecord),
    /// Write the record of a file we send.
    StoreOutgoing(OutgoingRecord),
    /// Remove chunks `0..chunks` of a transfer that ended without its file (the record stays, saying why).
    DiscardChunks { key: FileKey, chunks: u32 },
    /// Something the user's view shows.
    Event(TransferEvent),
    /// A frame or chunk from `from` was refused (for the log, through its budget).
    Dropped { from: Username, reason: DropReason },
}

/// What changed, for the view and notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferEvent {
    /// A file from someone who is not a contact waits for "Accept".
    Offered { key: FileKey },
    /// A file arrived whole, its SHA-256 equal to the offer's.
    Received { key: FileKey },
    /// A recipient has the whole file we sent.
    Delivered { id: super::TransferId, to: Username },
    /// Bytes moved: `done` of `total` (for a file we send, to `peer`; for one we receive, from its author).
    Progress { key: FileKey, peer: Username, done: u64, total: u64 },
    /// A transfer ended without the file (with `peer`), and why.
    Ended { key: FileKey, peer: Username, reason: Refusal, by: Party },
    /// An offer was refused before anything was stored (too big, or too many at once), and why.
    Refused { from: Username, room: crate::chat::ids::RoomId, name: String, size: u64, reason: Refusal },
}

/// Where the transfers put their outputs: signs every frame as it is queued.
pub struct Emitter<'a> {
    pub me: &'a Username,
    pub identity: &'a Identity,
    pub queue: &'a mut VecDeque<Output>,
}

impl Emitter<'_> {
    pub fn send(&mut self, to: &Username, frame: FileFrame) {
        let frame = frame.signed(self.identity);
        self.queue.push_back(Output::Send { to: to.clone(), frame });
    }

    pub fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    pub fn event(&mut self, event: TransferEvent) {
        self.queue.push_back(Output::Event(event));
    }
}
