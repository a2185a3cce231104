//! How the worker reaches the engine, which is another wasm (crate `multichat-engine`) that the service
//! worker never loads: in Chrome it runs in the offscreen document, which opens a port to the worker and
//! posts its reports there in batches (see `engine/src/worker_port.rs`); until it has, the worker reaches it
//! by `chrome.runtime` messages. In Firefox it runs in the background page beside the worker, loaded on first use by
//! `firefox.js` (`multichatLoadEngine`), and the two call each other's functions.
//!
//! The engine's reports come back through the `report` callback the worker hands to [`start_in_process`];
//! this module knows nothing of the worker itself.

use std::cell::RefCell;
use std::rc::Rc;

use multichat_core::bridge::{EngineCommands, EngineToWorker, WorkerToEngine};
use multichat_web::chrome::Port;
use multichat_web::worker_lane::{self, EngineClient};
use multichat_web::{ShellError, convert};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

/// The global function `firefox.js` defines: given the worker's report function, it loads the engine wasm
/// and resolves with the engine's command function.
const LOADER: &str = "multichatLoadEngine";

/// How the worker reaches the engine.
#[derive(Clone)]
pub(crate) enum EngineHandle {
    /// In Chrome's offscreen document, through `chrome.runtime` messages.
    Offscreen,
    /// In this very context (Firefox's background page).
    InProcess(PageEngine),
}

/// The engine in this page: its command function once loaded, and the commands given before that.
#[derive(Clone, Default)]
pub(crate) struct PageEngine(Rc<RefCell<PageState>>);

#[derive(Default)]
struct PageState {
    command: Option<js_sys::Function>,
    /// Sent in order once the engine has loaded.
    early: Vec<WorkerToEngine>,
}

/// Takes the commands that answer one report.
pub(crate) type Reply = Box<dyn FnOnce(Vec<WorkerToEngine>)>;

/// Loads the engine into this page (Firefox) and returns a handle at once; commands given before the
/// engine is up are kept and sent when it is. Its reports go to `report`.
pub(crate) fn start_in_process(report: impl Fn(EngineToWorker, Reply) + 'static) -> EngineHandle {
    let engine = PageEngine::default();
    let report = Rc::new(report);
    let on_report = Closure::<dyn Fn(JsValue) -> js_sys::Promise>::new(move |message: JsValue| {
        let report = report.clone();
        js_sys::Promise::new(&mut |resolve, _reject| {
            let reply = move |commands: Vec<WorkerToEngine>| {
                let commands = convert::to_js_cloned(&commands).unwrap_or(JsValue::NULL);
                let _ = resolve.call1(&JsValue::NULL, &commands);
            };
            match convert::from_js::<EngineToWorker>(message.clone()) {
                Ok(message) => report(message, Box::new(reply)),
                Err(err) => {
                    log(&format!("multichat: dropped a malformed engine message: {err}"));
                    reply(Vec::new());
                }
            }
        })
    });
    let loading = engine.clone();
    spawn_local(async move {
        match load(on_report.into_js_value()).await {
            Ok(command) => loading.loaded(command),
            Err(err) => log(&format!("multichat: could not start the chat engine: {err}")),
        }
    });
    EngineHandle::InProcess(engine)
}

async fn load(report: JsValue) -> Result<js_sys::Function, ShellError> {
    let loader = js_sys::Reflect::get(&js_sys::global(), &LOADER.into())
        .ok()
        .and_then(|it| it.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| ShellError::new("finding the engine loader", format!("no {LOADER} in this page")))?;
    let loading =
        loader.call1(&JsValue::NULL, &report).map_err(|err| ShellError::from_js("loading the engine", &err))?;
    let command = JsFuture::from(js_sys::Promise::resolve(&loading))
        .await
        .map_err(|err| ShellError::from_js("loading the engine", &err))?;
    command.dyn_into::<js_sys::Function>().map_err(|_| ShellError::new("loading the engine", "no command function"))
}

impl PageEngine {
    /// Carries out one command (or keeps it until the engine has loaded).
    pub(crate) fn command(&self, command: WorkerToEngine) {
        let function = self.0.borrow().command.clone();
        match function {
            Some(function) => send(&function, &command),
            None => self.0.borrow_mut().early.push(command),
        }
    }

    fn loaded(&self, function: js_sys::Function) {
        let early = {
            let mut state = self.0.borrow_mut();
            state.command = Some(function.clone());
            std::mem::take(&mut state.early)
        };
        for command in &early {
            send(&function, command);
        }
    }
}

fn send(function: &js_sys::Function, command: &WorkerToEngine) {
    let sent = convert::to_js_cloned(command).and_then(|it| {
        function.call1(&JsValue::NULL, &it).map_err(|err| ShellError::from_js("an engine command", &err))
    });
    if let Err(err) = sent {
        log(&format!("multichat: {err}"));
    }
}

/// Where the worker's answers and commands to the offscreen engine go: the lane the engine posted on
/// (ServiceWorker messaging, structured clone) or its port (JSON, where the engine's page has no lane).
#[derive(Clone)]
pub(crate) enum EngineRoute {
    Port(Port),
    Lane(EngineClient),
}

impl EngineRoute {
    /// Posts commands; false (logged) if the engine's page is gone.
    pub(crate) fn post(&self, reply: bool, commands: Vec<WorkerToEngine>) -> bool {
        let frame = EngineCommands { reply, commands };
        let posted = match self {
            EngineRoute::Port(port) => port.post(&frame),
            EngineRoute::Lane(client) => convert::to_js_cloned(&frame).and_then(|it| client.post(&it)),
        };
        match posted {
            Ok(()) => true,
            Err(err) => {
                log(&format!("multichat: the engine is gone: {err}"));
                false
            }
        }
    }
}

/// Takes the report batches the engine posts on `port` (see [`take_batch`]).
pub(crate) fn accept_port(port: &Port, report: impl Fn(EngineToWorker, Reply) + 'static) {
    let answer = EngineRoute::Port(port.clone());
    port.on_frame(move |value| take_batch(value, &answer, &report));
}

/// Takes the report batches the engine posts on the lane (see [`take_batch`]); `seen` gets the engine's page
/// with each, before its reports are handled.
pub(crate) fn accept_lane(
    seen: impl Fn(&EngineClient) + 'static,
    report: impl Fn(EngineToWorker, Reply) + 'static,
) -> Result<(), ShellError> {
    worker_lane::on_engine_frame(move |value, client| {
        seen(&client);
        take_batch(value, &EngineRoute::Lane(client), &report);
    })
}

/// One batch of reports from the engine: each report goes to `report`, and once every report of the batch
/// is answered, the batch's commands go back on `answer` as one `EngineCommands { reply: true }` frame
/// (batches are answered in the order they came, as the worker handles reports in order).
fn take_batch(value: JsValue, answer: &EngineRoute, report: &dyn Fn(EngineToWorker, Reply)) {
    let reports = match convert::from_js::<Vec<EngineToWorker>>(value) {
        Ok(reports) => reports,
        Err(err) => {
            log(&format!("multichat: dropped a malformed engine batch: {err}"));
            Vec::new()
        }
    };
    if reports.is_empty() {
        answer.post(true, Vec::new());
        return;
    }
    let batch = Rc::new(RefCell::new(Batch { waiting: reports.len(), commands: Vec::new() }));
    for message in reports {
        let batch = batch.clone();
        let answer = answer.clone();
        report(
            message,
            Box::new(move |mut commands| {
                let done = {
                    let mut batch = batch.borrow_mut();
                    batch.commands.append(&mut commands);
                    batch.waiting -= 1;
                    (batch.waiting == 0).then(|| std::mem::take(&mut batch.commands))
                };
                if let Some(commands) = done {
                    answer.post(true, commands);
                }
            }),
        );
    }
}

/// One batch of reports being handled: how many are unanswered, and the commands so far.
struct Batch {
    waiting: usize,
    commands: Vec<WorkerToEngine>,
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
