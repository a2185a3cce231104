//! Drafts: what the user typed in a room's message box and did not send, kept per room so it survives the
//! popup closing (and the worker stopping). They are stored under `drafts/<user>`, a history record, so a
//! passphrase seals them like the history; while locked none are read or written.

use std::collections::BTreeMap;

use super::requests::Outcome;
use super::{WorkerError, WorkerModel};
use crate::chat::RoomId;
use crate::phrase::{Code, Phrase};
use crate::storage::{self, AccountRecord, Key, Snapshot};

/// The longest draft kept, in characters (a message box holds far less in practice).
pub const MAX_DRAFT_CHARS: usize = 20_000;

/// The signed-in user's drafts, by room id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Drafts(BTreeMap<String, String>);

impl Drafts {
    /// The drafts stored for `account`'s user. A damaged record is reported and read as none; it is replaced
    /// only when the user types a new draft.
    pub(super) fn restore(snapshot: &Snapshot, account: Option<&AccountRecord>, problems: &mut Vec<Phrase>) -> Drafts {
        let Some(account) = account else { return Drafts::default() };
        let Some(value) = snapshot.get(&Key::Drafts(account.username.clone())) else { return Drafts::default() };
        match serde_json::from_value::<BTreeMap<String, String>>(value.clone()) {
            Ok(drafts) => Drafts(drafts),
            Err(_) => {
                problems.push(Code::DraftsUnreadable.into());
                Drafts::default()
            }
        }
    }

    /// The draft of `room`, if any.
    pub(super) fn get(&self, room: &RoomId) -> Option<String> {
        self.0.get(room.as_str()).cloned()
    }
}

impl WorkerModel {
    /// Keeps `text` as `room`'s draft (an empty one removes it) and stores the user's drafts. The view of
    /// other popups does not change: each keeps what its own box holds.
    pub(super) fn save_draft(&mut self, room: &str, text: String) -> Result<Outcome, WorkerError> {
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        let known = self.chat.as_ref().ok_or(WorkerError::NotSignedIn)?.room_views().iter().any(|it| it.id == room);
        if !known {
            return Err(WorkerError::NoSuchRoom);
        }
        let text: String = text.chars().take(MAX_DRAFT_CHARS).collect();
        let changed = if text.is_empty() {
            self.drafts.0.remove(room.as_str()).is_some()
        } else {
            self.drafts.0.insert(room.as_str().to_owned(), text.clone()) != Some(text)
        };
        if changed {
            self.store_drafts();
        }
        Ok(Outcome::Unchanged)
    }

    /// A message was sent from `room`: its draft is done.
    pub(super) fn forget_draft(&mut self, room: &RoomId) {
        if self.drafts.0.remove(room.as_str()).is_some() {
            self.store_drafts();
        }
    }

    fn store_drafts(&mut self) {
        let Some(account) = self.loaded.account.as_ref() else { return };
        let key = Key::Drafts(account.username.clone());
        let write = if self.drafts.0.is_empty() { storage::remove(key) } else { storage::set(key, &self.drafts.0) };
        self.write(vec![write]);
    }
}
