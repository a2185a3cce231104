//! One file we send, to each of its recipients: offered when their link is up, sent from where each says
//! to resume, within the window of chunks its acknowledgements allow, and done when it has them all.
//!
//! A recipient's answers move only its own progress, and only within what we sent: an acknowledgement of
//! chunks we never sent, or an answer resuming past the end, is refused.

use std::collections::BTreeMap;

use super::output::{Emitter, Output, TransferEvent};
use super::record::{FileKey, OutgoingRecord, RecipientRecord, RecipientState};
use super::wire::{Cancel, FileFrame, Offer, Refusal};
use super::{DropReason, Party};
use crate::account::Username;

/// One recipient's progress; `next` is the next chunk to send on the current link.
struct Recipient {
    record: RecipientRecord,
    next: u32,
    rewinds: u32,
}

pub struct Outgoing {
    pub offer: Offer,
    recipients: BTreeMap<Username, Recipient>,
}

impl Outgoing {
    pub fn new(offer: Offer, recipients: impl IntoIterator<Item = Username>) -> Outgoing {
        let recipients = recipients
            .into_iter()
            .map(|user| {
                let record = RecipientRecord { state: RecipientState::Waiting, acked: 0, told: false };
                (user, Recipient { record, next: 0, rewinds: 0 })
            })
            .collect();
        Outgoing { offer, recipients }
    }

    /// From storage: whoever was being sent to waits for their next link.
    pub fn restore(record: OutgoingRecord) -> Outgoing {
        let recipients = record
            .recipients
            .into_iter()
            .map(|(user, mut record)| {
                if matches!(record.state, RecipientState::Offered | RecipientState::Sending) {
                    record.state = RecipientState::Waiting;
                }
                let next = record.acked;
                (user, Recipient { record, next, rewinds: 0 })
            })
            .collect();
        Outgoing { offer: record.offer, recipients }
    }

    pub fn record(&self) -> OutgoingRecord {
        OutgoingRecord {
            v: super::record::RECORD_VERSION,
            offer: self.offer.clone(),
            recipients: self.recipients.iter().map(|(user, it)| (user.clone(), it.record.clone())).collect(),
        }
    }

    fn count(&self) -> u32 {
        u32::try_from(self.offer.chunk_count()).unwrap_or(u32::MAX)
    }

    pub fn recipient_state(&self, user: &Username) -> Option<(&RecipientState, u32)> {
        self.recipients.get(user).map(|it| (&it.record.state, it.record.acked))
    }

    pub fn recipients(&self) -> impl Iterator<Item = (&Username, &RecipientRecord)> {
        self.recipients.iter().map(|(user, it)| (user, &it.record))
    }

    pub fn has_recipient(&self, user: &Username) -> bool {
        self.recipients.contains_key(user)
    }

    /// `user`'s link is up: offer the file (again), or tell them we cancelled it meanwhile.
    pub fn link_up(&mut self, user: &Username, out: &mut Emitter<'_>) {
        let offer = self.offer.clone();
        let Some(recipient) = self.recipients.get_mut(user) else { return };
        recipient.rewinds = 0;
        match &recipient.record.state {
            RecipientState::Waiting | RecipientState::Offered | RecipientState::Sending => {
                recipient.record.state = RecipientState::Offered;
                recipient.next = recipient.record.acked;
                // The offer keeps the signature it was made with: every recipient gets the same one.
                out.push(Output::Send { to: user.clone(), frame: FileFrame::Offer(offer) });
            }
            RecipientState::Ended { reason, by: Party::Us } if !recipient.record.told => {
                let cancel = Cancel { id: offer.id, by: out.me.clone(), reason: *reason, sig: None };
                recipient.record.told = true;
                out.send(user, FileFrame::Cancel(cancel));
                out.push(Output::StoreOutgoing(self.record()));
            }
            RecipientState::Done | RecipientState::Ended { .. } => {}
        }
    }

    pub fn link_down(&mut self, user: &Username) {
        if let Some(recipient) = self.recipients.get_mut(user)
            && matches!(recipient.record.state, RecipientState::Offered | RecipientState::Sending)
        {
            recipient.record.state = RecipientState::Waiting;
            recipient.next = recipient.record.acked;
        }
    }

    /// `user` accepts from chunk `at` (at first, or resuming, or asking again after dropping some).
    pub fn accepted(
        &mut self,
        user: &Username,
        at: u32,
        max_rewinds: u32,
        out: &mut Emitter<'_>,
    ) -> Result<(), DropReason> {
        let count = self.count();
        let recipient = self.recipients.get_mut(user).ok_or(DropReason::Unsolicited)?;
        match recipient.record.state {
            RecipientState::Offered => {}
            RecipientState::Sending => {
                recipient.rewinds += 1;
                if recipient.rewinds > max_rewinds {
                    return Err(DropReason::TooManyRewinds);
                }
            }
            _ => return Err(DropReason::Unsolicited),
        }
        if at > count {
            return Err(DropReason::BeyondSent);
        }
        recipient.record.state = RecipientState::Sending;
        // The recipient says what it holds: a recipient that lost chunks (its storage damaged) starts over.
        recipient.record.acked = at;
        recipient.next = at;
        out.push(Output::StoreOutgoing(self.record()));
        if at < count {
            out.push(Output::ChunksReady { to: user.clone() });
        }
        Ok(())
    }

    /// `user` stored the first `n` chunks (all of them: the file arrived and its hash matched).
    pub fn acked(&mut self, user: &Username, n: u32, out: &mut Emitter<'_>) -> Result<(), DropReason> {
        let count = self.count();
        let (id, size, chunk) = (self.offer.id, self.offer.size, self.offer.chunk);
        let recipient = self.recipients.get_mut(user).ok_or(DropReason::Unsolicited)?;
        if recipient.record.state != RecipientState::Sending {
            return Err(DropReason::Unsolicited);
        }
        if n > recipient.next || n > count {
            return Err(DropReason::BeyondSent);
        }
        if n <= recipient.record.acked && !(n == count && count == 0) {
            // Old news (a late acknowledgement from before a resume).
            return Ok(());
        }
        // The record is stored as progress passes each twentieth and at the end, not per acknowledgement: what
        // it says of `acked` is only shown, as a resume starts from what the recipient says it holds.
        let twentieth = |n: u32| u64::from(n) * 20 / u64::from(count.max(1));
        let store = twentieth(n) != twentieth(recipient.record.acked);
        recipient.record.acked = n;
        let done = (u64::from(n) * u64::from(chunk)).min(size);
        if n == count {
            recipient.record.state = RecipientState::Done;
            out.push(Output::StoreOutgoing(self.record()));
            out.event(TransferEvent::Progress { key: FileKey::Out(id), peer: user.clone(), done, total: size });
            out.event(TransferEvent::Delivered { id, to: user.clone() });
            return Ok(());
        }
        if store {
            out.push(Output::StoreOutgoing(self.record()));
        }
        out.event(TransferEvent::Progress { key: FileKey::Out(id), peer: user.clone(), done, total: size });
        // Room opened, in this transfer's window or in the link's (another transfer may have waited on it).
        out.push(Output::ChunksReady { to: user.clone() });
        Ok(())
    }

    /// `by` ended the transfer (a recipient's cancel or refusal).
    pub fn ended_by_recipient(
        &mut self,
        user: &Username,
        reason: Refusal,
        out: &mut Emitter<'_>,
    ) -> Result<(), DropReason> {
        let recipient = self.recipients.get_mut(user).ok_or(DropReason::Unsolicited)?;
        if matches!(recipient.record.state, RecipientState::Done | RecipientState::Ended { .. }) {
            return Err(DropReason::Unsolicited);
        }
        let by = Party::Them(user.clone());
        recipient.record.state = RecipientState::Ended { reason, by: by.clone() };
        recipient.record.told = true;
        out.push(Output::StoreOutgoing(self.record()));
        out.event(TransferEvent::Ended { key: FileKey::Out(self.offer.id), peer: user.clone(), reason, by });
        Ok(())
    }

    /// The user cancels: every recipient not done is told (now if online, else on their next link).
    pub fn cancel(&mut self, online: &dyn Fn(&Username) -> bool, out: &mut Emitter<'_>) {
        let id = self.offer.id;
        let mut ended = Vec::new();
        for (user, recipient) in &mut self.recipients {
            let state = &recipient.record.state;
            if matches!(state, RecipientState::Done | RecipientState::Ended { .. }) {
                continue;
            }
            // Someone never offered the file (offline all along) has nothing to be told.
            let offered = !matches!(state, RecipientState::Waiting) || recipient.record.acked > 0;
            recipient.record.state = RecipientState::Ended { reason: Refusal::Cancelled, by: Party::Us };
            recipient.record.told = !offered || online(user);
            if offered && online(user) {
                ended.push((user.clone(), true));
            } else {
                ended.push((user.clone(), false));
            }
        }
        out.push(Output::StoreOutgoing(self.record()));
        for (user, tell) in ended {
            if tell {
                let cancel = Cancel { id, by: out.me.clone(), reason: Refusal::Cancelled, sig: None };
                out.send(&user, FileFrame::Cancel(cancel));
            }
            let event =
                TransferEvent::Ended { key: FileKey::Out(id), peer: user, reason: Refusal::Cancelled, by: Party::Us };
            out.event(event);
        }
    }

    /// The next chunk for `user` within the window, if any; counts it as sent.
    pub fn next_chunk(&mut self, user: &Username, window: u32) -> Option<u32> {
        let count = self.count();
        let recipient = self.recipients.get_mut(user)?;
        if recipient.record.state != RecipientState::Sending
            || recipient.next >= count
            || recipient.next - recipient.record.acked >= window
        {
            return None;
        }
        let index = recipient.next;
        recipient.next += 1;
        Some(index)
    }

    /// Chunks sent to `user` on the current link and not yet acknowledged.
    pub fn in_flight(&self, user: &Username) -> u32 {
        match self.recipients.get(user) {
            Some(it) if it.record.state == RecipientState::Sending => it.next - it.record.acked,
            _ => 0,
        }
    }

    /// Whether nothing remains to do for anyone (every recipient done or ended and told).
    pub fn is_settled(&self) -> bool {
        self.recipients.values().all(|it| match it.record.state {
            RecipientState::Done => true,
            RecipientState::Ended { .. } => it.record.told,
            _ => false,
        })
    }
}
