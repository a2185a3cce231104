//! The popup's requests.

use super::{Effect, Queued, WholeRead, WorkerError, WorkerModel};
use crate::account::Username;
use crate::at_rest::AtRestError;
use crate::bridge::{EngineStatus, Request, Response, WorkerToEngine};
use crate::chat::history::PAGE_SIZE;
use crate::chat::node::ActOn;
use crate::chat::{ChatError, Command, MessageId, RoomId};
use crate::entropy::{Entropy, TOKEN_DERIVATION};
use crate::identity::Identity;
use crate::storage::{self, AccountRecord, Key, Snapshot};
use crate::time::Millis;

/// How a request that was not refused is answered.
pub(super) enum Outcome {
    /// With the view; it changed, so every popup gets it too.
    Changed,
    /// With the view, which did not change.
    Unchanged,
    /// The request queued its own answer (after reading storage, say).
    Queued,
}

impl WorkerModel {
    /// Handles a popup's request. `random`: 32 fresh random bytes. The answer is queued as
    /// [`Effect::Reply`], after the request's writes and before its engine commands; a refused request
    /// queues nothing else.
    pub fn handle(&mut self, request: Request, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let mark = self.effects.len();
        let outcome = if self.locked() && !allowed_while_locked(&request) {
            Err(WorkerError::Passphrase(AtRestError::Locked))
        } else {
            self.request(request, now, random)
        };
        match outcome {
            Err(err) => {
                self.effects.truncate(mark);
                self.view_dirty = false;
                self.push(Effect::Reply(Response::Error { message: err.phrase() }));
            }
            Ok(Outcome::Queued) => self.finish(now),
            Ok(outcome) => {
                self.finish(now);
                // The writes first (what is shown is stored), then the answer, then the rest (engine commands
                // may wait for the engine to start; the popup does not).
                let new: Vec<Queued> = self.effects.drain(mark..).collect();
                let (writes, rest): (Vec<Queued>, Vec<Queued>) =
                    new.into_iter().partition(|it| matches!(it, Queued::Ready(Effect::Write(_) | Effect::Log(_))));
                self.effects.extend(writes);
                self.reply_with_view();
                self.effects.extend(rest);
                if matches!(outcome, Outcome::Changed) {
                    self.view_changed();
                }
            }
        }
        self.end_input();
    }

    fn request(&mut self, request: Request, now: Millis, random: [u8; 32]) -> Result<Outcome, WorkerError> {
        match request {
            Request::GetView => {
                // A popup asks for the view when it opens: from now on the shown room is being read.
                self.popup_open = true;
                Ok(Outcome::Unchanged)
            }
            Request::SignIn { username } => {
                let username = Username::parse(&username)?;
                // The token goes to the signaling server; the seed is the secret key: each its own derivation.
                let entropy = Entropy::new(random);
                let record = AccountRecord { username, token: entropy.peerjs_token(), token_v: TOKEN_DERIVATION };
                let mut writes = vec![storage::set(Key::Account, &record)];
                if self.identity.is_none() && !self.identity_damaged {
                    // The first sign-in on this install makes its identity key, from fresh randomness.
                    let identity = Identity::from_seed(entropy.identity_seed());
                    writes.push(storage::set(Key::Identity, &identity.to_record()));
                    self.identity = Some(identity);
                }
                self.loaded.account = Some(record);
                self.write(writes);
                // The chat state of this user (history from an earlier sign-in) is read by a reload.
                self.push(Effect::Reload);
                self.effects.push_back(Queued::EngineConfig);
                Ok(Outcome::Changed)
            }
            Request::SignOut => {
                if let Some(chat) = self.chat.as_mut() {
                    let _ = chat.handle_command(now, Command::SignOut);
                }
                self.drain_chat(now);
                self.chat = None;
                self.files = None;
                self.search = Default::default();
                self.select(None);
                self.loaded.account = None;
                self.engine = EngineStatus::Offline;
                let writes = vec![storage::remove(Key::Account), self.ui_write()];
                self.write(writes);
                self.command(WorkerToEngine::Shutdown);
                Ok(Outcome::Changed)
            }
            Request::SaveSettings { settings } => {
                settings.validate()?;
                let write = storage::set(Key::Settings, &settings);
                if let Some(chat) = self.chat.as_mut() {
                    let _ = chat.handle_command(now, Command::SetPrivacy((&settings).into()));
                }
                if let Some(files) = self.files.as_mut() {
                    files.set_max_file_bytes(settings.max_file_bytes);
                }
                self.loaded.settings = settings;
                self.write(vec![write]);
                if self.loaded.account.is_some() {
                    self.command(self.engine_config());
                }
                Ok(Outcome::Changed)
            }
            Request::SelectRoom { room } => {
                let room = room.map(|it| RoomId::parse(&it)).transpose().map_err(|_| WorkerError::NoSuchRoom)?;
                self.select(room);
                self.write(vec![self.ui_write()]);
                Ok(Outcome::Changed)
            }
            Request::OpenDirect { username } => {
                let username = Username::parse(&username)?;
                self.chat_command(now, Command::OpenDirect { username }, true)
            }
            Request::CreateGroup { name } => {
                self.chat_command(now, Command::CreateGroup { name, random: Entropy::new(random).group_id() }, true)
            }
            Request::Invite { room, username } => {
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                let username = Username::parse(&username)?;
                self.chat_command(now, Command::Invite { room, username }, false)
            }
            Request::SendText { room, text } => {
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                let sent = Command::Send { room: room.clone(), text, random: Entropy::new(random).message_id() };
                let outcome = self.chat_command(now, sent, false)?;
                self.forget_draft(&room);
                Ok(outcome)
            }
            Request::Reply { room, to, text } => self.act(now, &room, &to, ActOn::Reply { text }, random),
            Request::React { room, to, emoji } => self.act(now, &room, &to, ActOn::React { emoji }, random),
            Request::Edit { room, to, text } => self.act(now, &room, &to, ActOn::Edit { text }, random),
            Request::Delete { room, to } => self.act(now, &room, &to, ActOn::Delete, random),
            Request::Typing { room } => {
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                self.chat_command(now, Command::Typing { room }, false)
            }
            Request::LoadOlder { room } => {
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                let outcome = self.chat_command(now, Command::LoadOlder { room }, false)?;
                self.window = self.window.saturating_add(PAGE_SIZE);
                Ok(outcome)
            }
            Request::MarkVerified { username, safety_number: shown } => self.mark_verified(&username, &shown),
            Request::AcceptNewKey { username, safety_number: shown } => {
                self.decide_new_key(now, &username, &shown, true)
            }
            Request::RejectNewKey { username, safety_number: shown } => {
                self.decide_new_key(now, &username, &shown, false)
            }
            Request::AcceptInvitation { room } => {
                // The joined group appears at the top of the list; the user opens it from there.
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                self.chat_command(now, Command::AcceptInvitation { room }, false)
            }
            Request::DeclineInvitation { room } => {
                let room = RoomId::parse(&room).map_err(|_| WorkerError::NoSuchRoom)?;
                self.chat_command(now, Command::DeclineInvitation { room }, false)
            }
            Request::AcceptRequest { username } => {
                let username = Username::parse(&username)?;
                self.chat_command(now, Command::AcceptRequest { username }, true)
            }
            Request::BlockUser { username } => {
                let username = Username::parse(&username)?;
                let outcome = self.chat_command(now, Command::Block { username }, false)?;
                self.sync_blocked(now);
                Ok(outcome)
            }
            Request::UnblockUser { username } => {
                let username = Username::parse(&username)?;
                let outcome = self.chat_command(now, Command::Unblock { username }, false)?;
                self.sync_blocked(now);
                Ok(outcome)
            }
            Request::AllowUnverified { username } => self.decide_unverified(now, &username, true),
            Request::BlockUnverified { username } => self.decide_unverified(now, &username, false),
            Request::ExportData => {
                if self.loaded.account.is_none() {
                    return Err(WorkerError::NotSignedIn);
                }
                // Read after the writes queued so far: the export is storage exactly as it is then.
                self.read_all(WholeRead::Export);
                Ok(Outcome::Queued)
            }
            Request::ImportData { json } => self.import(now, &json),
            Request::Unlock { passphrase } => self.unlock(&passphrase),
            Request::LockNow => self.lock_now(),
            Request::SetPassphrase { passphrase } => self.set_passphrase(passphrase),
            Request::ChangePassphrase { old, new } => self.change_passphrase(&old, new),
            Request::RemovePassphrase { passphrase } => self.remove_passphrase(&passphrase),
            Request::Search { query } => self.search(query),
            Request::ShowMessage { room, id } => self.show_message(&room, &id),
            Request::DeleteConversation { room } => self.delete_conversation(now, &room, false),
            Request::LeaveGroup { room } => self.delete_conversation(now, &room, true),
            Request::LeaveGroupKeepHistory { room } => self.leave_group_keep_history(now, &room),
            Request::ConversationSettings { room, name, muted, pinned } => {
                self.conversation_settings(now, &room, name, muted, pinned)
            }
            Request::SaveDraft { room, text } => self.save_draft(&room, text),
            Request::EraseEverything => self.erase_everything(now),
            piece @ Request::SendFilePiece { .. } => self.file_piece(now, random, piece),
            Request::AnswerFile { key, accept } => self.answer_file(now, &key, accept),
            Request::CancelFile { key } => self.cancel_file(now, &key),
            Request::OpenFile { key } => self.open_file(&key),
        }
    }

    pub(super) fn read_all(&mut self, why: WholeRead) {
        self.whole_reads.push_back(why);
        self.push(Effect::ReadAll);
    }

    /// Every stored record, as asked for by [`Effect::ReadAll`]. `random`: 32 fresh random bytes.
    pub fn handle_read_all(&mut self, all: Snapshot, now: Millis, random: [u8; 32]) {
        self.begin(random);
        let Some(why) = self.whole_reads.pop_front() else { return };
        let outcome = match why {
            WholeRead::Export => {
                let file = crate::export::export(&all, now);
                self.push(Effect::Reply(Response::Export { file_name: file.file_name, json: file.json }));
                Ok(())
            }
            WholeRead::Import(records) => {
                // The file's records exactly as they were exported (sealed history stays sealed, with its lock):
                // not passed through the vault.
                self.push(Effect::Write(crate::export::replacement_writes(&all, &records)));
                self.push(Effect::Reload);
                self.reply_with_view();
                // The engine follows the imported account and settings (or shuts down when the file has none).
                self.effects.push_back(Queued::EngineConfig);
                self.view_changed();
                Ok(())
            }
            WholeRead::Search(pending) => {
                self.search_read(pending, all);
                Ok(())
            }
            WholeRead::PurgeRoom { owner, room } => {
                self.purge_room(&all, &owner, &room);
                Ok(())
            }
            other => self.rekey(other, &all, random),
        };
        if let Err(err) = outcome {
            self.push(Effect::Reply(Response::Error { message: err.phrase() }));
        }
        self.end_input();
    }

    /// Replaces all stored data with an export file's records, as a sign-out followed by a fresh start from
    /// them: this user's links close, and the model is rebuilt from storage once it holds the file.
    fn import(&mut self, now: Millis, json: &str) -> Result<Outcome, WorkerError> {
        let records = crate::export::import(json)?;
        if let Some(chat) = self.chat.as_mut() {
            let _ = chat.handle_command(now, Command::SignOut);
        }
        self.drain_chat(now);
        self.read_all(WholeRead::Import(records));
        Ok(Outcome::Queued)
    }

    fn mark_verified(&mut self, username: &str, shown: &str) -> Result<Outcome, WorkerError> {
        let user = Username::parse(username).map_err(|_| WorkerError::NotAUsername)?;
        let current = self.trust(&user).safety_number;
        if current.as_deref() != Some(shown) {
            return Err(WorkerError::SafetyNumberChanged { user });
        }
        if self.contacts_read_only {
            return Err(WorkerError::ContactsDamaged);
        }
        let (Some(gate), Some(account)) = (self.gate.as_mut(), self.loaded.account.as_ref()) else {
            return Err(WorkerError::NotSignedIn);
        };
        let Some(key) = gate.contacts().get(&user).map(|it| it.key) else {
            return Err(WorkerError::NoKnownKey { user });
        };
        gate.contacts_mut().mark_verified(&user, &key)?;
        let write = storage::set(Key::Contacts(account.username.clone()), &gate.contacts().to_value());
        self.write(vec![write]);
        Ok(Outcome::Changed)
    }

    /// The user's decision about the new key `username` proved, whose safety number they were shown.
    fn decide_new_key(
        &mut self,
        now: Millis,
        username: &str,
        shown: &str,
        accept: bool,
    ) -> Result<Outcome, WorkerError> {
        let user = Username::parse(username).map_err(|_| WorkerError::NotAUsername)?;
        if self.contacts_read_only {
            return Err(WorkerError::ContactsDamaged);
        }
        let Some(pending) = self
            .gate
            .as_ref()
            .and_then(|gate| gate.contacts().get(&user))
            .and_then(|it| it.pending_key.as_ref())
            .map(|it| it.key)
        else {
            return Err(WorkerError::NoNewKey { user });
        };
        if self.safety_number_with(&pending).as_deref() != Some(shown) {
            return Err(WorkerError::NewKeyChangedAgain { user });
        }
        let Some(gate) = self.gate.as_mut() else { return Err(WorkerError::NotSignedIn) };
        let out = if accept {
            gate.accept_new_key(&user, &pending, now)?
        } else {
            let out = gate.reject_new_key(&user, &pending)?;
            self.unreachable
                .insert(user.peer_id(), crate::phrase::Phrase::new(crate::phrase::Code::RejectedKey).with(&user));
            out
        };
        self.perform_gate(now, out);
        Ok(Outcome::Changed)
    }

    /// The user's decision about links for `username` that did not prove the pinned key: "Allow unverified
    /// for this contact" (`allow`) or "Block".
    fn decide_unverified(&mut self, now: Millis, username: &str, allow: bool) -> Result<Outcome, WorkerError> {
        let user = Username::parse(username).map_err(|_| WorkerError::NotAUsername)?;
        if self.contacts_read_only {
            return Err(WorkerError::ContactsDamaged);
        }
        let Some(gate) = self.gate.as_mut() else { return Err(WorkerError::NotSignedIn) };
        let out = if allow { gate.allow_unverified(&user)? } else { gate.block_unverified(&user)? };
        self.perform_gate(now, out);
        Ok(Outcome::Changed)
    }

    /// The gate refuses whom the chat node's block list names (its open links are closed now).
    pub(super) fn sync_blocked(&mut self, now: Millis) {
        let Some(blocked) = self.chat.as_ref().map(|it| it.blocked().clone()) else { return };
        if let Some(gate) = self.gate.as_mut() {
            let out = gate.set_blocked(blocked);
            self.perform_gate(now, out);
        }
    }

    /// A reply, reaction, edit or delete of the message `to`.
    fn act(
        &mut self,
        now: Millis,
        room: &str,
        to: &str,
        what: ActOn,
        random: [u8; 32],
    ) -> Result<Outcome, WorkerError> {
        let room = RoomId::parse(room).map_err(|_| WorkerError::NoSuchRoom)?;
        let to = MessageId::parse(to).map_err(|_| WorkerError::Chat(ChatError::NoSuchMessage))?;
        let random = Entropy::new(random).message_id();
        self.chat_command(now, Command::Act { room, to, what, random }, false)
    }

    /// Runs a chat command; with `select`, shows the room it returns.
    fn chat_command(&mut self, now: Millis, command: Command, select: bool) -> Result<Outcome, WorkerError> {
        let chat = self.chat.as_mut().ok_or(WorkerError::NotSignedIn)?;
        let room = chat.handle_command(now, command)?;
        if select && room.is_some() {
            self.select(room);
            self.write(vec![self.ui_write()]);
        }
        self.drain_chat(now);
        Ok(Outcome::Changed)
    }
}

/// What a popup may ask while the history is locked: to see that it is, to sign out, and the passphrase.
fn allowed_while_locked(request: &Request) -> bool {
    matches!(
        request,
        Request::GetView
            | Request::SignOut
            | Request::Unlock { .. }
            | Request::LockNow
            | Request::SetPassphrase { .. }
            | Request::ChangePassphrase { .. }
            | Request::RemovePassphrase { .. }
            | Request::EraseEverything
    )
}
