//! The extension APIs multichat uses, and the only module that names `chrome.*`.
//!
//! Chromium and Firefox (MV3) both expose the `chrome` namespace with promise-returning methods.
//! Listener closures are kept alive by the returned [`Listener`] guards or deliberately leaked for listeners
//! that live as long as the context that registered them.

use std::collections::BTreeMap;

use js_sys::{Array, Function, Object, Reflect};
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

    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = sendMessage, catch)]
    async fn runtime_send_message(message: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(thread_local_v2, js_namespace = ["chrome", "runtime"], js_name = onMessage)]
    static RUNTIME_ON_MESSAGE: ChromeEvent;

    #[wasm_bindgen(js_namespace = ["chrome", "offscreen"], js_name = createDocument, catch)]
    async fn offscreen_create_document(parameters: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "offscreen"], js_name = hasDocument, catch)]
    async fn offscreen_has_document() -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setBadgeText, catch)]
    async fn action_set_badge_text(details: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setBadgeBackgroundColor, catch)]
    async fn action_set_badge_background_color(details: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["chrome", "notifications"], js_name = create, catch)]
    async fn notifications_create(id: &str, options: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "notifications"], js_name = clear, catch)]
    async fn notifications_clear(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(thread_local_v2, js_namespace = ["chrome", "notifications"], js_name = onClicked)]
    static NOTIFICATIONS_ON_CLICKED: ChromeEvent;

    #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = openPopup, catch)]
    async fn action_open_popup() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = create, catch)]
    async fn tabs_create(properties: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = get, catch)]
    async fn storage_local_get(keys: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = set, catch)]
    async fn storage_local_set(items: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = remove, catch)]
    async fn storage_local_remove(keys: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = get, catch)]
    async fn storage_session_get(keys: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = set, catch)]
    async fn storage_session_set(items: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = remove, catch)]
    async fn storage_session_remove(keys: &JsValue) -> Result<JsValue, JsValue>;
}

impl Port {
    /// Sends a serializable frame. Fails if the other end has gone away.
    pub fn post<T: serde::Serialize>(&self, frame: &T) -> Result<(), ShellError> {
        let value = convert::to_js(frame)?;
        self.post_message_raw(&value).map_err(|err| ShellError::from_js("port.postMessage", &err))
    }

    /// Sends a frame already made into a JS value. Fails if the other end has gone away.
    pub fn post_value(&self, value: &JsValue) -> Result<(), ShellError> {
        self.post_message_raw(value).map_err(|err| ShellError::from_js("port.postMessage", &err))
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

/// Reads the records stored under `keys` (absent keys are simply missing from the snapshot).
pub async fn storage_read(keys: &[String]) -> Result<Snapshot, ShellError> {
    let items = storage_local_get(&convert::to_js(keys)?)
        .await
        .map_err(|err| ShellError::from_js("storage.local.get", &err))?;
    let records: BTreeMap<String, serde_json::Value> = convert::from_js(items)?;
    Ok(Snapshot(records))
}

/// Reads every record in storage (`get(null)`): for the user's data export, and for sealing or opening the
/// whole history at once.
pub async fn storage_read_all() -> Result<Snapshot, ShellError> {
    let items =
        storage_local_get(&JsValue::NULL).await.map_err(|err| ShellError::from_js("storage.local.get", &err))?;
    let records: BTreeMap<String, serde_json::Value> = convert::from_js(items)?;
    Ok(Snapshot(records))
}

/// Reads a string kept in `chrome.storage.session`: memory only, gone when the browser closes, and (at its
/// default access level) readable by the extension's own pages only, never by content scripts.
pub async fn session_get(key: &str) -> Result<Option<String>, ShellError> {
    let items = storage_session_get(&JsValue::from_str(key))
        .await
        .map_err(|err| ShellError::from_js("storage.session.get", &err))?;
    let value = Reflect::get(&items, &JsValue::from_str(key))
        .map_err(|err| ShellError::from_js("storage.session.get", &err))?;
    Ok(value.as_string())
}

/// Keeps a string in `chrome.storage.session` (see [`session_get`]).
pub async fn session_set(key: &str, value: &str) -> Result<(), ShellError> {
    let items = Object::new();
    Reflect::set(&items, &key.into(), &value.into()).map_err(|err| ShellError::from_js("storage.session.set", &err))?;
    storage_session_set(&items).await.map_err(|err| ShellError::from_js("storage.session.set", &err))?;
    Ok(())
}

pub async fn session_remove(key: &str) -> Result<(), ShellError> {
    storage_session_remove(&JsValue::from_str(key))
        .await
        .map_err(|err| ShellError::from_js("storage.session.remove", &err))?;
    Ok(())
}

/// Applies writes in order; stops at the first failure (e.g. quota exceeded) and reports it.
pub async fn storage_apply(writes: &[StorageWrite]) -> Result<(), ShellError> {
    // Consecutive sets go out as one `set` call, which Chrome stores as one transaction: a message page and
    // the room meta that indexes it land together or not at all, even if the browser dies in between.
    let mut index = 0;
    while index < writes.len() {
        match &writes[index] {
            StorageWrite::Set { .. } => {
                let items = Object::new();
                while let Some(StorageWrite::Set { key, value }) = writes.get(index) {
                    Reflect::set(&items, &key.into(), &convert::to_js(value)?)
                        .map_err(|err| ShellError::from_js("storage.local.set", &err))?;
                    index += 1;
                }
                storage_local_set(&items).await.map_err(|err| ShellError::from_js("storage.local.set", &err))?;
            }
            StorageWrite::Remove { .. } => {
                let keys = Array::new();
                while let Some(StorageWrite::Remove { key }) = writes.get(index) {
                    keys.push(&JsValue::from_str(key));
                    index += 1;
                }
                storage_local_remove(&keys).await.map_err(|err| ShellError::from_js("storage.local.remove", &err))?;
            }
        }
    }
    Ok(())
}

/// Registers a `chrome.runtime.onMessage` listener for the life of this context. `handler` gets each
/// message and returns the reply to send back, or `None` to leave the message to other listeners.
/// Replies may be computed asynchronously, so the listener keeps the channel open (returns `true`).
pub fn on_message<F, Fut>(mut handler: F)
where
    F: FnMut(JsValue) -> Option<Fut> + 'static,
    Fut: std::future::Future<Output = JsValue> + 'static,
{
    let closure = Closure::<dyn FnMut(JsValue, JsValue, Function) -> bool>::new(
        move |message: JsValue, _sender: JsValue, send_response: Function| match handler(message) {
            Some(reply) => {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = send_response.call1(&JsValue::NULL, &reply.await);
                });
                true
            }
            None => false,
        },
    );
    RUNTIME_ON_MESSAGE.with(|event| event.add_listener(closure.as_ref().unchecked_ref()));
    closure.forget();
}

/// Sends a message to the extension's other contexts and waits for the first reply.
/// Fails when no context listens (e.g. the offscreen document has not started yet).
pub async fn send_message<T: serde::Serialize>(message: &T) -> Result<JsValue, ShellError> {
    let value = convert::to_js(message)?;
    runtime_send_message(&value).await.map_err(|err| ShellError::from_js("runtime.sendMessage", &err))
}

/// True where this browser offers offscreen documents (Chrome); Firefox runs the engine in its background page.
pub fn has_offscreen_api() -> bool {
    let chrome = Reflect::get(&js_sys::global(), &"chrome".into()).unwrap_or(JsValue::UNDEFINED);
    Reflect::get(&chrome, &"offscreen".into()).is_ok_and(|it| !it.is_undefined())
}

/// Creates the offscreen document that hosts the WebRTC engine, unless it exists already.
pub async fn ensure_offscreen_document(path: &str, justification: &str) -> Result<(), ShellError> {
    let exists = offscreen_has_document().await.map_err(|err| ShellError::from_js("offscreen.hasDocument", &err))?;
    if exists.as_bool() == Some(true) {
        return Ok(());
    }
    let parameters = convert::to_js(&serde_json::json!({
        "url": path,
        "reasons": ["WEB_RTC"],
        "justification": justification,
    }))?;
    match offscreen_create_document(&parameters).await {
        Ok(_) => Ok(()),
        // Two callers raced; the other one created it.
        Err(err) if ShellError::from_js("", &err).detail.contains("single offscreen") => Ok(()),
        Err(err) => Err(ShellError::from_js("offscreen.createDocument", &err)),
    }
}

/// Shows `text` on the toolbar icon (empty clears it).
pub async fn set_badge(text: &str) -> Result<(), ShellError> {
    let color = convert::to_js(&serde_json::json!({ "color": "#2563eb" }))?;
    action_set_badge_background_color(&color)
        .await
        .map_err(|err| ShellError::from_js("action.setBadgeBackgroundColor", &err))?;
    let details = convert::to_js(&serde_json::json!({ "text": text }))?;
    action_set_badge_text(&details).await.map_err(|err| ShellError::from_js("action.setBadgeText", &err))?;
    Ok(())
}

/// Shows a system notification; `id` replaces an earlier one with the same id.
pub async fn notify(id: &str, title: &str, message: &str) -> Result<(), ShellError> {
    let options = convert::to_js(&serde_json::json!({
        "type": "basic",
        "iconUrl": runtime_get_url("popup/icons/icon-128.png"),
        "title": title,
        "message": message,
    }))?;
    notifications_create(id, &options).await.map_err(|err| ShellError::from_js("notifications.create", &err))?;
    Ok(())
}

/// Registers a `chrome.notifications.onClicked` listener (it gets the clicked notification's id) for the life
/// of this context. Like [`on_connect`], it must run during the service worker's first evaluation.
pub fn on_notification_clicked(listener: impl FnMut(String) + 'static) {
    let closure = Closure::<dyn FnMut(String)>::new(listener);
    NOTIFICATIONS_ON_CLICKED.with(|event| event.add_listener(closure.as_ref().unchecked_ref()));
    closure.forget();
}

/// Takes a notification off the screen.
pub async fn clear_notification(id: &str) -> Result<(), ShellError> {
    notifications_clear(id).await.map_err(|err| ShellError::from_js("notifications.clear", &err))?;
    Ok(())
}

/// Opens the extension's popup where the browser allows it without a click on the toolbar button
/// (`action.openPopup`: Chrome 127 and later with a window to show it in).
pub async fn open_popup() -> Result<(), ShellError> {
    action_open_popup().await.map_err(|err| ShellError::from_js("action.openPopup", &err))?;
    Ok(())
}

/// Opens an extension page (a path inside the extension) in a new tab, and focuses it.
pub async fn open_tab(path: &str) -> Result<(), ShellError> {
    let properties = convert::to_js(&serde_json::json!({ "url": runtime_get_url(path), "active": true }))?;
    tabs_create(&properties).await.map_err(|err| ShellError::from_js("tabs.create", &err))?;
    Ok(())
}

/// The `chrome.<namespace>` object, if this browser has it.
fn chrome_namespace(namespace: &str) -> Option<Object> {
    let chrome = Reflect::get(&js_sys::global(), &"chrome".into()).ok()?;
    Reflect::get(&chrome, &namespace.into()).ok()?.dyn_into::<Object>().ok()
}

/// True where this browser gives extensions a side panel: Chrome's `sidePanel.open` (Chrome 116 and later),
/// Firefox's `sidebarAction.open`.
pub fn has_side_panel() -> bool {
    let opener = |namespace: &str| {
        chrome_namespace(namespace)
            .and_then(|it| Reflect::get(&it, &"open".into()).ok())
            .is_some_and(|it| it.is_function())
    };
    opener("sidePanel") || opener("sidebarAction")
}

/// The id of the browser window this page is in (`windows.getCurrent`), which Chrome's `sidePanel.open` needs.
pub async fn current_window_id() -> Option<f64> {
    let windows = chrome_namespace("windows")?;
    let get_current: Function = Reflect::get(&windows, &"getCurrent".into()).ok()?.dyn_into().ok()?;
    let promise: js_sys::Promise = get_current.call0(&windows).ok()?.dyn_into().ok()?;
    let window = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    Reflect::get(&window, &"id".into()).ok()?.as_f64()
}

/// Opens the extension's side panel: in window `window_id` with Chrome's `sidePanel.open`, else Firefox's
/// `sidebarAction.open`. Both browsers refuse without a user gesture, so call it from the click's handler
/// before anything awaits: the call is made before this returns, and the future only waits for the answer.
pub fn open_side_panel(window_id: Option<f64>) -> impl std::future::Future<Output = Result<(), ShellError>> {
    let called = (|| {
        if let (Some(side_panel), Some(window_id)) = (chrome_namespace("sidePanel"), window_id) {
            let open: Function = Reflect::get(&side_panel, &"open".into())?.dyn_into()?;
            let options = Object::new();
            Reflect::set(&options, &"windowId".into(), &JsValue::from_f64(window_id))?;
            return open.call1(&side_panel, &options);
        }
        let sidebar = chrome_namespace("sidebarAction").ok_or_else(|| JsValue::from_str("no side panel here"))?;
        let open: Function = Reflect::get(&sidebar, &"open".into())?.dyn_into()?;
        open.call0(&sidebar)
    })();
    async move {
        let promise: js_sys::Promise =
            called.and_then(|it| it.dyn_into()).map_err(|err| ShellError::from_js("sidePanel.open", &err))?;
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|err| ShellError::from_js("sidePanel.open", &err))?;
        Ok(())
    }
}
