//! The chat screens: starting a conversation, the conversation list, and the open conversation.
//!
//! Like the rest of the popup they render the worker's view and send requests. The only state kept here
//! is what the user is typing and where the message log is scrolled.

use dioxus::prelude::*;
use multichat_core::bridge::{InvitationView, MemberSummary, MessageView, OpenRoom, Request, RoomSummary};
use multichat_core::qr::safety_number_qr;
use multichat_core::text::{Segment, linkify};
use wasm_bindgen::JsValue;

use crate::message_actions;
use crate::ui::{Link, use_ui};

/// The two ways to start talking: a direct chat with a username, or a new group.
#[component]
pub(crate) fn StartConversation() -> Element {
    let ui = use_ui();
    let mut username = use_signal(String::new);
    let mut group = use_signal(String::new);
    // Neither field is cleared on submit: on success the conversation replaces this screen, and on a refusal
    // (say, a misspelt name) the user can fix what they typed.
    rsx! {
        section { class: "start", aria_label: "Start a conversation",
            form {
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    ui.send(Request::OpenDirect { username: username() });
                },
                label { r#for: "chat-with", "Username to chat with" }
                div { class: "row",
                    input {
                        id: "chat-with",
                        autocomplete: "off",
                        spellcheck: false,
                        value: "{username}",
                        oninput: move |evt| username.set(evt.value()),
                    }
                    button { r#type: "submit", "Chat" }
                }
            }
            form {
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    ui.send(Request::CreateGroup { name: group() });
                },
                label { r#for: "group-name", "Group name" }
                div { class: "row",
                    input {
                        id: "group-name",
                        autocomplete: "off",
                        value: "{group}",
                        oninput: move |evt| group.set(evt.value()),
                    }
                    button { r#type: "submit", "Create group" }
                }
            }
        }
    }
}

/// Every conversation, most recent first (the worker's order).
#[component]
pub(crate) fn RoomList(rooms: Vec<RoomSummary>) -> Element {
    let ui = use_ui();
    let invitations = match ui.link() {
        Link::Ready(view) => view.invitations,
        _ => Vec::new(),
    };
    rsx! {
        section { class: "rooms", aria_labelledby: "rooms-heading",
            h2 { id: "rooms-heading", "Conversations" }
            UnprovedAlerts { rooms: rooms.clone() }
            Invitations { invitations }
            if rooms.is_empty() {
                p { class: "empty", "No conversations yet. Type a username above to start one." }
            } else {
                ul {
                    for room in rooms {
                        li { key: "{room.id}", RoomButton { room } }
                    }
                }
            }
        }
    }
}

#[component]
fn RoomButton(room: RoomSummary) -> Element {
    let ui = use_ui();
    let presence = presence_text(&room);
    let unread = (room.unread > 0).then(|| format!("{} unread", room.unread));
    let any_online = room.members.iter().any(|member| member.online);
    // A changed key holds that member's messages until the user decides: say so before opening the room.
    let key_changed: Vec<&str> =
        room.members.iter().filter(|it| it.new_key_safety_number.is_some()).map(|it| it.username.as_str()).collect();
    // Someone connected as a member without proving their key: held until the user decides.
    let posed_as: Vec<&str> =
        room.members.iter().filter(|it| it.unproved.is_some()).map(|it| it.username.as_str()).collect();
    let key_notice = match (key_changed.is_empty(), posed_as.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!("identity key changed: {}", key_changed.join(", "))),
        (true, false) => Some(format!("someone connected without proving the key of {}", posed_as.join(", "))),
        (false, false) => Some(format!(
            "identity key changed: {}; someone connected without proving the key of {}",
            key_changed.join(", "),
            posed_as.join(", ")
        )),
    };
    // The accessible name starts with the title, so the list can be searched by name (and is by tests);
    // the visible parts are laid out separately, which would otherwise run their words together.
    let mut label = match &unread {
        Some(unread) => format!("{}, {unread}, {presence}", room.title),
        None => format!("{}, {presence}", room.title),
    };
    if let Some(notice) = &key_notice {
        label = format!("{label}, {notice}");
    }
    let id = room.id.clone();
    rsx! {
        button {
            class: "room",
            aria_label: "{label}",
            onclick: move |_| ui.send(Request::SelectRoom { room: Some(id.clone()) }),
            span { class: if any_online { "dot online" } else { "dot" }, aria_hidden: "true" }
            span { class: "room-text",
                span { class: if room.direct_with.is_some() { "room-title" } else { "room-title group" },
                    if room.direct_with.is_none() {
                        span { class: "group-mark", title: "Group", "# " }
                    }
                    "{room.title}"
                }
                span { class: "room-presence", "{presence}" }
                if let Some(notice) = key_notice {
                    span { class: "room-warning", "⚠ {notice}" }
                }
            }
            if let Some(when) = short_time(room.last_activity) {
                span { class: "room-time", "{when}" }
            }
            if let Some(unread) = unread {
                span { class: "unread", "{unread}" }
            }
        }
    }
}

/// Who of the other members is connected, in words.
fn presence_text(room: &RoomSummary) -> String {
    // A direct conversation with an original page may hold that page's mesh: then it reads like a group.
    if !room.is_group && room.members.len() <= 1 {
        return match room.members.first() {
            Some(member) if member.online => "online".to_owned(),
            _ => "offline".to_owned(),
        };
    }
    let online: Vec<&str> = room.members.iter().filter(|it| it.online).map(|it| it.username.as_str()).collect();
    match (room.members.len(), online.is_empty()) {
        (0, _) => "only you so far".to_owned(),
        (_, true) => "nobody online".to_owned(),
        (_, false) => format!("online: {}", online.join(", ")),
    }
}

/// The open conversation: header, members, the message log and the composer.
#[component]
pub(crate) fn Conversation(open: OpenRoom) -> Element {
    let ui = use_ui();
    let OpenRoom { room, messages, has_older, focus, has_newer, typing } = open;
    // Warnings about every contact, not only this conversation's: the user must see them wherever they are.
    let every_room = match ui.link() {
        Link::Ready(view) => view.rooms,
        _ => Vec::new(),
    };
    rsx! {
        section { class: "conversation", aria_labelledby: "room-title",
            div { class: "room-header",
                button {
                    class: "back",
                    aria_label: "Back to conversations",
                    onclick: move |_| ui.send(Request::SelectRoom { room: None }),
                    "←"
                }
                div { class: "room-heading",
                    h2 { id: "room-title", "{room.title}" }
                    Members { is_group: room.is_group, members: room.members.clone() }
                }
            }
            UnprovedAlerts { rooms: every_room }
            if room.is_group {
                InviteForm { key: "{room.id}", room: room.id.clone() }
            }
            // Keyed by room: switching rooms starts a fresh log (scrolled to the bottom) and an empty composer.
            MessageLog { key: "{room.id}", room: room.id.clone(), messages, has_older, focus, has_newer }
            message_actions::Typing { names: typing }
            Composer { key: "{room.id}", room: room.id.clone() }
        }
    }
}

#[component]
fn Members(is_group: bool, members: Vec<MemberSummary>) -> Element {
    // Hooks first, before any early return, so their order never changes between renders.
    let ui = use_ui();
    if members.is_empty() {
        return rsx! { p { class: "members empty", "Only you so far. Invite someone below." } };
    }
    let problems: Vec<MemberSummary> = members.iter().filter(|it| it.problem.is_some()).cloned().collect();
    let numbers: Vec<MemberSummary> = members.iter().filter(|it| it.safety_number.is_some()).cloned().collect();
    let key_changes: Vec<MemberSummary> =
        members.iter().filter(|it| it.new_key_safety_number.is_some()).cloned().collect();
    // A direct conversation's title names its one member; one holding an original page's mesh names all.
    let named = is_group || members.len() > 1;
    let new_keys: Vec<(String, String)> =
        members.iter().filter_map(|it| Some((it.username.clone(), it.key_notice.clone()?))).collect();
    rsx! {
        ul { class: "members", aria_label: "Members",
            for member in members {
                li { key: "{member.username}", class: if member.online { "online" } else { "offline" },
                    span { class: "dot", aria_hidden: "true" }
                    if named {
                        "{member.username} "
                    }
                    span { class: "presence", if member.online { "online" } else { "offline" } }
                    if member.verified {
                        span { class: "auth verified", title: "You compared safety numbers with them", "· verified" }
                    }
                    if member.new_key_safety_number.is_some() {
                        span { class: "auth warning", title: "They proved a different identity key than before; their messages are held", "· key changed" }
                    } else if member.online {
                        if member.authenticated {
                            span { class: "auth verified", title: "Their identity key was checked on this very connection: no one is in the middle", "· authenticated" }
                        } else {
                            span { class: "auth", title: "This peer does not prove its identity (an older multichat, or the original page)", "· unverified" }
                        }
                    }
                }
            }
        }
        for (username, notice) in new_keys {
            p { key: "new-key-{username}", class: "notice key-new", "{notice}" }
        }
        for member in key_changes {
            KeyChangeAlert { key: "key-change-{member.username}", username: member.username.clone(), new_safety_number: member.new_key_safety_number.clone().unwrap_or_default() }
        }
        for member in numbers {
            details { key: "safety-{member.username}", class: "safety",
                summary { "Safety number with {member.username}" }
                p { class: "safety-number", "{member.safety_number.clone().unwrap_or_default()}" }
                SafetyQr { username: member.username.clone(), number: member.safety_number.clone().unwrap_or_default() }
                p { class: "hint", "Compare it with {member.username} in person or on a call. If it matches, no one is in the middle." }
                if !member.verified {
                    button {
                        r#type: "button",
                        onclick: {
                            let username = member.username.clone();
                            let number = member.safety_number.clone().unwrap_or_default();
                            move |_| ui.send(Request::MarkVerified { username: username.clone(), safety_number: number.clone() })
                        },
                        "It matches: mark {member.username} verified"
                    }
                }
            }
        }
        for member in problems {
            p { key: "problem-{member.username}", class: "notice", role: "status",
                "{member.problem.clone().unwrap_or_default()}"
                if !member.online {
                    " Messages wait and are sent when they are back."
                }
            }
        }
    }
}

/// Invitations to groups, each with Accept and Decline: nothing of a group is joined before Accept.
#[component]
fn Invitations(invitations: Vec<InvitationView>) -> Element {
    let ui = use_ui();
    rsx! {
        for invitation in invitations {
            section { key: "invitation-{invitation.room}", class: "invitation", aria_label: "Invitation to {invitation.name}",
                p { strong { "{invitation.inviter}" } " invites you to " strong { "{invitation.name}" } }
                div { class: "row",
                    button {
                        r#type: "button",
                        aria_label: "Accept the invitation to {invitation.name}",
                        onclick: {
                            let room = invitation.room.clone();
                            move |_| ui.send(Request::AcceptInvitation { room: room.clone() })
                        },
                        "Accept"
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        aria_label: "Decline the invitation to {invitation.name}",
                        onclick: {
                            let room = invitation.room.clone();
                            move |_| ui.send(Request::DeclineInvitation { room: room.clone() })
                        },
                        "Decline"
                    }
                }
            }
        }
    }
}

/// The red warnings about contacts a connection posed as without proving their pinned key, one per contact,
/// each with the user's two choices. Nothing from such a connection is shown until the user decides.
#[component]
fn UnprovedAlerts(rooms: Vec<RoomSummary>) -> Element {
    let ui = use_ui();
    let mut warned: Vec<(String, String)> = Vec::new();
    for member in rooms.iter().flat_map(|it| it.members.iter()) {
        if let Some(text) = &member.unproved
            && !warned.iter().any(|(user, _)| user == &member.username)
        {
            warned.push((member.username.clone(), text.clone()));
        }
    }
    rsx! {
        for (username, text) in warned {
            section { key: "unproved-{username}", class: "key-change", role: "alert", aria_label: "Warning about {username}",
                p { strong { "Someone connected as {username} without proving it is {username}." } }
                p { "{text}" }
                div { class: "row",
                    button {
                        r#type: "button",
                        onclick: {
                            let username = username.clone();
                            move |_| ui.send(Request::AllowUnverified { username: username.clone() })
                        },
                        "Allow unverified for this contact"
                    }
                    button {
                        r#type: "button",
                        class: "danger",
                        onclick: {
                            let username = username.clone();
                            move |_| ui.send(Request::BlockUnverified { username: username.clone() })
                        },
                        "Block"
                    }
                }
            }
        }
    }
}

/// The loud warning for a member who proved a key other than the pinned one. Their messages are held until
/// the user decides here.
#[component]
fn KeyChangeAlert(username: String, new_safety_number: String) -> Element {
    let ui = use_ui();
    let decide = |accept: bool| {
        let (username, safety_number) = (username.clone(), new_safety_number.clone());
        move |_| {
            let (username, safety_number) = (username.clone(), safety_number.clone());
            ui.send(if accept {
                Request::AcceptNewKey { username, safety_number }
            } else {
                Request::RejectNewKey { username, safety_number }
            })
        }
    };
    rsx! {
        section { class: "key-change", role: "alert", aria_label: "{username}'s identity key changed",
            p { strong { "{username}'s identity key changed." } }
            p {
                "This happens when {username} reinstalls multichat or moves to another browser, but it is also what someone "
                "impersonating {username} looks like. Their messages are held until you decide."
            }
            p { "Compare the new safety number with {username} in person or on a call before you accept it:" }
            p { class: "safety-number", aria_label: "New safety number with {username}", "{new_safety_number}" }
            div { class: "row",
                button { r#type: "button", onclick: decide(true), "Accept {username}'s new key" }
                button { r#type: "button", class: "danger", onclick: decide(false), "Reject {username}'s new key" }
            }
        }
    }
}

/// The safety number as a QR code, for the other person's phone to read: an inline SVG (no script, no HTML
/// strings), one path of the dark modules on a white square with the quiet zone.
#[component]
fn SafetyQr(username: String, number: String) -> Element {
    let Ok(matrix) = safety_number_qr(&number) else { return rsx! {} };
    let size = matrix.size_with_quiet_zone();
    rsx! {
        svg {
            class: "safety-qr",
            role: "img",
            "aria-label": "QR code of the safety number with {username}",
            view_box: "0 0 {size} {size}",
            shape_rendering: "crispEdges",
            rect { width: "{size}", height: "{size}", fill: "#fff" }
            path { d: matrix.svg_path(), fill: "#000" }
        }
    }
}

#[component]
fn InviteForm(room: String) -> Element {
    let ui = use_ui();
    let mut username = use_signal(String::new);
    rsx! {
        form {
            class: "invite row",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                let invited = username();
                username.set(String::new());
                ui.send_or(Request::Invite { room: room.clone(), username: invited.clone() }, move || {
                    username.set(invited)
                });
            },
            input {
                aria_label: "Invite username",
                placeholder: "Invite username",
                autocomplete: "off",
                spellcheck: false,
                value: "{username}",
                oninput: move |evt| username.set(evt.value()),
            }
            button { r#type: "submit", "Invite" }
        }
    }
}

/// How close to the bottom (in CSS pixels) still counts as reading the newest messages.
const FOLLOW_SLACK: f64 = 32.0;

/// The window of messages the worker sent; nothing more is kept, so the DOM stays small however long the
/// history is.
#[component]
fn MessageLog(
    room: String,
    messages: Vec<MessageView>,
    has_older: bool,
    focus: Option<String>,
    has_newer: bool,
) -> Element {
    let ui = use_ui();
    // Whether the reader is at the newest message: only then do arriving messages scroll the log, so reading
    // older ones is never interrupted.
    let mut following = use_signal(|| true);
    let newest = messages.last().map(|it| (it.id.clone(), it.mine));
    let latest_room = room.clone();
    let log_room = room.clone();
    // Effects run once the DOM is updated (so the new message's height is in scrollHeight): on the first
    // render, which opens the conversation at its newest message, and whenever a newer message arrives.
    use_effect(use_reactive!(|newest, focus| {
        // A message a search opened is shown where it is, not the newest.
        if let Some(focus) = &focus {
            following.set(false);
            crate::search::scroll_to_message(focus);
            return;
        }
        // Sending a message shows it, wherever the reader was.
        let sent_by_me = newest.as_ref().is_some_and(|(_, mine)| *mine);
        if *following.peek() || sent_by_me {
            scroll_to_bottom();
        }
    }));
    rsx! {
        div {
            class: "log",
            role: "log",
            aria_label: "Messages",
            aria_live: "polite",
            id: LOG_ID,
            // Focusable, so the log can be scrolled with the keyboard.
            tabindex: "0",
            onscroll: move |evt: ScrollEvent| {
                let data = evt.data();
                let below = f64::from(data.scroll_height()) - data.scroll_top() - f64::from(data.client_height());
                let at_bottom = below <= FOLLOW_SLACK;
                if *following.peek() != at_bottom {
                    following.set(at_bottom);
                }
            },
            if has_older {
                button {
                    class: "older secondary",
                    onclick: move |_| ui.send(Request::LoadOlder { room: room.clone() }),
                    "Load older messages"
                }
            }
            if messages.is_empty() {
                p { class: "empty", "No messages yet. Say hello!" }
            }
            for message in messages {
                MessageItem { key: "{message.id}", room: log_room.clone(), focused: focus.as_ref() == Some(&message.id), message }
            }
            if has_newer {
                crate::search::ShowLatest { room: latest_room }
            }
        }
    }
}

const LOG_ID: &str = "messages";

/// Scrolls the message log to its newest message. Looked up by id rather than through `onmounted`, which
/// needs a Dioxus feature (and its size) the popup does not otherwise use.
fn scroll_to_bottom() {
    let log =
        web_sys::window().and_then(|window| window.document()).and_then(|document| document.get_element_by_id(LOG_ID));
    if let Some(log) = log {
        log.set_scroll_top(log.scroll_height());
    }
}

#[component]
fn MessageItem(room: String, message: MessageView, focused: bool) -> Element {
    let sender = if message.mine { "You".to_owned() } else { message.sender.clone() };
    let clock = Clock::of(message.timestamp);
    // Signed by its author and checked against their key; a key someone else vouched for is said so.
    let provenance = (!message.mine).then(|| match (message.verified, &message.introduced_by) {
        (true, Some(by)) => ("signed", format!("verified · key introduced by {by}")),
        (true, None) => ("signed", "verified".to_owned()),
        (false, _) => ("unsigned", "unverified".to_owned()),
    });
    rsx! {
        div {
            id: crate::search::message_element_id(&message.id),
            class: match (message.mine, focused) {
                (true, true) => "message mine focused",
                (true, false) => "message mine",
                (false, true) => "message focused",
                (false, false) => "message",
            },
            div { class: "meta",
                span { class: "sender", "{sender}" }
                if let Some(clock) = clock {
                    time { datetime: "{clock.iso}", title: "{clock.full}", "{clock.short}" }
                }
                if let Some((class, text)) = provenance {
                    span { class: "provenance {class}", "{text}" }
                }
            }
            if let Some(quote) = message.reply.clone() {
                message_actions::Quote { quote }
            }
            if message.deleted {
                message_actions::Deleted {}
            } else {
                p { class: "text", MessageText { text: message.text.clone() } }
            }
            message_actions::Extras { room, message: message.clone() }
        }
    }
}

/// Message text as text nodes, with http(s) URLs as links. Peer text is never parsed as HTML.
#[component]
fn MessageText(text: String) -> Element {
    let segments = linkify(&text).into_iter().enumerate().map(|(index, segment)| match segment {
        Segment::Text(part) => rsx! { span { key: "{index}", "{part}" } },
        // A new tab: the popup closes as soon as focus leaves it, and the page must not reach back into the
        // extension page (noopener) or learn where it came from (noreferrer).
        Segment::Link(url) => rsx! {
            a { key: "{index}", href: "{url}", target: "_blank", rel: "noopener noreferrer", "{url}" }
        },
    });
    rsx! { {segments} }
}

/// The message box. Enter sends, Shift+Enter starts a new line.
#[component]
fn Composer(room: String) -> Element {
    let ui = use_ui();
    let (typing, typing_sent) = message_actions::use_typing(room.clone());
    let mut text = use_signal(String::new);
    // A callback (which is `Copy`) because both the form and the Enter key use it.
    let submit = use_callback(move |()| {
        let typed = text();
        // The worker refuses blank messages too; not sending them spares the user an error for a stray Enter.
        if typed.trim().is_empty() {
            return;
        }
        text.set(String::new());
        typing_sent.call(());
        ui.send_or(Request::SendText { room: room.clone(), text: typed.clone() }, move || {
            // Refused: give the text back unless the user has started typing something else.
            if text.peek().is_empty() {
                text.set(typed);
            }
        });
    });
    rsx! {
        form {
            class: "composer",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                submit.call(());
            },
            textarea {
                aria_label: "Message",
                placeholder: "Write a message",
                rows: 2,
                autofocus: true,
                value: "{text}",
                oninput: move |evt| {
                    text.set(evt.value());
                    typing.call(());
                },
                onkeydown: move |evt: KeyboardEvent| {
                    // While an input method is composing, Enter confirms the composition, not the message.
                    if evt.key() == Key::Enter && !evt.modifiers().shift() && !evt.is_composing() {
                        evt.prevent_default();
                        submit.call(());
                    }
                },
            }
            button { r#type: "submit", "Send" }
        }
    }
}

/// A timestamp shown in the user's local time.
struct Clock {
    /// `14:05` today, with the date before it on other days.
    short: String,
    /// For the `datetime` attribute.
    iso: String,
    /// Date and time, for the tooltip.
    full: String,
}

impl Clock {
    /// `None` when the timestamp (a peer's clock) is beyond what a JS date can hold.
    fn of(timestamp: u64) -> Option<Clock> {
        // ECMAScript dates reach ±8.64e15 ms; `toISOString` throws beyond, which would abort the popup.
        const MAX_DATE_MS: u64 = 8_640_000_000_000_000;
        if timestamp > MAX_DATE_MS {
            return None;
        }
        let date = js_sys::Date::new(&JsValue::from_f64(timestamp as f64));
        let now = js_sys::Date::new_0();
        let same_day = date.get_full_year() == now.get_full_year()
            && date.get_month() == now.get_month()
            && date.get_date() == now.get_date();
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"hour".into(), &"2-digit".into());
        let _ = js_sys::Reflect::set(&options, &"minute".into(), &"2-digit".into());
        let time = String::from(date.to_locale_time_string_with_options("default", &options));
        let short = if same_day {
            time
        } else {
            format!("{} {time}", String::from(date.to_locale_date_string("default", &JsValue::UNDEFINED)))
        };
        Some(Clock {
            short,
            iso: String::from(date.to_iso_string()),
            full: String::from(date.to_locale_string("default", &JsValue::UNDEFINED)),
        })
    }
}

/// The time of a conversation's last message, for the list; `None` when it has none.
fn short_time(timestamp: u64) -> Option<String> {
    if timestamp == 0 {
        return None;
    }
    Clock::of(timestamp).map(|clock| clock.short)
}
