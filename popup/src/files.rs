//! Files and images in a conversation (issue 15): paste, drop or pick a file; each file of the conversation
//! in the log (an image as a thumbnail that opens full size, any other file with its name, size and Save),
//! a progress bar while it moves, Accept and Decline for a file from someone who is not a contact, and
//! Cancel. The bytes are handed to the worker in pieces, each stored before the next is read, so a file
//! survives the popup closing once handed over; the worker sends it.

use std::cell::RefCell;
use std::rc::Rc;

use dioxus::html::HasFileData;
use dioxus::prelude::*;
use dioxus::web::WebEventExt;
use multichat_core::bridge::{FileStatus, FileView, MessageView, Request, Response};
use multichat_core::phrase::Code;
use multichat_core::transfer::human_size;
use multichat_core::transfer::record::{base64_bytes, chunk_base64};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::i18n::use_tr;
use crate::ui::{Place, Ui, use_ui};

/// Bytes per piece handed to the worker: 16 chunks of 64 KiB (whole chunks, as the worker asks).
const PIECE_BYTES: f64 = 16.0 * 65_536.0;

/// The id of the hidden file input the attach button opens.
const PICKER_ID: &str = "file-picker";

/// Sends every file in `files` to `room`, one after the other.
pub(crate) fn send_files(ui: Ui, room: String, files: Vec<web_sys::File>) {
    if files.is_empty() {
        return;
    }
    spawn(async move {
        for file in files {
            if let Err(message) = send_one(ui, &room, &file).await {
                ui.show_error(Place::Composer, message);
                return;
            }
        }
    });
}

async fn send_one(ui: Ui, room: &str, file: &web_sys::File) -> Result<(), String> {
    let size = file.size();
    let upload = format!("{}-{}-{}", js_sys::Date::now(), file.name(), size);
    let mut offset = 0.0;
    loop {
        let end = (offset + PIECE_BYTES).min(size);
        let bytes = read_slice(file, offset, end).await.map_err(|err| format!("{err:?}"))?;
        let request = Request::SendFilePiece {
            upload: upload.clone(),
            room: room.to_owned(),
            name: file.name(),
            mime: file.type_(),
            size: size as u64,
            offset: offset as u64,
            data: chunk_base64(&bytes),
        };
        if let Response::Error { message } = ask(ui, request).await {
            return Err(ui.say(&message));
        }
        if end >= size {
            return Ok(());
        }
        offset = end;
    }
}

async fn read_slice(file: &web_sys::File, start: f64, end: f64) -> Result<Vec<u8>, JsValue> {
    let blob = file.slice_with_f64_and_f64(start, end)?;
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Sends `request` and waits for the worker's answer.
async fn ask(ui: Ui, request: Request) -> Response {
    let answer: Rc<RefCell<Option<Response>>> = Rc::default();
    let mut request = Some(request);
    let slot = answer.clone();
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(request) = request.take() else { return };
        let slot = slot.clone();
        ui.ask(request, move |response| {
            *slot.borrow_mut() = Some(response);
            let _ = resolve.call0(&JsValue::NULL);
        });
    });
    let _ = JsFuture::from(promise).await;
    answer.borrow_mut().take().unwrap_or(Response::Error { message: Code::ConnectionClosed.into() })
}

/// The files a paste carries (an image copied from a page or a screenshot, files copied in a file manager).
pub(crate) fn pasted_files(evt: &ClipboardEvent) -> Vec<web_sys::File> {
    let Some(event) = evt.try_as_web_event() else { return Vec::new() };
    let Some(clipboard) = event.dyn_ref::<web_sys::ClipboardEvent>().and_then(|it| it.clipboard_data()) else {
        return Vec::new();
    };
    clipboard.files().map(|list| list_files(&list)).unwrap_or_default()
}

/// The files of a drop.
pub(crate) fn dropped_files(evt: &DragEvent) -> Vec<web_sys::File> {
    event_files(evt.files())
}

/// The files of a drop or of the picker.
fn event_files(files: Vec<dioxus::html::FileData>) -> Vec<web_sys::File> {
    files.iter().filter_map(|it| it.inner().downcast_ref::<web_sys::File>().cloned()).collect()
}

fn list_files(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|index| list.item(index)).collect()
}

/// The attach button and the hidden picker it opens.
#[component]
pub(crate) fn Attach(room: String) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        input {
            id: PICKER_ID,
            r#type: "file",
            multiple: true,
            hidden: true,
            onchange: move |evt: FormEvent| {
                send_files(ui, room.clone(), event_files(evt.files()));
                if let Some(input) = element_by_id(PICKER_ID).and_then(|it| it.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                    input.set_value("");
                }
            },
        }
        button {
            r#type: "button",
            class: "attach secondary",
            aria_label: tr.t("file_attach"),
            title: tr.t("file_attach_hint"),
            onclick: move |_| {
                if let Some(input) = element_by_id(PICKER_ID).and_then(|it| it.dyn_into::<web_sys::HtmlElement>().ok()) {
                    input.click();
                }
            },
            "📎"
        }
    }
}

fn element_by_id(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// The files to show before each message (by time), and after the last one (the last slot).
pub(crate) fn slots(messages: &[MessageView], files: Vec<FileView>) -> Vec<Vec<FileView>> {
    let mut slots = vec![Vec::new(); messages.len() + 1];
    for file in files {
        let at = messages.iter().position(|it| it.timestamp > file.timestamp).unwrap_or(messages.len());
        slots[at].push(file);
    }
    slots
}

/// One file in the log.
#[component]
pub(crate) fn FileItem(file: FileView) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let sender = if file.mine { tr.t("you") } else { file.from.clone() };
    let size = human_size(file.size);
    let key = file.key.clone();
    let answer = move |accept: bool| {
        let key = key.clone();
        move |_| ui.send(Request::AnswerFile { key: key.clone(), accept })
    };
    let cancel = {
        let key = file.key.clone();
        move |_| ui.send(Request::CancelFile { key: key.clone() })
    };
    let can_cancel = matches!(file.status, FileStatus::Waiting | FileStatus::Moving);
    rsx! {
        div { class: if file.mine { "message mine file" } else { "message file" },
            div { class: "meta",
                span { class: "sender", "{sender}" }
            }
            if file.image && file.stored {
                Thumbnail { key: "{file.key}", file_key: file.key.clone(), name: file.name.clone() }
            }
            p { class: "file-name",
                span { "{file.name}" }
                " "
                span { class: "file-size", "({size})" }
            }
            if file.status == FileStatus::Moving {
                progress {
                    class: "file-progress",
                    max: "{file.size.max(1)}",
                    value: "{file.done}",
                    aria_label: tr.f("file_progress_of", &[&file.name]),
                }
                p { class: "hint", {tr.f("file_progress", &[&human_size(file.done), &size])} }
            }
            if !file.detail.is_empty() {
                p { class: if file.status == FileStatus::Failed { "notice file-failed" } else { "hint" }, role: "status", {file.detail.iter().map(|it| tr.say(it)).collect::<Vec<_>>().join(" ")} }
            }
            div { class: "row",
                if file.status == FileStatus::AwaitingYou {
                    button { r#type: "button", aria_label: tr.f("file_accept", &[&file.name]), onclick: answer(true), {tr.t("accept")} }
                    button { r#type: "button", class: "secondary", aria_label: tr.f("file_decline", &[&file.name]), onclick: answer(false), {tr.t("decline")} }
                }
                if can_cancel {
                    button { r#type: "button", class: "secondary", aria_label: tr.f("file_cancel", &[&file.name]), onclick: cancel, {tr.t("file_cancel_short")} }
                }
                if file.stored && !file.image {
                    SaveButton { file_key: file.key.clone(), name: file.name.clone() }
                }
            }
        }
    }
}

/// Save: asks the worker for the bytes and hands them to the browser's download.
#[component]
fn SaveButton(file_key: String, name: String) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    rsx! {
        button {
            r#type: "button",
            aria_label: tr.f("file_save", &[&name]),
            onclick: move |_| {
                let file_key = file_key.clone();
                spawn(async move {
                    match ask(ui, Request::OpenFile { key: file_key }).await {
                        Response::File { name, mime, data } => {
                            let saved = base64_bytes(&data)
                                .ok_or_else(|| "not base64".to_owned())
                                .and_then(|bytes| object_url(&bytes, &mime).map_err(|err| format!("{err:?}")))
                                .and_then(|url| download(&url, &name).map_err(|err| format!("{err:?}")));
                            if let Err(detail) = saved {
                                ui.show_error(Place::Composer, detail);
                            }
                        }
                        Response::Error { message } => ui.show_error(Place::Composer, ui.say(&message)),
                        _ => {}
                    }
                });
            },
            {tr.t("file_save_short")}
        }
    }
}

/// An image's thumbnail; activating it shows the image full size until closed.
#[component]
fn Thumbnail(file_key: String, name: String) -> Element {
    let ui = use_ui();
    let tr = use_tr();
    let mut url = use_signal(|| None::<String>);
    let mut full = use_signal(|| false);
    use_effect(move || {
        let file_key = file_key.clone();
        spawn(async move {
            if let Response::File { mime, data, .. } = ask(ui, Request::OpenFile { key: file_key }).await
                && let Some(bytes) = base64_bytes(&data)
                && let Ok(made) = object_url(&bytes, &mime)
            {
                url.set(Some(made));
            }
        });
    });
    let Some(src) = url() else {
        return rsx! { p { class: "hint", {tr.t("file_loading")} } };
    };
    rsx! {
        button {
            r#type: "button",
            class: "thumbnail",
            aria_label: tr.f("file_open_full", &[&name]),
            onclick: move |_| full.set(true),
            img { class: "thumb", src: "{src}", alt: "{name}" }
        }
        if full() {
            div { class: "full-image", role: "dialog", aria_label: "{name}",
                img { src: "{src}", alt: "{name}" }
                button { r#type: "button", autofocus: true, onclick: move |_| full.set(false), {tr.t("file_close")} }
            }
        }
    }
}

fn object_url(bytes: &[u8], mime: &str) -> Result<String, JsValue> {
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let array = js_sys::Uint8Array::from(bytes);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&js_sys::Array::of1(&array), &options)?;
    web_sys::Url::create_object_url_with_blob(&blob)
}

fn download(url: &str, name: &str) -> Result<(), JsValue> {
    let document = web_sys::window().and_then(|it| it.document()).ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    anchor.set_href(url);
    anchor.set_download(name);
    anchor.set_hidden(true);
    let body = document.body().ok_or("no body")?;
    body.append_child(&anchor)?;
    anchor.click();
    anchor.remove();
    Ok(())
}
