//! The open conversation (its members and warnings, the message log, the composer with its draft), and the
//! invitations and warnings the conversation list shows too.
//!
//! Like the rest of the popup they render the worker's view and send requests. The only state kept here
//! is what the user is typing and where the message log is scrolled.

use dioxus::prelude::*;
use multichat_core::bridge::{InvitationView, MemberSummary, MessageView, OpenRoom, Request, RoomSummary};
use multichat_core::qr::safety_number_qr;
use multichat_core::text::{Segment, linkify};
use wasm_bindgen::JsValue;

use crate::i18n::{Tr, use_tr};
use crate::message_actions;
use crate::ui::{ErrorAt, Link, Place, understood_username, use_ui};

/// The open conversation: header, members, the message log and the composer.
#[component]
pub(crate) fn Conversation(open: OpenRoom) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let OpenRoom { room, messages, has_older, draft, focus, has_newer, typing, files } = open;
    // Warnings about every contact, not only this conversation's: the user must see them wherever they are.
    let every_room = match ui.link() {
        Link::Ready(view) => view.rooms,
        _ => Vec::new(),
    };
    // Members who wrote something in sight were online once, whatever the signaling server says now.
    let drop_room = room.id.clone();
    // A group left with its history kept is read-only: nothing can be sent, invited or dropped into it.
    let left = room.left;
    rsx! {
        section { class: "conversation", aria_labelledby: "room-title",
            // A file dropped anywhere on the conversation is sent to it.
            ondragover: move |evt: DragEvent| evt.prevent_default(),
            ondrop: move |evt: DragEvent| {
                evt.prevent_default();
                if !left {
                    crate::files::send_files(ui, drop_room.clone(), crate::files::dropped_files(&evt));
                }
            },
            div { class: "room-header",
                button {
                    class: "back",
                    aria_label: tr.t("back"),
                    aria_keyshortcuts: "Escape",
                    title: tr.t("back_hint"),
                    onclick: move |_| ui.send(Request::SelectRoom { room: None }),
                    "←"
                }
                div { class: "room-heading",
                    h2 { id: "room-title", "{room.title}" }
                    Members { is_group: room.is_group, members: room.members.clone() }
                }
            }
            UnprovedAlerts { rooms: every_room }
            if room.is_group && !left {
                InviteForm { key: "{room.id}", room: room.id.clone() }
            }
            // Keyed by room: switching rooms starts a fresh log (scrolled to the bottom) and that room's draft.
            MessageLog { key: "{room.id}", room: room.id.clone(), messages, has_older, focus, has_newer, files }
            message_actions::Typing { names: typing }
            ErrorAt { place: Place::Composer }
            if left {
                p { class: "left-note", {tr.t("left_group_note")} }
            } else {
                Composer { key: "{room.id}", room: room.id.clone(), draft: draft.unwrap_or_default() }
            }
        }
    }
}

#[component]
fn Members(is_group: bool, members: Vec<MemberSummary>) -> Element {
    // Hooks first, before any early return, so their order never changes between renders.
    let ui = use_ui();
    let tr = use_tr();
    if members.is_empty() {
        return rsx! { p { class: "members empty", {tr.t("only_you_invite")} } };
    }
    let problems: Vec<MemberSummary> =
        members.iter().filter(|it| it.problem.is_some() || !(it.online || it.reached)).cloned().collect();
    let numbers: Vec<MemberSummary> = members.iter().filter(|it| it.safety_number.is_some()).cloned().collect();
    let key_changes: Vec<MemberSummary> =
        members.iter().filter(|it| it.new_key_safety_number.is_some()).cloned().collect();
    // A direct conversation's title names its one member; one holding an original page's mesh names all.
    let named = is_group || members.len() > 1;
    let new_keys: Vec<(String, String)> =
        members.iter().filter_map(|it| Some((it.username.clone(), tr.say(it.key_notice.as_ref()?)))).collect();
    rsx! {
        ul { class: "members", aria_label: tr.t("members"),
            for member in members {
                li { key: "{member.username}", class: if member.online { "online" } else { "offline" },
                    span { class: "dot", aria_hidden: "true" }
                    if named {
                        "{member.username} "
                    }
                    span { class: "presence", {crate::ui::presence_word(tr, &member)} }
                    if member.verified {
                        span { class: "auth verified", title: tr.t("verified_title"), {tr.t("verified_mark")} }
                    }
                    if member.new_key_safety_number.is_some() {
                        span { class: "auth warning", title: tr.t("key_changed_title"), {tr.t("key_changed_mark")} }
                    } else if member.online {
                        if member.authenticated {
                            span { class: "auth verified", title: tr.t("authenticated_title"), {tr.t("authenticated_mark")} }
                        } else {
                            span { class: "auth", title: tr.t("unverified_title"), {tr.t("unverified_mark")} }
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
                summary { {tr.f("safety_number_with", &[&member.username])} }
                p { class: "safety-number", "{member.safety_number.clone().unwrap_or_default()}" }
                SafetyQr { username: member.username.clone(), number: member.safety_number.clone().unwrap_or_default() }
                p { class: "hint", {tr.f("safety_compare", &[&member.username])} }
                if !member.verified {
                    button {
                        r#type: "button",
                        onclick: {
                            let username = member.username.clone();
                            let number = member.safety_number.clone().unwrap_or_default();
                            move |_| ui.send(Request::MarkVerified { username: username.clone(), safety_number: number.clone() })
                        },
                        {tr.f("mark_verified", &[&member.username])}
                    }
                }
            }
        }
        for member in problems {
            p { key: "problem-{member.username}", class: "notice", role: "status",
                if let Some(problem) = &member.problem {
                    {tr.say(problem)}
                    " "
                }
                if !member.online {
                    if !member.reached {
                        {tr.f("never_online", &[&member.username])}
                    } else {
                        {tr.t("messages_wait")}
                    }
                }
            }
        }
    }
}

/// Invitations to groups, each with Accept and Decline: nothing of a group is joined before Accept.
#[component]
pub(crate) fn Invitations(invitations: Vec<InvitationView>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        for invitation in invitations {
            section { key: "invitation-{invitation.room}", class: "invitation", aria_label: tr.f("invitation_to", &[&invitation.name]),
                p { {tr.f("invites_you", &[&invitation.inviter, &invitation.name])} }
                div { class: "row",
                    button {
                        r#type: "button",
                        aria_label: tr.f("accept_invitation", &[&invitation.name]),
                        onclick: {
                            let room = invitation.room.clone();
                            move |_| ui.send(Request::AcceptInvitation { room: room.clone() })
                        },
                        {tr.t("accept")}
                    }
                    button {
                        r#type: "button",
                        class: "secondary",
                        aria_label: tr.f("decline_invitation", &[&invitation.name]),
                        onclick: {
                            let room = invitation.room.clone();
                            move |_| ui.send(Request::DeclineInvitation { room: room.clone() })
                        },
                        {tr.t("decline")}
                    }
                }
            }
        }
    }
}

/// The red warnings about contacts a connection posed as without proving their pinned key, one per contact,
/// each with the user's two choices. Nothing from such a connection is shown until the user decides.
#[component]
pub(crate) fn UnprovedAlerts(rooms: Vec<RoomSummary>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut warned: Vec<(String, String)> = Vec::new();
    for member in rooms.iter().flat_map(|it| it.members.iter()) {
        if let Some(text) = &member.unproved
            && !warned.iter().any(|(user, _)| user == &member.username)
        {
            warned.push((member.username.clone(), tr.say(text)));
        }
    }
    rsx! {
        for (username, text) in warned {
            section { key: "unproved-{username}", class: "key-change", role: "alert", aria_label: tr.f("warning_about", &[&username]),
                p { strong { {tr.f("posed_as", &[&username])} } }
                p { "{text}" }
                div { class: "row",
                    button {
                        r#type: "button",
                        onclick: {
                            let username = username.clone();
                            move |_| ui.send(Request::AllowUnverified { username: username.clone() })
                        },
                        {tr.t("allow_unverified")}
                    }
                    button {
                        r#type: "button",
                        class: "danger",
                        onclick: {
                            let username = username.clone();
                            move |_| ui.send(Request::BlockUnverified { username: username.clone() })
                        },
                        {tr.t("block")}
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
    let tr = use_tr();
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
        section { class: "key-change", role: "alert", aria_label: tr.f("key_changed_label", &[&username]),
            p { strong { {tr.f("key_changed_heading", &[&username])} } }
            p { {tr.f("key_changed_why", &[&username])} }
            p { {tr.f("key_changed_compare", &[&username])} }
            p { class: "safety-number", aria_label: tr.f("new_safety_number", &[&username]), "{new_safety_number}" }
            div { class: "row",
                button { r#type: "button", onclick: decide(true), {tr.f("accept_new_key", &[&username])} }
                button { r#type: "button", class: "danger", onclick: decide(false), {tr.f("reject_new_key", &[&username])} }
            }
        }
    }
}

/// The safety number as a QR code, for the other person's phone to read: an inline SVG (no script, no HTML
/// strings), one path of the dark modules on a white square with the quiet zone.
#[component]
fn SafetyQr(username: String, number: String) -> Element {
    let tr = use_tr();
    let Ok(matrix) = safety_number_qr(&number) else { return rsx! {} };
    let size = matrix.size_with_quiet_zone();
    rsx! {
        svg {
            class: "safety-qr",
            role: "img",
            "aria-label": tr.f("safety_qr", &[&username]),
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
    let tr = use_tr();
    let mut username = use_signal(String::new);
    rsx! {
        form {
            class: "invite row",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                let invited = understood_username(&username());
                username.set(String::new());
                ui.send_or(Place::Invite, Request::Invite { room: room.clone(), username: invited.clone() }, move || {
                    username.set(invited)
                });
            },
            input {
                aria_label: tr.t("invite_username"),
                placeholder: tr.t("invite_username"),
                autocomplete: "off",
                spellcheck: false,
                value: "{username}",
                oninput: move |evt| username.set(evt.value()),
            }
            button { r#type: "submit", {tr.t("invite")} }
        }
        ErrorAt { place: Place::Invite }
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
    files: Vec<multichat_core::bridge::FileView>,
) -> Element {
    let ui = use_ui();
    let latest_room = room.clone();
    let log_room = room.clone();
    let tr = use_tr();
    // Whether the reader is at the newest message: only then do arriving messages scroll the log, so reading
    // older ones is never interrupted.
    let mut following = use_signal(|| true);
    let newest = messages.last().map(|it| (it.id.clone(), it.mine));
    let no_items = messages.is_empty() && files.is_empty();
    // Each file goes before the first message that is newer than it.
    let mut slots = crate::files::slots(&messages, files).into_iter();
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
            aria_label: tr.t("messages"),
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
                    {tr.t("load_older")}
                }
            }
            if no_items {
                p { class: "empty", {tr.t("no_messages")} }
            }
            for (message, files_before) in messages.into_iter().zip(slots.by_ref()) {
                Fragment { key: "{message.id}",
                    for file in files_before {
                        crate::files::FileItem { key: "{file.key}", file }
                    }
                    MessageItem { room: log_room.clone(), focused: focus.as_ref() == Some(&message.id), message }
                }
            }
            for file in slots.flatten() {
                crate::files::FileItem { key: "{file.key}", file }
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
    let tr = use_tr();
    let sender = if message.mine { tr.t("you") } else { message.sender.clone() };
    let clock = Clock::of(tr, message.timestamp);
    // Signed by its author and checked against their key; a key someone else vouched for is said so.
    let provenance = (!message.mine).then(|| match (message.verified, &message.introduced_by) {
        (true, Some(by)) => ("signed", tr.f("signed_introduced", &[by])),
        (true, None) => ("signed", tr.t("signed")),
        (false, _) => ("unsigned", tr.t("unsigned")),
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

/// How long typing must pause before the draft is handed to the worker (and when the box loses focus, at once).
const DRAFT_PAUSE_MS: u32 = 400;

/// The message box. Enter sends, Shift+Enter starts a new line. What is typed is kept as the room's draft by
/// the worker, so it survives the popup closing; it starts from the draft the worker had.
#[component]
fn Composer(room: String, draft: String) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut text = use_signal(|| draft.clone());
    // The draft the worker holds, so an unchanged box sends nothing.
    let mut stored = use_signal(|| draft.clone());
    let mut typing = use_signal(|| 0_u64);
    let (typing_indicator, typing_sent) = message_actions::use_typing(room.clone());
    let draft_room = room.clone();
    let (paste_room, attach_room) = (room.clone(), room.clone());
    let save_draft = use_callback(move |()| {
        let current = text.peek().clone();
        if *stored.peek() != current {
            stored.set(current.clone());
            ui.send(Request::SaveDraft { room: draft_room.clone(), text: current });
        }
    });
    // A callback (which is `Copy`) because both the form and the Enter key use it.
    let submit = use_callback(move |()| {
        let typed = text();
        // The worker refuses blank messages too; not sending them spares the user an error for a stray Enter.
        if typed.trim().is_empty() {
            return;
        }
        text.set(String::new());
        // Sending a message ends its draft (the worker forgets it too).
        stored.set(String::new());
        typing_sent.call(());
        ui.send_or(Place::Composer, Request::SendText { room: room.clone(), text: typed.clone() }, move || {
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
                aria_label: tr.t("message"),
                placeholder: tr.t("write_message"),
                rows: 2,
                autofocus: true,
                value: "{text}",
                oninput: move |evt| {
                    text.set(evt.value());
                    typing_indicator.call(());
                    let generation = *typing.peek() + 1;
                    typing.set(generation);
                    spawn(async move {
                        gloo_timers::future::TimeoutFuture::new(DRAFT_PAUSE_MS).await;
                        if *typing.peek() == generation {
                            save_draft.call(());
                        }
                    });
                },
                onblur: move |_| save_draft.call(()),
                onpaste: move |evt: ClipboardEvent| {
                    let pasted = crate::files::pasted_files(&evt);
                    if !pasted.is_empty() {
                        evt.prevent_default();
                        crate::files::send_files(ui, paste_room.clone(), pasted);
                    }
                },
                onkeydown: move |evt: KeyboardEvent| {
                    // While an input method is composing, Enter confirms the composition, not the message.
                    if evt.key() == Key::Enter && !evt.modifiers().shift() && !evt.is_composing() {
                        evt.prevent_default();
                        submit.call(());
                    }
                },
            }
            crate::files::Attach { room: attach_room }
            button { r#type: "submit", {tr.t("send")} }
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
    fn of(tr: Tr, timestamp: u64) -> Option<Clock> {
        let locale = tr.locale();
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
        let time = String::from(date.to_locale_time_string_with_options(&locale, &options));
        let short = if same_day {
            time
        } else {
            format!("{} {time}", String::from(date.to_locale_date_string(&locale, &JsValue::UNDEFINED)))
        };
        Some(Clock {
            short,
            iso: String::from(date.to_iso_string()),
            full: String::from(date.to_locale_string(&locale, &JsValue::UNDEFINED)),
        })
    }
}

/// The time of a conversation's last message, for the list; `None` when it has none.
pub(crate) fn short_time(tr: Tr, timestamp: u64) -> Option<String> {
    if timestamp == 0 {
        return None;
    }
    Clock::of(tr, timestamp).map(|clock| clock.short)
}
