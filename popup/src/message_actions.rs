//! What a message offers and shows beyond its text (issue 15): the quote of a reply (a click jumps to the
//! quoted message), the deleted tombstone, "edited", the reactions with their counts and who, the
//! Reply / React / Edit / Delete actions with their inline forms, delivery in words ("Delivered to 2 of 3",
//! "Waiting for bob to come online", "Failed: …" as text, never only a tooltip), read receipts, and
//! "bob is typing…". Mounted by `chat.rs`; like the rest of the popup it keeps only what the user types.

use dioxus::prelude::*;
use multichat_core::bridge::{MessageState, MessageView, QuoteView, Request};

use crate::i18n::{Tr, use_tr};
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
    let tr = use_tr();
    let excerpt = if quote.deleted { tr.t("message_deleted") } else { quote.excerpt.clone() };
    let target = message_dom_id(&quote.to);
    rsx! {
        button {
            r#type: "button",
            class: "quote",
            aria_label: tr.f("reply_to", &[&quote.author, &excerpt]),
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
    let tr = use_tr();
    rsx! { p { class: "text deleted", {tr.t("message_deleted")} } }
}

/// Below the text: "edited", the reactions, the actions and the delivery state.
#[component]
pub(crate) fn Extras(room: String, message: MessageView) -> Element {
    let tr = use_tr();
    let mut open = use_signal(|| Open::Nothing);
    if message.deleted {
        return rsx! {};
    }
    let id = message.id.clone();
    rsx! {
        if message.edited {
            span { class: "edited", {tr.t("edited")} }
        }
        if !message.reactions.is_empty() {
            div { class: "reactions", aria_label: tr.t("reactions"),
                for reaction in message.reactions.clone() {
                    ReactionButton { key: "{reaction.emoji}", room: room.clone(), to: id.clone(), emoji: reaction.emoji.clone(), who: reaction.who.clone(), mine: reaction.mine }
                }
            }
        }
        div { class: "actions",
            button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Reply), {tr.t("reply")} }
            button { r#type: "button", class: "link", onclick: move |_| open.set(Open::React), {tr.t("react")} }
            if message.mine {
                button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Edit), {tr.t("edit")} }
                button { r#type: "button", class: "link", onclick: move |_| open.set(Open::Delete), {tr.t("delete")} }
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
    let tr = use_tr();
    let count = who.len();
    let names = who.join(", ");
    let (room_id, target, chosen) = (room.clone(), to.clone(), emoji.clone());
    rsx! {
        button {
            r#type: "button",
            class: if mine { "reaction mine" } else { "reaction" },
            aria_pressed: "{mine}",
            aria_label: tr.f("reaction_label", &[&emoji, &count.to_string(), &names]),
            onclick: move |_| ui.send(Request::React { room: room_id.clone(), to: target.clone(), emoji: chosen.clone() }),
            "{emoji} {count}"
        }
        span { class: "reaction-who", "{names}" }
    }
}

#[component]
fn Palette(room: String, to: String, open: Signal<Open>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        div { class: "palette", role: "group", aria_label: tr.t("choose_reaction"),
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
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), {tr.t("cancel")} }
        }
    }
}

/// A reply's text, or the new text of an edit.
#[component]
fn TextForm(room: String, to: String, initial: String, edit: bool, open: Signal<Open>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut text = use_signal(|| initial.clone());
    let label = if edit { tr.t("edited_message") } else { tr.t("reply") };
    let submit_label = if edit { tr.t("save") } else { tr.t("send_reply") };
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
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), {tr.t("cancel")} }
        }
    }
}

#[component]
fn ConfirmDelete(room: String, to: String, open: Signal<Open>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        div { class: "act-form row",
            button {
                r#type: "button",
                class: "danger",
                onclick: move |_| {
                    ui.send(Request::Delete { room: room.clone(), to: to.clone() });
                    open.set(Open::Nothing);
                },
                {tr.t("delete_for_everyone")}
            }
            button { r#type: "button", class: "secondary", onclick: move |_| open.set(Open::Nothing), {tr.t("cancel")} }
        }
    }
}

/// Delivery of one of my messages, in words.
#[component]
fn Status(message: MessageView) -> Element {
    let (class, text) = status_text(use_tr(), &message);
    rsx! {
        span { class: "state {class}", role: "status", "{text}" }
    }
}

fn names(tr: Tr, list: &[String]) -> String {
    match list {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => tr.f("names_and", &[&init.join(", "), last]),
    }
}

fn status_text(tr: Tr, message: &MessageView) -> (&'static str, String) {
    let total = message.recipients.len();
    let group = total > 1;
    let delivered = message.delivered_to.len();
    let mut text = match message.state {
        MessageState::Received => return ("", String::new()),
        MessageState::Sending => tr.t("state_sending"),
        MessageState::Delivered if group => tr.f("delivered_all", &[&total.to_string()]),
        MessageState::Delivered => tr.t("state_delivered"),
        MessageState::Waiting => tr.f("waiting_for", &[&names(tr, &message.waiting_for)]),
        MessageState::Failed => {
            let reason = message.failure.as_ref().map_or_else(|| tr.t("cannot_be_sent"), |it| tr.say(it));
            return ("failed", tr.f("failed_reason", &[&reason]));
        }
    };
    if group && message.state != MessageState::Delivered && delivered > 0 {
        let (done, all) = (delivered.to_string(), total.to_string());
        text = tr.f("delivered_some", &[&done, &all, &names(tr, &message.delivered_to), &text]);
    }
    if !message.read_by.is_empty() {
        text = tr.f("read_by", &[&text, &names(tr, &message.read_by)]);
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
    let tr = use_tr();
    let text = match names.as_slice() {
        [] => String::new(),
        [one] => tr.f("typing_one", &[one]),
        many => tr.f("typing_many", &[&self::names(tr, many)]),
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
    let tr = use_tr();
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
            {tr.t("typing_indicators")}
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
            {tr.t("read_receipts")}
        }
    }
}
