//! The storage schema: which keys multichat keeps in `chrome.storage.local`, what each holds, and how
//! older layouts are migrated.
//!
//! The shell reads records as JSON values and hands them in as a [`Snapshot`]; the core decodes them and
//! answers with [`StorageWrite`]s for the shell to perform. A record that does not decode is reported and
//! left alone, so one corrupt record never takes the rest of the user's data with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Username;
use crate::settings::Settings;

/// The layout version this build writes. Bump it with a migration in [`load`].
pub const SCHEMA_VERSION: u64 = 1;

/// Every top-level key the extension uses.
pub mod keys {
    pub const SCHEMA_VERSION: &str = "schema_version";
    pub const ACCOUNT: &str = "account";
    pub const SETTINGS: &str = "settings";
    /// What the popup showed last (so it reopens there).
    pub const UI: &str = "ui";
}

/// The records as read from storage, by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot(pub BTreeMap<String, Value>);

/// One change for the shell to make to storage. Writes are applied in order.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageWrite {
    Set { key: String, value: Value },
    Remove { key: String },
}

/// The signed-in user's account record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub username: Username,
    /// The PeerJS token: a secret that lets this install take its id back after a reconnect or restart
    /// while the server still holds the old socket. Empty in records from before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error(
        "Stored data comes from a newer multichat (layout {found}, this version reads up to {SCHEMA_VERSION}); please update the extension"
    )]
    NewerSchema { found: u64 },
    #[error("The stored {key} record is damaged and was ignored ({reason})")]
    Corrupt { key: String, reason: String },
}

/// What the popup showed last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiRecord {
    /// The conversation that was open, if any.
    #[serde(default)]
    pub open_room: Option<String>,
}

/// What [`load`] recovered, plus what it had to ignore.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    pub account: Option<AccountRecord>,
    pub settings: Settings,
    pub ui: UiRecord,
    /// Problems found while loading, worded for the user. Loading goes on past each one.
    pub problems: Vec<StorageError>,
    /// Writes that bring storage up to [`SCHEMA_VERSION`] (empty when it is current).
    pub migration: Vec<StorageWrite>,
}

/// Decodes a snapshot of storage. Never fails as a whole: a damaged record becomes a problem and its default.
/// A snapshot from a newer schema is reported and nothing is migrated, so a downgrade cannot destroy data.
pub fn load(snapshot: &Snapshot) -> Loaded {
    let mut loaded = Loaded::default();
    let stored = snapshot.0.get(keys::SCHEMA_VERSION);
    let found = stored.and_then(Value::as_u64);
    if let Some(found) = found.filter(|&v| v > SCHEMA_VERSION) {
        loaded.problems.push(StorageError::NewerSchema { found });
    }
    if stored.is_some() && found.is_none() {
        // Not stamped over: it may be a newer layout's version, damaged.
        let reason = "not a layout version number".to_owned();
        loaded.problems.push(StorageError::Corrupt { key: keys::SCHEMA_VERSION.to_owned(), reason });
    }
    loaded.account = decode(snapshot, keys::ACCOUNT, &mut loaded.problems);
    loaded.settings = decode(snapshot, keys::SETTINGS, &mut loaded.problems).unwrap_or_default();
    loaded.ui = decode(snapshot, keys::UI, &mut loaded.problems).unwrap_or_default();
    if stored.is_none() {
        loaded.migration.push(set(keys::SCHEMA_VERSION, &SCHEMA_VERSION));
    }
    loaded
}

fn decode<T: for<'de> Deserialize<'de>>(snapshot: &Snapshot, key: &str, problems: &mut Vec<StorageError>) -> Option<T> {
    let value = snapshot.0.get(key)?;
    match T::deserialize(value) {
        Ok(it) => Some(it),
        Err(err) => {
            problems.push(StorageError::Corrupt { key: key.to_owned(), reason: err.to_string() });
            None
        }
    }
}

/// A `Set` write of any serializable record.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> StorageWrite {
    // Records are plain data (strings, numbers, maps with string keys): serializing cannot fail.
    let value = serde_json::to_value(value).expect("storage records serialize to JSON");
    StorageWrite::Set { key: key.to_owned(), value }
}

pub fn remove(key: &str) -> StorageWrite {
    StorageWrite::Remove { key: key.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot(pairs: &[(&str, Value)]) -> Snapshot {
        Snapshot(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    #[test]
    fn empty_storage_loads_defaults_and_stamps_the_version() {
        let loaded = load(&Snapshot::default());
        assert_eq!(loaded.account, None);
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.problems.is_empty());
        assert_eq!(loaded.migration, vec![set(keys::SCHEMA_VERSION, &SCHEMA_VERSION)]);
    }

    #[test]
    fn a_corrupt_record_is_reported_and_the_rest_still_loads() {
        let loaded = load(&snapshot(&[
            ("schema_version", json!(1)),
            ("account", json!({"username": "alice"})),
            ("settings", json!({"server": 42})),
        ]));
        assert_eq!(loaded.account.unwrap().username.as_str(), "alice");
        assert_eq!(loaded.settings, Settings::default());
        assert!(matches!(&loaded.problems[..], [StorageError::Corrupt { key, .. }] if key == "settings"));
    }

    #[test]
    fn an_invalid_stored_username_is_corrupt_not_a_panic() {
        let loaded = load(&snapshot(&[("account", json!({"username": "<b>x</b>"}))]));
        assert_eq!(loaded.account, None);
        assert_eq!(loaded.problems.len(), 1);
    }

    #[test]
    fn a_newer_schema_is_reported_and_not_migrated() {
        let loaded = load(&snapshot(&[("schema_version", json!(99))]));
        assert_eq!(loaded.problems, vec![StorageError::NewerSchema { found: 99 }]);
        assert!(loaded.migration.is_empty());
    }
}
