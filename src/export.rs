//! The user's data as one file: every record multichat keeps in storage, for the user to save.
//!
//! The issue asks that the identity key pair be "exportable with the rest of the user's data". The export is
//! the whole of `chrome.storage.local` as the shell read it (identity key, account, settings, contacts with
//! their pinned keys, rooms and every history page), each record unchanged, wrapped in a small versioned
//! envelope: `{"format":"multichat-export","version":1,"exported_at":<ms>,"records":{<key>:<value>,…}}`.
//! The file holds the private identity key in the clear: the popup says so next to the button.
//!
//! [`import`] reads such a file back: the envelope, then every record through the same decoders that load
//! storage (any damaged or unknown record refuses the whole file), and [`replacement_writes`] turns it into
//! the writes that make storage hold exactly the file's records (every set in one transaction first).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Username;
use crate::chat::history::{self, HistoryError};
use crate::identity::{ContactBook, Identity, IdentityRecord};
use crate::storage::{self, AccountRecord, Key, Snapshot, StorageError, StorageWrite};
use crate::time::Millis;

/// The `format` of an export document.
pub const FORMAT: &str = "multichat-export";
/// The envelope version this build writes.
pub const VERSION: u64 = 1;

/// An export document. Fields serialize in this order, so the file starts with what it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportDocument {
    pub format: String,
    pub version: u64,
    /// When it was made, milliseconds since the epoch.
    pub exported_at: u64,
    /// Every stored record, by storage key, as stored.
    pub records: BTreeMap<String, Value>,
}

/// A file to hand to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    /// `multichat-export-<username>-<yyyy-mm-dd>.json` (UTC date; without the username when signed out).
    pub file_name: String,
    pub json: String,
}

/// The export of a full storage snapshot made at `now`.
pub fn export(snapshot: &Snapshot, now: Millis) -> ExportFile {
    let document =
        ExportDocument { format: FORMAT.to_owned(), version: VERSION, exported_at: now.0, records: snapshot.0.clone() };
    // Records came from JSON and the envelope is plain data: serializing cannot fail.
    let json = serde_json::to_string_pretty(&document).expect("an export document serializes to JSON");
    // A parsed username has only ASCII letters, digits and single ' ', '-' or '_': safe in a file name.
    let user = snapshot.get(&Key::Account).and_then(|it| AccountRecord::deserialize(it).ok()).map(|it| it.username);
    let date = utc_date(now);
    let file_name = match user {
        Some(user) => format!("multichat-export-{user}-{date}.json"),
        None => format!("multichat-export-{date}.json"),
    };
    ExportFile { file_name, json }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("This is not a multichat export file ({reason}); nothing was changed")]
    NotAnExport { reason: String },
    #[error(
        "This export comes from a newer multichat (version {found}); please update the extension. Nothing was changed"
    )]
    NewerVersion { found: u64 },
    #[error("The export file is damaged ({problem}); nothing was changed")]
    Damaged { problem: String },
}

/// Reads an export file: its envelope, and every record as storage loading would. Returns the records.
pub fn import(json: &str) -> Result<Snapshot, ImportError> {
    let not_an_export = |reason: &str| ImportError::NotAnExport { reason: reason.to_owned() };
    let value: Value = serde_json::from_str(json).map_err(|_| not_an_export("it is not JSON"))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_an_export("it does not say it is one"));
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(found) if found > VERSION => return Err(ImportError::NewerVersion { found }),
        Some(_) => {}
        None => return Err(ImportError::Damaged { problem: "it has no version".to_owned() }),
    }
    let document =
        ExportDocument::deserialize(&value).map_err(|err| ImportError::Damaged { problem: err.to_string() })?;
    let records = Snapshot(document.records);
    validate(&records).map_err(|problem| ImportError::Damaged { problem })?;
    Ok(records)
}

/// What a stored key holds.
enum Kind {
    /// Schema version, account, settings, ui: decoded by [`storage::load`].
    Base,
    Identity,
    Contacts,
    /// Message requests, waiting invitations or blocks ([`crate::chat::pending`]).
    Pending(Key),
    /// A room list, room summary, history page or the drafts of this user.
    History(Username),
    /// A damaged record of a known kind, kept as it was ([`Key::Damaged`]).
    DamagedCopy,
    /// The passphrase's lock record ([`Key::Lock`]).
    Lock,
    /// A file transfer's record or one of its chunks ([`Key::File`], [`Key::FileChunk`]).
    File {
        chunk: bool,
    },
}

fn kind(key: &str) -> Option<Kind> {
    let key = Key::parse(key)?;
    Some(match key {
        Key::SchemaVersion | Key::Account | Key::Settings | Key::Ui => Kind::Base,
        Key::Identity => Kind::Identity,
        Key::Lock => Kind::Lock,
        Key::Damaged(_) => Kind::DamagedCopy,
        Key::Contacts(_) => Kind::Contacts,
        key @ (Key::Blocked(_) | Key::Requests(_) | Key::Invitations(_)) => Kind::Pending(key),
        // Drafts are sealed like history, and checked as such.
        Key::Rooms(owner) | Key::Drafts(owner) | Key::RoomMeta { owner, .. } | Key::HistoryPage { owner, .. } => {
            Kind::History(owner)
        }
        Key::FileIndex(_) | Key::File { .. } => Kind::File { chunk: false },
        Key::FileChunk { .. } => Kind::File { chunk: true },
    })
}

/// Every record decodes as storage loading would decode it; the first problem, for people, if not.
fn validate(records: &Snapshot) -> Result<(), String> {
    if let Some(problem) = storage::load(records).problems.first() {
        return Err(match problem {
            StorageError::NewerSchema { found } => format!("its data comes from a newer multichat (layout {found})"),
            StorageError::Corrupt { key, reason } => format!("its {key} record: {reason}"),
        });
    }
    // History sealed under a passphrase cannot be read without it: such a file is checked for its lock and
    // for every history record being sealed; the records themselves are checked when it is unlocked.
    let sealed = crate::at_rest::read_lock(records).map_err(|err| format!("its passphrase lock: {err}"))?.is_some();
    let mut owners = std::collections::BTreeSet::new();
    for (key, value) in &records.0 {
        match kind(key) {
            None => return Err(format!("it holds a record multichat does not know: {key}")),
            Some(Kind::Base | Kind::DamagedCopy | Kind::Lock) => {}
            Some(Kind::History(_) | Kind::Contacts | Kind::Pending(_) | Kind::File { .. }) if sealed => {
                if value.get("sealed").and_then(Value::as_str).is_none() {
                    return Err(format!(
                        "its {key} record is not sealed, although the history is protected by a passphrase"
                    ));
                }
            }
            Some(Kind::Pending(key)) => {
                crate::chat::pending::check(&key, value).map_err(|err| format!("its {key} record: {err}"))?;
            }
            Some(Kind::Identity) => {
                let record = IdentityRecord::deserialize(value).map_err(|err| format!("its identity key: {err}"))?;
                Identity::from_record(&record).map_err(|err| format!("its identity key: {err}"))?;
            }
            Some(Kind::Contacts) => {
                ContactBook::from_value(value).map_err(|err| format!("its {key} record: {err}"))?;
            }
            Some(Kind::History(owner)) => {
                owners.insert(owner);
            }
            Some(Kind::File { chunk }) => {
                check_file_value(Key::parse(key), chunk, value).map_err(|err| format!("its {key} record: {err}"))?;
            }
        }
    }
    for owner in owners {
        let mut loaded = history::load(&owner, records);
        let mut problems = std::mem::take(&mut loaded.problems);
        for (room, history) in &mut loaded.histories {
            problems.extend(history::absorb_pages(&owner, room, records, history));
        }
        if let Some(problem) = problems.first() {
            return Err(match problem {
                HistoryError::CorruptRooms { reason } => format!("{owner}'s list of conversations: {reason}"),
                HistoryError::CorruptMeta { room, reason } => {
                    format!("the summary of {owner}'s conversation {room}: {reason}")
                }
                HistoryError::CorruptPage { room, page, reason } => {
                    format!("part {page} of {owner}'s history of {room}: {reason}")
                }
                HistoryError::MissingPage { room, page } => {
                    format!("part {page} of {owner}'s history of {room} is missing")
                }
            });
        }
    }
    Ok(())
}

/// Whether a file transfer's record or chunk decodes as its key says.
fn check_file_value(key: Option<Key>, chunk: bool, value: &Value) -> Result<(), String> {
    use crate::transfer::record::{self, FileIndex, FileKey, IncomingRecord, OutgoingRecord};
    match key {
        Some(Key::FileIndex(_)) => FileIndex::deserialize(value).map(|_| ()).map_err(|err| err.to_string()),
        _ if chunk => record::chunk_bytes(value).map(|_| ()).ok_or_else(|| "not a file chunk".to_owned()),
        Some(Key::File { file: FileKey::Out(_), .. }) => {
            OutgoingRecord::deserialize(value).map(|_| ()).map_err(|err| err.to_string())
        }
        Some(Key::File { file: FileKey::In { .. }, .. }) => {
            IncomingRecord::deserialize(value).map(|_| ()).map_err(|err| err.to_string())
        }
        _ => Err("not a file record".to_owned()),
    }
}

/// The writes that make storage, now holding `current`, hold exactly `imported`: every record of the file
/// in one run of sets (the shell stores a run as one transaction), then the removal of every other key.
pub fn replacement_writes(current: &Snapshot, imported: &Snapshot) -> Vec<StorageWrite> {
    let sets = imported.0.iter().map(|(key, value)| StorageWrite::Set { key: key.clone(), value: value.clone() });
    let removes = current.0.keys().filter(|key| !imported.0.contains_key(*key)).map(storage::remove);
    sets.chain(removes).collect()
}

/// `yyyy-mm-dd` of a moment, in UTC (the proleptic Gregorian calendar; days-to-civil after H. Hinnant).
pub fn utc_date(at: Millis) -> String {
    let days = (at.0 / 86_400_000) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot(pairs: &[(&str, Value)]) -> Snapshot {
        Snapshot(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    /// A small valid store: no history, but every other kind of record.
    fn valid_records() -> Snapshot {
        snapshot(&[
            ("schema_version", json!(1)),
            ("account", json!({"username": "alice", "token": "t0k3n"})),
            ("settings", serde_json::to_value(crate::settings::Settings::default()).unwrap()),
            ("ui", json!({"open_room": null})),
            ("identity", serde_json::to_value(Identity::from_seed([7; 32]).to_record()).unwrap()),
            ("contacts/alice", ContactBook::new().to_value()),
            ("chat/alice/rooms", json!({"rooms": []})),
        ])
    }

    fn damaged(json: &str) -> String {
        match import(json) {
            Err(ImportError::Damaged { problem }) => problem,
            other => panic!("expected a damaged file, got {other:?}"),
        }
    }

    fn with(records: &Snapshot, key: &str, value: Value) -> String {
        let mut records = records.clone();
        records.0.insert(key.to_owned(), value);
        export(&records, Millis(0)).json
    }

    #[test]
    fn history_sealed_under_a_passphrase_imports_with_its_lock() {
        let mut records = valid_records();
        records.0.insert(
            "chat/alice/rooms".into(),
            json!({"v": 1, "rooms": [{"id": "r1", "title": "bob", "members": ["bob"], "is_group": false}]}),
        );
        let sealed = crate::at_rest::enable("correct horse", [1; 16], [2; 32], None, &records).unwrap();
        let mut stored = records.clone();
        history::apply(&mut stored, &sealed.writes);
        assert!(stored.0.contains_key("lock"));
        assert_eq!(
            import(&export(&stored, Millis(9)).json),
            Ok(stored.clone()),
            "sealed history and its lock come back as they were"
        );
        // A plain history record next to a lock is a damaged file.
        let problem = damaged(&with(&stored, "chat/alice/rooms", json!({"v": 1, "rooms": []})));
        assert!(problem.contains("not sealed"), "{problem}");
        let problem = damaged(&with(&stored, "lock", json!({"v": 99})));
        assert!(problem.contains("lock"), "{problem}");
    }

    #[test]
    fn an_export_imports_back_to_the_same_records() {
        let records = valid_records();
        assert_eq!(import(&export(&records, Millis(9)).json), Ok(records));
        assert_eq!(import(&export(&Snapshot::default(), Millis(9)).json), Ok(Snapshot::default()));
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        assert!(matches!(import("not json"), Err(ImportError::NotAnExport { .. })));
        assert!(matches!(
            import(r#"{"format": "something-else", "version": 1, "records": {}}"#),
            Err(ImportError::NotAnExport { .. })
        ));
        assert!(matches!(import("[1, 2]"), Err(ImportError::NotAnExport { .. })));
        assert_eq!(
            import(r#"{"format": "multichat-export", "version": 2, "records": {}}"#),
            Err(ImportError::NewerVersion { found: 2 })
        );
        assert_eq!(damaged(r#"{"format": "multichat-export", "records": {}}"#), "it has no version");
        damaged(r#"{"format": "multichat-export", "version": 1, "exported_at": 0, "records": []}"#);
        let message = import("{}").unwrap_err().to_string();
        assert!(message.ends_with("nothing was changed"), "{message}");
    }

    #[test]
    fn every_record_is_checked_and_one_bad_record_refuses_the_file() {
        let records = valid_records();
        assert!(damaged(&with(&records, "account", json!({"username": "<b>"}))).starts_with("its account record"));
        assert!(damaged(&with(&records, "settings", json!({"server": 42}))).starts_with("its settings record"));
        assert!(damaged(&with(&records, "schema_version", json!(99))).contains("newer multichat"));
        assert!(
            damaged(&with(&records, "identity", json!({"v": 1, "seed": "zz", "public_key": "00"})))
                .starts_with("its identity key")
        );
        let mut other_key = serde_json::to_value(Identity::from_seed([8; 32]).to_record()).unwrap();
        other_key["seed"] = serde_json::to_value(Identity::from_seed([7; 32]).to_record()).unwrap()["seed"].clone();
        assert!(
            damaged(&with(&records, "identity", other_key)).starts_with("its identity key"),
            "a public key that is not the seed's"
        );
        assert!(
            damaged(&with(&records, "contacts/alice", json!({"v": 1, "contacts": 5})))
                .starts_with("its contacts/alice record")
        );
        assert!(damaged(&with(&records, "chat/alice/rooms", json!(7))).starts_with("alice's list of conversations"));
        for unknown in [
            "passwords",
            "contacts/<b>",
            "contacts/",
            "chat/alice/other",
            "h/alice/dm:alice:bob/x",
            "h/alice/dm:alice:bob/0/1",
            "h/alice/no room/meta",
        ] {
            assert_eq!(
                damaged(&with(&records, unknown, json!({}))),
                format!("it holds a record multichat does not know: {unknown}")
            );
        }
        // The keys the worker writes are all known.
        for known in ["h/alice/dm:alice:bob/meta", "h/alice/dm:alice:bob/0", "h/alice/dm:alice:bob/12"] {
            assert!(kind(known).is_some(), "{known}");
        }
    }

    #[test]
    fn replacing_sets_everything_first_and_then_removes_what_the_file_does_not_have() {
        let current =
            snapshot(&[("account", json!({"username": "bob"})), ("contacts/bob", json!({})), ("settings", json!({}))]);
        let imported = snapshot(&[("account", json!({"username": "alice"})), ("identity", json!({}))]);
        assert_eq!(
            replacement_writes(&current, &imported),
            vec![
                StorageWrite::Set { key: "account".into(), value: json!({"username": "alice"}) },
                StorageWrite::Set { key: "identity".into(), value: json!({}) },
                storage::remove("contacts/bob"),
                storage::remove("settings"),
            ]
        );
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(Millis(0)), "1970-01-01");
        assert_eq!(utc_date(Millis(86_399_999)), "1970-01-01");
        assert_eq!(utc_date(Millis(86_400_000)), "1970-01-02");
        assert_eq!(utc_date(Millis(951_782_400_000)), "2000-02-29");
        assert_eq!(utc_date(Millis(951_868_800_000)), "2000-03-01");
        assert_eq!(utc_date(Millis(1_700_000_000_000)), "2023-11-14");
        assert_eq!(utc_date(Millis(4_107_542_400_000)), "2100-03-01", "2100 is not a leap year");
        assert_eq!(utc_date(Millis(1_798_761_599_999)), "2026-12-31");
    }

    #[test]
    fn every_record_goes_into_the_document_unchanged() {
        let records = snapshot(&[
            ("schema_version", json!(1)),
            ("account", json!({"username": "alice", "token": "secret"})),
            ("identity", json!({"version": 1, "seed": "abc"})),
            ("contacts/alice", json!({"bob": {"key": "k"}})),
            ("history/alice/room/page/0", json!([{"text": "hi ✓ <b>"}])),
            ("something/unknown", json!(null)),
        ]);
        let file = export(&records, Millis(1_700_000_000_000));
        let document: ExportDocument = serde_json::from_str(&file.json).unwrap();
        assert_eq!(document.format, "multichat-export");
        assert_eq!(document.version, 1);
        assert_eq!(document.exported_at, 1_700_000_000_000);
        assert_eq!(document.records, records.0);
    }

    #[test]
    fn the_envelope_says_what_it_is_first() {
        let file = export(&Snapshot::default(), Millis(5));
        let value: Value = serde_json::from_str(&file.json).unwrap();
        assert_eq!(value, json!({"format": "multichat-export", "version": 1, "exported_at": 5, "records": {}}));
        let order: Vec<usize> = ["\"format\"", "\"version\"", "\"exported_at\"", "\"records\""]
            .iter()
            .map(|it| file.json.find(it).unwrap())
            .collect();
        assert!(order.is_sorted(), "{}", file.json);
    }

    #[test]
    fn the_file_is_named_after_the_user_and_the_day() {
        let signed_in = snapshot(&[("account", json!({"username": "alice_2"}))]);
        assert_eq!(export(&signed_in, Millis(1_700_000_000_000)).file_name, "multichat-export-alice_2-2023-11-14.json");
        assert_eq!(export(&Snapshot::default(), Millis(0)).file_name, "multichat-export-1970-01-01.json");
        let spaced = snapshot(&[("account", json!({"username": "Ann Lee"}))]);
        assert_eq!(export(&spaced, Millis(0)).file_name, "multichat-export-Ann Lee-1970-01-01.json");
        // A damaged account record cannot put anything odd into the file name.
        let damaged = snapshot(&[("account", json!({"username": "../../etc/passwd"}))]);
        assert_eq!(export(&damaged, Millis(0)).file_name, "multichat-export-1970-01-01.json");
    }
}
