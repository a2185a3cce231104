//! multichat's toolbar popup (also opened in a tab or the browser's side panel: the same page).
//!
//! The popup owns nothing: it renders the [`View`](multichat_core::bridge::View) the background worker
//! sends and turns clicks into bridge requests. Closing it loses nothing: even a draft is kept by the worker.
//! Its words come from the `_locales` catalogues (`i18n.rs`).

mod app;
mod bridge;
mod chat;
mod conversations;
mod download;
mod files;
mod home;
mod i18n;
mod message_actions;
mod passphrase;
mod requests;
mod search;
mod settings;
mod ui;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn popup_main() {
    console_error_panic_hook::set_once();
    dioxus::launch(app::App);
}
