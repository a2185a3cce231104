//! The web shell shared by the background worker, the engine host and the popup.
//!
//! It binds the browser and turns JS values into core types and back; it holds no chat logic.
//! [`chrome`] is the only module in the project that names `chrome.*`; [`file_store`] keeps files' bytes in
//! IndexedDB.

#[cfg(feature = "bench-api")]
pub mod bench_api;
pub mod chrome;
pub mod connection_test;
pub mod convert;
pub mod error;
pub mod file_store;
pub mod peer_host;
pub mod rtc;
pub mod worker_lane;
pub mod ws;

pub use error::ShellError;

/// Milliseconds since the epoch, from the browser's clock: the time the core is handed.
pub fn now() -> multichat_core::time::Millis {
    multichat_core::time::Millis(js_sys::Date::now() as u64)
}

/// The browser's preferred languages (`navigator.languages`), in a page, the service worker or Firefox's
/// background page; which catalogue they choose is `multichat_core::phrase::catalogue_language`.
pub fn preferred_languages() -> Vec<String> {
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).unwrap_or(JsValue::UNDEFINED);
    Reflect::get(&navigator, &JsValue::from_str("languages"))
        .ok()
        .filter(JsValue::is_object)
        .map(|it| js_sys::Array::from(&it).iter().filter_map(|it| it.as_string()).collect())
        .unwrap_or_default()
}

/// Fresh random bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ShellError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| ShellError::new("crypto.getRandomValues", err.to_string()))?;
    Ok(bytes)
}
