//! The popup's root: which screen shows, the theme and language it follows, the keyboard shortcuts, and the
//! engine's status line. The screens themselves are in `home.rs`, `chat.rs`, `settings.rs` and
//! `passphrase.rs`; they render the worker's [`View`](multichat_core::bridge::View) and dispatch requests.

use dioxus::prelude::*;
use multichat_core::bridge::{EngineStatus, Request};
use multichat_core::settings::Theme;

use crate::chat::Conversation;
use crate::home::{Home, SignIn};
use crate::i18n::{use_tr, use_tr_provider};
use crate::passphrase::Unlock;
use crate::ui::{ErrorAt, Link, Place, Ui, use_ui_provider};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

#[component]
pub(crate) fn App() -> Element {
    let tr = use_tr_provider();
    let ui = use_ui_provider(tr);

    let current = ui.link();
    let (theme, language) = match &current {
        Link::Ready(view) => (view.settings.theme, view.settings.language.clone()),
        _ => (Theme::System, None),
    };
    use_effect(use_reactive!(|theme| apply_theme(theme)));
    use_effect(use_reactive!(|language| tr.follow(language.as_deref())));
    use_hook(move || listen_for_shortcuts(ui));
    if !tr.ready() {
        return rsx! {};
    }
    let problems = match &current {
        Link::Ready(view) => view.storage_problems.clone(),
        _ => Vec::new(),
    };
    let (body, engine, room_open) = match &current {
        Link::Connecting => (rsx! { p { role: "status", {tr.t("connecting")} } }, None, false),
        Link::Broken { key, detail } => {
            (rsx! { p { role: "alert", class: "error", {tr.f(key, &[detail])} } }, None, false)
        }
        Link::Ready(view) if view.locked => (rsx! { Unlock {} }, Some(view.engine.clone()), false),
        Link::Ready(view) => match (view.account.clone(), view.open_room.clone()) {
            (None, _) => (rsx! { SignIn { settings: view.settings.clone() } }, None, false),
            (Some(_), Some(open)) => (
                rsx! {
                    crate::conversations::ConversationTools { room: open.room.clone() }
                    Conversation { open }
                },
                Some(view.engine.clone()),
                true,
            ),
            (Some(account), None) => (
                rsx! { Home { username: account.username, peer_id: account.peer_id, view: view.clone() } },
                Some(view.engine.clone()),
                false,
            ),
        },
    };
    rsx! {
        div { class: "app",
            header {
                h1 { "multichat" }
                // In the header so it stays in sight in a conversation too: it says why nothing gets delivered.
                if let Some(status) = engine {
                    EngineLine { status }
                }
                // The same page in a tab, where the window does not close when it loses focus. Hidden there.
                a { class: "open-tab", href: "index.html?view=tab", target: "_blank", title: tr.t("open_in_tab"),
                    aria_label: tr.t("open_in_tab"),
                    "↗"
                }
                SidePanelButton {}
            }
            // An open conversation fills the popup and scrolls only its message log.
            main { class: if room_open { "room-open" },
                // Storage problems show on every screen: a damaged record may be the very conversation open.
                for problem in problems {
                    p { role: "alert", class: "error", {tr.say(&problem)} }
                }
                // A refusal with no control of its own shows first, in sight.
                ErrorAt { place: Place::Top }
                {body}
            }
        }
    }
}

/// The keyboard shortcuts, on the whole document (the focus may be on no control at all): Esc goes back from
/// a conversation, Alt+N starts a new one from anywhere (by the key's place, whatever character Alt makes of
/// it: macOS makes "˜"). The listener lives as long as the page.
fn listen_for_shortcuts(mut ui: Ui) {
    let Some(document) = web_sys::window().and_then(|it| it.document()) else { return };
    let listener = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |evt: web_sys::KeyboardEvent| {
        let (signed_in, room_open) = ui.screen();
        if evt.key() == "Escape" && room_open && !evt.is_composing() {
            evt.prevent_default();
            ui.send(Request::SelectRoom { room: None });
        } else if signed_in && evt.alt_key() && evt.code() == "KeyN" {
            evt.prevent_default();
            if room_open {
                ui.send(Request::SelectRoom { room: None });
            }
            ui.focus_start += 1;
        }
    });
    let _ = document.add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
    listener.forget();
}

/// Sets `data-theme` on the document, which the stylesheet's colours follow (none: the system's), and keeps
/// it in this page's `localStorage` (a cache of the worker's setting, not a record), where `theme.js` reads
/// it before the first paint of the next view: a dark choice never opens on a light frame.
fn apply_theme(theme: Theme) {
    let Some(window) = web_sys::window() else { return };
    let Some(root) = window.document().and_then(|it| it.document_element()) else { return };
    let name = match theme {
        Theme::System => None,
        Theme::Light => Some("light"),
        Theme::Dark => Some("dark"),
    };
    let _ = match name {
        None => root.remove_attribute("data-theme"),
        Some(name) => root.set_attribute("data-theme", name),
    };
    // Through `Reflect`: a missing `localStorage` (or one that throws) only costs the cache.
    let Ok(cache) = js_sys::Reflect::get(&window, &"localStorage".into()) else { return };
    let method = if name.is_some() { "setItem" } else { "removeItem" };
    if let Ok(call) = js_sys::Reflect::get(&cache, &method.into()).and_then(|it| it.dyn_into::<js_sys::Function>()) {
        let _ = call.call2(&cache, &THEME_CACHE.into(), &name.unwrap_or_default().into());
    }
}

/// The `localStorage` key `popup/static/theme.js` reads.
const THEME_CACHE: &str = "multichat-theme";

/// "Open in the side panel", where the browser has one for extensions (Chrome's side panel, Firefox's
/// sidebar), except in the side panel itself (hidden by the stylesheet). The page closes itself when it is
/// the toolbar popup: the side panel shows the same live view.
#[component]
fn SidePanelButton() -> Element {
    let tr = use_tr();
    let mut window_id = use_signal(|| None::<f64>);
    let mut failed = use_signal(|| None::<String>);
    // Asked for at once: `sidePanel.open` must be called in the click's handler, before anything awaits.
    use_hook(move || spawn(async move { window_id.set(multichat_web::chrome::current_window_id().await) }));
    if !multichat_web::chrome::has_side_panel() {
        return rsx! {};
    }
    rsx! {
        button { r#type: "button", class: "open-panel", title: tr.t("open_in_side_panel"),
            aria_label: tr.t("open_in_side_panel"),
            onclick: move |_| {
                failed.set(None);
                let opened = multichat_web::chrome::open_side_panel(*window_id.peek());
                spawn(async move {
                    match opened.await {
                        Ok(()) if current_view() == "popup" => {
                            if let Some(window) = web_sys::window() {
                                let _ = window.close();
                            }
                        }
                        Ok(()) => {}
                        Err(err) => failed.set(Some(err.detail)),
                    }
                });
            },
            "◧"
        }
        if let Some(detail) = failed() {
            p { role: "alert", class: "error panel-error", {tr.f("side_panel_failed", &[&detail])} }
        }
    }
}

/// Which view of the page this is (`data-view`, set by `main.js` from the URL): popup, tab or panel.
fn current_view() -> String {
    let root = web_sys::window().and_then(|it| it.document()).and_then(|it| it.document_element());
    root.and_then(|it| it.get_attribute("data-view")).unwrap_or_default()
}

#[component]
fn EngineLine(status: EngineStatus) -> Element {
    let tr = use_tr();
    let (class, text) = match status {
        EngineStatus::Offline => ("status offline", tr.t("status_offline")),
        EngineStatus::Connecting => ("status connecting", tr.t("status_connecting")),
        EngineStatus::Online => ("status online", tr.t("status_online")),
        EngineStatus::Reconnecting { attempt, message } => {
            ("status connecting", tr.f("status_reconnecting", &[&tr.say(&message), &attempt.to_string()]))
        }
        EngineStatus::Failed { message } => ("status failed error", tr.say(&message)),
    };
    rsx! {
        p { role: "status", aria_live: "polite", class: "{class}", "{text}" }
    }
}
