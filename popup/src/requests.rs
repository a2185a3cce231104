//! Message requests and the block list.
//!
//! A first message from a username with no conversation is a request, not a conversation: it is shown here
//! with its first message (as text, never as HTML) and two choices, Accept (it becomes a conversation with
//! its messages) and Block (they are discarded; that username's connections are refused from now on). The
//! block list, with Unblock, sits with the settings. Like the rest of the popup these render the worker's
//! view and send requests; they keep no state.

use dioxus::prelude::*;
use multichat_core::bridge::{Request, RequestView};

use crate::i18n::use_tr;
use crate::ui::use_ui;

/// The message requests waiting, oldest first; nothing when there are none.
#[component]
pub(crate) fn Requests(requests: Vec<RequestView>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    if requests.is_empty() {
        return rsx! {};
    }
    let count = requests.len().to_string();
    rsx! {
        section { class: "requests", aria_labelledby: "requests-heading",
            h2 { id: "requests-heading", {tr.f("requests_heading", &[&count])} }
            p { class: "hint", {tr.t("requests_hint")} }
            ul { aria_label: tr.t("message_requests"),
                for request in requests {
                    li { key: "request-{request.from}", class: "request", aria_label: tr.f("request_from", &[&request.from]),
                        p { class: "request-from", strong { "{request.from}" }
                            if request.messages > 1 {
                                span { class: "request-count", " " {tr.f("request_count", &[&request.messages.to_string()])} }
                            }
                        }
                        p { class: "request-text", "{request.first_text}" }
                        div { class: "row",
                            button {
                                r#type: "button",
                                // Named for the sender first, as a conversation's button is: accepting opens it.
                                aria_label: tr.f("accept_request", &[&request.from]),
                                onclick: {
                                    let username = request.from.clone();
                                    move |_| ui.send(Request::AcceptRequest { username: username.clone() })
                                },
                                {tr.t("accept")}
                            }
                            button {
                                r#type: "button",
                                class: "secondary",
                                aria_label: tr.f("block_user", &[&request.from]),
                                onclick: {
                                    let username = request.from.clone();
                                    move |_| ui.send(Request::BlockUser { username: username.clone() })
                                },
                                {tr.t("block")}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The usernames the user blocked, each with Unblock.
#[component]
pub(crate) fn BlockedList(blocked: Vec<String>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        details { class: "settings blocked",
            summary { {tr.t("blocked")} }
            section { aria_label: tr.t("blocked_usernames"),
                if blocked.is_empty() {
                    p { class: "empty", {tr.t("nobody_blocked")} }
                } else {
                    p { class: "hint", {tr.t("blocked_hint")} }
                    ul {
                        for username in blocked {
                            li { key: "blocked-{username}", class: "row",
                                span { "{username}" }
                                button {
                                    r#type: "button",
                                    class: "secondary",
                                    aria_label: tr.f("unblock_user", &[&username]),
                                    onclick: {
                                        let username = username.clone();
                                        move |_| ui.send(Request::UnblockUser { username: username.clone() })
                                    },
                                    {tr.t("unblock")}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
