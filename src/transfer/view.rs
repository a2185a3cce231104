//! How a transfer shows in its conversation: [`FileView`], built from the stored records.

use serde::{Deserialize, Serialize};

use super::record::{IncomingRecord, IncomingState, OutgoingRecord, RecipientState};
use super::{ended_phrase, is_displayable_image};
use crate::account::Username;
use crate::chat::names::display_name;
use crate::phrase::{Code, Phrase};

/// Where a file stands, as the popup shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// From someone who is not a contact: "Accept" or "Decline".
    AwaitingYou,
    /// Nothing moves yet: the peer is offline, or has not answered ([`FileView::detail`] says which).
    Waiting,
    /// Bytes are moving: [`FileView::done`] of [`FileView::size`].
    Moving,
    /// Whole, its SHA-256 checked (received), or received by every recipient (sent).
    Done,
    /// Ended without the file; [`FileView::detail`] says why, in words.
    Failed,
}

/// A file sent or received in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    /// `out/<id>` or `in/<from>/<id>`: what answering, cancelling and opening it name.
    pub key: String,
    pub room: String,
    /// Cleaned for display (no path, no control or bidirectional characters).
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Its author.
    pub from: String,
    pub mine: bool,
    /// The author's clock, milliseconds since the epoch.
    pub timestamp: u64,
    /// A raster image the popup may show as a thumbnail.
    pub image: bool,
    pub status: FileStatus,
    /// Bytes received (ours: the fewest any recipient still receiving has).
    pub done: u64,
    /// Waiting for whom, or why it failed (one sentence per recipient it failed for), said by the popup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<Phrase>,
    /// The file's bytes are all stored here, so it can be opened and saved.
    pub stored: bool,
}

impl FileView {
    /// A file someone sends us.
    pub fn incoming(record: &IncomingRecord) -> FileView {
        let offer = &record.offer;
        let (status, detail) = match &record.state {
            IncomingState::AwaitingUser => (
                FileStatus::AwaitingYou,
                vec![Phrase::new(Code::FileWantsToSend).with(display_name(offer.from.as_str()))],
            ),
            IncomingState::Receiving => (FileStatus::Moving, Vec::new()),
            IncomingState::Complete => (FileStatus::Done, Vec::new()),
            IncomingState::Ended { reason, by } => {
                (FileStatus::Failed, vec![ended_phrase(&offer.name, offer.size, &offer.from, *reason, by)])
            }
        };
        FileView {
            key: record.key().to_string(),
            room: offer.room.as_str().to_owned(),
            name: offer.name.clone(),
            mime: offer.mime.clone(),
            size: offer.size,
            from: offer.from.as_str().to_owned(),
            mine: false,
            timestamp: offer.timestamp.0,
            image: is_displayable_image(&offer.mime),
            status,
            done: record.received_bytes(),
            detail,
            stored: matches!(record.state, IncomingState::Complete),
        }
    }

    /// A file we send: `online` says whether a recipient's link takes files now.
    pub fn outgoing(record: &OutgoingRecord, online: impl Fn(&Username) -> bool) -> FileView {
        let offer = &record.offer;
        let chunk = u64::from(offer.chunk);
        let mut waiting_online = Vec::new();
        let mut waiting_offline = Vec::new();
        let mut failed = Vec::new();
        let mut moving = None::<u64>;
        let mut done = 0;
        for (user, recipient) in &record.recipients {
            let bytes = (u64::from(recipient.acked) * chunk).min(offer.size);
            match &recipient.state {
                RecipientState::Waiting | RecipientState::Offered if !online(user) => waiting_offline.push(user),
                RecipientState::Waiting | RecipientState::Offered => waiting_online.push(user),
                RecipientState::Sending => moving = Some(moving.map_or(bytes, |it| it.min(bytes))),
                RecipientState::Done => done += 1,
                RecipientState::Ended { reason, by } => {
                    failed.push(ended_phrase(&offer.name, offer.size, user, *reason, by));
                }
            }
        }
        let names = |users: &[&Username]| {
            users.iter().map(|it| Phrase::new(Code::Text).with(display_name(it.as_str()))).collect::<Vec<_>>()
        };
        let total = record.recipients.len();
        let (status, shown_done, detail) = if let Some(bytes) = moving {
            (FileStatus::Moving, bytes, Vec::new())
        } else if !waiting_offline.is_empty() {
            (FileStatus::Waiting, 0, vec![Phrase::new(Code::FileWaitingOnline).with_list(names(&waiting_offline))])
        } else if !waiting_online.is_empty() {
            (FileStatus::Waiting, 0, vec![Phrase::new(Code::FileWaitingAccept).with_list(names(&waiting_online))])
        } else if done > 0 {
            let detail = if !failed.is_empty() {
                failed
            } else if total > 1 {
                vec![Phrase::new(Code::FileDeliveredToSome).with(done).with(total)]
            } else {
                Vec::new()
            };
            (FileStatus::Done, offer.size, detail)
        } else {
            (FileStatus::Failed, 0, failed)
        };
        FileView {
            key: record.key().to_string(),
            room: offer.room.as_str().to_owned(),
            name: offer.name.clone(),
            mime: offer.mime.clone(),
            size: offer.size,
            from: offer.from.as_str().to_owned(),
            mine: true,
            timestamp: offer.timestamp.0,
            image: is_displayable_image(&offer.mime),
            status,
            done: shown_done,
            detail,
            stored: true,
        }
    }
}
