//! The popup's components. They render the worker's [`View`] and dispatch requests; no logic lives here.

use dioxus::prelude::*;
use multichat_core::bridge::{EngineStatus, Request, View};
use std::collections::BTreeMap;

use multichat_core::settings::{IceServer, Settings, is_turn_url};

use crate::chat::{Conversation, RoomList, StartConversation};
use crate::passphrase::{PassphraseForm, Unlock};
use crate::requests::{BlockedList, Requests};
use crate::search::SearchPanel;
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
        SearchPanel {}
        StartConversation {}
        Requests { requests: view.requests.clone() }
        RoomList { rooms: view.rooms.clone() }
        SettingsForm { settings: view.settings.clone() }
        BlockedList { blocked: view.blocked.clone() }
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

/// The settings form's fields, as typed.
#[derive(Clone, Copy)]
struct SettingsFields {
    host: Signal<String>,
    port: Signal<String>,
    path: Signal<String>,
    key: Signal<String>,
    secure: Signal<bool>,
    ice: Signal<String>,
    logins: Signal<Logins>,
    relay_only: Signal<bool>,
    notifications: Signal<bool>,
}

impl SettingsFields {
    /// `base` with the typed values; an error in words when the port is not a number (the rest is checked
    /// by `Settings::validate`).
    fn settings(&self, base: &Settings) -> Result<Settings, String> {
        let Ok(port) = (self.port)().trim().parse::<u16>() else {
            return Err("The port must be a number from 1 to 65535".to_owned());
        };
        let mut settings = base.clone();
        settings.server.host = (self.host)().trim().to_owned();
        settings.server.port = port;
        settings.server.path = (self.path)().trim().to_owned();
        settings.server.key = (self.key)();
        settings.server.secure = (self.secure)();
        settings.notifications = (self.notifications)();
        settings.ice_servers = ice_entries(&(self.ice)(), &(self.logins)());
        settings.relay_only = (self.relay_only)();
        Ok(settings)
    }
}

#[component]
fn SettingsForm(settings: Settings) -> Element {
    let ui = use_ui();
    let server = settings.server.clone();
    let fields = SettingsFields {
        host: use_signal(|| server.host.clone()),
        port: use_signal(|| server.port.to_string()),
        path: use_signal(|| server.path.clone()),
        key: use_signal(|| server.key.clone()),
        secure: use_signal(|| server.secure),
        ice: use_signal(|| settings.ice_servers.iter().flat_map(|it| it.urls.clone()).collect::<Vec<_>>().join("\n")),
        // TURN logins by address, so what was typed stays while the address list is edited.
        logins: use_signal(|| turn_logins(&settings.ice_servers)),
        relay_only: use_signal(|| settings.relay_only),
        notifications: use_signal(|| settings.notifications),
    };
    let SettingsFields {
        mut host,
        mut port,
        mut path,
        mut key,
        mut secure,
        mut ice,
        logins,
        mut relay_only,
        mut notifications,
    } = fields;
    let mut port_error = use_signal(|| None::<String>);
    // The last "Test connection" result, one sentence a line; `testing` while one runs.
    let mut tested = use_signal(Vec::<String>::new);
    let mut testing = use_signal(|| false);
    let base = settings.clone();
    let test_base = settings.clone();
    rsx! {
        details { class: "settings",
            summary { "Settings" }
            form {
                aria_label: "Settings",
                onsubmit: move |evt: FormEvent| {
                    evt.prevent_default();
                    match fields.settings(&base) {
                        Err(message) => port_error.set(Some(message)),
                        Ok(settings) => {
                            port_error.set(None);
                            ui.send(Request::SaveSettings { settings });
                        }
                    }
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
                p { class: "hint", "A TURN server (turn: or turns:) asks for the username and password its operator gave you." }
                for (index, url) in ice_lines(&ice()).filter(|url| is_turn_url(url)).enumerate() {
                    TurnLogin { key: "{url}", index, url: url.to_owned(), logins }
                }
                label { class: "check",
                    input { r#type: "checkbox", checked: relay_only(), onchange: move |e| relay_only.set(e.checked()) }
                    "Relay only (hide my IP address from peers)"
                }
                label { class: "check",
                    input { r#type: "checkbox", checked: notifications(), onchange: move |e| notifications.set(e.checked()) }
                    "Notify me of new messages"
                }
                crate::message_actions::PrivacySettings { settings: settings.clone() }
                if let Some(message) = port_error() {
                    p { role: "alert", class: "error", "{message}" }
                }
                div { class: "row",
                    button { r#type: "submit", "Save settings" }
                    button {
                        r#type: "button",
                        class: "secondary",
                        disabled: testing(),
                        onclick: move |_| {
                            let checked = fields.settings(&test_base).and_then(|it| it.validate().map(|()| it).map_err(|err| err.to_string()));
                            match checked {
                                Err(message) => tested.set(vec![message]),
                                Ok(settings) => {
                                    testing.set(true);
                                    tested.set(vec!["Testing…".to_owned()]);
                                    spawn(async move {
                                        let result = multichat_web::connection_test::run(&settings).await;
                                        tested.set(result.sentences(&settings));
                                        testing.set(false);
                                    });
                                }
                            }
                        },
                        "Test connection"
                    }
                }
                if !tested().is_empty() {
                    section { class: "connection-test", role: "status", aria_label: "Connection test",
                        for line in tested() {
                            p { "{line}" }
                        }
                    }
                }
            }
        }
    }
}

/// A username and password per TURN address, as the user typed them.
type Logins = BTreeMap<String, (String, String)>;

fn ice_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|it| !it.is_empty())
}

fn turn_logins(servers: &[IceServer]) -> Logins {
    let mut logins = Logins::new();
    for server in servers {
        let login = (server.username.clone().unwrap_or_default(), server.credential.clone().unwrap_or_default());
        for url in server.urls.iter().filter(|url| is_turn_url(url)) {
            logins.insert(url.clone(), login.clone());
        }
    }
    logins
}

/// One entry per line; a TURN line takes its login (left empty, the core's validation says what is missing).
fn ice_entries(text: &str, logins: &Logins) -> Vec<IceServer> {
    let filled = |it: &str| (!it.is_empty()).then(|| it.to_owned());
    ice_lines(text)
        .map(|url| {
            let (username, credential) = match logins.get(url).filter(|_| is_turn_url(url)) {
                Some((username, credential)) => (filled(username), filled(credential)),
                None => (None, None),
            };
            IceServer { urls: vec![url.to_owned()], username, credential }
        })
        .collect()
}

#[component]
fn TurnLogin(index: usize, url: String, logins: Signal<Logins>) -> Element {
    let (username, credential) = logins.read().get(&url).cloned().unwrap_or_default();
    let (for_username, for_credential) = (url.clone(), url.clone());
    rsx! {
        fieldset { class: "turn-login",
            legend { "{url}" }
            label { r#for: "turn-username-{index}", "Username for {url}" }
            input {
                id: "turn-username-{index}",
                autocomplete: "off",
                value: "{username}",
                oninput: move |e| logins.write().entry(for_username.clone()).or_default().0 = e.value(),
            }
            label { r#for: "turn-password-{index}", "Password for {url}" }
            input {
                id: "turn-password-{index}",
                r#type: "password",
                autocomplete: "new-password",
                value: "{credential}",
                oninput: move |e| logins.write().entry(for_credential.clone()).or_default().1 = e.value(),
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
