//! The worker's run loop.
//!
//! Popups connect over ports, and so does the engine in Chrome's offscreen document (in Firefox's background
//! page it calls the worker directly). Every input becomes a [`Job`], and jobs are handed one at a time to the
//! core's [`WorkerModel`], whose [`Effect`]s this loop performs in order: a job's writes reach
//! `chrome.storage.local` before it is answered, before popups are updated and before the engine is told what
//! to do next. The model seals and opens the history itself; this loop stores and reads exactly what it says.
//!
//! Under load, popup requests go first: they never wait behind a burst of engine reports, which are handled
//! in batches whose writes are stored together (one storage call per batch, not per frame).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use multichat_core::bridge::{
    Addressed, ENGINE_ADDRESS, ENGINE_PORT_NAME, EngineToWorker, POPUP_PORT_NAME, PopupToWorker, Response,
    WorkerToEngine, WorkerToPopup,
};
use multichat_core::storage::{Snapshot, StorageWrite, coalesce};
use multichat_core::time::Millis;
use multichat_core::worker::{Arrival, Effect, LoadStep, Loader, WorkerError, WorkerModel};
use multichat_web::chrome::{self, Port};
use multichat_web::worker_lane::EngineClient;
use multichat_web::{ShellError, convert, now, random_bytes};

use crate::worker_storage;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::engine::{self, EngineHandle, EngineRoute};

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
    /// The user clicked one of our notifications: its conversation is opened.
    NotificationClicked {
        id: String,
    },
}

#[derive(Default)]
struct Worker {
    /// `None` until storage has been read; jobs queue up meanwhile.
    model: Option<WorkerModel>,
    /// Popup requests, timers and popups closing: handled before any engine report queued behind them.
    queue: VecDeque<Job>,
    /// Engine reports, in arrival order.
    engine_queue: VecDeque<Job>,
    /// True while the drain loop runs; it is the only code that mutates the model.
    draining: bool,
    popups: Vec<Port>,
    /// Where the engine runs: Firefox hosts it here, Chrome in the offscreen document.
    engine: Option<EngineHandle>,
    /// The offscreen engine's port, while it is open: it closes when the engine's page goes.
    engine_port: Option<Port>,
    /// The offscreen engine's page, once it posted on the lane while its port is open: commands go there.
    engine_lane: Option<EngineClient>,
    /// While the engine is being started: who else waits for it (a second start must not create a second
    /// offscreen document).
    engine_waiters: Option<Vec<futures_channel::oneshot::Sender<()>>>,
    /// The unread count on the toolbar badge, to set it only when it changes.
    badge: Option<u32>,
    /// The pending chat timer and when it fires.
    timer: Option<(Millis, Timeout)>,
}

/// At most this many queued engine reports are handled and stored together (see `engine_batch`). A popup
/// request arriving meanwhile waits for at most one batch.
const MAX_ENGINE_BATCH: usize = 256;

/// A batch also ends after this long handling reports, so a popup request waits little even when each
/// report is slow (a big group, a catch-up).
const MAX_BATCH_MS: u64 = 50;

/// A handle on the worker, cloned into every callback.
#[derive(Clone, Default)]
pub(crate) struct WorkerHandle(Rc<RefCell<Worker>>);

pub(crate) fn start() {
    let worker = WorkerHandle::default();
    // Listeners first, synchronously: the event that woke the worker is delivered right after this returns.
    let on_connect_worker = worker.clone();
    chrome::on_connect(move |port| on_connect_worker.accept(port));
    if chrome::has_offscreen_api() {
        let seen_worker = worker.clone();
        let lane_worker = worker.clone();
        let listening = engine::accept_lane(
            move |client| seen_worker.0.borrow_mut().engine_lane = Some(client.clone()),
            move |message, reply| lane_worker.report(message, reply),
        );
        if let Err(err) = listening {
            log(&format!("multichat: the engine's lane is not open: {err}"));
        }
    }
    let clicked_worker = worker.clone();
    chrome::on_notification_clicked(move |id| clicked_worker.enqueue(Job::NotificationClicked { id }));
    spawn_local(worker.load());
}

/// Where the answers of a job go.
enum Answer {
    Popup {
        port: Port,
        id: u64,
    },
    Engine(Box<dyn FnOnce(Vec<WorkerToEngine>)>),
    /// Once its effects are performed, the conversation the notification is about is shown.
    OpenUi {
        notification_id: String,
    },
    Nobody,
}

/// What performing a job's effects left for the end of the job.
#[derive(Default)]
struct Performed {
    commands: Vec<WorkerToEngine>,
    view_changed: bool,
    replied: bool,
    /// The popup's answer, held back until the job's engine commands are sent (see `perform_one`).
    held_reply: Option<WorkerToPopup>,
    /// The asking popup was answered with the view, and nothing after that changed the model: the view
    /// broadcast at the end of the job would be the same, so that popup is not sent it again.
    answered_with_view: bool,
}

impl WorkerHandle {
    async fn load(self) {
        // A worker that cannot read storage cannot serve anyone: popups keep waiting rather than being
        // shown an empty (wrong) account, and the reason is in the worker's console.
        let loader = match run_loader(Loader::new()).await {
            Ok(loader) => loader,
            Err(err) => return log(&format!("multichat: {err}")),
        };
        let random = match random_bytes::<32>() {
            Ok(random) => random,
            Err(err) => return log(&format!("multichat: {err}")),
        };
        let model = WorkerModel::load(loader, now(), random);
        let wants_engine = model.wants_engine();
        {
            let mut state = self.0.borrow_mut();
            state.model = Some(model);
            // No job runs until the schema migration, if any, is stored.
            state.draining = true;
        }
        let mut performed = Performed::default();
        if let Err(err) = self.perform(&mut performed, None).await {
            log(&format!("multichat: {err}"));
        }
        self.0.borrow_mut().draining = false;
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
        if port.name() == ENGINE_PORT_NAME {
            return self.accept_engine(port);
        }
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

    /// The offscreen engine connected (it does when it first has a report for this worker).
    fn accept_engine(&self, port: Port) {
        self.0.borrow_mut().engine_port = Some(port.clone());
        let worker = self.clone();
        engine::accept_port(&port, move |message, reply| worker.report(message, reply));
        let gone_worker = self.clone();
        let gone_port = port.clone();
        port.on_gone(move || {
            let mut state = gone_worker.0.borrow_mut();
            if state.engine_port.as_ref().is_some_and(|it| js_sys::Object::is(it, &gone_port)) {
                state.engine_port = None;
                state.engine_lane = None;
            }
        });
    }

    /// Queues a report from the engine; `reply` gets the engine's next commands once it is handled.
    pub(crate) fn report(&self, message: EngineToWorker, reply: impl FnOnce(Vec<WorkerToEngine>) + 'static) {
        self.enqueue(Job::Engine { message, reply: Box::new(reply) });
    }

    fn enqueue(&self, job: Job) {
        let start_drain = {
            let mut state = self.0.borrow_mut();
            match job {
                Job::Engine { .. } => state.engine_queue.push_back(job),
                _ => state.queue.push_back(job),
            }
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
            // Popups first: a request is handled before any engine report still waiting.
            let next = {
                let mut state = self.0.borrow_mut();
                match state.queue.pop_front() {
                    Some(job) => Some(Some(job)),
                    None => state.engine_queue.front().map(|_| None),
                }
            };
            match next {
                Some(Some(job)) => self.one(job).await,
                Some(None) => self.engine_batch().await,
                None => break,
            }
            self.arm_timer();
        }
        self.0.borrow_mut().draining = false;
    }

    /// Handles one popup request, timer or popups-closed job, and performs its effects.
    async fn one(&self, job: Job) {
        let now = now();
        let answer = {
            let mut state = self.0.borrow_mut();
            let model = state.model.as_mut().expect("drain runs only after load");
            match job {
                Job::Popup { port, frame } => match random_bytes::<32>() {
                    Ok(random) => {
                        model.handle(frame.request, now, random);
                        Answer::Popup { port, id: frame.id }
                    }
                    // Keys and ids come from this; a weak stand-in would be worse than refusing.
                    Err(err) => {
                        drop(state);
                        let message = WorkerError::NoRandomness { detail: err.to_string() }.phrase();
                        let _ =
                            port.post(&WorkerToPopup::Reply { id: frame.id, response: Response::Error { message } });
                        return;
                    }
                },
                Job::Timeout => match random_bytes::<32>() {
                    Ok(random) => {
                        model.handle_timeout(now, random);
                        Answer::Nobody
                    }
                    Err(err) => return log(&format!("multichat: no randomness for the chat timer ({err})")),
                },
                Job::PopupsClosed => {
                    model.popups_closed();
                    return;
                }
                Job::NotificationClicked { id } => match random_bytes::<32>() {
                    Ok(random) => {
                        model.notification_clicked(&id, now, random);
                        Answer::OpenUi { notification_id: id }
                    }
                    Err(err) => return log(&format!("multichat: no randomness for a notification click ({err})")),
                },
                Job::Engine { message, reply } => match random_bytes::<32>() {
                    Ok(random) => {
                        model.handle_engine(message, now, random);
                        Answer::Engine(reply)
                    }
                    Err(err) => return log(&format!("multichat: no randomness for an engine report ({err}); dropped")),
                },
            }
        };
        let mut performed = Performed::default();
        let popup = match &answer {
            Answer::Popup { port, id } => Some((port.clone(), *id)),
            _ => None,
        };
        let outcome = self.perform(&mut performed, popup.as_ref()).await;
        if let Err(err) = outcome {
            self.recover(&err).await;
            if let (Some((port, id)), false) = (&popup, performed.replied) {
                let message = multichat_core::worker::storage_write_failed(&err.detail);
                let _ = port.post(&WorkerToPopup::Reply { id: *id, response: Response::Error { message } });
            }
            performed.commands.clear();
        }
        let open_ui = match answer {
            Answer::Engine(reply) => {
                reply(performed.commands);
                None
            }
            Answer::OpenUi { notification_id } => {
                self.command_engine(performed.commands).await;
                Some(notification_id)
            }
            _ => {
                self.command_engine(performed.commands).await;
                None
            }
        };
        if let (Some(reply), Some((port, _))) = (performed.held_reply.take(), &popup) {
            let _ = port.post(&reply);
        }
        if performed.view_changed {
            let answered = popup.as_ref().filter(|_| performed.answered_with_view).map(|(port, _)| port);
            self.broadcast_except(answered);
        }
        self.update_badge().await;
        if let Some(notification_id) = open_ui {
            open_ui_for(&notification_id).await;
        }
    }

    /// Handles the engine reports at the head of the queue, up to [`MAX_ENGINE_BATCH`] or [`MAX_BATCH_MS`],
    /// so their writes go to storage in one call and the popups get one view for all of them: under a burst (a
    /// busy group, a catch-up, a flood) the worker then keeps up instead of paying a storage round trip per
    /// frame. A report whose effects need more than writes (a read, a reload) is performed on its own.
    async fn engine_batch(&self) {
        let started = now();
        let mut writes: Vec<StorageWrite> = Vec::new();
        let mut arrivals: Vec<Arrival> = Vec::new();
        let mut replies = Vec::new();
        let mut view_changed = false;
        let mut alone = None;
        while replies.len() < MAX_ENGINE_BATCH && now().saturating_sub(started) < MAX_BATCH_MS {
            let mut state = self.0.borrow_mut();
            // A popup request that arrived meanwhile ends the batch: it is handled next.
            if !state.queue.is_empty() {
                break;
            }
            let Some(Job::Engine { message, reply }) = state.engine_queue.pop_front() else { break };
            let Ok(random) = random_bytes::<32>() else {
                log("multichat: no randomness for an engine report; it was dropped");
                replies.push((reply, Vec::new()));
                continue;
            };
            let model = state.model.as_mut().expect("drain runs only after load");
            model.handle_engine(message, now(), random);
            let mut commands = Vec::new();
            let mut rest = None;
            while let Some(effect) = model.poll_effect() {
                match effect {
                    Effect::Write(more) => writes.extend(more),
                    Effect::Engine(command) => commands.push(command),
                    Effect::Notify(arrival) => arrivals.push(arrival),
                    Effect::Log(line) => log(&line),
                    Effect::ViewChanged => view_changed = true,
                    // Reads and the like: this report's remaining effects are performed by `perform`, after
                    // the batch's writes.
                    other => {
                        rest = Some(other);
                        break;
                    }
                }
            }
            match rest {
                Some(effect) => {
                    alone = Some((effect, commands, reply));
                    break;
                }
                None => replies.push((reply, commands)),
            }
        }
        let stored = worker_storage::apply(&coalesce(writes)).await;
        if let Err(err) = &stored {
            self.recover(err).await;
        }
        // Acknowledgements leave only now, after every message of the batch is stored.
        for (reply, commands) in replies {
            reply(if stored.is_ok() { commands } else { Vec::new() });
        }
        if let Some((effect, mut commands, reply)) = alone.filter(|_| stored.is_ok()) {
            let mut performed = Performed::default();
            let outcome = match self.perform_one(effect, &mut performed, None).await {
                Ok(()) => self.perform(&mut performed, None).await,
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => commands.append(&mut performed.commands),
                Err(err) => {
                    self.recover(&err).await;
                    commands.clear();
                }
            }
            view_changed |= performed.view_changed;
            reply(commands);
        }
        // The open popups first: a notification costs ~10 ms, and nobody should wait for it to see a message.
        if view_changed {
            self.broadcast();
        }
        // One notification per conversation and batch: each replaces the conversation's previous one anyway,
        // and every `notifications.create` costs the worker ~10 ms (Chrome fetches and decodes the icon each
        // time), which under a flood was nearly all of its time.
        let mut latest: Vec<Arrival> = Vec::new();
        for arrival in arrivals.into_iter().filter(|_| stored.is_ok()) {
            latest.retain(|it| it.notification_id != arrival.notification_id);
            latest.push(arrival);
        }
        for arrival in &latest {
            self.notify(arrival).await;
        }
        self.update_badge().await;
    }

    /// Performs the model's queued effects in order. Writes are gathered and stored in one call before the
    /// next effect that is not a write (and at the end); engine commands are left in `performed` for the job
    /// to send, after its reply.
    async fn perform(&self, performed: &mut Performed, popup: Option<&(Port, u64)>) -> Result<(), ShellError> {
        let mut writes = Vec::new();
        loop {
            let effect = self.0.borrow_mut().model.as_mut().and_then(WorkerModel::poll_effect);
            match effect {
                Some(Effect::Write(more)) => writes.extend(more),
                Some(effect) => {
                    worker_storage::apply(&coalesce(std::mem::take(&mut writes))).await?;
                    self.perform_one(effect, performed, popup).await?;
                }
                None => return worker_storage::apply(&coalesce(writes)).await,
            }
        }
    }

    async fn perform_one(
        &self,
        effect: Effect,
        performed: &mut Performed,
        popup: Option<&(Port, u64)>,
    ) -> Result<(), ShellError> {
        match effect {
            Effect::Write(writes) => worker_storage::apply(&writes).await?,
            Effect::Reply(response) => {
                if let Some((port, id)) = popup {
                    performed.answered_with_view = matches!(response, Response::View { .. });
                    let reply = WorkerToPopup::Reply { id: *id, response };
                    // In Chrome the popup and the engine's document share one thread: a reply posted first is
                    // rendered first, and a sent message would wait for the sender's own popup to paint. When
                    // the engine is up (nothing to wait for) the reply follows the job's commands instead.
                    if self.engine_reachable() {
                        performed.held_reply = Some(reply);
                    } else {
                        let _ = port.post(&reply);
                    }
                    performed.replied = true;
                }
            }
            Effect::Engine(command) => performed.commands.push(command),
            Effect::Read(keys) => {
                performed.answered_with_view = false;
                let found = worker_storage::read(&keys).await?;
                let random = random_bytes::<32>()?;
                self.with_model(|model| model.handle_read(found, now(), random));
            }
            Effect::ReadFile { keys, then } => {
                performed.answered_with_view = false;
                let found = worker_storage::read(&keys).await?;
                let random = random_bytes::<32>()?;
                self.with_model(|model| model.handle_file_read(then, found, now(), random));
            }
            Effect::ReadAll => {
                performed.answered_with_view = false;
                let all = worker_storage::read_all().await?;
                let random = random_bytes::<32>()?;
                self.with_model(|model| model.handle_read_all(all, now(), random));
            }
            Effect::Session(StorageWrite::Set { key, value }) => {
                chrome::session_set(&key, value.as_str().unwrap_or_default()).await?
            }
            Effect::Session(StorageWrite::Remove { key }) => chrome::session_remove(&key).await?,
            Effect::Reload => {
                performed.answered_with_view = false;
                let loader = self.0.borrow().model.as_ref().map(WorkerModel::reloader).unwrap_or_default();
                let loader = run_loader(loader).await?;
                let random = random_bytes::<32>()?;
                self.with_model(|model| model.reload(loader, now(), random));
            }
            Effect::Notify(arrival) => self.notify(&arrival).await,
            Effect::Log(line) => log(&line),
            Effect::ViewChanged => performed.view_changed = true,
        }
        Ok(())
    }

    fn with_model(&self, change: impl FnOnce(&mut WorkerModel)) {
        if let Some(model) = self.0.borrow_mut().model.as_mut() {
            change(model);
        }
    }

    /// Storage failed part way: the in-memory model may be ahead of storage, so it is rebuilt from storage
    /// (with the history key it holds) and what it still had queued is dropped.
    async fn recover(&self, err: &ShellError) {
        log(&format!("multichat: {err}"));
        let loader = {
            let mut state = self.0.borrow_mut();
            let Some(model) = state.model.as_mut() else { return };
            model.abandon_effects();
            model.reloader()
        };
        let loader = match run_loader(loader).await {
            Ok(loader) => loader,
            Err(err) => return log(&format!("multichat: could not reload from storage: {err}")),
        };
        let Ok(random) = random_bytes::<32>() else { return };
        self.with_model(|model| {
            model.reload(loader, now(), random);
            // A schema migration is not attempted again on storage that just failed.
            model.abandon_effects();
        });
    }

    async fn notify(&self, arrival: &Arrival) {
        let chosen = self.0.borrow().model.as_ref().and_then(|it| it.language().map(str::to_owned));
        let catalogue = crate::words::catalogue(chosen.as_deref()).await;
        let (title, text) = (arrival.title.said_in(catalogue.as_ref()), arrival.text.said_in(catalogue.as_ref()));
        // One notification per conversation (by room id, never title): a newer message replaces the older one.
        if let Err(err) = chrome::notify(&arrival.notification_id, &title, &text).await {
            log(&format!("multichat: {err}"));
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

    /// Sends every open popup the view: built once, and only when a popup is open.
    fn broadcast(&self) {
        self.broadcast_except(None);
    }

    /// [`Self::broadcast`], leaving out `answered`, a popup that was just answered with this same view.
    fn broadcast_except(&self, answered: Option<&Port>) {
        let state = self.0.borrow();
        let others =
            || state.popups.iter().filter(|it| answered.is_none_or(|answered| !js_sys::Object::is(it, answered)));
        if others().next().is_none() {
            return;
        }
        let Some(model) = state.model.as_ref() else { return };
        let update = WorkerToPopup::Update { view: Box::new(model.view()) };
        for port in others() {
            let _ = port.post(&update);
        }
    }

    /// Whether engine commands can be handed over now, without waiting for the engine to start.
    fn engine_reachable(&self) -> bool {
        let state = self.0.borrow();
        match &state.engine {
            Some(EngineHandle::Offscreen) => state.engine_port.is_some() || state.engine_lane.is_some(),
            Some(EngineHandle::InProcess(_)) => true,
            None => false,
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
            let worker = self.clone();
            let handle = engine::start_in_process(move |message, reply| worker.report(message, reply));
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
        let (engine, route) = {
            let state = self.0.borrow();
            let route = match (&state.engine_lane, &state.engine_port) {
                (Some(client), _) => Some(EngineRoute::Lane(client.clone())),
                (None, Some(port)) => Some(EngineRoute::Port(port.clone())),
                (None, None) => None,
            };
            (state.engine.clone(), route)
        };
        if let (Some(EngineHandle::Offscreen), Some(route)) = (&engine, route) {
            if route.post(false, commands.clone()) {
                return;
            }
        }
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

/// Reads what a [`Loader`] asks for, a few keys at a time, until it has all it needs.
async fn run_loader(mut loader: Loader) -> Result<Loader, ShellError> {
    loop {
        match loader.next_step() {
            LoadStep::Read(keys) => loader.read(worker_storage::read(&keys).await?),
            LoadStep::ReadSession(keys) => {
                let mut found = Snapshot::default();
                for key in keys {
                    if let Some(value) = chrome::session_get(&key).await? {
                        found.0.insert(key, serde_json::Value::String(value));
                    }
                }
                loader.read_session(found);
            }
            LoadStep::Done => return Ok(loader),
        }
    }
}

/// Shows the conversation a clicked notification is about (the model has selected it): the popup where the
/// browser opens it for us, else the same page in a tab. The notification itself goes away.
async fn open_ui_for(notification_id: &str) {
    if let Err(err) = chrome::clear_notification(notification_id).await {
        log(&format!("multichat: {err}"));
    }
    if chrome::open_popup().await.is_ok() {
        return;
    }
    if let Err(err) = chrome::open_tab("popup/index.html").await {
        log(&format!("multichat: could not open the conversation of a notification: {err}"));
    }
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
