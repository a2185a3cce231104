//! The passphrase screens: unlocking the history (or, the passphrase forgotten, erasing everything to start
//! over), and protecting it in Settings. The worker does the work (key derivation, sealing); these only
//! collect what the user types and send it. What was typed is cleared only once the worker accepted it.

use dioxus::prelude::*;
use multichat_core::at_rest::MIN_PASSPHRASE_CHARS;
use multichat_core::bridge::Request;

use crate::i18n::use_tr;
use crate::ui::{ErrorAt, Place, use_ui};

/// Shown instead of everything else while the history is locked.
#[component]
pub(crate) fn Unlock() -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut passphrase = use_signal(String::new);
    let mut erasing = use_signal(|| false);
    rsx! {
        form {
            class: "unlock",
            aria_label: tr.t("unlock"),
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                ui.send_then(Place::Unlock, Request::Unlock { passphrase: passphrase() }, move |accepted| {
                    if accepted {
                        passphrase.set(String::new());
                    }
                });
            },
            h2 { {tr.t("locked_heading")} }
            p { {tr.t("locked_intro")} }
            label { r#for: "unlock-passphrase", {tr.t("passphrase")} }
            input {
                id: "unlock-passphrase",
                r#type: "password",
                autocomplete: "current-password",
                autofocus: true,
                value: "{passphrase}",
                oninput: move |evt| passphrase.set(evt.value()),
            }
            ErrorAt { place: Place::Unlock }
            button { r#type: "submit", {tr.t("unlock")} }
        }
        section { class: "forgot", aria_label: tr.t("forgot_passphrase"),
            if erasing() {
                div { class: "key-change", role: "alertdialog", aria_labelledby: "erase-heading", aria_describedby: "erase-warning",
                    p { id: "erase-heading", strong { {tr.t("erase_heading")} } }
                    p { id: "erase-warning", {tr.t("erase_warning")} }
                    div { class: "row",
                        button {
                            r#type: "button",
                            class: "danger",
                            onclick: move |_| ui.send_at(Place::Unlock, Request::EraseEverything),
                            {tr.t("erase_confirm")}
                        }
                        button { r#type: "button", class: "secondary", onclick: move |_| erasing.set(false), {tr.t("cancel")} }
                    }
                }
            } else {
                button { r#type: "button", class: "secondary", onclick: move |_| erasing.set(true), {tr.t("forgot_passphrase")} }
            }
        }
    }
}

/// In Settings: set a passphrase; once one is set, change it, remove it, or lock now.
#[component]
pub(crate) fn PassphraseForm(set: bool) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut first = use_signal(String::new);
    let mut second = use_signal(String::new);
    let mut current = use_signal(String::new);
    let mut mismatch = use_signal(|| false);
    let clear = move |accepted: bool| {
        if accepted {
            current.set(String::new());
            first.set(String::new());
            second.set(String::new());
        }
    };
    rsx! {
        details { class: "settings passphrase",
            summary { {tr.t("protect_history")} }
            p { {tr.t("passphrase_unrecoverable")} }
            if set {
                form {
                    aria_label: tr.t("change_or_remove"),
                    onsubmit: move |evt: FormEvent| {
                        evt.prevent_default();
                        if first() != second() {
                            mismatch.set(true);
                            return;
                        }
                        mismatch.set(false);
                        ui.send_then(Place::Passphrase, Request::ChangePassphrase { old: current(), new: first() }, clear);
                    },
                    p { {tr.t("passphrase_is_set")} }
                    label { r#for: "current-passphrase", {tr.t("current_passphrase")} }
                    input {
                        id: "current-passphrase",
                        r#type: "password",
                        autocomplete: "current-password",
                        value: "{current}",
                        oninput: move |evt| current.set(evt.value()),
                    }
                    NewPassphrase { first, second, mismatch }
                    ErrorAt { place: Place::Passphrase }
                    div { class: "row",
                        button { r#type: "submit", {tr.t("change_passphrase")} }
                        // Removing needs only the current passphrase.
                        button {
                            r#type: "button",
                            class: "secondary",
                            onclick: move |_| {
                                ui.send_then(Place::Passphrase, Request::RemovePassphrase { passphrase: current() }, clear);
                            },
                            {tr.t("remove_passphrase")}
                        }
                    }
                }
                button { onclick: move |_| ui.send_at(Place::Passphrase, Request::LockNow), {tr.t("lock_now")} }
            } else {
                form {
                    aria_label: tr.t("set_passphrase_form"),
                    onsubmit: move |evt: FormEvent| {
                        evt.prevent_default();
                        if first() != second() {
                            mismatch.set(true);
                            return;
                        }
                        mismatch.set(false);
                        ui.send_then(Place::Passphrase, Request::SetPassphrase { passphrase: first() }, clear);
                    },
                    NewPassphrase { first, second, mismatch }
                    ErrorAt { place: Place::Passphrase }
                    button { r#type: "submit", {tr.t("set_passphrase")} }
                }
            }
        }
    }
}

/// The new passphrase, typed twice (both forms ask for it the same way).
#[component]
fn NewPassphrase(first: Signal<String>, second: Signal<String>, mismatch: Signal<bool>) -> Element {
    let tr = use_tr();
    rsx! {
        label { r#for: "new-passphrase", {tr.t("new_passphrase")} }
        input {
            id: "new-passphrase",
            r#type: "password",
            autocomplete: "new-password",
            aria_describedby: "passphrase-rule",
            value: "{first}",
            oninput: move |evt| first.set(evt.value()),
        }
        p { id: "passphrase-rule", class: "hint", {tr.f("passphrase_min", &[&MIN_PASSPHRASE_CHARS.to_string()])} }
        label { r#for: "repeat-passphrase", {tr.t("repeat_passphrase")} }
        input {
            id: "repeat-passphrase",
            r#type: "password",
            autocomplete: "new-password",
            value: "{second}",
            oninput: move |evt| second.set(evt.value()),
        }
        if mismatch() {
            p { role: "alert", class: "error", {tr.t("passphrases_differ")} }
        }
    }
}
