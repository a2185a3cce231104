//! The background worker's logic: the single writer of the user's data.
//!
//! [`WorkerModel`] turns a bridge [`Request`] into a [`Response`] plus the [`StorageWrite`]s that must be
//! persisted before the response is delivered. The shell owns the order: it applies the writes, and only
//! after storage confirms them does it reply and push the new [`View`] to every open popup.

use crate::account::Username;
use crate::bridge::{AccountView, Request, Response, View};
use crate::storage::{self, AccountRecord, Loaded, Snapshot, StorageWrite, keys};

#[derive(Clone, Debug)]
pub struct WorkerModel {
    loaded: Loaded,
}

/// The outcome of one request: what to persist, then what to answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Handled {
    pub writes: Vec<StorageWrite>,
    pub response: Response,
    /// True when the view changed, so every open popup should get an update.
    pub view_changed: bool,
}

impl WorkerModel {
    /// Builds the model from what storage holds. The returned writes (a schema migration) must be applied
    /// before any request's writes.
    pub fn load(snapshot: &Snapshot) -> (WorkerModel, Vec<StorageWrite>) {
        let mut loaded = storage::load(snapshot);
        let migration = std::mem::take(&mut loaded.migration);
        (WorkerModel { loaded }, migration)
    }

    pub fn view(&self) -> View {
        View {
            account: self.loaded.account.as_ref().map(|it| AccountView {
                username: it.username.to_string(),
                peer_id: it.username.peer_id(),
            }),
            settings: self.loaded.settings.clone(),
            storage_problems: self.loaded.problems.iter().map(ToString::to_string).collect(),
        }
    }

    pub fn handle(&mut self, request: Request) -> Handled {
        match request {
            Request::GetView => self.unchanged(),
            Request::SignIn { username } => match Username::parse(&username) {
                Ok(username) => {
                    let record = AccountRecord { username };
                    let write = storage::set(keys::ACCOUNT, &record);
                    self.loaded.account = Some(record);
                    self.changed(vec![write])
                }
                Err(err) => refuse(err.to_string()),
            },
            Request::SignOut => {
                self.loaded.account = None;
                self.changed(vec![storage::remove(keys::ACCOUNT)])
            }
            Request::SaveSettings { settings } => match settings.validate() {
                Ok(()) => {
                    let write = storage::set(keys::SETTINGS, &settings);
                    self.loaded.settings = settings;
                    self.changed(vec![write])
                }
                Err(err) => refuse(err.to_string()),
            },
        }
    }

    fn unchanged(&self) -> Handled {
        Handled { writes: Vec::new(), response: Response::View { view: self.view() }, view_changed: false }
    }

    fn changed(&self, writes: Vec<StorageWrite>) -> Handled {
        Handled { writes, response: Response::View { view: self.view() }, view_changed: true }
    }
}

fn refuse(message: String) -> Handled {
    Handled { writes: Vec::new(), response: Response::Error { message }, view_changed: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies writes to a snapshot the way `chrome.storage.local` would.
    fn apply(snapshot: &mut Snapshot, writes: &[StorageWrite]) {
        for write in writes {
            match write {
                StorageWrite::Set { key, value } => {
                    snapshot.0.insert(key.clone(), value.clone());
                }
                StorageWrite::Remove { key } => {
                    snapshot.0.remove(key);
                }
            }
        }
    }

    #[test]
    fn sign_in_persists_across_a_reload() {
        let mut disk = Snapshot::default();
        let (mut model, migration) = WorkerModel::load(&disk);
        apply(&mut disk, &migration);
        let handled = model.handle(Request::SignIn { username: " alice ".into() });
        assert!(handled.view_changed);
        apply(&mut disk, &handled.writes);

        let (reloaded, migration) = WorkerModel::load(&disk);
        assert!(migration.is_empty());
        let account = reloaded.view().account.unwrap();
        assert_eq!(account.username, "alice");
        assert_eq!(account.peer_id, "secure-p2p-multichat-alice");
    }

    #[test]
    fn a_bad_username_is_refused_and_nothing_is_written() {
        let (mut model, _) = WorkerModel::load(&Snapshot::default());
        let handled = model.handle(Request::SignIn { username: "bad name!".into() });
        assert!(handled.writes.is_empty());
        assert!(matches!(handled.response, Response::Error { .. }));
        assert_eq!(model.view().account, None);
    }

    #[test]
    fn sign_out_forgets_the_account() {
        let mut disk = Snapshot::default();
        let (mut model, _) = WorkerModel::load(&disk);
        apply(&mut disk, &model.handle(Request::SignIn { username: "bob".into() }).writes);
        apply(&mut disk, &model.handle(Request::SignOut).writes);
        assert_eq!(WorkerModel::load(&disk).0.view().account, None);
    }
}
