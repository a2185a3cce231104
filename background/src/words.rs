//! The words of the worker's notifications: an [`Arrival`]'s phrases said in the user's language, from the
//! same `_locales/<lang>/messages.json` catalogue the popup reads (the language chosen in Settings, else the
//! browser's), fetched from the extension's own files once per language.
//!
//! [`Arrival`]: multichat_core::worker::Arrival

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use multichat_core::phrase::catalogue_language;
use multichat_web::chrome;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// The catalogue last fetched, with its language.
    static CATALOGUE: RefCell<Option<(&'static str, Rc<serde_json::Value>)>> = const { RefCell::new(None) };
}

/// The catalogue for `chosen` (Settings' language) or the browser's. A catalogue that cannot be read is
/// logged and English is tried; with none at all, a phrase shows its key rather than nothing.
pub(crate) async fn catalogue(chosen: Option<&str>) -> Rc<serde_json::Value> {
    let lang = catalogue_language(chosen, &multichat_web::preferred_languages());
    let cached =
        CATALOGUE.with(|it| it.borrow().as_ref().filter(|(cached, _)| *cached == lang).map(|(_, it)| it.clone()));
    if let Some(catalogue) = cached {
        return catalogue;
    }
    for lang in [lang, "en"] {
        match fetch_catalogue(lang).await {
            Ok(parsed) => {
                let parsed = Rc::new(parsed);
                CATALOGUE.with(|it| *it.borrow_mut() = Some((lang, parsed.clone())));
                return parsed;
            }
            Err(err) => {
                web_sys::console::warn_2(&JsValue::from_str("multichat: no catalogue for a notification"), &err)
            }
        }
    }
    Rc::new(serde_json::Value::Null)
}

async fn fetch_catalogue(lang: &str) -> Result<serde_json::Value, JsValue> {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &JsValue::from_str("fetch"))?.dyn_into()?;
    let url = chrome::runtime_get_url(&format!("_locales/{lang}/messages.json"));
    let response = JsFuture::from(Promise::from(fetch.call1(&global, &JsValue::from_str(&url))?)).await?;
    let text: Function = Reflect::get(&response, &JsValue::from_str("text"))?.dyn_into()?;
    let text = JsFuture::from(Promise::from(text.call0(&response)?)).await?;
    let text = text.as_string().ok_or_else(|| JsValue::from_str("the catalogue is not text"))?;
    serde_json::from_str(&text).map_err(|err| JsValue::from_str(&err.to_string()))
}
