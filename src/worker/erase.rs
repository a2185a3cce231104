//! "Forgot passphrase: erase and start over": every stored record removed, as if the extension had just
//! been installed. It is the only way out of a forgotten passphrase, so it is allowed while locked.

use super::requests::Outcome;
use super::{Effect, SESSION_KEY, WholeRead, WorkerError, WorkerModel};
use crate::chat::Command;
use crate::storage::{self, Snapshot};
use crate::time::Millis;

impl WorkerModel {
    /// Signs out, forgets the session's history key, and replaces storage with nothing (the import path with
    /// an empty file: every record read, then each removed), then rebuilds the model from the empty storage.
    pub(super) fn erase_everything(&mut self, now: Millis) -> Result<Outcome, WorkerError> {
        if let Some(chat) = self.chat.as_mut() {
            let _ = chat.handle_command(now, Command::SignOut);
        }
        self.drain_chat(now);
        self.vault.key = None;
        self.push(Effect::Session(storage::remove(SESSION_KEY)));
        self.read_all(WholeRead::Import(Snapshot::default()));
        Ok(Outcome::Queued)
    }
}
