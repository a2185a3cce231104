//! The extension APIs multichat uses, and the only module that names `chrome.*`.
//!
//! Chromium and Firefox (MV3) both expose the `chrome` namespace with promise-returning methods.
//! Listener closures are kept alive by the returned [`Listener`] guards or deliberately leaked for listeners
//! that live as long as the context that registered them.

use std::collections::BTreeMap;

use js_sys::{Function, Object, Reflect};
use multichat_core::storage::{Snapshot, StorageWrite};
use wasm_bindgen::prelude::*;

use crate::{ShellError, convert};

#[wasm_bindgen]
extern "C" {
    /// A `chrome.runtime.Port`.
    #[derive(Clone, Debug)]
    pub type Port;
    #[wasm_bindgen(method, getter)]
    pub fn name(this: &Port) -> String;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    fn post_message_raw(this: &Port, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_name = disconnect)]
    pub fn disconnect(this: &Port);
    #[wasm_bindgen(method, getter, js_name = onMessage)]
    fn on_message(this: &Port) -> ChromeEvent;
    #[wasm_bindgen(method, getter, js_name = onDisconnect)]
    fn on_disconnect(this: &Port) -> ChromeEvent;

    /// Any `chrome.events.Event`.
    type ChromeEvent;
    #[wasm_bindgen(method, js_name = addListener)]
    fn add_listener(this: &ChromeEvent, listener: &Function);

    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = connect, catch)]
    fn runtime_connect(info: &JsValue) -> Result<Port, JsValue>;
    #[wasm_bindgen(thread_local_v2, js_namespace = ["chrome", "runtime"], js_name = onConnect)]
    static RUNTIME_ON_CONNECT: ChromeEvent;
    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getURL)]
    pub fn runtime_get_url(path: &str) -> String;

    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = get, catch)]
    async fn storage_local_get(keys: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = set, catch)]
    async fn storage_local_set(items: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = remove, catch)]
    async fn storage_local_remove(keys: &JsValue) -> Result<JsValue, JsValue>;
}

impl Port {
    /// Sends a serializable frame. Fails if the other end has gone away.
    pub fn post<T: serde::Serialize>(&self, frame: &T) -> Result<(), ShellError> {
        let value = convert::to_js(frame)?;
        self.post_message_raw(&value).map_err(|err| ShellError::from_js("port.postMessage", &err))
    }

    /// Calls `on_frame` with every message that arrives; the closure lives as long as the port's context.
    pub fn on_frame(&self, on_frame: impl FnMut(JsValue) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(on_frame);
        self.on_message().add_listener(closure.as_ref().unchecked_ref());
        closure.forget();
    }

    /// Calls `on_gone` once when the other end disconnects.
    pub fn on_gone(&self, on_gone: impl FnOnce() + 'static) {
        let closure = Closure::once(on_gone);
        self.on_disconnect().add_listener(closure.as_ref().unchecked_ref());
        closure.forget();
    }
}

/// Opens a port to the extension's background context.
pub fn connect(name: &str) -> Result<Port, ShellError> {
    let info = Object::new();
    Reflect::set(&info, &"name".into(), &name.into()).map_err(|err| ShellError::from_js("runtime.connect", &err))?;
    runtime_connect(&info).map_err(|err| ShellError::from_js("runtime.connect", &err))
}

/// Registers a `chrome.runtime.onConnect` listener for the life of this context. Must run during the
/// service worker's first evaluation, or the event that woke the worker is missed.
pub fn on_connect(listener: impl FnMut(Port) + 'static) {
    let closure = Closure::<dyn FnMut(Port)>::new(listener);
    RUNTIME_ON_CONNECT.with(|event| event.add_listener(closure.as_ref().unchecked_ref()));
    closure.forget();
}

/// Reads every record in `chrome.storage.local`.
pub async fn storage_load_all() -> Result<Snapshot, ShellError> {
    let items = storage_local_get(&JsValue::NULL).await.map_err(|err| ShellError::from_js("storage.local.get", &err))?;
    let records: BTreeMap<String, serde_json::Value> = convert::from_js(items)?;
    Ok(Snapshot(records))
}

/// Applies writes in order; stops at the first failure (e.g. quota exceeded) and reports it.
pub async fn storage_apply(writes: &[StorageWrite]) -> Result<(), ShellError> {
    for write in writes {
        match write {
            StorageWrite::Set { key, value } => {
                let items = Object::new();
                Reflect::set(&items, &key.into(), &convert::to_js(value)?)
                    .map_err(|err| ShellError::from_js("storage.local.set", &err))?;
                storage_local_set(&items).await.map_err(|err| ShellError::from_js("storage.local.set", &err))?;
            }
            StorageWrite::Remove { key } => {
                storage_local_remove(&JsValue::from_str(key))
                    .await
                    .map_err(|err| ShellError::from_js("storage.local.remove", &err))?;
            }
        }
    }
    Ok(())
}
