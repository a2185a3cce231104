//! The user's data as one file: every record multichat keeps in storage, for the user to save.
//!
//! The issue asks that the identity key pair be "exportable with the rest of the user's data". The export is
//! the whole of `chrome.storage.local` as the shell read it (identity key, account, settings, contacts with
//! their pinned keys, rooms and every history page), each record unchanged, wrapped in a small versioned
//! envelope: `{"format":"multichat-export","version":1,"exported_at":<ms>,"records":{<key>:<value>,…}}`.
//! The file holds the private identity key in the clear: the popup says so next to the button.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::storage::{AccountRecord, Snapshot, keys};
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
    let document = ExportDocument { format: FORMAT.to_owned(), version: VERSION, exported_at: now.0, records: snapshot.0.clone() };
    // Records came from JSON and the envelope is plain data: serializing cannot fail.
    let json = serde_json::to_string_pretty(&document).expect("an export document serializes to JSON");
    // A parsed username has only ASCII letters, digits and single ' ', '-' or '_': safe in a file name.
    let user = snapshot.0.get(keys::ACCOUNT).and_then(|it| AccountRecord::deserialize(it).ok()).map(|it| it.username);
    let date = utc_date(now);
    let file_name = match user {
        Some(user) => format!("multichat-export-{user}-{date}.json"),
        None => format!("multichat-export-{date}.json"),
    };
    ExportFile { file_name, json }
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
        let order: Vec<usize> =
            ["\"format\"", "\"version\"", "\"exported_at\"", "\"records\""].iter().map(|it| file.json.find(it).unwrap()).collect();
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
