//! The engine: the part of multichat that holds live connections (the PeerJS signaling WebSocket and the
//! WebRTC data channels). Service workers have no `RTCPeerConnection`, so in Chrome the engine runs in an
//! offscreen document (`offscreen.html`, reason `WEB_RTC`); Firefox runs it inside the background page.
//!
//! The engine keeps no chat state. It reports status, links and frames to the worker, and the worker's
//! reply to each report says what to do next.

use std::cell::RefCell;
use std::rc::Rc;

use multichat_core::bridge::{Addressed, ENGINE_ADDRESS, EngineStatus, EngineToWorker, WORKER_ADDRESS, WorkerToEngine};
use multichat_web::chrome;
use multichat_web::convert;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

use crate::worker::WorkerHandle;

/// How the worker reaches the engine.
#[derive(Clone)]
pub(crate) enum EngineHandle {
    /// In Chrome's offscreen document, through `chrome.runtime` messages.
    Offscreen,
    /// In this very context (Firefox's background page).
    InProcess(Engine),
}

/// How the engine reaches the worker.
#[derive(Clone)]
enum WorkerLink {
    Runtime,
    InProcess(WorkerHandle),
}

#[derive(Clone)]
pub(crate) struct Engine(Rc<RefCell<State>>);

struct State {
    worker: WorkerLink,
    status: EngineStatus,
    /// The id and settings the worker configured, if any.
    config: Option<WorkerToEngine>,
}

/// Entry point of the offscreen document.
pub(crate) fn start_offscreen() {
    let engine = Engine::new(WorkerLink::Runtime);
    let listener = engine.clone();
    chrome::on_message(move |message| {
        let addressed = convert::from_js::<Addressed<serde_json::Value>>(message).ok()?;
        if addressed.to != ENGINE_ADDRESS {
            return None;
        }
        match serde_json::from_value::<WorkerToEngine>(addressed.body) {
            Ok(command) => listener.command(command),
            Err(err) => log(&format!("multichat engine: dropped a malformed command: {err}")),
        }
        Some(async { JsValue::NULL })
    });
    engine.greet();
}

/// Starts an engine inside the worker's own context (Firefox).
pub(crate) fn start_in_process(worker: WorkerHandle) -> EngineHandle {
    let engine = Engine::new(WorkerLink::InProcess(worker));
    engine.greet();
    EngineHandle::InProcess(engine)
}

impl Engine {
    fn new(worker: WorkerLink) -> Engine {
        Engine(Rc::new(RefCell::new(State { worker, status: EngineStatus::Offline, config: None })))
    }

    fn greet(&self) {
        let status = self.0.borrow().status.clone();
        self.report(EngineToWorker::Hello { status, links: Vec::new() });
    }

    /// Carries out one command from the worker.
    pub(crate) fn command(&self, command: WorkerToEngine) {
        match command {
            WorkerToEngine::Configure { .. } => {
                let unchanged = self.0.borrow().config.as_ref() == Some(&command);
                if !unchanged {
                    self.0.borrow_mut().config = Some(command);
                    self.set_status(EngineStatus::Connecting);
                }
            }
            WorkerToEngine::Shutdown => {
                self.0.borrow_mut().config = None;
                self.set_status(EngineStatus::Offline);
            }
            WorkerToEngine::Greet => self.greet(),
            WorkerToEngine::Dial { .. } | WorkerToEngine::Send { .. } | WorkerToEngine::Close { .. } => {}
        }
    }

    fn set_status(&self, status: EngineStatus) {
        if self.0.borrow().status == status {
            return;
        }
        self.0.borrow_mut().status = status.clone();
        self.report(EngineToWorker::Status { status });
    }

    /// Sends a report to the worker and carries out the commands in its reply.
    fn report(&self, message: EngineToWorker) {
        let worker = self.0.borrow().worker.clone();
        match worker {
            WorkerLink::InProcess(worker) => {
                let engine = self.clone();
                worker.report(message, move |commands| commands.into_iter().for_each(|it| engine.command(it)));
            }
            WorkerLink::Runtime => {
                let engine = self.clone();
                spawn_local(async move {
                    let addressed = Addressed { to: WORKER_ADDRESS.to_owned(), body: message };
                    match chrome::send_message(&addressed).await.and_then(convert::from_js::<Vec<WorkerToEngine>>) {
                        Ok(commands) => commands.into_iter().for_each(|it| engine.command(it)),
                        Err(err) => log(&format!("multichat engine: the worker did not take a report: {err}")),
                    }
                });
            }
        }
    }
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
