//! multichat's engine, its own wasm: the part that holds live connections (the PeerJS signaling WebSocket
//! and the WebRTC data channels). Only the engine host loads it: Chrome's offscreen document
//! (`offscreen.js` calls [`offscreen_main`]) and Firefox's background page (`firefox.js` calls
//! [`page_engine_main`] when the worker first wants the engine). The service worker never carries this code.

mod engine;
mod worker_port;

use wasm_bindgen::prelude::*;

/// Entry point of Chrome's offscreen document: the engine talks to the worker over `chrome.runtime` messages.
#[wasm_bindgen]
pub fn offscreen_main() {
    console_error_panic_hook::set_once();
    engine::start_offscreen();
}

/// Entry point in Firefox's background page, where the worker runs in the same context.
///
/// `report` is the worker's side: it takes one `EngineToWorker` report (a JSON-compatible value) and returns
/// a promise of the `WorkerToEngine` commands that answer it. Returns the engine's side, a function that
/// takes one command.
#[wasm_bindgen]
pub fn page_engine_main(report: js_sys::Function) -> js_sys::Function {
    console_error_panic_hook::set_once();
    engine::start_in_page(report)
}

/// A debug report of the engine's send queues (issue 13's bound on bytes queued per link), read by the
/// end-to-end tests from the engine's page: `{ limit, peak, closed_full, links: [{ connection, peer, queued, peak }] }`
/// in bytes, or null while no peer runs. It holds byte counts only, nothing of what is sent.
#[wasm_bindgen]
pub fn engine_send_queues() -> JsValue {
    engine::send_queue_report()
}
