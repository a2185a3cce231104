//! What a message offers and shows beyond its text (issue 15): the quote of a reply (a click jumps to the
//! quoted message), the deleted tombstone, "edited", the reactions with their counts and who, the
//! Reply / React / Edit / Delete actions with their inline forms, delivery in words ("Delivered to 2 of 3",
//! "Waiting for bob to come online", "Failed: …" as text, never only a tooltip), read receipts, and
//! "bob is typing…". Mounted by `chat.rs`; like the rest of the popup it keeps only what the user types.

use dioxus::prelude::*;
use multichat_core::bridge::{MessageState, MessageView, QuoteView, Request};

use crate::ui::use_ui;

/// The reactions offered in the palette.
const PALETTE: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

/// The element id a message is rendered under, so a quote can jump to it.
pub(crate) fn message_dom_id(id: &str) -> String {
    crate::search::message_element_id(id)
}

/// The quoted message above a reply; a click scrolls the log to it.
#[component]
pub(crate) fn Quote(quote: QuoteView) -> Element {
    let excerpt = if quote.deleted { "This message was deleted".to_owned() } else { quote.excerpt.clone() };
    let target = message_dom_id(&quote.to);
    rsx! {
        button {
            r#type: "button",
            class: "quote",
            aria_label: "Reply to {quote.author}: {excerpt}",
            disabled: !quote.loaded,
            onclick: move |_| jump_to(&target),
            span { class: "quote-author", "{quote.author}" }
            span { class: "quote-text", "{excerpt}" }
        }
    }
}

fn jump_to(dom_id: &str) {
    let element =
        web_sys::window().and_then(|window| window.document()).and_then(|document| document.get_element_by_id(dom_id));
    if let Some(element) = element {
        element.scroll_into_view();
        // Marks the message jumped to (a CSS animation on `.flash`).
        let class = element.class_name();
        if !class.split(' ').any(|it| it == "flash") {
            element.set_class_name(&format!("{class} flash"));
        }
    }
}

#[component]
pub(crate) fn Deleted() -> Element {
    rsx! { p { class: "text deleted", "This message was deleted" } }
}

/// Below the text: "edited", the reactions, the actions and the delivery state.
#[component]
pub(crate) fn Extras(room: String, message: MessageView) -> Element {
    let mut open = use_signal(|| Open::Nothing);
    if message.deleted {
        return rsx! {};
    }
    let id = message.id.clone();
    rsx! {
        if message.edited {
            span { class: "edited", "edited" }
        }
        if !message.reactions.is_empty() {
            div { class: "reactions", aria_label: "Reactions",
                for reaction in message.reactions.clone() {
                    ReactionButton { key: "{reaction.emoji}", room: room.clone(), to: id.clone(), emoji: reaction.emoji.clone(), who: reaction.who.clone(), mine: reaction.mine }
                }
            }
        }
        div { class: "actions",
            button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Reply), "Reply" }
            button { r#type: "button", class: "link", onclick: move |_| open.set(Open::React), "React" }
            if message.mine {
                button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Edit), "Edit" }
                button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Delete), "Delete" }
            }
        }
        match open() {
            Open::Nothing => rsx! {},
            Open::Reply => rsx! { TextForm { room: room.clone(), to: id.clone(), initial: String::new(), edit: false, open } },
            Open::Edit => rsx! { TextForm { room: room.clone(), to: id.clone(), initial: message.text.clone(), edit: true, open } },
            Open::React => rsx! { Palette { room: room.clone(), to: id.clone(), open } },
            Open::Delete => rsx! { ConfirmDelete { room: room.clone(), to: id.clone(), open } },
        }
        if message.mine {
            Status { message: message.clone() }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Open {
    Nothing,
    Reply,
    React,
    Edit,
    Delete,
}

#[component]
fn ReactionButton(room: String, to: String, emoji: String, who: Vec<String>, mine: bool) -> Element {
    let ui = use_ui();
    let count = who.len();
    let names = who.join(", ");
    let (room_id, target, chosen) = (room.clone(), to.clone(), emoji.clone());
    rsx! {
        button {
            r#type: "button",
            class: if mine { "reaction mine" } else { "reaction" },
            aria_pressed: "{mine}",
            aria_label: "{emoji} {count}: {names}",
            onclick: move |_| ui.send(Request::React { room: room_id.clone(), to: target.clone(), emoji: chosen.clone() }),
            "{emoji} {count}"
        }
        span { class: "reaction-who", "{names}" }
    }
}

#[component]
fn Palette(room: String, to: String, open: Signal<Open>) -> Element {
    let ui = use_ui();
    rsx! {
        div { class: "palette", role: "group", aria_label: "Choose a reaction",
            for emoji in PALETTE {
                button {
                    key: "{emoji}",
                    r#type: "button",
                    class: "emoji",
                    onclick: {
                        let (room, to) = (room.clone(), to.clone());
                        move |_| {
                            ui.send(Request::React { room: room.clone(), to: to.clone(), emoji: emoji.to_owned() });
                            open.set(Open::Nothing);
                        }
                    },
                    "{emoji}"
                }
            }
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), "Cancel" }
        }
    }
}

/// A reply's text, or the new text of an edit.
#[component]
fn TextForm(room: String, to: String, initial: String, edit: bool, open: Signal<Open>) -> Element {
    let ui = use_ui();
    let mut text = use_signal(|| initial.clone());
    let label = if edit { "Edited message" } else { "Reply" };
    let submit_label = if edit { "Save" } else { "Send reply" };
    rsx! {
        form {
            class: "act-form row",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                let typed = text();
                if typed.trim().is_empty() {
                    return;
                }
                let request = if edit {
                    Request::Edit { room: room.clone(), to: to.clone(), text: typed }
                } else {
                    Request::Reply { room: room.clone(), to: to.clone(), text: typed }
                };
                ui.send(request);
                open.set(Open::Nothing);
            },
            input { aria_label: label, value: "{text}", autofocus: true, oninput: move |evt| text.set(evt.value()) }
            button { r#type: "submit", "{submit_label}" }
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), "Cancel" }
        }
    }
}

#[component]
fn ConfirmDelete(room: String, to: String, open: Signal<Open>) -> Element {
    let ui = use_ui();
    rsx! {
        div { class: "act-form row",
            button {
                r#type: "button",
                class: "danger",
                onclick: move |_| {
                    ui.send(Request::Delete { room: room.clone(), to: to.clone() });
                    open.set(Open::Nothing);
                },
                "Delete for everyone"
            }
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), "Cancel" }
        }
    }
}

/// Delivery of one of my messages, in words.
#[component]
fn Status(message: MessageView) -> Element {
    let (class, text) = status_text(&message);
    rsx! {
        span { class: "state {class}", role: "status", "{text}" }
    }
}

fn names(list: &[String]) -> String {
    match list {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn status_text(message: &MessageView) -> (&'static str, String) {
    let total = message.recipients.len();
    let group = total > 1;
    let delivered = message.delivered_to.len();
    let mut text = match message.state {
        MessageState::Received => return ("", String::new()),
        MessageState::Sending => "Sending…".to_owned(),
        MessageState::Delivered if group => format!("Delivered to all {total}"),
        MessageState::Delivered => "Delivered".to_owned(),
        MessageState::Waiting => {
            format!("Waiting for {} to come online", names(&message.waiting_for))
        }
        MessageState::Failed => {
            let reason = message.failure.clone().unwrap_or_else(|| "it cannot be sent".to_owned());
            return ("failed", format!("Failed: {reason}"));
        }
    };
    if group && message.state != MessageState::Delivered && delivered > 0 {
        text = format!("Delivered to {delivered} of {total} ({}) · {text}", names(&message.delivered_to));
    }
    if !message.read_by.is_empty() {
        text = format!("{text} · Read by {}", names(&message.read_by));
    }
    let class = match message.state {
        MessageState::Waiting => "waiting",
        MessageState::Sending => "sending",
        _ => "delivered",
    };
    (class, text)
}

/// "bob is typing…" under the log.
#[component]
pub(crate) fn Typing(names: Vec<String>) -> Element {
    let text = match names.as_slice() {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        many => format!("{} are typing…", self::names(many)),
    };
    rsx! {
        p { class: "typing", role: "status", aria_live: "polite", "{text}" }
    }
}

/// Tells the worker the user is typing in `room`, at most once a second: the first callback is for each
/// keystroke, the second for a message sent (its arrival ends "… is typing" on the other side, so the next
/// keystroke tells the worker again at once).
pub(crate) fn use_typing(room: String) -> (Callback<()>, Callback<()>) {
    let ui = use_ui();
    let mut last = use_signal(|| 0.0f64);
    let typed = use_callback(move |()| {
        let now = js_sys::Date::now();
        if now - *last.peek() >= 1_000.0 {
            last.set(now);
            ui.send(Request::Typing { room: room.clone() });
        }
    });
    let sent = use_callback(move |()| last.set(0.0));
    (typed, sent)
}

/// Settings: typing indicators and read receipts, each saved as soon as it is switched.
#[component]
pub(crate) fn PrivacySettings(settings: multichat_core::settings::Settings) -> Element {
    let ui = use_ui();
    let (typing_base, receipts_base) = (settings.clone(), settings.clone());
    rsx! {
        label { class: "check",
            input {
                r#type: "checkbox",
                checked: settings.typing_indicators,
                onchange: move |e| {
                    let mut changed = typing_base.clone();
                    changed.typing_indicators = e.checked();
                    ui.send(Request::SaveSettings { settings: changed });
                },
            }
            "Typing indicators (show when I am typing, and when others are)"
        }
        label { class: "check",
            input {
                r#type: "checkbox",
                checked: settings.read_receipts,
                onchange: move |e| {
                    let mut changed = receipts_base.clone();
                    changed.read_receipts = e.checked();
                    ui.send(Request::SaveSettings { settings: changed });
                },
            }
            "Read receipts (only between people who both turn them on)"
        }
    }
}
