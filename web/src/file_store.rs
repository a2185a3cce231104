//! The bytes of files (issue 15) in IndexedDB: one database, one object store, each record a storage key
//! (`fc/<owner>/<file>/<n>`, [`multichat_core::storage::Key::FileChunk`]) and its value as the worker wrote
//! it (already sealed when a passphrase is set): a chunk in the clear (a base64 string to the worker) as its
//! bytes, a `Uint8Array`, which IndexedDB copies as it is instead of serializing a string a third longer; a
//! sealed chunk as JSON text. Reading gives the worker back the same values (records written as JSON text
//! by an earlier version read as before). `tests/bench/file_storage.mjs` measured
//! IndexedDB writing 25 MB of chunks at 92 MB/s in a service worker, against 17.7 MB/s for
//! `chrome.storage.local`. Only the worker writes here (through `background/src/worker_storage.rs`).

use std::collections::BTreeMap;

use js_sys::{Array, Function, Promise, Reflect};
use multichat_core::storage::{Snapshot, StorageWrite};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::ShellError;

const DATABASE: &str = "multichat-files";
const STORE: &str = "chunks";

#[wasm_bindgen]
extern "C" {
    type Factory;
    #[wasm_bindgen(method, catch)]
    fn open(this: &Factory, name: &str, version: u32) -> Result<Request, JsValue>;

    type Request;
    #[wasm_bindgen(method, getter, catch)]
    fn result(this: &Request) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn error(this: &Request) -> JsValue;
    #[wasm_bindgen(method, setter)]
    fn set_onsuccess(this: &Request, handler: &Function);
    #[wasm_bindgen(method, setter)]
    fn set_onerror(this: &Request, handler: &Function);
    #[wasm_bindgen(method, setter)]
    fn set_onupgradeneeded(this: &Request, handler: &Function);

    #[derive(Clone)]
    type Database;
    #[wasm_bindgen(method, catch)]
    fn transaction(this: &Database, stores: &str, mode: &str) -> Result<Transaction, JsValue>;
    #[wasm_bindgen(method, catch, js_name = createObjectStore)]
    fn create_object_store(this: &Database, name: &str) -> Result<JsValue, JsValue>;

    type Transaction;
    #[wasm_bindgen(method, catch, js_name = objectStore)]
    fn object_store(this: &Transaction, name: &str) -> Result<Store, JsValue>;
    #[wasm_bindgen(method, setter)]
    fn set_oncomplete(this: &Transaction, handler: &Function);
    #[wasm_bindgen(method, setter)]
    fn set_onerror(this: &Transaction, handler: &Function);
    #[wasm_bindgen(method, setter)]
    fn set_onabort(this: &Transaction, handler: &Function);
    #[wasm_bindgen(method, getter)]
    fn error(this: &Transaction) -> JsValue;

    type Store;
    #[wasm_bindgen(method, catch)]
    fn put(this: &Store, value: &JsValue, key: &str) -> Result<Request, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn delete(this: &Store, key: &str) -> Result<Request, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Store, key: &str) -> Result<Request, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getAll)]
    fn get_all(this: &Store) -> Result<Request, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getAllKeys)]
    fn get_all_keys(this: &Store) -> Result<Request, JsValue>;
}

thread_local! {
    /// The open database, once opened.
    static OPEN: std::cell::RefCell<Option<Database>> = const { std::cell::RefCell::new(None) };
}

fn failed(op: &'static str) -> impl Fn(JsValue) -> ShellError {
    move |err| ShellError::from_js(op, &err)
}

/// Resolves with a request's result once it succeeds.
async fn settled(request: &Request) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_error = Closure::once_into_js(move |event: JsValue| {
            let error = Reflect::get(&event, &"target".into())
                .and_then(|it| Reflect::get(&it, &"error".into()))
                .unwrap_or(event);
            let _ = reject.call1(&JsValue::NULL, &error);
        });
        request.set_onerror(on_error.unchecked_ref());
        let on_success = Closure::once_into_js(move |_: JsValue| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        request.set_onsuccess(on_success.unchecked_ref());
    });
    JsFuture::from(promise).await?;
    request.result()
}

/// Resolves once a transaction committed (its writes are on disk as far as IndexedDB promises).
async fn committed(transaction: &Transaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let reject_too = reject.clone();
        let on_error = Closure::once_into_js(move |event: JsValue| {
            let error = Reflect::get(&event, &"target".into())
                .and_then(|it| Reflect::get(&it, &"error".into()))
                .unwrap_or(event);
            let _ = reject.call1(&JsValue::NULL, &error);
        });
        transaction.set_onerror(on_error.unchecked_ref());
        let on_abort = Closure::once_into_js(move |_: JsValue| {
            let _ = reject_too.call1(&JsValue::NULL, &JsValue::from_str("the transaction was aborted"));
        });
        transaction.set_onabort(on_abort.unchecked_ref());
        let on_complete = Closure::once_into_js(move |_: JsValue| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        transaction.set_oncomplete(on_complete.unchecked_ref());
    });
    JsFuture::from(promise).await.map(|_| ())
}

async fn database() -> Result<Database, ShellError> {
    if let Some(open) = OPEN.with(|it| it.borrow().clone()) {
        return Ok(open);
    }
    let factory = Reflect::get(&js_sys::global(), &"indexedDB".into()).map_err(failed("indexedDB"))?;
    if factory.is_undefined() {
        return Err(ShellError::new("indexedDB", "this browser context has no IndexedDB"));
    }
    let request = factory.unchecked_into::<Factory>().open(DATABASE, 1).map_err(failed("indexedDB.open"))?;
    let on_upgrade = Closure::once_into_js(move |event: JsValue| {
        let db = Reflect::get(&event, &"target".into()).and_then(|it| Reflect::get(&it, &"result".into()));
        if let Ok(db) = db {
            let _ = db.unchecked_into::<Database>().create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(on_upgrade.unchecked_ref());
    let db: Database = settled(&request).await.map_err(failed("indexedDB.open"))?.unchecked_into();
    OPEN.with(|it| *it.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// Applies file-chunk writes in order, in one transaction: all of them land or none.
pub async fn files_apply(writes: &[StorageWrite]) -> Result<(), ShellError> {
    if writes.is_empty() {
        return Ok(());
    }
    let db = database().await?;
    let transaction = db.transaction(STORE, "readwrite").map_err(failed("indexedDB transaction"))?;
    let store = transaction.object_store(STORE).map_err(failed("indexedDB objectStore"))?;
    for write in writes {
        match write {
            StorageWrite::Set { key, value } => {
                store.put(&stored_form(value), key).map_err(failed("indexedDB put"))?;
            }
            StorageWrite::Remove { key } => {
                store.delete(key).map_err(failed("indexedDB delete"))?;
            }
        }
    }
    committed(&transaction).await.map_err(failed("indexedDB write"))
}

/// The records of `keys` that are stored.
pub async fn files_read(keys: &[String]) -> Result<Snapshot, ShellError> {
    let mut found = BTreeMap::new();
    if keys.is_empty() {
        return Ok(Snapshot(found));
    }
    let db = database().await?;
    let transaction = db.transaction(STORE, "readonly").map_err(failed("indexedDB transaction"))?;
    let store = transaction.object_store(STORE).map_err(failed("indexedDB objectStore"))?;
    let requests: Vec<(String, Request)> = keys
        .iter()
        .map(|key| store.get(key).map(|it| (key.clone(), it)))
        .collect::<Result<_, _>>()
        .map_err(failed("indexedDB get"))?;
    for (key, request) in requests {
        let value = settled(&request).await.map_err(failed("indexedDB get"))?;
        if let Some(value) = parse(&value) {
            found.insert(key, value);
        }
    }
    Ok(Snapshot(found))
}

/// Every record stored.
pub async fn files_read_all() -> Result<Snapshot, ShellError> {
    let db = database().await?;
    let transaction = db.transaction(STORE, "readonly").map_err(failed("indexedDB transaction"))?;
    let store = transaction.object_store(STORE).map_err(failed("indexedDB objectStore"))?;
    let keys = store.get_all_keys().map_err(failed("indexedDB getAllKeys"))?;
    let values = store.get_all().map_err(failed("indexedDB getAll"))?;
    let keys: Array = settled(&keys).await.map_err(failed("indexedDB getAllKeys"))?.unchecked_into();
    let values: Array = settled(&values).await.map_err(failed("indexedDB getAll"))?.unchecked_into();
    let mut found = BTreeMap::new();
    for (key, value) in keys.iter().zip(values.iter()) {
        if let (Some(key), Some(value)) = (key.as_string(), parse(&value)) {
            found.insert(key, value);
        }
    }
    Ok(Snapshot(found))
}

/// What IndexedDB keeps for a value: a base64 string's bytes (decoded canonically, so reading encodes the
/// same string back), anything else as JSON text.
fn stored_form(value: &serde_json::Value) -> JsValue {
    match value.as_str().and_then(multichat_core::transfer::record::base64_bytes) {
        Some(bytes) => js_sys::Uint8Array::from(bytes.as_slice()).into(),
        None => JsValue::from_str(&value.to_string()),
    }
}

/// A value as the worker wrote it, from what IndexedDB kept ([`stored_form`]).
fn parse(value: &JsValue) -> Option<serde_json::Value> {
    if let Some(bytes) = value.dyn_ref::<js_sys::Uint8Array>() {
        return Some(serde_json::Value::String(multichat_core::transfer::record::chunk_base64(&bytes.to_vec())));
    }
    serde_json::from_str(&value.as_string()?).ok()
}
