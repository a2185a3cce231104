//! The worker's run loop: popups connect over ports, requests are handled one at a time by the core's
//! [`WorkerModel`], and a request is answered only after its writes reached `chrome.storage.local`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use multichat_core::bridge::{POPUP_PORT_NAME, PopupToWorker, Response, WorkerToPopup};
use multichat_core::worker::WorkerModel;
use multichat_web::chrome::{self, Port};
use multichat_web::convert;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;

/// A request waiting its turn, with the port to answer on.
struct Job {
    port: Port,
    frame: PopupToWorker,
}

#[derive(Default)]
struct Worker {
    /// `None` until storage has been read; requests queue up meanwhile.
    model: Option<WorkerModel>,
    queue: VecDeque<Job>,
    /// True while the drain loop is running; it is the only code that mutates the model.
    draining: bool,
    popups: Vec<Port>,
}

type Shared = Rc<RefCell<Worker>>;

pub(crate) fn start() {
    let worker: Shared = Rc::default();
    let on_connect_worker = worker.clone();
    chrome::on_connect(move |port| accept(&on_connect_worker, port));
    spawn_local(load(worker));
}

async fn load(worker: Shared) {
    // A worker that cannot read storage cannot serve anyone; the error is in the worker's console and
    // every popup keeps waiting rather than being shown an empty (wrong) account.
    let snapshot = match chrome::storage_load_all().await {
        Ok(snapshot) => snapshot,
        Err(err) => return log(&format!("multichat: {err}")),
    };
    let (model, migration) = WorkerModel::load(&snapshot);
    if let Err(err) = chrome::storage_apply(&migration).await {
        log(&format!("multichat: storage migration failed: {err}"));
    }
    worker.borrow_mut().model = Some(model);
    spawn_local(drain(worker));
}

fn accept(worker: &Shared, port: Port) {
    if port.name() != POPUP_PORT_NAME {
        return port.disconnect();
    }
    worker.borrow_mut().popups.push(port.clone());
    let frame_worker = worker.clone();
    let frame_port = port.clone();
    port.on_frame(move |value: JsValue| match convert::from_js::<PopupToWorker>(value) {
        Ok(frame) => enqueue(&frame_worker, Job { port: frame_port.clone(), frame }),
        Err(err) => log(&format!("multichat: dropped a malformed popup frame: {err}")),
    });
    let gone_worker = worker.clone();
    let gone_port = port.clone();
    port.on_gone(move || gone_worker.borrow_mut().popups.retain(|it| !js_sys::Object::is(it, &gone_port)));
}

fn enqueue(worker: &Shared, job: Job) {
    let start_drain = {
        let mut state = worker.borrow_mut();
        state.queue.push_back(job);
        state.model.is_some() && !state.draining
    };
    if start_drain {
        spawn_local(drain(worker.clone()));
    }
}

async fn drain(worker: Shared) {
    if std::mem::replace(&mut worker.borrow_mut().draining, true) {
        return;
    }
    loop {
        let (job, handled) = {
            let mut state = worker.borrow_mut();
            let Some(job) = state.queue.pop_front() else { break };
            let model = state.model.as_mut().expect("drain runs only after load");
            let handled = model.handle(job.frame.request.clone());
            (job, handled)
        };
        let response = match chrome::storage_apply(&handled.writes).await {
            Ok(()) => handled.response,
            Err(err) => {
                // The in-memory model is ahead of storage now: reload it from storage so both agree.
                log(&format!("multichat: {err}"));
                reload(&worker).await;
                Response::Error { message: "Could not save to the browser's storage; nothing was changed".to_owned() }
            }
        };
        let _ = job.port.post(&WorkerToPopup::Reply { id: job.frame.id, response });
        if handled.view_changed {
            broadcast(&worker);
        }
    }
    worker.borrow_mut().draining = false;
}

async fn reload(worker: &Shared) {
    if let Ok(snapshot) = chrome::storage_load_all().await {
        worker.borrow_mut().model = Some(WorkerModel::load(&snapshot).0);
    }
}

fn broadcast(worker: &Shared) {
    let state = worker.borrow();
    let Some(model) = state.model.as_ref() else { return };
    let update = WorkerToPopup::Update { view: model.view() };
    for port in &state.popups {
        let _ = port.post(&update);
    }
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
