//! The offscreen engine's long-lived port to the worker (Chrome).
//!
//! A `chrome.runtime.sendMessage` per report cost the engine and the worker about 10 ms of messaging each under
//! a flood (a broadcast to every extension page, a reply channel held open per report, and a JSON tree per
//! message). Reports now go over one port, in batches: while [`MAX_IN_FLIGHT`] batches await the worker's
//! answer, further reports gather into the next batch, so a burst costs a few port messages and a single
//! report still leaves at once. The worker answers each batch with one [`EngineCommands`] frame (`reply`)
//! once every report in it is handled, and sends its own commands on the same port.
//!
//! The port is opened only when there is something to report: an open port does not keep Chrome's service
//! worker alive (only messages do), and when the worker stops the port closes and is not reopened until the
//! next report, which wakes the worker as a runtime message would. Reports posted to a worker that stopped
//! before answering are lost, as they were with runtime messages; the chat layer re-sends what was not
//! acknowledged.

use multichat_core::bridge::{ENGINE_PORT_NAME, EngineCommands, EngineToWorker};
use multichat_web::chrome::{self, Port};
use multichat_web::convert;

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
    /// The worker's commands, and the bytes of their file chunks decoded ahead ([`take_chunks`]).
    Commands(EngineCommands, ChunkBytes),
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

    /// Notes what `port` saw; false if it is not the current port (an older one, already replaced).
    pub(crate) fn saw(&mut self, port: &Port, event: &PortEvent) -> bool {
        if !self.port.as_ref().is_some_and(|it| js_sys::Object::is(it, port)) {
            return false;
        }
        match event {
            PortEvent::Commands(EngineCommands { reply: true, .. }, _) => {
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
        let chunks = take_chunks(&value);
        match convert::from_js::<EngineCommands>(value) {
            Ok(commands) => on_frame(&frame_port, PortEvent::Commands(commands, chunks)),
            Err(err) => {
                web_sys::console::warn_1(&format!("multichat engine: dropped a malformed worker frame: {err}").into())
            }
        }
    });
    let gone_port = port.clone();
    port.on_gone(move || on_event(&gone_port, PortEvent::Gone));
    Ok(port)
}

/// The bytes of a frame's `send_chunk` commands, in order, decoded by the browser
/// (`Uint8Array.fromBase64`); each command's `data` is then left empty. A chunk is 64 KiB, 87 KB of base64:
/// copying that string into wasm and decoding it there was most of the engine's time sending a file.
/// Empty where the browser has no `fromBase64` (the commands keep their base64, decoded in wasm).
#[derive(Default)]
pub(crate) struct ChunkBytes(std::collections::VecDeque<Vec<u8>>);

impl ChunkBytes {
    /// The bytes of the next `send_chunk` command whose `data` was taken; `None` if it kept its base64.
    pub(crate) fn next(&mut self, data: &str) -> Option<Vec<u8>> {
        if data.is_empty() { self.0.pop_front() } else { None }
    }
}

fn take_chunks(frame: &wasm_bindgen::JsValue) -> ChunkBytes {
    use js_sys::{Array, Function, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};
    let mut taken = ChunkBytes::default();
    let class: JsValue = Uint8Array::new_with_length(0).constructor().into();
    let from_base64 = Reflect::get(&class, &"fromBase64".into());
    let Some(from_base64) = from_base64.ok().and_then(|it| it.dyn_into::<Function>().ok()) else { return taken };
    let Some(commands) = Reflect::get(frame, &"commands".into()).ok().and_then(|it| it.dyn_into::<Array>().ok()) else {
        return taken;
    };
    for command in commands.iter() {
        let kind = Reflect::get(&command, &"kind".into()).ok().and_then(|it| it.as_string());
        if kind.as_deref() != Some("send_chunk") {
            continue;
        }
        let Ok(data) = Reflect::get(&command, &"data".into()) else { continue };
        let Ok(bytes) = from_base64.call1(&class, &data) else { continue };
        let Ok(bytes) = bytes.dyn_into::<Uint8Array>() else { continue };
        if bytes.length() == 0 || Reflect::set(&command, &"data".into(), &JsValue::from_str("")).is_err() {
            continue;
        }
        taken.0.push_back(bytes.to_vec());
    }
    taken
}
