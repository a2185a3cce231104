//! The popup's components. They render the worker's [`View`] and dispatch requests; no logic lives here.

use dioxus::prelude::*;
use multichat_core::bridge::{EngineStatus, Request, View};
use multichat_core::settings::{IceServer, Settings};

use crate::chat::{Conversation, RoomList, StartConversation};
use crate::passphrase::{PassphraseForm, Unlock};
use crate::ui::{Link, use_ui, use_ui_provider};

#[component]
pub(crate) fn App() -> Element {
    let ui = use_ui_provider();

    let current = ui.link();
    let problems = match &current {
        Link::Ready(view) => view.storage_problems.clone(),
        _ => Vec::new(),
    };
    let (body, engine, room_open) = match &current {
        Link::Connecting => (rsx! { p { role: "status", "Connecting…" } }, None, false),
        Link::Broken(message) => (rsx! { p { role: "alert", class: "error", "{message}" } }, None, false),
        Link::Ready(view) if view.locked => (rsx! { Unlock {} }, Some(view.engine.clone()), false),
        Link::Ready(view) => match (view.account.clone(), view.open_room.clone()) {
            (None, _) => (rsx! { SignIn { settings: view.settings.clone() } }, None, false),
            (Some(_), Some(open)) => (rsx! { Conversation { open } }, Some(view.engine.clone()), true),
            (Some(account), None) => (
                rsx! { Home { username: account.username, peer_id: account.peer_id, view: view.clone() } },
                Some(view.engine.clone()),
                false,
            ),
        },
    };
    rsx! {
        header {
            h1 { "multichat" }
            // In the header so it stays in sight in a conversation too: it says why nothing gets delivered.
            if let Some(status) = engine {
                EngineLine { status }
            }
        }
        // An open conversation fills the popup and scrolls only its message log.
        main { class: if room_open { "room-open" },
            // Storage problems show on every screen: a damaged record may be the very conversation open.
            for problem in problems {
                p { role: "alert", class: "error", "{problem}" }
            }
            {body}
            if let Some(message) = ui.error() {
                p { role: "alert", class: "error", "{message}" }
            }
        }
    }
}

#[component]
fn SignIn(settings: Settings) -> Element {
    let ui = use_ui();
    let mut username = use_signal(String::new);
    rsx! {
        form {
            class: "sign-in",
            aria_label: "Sign in",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                ui.send(Request::SignIn { username: username() });
            },
            h2 { "Choose a username" }
            p { "Others reach you by this name. It works with the original peerjs-multichat page too." }
            label { r#for: "username", "Username" }
            input {
                id: "username",
                name: "username",
                autocomplete: "off",
                autofocus: true,
                value: "{username}",
                oninput: move |evt| username.set(evt.value()),
            }
            button { r#type: "submit", "Sign in" }
        }
        // Reachable before signing in, so the first connection already goes to the right signaling server.
        SettingsForm { settings }
        YourData { signed_in: false }
    }
}

#[component]
fn Home(username: String, peer_id: String, view: View) -> Element {
    let ui = use_ui();
    rsx! {
        section { class: "account", aria_label: "Account",
            div { class: "account-row",
                p { class: "signed-in", "Signed in as " strong { "{username}" } }
                button { class: "secondary", onclick: move |_| ui.send(Request::SignOut), "Sign out" }
            }
            p { class: "peer-id", "Your PeerJS id: " code { "{peer_id}" } }
        }
        StartConversation {}
        RoomList { rooms: view.rooms.clone() }
        SettingsForm { settings: view.settings.clone() }
        YourData { signed_in: true }
        PassphraseForm { set: view.passphrase_set }
    }
}

/// Export of everything stored, as the issue asks ("exportable with the rest of the user's data"), and
/// import of such a file (to move to another browser), after the user confirms the replacement.
#[component]
fn YourData(signed_in: bool) -> Element {
    let ui = use_ui();
    // The chosen file's name and text, until the user confirms or cancels.
    let mut chosen = use_signal(|| None::<(String, String)>);
    let mut read_error = use_signal(|| None::<String>);
    rsx! {
        details { class: "settings data",
            summary { "Your data" }
            if signed_in {
                p { class: "hint",
                    "Save everything multichat keeps in this browser to one file: your account, settings, contacts, conversations and history, "
                    "and your private identity key, which proves to others that you are you. "
                    "Anyone with the file can read your history and pose as you, so keep it private."
                }
                button { r#type: "button", class: "secondary", onclick: move |_| ui.send(Request::ExportData), "Export my data" }
            }
            p { class: "hint",
                "Importing a saved file replaces everything multichat keeps in this browser, your identity key included, with the file's contents."
            }
            label { r#for: "import-file", "Saved multichat file to load" }
            input {
                id: "import-file",
                r#type: "file",
                accept: ".json,application/json",
                onchange: move |evt: FormEvent| async move {
                    read_error.set(None);
                    chosen.set(None);
                    let Some(file) = evt.files().into_iter().next() else { return };
                    match file.read_string().await {
                        Ok(text) => chosen.set(Some((file.name(), text))),
                        Err(err) => read_error.set(Some(format!("Could not read that file ({err}); nothing was changed"))),
                    }
                },
            }
            if let Some((name, json)) = chosen() {
                p { class: "hint", "Replace everything multichat keeps in this browser with {name}?" }
                div { class: "row",
                    button {
                        r#type: "button",
                        onclick: move |_| {
                            chosen.set(None);
                            ui.send(Request::ImportData { json: json.clone() });
                        },
                        "Replace my data"
                    }
                    button { r#type: "button", class: "secondary", onclick: move |_| chosen.set(None), "Cancel" }
                }
            }
            if let Some(message) = read_error() {
                p { role: "alert", class: "error", "{message}" }
            }
        }
    }
}

#[component]
fn SettingsForm(settings: Settings) -> Element {
    let ui = use_ui();
    let server = settings.server.clone();
    let mut host = use_signal(|| server.host.clone());
    let mut port = use_signal(|| server.port.to_string());
    let mut path = use_signal(|| server.path.clone());
    let mut key = use_signal(|| server.key.clone());
    let mut secure = use_signal(|| server.secure);
    let mut ice =
        use_signal(|| settings.ice_servers.iter().flat_map(|it| it.urls.clone()).collect::<Vec<_>>().join("\n"));
    let mut notifications = use_signal(|| settings.notifications);
    let mut port_error = use_signal(|| None::<String>);
    let base = settings.clone();
    rsx! {
        details { class: "settings",
            summary { "Settings" }
            form {
                aria_label: "Settings",
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    let Ok(port_number) = port().trim().parse::<u16>() else {
                        port_error.set(Some("The port must be a number from 1 to 65535".to_owned()));
                        return;
                    };
                    port_error.set(None);
                    let mut settings = base.clone();
                    settings.server.host = host().trim().to_owned();
                    settings.server.port = port_number;
                    settings.server.path = path().trim().to_owned();
                    settings.server.key = key();
                    settings.server.secure = secure();
                    settings.notifications = notifications();
                    settings.ice_servers = ice()
                        .lines()
                        .map(str::trim)
                        .filter(|it| !it.is_empty())
                        .map(|url| IceServer { urls: vec![url.to_owned()], username: None, credential: None })
                        .collect();
                    ui.send(Request::SaveSettings { settings });
                },
                label { r#for: "server-host", "Signaling server host" }
                input { id: "server-host", value: "{host}", oninput: move |e| host.set(e.value()) }
                label { r#for: "server-port", "Port" }
                input { id: "server-port", inputmode: "numeric", value: "{port}", oninput: move |e| port.set(e.value()) }
                label { r#for: "server-path", "Path" }
                input { id: "server-path", value: "{path}", oninput: move |e| path.set(e.value()) }
                label { r#for: "server-key", "Key" }
                input { id: "server-key", value: "{key}", oninput: move |e| key.set(e.value()) }
                label { class: "check",
                    input { r#type: "checkbox", checked: secure(), onchange: move |e| secure.set(e.checked()) }
                    "Use a secure connection (wss)"
                }
                label { r#for: "ice-servers", "ICE servers (one per line)" }
                textarea { id: "ice-servers", rows: 2, value: "{ice}", oninput: move |e| ice.set(e.value()) }
                label { class: "check",
                    input { r#type: "checkbox", checked: notifications(), onchange: move |e| notifications.set(e.checked()) }
                    "Notify me of new messages"
                }
                if let Some(message) = port_error() {
                    p { role: "alert", class: "error", "{message}" }
                }
                button { r#type: "submit", "Save settings" }
            }
        }
    }
}

#[component]
fn EngineLine(status: EngineStatus) -> Element {
    let (class, text) = match status {
        EngineStatus::Offline => ("status offline", "Offline".to_owned()),
        EngineStatus::Connecting => ("status connecting", "Connecting to the signaling server…".to_owned()),
        EngineStatus::Online => ("status online", "Online".to_owned()),
        EngineStatus::Reconnecting { attempt, message } => {
            ("status connecting", format!("{message} (attempt {attempt})"))
        }
        EngineStatus::Failed { message } => ("status failed error", message),
    };
    rsx! {
        p { role: "status", aria_live: "polite", class: "{class}", "{text}" }
    }
}
