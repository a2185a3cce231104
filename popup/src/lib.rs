//! multichat's toolbar popup.
//!
//! The popup owns nothing: it renders the [`View`](multichat_core::bridge::View) the background worker
//! sends and turns clicks into bridge requests. Closing it loses nothing.

mod app;
mod bridge;
mod chat;
mod download;
mod message_actions;
mod passphrase;
mod requests;
mod search;
mod ui;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn popup_main() {
    console_error_panic_hook::set_once();
    dioxus::launch(app::App);
}
