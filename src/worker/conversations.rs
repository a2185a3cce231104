//! Managing conversations (issue 15): deleting one, with every stored record of its room; leaving a group,
//! or leaving it and keeping its history;
//! this device's own name, mute and pin for a conversation; what a notification says (muted rooms raise
//! none, and the message text can be left out); and what a click on a notification opens.
//!
//! Deleting is two steps: the chat node forgets the room and removes what it knows of (the room list's
//! entry, the meta, every page it counts), then the model reads all of storage and removes whatever is
//! still the room's: pages past a damaged meta's count, damaged copies of its meta or pages.

use super::requests::Outcome;
use super::{Effect, WholeRead, WorkerError, WorkerModel};
use crate::account::Username;
use crate::bridge::LAST_MESSAGE_CHARS;
use crate::chat::{Command, RoomId};
use crate::storage::{self, Key, Snapshot};
use crate::time::Millis;

impl WorkerModel {
    /// Deletes a conversation (a group is left first); `only_group` refuses a direct one ("Leave group").
    pub(super) fn delete_conversation(
        &mut self,
        now: Millis,
        room: &str,
        only_group: bool,
    ) -> Result<Outcome, WorkerError> {
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        if only_group && room.is_direct() {
            return Err(WorkerError::NotAGroup);
        }
        let owner = self.loaded.account.as_ref().map(|it| it.username.clone()).ok_or(WorkerError::NotSignedIn)?;
        let chat = self.chat.as_mut().ok_or(WorkerError::NotSignedIn)?;
        chat.handle_command(now, Command::DeleteRoom { room: room.clone() })?;
        if self.selected_room.as_ref() == Some(&room) {
            self.select(None);
            self.write(vec![self.ui_write()]);
        }
        self.drain_chat(now);
        // After the node's writes: whatever of the room storage still holds is found and removed.
        self.read_all(WholeRead::PurgeRoom { owner, room });
        Ok(Outcome::Changed)
    }

    /// Leaves a group and keeps the conversation and its history here, read-only.
    pub(super) fn leave_group_keep_history(&mut self, now: Millis, room: &str) -> Result<Outcome, WorkerError> {
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        if room.is_direct() {
            return Err(WorkerError::NotAGroup);
        }
        let chat = self.chat.as_mut().ok_or(WorkerError::NotSignedIn)?;
        chat.handle_command(now, Command::LeaveGroup { room })?;
        self.drain_chat(now);
        Ok(Outcome::Changed)
    }

    /// Removes every record of `owner`'s room `room` that `all` (all of storage) still holds.
    pub(super) fn purge_room(&mut self, all: &Snapshot, owner: &Username, room: &RoomId) {
        let removes: Vec<_> = all
            .0
            .keys()
            .filter(|raw| Key::parse(raw).is_some_and(|key| key_of_room(&key) == Some((owner, room))))
            .map(storage::remove)
            .collect();
        if !removes.is_empty() {
            self.push(Effect::Log(format!(
                "multichat: removed {} more records of a deleted conversation",
                removes.len()
            )));
        }
        self.write(removes);
    }

    /// Changes this device's own settings for a conversation; `None` leaves a setting as it is.
    pub(super) fn conversation_settings(
        &mut self,
        now: Millis,
        room: &str,
        name: Option<String>,
        muted: Option<bool>,
        pinned: Option<bool>,
    ) -> Result<Outcome, WorkerError> {
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        let chat = self.chat.as_mut().ok_or(WorkerError::NotSignedIn)?;
        let mut prefs = chat.room(&room).map(|it| it.prefs.clone()).ok_or(WorkerError::NoSuchRoom)?;
        if let Some(name) = name {
            prefs.local_name = Some(name).filter(|it| !it.trim().is_empty());
        }
        prefs.muted = muted.unwrap_or(prefs.muted);
        prefs.pinned = pinned.unwrap_or(prefs.pinned);
        chat.handle_command(now, Command::SetRoomPrefs { room, prefs })?;
        self.drain_chat(now);
        Ok(Outcome::Changed)
    }

    /// The user clicked the notification `notification_id`: the conversation it is about is selected (and
    /// stored as the open one), so the popup the shell opens next shows it. A notification about a contact's
    /// key opens the direct conversation with them; requests and invitations open the conversation list.
    /// `random`: 32 fresh random bytes, for sealing.
    pub fn notification_clicked(&mut self, notification_id: &str, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let room = self.room_of_notification(notification_id);
        self.select(room);
        self.write(vec![self.ui_write()]);
        self.finish(now);
        self.view_changed();
        self.end_input();
    }

    fn room_of_notification(&self, notification_id: &str) -> Option<RoomId> {
        let chat = self.chat.as_ref()?;
        let rest = notification_id.strip_prefix("multichat-")?;
        let room = match rest.strip_prefix("contact-") {
            Some(user) => RoomId::direct(chat.me(), &Username::parse(user).ok()?),
            None => RoomId::parse(rest).ok()?,
        };
        chat.room(&room).map(|_| room)
    }
}

/// The room a per-room record (meta, page, or a damaged copy of either) belongs to, with its owner.
fn key_of_room(key: &Key) -> Option<(&Username, &RoomId)> {
    match key {
        Key::RoomMeta { owner, room } | Key::HistoryPage { owner, room, .. } => Some((owner, room)),
        Key::Damaged(original) => key_of_room(original),
        _ => None,
    }
}

/// At most [`LAST_MESSAGE_CHARS`] characters of `text`, with an ellipsis when cut.
pub(super) fn shortened(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(LAST_MESSAGE_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}
