//! The worker's run loop.
//!
//! Popups connect over ports and the engine reports over `chrome.runtime` messages (or, in Firefox's
//! background page, by direct calls). Every input becomes a [`Job`], and jobs are handled one at a time by
//! the core's [`WorkerModel`]: a job's writes reach `chrome.storage.local` before it is answered, before
//! popups are updated and before the engine is told what to do next.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use multichat_core::at_rest::{self, AtRestError, Key, Vault};
use multichat_core::bridge::{
    Addressed, ENGINE_ADDRESS, EngineToWorker, POPUP_PORT_NAME, PopupToWorker, Request, Response, WORKER_ADDRESS,
    WorkerToEngine, WorkerToPopup,
};
use multichat_core::log_budget::LogBudget;
use multichat_core::storage::Snapshot;
use multichat_core::time::Millis;
use multichat_core::worker::{Handled, WorkerModel, refuse};
use multichat_web::chrome::{self, Port};
use multichat_web::{ShellError, convert, now, random_bytes};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::engine::{self, EngineHandle};

/// Something for the worker to handle, and where its answer goes.
enum Job {
    Popup {
        port: Port,
        frame: PopupToWorker,
    },
    /// From the engine; `reply` receives the commands the engine should carry out next.
    Engine {
        message: EngineToWorker,
        reply: Box<dyn FnOnce(Vec<WorkerToEngine>)>,
    },
    /// The chat layer's timer fired (pings, liveness, re-sends).
    Timeout,
    /// The last popup closed.
    PopupsClosed,
}

#[derive(Default)]
struct Worker {
    /// `None` until storage has been read; jobs queue up meanwhile.
    model: Option<WorkerModel>,
    queue: VecDeque<Job>,
    /// True while the drain loop runs; it is the only code that mutates the model.
    draining: bool,
    popups: Vec<Port>,
    /// Where the engine runs: Firefox hosts it here, Chrome in the offscreen document.
    engine: Option<EngineHandle>,
    /// While the engine is being started: who else waits for it (a second start must not create a second
    /// offscreen document).
    engine_waiters: Option<Vec<futures_channel::oneshot::Sender<()>>>,
    /// The unread count on the toolbar badge, to set it only when it changes.
    badge: Option<u32>,
    /// The pending chat timer and when it fires.
    timer: Option<(Millis, Timeout)>,
    /// Limits the lines a peer can make the worker log by sending frames that are dropped.
    drop_log: Option<LogBudget>,
    /// The passphrase's lock record and, once entered, the key: every write and read passes through it.
    vault: Vault,
}

/// At most this many "dropped a frame" lines per window; a flood is counted, not printed.
const DROP_LOG: (u32, u64) = (30, 10_000);

/// At most this many queued engine reports are handled and stored together (see `more_engine_reports`).
const MAX_ENGINE_BATCH: usize = 64;

/// Whether a handled engine report needs nothing but its writes performed (no reads, reload or import), so
/// it can be stored together with the reports around it.
fn batchable(handled: &Handled) -> bool {
    handled.reads.is_empty() && !handled.reload && handled.replace_all.is_none() && !handled.export_all
}

/// Where the history key is kept for the browser session (`chrome.storage.session`, memory only).
const SESSION_KEY: &str = "at_rest_key";

/// A handle on the worker, cloned into every callback.
#[derive(Clone, Default)]
pub(crate) struct WorkerHandle(Rc<RefCell<Worker>>);

pub(crate) fn start() {
    let worker = WorkerHandle::default();
    // Listeners first, synchronously: the event that woke the worker is delivered right after this returns.
    let on_connect_worker = worker.clone();
    chrome::on_connect(move |port| on_connect_worker.accept(port));
    let on_message_worker = worker.clone();
    chrome::on_message(move |message| on_message_worker.on_runtime_message(message));
    spawn_local(worker.load());
}

impl WorkerHandle {
    async fn load(self) {
        // A worker that cannot read storage cannot serve anyone: popups keep waiting rather than being
        // shown an empty (wrong) account, and the reason is in the worker's console.
        let vault = match read_vault().await {
            Ok(vault) => vault,
            Err(err) => return log(&format!("multichat: {err}")),
        };
        self.0.borrow_mut().vault = vault.clone();
        let model = match read_model(&vault).await {
            Ok(model) => model,
            Err(err) => return log(&format!("multichat: {err}")),
        };
        let wants_engine = model.wants_engine();
        self.0.borrow_mut().model = Some(model);
        // Popups are answered first: the engine (an offscreen document to find or create) starts meanwhile,
        // and any job that needs it waits for it in `command_engine`.
        spawn_local(self.clone().drain());
        if wants_engine {
            self.start_engine().await;
        }
        self.update_badge().await;
        self.arm_timer();
    }

    fn accept(&self, port: Port) {
        if port.name() != POPUP_PORT_NAME {
            return port.disconnect();
        }
        self.0.borrow_mut().popups.push(port.clone());
        let frame_worker = self.clone();
        let frame_port = port.clone();
        port.on_frame(move |value: JsValue| match convert::from_js::<PopupToWorker>(value) {
            Ok(frame) => frame_worker.enqueue(Job::Popup { port: frame_port.clone(), frame }),
            Err(err) => log(&format!("multichat: dropped a malformed popup frame: {err}")),
        });
        let gone_worker = self.clone();
        let gone_port = port.clone();
        port.on_gone(move || {
            let none_left = {
                let mut state = gone_worker.0.borrow_mut();
                state.popups.retain(|it| !js_sys::Object::is(it, &gone_port));
                state.popups.is_empty()
            };
            if none_left {
                gone_worker.enqueue(Job::PopupsClosed);
            }
        });
    }

    /// Engine reports arrive as `{to: "worker", body}` runtime messages; the reply carries the commands.
    fn on_runtime_message(&self, message: JsValue) -> Option<impl std::future::Future<Output = JsValue> + use<>> {
        let addressed = convert::from_js::<Addressed<serde_json::Value>>(message).ok()?;
        if addressed.to != WORKER_ADDRESS {
            return None;
        }
        let (sender, receiver) = futures_channel::oneshot::channel();
        match serde_json::from_value::<EngineToWorker>(addressed.body) {
            Ok(message) => self.report(message, move |commands| {
                let _ = sender.send(commands);
            }),
            Err(err) => {
                log(&format!("multichat: dropped a malformed engine message: {err}"));
                let _ = sender.send(Vec::new());
            }
        }
        Some(async move {
            let commands = receiver.await.unwrap_or_default();
            convert::to_js(&commands).unwrap_or(JsValue::NULL)
        })
    }

    /// Queues a report from the engine; `reply` gets the engine's next commands once it is handled.
    pub(crate) fn report(&self, message: EngineToWorker, reply: impl FnOnce(Vec<WorkerToEngine>) + 'static) {
        self.enqueue(Job::Engine { message, reply: Box::new(reply) });
    }

    fn enqueue(&self, job: Job) {
        let start_drain = {
            let mut state = self.0.borrow_mut();
            state.queue.push_back(job);
            state.model.is_some() && !state.draining
        };
        if start_drain {
            spawn_local(self.clone().drain());
        }
    }

    async fn drain(self) {
        if std::mem::replace(&mut self.0.borrow_mut().draining, true) {
            return;
        }
        loop {
            let next = self.0.borrow_mut().queue.pop_front();
            let Some(job) = next else { break };
            if let Job::Popup { port, frame } = &job
                && is_passphrase_request(&frame.request)
            {
                let response = self.passphrase_request(frame.request.clone()).await;
                let _ = port.post(&WorkerToPopup::Reply { id: frame.id, response });
                self.broadcast();
                // The engine follows: started once unlocked, shut down when locked.
                let config = self.0.borrow().model.as_ref().map(WorkerModel::engine_config);
                self.command_engine(config.into_iter().collect()).await;
                self.update_badge().await;
                self.arm_timer();
                continue;
            }
            let (job, handled) = {
                let mut state = self.0.borrow_mut();
                let model = state.model.as_mut().expect("drain runs only after load");
                let now = now();
                let handled = match &job {
                    Job::Popup { frame, .. } => Some(match random_bytes::<32>() {
                        Ok(random) => model.handle(frame.request.clone(), now, random),
                        // Keys and ids come from this; a weak stand-in would be worse than refusing.
                        Err(err) => {
                            refuse(multichat_core::worker::WorkerError::NoRandomness { detail: err.to_string() })
                        }
                    }),
                    Job::Engine { message, .. } => Some(match random_bytes::<32>() {
                        Ok(random) => model.handle_engine(message.clone(), now, random),
                        Err(err) => {
                            log(&format!("multichat: no randomness for an engine report ({err}); it was dropped"));
                            continue;
                        }
                    }),
                    Job::Timeout => Some(model.handle_timeout(now)),
                    Job::PopupsClosed => {
                        model.popups_closed();
                        None
                    }
                };
                (job, handled)
            };
            match handled {
                Some(handled) if matches!(job, Job::Engine { .. }) && batchable(&handled) => {
                    let (batch, tail) = self.more_engine_reports(vec![(job, handled)]);
                    self.finish_engine_batch(batch).await;
                    if let Some((job, handled)) = tail {
                        self.finish(job, handled).await;
                    }
                }
                Some(handled) => self.finish(job, handled).await,
                None => {}
            }
            self.arm_timer();
        }
        self.0.borrow_mut().draining = false;
    }

    /// Handles the engine reports queued right behind `batch`, up to [`MAX_ENGINE_BATCH`], so their writes
    /// go to storage together and the popups get one view for all of them: under a burst (a busy group, a
    /// catch-up, a flood) the worker then keeps up instead of paying a storage round trip per frame.
    /// Returns the batch and, when it ended on a report that needs more than writes (reads), that one.
    fn more_engine_reports(&self, mut batch: Vec<(Job, Handled)>) -> (Vec<(Job, Handled)>, Option<(Job, Handled)>) {
        while batch.len() < MAX_ENGINE_BATCH {
            let mut state = self.0.borrow_mut();
            if !matches!(state.queue.front(), Some(Job::Engine { .. })) {
                break;
            }
            let Some(job @ Job::Engine { .. }) = state.queue.pop_front() else { break };
            let Job::Engine { message, .. } = &job else { break };
            let Ok(random) = random_bytes::<32>() else {
                log("multichat: no randomness for an engine report; it was dropped");
                continue;
            };
            let model = state.model.as_mut().expect("drain runs only after load");
            let handled = model.handle_engine(message.clone(), now(), random);
            if !batchable(&handled) {
                return (batch, Some((job, handled)));
            }
            batch.push((job, handled));
        }
        (batch, None)
    }

    /// Performs a batch of handled engine reports as [`Worker::finish`] would one by one: all their writes
    /// (in order, in one storage call), then each report's commands as its reply, then one view update.
    async fn finish_engine_batch(&self, batch: Vec<(Job, Handled)>) {
        let mut writes = Vec::new();
        let mut arrivals = Vec::new();
        let mut view_changed = false;
        let mut replies = Vec::new();
        for (job, mut handled) in batch {
            self.log_dropped(std::mem::take(&mut handled.dropped));
            writes.append(&mut handled.writes);
            arrivals.append(&mut handled.arrivals);
            view_changed |= handled.view_changed;
            if let Job::Engine { reply, .. } = job {
                replies.push((reply, std::mem::take(&mut handled.to_engine)));
            }
        }
        let stored = match self.outgoing(writes) {
            Ok(writes) => chrome::storage_apply(&writes).await,
            Err(err) => Err(err),
        };
        match stored {
            Ok(()) => {
                self.notify(arrivals).await;
                // Acknowledgements leave only now, after every message of the batch is stored.
                for (reply, commands) in replies {
                    reply(commands);
                }
            }
            Err(err) => {
                // The in-memory model is ahead of storage now: rebuild it from storage so both agree.
                log(&format!("multichat: {err}"));
                self.reload().await;
                for (reply, _) in replies {
                    reply(Vec::new());
                }
            }
        }
        if view_changed {
            self.broadcast();
        }
        self.update_badge().await;
    }

    /// Performs a handled job: its writes, then its reply, then the engine commands, then what follows.
    async fn finish(&self, job: Job, mut handled: Handled) {
        self.log_dropped(std::mem::take(&mut handled.dropped));
        let view_changed = handled.view_changed;
        let export_all = handled.export_all;
        let response = handled.response.clone();
        let performed = self.perform(handled).await;
        if let Err(err) = &performed {
            // The in-memory model is ahead of storage now: rebuild it from storage so both agree.
            log(&format!("multichat: {err}"));
            self.reload().await;
        }
        let failure = performed.as_ref().err().map(|err| err.detail.clone());
        let commands = performed.unwrap_or_default();
        match job {
            Job::Popup { port, frame } => {
                let response = match failure {
                    // Read after the writes, inside this job: the export is storage exactly as it is now.
                    None if export_all => match chrome::storage_read_all().await {
                        Ok(all) => WorkerModel::export_response(&all, now()),
                        Err(err) => Response::Error {
                            message: format!(
                                "Could not read the browser's storage ({}); nothing was exported",
                                err.detail
                            ),
                        },
                    },
                    None => response,
                    Some(detail) => Response::Error {
                        message: format!("Could not save to the browser's storage ({detail}); nothing was changed"),
                    },
                };
                let _ = port.post(&WorkerToPopup::Reply { id: frame.id, response });
                self.command_engine(commands).await;
            }
            Job::Engine { reply, .. } => reply(commands),
            Job::Timeout | Job::PopupsClosed => self.command_engine(commands).await,
        }
        if view_changed {
            self.broadcast();
        }
        self.update_badge().await;
    }

    /// Stores the writes, follows reads and reloads, and returns every engine command in order.
    async fn perform(&self, mut handled: Handled) -> Result<Vec<WorkerToEngine>, ShellError> {
        let mut commands = Vec::new();
        loop {
            let writes = self.outgoing(std::mem::take(&mut handled.writes))?;
            chrome::storage_apply(&writes).await?;
            if let Some(imported) = handled.replace_all.take() {
                // The file's records exactly as they were exported (sealed history stays sealed, with its lock).
                let current = chrome::storage_read_all().await?;
                chrome::storage_apply(&multichat_core::export::replacement_writes(&current, &imported)).await?;
                match read_vault().await {
                    Ok(vault) => self.0.borrow_mut().vault = vault,
                    Err(err) => log(&format!("multichat: {err}")),
                }
            }
            commands.append(&mut handled.to_engine);
            self.notify(std::mem::take(&mut handled.arrivals)).await;
            if handled.reload {
                self.reload().await;
            }
            if handled.reads.is_empty() {
                return Ok(commands);
            }
            let read = chrome::storage_read(&handled.reads).await?;
            let opened = self.0.borrow().vault.incoming(read);
            let mut state = self.0.borrow_mut();
            let Some(model) = state.model.as_mut() else { return Ok(commands) };
            model.add_problems(opened.problems.iter().map(ToString::to_string));
            handled = model.handle_read(opened.snapshot, now());
        }
    }

    /// Logs why frames from peers were dropped, within [`DROP_LOG`]: a warning, since the link is kept.
    fn log_dropped(&self, dropped: Vec<String>) {
        if dropped.is_empty() {
            return;
        }
        let mut state = self.0.borrow_mut();
        let budget = state.drop_log.get_or_insert_with(|| LogBudget::new(DROP_LOG.0, DROP_LOG.1));
        for reason in dropped {
            for line in budget.admit(now(), &format!("multichat: {reason}")) {
                log(&line);
            }
        }
    }

    /// Writes as they go to storage: history sealed while a passphrase is set.
    fn outgoing(
        &self,
        writes: Vec<multichat_core::storage::StorageWrite>,
    ) -> Result<Vec<multichat_core::storage::StorageWrite>, ShellError> {
        let random = random_bytes::<32>()?;
        let (writes, dropped) = self.0.borrow().vault.outgoing(writes, random);
        if !dropped.is_empty() {
            log(&format!("multichat: {} history writes dropped while locked", dropped.len()));
        }
        Ok(writes)
    }

    /// Unlock, set, change or remove the passphrase, or lock now; then the model is rebuilt from storage and
    /// the engine follows (started once unlocked, shut down when locked).
    async fn passphrase_request(&self, request: Request) -> Response {
        let outcome = self.change_vault(request).await;
        let message = match outcome {
            Ok(()) => None,
            Err(PassphraseError::User(err)) => return Response::Error { message: err.to_string() },
            Err(PassphraseError::Shell(err)) => {
                Some(format!("Could not change the browser's storage ({}); please try again", err.detail))
            }
        };
        // Storage may have changed even when a step failed: the vault and the model follow what it holds.
        match read_vault().await {
            Ok(vault) => self.0.borrow_mut().vault = vault,
            Err(err) => log(&format!("multichat: {err}")),
        }
        self.reload().await;
        match message {
            Some(message) => Response::Error { message },
            None => Response::View { view: self.0.borrow().model.as_ref().map(WorkerModel::view).unwrap_or_default() },
        }
    }

    async fn change_vault(&self, request: Request) -> Result<(), PassphraseError> {
        let vault = self.0.borrow().vault.clone();
        let lock = vault.lock.clone();
        if let Some(err) = &vault.damaged {
            return Err(err.clone().into());
        }
        let rekeyed = match request {
            Request::Unlock { passphrase } => {
                let lock = lock.ok_or(AtRestError::NotSet)?;
                let started = now();
                let key = at_rest::unlock(&passphrase, &lock)?;
                web_sys::console::info_1(&JsValue::from_str(&format!(
                    "multichat: history key derived in {} ms",
                    now().saturating_sub(started)
                )));
                return Ok(chrome::session_set(SESSION_KEY, &key.to_base64()).await?);
            }
            Request::LockNow => {
                if lock.is_none() {
                    return Err(AtRestError::NotSet.into());
                }
                return Ok(chrome::session_remove(SESSION_KEY).await?);
            }
            Request::SetPassphrase { passphrase } => {
                if vault.locked() {
                    return Err(AtRestError::Locked.into());
                }
                let records = chrome::storage_read_all().await?;
                at_rest::enable(&passphrase, random_bytes()?, random_bytes()?, lock.as_ref(), &records)?
            }
            Request::ChangePassphrase { old, new } => {
                let current = lock.as_ref().ok_or(AtRestError::NotSet)?;
                let key = at_rest::unlock(&old, current)?;
                let records = chrome::storage_read_all().await?;
                at_rest::change(&key, &new, random_bytes()?, random_bytes()?, lock.as_ref(), &records)?
            }
            Request::RemovePassphrase { passphrase } => {
                let current = lock.as_ref().ok_or(AtRestError::NotSet)?;
                let key = at_rest::unlock(&passphrase, current)?;
                let records = chrome::storage_read_all().await?;
                at_rest::disable(&key, lock.as_ref(), &records)?
            }
            _ => return Ok(()),
        };
        for problem in &rekeyed.problems {
            log(&format!("multichat: {problem}"));
        }
        // The whole history and the lock in one transaction; then the key for this session.
        chrome::storage_apply(&rekeyed.writes).await?;
        match &rekeyed.key {
            Some(key) => chrome::session_set(SESSION_KEY, &key.to_base64()).await?,
            None => chrome::session_remove(SESSION_KEY).await?,
        }
        Ok(())
    }

    async fn reload(&self) {
        let vault = self.0.borrow().vault.clone();
        match read_model(&vault).await {
            Ok(mut model) => {
                let mut state = self.0.borrow_mut();
                if let Some(previous) = state.model.as_ref() {
                    model.carry_over_from(previous);
                }
                state.model = Some(model);
            }
            Err(err) => log(&format!("multichat: could not reload from storage: {err}")),
        }
    }

    async fn notify(&self, arrivals: Vec<multichat_core::worker::Arrival>) {
        let enabled = self.0.borrow().model.as_ref().is_some_and(WorkerModel::notifications_enabled);
        if !enabled {
            return;
        }
        for arrival in arrivals {
            let title = if arrival.room_title == arrival.sender {
                arrival.sender.clone()
            } else {
                format!("{} in {}", arrival.sender, arrival.room_title)
            };
            // One notification per conversation: a newer message replaces the older one.
            let id = format!("multichat-{}", arrival.room_title);
            if let Err(err) = chrome::notify(&id, &title, &arrival.text).await {
                log(&format!("multichat: {err}"));
            }
        }
    }

    async fn update_badge(&self) {
        let unread = self.0.borrow().model.as_ref().map_or(0, WorkerModel::unread);
        if self.0.borrow().badge == Some(unread) {
            return;
        }
        self.0.borrow_mut().badge = Some(unread);
        let text = match unread {
            0 => String::new(),
            1..=99 => unread.to_string(),
            _ => "99+".to_owned(),
        };
        if let Err(err) = chrome::set_badge(&text).await {
            log(&format!("multichat: {err}"));
        }
    }

    /// Schedules the chat layer's next timeout, replacing a later one.
    fn arm_timer(&self) {
        let due = self.0.borrow().model.as_ref().and_then(WorkerModel::next_timeout);
        let mut state = self.0.borrow_mut();
        let Some(due) = due else {
            state.timer = None;
            return;
        };
        if state.timer.as_ref().is_some_and(|(at, _)| *at <= due) {
            return;
        }
        let delay = due.saturating_sub(now()).min(u64::from(u32::MAX)) as u32;
        let worker = self.clone();
        let timeout = Timeout::new(delay, move || {
            worker.0.borrow_mut().timer = None;
            worker.enqueue(Job::Timeout);
        });
        state.timer = Some((due, timeout));
    }

    fn broadcast(&self) {
        let state = self.0.borrow();
        let Some(model) = state.model.as_ref() else { return };
        let update = WorkerToPopup::Update { view: model.view() };
        for port in &state.popups {
            let _ = port.post(&update);
        }
    }

    /// Starts the engine where this browser hosts it. It greets the worker when it is up, and the reply to
    /// that greeting configures it.
    async fn start_engine(&self) {
        if self.0.borrow().engine.is_some() {
            return;
        }
        let waiting = {
            let mut state = self.0.borrow_mut();
            match state.engine_waiters.as_mut() {
                Some(waiters) => {
                    let (sender, receiver) = futures_channel::oneshot::channel();
                    waiters.push(sender);
                    Some(receiver)
                }
                None => {
                    state.engine_waiters = Some(Vec::new());
                    None
                }
            }
        };
        if let Some(receiver) = waiting {
            let _ = receiver.await;
            return;
        }
        self.create_engine().await;
        let waiters = self.0.borrow_mut().engine_waiters.take().unwrap_or_default();
        for waiter in waiters {
            let _ = waiter.send(());
        }
    }

    async fn create_engine(&self) {
        if chrome::has_offscreen_api() {
            let created = chrome::ensure_offscreen_document(
                "background/offscreen.html",
                "Holds the WebRTC data channels and the signaling connection so chats stay reachable when the popup is closed",
            )
            .await;
            match created {
                Ok(()) => {
                    self.0.borrow_mut().engine = Some(EngineHandle::Offscreen);
                    // An engine that outlived a previous worker holds links this worker does not know;
                    // a new one greets by itself and this message finds no listener yet.
                    let greet = Addressed { to: ENGINE_ADDRESS.to_owned(), body: WorkerToEngine::Greet };
                    let _ = chrome::send_message(&greet).await;
                }
                Err(err) => log(&format!("multichat: could not start the chat engine: {err}")),
            }
        } else {
            let handle = engine::start_in_process(self.clone());
            self.0.borrow_mut().engine = Some(handle);
        }
    }

    async fn command_engine(&self, commands: Vec<WorkerToEngine>) {
        if commands.is_empty() {
            return;
        }
        let wants_engine = self.0.borrow().model.as_ref().is_some_and(WorkerModel::wants_engine);
        if wants_engine {
            self.start_engine().await;
        }
        let engine = self.0.borrow().engine.clone();
        for command in commands {
            match &engine {
                Some(EngineHandle::Offscreen) => {
                    let message = Addressed { to: ENGINE_ADDRESS.to_owned(), body: command };
                    // A freshly created document may not listen yet; it greets the worker when it does,
                    // and the reply to its greeting carries the current configuration.
                    if let Err(err) = chrome::send_message(&message).await {
                        log(&format!("multichat: engine not reachable yet: {err}"));
                    }
                }
                Some(EngineHandle::InProcess(engine)) => engine.command(command),
                None => {}
            }
        }
    }
}

/// Reads what the worker needs from storage, a few keys at a time as the model asks for them, and builds
/// the model (applying any schema migration). History passes through `vault`: opened, or left out while
/// locked.
async fn read_model(vault: &Vault) -> Result<WorkerModel, ShellError> {
    let mut snapshot = Snapshot::default();
    let mut asked = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    loop {
        let wanted: Vec<String> =
            WorkerModel::keys_to_read(&snapshot).into_iter().filter(|it| asked.insert(it.clone())).collect();
        if wanted.is_empty() {
            break;
        }
        let opened = vault.incoming(chrome::storage_read(&wanted).await?);
        problems.extend(opened.problems.iter().map(ToString::to_string));
        snapshot.0.extend(opened.snapshot.0);
    }
    let (mut model, migration) = WorkerModel::load(&snapshot, now());
    model.set_lock(vault.lock.is_some() || vault.damaged.is_some(), vault.locked());
    model.add_problems(vault.damaged.iter().map(ToString::to_string).chain(problems));
    let (migration, _) = vault.outgoing(migration, random_bytes()?);
    chrome::storage_apply(&migration).await?;
    Ok(model)
}

/// The lock record and the key kept for this browser session, if it is the right one.
async fn read_vault() -> Result<Vault, ShellError> {
    let stored = chrome::storage_read(&[multichat_core::storage::Key::Lock.to_string()]).await?;
    let lock = at_rest::read_lock(&stored);
    // Without a passphrase there is no key to look for: one storage round trip less on every start.
    let key = match lock {
        Ok(None) => None,
        _ => chrome::session_get(SESSION_KEY).await?.and_then(|text| Key::from_base64(&text).ok()),
    };
    Ok(Vault::new(lock, key))
}

fn is_passphrase_request(request: &Request) -> bool {
    matches!(
        request,
        Request::Unlock { .. }
            | Request::SetPassphrase { .. }
            | Request::ChangePassphrase { .. }
            | Request::RemovePassphrase { .. }
            | Request::LockNow
    )
}

/// Why a passphrase request failed: the user's mistake (worded for them) or the browser's.
enum PassphraseError {
    User(AtRestError),
    Shell(ShellError),
}

impl From<AtRestError> for PassphraseError {
    fn from(err: AtRestError) -> Self {
        PassphraseError::User(err)
    }
}

impl From<ShellError> for PassphraseError {
    fn from(err: ShellError) -> Self {
        PassphraseError::Shell(err)
    }
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
