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
use multichat_core::bridge::{Arg, Code, Phrase};
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

impl Tr {
    /// The message `key` in the popup's language.
    pub(crate) fn t(self, key: &str) -> String {
        self.f(key, &[])
    }

    /// The message `key` with its placeholders filled by `args` in order (`$1` is the first).
    pub(crate) fn f(self, key: &str, args: &[&str]) -> String {
        let catalogue = self.catalogue.read();
        let Some(catalogue) = catalogue.as_ref() else { return String::new() };
        let entry = Reflect::get(&catalogue.messages, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
        let Some(message) = Reflect::get(&entry, &JsValue::from_str("message")).ok().and_then(|it| it.as_string())
        else {
            // The catalogue test keeps this from happening; show the key rather than nothing.
            return key.to_owned();
        };
        let placeholders = Reflect::get(&entry, &JsValue::from_str("placeholders")).unwrap_or(JsValue::UNDEFINED);
        let content = |name: &str| {
            Reflect::get(&placeholders, &JsValue::from_str(&name.to_ascii_lowercase()))
                .and_then(|it| Reflect::get(&it, &JsValue::from_str("content")))
                .ok()
                .and_then(|it| it.as_string())
        };
        substitute(&message, &content, args)
    }

    /// What the worker, the engine or the connection test said (a [`Phrase`]), in the popup's language.
    pub(crate) fn say(self, phrase: &Phrase) -> String {
        let args: Vec<String> = phrase
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text(text) => text.clone(),
                Arg::Phrase(it) => self.say(it),
                Arg::List(list) => {
                    let separator = self.say(&Phrase::new(Code::ListSeparator));
                    list.iter().map(|it| self.say(it)).collect::<Vec<_>>().join(&separator)
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.f(phrase.code.key(), &args)
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
        let lang = chosen.and_then(known).unwrap_or_else(browser_language);
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

/// `message` with `$NAME$` replaced by its placeholder's content, `$1`…`$9` by `args`, and `$$` by `$`, as
/// `chrome.i18n.getMessage` does.
fn substitute(message: &str, content: &dyn Fn(&str) -> Option<String>, args: &[&str]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(digit) = after.chars().next().filter(char::is_ascii_digit) {
            let index = digit.to_digit(10).unwrap_or(0) as usize;
            out.push_str(index.checked_sub(1).and_then(|it| args.get(it)).copied().unwrap_or(""));
            rest = &after[1..];
        } else if let Some(end) = after.find('$').filter(|&end| end > 0)
            && let Some(filled) = content(&after[..end])
        {
            out.push_str(&substitute(&filled, content, args));
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn known(lang: &str) -> Option<&'static str> {
    LANGUAGES.iter().map(|(it, _)| *it).find(|it| *it == lang)
}

/// The first of the browser's preferred languages we have a catalogue for (`fr-CA` is French, any Chinese
/// is Simplified Chinese), English otherwise.
fn browser_language() -> &'static str {
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).unwrap_or(JsValue::UNDEFINED);
    let languages = Reflect::get(&navigator, &JsValue::from_str("languages"))
        .ok()
        .filter(|it| it.is_object())
        .map(|it| js_sys::Array::from(&it).iter().filter_map(|it| it.as_string()).collect::<Vec<_>>())
        .unwrap_or_default();
    for tag in languages {
        let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let found = match primary.as_str() {
            "zh" => Some("zh_CN"),
            other => known(other),
        };
        if let Some(lang) = found {
            return lang;
        }
    }
    "en"
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
