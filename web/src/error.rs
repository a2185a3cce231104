//! Errors at the JS boundary, with the failed operation named.

use wasm_bindgen::JsValue;

/// A JS call that threw or rejected, or a JS value that did not have the expected shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{op} failed: {detail}")]
pub struct ShellError {
    pub op: &'static str,
    pub detail: String,
}

impl ShellError {
    pub fn new(op: &'static str, detail: impl Into<String>) -> ShellError {
        ShellError { op, detail: detail.into() }
    }

    /// Wraps a thrown JS value, keeping its message (an `Error`'s `message`, or the value's text form).
    pub fn from_js(op: &'static str, thrown: &JsValue) -> ShellError {
        let detail = js_sys::Reflect::get(thrown, &JsValue::from_str("message"))
            .ok()
            .and_then(|it| it.as_string())
            .or_else(|| thrown.as_string())
            .unwrap_or_else(|| format!("{thrown:?}"));
        ShellError { op, detail }
    }
}
