//! Serde values to JS values and back, always in the JSON-compatible form `chrome.*` messaging and storage
//! accept (plain objects, not `Map`s; numbers, not `BigInt`s).

use serde::{Serialize, de::DeserializeOwned};
use wasm_bindgen::JsValue;

use crate::ShellError;

pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, ShellError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|err| ShellError::new("encoding a value for JS", err.to_string()))
}

/// As [`to_js`], but bytes (`serde_bytes` fields) as `Uint8Array`s, for a lane that carries values by
/// structured clone (not for `chrome.*` messaging or storage, where a `Uint8Array` would not survive).
pub fn to_js_cloned<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, ShellError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false))
        .map_err(|err| ShellError::new("encoding a value for JS", err.to_string()))
}

pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, ShellError> {
    serde_wasm_bindgen::from_value(value).map_err(|err| ShellError::new("decoding a JS value", err.to_string()))
}
