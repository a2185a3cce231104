//! The worker's run loop.
//!
//! Popups connect over ports and the engine reports over `chrome.runtime` messages (or, in Firefox's
//! background page, by direct calls). Every input becomes a [`Job`], and jobs are handled one at a time by
//! the core's [`WorkerModel`]: a job's writes reach `chrome.storage.local` before it is answered, before
//! popups are updated and before the engine is told what to do next.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use multichat_core::bridge::{
    Addressed, ENGINE_ADDRESS, EngineToWorker, POPUP_PORT_NAME, PopupToWorker, Response, WORKER_ADDRESS, WorkerToEngine,
    WorkerToPopup,
};
use multichat_core::worker::{Handled, WorkerModel};
use multichat_web::chrome::{self, Port};
use multichat_web::convert;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::engine::{self, EngineHandle};

/// Something for the worker to handle, and where its answer goes.
enum Job {
    Popup { port: Port, frame: PopupToWorker },
    /// From the engine; `reply` receives the commands the engine should carry out next.
    Engine { message: EngineToWorker, reply: Box<dyn FnOnce(Vec<WorkerToEngine>)> },
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
}

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
        let snapshot = match chrome::storage_load_all().await {
            Ok(snapshot) => snapshot,
            Err(err) => return log(&format!("multichat: {err}")),
        };
        let (model, migration) = WorkerModel::load(&snapshot);
        if let Err(err) = chrome::storage_apply(&migration).await {
            log(&format!("multichat: storage migration failed: {err}"));
        }
        let wants_engine = model.wants_engine();
        self.0.borrow_mut().model = Some(model);
        if wants_engine {
            self.start_engine().await;
        }
        spawn_local(self.drain());
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
        port.on_gone(move || gone_worker.0.borrow_mut().popups.retain(|it| !js_sys::Object::is(it, &gone_port)));
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
            let (job, handled) = {
                let mut state = self.0.borrow_mut();
                let Some(job) = state.queue.pop_front() else { break };
                let model = state.model.as_mut().expect("drain runs only after load");
                let handled = match &job {
                    Job::Popup { frame, .. } => model.handle(frame.request.clone()),
                    Job::Engine { message, .. } => model.handle_engine(message.clone()),
                };
                (job, handled)
            };
            self.finish(job, handled).await;
        }
        self.0.borrow_mut().draining = false;
    }

    /// Persists a handled job's writes, then answers it and passes its commands on.
    async fn finish(&self, job: Job, handled: Handled) {
        let Handled { writes, response, view_changed, to_engine } = handled;
        let stored = chrome::storage_apply(&writes).await;
        if let Err(err) = &stored {
            // The in-memory model is ahead of storage now: reload it from storage so both agree.
            log(&format!("multichat: {err}"));
            self.reload().await;
        }
        match job {
            Job::Popup { port, frame } => {
                let response = match stored {
                    Ok(()) => response,
                    Err(_) => Response::Error { message: "Could not save to the browser's storage; nothing was changed".to_owned() },
                };
                let _ = port.post(&WorkerToPopup::Reply { id: frame.id, response });
                if stored.is_ok() {
                    self.command_engine(to_engine).await;
                }
            }
            Job::Engine { reply, .. } => reply(if stored.is_ok() { to_engine } else { Vec::new() }),
        }
        if view_changed {
            self.broadcast();
        }
    }

    async fn reload(&self) {
        if let Ok(snapshot) = chrome::storage_load_all().await {
            self.0.borrow_mut().model = Some(WorkerModel::load(&snapshot).0);
        }
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
        if chrome::has_offscreen_api() {
            let created = chrome::ensure_offscreen_document(
                "background/offscreen.html",
                "Holds the WebRTC data channels and the signaling connection so chats stay reachable when the popup is closed",
            )
            .await;
            match created {
                Ok(()) => self.0.borrow_mut().engine = Some(EngineHandle::Offscreen),
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

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
