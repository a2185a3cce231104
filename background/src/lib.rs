//! multichat's background service worker: the single writer of the user's data. The engine that holds live
//! connections is another wasm (crate `multichat-engine`); this one only knows how to reach it.
//!
//! `worker.js` instantiates this module synchronously and calls [`service_worker_main`] during the worker's
//! first evaluation, so the listeners exist before Chrome delivers the event that woke the worker.

mod engine;
mod words;
mod worker;
mod worker_storage;

use wasm_bindgen::prelude::*;

/// Entry point of the background service worker (and of Firefox's background page).
#[wasm_bindgen]
pub fn service_worker_main() {
    console_error_panic_hook::set_once();
    worker::start();
}
