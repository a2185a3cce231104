//! Chrome's lane between the offscreen engine and the service worker: ServiceWorker messaging
//! (`ServiceWorker.postMessage` one way, `Client.postMessage` back), which carries values by structured clone.
//!
//! `chrome.runtime` ports carry JSON only, through the browser process: a 64 KiB file chunk went as 87 KB of
//! base64 text, encoded, stringified, relayed, parsed and decoded on every hop, and on a two-core machine that
//! work competed with the data channel itself (issue 15). Here a chunk is a `Uint8Array`.
//!
//! The engine's port stays open beside this lane: it still tells the engine when the worker stopped (a lane
//! has no such signal) and the worker when the engine's page went away. `worker.js` keeps what arrives on the
//! lane before the worker's wasm is up, as it keeps ports.

use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::ShellError;

/// The box `worker.js` fills: `{ kept: [MessageEvent], take: null | function(MessageEvent) }`.
const WORKER_BOX: &str = "multichatEngineLane";

/// The page the lane takes frames from: the offscreen document's path.
const ENGINE_PAGE: &str = "/background/offscreen.html";

/// The engine's page as the worker sees it: where the answers and commands go.
#[derive(Clone)]
pub struct EngineClient(web_sys::Client);

impl EngineClient {
    /// Posts a value (structured clone). Fails if the page is gone.
    pub fn post(&self, value: &JsValue) -> Result<(), ShellError> {
        self.0.post_message(value).map_err(|err| ShellError::from_js("client.postMessage", &err))
    }

    pub fn is(&self, other: &EngineClient) -> bool {
        self.0.id() == other.0.id()
    }
}

/// Worker: calls `on_frame` with every frame the engine's page posts (and first with those `worker.js` kept),
/// with the page to answer. Frames from any other page are dropped.
pub fn on_engine_frame(mut on_frame: impl FnMut(JsValue, EngineClient) + 'static) -> Result<(), ShellError> {
    let lane = js_sys::Reflect::get(&js_sys::global(), &WORKER_BOX.into())
        .ok()
        .filter(|it| it.is_object())
        .ok_or_else(|| ShellError::new("the engine lane", format!("no {WORKER_BOX} in this worker")))?;
    let take =
        Closure::<dyn FnMut(web_sys::ExtendableMessageEvent)>::new(move |event: web_sys::ExtendableMessageEvent| {
            let Some(client) = event.source().and_then(|it| it.dyn_into::<web_sys::Client>().ok()) else { return };
            let from_engine = web_sys::Url::new(&client.url()).is_ok_and(|url| url.pathname() == ENGINE_PAGE);
            if !from_engine {
                return;
            }
            on_frame(event.data(), EngineClient(client));
        });
    let kept = js_sys::Reflect::get(&lane, &"kept".into()).ok().and_then(|it| it.dyn_into::<js_sys::Array>().ok());
    js_sys::Reflect::set(&lane, &"take".into(), take.as_ref())
        .map_err(|err| ShellError::from_js("the engine lane", &err))?;
    let function: &js_sys::Function = take.as_ref().unchecked_ref();
    let kept = kept
        .map(|it| {
            let taken = it.slice(0, it.length());
            it.set_length(0);
            taken
        })
        .unwrap_or_default();
    for event in kept.iter() {
        let _ = function.call1(&JsValue::NULL, &event);
    }
    // The worker listens for as long as it runs.
    take.forget();
    Ok(())
}

fn container() -> Option<web_sys::ServiceWorkerContainer> {
    web_sys::window().map(|it| it.navigator().service_worker())
}

/// Engine: posts a value to the worker that controls this page; false when none does (then the port
/// carries it). Posting wakes a stopped worker.
pub fn post_to_worker(value: &JsValue) -> Result<bool, ShellError> {
    let Some(worker) = container().and_then(|it| it.controller()) else { return Ok(false) };
    worker.post_message(value).map_err(|err| ShellError::from_js("serviceWorker.postMessage", &err))?;
    Ok(true)
}

/// Engine: calls `on_frame` with every value the worker posts to this page.
pub fn on_worker_frame(on_frame: impl FnMut(JsValue) + 'static) {
    let Some(container) = container() else { return };
    let mut on_frame = on_frame;
    let listener =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| on_frame(event.data()));
    container.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    // The page listens for as long as it lives.
    listener.forget();
}
