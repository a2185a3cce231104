//! One file someone sends us: accepting it, taking its chunks in order (holding a few that arrive early),
//! hashing them as they are stored, acknowledging what is stored, and checking the SHA-256 at the end.
//!
//! It trusts nothing in a chunk but its position: the index must be inside the file and inside the window
//! the sender may have in flight, the length must be the one that index has, and the bytes only count once
//! the whole file's SHA-256 equals the signed offer's.

use std::collections::BTreeMap;

use super::hash::HashState;
use super::output::{Emitter, Output, TransferEvent};
use super::record::{IncomingRecord, IncomingState};
use super::wire::{Cancel, FileFrame, Refusal};
use super::{DropReason, Party, chunk_len};

/// How chunks are taken: the window the sender may have in flight, how often we acknowledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub window_chunks: u32,
    pub ack_every: u32,
}

pub struct Incoming {
    /// As last handed to storage: `stored` counts the chunks handed out, `hash` is their state.
    pub record: IncomingRecord,
    /// Chunks the shell reported stored.
    pub durable: u32,
    /// The last `n` acknowledged to the sender.
    pub acked: Option<u32>,
    /// Chunks that arrived ahead of the next one, by index.
    held: BTreeMap<u32, Vec<u8>>,
    pub held_bytes: usize,
    /// The index we last asked the sender to resume from after dropping a chunk we could not hold.
    rewind_asked: Option<u32>,
}

impl Incoming {
    pub fn new(record: IncomingRecord) -> Incoming {
        let durable = record.stored;
        Incoming { record, durable, acked: None, held: BTreeMap::new(), held_bytes: 0, rewind_asked: None }
    }

    fn count(&self) -> u32 {
        // The offer's size is at most `HARD_MAX_FILE_BYTES` and its chunk at least `MIN_CHUNK_BYTES`,
        // so the count fits 32 bits.
        u32::try_from(self.record.offer.chunk_count()).unwrap_or(u32::MAX)
    }

    pub fn is_active(&self) -> bool {
        self.record.state == IncomingState::Receiving
    }

    pub fn is_waiting(&self) -> bool {
        self.record.state == IncomingState::AwaitingUser
    }

    /// Starts (or resumes) fetching: asks the sender for chunks from the first one not yet handed out.
    pub fn accept(&mut self, out: &mut Emitter<'_>) {
        self.record.state = IncomingState::Receiving;
        self.forget_held();
        let (id, at) = (self.record.offer.id, self.record.stored);
        out.push(Output::StoreIncoming(self.record.clone()));
        out.send(&self.record.offer.from.clone(), FileFrame::Accept { id, by: out.me.clone(), at, sig: None });
        // A file of no bytes is complete as soon as it is accepted.
        self.check_complete(out);
    }

    /// The author offered again (a new link): answer with where we stand.
    pub fn reoffered(&mut self, out: &mut Emitter<'_>) {
        let offer = &self.record.offer;
        let (id, from) = (offer.id, offer.from.clone());
        match &self.record.state {
            IncomingState::AwaitingUser => {}
            IncomingState::Receiving => {
                self.forget_held();
                self.rewind_asked = None;
                let at = self.record.stored;
                out.send(&from, FileFrame::Accept { id, by: out.me.clone(), at, sig: None });
            }
            IncomingState::Complete => {
                let n = self.count();
                out.send(&from, FileFrame::Ack { id, by: out.me.clone(), n, sig: None });
            }
            IncomingState::Ended { reason, by: Party::Us } => {
                let cancel = Cancel { id, by: out.me.clone(), reason: *reason, sig: None };
                out.send(&from, FileFrame::Cancel(cancel));
            }
            IncomingState::Ended { .. } => {}
        }
    }

    /// The link to the author went down: chunks held ahead are dropped (they will be sent again).
    pub fn link_down(&mut self) {
        self.forget_held();
        self.rewind_asked = None;
    }

    fn forget_held(&mut self) {
        self.held.clear();
        self.held_bytes = 0;
    }

    /// One chunk from the author. `held_budget` is how many more bytes may be held out of order.
    pub fn chunk(
        &mut self,
        index: u32,
        bytes: &[u8],
        pace: Pace,
        held_budget: usize,
        out: &mut Emitter<'_>,
    ) -> Result<(), DropReason> {
        if !self.is_active() {
            return Err(DropReason::NotReceiving);
        }
        let offer = &self.record.offer;
        if index >= self.count() {
            return Err(DropReason::OutOfRange);
        }
        if bytes.len() as u64 != chunk_len(offer.size, offer.chunk, index) {
            return Err(DropReason::BadLength);
        }
        let next = self.record.stored;
        if index < next || self.held.contains_key(&index) {
            // Sent again after a resume: already taken.
            return Ok(());
        }
        if index - next >= pace.window_chunks {
            return Err(DropReason::BeyondWindow);
        }
        if index > next {
            if bytes.len() > held_budget {
                self.ask_rewind(out);
                return Err(DropReason::BufferFull);
            }
            self.held_bytes += bytes.len();
            self.held.insert(index, bytes.to_vec());
            return Ok(());
        }
        self.take(bytes.to_vec(), out);
        while let Some(bytes) = self.held.remove(&self.record.stored) {
            self.held_bytes -= bytes.len();
            if !self.is_active() {
                break;
            }
            self.take(bytes, out);
        }
        if !self.is_active() {
            self.forget_held();
        }
        Ok(())
    }

    /// We dropped a chunk we could not hold: ask the author to send again from the next one we need.
    fn ask_rewind(&mut self, out: &mut Emitter<'_>) {
        let at = self.record.stored;
        if self.rewind_asked == Some(at) {
            return;
        }
        self.rewind_asked = Some(at);
        self.forget_held();
        let (id, from) = (self.record.offer.id, self.record.offer.from.clone());
        out.send(&from, FileFrame::Accept { id, by: out.me.clone(), at, sig: None });
    }

    /// The next chunk in order: hashed, then handed to storage with the record that accounts for it.
    fn take(&mut self, bytes: Vec<u8>, out: &mut Emitter<'_>) {
        let index = self.record.stored;
        let last = index + 1 == self.count();
        if last {
            let digest = self.record.hash.clone().finish(&bytes);
            if digest.ok() != Some(self.record.offer.sha256) {
                self.corrupt(out);
                return;
            }
            self.record.hash = HashState::new();
            self.record.stored = index + 1;
            self.record.state = IncomingState::Complete;
        } else {
            if self.record.hash.feed(&bytes).is_err() {
                // Only a damaged record (a hash state off a block boundary) gets here.
                self.corrupt(out);
                return;
            }
            self.record.stored = index + 1;
        }
        let key = self.record.key();
        out.push(Output::StoreChunk { key, index, bytes, record: self.record.clone() });
    }

    /// The file a zero-byte offer describes needs no chunk: check its hash at once.
    fn check_complete(&mut self, out: &mut Emitter<'_>) {
        if self.count() != 0 || !self.is_active() {
            return;
        }
        if self.record.hash.clone().finish(&[]).ok() != Some(self.record.offer.sha256) {
            self.corrupt(out);
            return;
        }
        self.record.state = IncomingState::Complete;
        out.push(Output::StoreIncoming(self.record.clone()));
        self.finished(out);
    }

    fn corrupt(&mut self, out: &mut Emitter<'_>) {
        self.end(Refusal::Corrupt, Party::Us, out);
    }

    /// Ends the transfer: the record says why, the chunks go, and the author is told if we ended it.
    pub fn end(&mut self, reason: Refusal, by: Party, out: &mut Emitter<'_>) {
        let handed_out = self.record.stored;
        let tell = by == Party::Us;
        self.record.state = IncomingState::Ended { reason, by: by.clone() };
        self.record.stored = 0;
        self.record.hash = HashState::new();
        self.forget_held();
        let key = self.record.key();
        let from = self.record.offer.from.clone();
        out.push(Output::StoreIncoming(self.record.clone()));
        if handed_out > 0 {
            out.push(Output::DiscardChunks { key: key.clone(), chunks: handed_out });
        }
        if tell {
            let cancel = Cancel { id: self.record.offer.id, by: out.me.clone(), reason, sig: None };
            out.send(&from, FileFrame::Cancel(cancel));
        }
        out.event(TransferEvent::Ended { key, peer: from, reason, by });
    }

    /// The shell stored chunk `index`: acknowledge every `ack_every` chunks, and at the end.
    pub fn stored(&mut self, index: u32, pace: Pace, out: &mut Emitter<'_>) {
        if index >= self.record.stored || index < self.durable {
            // Not a write we asked for, or one reported twice.
            return;
        }
        self.durable = index + 1;
        let offer = &self.record.offer;
        let (key, from, size) = (self.record.key(), offer.from.clone(), offer.size);
        let done = (u64::from(self.durable) * u64::from(offer.chunk)).min(size);
        out.event(TransferEvent::Progress { key, peer: from, done, total: size });
        let complete = self.record.state == IncomingState::Complete && self.durable == self.count();
        if complete {
            self.finished(out);
        } else if self.durable - self.acked.unwrap_or(0) >= pace.ack_every {
            self.ack(self.durable, out);
        }
    }

    fn finished(&mut self, out: &mut Emitter<'_>) {
        self.ack(self.count(), out);
        out.event(TransferEvent::Received { key: self.record.key() });
    }

    fn ack(&mut self, n: u32, out: &mut Emitter<'_>) {
        self.acked = Some(n);
        let (id, from) = (self.record.offer.id, self.record.offer.from.clone());
        out.send(&from, FileFrame::Ack { id, by: out.me.clone(), n, sig: None });
    }
}
