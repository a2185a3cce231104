//! Where the worker's records are kept: the bytes of files ([`Key::FileChunk`], issue 15) in IndexedDB
//! (`multichat_web::file_store`, measured five times faster for them), everything else in
//! `chrome.storage.local`. The model writes and reads storage keys and never knows which store holds one,
//! so sealing, export, import, erasing and a passphrase change cover file chunks like any record.

use multichat_core::storage::{Key, Snapshot, StorageWrite};
use multichat_web::{ShellError, chrome, file_store};

fn is_chunk(key: &str) -> bool {
    matches!(Key::parse(key), Some(Key::FileChunk { .. }))
}

fn key_of(write: &StorageWrite) -> &str {
    match write {
        StorageWrite::Set { key, .. } | StorageWrite::Remove { key } => key,
    }
}

/// Applies writes in order within each store; chunks first, so a record never accounts for a chunk that
/// is not stored yet.
pub(crate) async fn apply(writes: &[StorageWrite]) -> Result<(), ShellError> {
    let (chunks, records): (Vec<StorageWrite>, Vec<StorageWrite>) =
        writes.iter().cloned().partition(|it| is_chunk(key_of(it)));
    file_store::files_apply(&chunks).await?;
    chrome::storage_apply(&records).await
}

pub(crate) async fn read(keys: &[String]) -> Result<Snapshot, ShellError> {
    let (chunks, records): (Vec<String>, Vec<String>) = keys.iter().cloned().partition(|it| is_chunk(it));
    let mut found = if records.is_empty() { Snapshot::default() } else { chrome::storage_read(&records).await? };
    found.0.extend(file_store::files_read(&chunks).await?.0);
    Ok(found)
}

pub(crate) async fn read_all() -> Result<Snapshot, ShellError> {
    let mut all = chrome::storage_read_all().await?;
    all.0.extend(file_store::files_read_all().await?.0);
    Ok(all)
}
