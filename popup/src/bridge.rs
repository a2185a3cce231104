//! The popup's end of the bridge: one port to the worker, requests matched to replies by id.
//!
//! Frames cross the port as the JSON-compatible objects `multichat_core::bridge` describes. The popup reads
//! and writes them as JSON text (`JSON.stringify`/`JSON.parse` and serde_json) through [`WireFrame`]: one
//! flat record per frame, so serde reads the internally tagged enums without buffering the whole view
//! first (the popup's wasm is smaller by that code, and a view is read in one pass).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::JSON;
use multichat_core::bridge::{
    POPUP_PORT_NAME, Phrase, PopupToWorker, Request, Response, SearchResults, View, WorkerToPopup,
};
use multichat_web::ShellError;
use multichat_web::chrome::{self, Port};
use serde::Deserialize;
use wasm_bindgen::JsValue;

type Waiter = Box<dyn FnOnce(Response)>;

/// A connected bridge. Cloning shares the same port.
#[derive(Clone)]
pub(crate) struct Bridge {
    port: Port,
    inner: Rc<RefCell<Pending>>,
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    waiters: HashMap<u64, Waiter>,
}

impl Bridge {
    /// Connects to the worker; `on_update` receives every view the worker pushes, and `on_gone` is called
    /// if the worker end of the port disconnects.
    pub(crate) fn connect(
        mut on_update: impl FnMut(View) + 'static,
        on_gone: impl FnOnce() + 'static,
    ) -> Result<Bridge, ShellError> {
        let port = chrome::connect(POPUP_PORT_NAME)?;
        let inner: Rc<RefCell<Pending>> = Rc::default();
        let frame_inner = inner.clone();
        port.on_frame(move |value| match decode(&value) {
            Ok(WorkerToPopup::Reply { id, response }) => {
                let waiter = frame_inner.borrow_mut().waiters.remove(&id);
                if let Some(waiter) = waiter {
                    waiter(response);
                }
            }
            Ok(WorkerToPopup::Update { view }) => on_update(*view),
            Err(err) => web_sys::console::warn_1(&format!("multichat: malformed worker frame: {err}").into()),
        });
        port.on_gone(on_gone);
        Ok(Bridge { port, inner })
    }

    /// Sends `request`; `on_reply` runs with the worker's response.
    pub(crate) fn send(&self, request: Request, on_reply: impl FnOnce(Response) + 'static) -> Result<(), ShellError> {
        let id = {
            let mut pending = self.inner.borrow_mut();
            pending.next_id += 1;
            let id = pending.next_id;
            pending.waiters.insert(id, Box::new(on_reply));
            id
        };
        let sent = encode(&PopupToWorker { id, request }).and_then(|value| self.port.post_value(&value));
        if sent.is_err() {
            self.inner.borrow_mut().waiters.remove(&id);
        }
        sent
    }
}

fn encode(frame: &PopupToWorker) -> Result<JsValue, ShellError> {
    let text = serde_json::to_string(frame).map_err(|err| ShellError::new("encoding a request", err.to_string()))?;
    JSON::parse(&text).map_err(|err| ShellError::from_js("JSON.parse", &err))
}

fn decode(value: &JsValue) -> Result<WorkerToPopup, String> {
    let text = JSON::stringify(value).ok().and_then(|text| text.as_string()).ok_or("not JSON")?;
    let frame: WireFrame = serde_json::from_str(&text).map_err(|err| err.to_string())?;
    frame.into_frame().ok_or_else(|| "a field is missing".to_owned())
}

/// [`WorkerToPopup`] as it is on the wire (`frame` is its tag), every variant's fields optional.
#[derive(Deserialize)]
struct WireFrame {
    frame: FrameKind,
    id: Option<u64>,
    response: Option<WireResponse>,
    view: Option<Box<View>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FrameKind {
    Reply,
    Update,
}

/// [`Response`] as it is on the wire (`kind` is its tag).
#[derive(Deserialize)]
struct WireResponse {
    kind: ResponseKind,
    view: Option<Box<View>>,
    message: Option<Phrase>,
    file_name: Option<String>,
    json: Option<String>,
    results: Option<SearchResults>,
    name: Option<String>,
    mime: Option<String>,
    data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResponseKind {
    View,
    Error,
    Export,
    Search,
    File,
}

impl WireFrame {
    fn into_frame(self) -> Option<WorkerToPopup> {
        Some(match self.frame {
            FrameKind::Update => WorkerToPopup::Update { view: self.view? },
            FrameKind::Reply => {
                let response = self.response?;
                let response = match response.kind {
                    ResponseKind::View => Response::View { view: response.view? },
                    ResponseKind::Error => Response::Error { message: response.message? },
                    ResponseKind::Export => Response::Export { file_name: response.file_name?, json: response.json? },
                    ResponseKind::Search => Response::Search { results: response.results? },
                    ResponseKind::File => {
                        Response::File { name: response.name?, mime: response.mime?, data: response.data? }
                    }
                };
                WorkerToPopup::Reply { id: self.id?, response }
            }
        })
    }
}
