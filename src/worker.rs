//! The background worker's logic: the single writer of the user's data.
//!
//! [`WorkerModel`] turns a bridge [`Request`] into a [`Response`] plus the [`StorageWrite`]s that must be
//! persisted before the response is delivered. The shell owns the order: it applies the writes, and only
//! after storage confirms them does it reply and push the new [`View`] to every open popup.

use crate::account::Username;
use crate::bridge::{AccountView, EngineStatus, EngineToWorker, Request, Response, View, WorkerToEngine};
use crate::storage::{self, AccountRecord, Loaded, Snapshot, StorageWrite, keys};

#[derive(Clone, Debug)]
pub struct WorkerModel {
    loaded: Loaded,
    /// What the engine last reported; not stored, since it describes a live connection.
    engine: EngineStatus,
}

/// The outcome of one request: what to persist, then what to answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Handled {
    pub writes: Vec<StorageWrite>,
    pub response: Response,
    /// True when the view changed, so every open popup should get an update.
    pub view_changed: bool,
    /// Commands for the engine, to send after the writes are stored.
    pub to_engine: Vec<WorkerToEngine>,
}

impl WorkerModel {
    /// Builds the model from what storage holds. The returned writes (a schema migration) must be applied
    /// before any request's writes.
    pub fn load(snapshot: &Snapshot) -> (WorkerModel, Vec<StorageWrite>) {
        let mut loaded = storage::load(snapshot);
        let migration = std::mem::take(&mut loaded.migration);
        (WorkerModel { loaded, engine: EngineStatus::Offline }, migration)
    }

    pub fn view(&self) -> View {
        View {
            account: self.loaded.account.as_ref().map(|it| AccountView {
                username: it.username.to_string(),
                peer_id: it.username.peer_id(),
            }),
            engine: self.engine.clone(),
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
                    self.changed(vec![write]).command(self.engine_config())
                }
                Err(err) => refuse(err.to_string()),
            },
            Request::SignOut => {
                self.loaded.account = None;
                self.engine = EngineStatus::Offline;
                self.changed(vec![storage::remove(keys::ACCOUNT)]).command(WorkerToEngine::Shutdown)
            }
            Request::SaveSettings { settings } => match settings.validate() {
                Ok(()) => {
                    let write = storage::set(keys::SETTINGS, &settings);
                    self.loaded.settings = settings;
                    let handled = self.changed(vec![write]);
                    match self.loaded.account {
                        Some(_) => handled.command(self.engine_config()),
                        None => handled,
                    }
                }
                Err(err) => refuse(err.to_string()),
            },
        }
    }

    /// True when the user is signed in, so an engine should be running.
    pub fn wants_engine(&self) -> bool {
        self.loaded.account.is_some()
    }

    /// What the engine should be doing now.
    pub fn engine_config(&self) -> WorkerToEngine {
        match &self.loaded.account {
            Some(account) => WorkerToEngine::Configure {
                peer_id: account.username.peer_id(),
                settings: self.loaded.settings.clone(),
            },
            None => WorkerToEngine::Shutdown,
        }
    }

    /// Handles a report from the engine. The returned commands go back to the engine.
    pub fn handle_engine(&mut self, message: EngineToWorker) -> Handled {
        match message {
            EngineToWorker::Hello { status, links: _ } => {
                self.engine = status;
                self.changed(Vec::new()).command(self.engine_config())
            }
            EngineToWorker::Status { status } => {
                self.engine = status;
                self.changed(Vec::new())
            }
            // Links and frames belong to the chat layer, which is wired in with the chat issue.
            EngineToWorker::LinkUp { .. }
            | EngineToWorker::Frame { .. }
            | EngineToWorker::LinkDown { .. }
            | EngineToWorker::DialFailed { .. } => self.unchanged(),
        }
    }

    fn unchanged(&self) -> Handled {
        Handled { writes: Vec::new(), response: Response::View { view: self.view() }, view_changed: false, to_engine: Vec::new() }
    }

    fn changed(&self, writes: Vec<StorageWrite>) -> Handled {
        Handled { writes, response: Response::View { view: self.view() }, view_changed: true, to_engine: Vec::new() }
    }
}

impl Handled {
    fn command(mut self, command: WorkerToEngine) -> Handled {
        self.to_engine.push(command);
        self
    }
}

fn refuse(message: String) -> Handled {
    Handled { writes: Vec::new(), response: Response::Error { message }, view_changed: false, to_engine: Vec::new() }
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
    fn the_engine_follows_the_account() {
        let (mut model, _) = WorkerModel::load(&Snapshot::default());
        assert!(!model.wants_engine());
        let hello = EngineToWorker::Hello { status: EngineStatus::Offline, links: Vec::new() };
        assert_eq!(model.handle_engine(hello.clone()).to_engine, vec![WorkerToEngine::Shutdown]);

        let signed_in = model.handle(Request::SignIn { username: "alice".into() });
        let configure = signed_in.to_engine[0].clone();
        assert!(matches!(&configure, WorkerToEngine::Configure { peer_id, .. } if peer_id == "secure-p2p-multichat-alice"));
        // A restarted engine is told the same configuration again.
        assert_eq!(model.handle_engine(hello).to_engine, vec![configure]);

        let failed = EngineStatus::Failed { message: "taken".into() };
        assert!(model.handle_engine(EngineToWorker::Status { status: failed.clone() }).view_changed);
        assert_eq!(model.view().engine, failed);

        let signed_out = model.handle(Request::SignOut);
        assert_eq!(signed_out.to_engine, vec![WorkerToEngine::Shutdown]);
        assert_eq!(model.view().engine, EngineStatus::Offline);
    }

    #[test]
    fn new_settings_reconfigure_a_running_engine() {
        let (mut model, _) = WorkerModel::load(&Snapshot::default());
        let mut settings = crate::settings::Settings::default();
        settings.server.host = "127.0.0.1".into();
        assert!(model.handle(Request::SaveSettings { settings: settings.clone() }).to_engine.is_empty());
        model.handle(Request::SignIn { username: "alice".into() });
        let handled = model.handle(Request::SaveSettings { settings: settings.clone() });
        assert!(matches!(&handled.to_engine[..], [WorkerToEngine::Configure { settings: s, .. }] if *s == settings));
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
