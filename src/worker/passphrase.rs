//! The passphrase requests: unlock, set, change, remove, lock now ([`crate::at_rest`]).
//!
//! Unlocking derives the key here and keeps it in the browser-session storage ([`Effect::Session`]), so a
//! restarted worker finds it; setting, changing and removing the passphrase read the whole stored history
//! ([`Effect::ReadAll`]), re-seal it and store it with the new lock as one write. Each ends in a reload, so
//! the model holds exactly what storage holds under the new key, and the engine follows (started once
//! unlocked, shut down when locked).

use serde_json::Value;

use super::requests::Outcome;
use super::{Effect, Queued, SESSION_KEY, WholeRead, WorkerError, WorkerModel, at_rest_random, first_half};
use crate::at_rest::{self, AtRestError};
use crate::storage::{self, Snapshot};

impl WorkerModel {
    pub(super) fn unlock(&mut self, passphrase: &str) -> Result<Outcome, WorkerError> {
        let key = at_rest::unlock(passphrase, self.vault.lock()?)?;
        self.use_key(Some(key));
        Ok(Outcome::Queued)
    }

    pub(super) fn lock_now(&mut self) -> Result<Outcome, WorkerError> {
        self.vault.lock()?;
        self.use_key(None);
        Ok(Outcome::Queued)
    }

    pub(super) fn set_passphrase(&mut self, passphrase: String) -> Result<Outcome, WorkerError> {
        if let Some(err) = &self.vault.damaged {
            return Err(err.clone().into());
        }
        if self.locked() {
            return Err(AtRestError::Locked.into());
        }
        if self.vault.lock.is_some() {
            return Err(AtRestError::AlreadySet.into());
        }
        if passphrase.chars().count() < at_rest::MIN_PASSPHRASE_CHARS {
            return Err(AtRestError::TooShort.into());
        }
        self.read_all(WholeRead::SetPassphrase { passphrase });
        Ok(Outcome::Queued)
    }

    pub(super) fn change_passphrase(&mut self, old: &str, new: String) -> Result<Outcome, WorkerError> {
        let key = at_rest::unlock(old, self.vault.lock()?)?;
        if new.chars().count() < at_rest::MIN_PASSPHRASE_CHARS {
            return Err(AtRestError::TooShort.into());
        }
        self.read_all(WholeRead::ChangePassphrase { key, new });
        Ok(Outcome::Queued)
    }

    pub(super) fn remove_passphrase(&mut self, passphrase: &str) -> Result<Outcome, WorkerError> {
        let key = at_rest::unlock(passphrase, self.vault.lock()?)?;
        self.read_all(WholeRead::RemovePassphrase { key });
        Ok(Outcome::Queued)
    }

    /// The history, re-sealed under a new passphrase (or opened for good), from every stored record.
    pub(super) fn rekey(&mut self, why: WholeRead, all: &Snapshot, random: [u8; 32]) -> Result<(), WorkerError> {
        // The lock as stored now: another worker's change since the request was checked is not overwritten.
        let current = at_rest::read_lock(all)?;
        let salt = first_half(&at_rest_random(&random, "salt"));
        let nonces = at_rest_random(&random, "rekey");
        let rekeyed = match why {
            WholeRead::SetPassphrase { passphrase } => {
                at_rest::enable(&passphrase, salt, nonces, current.as_ref(), all)
            }
            WholeRead::ChangePassphrase { key, new } => {
                at_rest::change(&key, &new, salt, nonces, current.as_ref(), all)
            }
            WholeRead::RemovePassphrase { key } => at_rest::disable(&key, current.as_ref(), all),
            WholeRead::Export | WholeRead::Import(_) | WholeRead::Search(_) => return Ok(()),
        }?;
        for problem in &rekeyed.problems {
            self.push(Effect::Log(format!("multichat: {problem}")));
        }
        // The whole history and the lock in one write (one transaction); then the key for this session.
        self.push(Effect::Write(rekeyed.writes.clone()));
        self.use_key(rekeyed.key.clone());
        Ok(())
    }

    /// From now on the history is opened with `key` (`None`: locked, or no passphrase): the key is kept for
    /// the browser session (or forgotten), the model rebuilt from storage with it, the popup answered with
    /// the view after that, and the engine told to follow.
    fn use_key(&mut self, key: Option<at_rest::Key>) {
        let session = match &key {
            Some(key) => storage::set(SESSION_KEY, &Value::String(key.to_base64())),
            None => storage::remove(SESSION_KEY),
        };
        self.vault.key = key;
        self.push(Effect::Session(session));
        self.push(Effect::Reload);
        self.reply_with_view();
        self.effects.push_back(Queued::EngineConfig);
        self.view_changed();
    }
}
