//! Managing conversations (issue 15): the open conversation's tools (pin, mute, a name of your own, leave a
//! group keeping or deleting its history, delete a conversation or a group left earlier, each removal asked
//! twice), the last message on each row of the list, and the setting that keeps message text out of
//! notifications.
//!
//! Like the rest of the popup these render the worker's view and send requests; the only state kept here is
//! what the user is typing and which question is on screen.

use dioxus::prelude::*;
use multichat_core::bridge::{Request, RoomSummary};
use multichat_core::settings::Settings;

use crate::i18n::{Tr, use_tr};
use crate::ui::use_ui;

/// What the tools bar shows besides its buttons.
#[derive(Clone, Copy, PartialEq)]
enum Asking {
    Nothing,
    Rename,
    Remove,
}

/// The tools of the open conversation.
#[component]
pub(crate) fn ConversationTools(room: RoomSummary) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut asking = use_signal(|| Asking::Nothing);
    let mut name = use_signal(String::new);
    let id = room.id.clone();
    let settings = move |name: Option<String>, muted: Option<bool>, pinned: Option<bool>| {
        Request::ConversationSettings { room: id.clone(), name, muted, pinned }
    };
    let (pin, mute, rename) = (settings.clone(), settings.clone(), settings);
    let (muted, pinned) = (room.muted, room.pinned);
    let is_group = room.is_group;
    // A group is left (its history kept or deleted); a direct conversation, or a group already left, deleted.
    let leaving = is_group && !room.left;
    let (remove_label, question) = if leaving {
        (tr.t("leave_group"), tr.f("leave_group_question", &[&room.title]))
    } else if is_group {
        (tr.t("delete_conversation"), tr.f("delete_group_question", &[&room.title]))
    } else {
        (tr.t("delete_conversation"), tr.f("delete_conversation_question", &[&room.title]))
    };
    let (keep_id, remove_id) = (room.id.clone(), room.id.clone());
    let title = room.title.clone();
    rsx! {
        div { class: "conversation-tools", role: "toolbar", aria_label: tr.t("conversation_tools"),
            button {
                r#type: "button",
                class: "secondary",
                aria_pressed: "{pinned}",
                onclick: move |_| ui.send(pin(None, None, Some(!pinned))),
                if pinned { {tr.t("unpin")} } else { {tr.t("pin_to_top")} }
            }
            button {
                r#type: "button",
                class: "secondary",
                aria_pressed: "{muted}",
                onclick: move |_| ui.send(mute(None, Some(!muted), None)),
                if muted { {tr.t("unmute")} } else { {tr.t("mute")} }
            }
            button {
                r#type: "button",
                class: "secondary",
                onclick: move |_| {
                    name.set(title.clone());
                    asking.set(Asking::Rename);
                },
                {tr.t("rename")}
            }
            button { r#type: "button", class: "secondary danger", onclick: move |_| asking.set(Asking::Remove), "{remove_label}" }
        }
        if asking() == Asking::Rename {
            form {
                class: "rename",
                aria_label: tr.t("rename_conversation"),
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    ui.send(rename(Some(name()), None, None));
                    asking.set(Asking::Nothing);
                },
                label { r#for: "local-name", {tr.t("local_name")} }
                div { class: "row",
                    input { id: "local-name", autocomplete: "off", value: "{name}", oninput: move |e| name.set(e.value()) }
                    button { r#type: "submit", {tr.t("save_name")} }
                    button { r#type: "button", class: "secondary", onclick: move |_| asking.set(Asking::Nothing), {tr.t("cancel")} }
                }
            }
        }
        if asking() == Asking::Remove {
            div { class: "confirm", role: "alertdialog", aria_label: "{remove_label}",
                p { "{question}" }
                div { class: "row",
                    if leaving {
                        button {
                            r#type: "button",
                            onclick: move |_| {
                                ui.send(Request::LeaveGroupKeepHistory { room: keep_id.clone() });
                                asking.set(Asking::Nothing);
                            },
                            {tr.t("leave_keep_history")}
                        }
                    }
                    button {
                        r#type: "button",
                        class: "danger",
                        onclick: move |_| {
                            let room = remove_id.clone();
                            ui.send(if leaving { Request::LeaveGroup { room } } else { Request::DeleteConversation { room } });
                            asking.set(Asking::Nothing);
                        },
                        if leaving { {tr.t("leave_delete_history")} } else { {tr.t("delete_conversation_yes")} }
                    }
                    button { r#type: "button", class: "secondary", onclick: move |_| asking.set(Asking::Nothing), {tr.t("cancel")} }
                }
            }
        }
    }
}

/// The last message and the marks (pinned, muted) of one row of the conversation list.
#[component]
pub(crate) fn RowExtras(room: RoomSummary) -> Element {
    let tr = use_tr();
    let marks = row_marks(tr, &room);
    rsx! {
        if !marks.is_empty() {
            span { class: "room-marks", "{marks}" }
        }
        if let Some(last) = room.last_message {
            span { class: "room-last",
                if last.mine {
                    {tr.f("last_message_from", &[&tr.t("you")])}
                } else if room.is_group {
                    {tr.f("last_message_from", &[&last.sender])}
                }
                "{last.text}"
            }
        }
    }
}

/// "pinned", "muted" or both, for a row's visible marks and its accessible name.
pub(crate) fn row_marks(tr: Tr, room: &RoomSummary) -> String {
    match (room.pinned, room.muted) {
        (true, true) => tr.t("marks_pinned_muted"),
        (true, false) => tr.t("marks_pinned"),
        (false, true) => tr.t("marks_muted"),
        (false, false) => String::new(),
    }
}

/// "Hide message text in notifications", saved as soon as it is changed.
#[component]
pub(crate) fn NotificationPrivacy(settings: Settings) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let hidden = settings.hide_notification_text;
    rsx! {
        label { class: "check notification-privacy",
            input {
                r#type: "checkbox",
                checked: hidden,
                onchange: move |e| {
                    let settings = Settings { hide_notification_text: e.checked(), ..settings.clone() };
                    ui.send(Request::SaveSettings { settings });
                },
            }
            {tr.t("hide_notification_text")}
        }
    }
}
