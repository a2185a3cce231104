//! Hostile storage: every record the worker loads, replaced by arbitrary JSON or damaged one field at a time,
//! goes through the shell's staged read (`worker::Loader`) and `WorkerModel::load`, driven by `MemShell`. Loading never
//! panics, a damaged record that was read is reported in the view's `storage_problems`, and neither the load's
//! writes nor the first message sent afterwards overwrite it.

use std::sync::OnceLock;

use multichat_core::account::Username;
use multichat_core::bridge::{Request, Response};
use multichat_core::chat::RoomsRecord;
use multichat_core::chat::history::{Page, RoomMeta};
use multichat_core::identity::{ContactBook, Identity, IdentityRecord};
use multichat_core::settings::Settings;
use multichat_core::storage::{self, AccountRecord, Snapshot, StorageWrite, UiRecord};
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::chat_props::json_value;

fn keys_written(writes: &[StorageWrite]) -> impl Iterator<Item = &str> {
    writes.iter().map(|it| match it {
        StorageWrite::Set { key, .. } | StorageWrite::Remove { key } => key.as_str(),
    })
}

/// A worker started on `disk`: it reads the keys it asks for (see `MemShell::read_at_start`).
fn started(disk: &Snapshot) -> MemShell {
    MemShell::with_storage(disk.clone(), 9, Millis(1_000_000))
}

/// Storage of a signed-in user with every kind of record: an identity, a pinned contact, a direct room with
/// three pages of history, a group room, and the open room remembered.
fn base() -> &'static Snapshot {
    static BASE: OnceLock<Snapshot> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut shell = MemShell::new();
        let mut now = 1;
        let mut request = |shell: &mut MemShell, request: Request| {
            now += 1;
            let response = shell.request(request, Millis(now));
            assert!(!matches!(response, Response::Error { .. }), "{response:?}");
        };
        let mut settings = Settings::default();
        settings.server.host = "127.0.0.1".into();
        request(&mut shell, Request::SaveSettings { settings });
        request(&mut shell, Request::SignIn { username: "alice".into() });
        request(&mut shell, Request::CreateGroup { name: "team".into() });
        let group = shell.view().open_room.expect("the group is shown").room.id;
        request(&mut shell, Request::SendText { room: group, text: "hello team".into() });
        request(&mut shell, Request::OpenDirect { username: "bob".into() });
        let direct = shell.view().open_room.expect("the direct room is shown").room.id;
        for n in 0..260 {
            request(&mut shell, Request::SendText { room: direct.clone(), text: format!("message {n}") });
        }
        let mut disk = shell.disk;
        let mut contacts = ContactBook::new();
        contacts.observe(&user("bob"), Identity::from_seed([2; 32]).public_key(), Millis(5));
        disk.0.insert("contacts/alice".into(), contacts.to_value());
        disk
    })
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

/// True when the record under `key` cannot be used as what it is stored as.
fn is_damaged(key: &str, value: &Value) -> bool {
    fn fails<T: serde::de::DeserializeOwned>(value: &Value) -> bool {
        serde_json::from_value::<T>(value.clone()).is_err()
    }
    match key {
        "schema_version" => value.as_u64().is_none(),
        "account" => fails::<AccountRecord>(value),
        "settings" => fails::<Settings>(value),
        "ui" => fails::<UiRecord>(value),
        "identity" => serde_json::from_value::<IdentityRecord>(value.clone())
            .map_or(true, |it| Identity::from_record(&it).is_err()),
        _ if key.starts_with("contacts/") => ContactBook::from_value(value).is_err(),
        _ if key.starts_with("chat/") => fails::<RoomsRecord>(value),
        _ if key.ends_with("/meta") => fails::<RoomMeta>(value),
        _ if key.starts_with("h/") => fails::<Page>(value),
        _ => panic!("a key the test does not know: {key}"),
    }
}

/// Values that break typed decoding in interesting ways.
fn hostile_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(u32::MAX)),
        Just(json!(u64::from(u32::MAX) + 1)),
        Just(json!(u64::MAX)),
        Just(json!("")),
        Just(json!("../x")),
        Just(json!("<img src=x onerror=alert(1)>")),
        Just(json!("x".repeat(300))),
        Just(json!([])),
        Just(json!({})),
        json_value(),
    ]
}

/// Every position in a JSON value, as paths of object keys and array indexes.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(json!(key));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        // The first and last elements are enough (pages hold 128 messages).
        Value::Array(items) => {
            let mut indexes = vec![0, items.len().saturating_sub(1)];
            indexes.dedup();
            for index in indexes.into_iter().filter(|it| *it < items.len()) {
                prefix.push(json!(index));
                paths(&items[index], prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Replaces (or, with `None`, removes) what is at `path`.
fn mutate(value: &mut Value, path: &[Value], replacement: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        *value = replacement.unwrap_or(Value::Null);
        return;
    };
    let mut at = value;
    for step in parents {
        at = match step {
            Value::String(key) => &mut at[key.as_str()],
            _ => &mut at[step.as_u64().unwrap() as usize],
        };
    }
    match (at, last, replacement) {
        (Value::Object(map), Value::String(key), None) => {
            map.remove(key);
        }
        (Value::Object(map), Value::String(key), Some(it)) => {
            map.insert(key.clone(), it);
        }
        (Value::Array(items), index, None) => {
            items.remove(index.as_u64().unwrap() as usize);
        }
        (Value::Array(items), index, Some(it)) => items[index.as_u64().unwrap() as usize] = it,
        _ => unreachable!("paths only lead through objects and arrays"),
    }
}

/// Damages one record of the base storage: `which` picks the key, then either the whole record is replaced
/// or one position in it is replaced or removed.
fn check(
    which: prop::sample::Index,
    whole: bool,
    position: prop::sample::Index,
    replacement: Option<Value>,
) -> Result<(), TestCaseError> {
    let mut disk = base().clone();
    let keys: Vec<String> = disk.0.keys().cloned().collect();
    let key = keys[which.index(keys.len())].clone();
    let record = disk.0.get_mut(&key).unwrap();
    if whole {
        *record = replacement.unwrap_or(Value::Null);
    } else {
        let mut all = Vec::new();
        paths(record, &mut Vec::new(), &mut all);
        let path = all[position.index(all.len())].clone();
        mutate(record, &path, replacement);
    }
    let record = disk.0[&key].clone();

    let mut shell = started(&disk);
    let damaged = shell.read_at_start.0.contains_key(&key) && is_damaged(&key, &record);
    let problems = shell.view().storage_problems;
    if damaged {
        prop_assert!(!problems.is_empty(), "the damaged {} record was read but not reported", key);
    }
    prop_assert!(
        keys_written(&shell.last_writes).all(|it| !(damaged && it == key)),
        "loading overwrote the damaged {}",
        key
    );

    // Sending after such a load appends to pages: never to a damaged one. A room's meta is the exception: it
    // is an index rebuilt from the pages on load, and the rebuilt one replaces a damaged one on the next append.
    let exempt = key.ends_with("/meta");
    let damaged = damaged && !exempt;
    let rooms: Vec<String> = shell.view().rooms.into_iter().map(|it| it.id).collect();
    for (n, room) in rooms.into_iter().enumerate() {
        shell.request(Request::SendText { room, text: "after".into() }, Millis(1_000_001 + n as u64));
        prop_assert!(
            keys_written(&shell.last_writes).all(|it| !(damaged && it == key)),
            "sending overwrote the damaged {}",
            key
        );
    }
    if damaged {
        prop_assert_eq!(&shell.disk.0[&key], &record, "the {} record changed", key);
    }
    Ok(())
}

#[test]
fn the_base_storage_loads_without_problems() {
    // Without this, the properties below would hold vacuously for records never read.
    let shell = started(base());
    let read = &shell.read_at_start;
    let view = shell.view();
    assert!(view.storage_problems.is_empty(), "{:?}", view.storage_problems);
    assert!(shell.last_writes.is_empty(), "{:?}", shell.last_writes);
    assert_eq!(view.rooms.len(), 2);
    for key in ["schema_version", "account", "settings", "ui", "identity", "contacts/alice", "chat/alice/rooms"] {
        assert!(read.0.contains_key(key), "{key} is read at start");
    }
    assert_eq!(read.0.keys().filter(|it| it.ends_with("/meta")).count(), 2);
    assert_eq!(
        read.0.keys().filter(|it| it.starts_with("h/") && !it.ends_with("/meta")).count(),
        4,
        "every page of the direct room (unacknowledged messages are on each), one of the group"
    );
}

#[test]
fn a_damaged_schema_version_is_reported_and_kept() {
    for value in [json!("2"), json!(-1), json!(1.5), json!({"v": 1})] {
        let disk = Snapshot([("schema_version".to_owned(), value.clone())].into());
        let loaded = storage::load(&disk);
        assert_eq!(loaded.problems.len(), 1, "{value}");
        assert!(loaded.migration.is_empty(), "the damaged version {value} must not be stamped over");
    }
}

#[test]
fn a_damaged_last_page_is_never_appended_to() {
    // A damaged meta and a damaged last page: the recovered meta must not append into that page.
    let mut disk = base().clone();
    let meta_key = disk.0.keys().find(|it| it.ends_with("/meta") && it.contains("dm:")).unwrap().clone();
    let room = meta_key.trim_end_matches("/meta").to_owned();
    disk.0.insert(meta_key, json!("damaged"));
    let last_page = format!("{room}/2");
    disk.0.insert(last_page.clone(), json!({"messages": 7}));
    let mut shell = started(&disk);
    let room_id = room.rsplit('/').next().unwrap().to_owned();
    shell.request(Request::SendText { room: room_id, text: "after".into() }, Millis(1_000_001));
    assert!(
        keys_written(&shell.last_writes).all(|it| it != last_page),
        "{:?}",
        keys_written(&shell.last_writes).collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn storage_load_never_panics_and_reports_every_damaged_record(
        schema_version in hostile_leaf(),
        account in hostile_leaf(),
        settings in hostile_leaf(),
        ui in hostile_leaf(),
    ) {
        let snapshot = Snapshot(
            [("schema_version", schema_version), ("account", account), ("settings", settings), ("ui", ui)]
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        );
        let loaded = storage::load(&snapshot);
        let newer = snapshot.0["schema_version"].as_u64().is_some_and(|it| it > storage::SCHEMA_VERSION);
        let damaged = snapshot.0.iter().filter(|(key, value)| is_damaged(key, value)).count() + usize::from(newer);
        prop_assert_eq!(loaded.problems.len(), damaged, "{:?}", loaded.problems);
        for key in keys_written(&loaded.migration) {
            prop_assert!(!snapshot.0.contains_key(key), "loading overwrote {}", key);
        }
    }

    #[test]
    fn a_whole_record_replaced_by_anything(which in any::<prop::sample::Index>(), value in hostile_leaf()) {
        check(which, true, which, Some(value))?;
    }

    #[test]
    fn one_field_of_a_record_damaged(which in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), value in prop::option::weighted(0.8, hostile_leaf())) {
        check(which, false, position, value)?;
    }
}
