//! Saving a file the worker made (the data export): a Blob, an object URL and a hidden `<a download>`
//! clicked from Rust. No script runs but ours, so the extension's CSP is kept.

use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

/// How long the object URL outlives the click; the browser has the file by then.
const REVOKE_AFTER_MS: i32 = 10_000;

/// Starts the browser's download of `contents` as `file_name`. The error is the browser's reason.
pub(crate) fn save_json(file_name: &str, contents: &str) -> Result<(), String> {
    save(file_name, contents).map_err(|err| {
        err.as_string().or_else(|| js_sys::JSON::stringify(&err).ok().and_then(|it| it.as_string())).unwrap_or_default()
    })
}

fn save(file_name: &str, contents: &str) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let options = BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = Blob::new_with_str_sequence_and_options(&js_sys::Array::of1(&JsValue::from_str(contents)), &options)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    let anchor: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.set_hidden(true);
    let body = document.body().ok_or("no body")?;
    body.append_child(&anchor)?;
    anchor.click();
    anchor.remove();
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), REVOKE_AFTER_MS)?;
    Ok(())
}
