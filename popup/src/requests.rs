//! Message requests and the block list.
//!
//! A first message from a username with no conversation is a request, not a conversation: it is shown here
//! with its first message (as text, never as HTML) and two choices, Accept (it becomes a conversation with
//! its messages) and Block (they are discarded; that username's connections are refused from now on). The
//! block list, with Unblock, sits with the settings. Like the rest of the popup these render the worker's
//! view and send requests; they keep no state.

use dioxus::prelude::*;
use multichat_core::bridge::{Request, RequestView};

use crate::ui::use_ui;

/// The message requests waiting, oldest first; nothing when there are none.
#[component]
pub(crate) fn Requests(requests: Vec<RequestView>) -> Element {
    let ui = use_ui();
    if requests.is_empty() {
        return rsx! {};
    }
    let count = requests.len();
    rsx! {
        section { class: "requests", aria_labelledby: "requests-heading",
            h2 { id: "requests-heading", "Message requests ({count})" }
            p { class: "hint",
                "People you have no conversation with. Nothing they send shows as a conversation until you accept."
            }
            ul { aria_label: "Message requests",
                for request in requests {
                    li { key: "request-{request.from}", class: "request", aria_label: "Message request from {request.from}",
                        p { class: "request-from", strong { "{request.from}" }
                            if request.messages > 1 {
                                span { class: "request-count", " · {request.messages} messages" }
                            }
                        }
                        p { class: "request-text", "{request.first_text}" }
                        div { class: "row",
                            button {
                                r#type: "button",
                                // Named for the sender first, as a conversation's button is: accepting opens it.
                                aria_label: "{request.from}: accept the message request",
                                onclick: {
                                    let username = request.from.clone();
                                    move |_| ui.send(Request::AcceptRequest { username: username.clone() })
                                },
                                "Accept"
                            }
                            button {
                                r#type: "button",
                                class: "secondary",
                                aria_label: "Block {request.from}",
                                onclick: {
                                    let username = request.from.clone();
                                    move |_| ui.send(Request::BlockUser { username: username.clone() })
                                },
                                "Block"
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
    rsx! {
        details { class: "settings blocked",
            summary { "Blocked" }
            section { aria_label: "Blocked usernames",
                if blocked.is_empty() {
                    p { class: "empty", "Nobody is blocked." }
                } else {
                    p { class: "hint",
                        "multichat refuses their connections, stores nothing they send and never dials them."
                    }
                    ul {
                        for username in blocked {
                            li { key: "blocked-{username}", class: "row",
                                span { "{username}" }
                                button {
                                    r#type: "button",
                                    class: "secondary",
                                    aria_label: "Unblock {username}",
                                    onclick: {
                                        let username = username.clone();
                                        move |_| ui.send(Request::UnblockUser { username: username.clone() })
                                    },
                                    "Unblock"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
