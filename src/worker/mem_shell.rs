//! An in-memory shell: performs the model's effects against a storage map, as `background/src/worker.rs`
//! does against `chrome.storage`, for native tests and benchmarks (feature `mem-shell`).

use super::{Arrival, Effect, LoadStep, Loader, WorkerModel};
use crate::bridge::{EngineToWorker, Request, Response, View, WorkerToEngine};
use crate::storage::{Snapshot, StorageWrite};
use crate::time::Millis;

/// One browser profile: its storage, its session storage and its worker.
pub struct MemShell {
    /// `chrome.storage.local`.
    pub disk: Snapshot,
    /// `chrome.storage.session`: survives a worker restart, not a browser restart ([`MemShell::restart_browser`]).
    pub session: Snapshot,
    pub model: WorkerModel,
    /// Engine commands not yet taken by the test.
    pub to_engine: Vec<WorkerToEngine>,
    /// Notifications shown.
    pub notified: Vec<Arrival>,
    /// Lines logged.
    pub logged: Vec<String>,
    /// The writes of the last input, in order, as stored.
    pub last_writes: Vec<StorageWrite>,
    /// How many `Write` effects the last input stored (each is one storage call in the browser).
    pub last_write_calls: usize,
    /// Times the view was sent to popups (after a `ViewChanged`).
    pub view_updates: usize,
    /// What the last (re)start read from storage, as stored.
    pub read_at_start: Snapshot,
    /// Distinguishes this profile's random bytes from another's.
    pub seed: u8,
    counter: u64,
}

impl MemShell {
    /// A profile with empty storage.
    pub fn new() -> MemShell {
        MemShell::seeded(0)
    }

    /// A profile with empty storage whose random bytes start from `seed`.
    pub fn seeded(seed: u8) -> MemShell {
        MemShell::with_storage(Snapshot::default(), seed, Millis(0))
    }

    /// A profile whose storage holds `disk`, its worker started at `now`.
    pub fn with_storage(disk: Snapshot, seed: u8, now: Millis) -> MemShell {
        let mut shell = MemShell {
            disk,
            session: Snapshot::default(),
            model: WorkerModel::load(Loader::new(), now, [0; 32]),
            to_engine: Vec::new(),
            notified: Vec::new(),
            logged: Vec::new(),
            last_writes: Vec::new(),
            last_write_calls: 0,
            view_updates: 0,
            read_at_start: Snapshot::default(),
            seed,
            counter: 0,
        };
        shell.restart(now);
        shell
    }

    /// 32 bytes that never repeat within this profile.
    pub fn random(&mut self) -> [u8; 32] {
        self.counter += 1;
        let mut bytes = [self.seed; 32];
        bytes[..8].copy_from_slice(&self.counter.to_le_bytes());
        bytes
    }

    /// Restarts the worker: it reads storage (only the keys it asks for) and the session's key again.
    pub fn restart(&mut self, now: Millis) {
        let mut loader = Loader::new();
        self.read_at_start = self.run_loader(&mut loader);
        let random = self.random();
        self.begin();
        self.model = WorkerModel::load(loader, now, random);
        self.run(now);
    }

    /// Closes and reopens the browser: the session storage (and the history key in it) is gone.
    pub fn restart_browser(&mut self, now: Millis) {
        self.session = Snapshot::default();
        self.restart(now);
    }

    /// Runs `loader` to the end; returns what it read from storage.
    fn run_loader(&mut self, loader: &mut Loader) -> Snapshot {
        let mut all = Snapshot::default();
        loop {
            match loader.next_step() {
                LoadStep::Read(keys) => {
                    let found = read(&self.disk, &keys);
                    all.0.extend(found.0.clone());
                    loader.read(found);
                }
                LoadStep::ReadSession(keys) => loader.read_session(read(&self.session, &keys)),
                LoadStep::Done => return all,
            }
        }
    }

    pub fn request(&mut self, request: Request, now: Millis) -> Response {
        let random = self.random();
        self.begin();
        self.model.handle(request, now, random);
        self.run(now).expect("every request is answered")
    }

    pub fn engine(&mut self, message: EngineToWorker, now: Millis) {
        let random = self.random();
        self.begin();
        self.model.handle_engine(message, now, random);
        self.run(now);
    }

    pub fn timeout(&mut self, now: Millis) {
        let random = self.random();
        self.begin();
        self.model.handle_timeout(now, random);
        self.run(now);
    }

    /// The user clicked the notification `id` (what `chrome.notifications.onClicked` reports).
    pub fn notification_clicked(&mut self, id: &str, now: Millis) {
        let random = self.random();
        self.begin();
        self.model.notification_clicked(id, now, random);
        self.run(now);
    }

    pub fn view(&self) -> View {
        self.model.view()
    }

    fn begin(&mut self) {
        self.last_writes.clear();
        self.last_write_calls = 0;
    }

    /// Performs every queued effect in order; returns the reply, if one was queued.
    fn run(&mut self, now: Millis) -> Option<Response> {
        let mut reply = None;
        while let Some(effect) = self.model.poll_effect() {
            match effect {
                Effect::Write(writes) => {
                    crate::chat::history::apply(&mut self.disk, &writes);
                    self.last_writes.extend(writes);
                    self.last_write_calls += 1;
                }
                Effect::Reply(response) => {
                    assert!(reply.is_none(), "one reply per request: {reply:?}, then {response:?}");
                    reply = Some(response);
                }
                Effect::Engine(command) => self.to_engine.push(command),
                Effect::Read(keys) => {
                    let found = read(&self.disk, &keys);
                    let random = self.random();
                    self.model.handle_read(found, now, random);
                }
                Effect::ReadFile { keys, then } => {
                    let found = read(&self.disk, &keys);
                    let random = self.random();
                    self.model.handle_file_read(then, found, now, random);
                }
                Effect::ReadAll => {
                    let all = self.disk.clone();
                    let random = self.random();
                    self.model.handle_read_all(all, now, random);
                }
                Effect::Session(write) => crate::chat::history::apply(&mut self.session, &[write]),
                Effect::Reload => {
                    let mut loader = self.model.reloader();
                    self.run_loader(&mut loader);
                    let random = self.random();
                    self.model.reload(loader, now, random);
                }
                Effect::Notify(arrival) => self.notified.push(arrival),
                Effect::Log(line) => self.logged.push(line),
                Effect::ViewChanged => self.view_updates += 1,
            }
        }
        reply
    }
}

impl Default for MemShell {
    fn default() -> Self {
        MemShell::new()
    }
}

/// The records of `keys` that `store` holds.
fn read(store: &Snapshot, keys: &[String]) -> Snapshot {
    Snapshot(keys.iter().filter_map(|key| store.0.get(key).map(|value| (key.clone(), value.clone()))).collect())
}
