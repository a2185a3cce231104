//! The offscreen engine's long-lived port to the worker (Chrome).
//!
//! A `chrome.runtime.sendMessage` per report cost the engine and the worker about 10 ms of messaging each under
//! a flood (a broadcast to every extension page, a reply channel held open per report, and a JSON tree per
//! message). Reports now go over one port, in batches: while [`MAX_IN_FLIGHT`] batches await the worker's
//! answer, further reports gather into the next batch, so a burst costs a few port messages and a single
//! report still leaves at once. The worker answers each batch with one [`EngineCommands`] frame (`reply`)
//! once every report in it is handled, and sends its own commands on the same port.
//!
//! The batches and the worker's commands travel by ServiceWorker messaging ([`worker_lane`], structured clone,
//! so a file chunk's bytes go as bytes); the port itself then only says that the worker stopped. Where this
//! page has no controlling worker to post to, the port carries them as JSON.
//!
//! The port is opened only when there is something to report: an open port does not keep Chrome's service
//! worker alive (only messages do), and when the worker stops the port closes and is not reopened until the
//! next report, which wakes the worker as a runtime message would. Reports posted to a worker that stopped
//! before answering are lost, as they were with runtime messages; the chat layer re-sends what was not
//! acknowledged.

use multichat_core::bridge::{ENGINE_PORT_NAME, EngineCommands, EngineToWorker};
use multichat_web::chrome::{self, Port};
use multichat_web::{ShellError, convert, worker_lane};

/// Batches posted to the worker and not answered yet, at most: two, so the worker has the next batch at hand
/// while it stores the current one.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

#[derive(Default)]
pub(crate) struct WorkerPort {
    port: Option<Port>,
    in_flight: usize,
    /// Reports waiting for the next batch, in order.
    queued: Vec<EngineToWorker>,
}

/// What the port saw, for the engine to act on.
pub(crate) enum PortEvent {
    /// The worker's commands.
    Commands(EngineCommands),
    Gone,
}

impl WorkerPort {
    pub(crate) fn push(&mut self, report: EngineToWorker) {
        self.queued.push(report);
    }

    /// The next batch to post and the port to post it on, if a batch may go now. `open` connects a new port
    /// (wiring its events to the engine) when none is open.
    pub(crate) fn next_batch(&mut self, open: impl FnOnce() -> Option<Port>) -> Option<(Port, Vec<EngineToWorker>)> {
        if self.queued.is_empty() || self.in_flight >= MAX_IN_FLIGHT {
            return None;
        }
        if self.port.is_none() {
            self.port = open();
            self.in_flight = 0;
        }
        let port = self.port.clone()?;
        self.in_flight += 1;
        Some((port, std::mem::take(&mut self.queued)))
    }

    /// Notes what `port` saw (`None`: the lane, which has no older ones); false if it is not the current
    /// port (an older one, already replaced).
    pub(crate) fn saw(&mut self, port: Option<&Port>, event: &PortEvent) -> bool {
        if let Some(port) = port
            && !self.port.as_ref().is_some_and(|it| js_sys::Object::is(it, port))
        {
            return false;
        }
        match event {
            PortEvent::Commands(EngineCommands { reply: true, .. }) => {
                self.in_flight = self.in_flight.saturating_sub(1)
            }
            PortEvent::Commands(..) => {}
            PortEvent::Gone => {
                self.port = None;
                self.in_flight = 0;
            }
        }
        true
    }

    /// A post failed: the port is gone.
    pub(crate) fn lost(&mut self) {
        self.port = None;
        self.in_flight = 0;
    }
}

/// Opens a port to the worker; `on_event` gets its command frames and its closing.
pub(crate) fn open(on_event: impl Fn(&Port, PortEvent) + Clone + 'static) -> Result<Port, multichat_web::ShellError> {
    let port = chrome::connect(ENGINE_PORT_NAME)?;
    let frame_port = port.clone();
    let on_frame = on_event.clone();
    port.on_frame(move |value| {
        if let Some(commands) = commands_in(value) {
            on_frame(&frame_port, PortEvent::Commands(commands))
        }
    });
    let gone_port = port.clone();
    port.on_gone(move || on_event(&gone_port, PortEvent::Gone));
    Ok(port)
}

/// The worker's commands in a frame it posted (on the port or the lane); `None` (logged) if malformed.
pub(crate) fn commands_in(frame: wasm_bindgen::JsValue) -> Option<EngineCommands> {
    match convert::from_js::<EngineCommands>(frame) {
        Ok(commands) => Some(commands),
        Err(err) => {
            web_sys::console::warn_1(&format!("multichat engine: dropped a malformed worker frame: {err}").into());
            None
        }
    }
}

/// Posts a batch of reports to the worker: on the lane, else on `port`.
pub(crate) fn post(port: &Port, batch: &[EngineToWorker]) -> Result<(), ShellError> {
    if worker_lane::post_to_worker(&convert::to_js_cloned(batch)?)? {
        return Ok(());
    }
    port.post(&batch)
}
