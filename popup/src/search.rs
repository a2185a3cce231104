//! Search across every conversation: a field on the home screen (the "Search messages" button, or "/" or
//! Ctrl+K anywhere on it), results listing the conversation, the time and a snippet with the hit marked;
//! the arrow keys move through them and Enter (or a click) opens the message in its conversation, where it
//! is marked and scrolled into view.
//!
//! The worker searches ([`Request::Search`]); the popup only shows what it answers, and only the answer to
//! what is typed now (a slower answer to an older query is dropped).

use dioxus::prelude::*;
use multichat_core::bridge::{Request, Response, SearchHit, SearchResults};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::i18n::{Tr, use_tr};
use crate::ui::use_ui;

const FIELD_ID: &str = "search-field";
const LIST_ID: &str = "search-results";

/// The search field and its results, on the home screen.
#[component]
pub(crate) fn SearchPanel() -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut open = use_signal(|| false);
    let mut query = use_signal(String::new);
    let mut results = use_signal(|| None::<SearchResults>);
    let mut waiting = use_signal(|| false);
    let mut selected = use_signal(|| 0usize);
    let mut failed = use_signal(|| None::<String>);

    let ask = use_callback(move |text: String| {
        waiting.set(true);
        failed.set(None);
        ui.ask(Request::Search { query: text.clone() }, move |response| {
            // Only the answer to what is typed now is shown.
            if *query.peek() != text {
                return;
            }
            waiting.set(false);
            match response {
                Response::Search { results: found } => {
                    results.set(Some(found));
                    selected.set(0);
                }
                Response::Error { message } => failed.set(Some(tr.say(&message))),
                _ => {}
            }
        });
    });
    let show = use_callback(move |()| {
        if !*open.peek() {
            open.set(true);
            // Builds the index while the user types the first letters.
            ask.call(query.peek().clone());
        }
        focus_field();
    });
    // "/" or Ctrl+K on the home screen opens the field (not while typing in another one).
    let shortcut = use_hook(move || Shortcut::install(move || show.call(())));
    use_drop(move || shortcut.remove());
    use_effect(move || {
        if open() {
            focus_field();
        }
    });

    let hits = results().map(|it| it.hits).unwrap_or_default();
    let count = hits.len();
    let open_hit = move |index: usize| {
        let hits = results.peek().as_ref().map(|it| it.hits.clone()).unwrap_or_default();
        if let Some(hit) = hits.get(index) {
            ui.send(Request::ShowMessage { room: hit.room.clone(), id: hit.id.clone() });
        }
    };
    let status = status_text(tr, &query(), waiting(), results().as_ref(), failed());
    // Which query the listed results answer (tests wait for it).
    let answered = results().map(|it| it.query).unwrap_or_default();
    let active = (count > 0).then(|| format!("search-hit-{}", selected().min(count - 1)));
    rsx! {
        section { class: "search", aria_label: tr.t("search_messages"),
            if !open() {
                button {
                    r#type: "button",
                    class: "secondary search-open",
                    "aria-keyshortcuts": "/ Control+K",
                    onclick: move |_| show.call(()),
                    {tr.t("search_messages")}
                }
            } else {
                div { class: "row",
                    input {
                        id: FIELD_ID,
                        r#type: "search",
                        role: "combobox",
                        aria_label: tr.t("search_messages"),
                        "aria-controls": LIST_ID,
                        "aria-expanded": if count > 0 { "true" } else { "false" },
                        "aria-activedescendant": active.unwrap_or_default(),
                        placeholder: tr.t("search_placeholder"),
                        autocomplete: "off",
                        spellcheck: false,
                        value: "{query}",
                        oninput: move |evt| {
                            query.set(evt.value());
                            ask.call(evt.value());
                        },
                        onkeydown: move |evt: KeyboardEvent| match evt.key() {
                            Key::ArrowDown if count > 0 => {
                                evt.prevent_default();
                                selected.set((selected() + 1).min(count - 1));
                                scroll_hit_into_view(selected());
                            }
                            Key::ArrowUp if count > 0 => {
                                evt.prevent_default();
                                selected.set(selected().saturating_sub(1));
                                scroll_hit_into_view(selected());
                            }
                            Key::Enter if !evt.is_composing() => {
                                evt.prevent_default();
                                open_hit(selected());
                            }
                            Key::Escape => {
                                evt.prevent_default();
                                open.set(false);
                                query.set(String::new());
                                results.set(None);
                            }
                            _ => {}
                        },
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        onclick: move |_| {
                            open.set(false);
                            query.set(String::new());
                            results.set(None);
                        },
                        {tr.t("close")}
                    }
                }
                if let Some(status) = status {
                    p { class: "search-status", role: "status", "data-query": "{answered}", "{status}" }
                }
                if count > 0 {
                    ul { id: LIST_ID, class: "search-results", role: "listbox", aria_label: tr.t("messages_found"),
                        for (index, hit) in hits.into_iter().enumerate() {
                            HitItem {
                                key: "{hit.room}/{hit.id}",
                                hit,
                                index,
                                selected: index == selected(),
                                on_open: open_hit,
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn HitItem(hit: SearchHit, index: usize, selected: bool, on_open: EventHandler<usize>) -> Element {
    let tr = use_tr();
    let sender = if hit.mine { tr.t("you") } else { hit.sender.clone() };
    let when = short_date(tr, hit.timestamp);
    let snippet = hit.snippet.clone();
    rsx! {
        li {
            id: "search-hit-{index}",
            class: if selected { "search-hit selected" } else { "search-hit" },
            role: "option",
            "aria-selected": if selected { "true" } else { "false" },
            onclick: move |_| on_open.call(index),
            div { class: "hit-meta",
                span { class: "hit-room", if hit.is_group { "# " } "{hit.room_title}" }
                span { class: "hit-sender", "{sender}" }
                if let Some(when) = when {
                    span { class: "hit-time", "{when}" }
                }
            }
            p { class: "hit-text",
                span { "{snippet.before}" }
                mark { "{snippet.matched}" }
                span { "{snippet.after}" }
            }
        }
    }
}

/// "Show the latest messages", below a conversation opened around a search hit.
#[component]
pub(crate) fn ShowLatest(room: String) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        button {
            r#type: "button",
            class: "newer secondary",
            onclick: move |_| ui.send(Request::SelectRoom { room: Some(room.clone()) }),
            {tr.t("show_latest")}
        }
    }
}

/// Scrolls the message a search opened into the middle of the conversation's log.
pub(crate) fn scroll_to_message(id: &str) {
    let Some(element) = document().and_then(|it| it.get_element_by_id(&message_element_id(id))) else { return };
    let options = web_sys::ScrollIntoViewOptions::new();
    options.set_block(web_sys::ScrollLogicalPosition::Center);
    element.scroll_into_view_with_scroll_into_view_options(&options);
}

/// The DOM id of a message in the conversation's log.
pub(crate) fn message_element_id(id: &str) -> String {
    format!("message-{id}")
}

fn status_text(
    tr: Tr,
    query: &str,
    waiting: bool,
    results: Option<&SearchResults>,
    failed: Option<String>,
) -> Option<String> {
    if let Some(message) = failed {
        return Some(message);
    }
    if query.trim().is_empty() {
        return None;
    }
    if waiting && results.is_none_or(|it| it.query != query) {
        return Some(tr.t("searching"));
    }
    let results = results?;
    let mut text = match (results.hits.len(), results.more) {
        (0, _) => tr.f("search_none", &[query.trim()]),
        (1, false) => tr.t("search_one"),
        (n, false) => tr.f("search_many", &[&n.to_string()]),
        (n, true) => tr.f("search_more", &[&n.to_string()]),
    };
    if results.left_out > 0 {
        text.push(' ');
        text.push_str(&tr.f("search_left_out", &[&results.left_out.to_string()]));
    }
    Some(text)
}

fn focus_field() {
    let field = document().and_then(|it| it.get_element_by_id(FIELD_ID));
    if let Some(field) = field.and_then(|it| it.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = field.focus();
    }
}

fn scroll_hit_into_view(index: usize) {
    if let Some(element) = document().and_then(|it| it.get_element_by_id(&format!("search-hit-{index}"))) {
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Nearest);
        element.scroll_into_view_with_scroll_into_view_options(&options);
    }
}

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

/// A message's date and time in the popup's language; `None` beyond what a JS date holds (a peer's clock).
fn short_date(tr: Tr, timestamp: u64) -> Option<String> {
    const MAX_DATE_MS: u64 = 8_640_000_000_000_000;
    if timestamp > MAX_DATE_MS {
        return None;
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp as f64));
    let options = js_sys::Object::new();
    for (name, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
        let _ = js_sys::Reflect::set(&options, &name.into(), &value.into());
    }
    Some(String::from(date.to_locale_string(&tr.locale(), &options)))
}

/// The keyboard shortcut's listener on the document, removed when the home screen goes.
#[derive(Clone)]
struct Shortcut(Option<std::rc::Rc<KeyListener>>);

type KeyListener = Closure<dyn FnMut(web_sys::KeyboardEvent)>;

impl Shortcut {
    fn install(mut open: impl FnMut() + 'static) -> Shortcut {
        let closure = KeyListener::new(move |evt: web_sys::KeyboardEvent| {
            let typing = evt
                .target()
                .and_then(|it| it.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|it| matches!(it.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            let slash = evt.key() == "/" && !typing;
            let ctrl_k = evt.key().eq_ignore_ascii_case("k") && (evt.ctrl_key() || evt.meta_key());
            if slash || ctrl_k {
                evt.prevent_default();
                open();
            }
        });
        let Some(document) = document() else { return Shortcut(None) };
        if document.add_event_listener_with_callback("keydown", closure.as_ref().unchecked_ref()).is_err() {
            return Shortcut(None);
        }
        Shortcut(Some(std::rc::Rc::new(closure)))
    }

    fn remove(&self) {
        if let (Some(closure), Some(document)) = (&self.0, document()) {
            let _ = document.remove_event_listener_with_callback("keydown", closure.as_ref().as_ref().unchecked_ref());
        }
    }
}
