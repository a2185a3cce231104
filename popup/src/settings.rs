//! Settings (appearance first, then the connection, advanced, and notifications) and "Your data" (export
//! and import). Appearance is saved as soon as it is chosen; the rest with "Save settings".

use dioxus::prelude::*;
use multichat_core::bridge::Request;
use std::collections::BTreeMap;

use multichat_core::settings::{IceServer, Settings, Theme, is_turn_url};
use multichat_core::worker::settings_phrase;

use crate::i18n::{LANGUAGES, Tr, use_tr};
use crate::ui::{ErrorAt, Place, use_ui};

/// The "Settings" section: appearance, then the rest of the settings form.
#[component]
pub(crate) fn SettingsPanel(settings: Settings) -> Element {
    let tr = use_tr();
    rsx! {
        details { class: "settings",
            summary { {tr.t("settings")} }
            Appearance { settings: settings.clone() }
            SettingsForm { settings }
        }
    }
}

/// Theme and language, saved at once.
#[component]
fn Appearance(settings: Settings) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let theme = settings.theme;
    let language = settings.language.clone().unwrap_or_default();
    let for_theme = settings.clone();
    let for_language = settings.clone();
    rsx! {
        fieldset { class: "group",
            legend { {tr.t("appearance")} }
            label { r#for: "theme", {tr.t("theme")} }
            select {
                id: "theme",
                onchange: move |evt: FormEvent| {
                    let mut settings = for_theme.clone();
                    settings.theme = match evt.value().as_str() {
                        "light" => Theme::Light,
                        "dark" => Theme::Dark,
                        _ => Theme::System,
                    };
                    ui.send_at(Place::Appearance, Request::SaveSettings { settings });
                },
                option { value: "system", selected: theme == Theme::System, {tr.t("theme_system")} }
                option { value: "light", selected: theme == Theme::Light, {tr.t("theme_light")} }
                option { value: "dark", selected: theme == Theme::Dark, {tr.t("theme_dark")} }
            }
            label { r#for: "language", {tr.t("language")} }
            select {
                id: "language",
                onchange: move |evt: FormEvent| {
                    let mut settings = for_language.clone();
                    settings.language = Some(evt.value()).filter(|it| !it.is_empty());
                    ui.send_at(Place::Appearance, Request::SaveSettings { settings });
                },
                option { value: "", selected: language.is_empty(), {tr.t("language_browser")} }
                for (code, name) in LANGUAGES {
                    // Each language in its own words, marked so a screen reader reads it so.
                    option { key: "{code}", value: code, lang: code.replace('_', "-"), selected: language == code, "{name}" }
                }
            }
            ErrorAt { place: Place::Appearance }
        }
    }
}

/// Export of everything stored, as the issue asks ("exportable with the rest of the user's data"), and
/// import of such a file (to move to another browser), after the user confirms the replacement.
#[component]
pub(crate) fn YourData(signed_in: bool) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    // The chosen file's name and text, until the user confirms or cancels.
    let mut chosen = use_signal(|| None::<(String, String)>);
    let mut read_error = use_signal(|| None::<String>);
    rsx! {
        details { class: "settings data",
            summary { {tr.t("your_data")} }
            if signed_in {
                p { class: "hint", {tr.t("export_hint")} }
                button { r#type: "button", class: "secondary", onclick: move |_| ui.send_at(Place::Data, Request::ExportData), {tr.t("export")} }
            }
            p { class: "hint", {tr.t("import_hint")} }
            label { r#for: "import-file", {tr.t("import_file")} }
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
                        Err(err) => read_error.set(Some(tr.f("read_failed", &[&err.to_string()]))),
                    }
                },
            }
            if let Some((name, json)) = chosen() {
                p { class: "hint", {tr.f("import_confirm", &[&name])} }
                div { class: "row",
                    button {
                        r#type: "button",
                        onclick: move |_| {
                            chosen.set(None);
                            ui.send_at(Place::Data, Request::ImportData { json: json.clone() });
                        },
                        {tr.t("replace_data")}
                    }
                    button { r#type: "button", class: "secondary", onclick: move |_| chosen.set(None), {tr.t("cancel")} }
                }
            }
            if let Some(message) = read_error() {
                p { role: "alert", class: "error", "{message}" }
            }
            ErrorAt { place: Place::Data }
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
    /// The largest file accepted from a peer, in megabytes as typed.
    max_file_mb: Signal<String>,
}

impl SettingsFields {
    /// `base` with the typed values; an error in words when the port is not a number (the rest is checked
    /// by `Settings::validate`).
    fn settings(&self, tr: Tr, base: &Settings) -> Result<Settings, String> {
        let Ok(port) = (self.port)().trim().parse::<u16>() else {
            return Err(tr.t("port_not_number"));
        };
        let max_file_mb = (self.max_file_mb)();
        let Some(max_file_bytes) = max_file_mb.trim().parse::<u64>().ok().and_then(|mb| mb.checked_mul(1_000_000))
        else {
            return Err(tr.t("max_file_not_number"));
        };
        let mut settings = base.clone();
        settings.max_file_bytes = max_file_bytes;
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
    let tr = use_tr();
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
        max_file_mb: use_signal(|| (settings.max_file_bytes / 1_000_000).to_string()),
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
        mut max_file_mb,
    } = fields;
    let mut port_error = use_signal(|| None::<String>);
    // The last "Test connection" result, one sentence a line; `testing` while one runs.
    let mut tested = use_signal(Vec::<String>::new);
    let mut testing = use_signal(|| false);
    let base = settings.clone();
    let test_base = settings.clone();
    rsx! {
        form {
            aria_label: tr.t("settings"),
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                match fields.settings(tr, &base) {
                    Err(message) => port_error.set(Some(message)),
                    Ok(settings) => {
                        port_error.set(None);
                        ui.send_at(Place::Settings, Request::SaveSettings { settings });
                    }
                }
            },
            fieldset { class: "group",
                legend { {tr.t("connection_advanced")} }
                p { class: "hint", {tr.t("connection_hint")} }
                label { r#for: "server-host", {tr.t("server_host")} }
                input { id: "server-host", value: "{host}", oninput: move |e| host.set(e.value()) }
                label { r#for: "server-port", {tr.t("server_port")} }
                input { id: "server-port", inputmode: "numeric", value: "{port}", oninput: move |e| port.set(e.value()) }
                label { r#for: "server-path", {tr.t("server_path")} }
                input { id: "server-path", value: "{path}", oninput: move |e| path.set(e.value()) }
                label { r#for: "server-key", {tr.t("server_key")} }
                input { id: "server-key", value: "{key}", oninput: move |e| key.set(e.value()) }
                label { class: "check",
                    input { r#type: "checkbox", checked: secure(), onchange: move |e| secure.set(e.checked()) }
                    {tr.t("server_secure")}
                }
                label { r#for: "ice-servers", {tr.t("ice_servers")} }
                textarea { id: "ice-servers", rows: 2, value: "{ice}", oninput: move |e| ice.set(e.value()) }
                p { class: "hint", {tr.t("turn_hint")} }
                for (index, url) in ice_lines(&ice()).filter(|url| is_turn_url(url)).enumerate() {
                    TurnLogin { key: "{url}", index, url: url.to_owned(), logins }
                }
                label { class: "check",
                    input { r#type: "checkbox", checked: relay_only(), onchange: move |e| relay_only.set(e.checked()) }
                    {tr.t("relay_only")}
                }
            }
            label { class: "check",
                input { r#type: "checkbox", checked: notifications(), onchange: move |e| notifications.set(e.checked()) }
                {tr.t("notify")}
            }
            label { r#for: "max-file-size", {tr.t("max_file_size")} }
            input {
                id: "max-file-size",
                r#type: "number",
                min: "1",
                max: "4000",
                inputmode: "numeric",
                value: "{max_file_mb}",
                oninput: move |e| max_file_mb.set(e.value()),
            }
            crate::message_actions::PrivacySettings { settings: settings.clone() }
            if let Some(message) = port_error() {
                p { role: "alert", class: "error", "{message}" }
            }
            ErrorAt { place: Place::Settings }
            div { class: "row",
                button { r#type: "submit", {tr.t("save_settings")} }
                button {
                    r#type: "button",
                    class: "secondary",
                    disabled: testing(),
                    onclick: move |_| {
                        let checked = fields.settings(tr, &test_base).and_then(|it| it.validate().map(|()| it).map_err(|err| tr.say(&settings_phrase(&err))));
                        match checked {
                            Err(message) => tested.set(vec![message]),
                            Ok(settings) => {
                                testing.set(true);
                                tested.set(vec![tr.t("testing")]);
                                spawn(async move {
                                    let result = multichat_web::connection_test::run(&settings).await;
                                    tested.set(result.sentences(&settings).iter().map(|it| tr.say(it)).collect());
                                    testing.set(false);
                                });
                            }
                        }
                    },
                    {tr.t("test_connection")}
                }
            }
            if !tested().is_empty() {
                section { class: "connection-test", role: "status", aria_label: tr.t("connection_test"),
                    for line in tested() {
                        p { "{line}" }
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
    let tr = use_tr();
    let (username, credential) = logins.read().get(&url).cloned().unwrap_or_default();
    let (for_username, for_credential) = (url.clone(), url.clone());
    rsx! {
        fieldset { class: "turn-login",
            legend { "{url}" }
            label { r#for: "turn-username-{index}", {tr.f("turn_username", &[&url])} }
            input {
                id: "turn-username-{index}",
                autocomplete: "off",
                value: "{username}",
                oninput: move |e| logins.write().entry(for_username.clone()).or_default().0 = e.value(),
            }
            label { r#for: "turn-password-{index}", {tr.f("turn_password", &[&url])} }
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
