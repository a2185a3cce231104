//! The popup's words. Every string the popup shows comes from one message catalogue per language: the
//! WebExtension `_locales/<lang>/messages.json` files (the manifest's name and description are there too).
//! The catalogue is fetched from the extension's own files at run time and kept as the parsed JSON object,
//! so no language is compiled into the popup's wasm.
//!
//! The language is the one chosen in Settings, or else the browser's first preferred language we have,
//! or else English. `tests/popup_catalogue.rs` checks that every key used here is in every catalogue, and
//! every [`Code`] the worker, the engine and the connection test may send (`w_…` keys) too.

use dioxus::prelude::*;
use js_sys::{Function, Object, Promise, Reflect};
use multichat_core::bridge::Phrase;
use multichat_core::phrase;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The languages we have a catalogue for: the `_locales` folder and the language's own name for it.
pub(crate) const LANGUAGES: [(&str, &str); 3] = [("en", "English"), ("fr", "Français"), ("zh_CN", "简体中文")];

/// The loaded catalogue, for the whole popup. `Copy`: components keep it in a local and call [`Tr::t`].
#[derive(Clone, Copy)]
pub(crate) struct Tr {
    catalogue: Signal<Option<Catalogue>>,
    /// The language being fetched or shown, so a choice is fetched once.
    wanted: Signal<&'static str>,
}

#[derive(Clone)]
struct Catalogue {
    messages: Object,
}

impl phrase::Catalogue for Catalogue {
    fn message(&self, key: &str) -> Option<String> {
        // The catalogue test keeps a key from missing; `message_in` shows the key rather than nothing.
        self.entry(key, &["message"])
    }

    fn placeholder(&self, key: &str, name: &str) -> Option<String> {
        self.entry(key, &["placeholders", name, "content"])
    }
}

impl Catalogue {
    /// The string at `path` under the entry `key`.
    fn entry(&self, key: &str, path: &[&str]) -> Option<String> {
        let mut value = Reflect::get(&self.messages, &JsValue::from_str(key)).ok()?;
        for step in path {
            value = Reflect::get(&value, &JsValue::from_str(step)).ok()?;
        }
        value.as_string()
    }
}

impl Tr {
    /// The message `key` in the popup's language.
    pub(crate) fn t(self, key: &str) -> String {
        self.f(key, &[])
    }

    /// The message `key` with its placeholders filled by `args` in order (`$1` is the first).
    pub(crate) fn f(self, key: &str, args: &[&str]) -> String {
        match self.catalogue.read().as_ref() {
            Some(catalogue) => phrase::message_in(catalogue, key, args),
            None => String::new(),
        }
    }

    /// What the worker, the engine or the connection test said (a [`Phrase`]), in the popup's language.
    pub(crate) fn say(self, phrase: &Phrase) -> String {
        match self.catalogue.read().as_ref() {
            Some(catalogue) => phrase.said_in(catalogue),
            None => String::new(),
        }
    }

    /// The language shown, as a BCP 47 tag (`zh-CN`), for dates and times.
    pub(crate) fn locale(self) -> String {
        self.wanted.peek().replace('_', "-")
    }

    /// Whether a catalogue is loaded (the popup renders nothing before).
    pub(crate) fn ready(self) -> bool {
        self.catalogue.read().is_some()
    }

    /// Shows `chosen` (a `_locales` folder from Settings), or the browser's language when `None`.
    pub(crate) fn follow(mut self, chosen: Option<&str>) {
        let lang = phrase::catalogue_language(chosen, &multichat_web::preferred_languages());
        if *self.wanted.peek() == lang {
            return;
        }
        self.wanted.set(lang);
        spawn(async move {
            match fetch_catalogue(lang).await {
                Ok(messages) if *self.wanted.peek() == lang => {
                    set_document_language(lang);
                    self.catalogue.set(Some(Catalogue { messages }));
                }
                Ok(_) => {}
                Err(err) => web_sys::console::warn_2(&JsValue::from_str("multichat: no catalogue for"), &err),
            }
        });
    }
}

/// `_locales/<lang>/messages.json`, parsed.
async fn fetch_catalogue(lang: &str) -> Result<Object, JsValue> {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &JsValue::from_str("fetch"))?.dyn_into()?;
    let url = format!("../_locales/{lang}/messages.json");
    let response = JsFuture::from(Promise::from(fetch.call1(&global, &JsValue::from_str(&url))?)).await?;
    let json: Function = Reflect::get(&response, &JsValue::from_str("json"))?.dyn_into()?;
    let parsed = JsFuture::from(Promise::from(json.call0(&response)?)).await?;
    parsed.dyn_into()
}

/// `<html lang>`, so screen readers pronounce the popup in its language.
fn set_document_language(lang: &str) {
    let element = web_sys::window().and_then(|it| it.document()).and_then(|it| it.document_element());
    if let Some(element) = element {
        let _ = element.set_attribute("lang", &lang.replace('_', "-"));
    }
}

pub(crate) fn use_tr() -> Tr {
    use_context::<Tr>()
}

/// Provides the catalogue to the whole popup and starts loading the browser's language. Called once, by the
/// root component.
pub(crate) fn use_tr_provider() -> Tr {
    let catalogue = use_signal(|| None::<Catalogue>);
    let wanted = use_signal(|| "");
    let tr = use_context_provider(|| Tr { catalogue, wanted });
    use_hook(move || tr.follow(None));
    tr
}
