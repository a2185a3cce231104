//! The first run (what a username is, and choosing one) and the home screen: the account with "Share my
//! username", starting a conversation, and the conversation list (arrow keys move through it).

use dioxus::prelude::*;
use multichat_core::bridge::{Request, RoomSummary, View};
use multichat_core::qr::text_qr;
use multichat_core::settings::Settings;
use wasm_bindgen::{JsCast, JsValue};

use crate::chat::{Invitations, UnprovedAlerts, short_time};
use crate::i18n::{Tr, use_tr};
use crate::passphrase::PassphraseForm;
use crate::settings::{SettingsPanel, YourData};
use crate::ui::{ErrorAt, Link, Place, presence_word, understood_username, use_ui};

#[component]
pub(crate) fn SignIn(settings: Settings) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut username = use_signal(String::new);
    rsx! {
        form {
            class: "sign-in",
            aria_label: tr.t("sign_in"),
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                ui.send_at(Place::SignIn, Request::SignIn { username: understood_username(&username()) });
            },
            h2 { {tr.t("choose_username")} }
            p { {tr.t("username_intro")} }
            ul { class: "facts",
                li { {tr.t("username_public")} }
                li { {tr.t("username_first_come")} }
                li { {tr.t("username_online_only")} }
            }
            label { r#for: "username", {tr.t("username")} }
            input {
                id: "username",
                name: "username",
                autocomplete: "off",
                autofocus: true,
                value: "{username}",
                oninput: move |evt| username.set(evt.value()),
            }
            ErrorAt { place: Place::SignIn }
            button { r#type: "submit", {tr.t("sign_in")} }
        }
        // Reachable before signing in, so the first connection already goes to the right signaling server.
        SettingsPanel { settings }
        YourData { signed_in: false }
    }
}

#[component]
pub(crate) fn Home(username: String, peer_id: String, view: View) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        section { class: "account", aria_label: tr.t("account"),
            div { class: "account-row",
                p { class: "signed-in", {tr.t("signed_in_as")} " " strong { "{username}" } }
                button { class: "secondary", onclick: move |_| ui.send(Request::SignOut), {tr.t("sign_out")} }
            }
            ShareUsername { username: username.clone() }
            details { class: "advanced",
                summary { {tr.t("account_details")} }
                p { class: "peer-id", {tr.t("your_peer_id")} " " code { "{peer_id}" } }
                p { class: "hint", {tr.t("peer_id_hint")} }
            }
        }
        crate::search::SearchPanel {}
        StartConversation {}
        crate::requests::Requests { requests: view.requests.clone() }
        RoomList { rooms: view.rooms.clone() }
        SettingsPanel { settings: view.settings.clone() }
        crate::conversations::NotificationPrivacy { settings: view.settings.clone() }
        crate::requests::BlockedList { blocked: view.blocked.clone() }
        YourData { signed_in: true }
        PassphraseForm { set: view.passphrase_set }
    }
}

/// "Share my username": the name to copy, and as a QR code for a phone.
#[component]
fn ShareUsername(username: String) -> Element {
    let tr = use_tr();
    let mut copied = use_signal(|| None::<bool>);
    let name = username.clone();
    let qr = text_qr(&username).ok();
    rsx! {
        details { class: "share",
            summary { {tr.t("share_username")} }
            p { class: "hint", {tr.f("share_username_hint", &[&username])} }
            div { class: "row",
                code { class: "share-name", "{username}" }
                button {
                    r#type: "button",
                    class: "secondary",
                    onclick: move |_| {
                        let name = name.clone();
                        spawn(async move { copied.set(Some(copy_text(&name).await)) });
                    },
                    {tr.t("copy_username")}
                }
            }
            p { role: "status", class: "hint",
                match copied() {
                    Some(true) => tr.t("copied"),
                    Some(false) => tr.t("copy_failed"),
                    None => String::new(),
                }
            }
            if let Some(matrix) = qr {
                svg {
                    class: "share-qr",
                    role: "img",
                    "aria-label": tr.f("username_qr", &[&username]),
                    view_box: "0 0 {matrix.size_with_quiet_zone()} {matrix.size_with_quiet_zone()}",
                    shape_rendering: "crispEdges",
                    rect { width: "{matrix.size_with_quiet_zone()}", height: "{matrix.size_with_quiet_zone()}", fill: "#fff" }
                    path { d: matrix.svg_path(), fill: "#000" }
                }
            }
        }
    }
}

/// `navigator.clipboard.writeText(text)`; whether it worked.
async fn copy_text(text: &str) -> bool {
    let attempt = async {
        let navigator = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))?;
        let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))?;
        let write: js_sys::Function = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText"))?.dyn_into()?;
        let promise = js_sys::Promise::from(write.call1(&clipboard, &JsValue::from_str(text))?);
        wasm_bindgen_futures::JsFuture::from(promise).await
    };
    attempt.await.is_ok()
}

/// Moves the keyboard focus to the element with `id`.
pub(crate) fn focus(id: &str) {
    let element = web_sys::window().and_then(|it| it.document()).and_then(|it| it.get_element_by_id(id));
    if let Some(element) = element.and_then(|it| it.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

/// The two ways to start talking: a direct chat with a username, or a new group.
#[component]
fn StartConversation() -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut username = use_signal(String::new);
    let mut group = use_signal(String::new);
    // The new-conversation shortcut (Alt+N) lands here, also when it brought the user back from a conversation.
    let wanted = (ui.focus_start)();
    use_effect(use_reactive!(|wanted| if wanted > 0 {
        focus("chat-with");
    }));
    // Neither field is cleared on submit: on success the conversation replaces this screen, and on a refusal
    // (say, a misspelt name) the user can fix what they typed.
    rsx! {
        section { class: "start", aria_label: tr.t("start_conversation"),
            form {
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    let typed = understood_username(&username());
                    if typed != username() {
                        username.set(typed.clone());
                    }
                    ui.send_at(Place::Start, Request::OpenDirect { username: typed });
                },
                label { r#for: "chat-with", {tr.t("chat_with")} }
                div { class: "row",
                    input {
                        id: "chat-with",
                        autocomplete: "off",
                        spellcheck: false,
                        aria_keyshortcuts: "Alt+N",
                        aria_describedby: "chat-with-hint",
                        value: "{username}",
                        oninput: move |evt| username.set(evt.value()),
                    }
                    button { r#type: "submit", {tr.t("chat")} }
                }
                p { id: "chat-with-hint", class: "hint", {tr.t("chat_with_hint")} }
                ErrorAt { place: Place::Start }
            }
            form {
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    ui.send_at(Place::Group, Request::CreateGroup { name: group() });
                },
                label { r#for: "group-name", {tr.t("group_name")} }
                div { class: "row",
                    input {
                        id: "group-name",
                        autocomplete: "off",
                        value: "{group}",
                        oninput: move |evt| group.set(evt.value()),
                    }
                    button { r#type: "submit", {tr.t("create_group")} }
                }
                ErrorAt { place: Place::Group }
            }
        }
    }
}

/// Every conversation, most recent first (the worker's order). Up and Down move between them.
#[component]
fn RoomList(rooms: Vec<RoomSummary>) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let invitations = match ui.link() {
        Link::Ready(view) => view.invitations,
        _ => Vec::new(),
    };
    let count = rooms.len();
    rsx! {
        section { class: "rooms", aria_labelledby: "rooms-heading",
            h2 { id: "rooms-heading", {tr.t("conversations")} }
            UnprovedAlerts { rooms: rooms.clone() }
            Invitations { invitations }
            if rooms.is_empty() {
                p { class: "empty", {tr.t("no_conversations")} }
            } else {
                ul {
                    onkeydown: move |evt: KeyboardEvent| {
                        let Some(at) = focused_room() else { return };
                        let next = match evt.key() {
                            Key::ArrowDown => (at + 1).min(count - 1),
                            Key::ArrowUp => at.saturating_sub(1),
                            Key::Home => 0,
                            Key::End => count - 1,
                            _ => return,
                        };
                        evt.prevent_default();
                        focus(&format!("room-{next}"));
                    },
                    for (index, room) in rooms.into_iter().enumerate() {
                        li { key: "{room.id}", RoomButton { room, index } }
                    }
                }
            }
        }
    }
}

/// The position of the focused conversation button in the list.
fn focused_room() -> Option<usize> {
    let document = web_sys::window()?.document()?;
    document.active_element()?.id().strip_prefix("room-")?.parse().ok()
}

#[component]
fn RoomButton(room: RoomSummary, index: usize) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let presence = presence_text(tr, &room);
    let unread = (room.unread > 0).then(|| tr.f("unread", &[&room.unread.to_string()]));
    let any_online = room.members.iter().any(|member| member.online);
    // A changed key holds that member's messages until the user decides: say so before opening the room.
    let key_changed: Vec<&str> =
        room.members.iter().filter(|it| it.new_key_safety_number.is_some()).map(|it| it.username.as_str()).collect();
    // Someone connected as a member without proving their key: held until the user decides.
    let posed_as: Vec<&str> =
        room.members.iter().filter(|it| it.unproved.is_some()).map(|it| it.username.as_str()).collect();
    let mut notices = Vec::new();
    if !key_changed.is_empty() {
        notices.push(tr.f("room_key_changed", &[&key_changed.join(", ")]));
    }
    if !posed_as.is_empty() {
        notices.push(tr.f("room_posed_as", &[&posed_as.join(", ")]));
    }
    let key_notice = (!notices.is_empty()).then(|| notices.join("; "));
    let when = short_time(tr, room.last_activity);
    // The accessible name starts with the title, so the list can be searched by name (and is by tests), and
    // holds every visible word in order; the visible parts are laid out apart, which would otherwise run
    // their words together.
    let mut parts = vec![room.title.clone(), presence.clone()];
    parts.extend(key_notice.clone());
    parts.extend(when.clone());
    parts.extend(unread.clone());
    let marks = crate::conversations::row_marks(tr, &room);
    if !marks.is_empty() {
        parts.push(marks);
    }
    let label = parts.join(", ");
    let id = room.id.clone();
    rsx! {
        button {
            id: "room-{index}",
            class: "room",
            aria_label: "{label}",
            onclick: move |_| ui.send(Request::SelectRoom { room: Some(id.clone()) }),
            span { class: if any_online { "dot online" } else { "dot" }, aria_hidden: "true" }
            span { class: "room-text",
                span { class: if room.direct_with.is_some() { "room-title" } else { "room-title group" },
                    if room.direct_with.is_none() {
                        span { class: "group-mark", title: tr.t("group"), aria_hidden: "true", "# " }
                    }
                    "{room.title}"
                }
                // Spaces between the parts (flex items, so not laid out), so their words never run together.
                " "
                span { class: "room-presence", "{presence}" }
                crate::conversations::RowExtras { room: room.clone() }
                if let Some(notice) = key_notice {
                    " "
                    span { class: "room-warning", "⚠ {notice}" }
                }
            }
            if let Some(when) = when {
                " "
                span { class: "room-time", "{when}" }
            }
            if let Some(unread) = unread {
                " "
                span { class: "unread", "{unread}" }
            }
        }
    }
}

/// Who of the other members is connected, in words.
fn presence_text(tr: Tr, room: &RoomSummary) -> String {
    // A direct conversation with an original page may hold that page's mesh: then it reads like a group.
    if !room.is_group && room.members.len() <= 1 {
        return room.members.first().map_or_else(|| tr.t("offline"), |member| presence_word(tr, member));
    }
    let online: Vec<&str> = room.members.iter().filter(|it| it.online).map(|it| it.username.as_str()).collect();
    match (room.members.len(), online.is_empty()) {
        (0, _) => tr.t("only_you"),
        (_, true) => tr.t("nobody_online"),
        (_, false) => tr.f("online_list", &[&online.join(", ")]),
    }
}
