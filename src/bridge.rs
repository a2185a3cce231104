//! The typed bridge between the popup and the background worker.
//!
//! The popup opens a `chrome.runtime` port and sends [`PopupToWorker`] frames; the worker answers each
//! request once with a [`WorkerToPopup::Reply`] carrying the same id, and pushes [`WorkerToPopup::Update`]
//! whenever what the popup shows has changed. The shells move these values with serde-wasm-bindgen in its
//! JSON-compatible mode, so every type here must round-trip through JSON.

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// Name of the `chrome.runtime` port the popup opens to the worker.
pub const POPUP_PORT_NAME: &str = "popup";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// What should the popup show right now?
    GetView,
    SignIn { username: String },
    SignOut,
    SaveSettings { settings: Settings },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    View { view: View },
    /// The request was refused; `message` is written for the user.
    Error { message: String },
}

/// Everything the popup renders. The popup keeps no state of its own beyond what it is typing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub account: Option<AccountView>,
    pub settings: Settings,
    /// Problems the worker met loading storage, worded for the user.
    pub storage_problems: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    pub peer_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopupToWorker {
    pub id: u64,
    pub request: Request,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum WorkerToPopup {
    Reply { id: u64, response: Response },
    Update { view: View },
}
