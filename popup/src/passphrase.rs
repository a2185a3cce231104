//! The passphrase screens: unlocking the history, and protecting it in Settings. The worker does the work
//! (key derivation, sealing); these only collect what the user types and send it.

use dioxus::prelude::*;
use multichat_core::bridge::Request;

use crate::ui::use_ui;

/// Shown instead of everything else while the history is locked.
#[component]
pub(crate) fn Unlock() -> Element {
    let ui = use_ui();
    let mut passphrase = use_signal(String::new);
    rsx! {
        form {
            class: "unlock",
            aria_label: "Unlock",
            onsubmit: move |evt: FormEvent| {
                evt.prevent_default();
                ui.send(Request::Unlock { passphrase: passphrase() });
                passphrase.set(String::new());
            },
            h2 { "multichat is locked" }
            p { "Your history is protected by a passphrase. Enter it to read and receive messages." }
            label { r#for: "unlock-passphrase", "Passphrase" }
            input {
                id: "unlock-passphrase",
                r#type: "password",
                autocomplete: "current-password",
                autofocus: true,
                value: "{passphrase}",
                oninput: move |evt| passphrase.set(evt.value()),
            }
            button { r#type: "submit", "Unlock" }
        }
        button { class: "secondary", onclick: move |_| ui.send(Request::SignOut), "Sign out" }
    }
}

/// In Settings: set a passphrase; once one is set, change it, remove it, or lock now.
#[component]
pub(crate) fn PassphraseForm(set: bool) -> Element {
    let ui = use_ui();
    let mut first = use_signal(String::new);
    let mut second = use_signal(String::new);
    let mut current = use_signal(String::new);
    let mut mismatch = use_signal(|| false);
    rsx! {
        details { class: "settings passphrase",
            summary { "Protect history with a passphrase" }
            p { "A forgotten passphrase cannot be recovered: without it, your stored history cannot be read." }
            if set {
                form {
                    aria_label: "Change or remove passphrase",
                    onsubmit: move |evt: FormEvent| {
                        evt.prevent_default();
                        if first() != second() {
                            mismatch.set(true);
                            return;
                        }
                        mismatch.set(false);
                        ui.send(Request::ChangePassphrase { old: current(), new: first() });
                        current.set(String::new());
                        first.set(String::new());
                        second.set(String::new());
                    },
                    p { "Your history is protected by a passphrase." }
                    label { r#for: "current-passphrase", "Current passphrase" }
                    input {
                        id: "current-passphrase",
                        r#type: "password",
                        autocomplete: "current-password",
                        value: "{current}",
                        oninput: move |evt| current.set(evt.value()),
                    }
                    NewPassphrase { first, second, mismatch }
                    div { class: "row",
                        button { r#type: "submit", "Change passphrase" }
                        // Removing needs only the current passphrase.
                        button {
                            r#type: "button",
                            class: "secondary",
                            onclick: move |_| {
                                ui.send(Request::RemovePassphrase { passphrase: current() });
                                current.set(String::new());
                            },
                            "Remove passphrase"
                        }
                    }
                }
                button { onclick: move |_| ui.send(Request::LockNow), "Lock now" }
            } else {
                form {
                    aria_label: "Set passphrase",
                    onsubmit: move |evt: FormEvent| {
                        evt.prevent_default();
                        if first() != second() {
                            mismatch.set(true);
                            return;
                        }
                        mismatch.set(false);
                        ui.send(Request::SetPassphrase { passphrase: first() });
                        first.set(String::new());
                        second.set(String::new());
                    },
                    NewPassphrase { first, second, mismatch }
                    button { r#type: "submit", "Set passphrase" }
                }
            }
        }
    }
}

/// The new passphrase, typed twice (both forms ask for it the same way).
#[component]
fn NewPassphrase(first: Signal<String>, second: Signal<String>, mismatch: Signal<bool>) -> Element {
    rsx! {
        label { r#for: "new-passphrase", "New passphrase" }
        input {
            id: "new-passphrase",
            r#type: "password",
            autocomplete: "new-password",
            value: "{first}",
            oninput: move |evt| first.set(evt.value()),
        }
        label { r#for: "repeat-passphrase", "Repeat passphrase" }
        input {
            id: "repeat-passphrase",
            r#type: "password",
            autocomplete: "new-password",
            value: "{second}",
            oninput: move |evt| second.set(evt.value()),
        }
        if mismatch() {
            p { role: "alert", class: "error", "The two passphrases differ" }
        }
    }
}
