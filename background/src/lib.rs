//! multichat's background: the service worker (single writer of the user's data) and the engine that
//! holds live connections.
//!
//! `worker.js` instantiates this module synchronously and calls [`service_worker_main`] during the worker's
//! first evaluation, so the listeners exist before Chrome delivers the event that woke the worker.
//! `offscreen.html` loads the same module and calls [`offscreen_main`].

mod engine;
mod worker;

use wasm_bindgen::prelude::*;

/// Entry point of the background service worker (and of Firefox's background page).
#[wasm_bindgen]
pub fn service_worker_main() {
    console_error_panic_hook::set_once();
    worker::start();
}

/// Entry point of Chrome's offscreen document, which hosts the engine.
#[wasm_bindgen]
pub fn offscreen_main() {
    console_error_panic_hook::set_once();
    engine::start_offscreen();
}
