//! The web shell's conversions, run in headless Chromium by wasm-bindgen-test.

#![cfg(target_arch = "wasm32")]

use std::collections::BTreeMap;

use multichat_core::bridge::{PopupToWorker, Request};
use multichat_web::{ShellError, convert};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn maps_become_plain_objects_that_chrome_messaging_accepts() {
    let mut records = BTreeMap::new();
    records.insert("account".to_owned(), 1u32);
    let value = convert::to_js(&records).unwrap();
    assert!(!value.is_instance_of::<js_sys::Map>(), "a Map would arrive empty through chrome.runtime");
    let json = js_sys::JSON::stringify(&value).unwrap();
    assert_eq!(json.as_string().unwrap(), r#"{"account":1}"#);
}

#[wasm_bindgen_test]
fn bridge_frames_round_trip_through_js() {
    let frame = PopupToWorker { id: 3, request: Request::SignIn { username: "alice".into() } };
    let back: PopupToWorker = convert::from_js(convert::to_js(&frame).unwrap()).unwrap();
    assert_eq!(back, frame);
}

#[wasm_bindgen_test]
fn a_malformed_frame_is_an_error() {
    let value = js_sys::JSON::parse(r#"{"id":"seven","request":{"kind":"sign_in"}}"#).unwrap();
    let res: Result<PopupToWorker, ShellError> = convert::from_js(value);
    assert!(res.is_err());
}

#[wasm_bindgen_test]
fn thrown_errors_keep_their_message() {
    let thrown: JsValue = js_sys::Error::new("QUOTA_BYTES quota exceeded").into();
    let err = ShellError::from_js("storage.local.set", &thrown);
    assert_eq!(err.to_string(), "storage.local.set failed: QUOTA_BYTES quota exceeded");
}
