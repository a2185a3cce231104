//! The popup's message catalogues (`_locales/<lang>/messages.json`): every key the popup uses is in every
//! catalogue, every catalogue has the same keys with the same placeholders, the popup's language list is
//! the `_locales` folders, and no prose is left hard-coded in the popup's Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use multichat_core::account::{Username, UsernameError};
use multichat_core::at_rest::AtRestError;
use multichat_core::auth_gate::{
    first_contact_notice, first_contact_phrase, unproved_phrase, unproved_warning, unverified_phrase,
    unverified_warning,
};
use multichat_core::bridge::{Code, Phrase};
use multichat_core::chat::ChatError;
use multichat_core::chat::RoomId;
use multichat_core::chat::history::HistoryError;
use multichat_core::chat::room::RoomError;
use multichat_core::connection_test::{CandidateType, ConnectionTest, Refusal, Signaling};
use multichat_core::export::ImportError;
use multichat_core::identity::ContactError;
use multichat_core::identity::Unproved;
use multichat_core::peerjs::PeerError;
use multichat_core::settings::{Settings, SettingsError};
use multichat_core::storage::StorageError;
use multichat_core::worker::{WorkerError, history_phrase, peer_phrase, storage_phrase};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every catalogue, by `_locales` folder name.
fn catalogues() -> BTreeMap<String, serde_json::Map<String, Value>> {
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(root().join("_locales")).expect("_locales exists") {
        let entry = entry.expect("readable _locales");
        let path = entry.path().join("messages.json");
        let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let Value::Object(messages) =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        else {
            panic!("{} is not a JSON object", path.display());
        };
        found.insert(entry.file_name().to_string_lossy().into_owned(), messages);
    }
    found
}

/// The popup's Rust sources, each with its path.
fn popup_sources() -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root().join("popup/src")).expect("popup/src exists") {
        let path = entry.expect("readable popup/src").path();
        if path.extension().is_some_and(|it| it == "rs") {
            let text = fs::read_to_string(&path).expect("readable source");
            found.push((path, text));
        }
    }
    found.sort();
    found
}

/// The catalogue keys a source names: `tr.t("key")`, `tr.f("key", …)`, and `Link::Broken { key: "key", … }`.
fn keys_named(source: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for marker in [".t(\"", ".f(\"", "Broken { key: \""] {
        for (at, _) in source.match_indices(marker) {
            let rest = &source[at + marker.len()..];
            if let Some(end) = rest.find('"') {
                keys.insert(rest[..end].to_owned());
            }
        }
    }
    keys
}

/// The `$NAME$` placeholders a message uses, lower-cased as `chrome.i18n` matches them.
fn placeholders_used(message: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut parts = message.split('$').skip(1);
    while let Some(part) = parts.next() {
        let named = part.chars().next().is_some_and(|it| it.is_ascii_alphabetic());
        if named && part.chars().all(|it| it.is_ascii_alphanumeric() || it == '_') {
            used.insert(part.to_ascii_lowercase());
            parts.next();
        }
    }
    used
}

fn shape(entry: &Value) -> Result<(String, BTreeMap<String, String>), String> {
    let message = entry.get("message").and_then(Value::as_str).ok_or("no \"message\" string")?.to_owned();
    let mut placeholders = BTreeMap::new();
    if let Some(map) = entry.get("placeholders") {
        let map = map.as_object().ok_or("\"placeholders\" is not an object")?;
        for (name, it) in map {
            let content = it.get("content").and_then(Value::as_str).ok_or("a placeholder has no \"content\"")?;
            placeholders.insert(name.to_ascii_lowercase(), content.to_owned());
        }
    }
    let used = placeholders_used(&message);
    let declared: BTreeSet<String> = placeholders.keys().cloned().collect();
    if used != declared {
        return Err(format!("uses placeholders {used:?} but declares {declared:?}"));
    }
    Ok((message, placeholders))
}

#[test]
fn every_key_the_popup_uses_is_in_every_catalogue() {
    let catalogues = catalogues();
    assert!(catalogues.contains_key("en"), "English is the default locale");
    let mut missing = Vec::new();
    for (path, source) in popup_sources() {
        for key in keys_named(&source) {
            for (lang, messages) in &catalogues {
                if !messages.contains_key(&key) {
                    missing.push(format!("{} uses \"{key}\", missing from _locales/{lang}", relative(&path)));
                }
            }
        }
    }
    assert!(missing.is_empty(), "popup strings missing from a catalogue:\n{}", missing.join("\n"));
}

#[test]
fn every_catalogue_has_the_same_keys_and_placeholders_as_english() {
    let catalogues = catalogues();
    let english = &catalogues["en"];
    let mut problems = Vec::new();
    for (lang, messages) in &catalogues {
        for key in english.keys().filter(|key| !messages.contains_key(*key)) {
            problems.push(format!("_locales/{lang} has no \"{key}\""));
        }
        for (key, entry) in messages {
            let Some(reference) = english.get(key) else {
                problems.push(format!("_locales/{lang} has \"{key}\", which English has not"));
                continue;
            };
            match (shape(entry), shape(reference)) {
                (Err(err), _) => problems.push(format!("_locales/{lang} \"{key}\" {err}")),
                (Ok((_, ours)), Ok((_, theirs))) if ours != theirs => {
                    problems.push(format!("_locales/{lang} \"{key}\" has placeholders {ours:?}, English {theirs:?}"))
                }
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "catalogues disagree:\n{}", problems.join("\n"));
}

#[test]
fn the_manifest_takes_its_name_and_description_from_the_catalogues() {
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(root().join("manifest.json")).expect("manifest.json")).expect("JSON");
    assert_eq!(manifest["default_locale"], "en");
    for field in ["name", "description"] {
        let value = manifest[field].as_str().unwrap_or_default();
        let key = value.strip_prefix("__MSG_").and_then(|it| it.strip_suffix("__"));
        let key = key.unwrap_or_else(|| panic!("manifest.json {field} is {value:?}, not a __MSG_…__ reference"));
        for (lang, messages) in catalogues() {
            assert!(messages.contains_key(key), "_locales/{lang} has no \"{key}\" for the manifest's {field}");
        }
    }
}

#[test]
fn every_code_the_worker_may_send_is_in_every_catalogue_with_its_values() {
    let mut problems = Vec::new();
    let keys: BTreeSet<&str> = Code::ALL.iter().map(|it| it.key()).collect();
    assert_eq!(keys.len(), Code::ALL.len(), "two codes share a catalogue key");
    for (lang, messages) in catalogues() {
        for code in Code::ALL {
            let Some(entry) = messages.get(code.key()) else {
                problems.push(format!("_locales/{lang} has no \"{}\"", code.key()));
                continue;
            };
            match shape(entry) {
                Err(err) => problems.push(format!("_locales/{lang} \"{}\" {err}", code.key())),
                Ok((_, placeholders)) => {
                    let contents: BTreeSet<String> = placeholders.into_values().collect();
                    let wanted: BTreeSet<String> = (1..=code.arity()).map(|n| format!("${n}")).collect();
                    if contents != wanted {
                        problems.push(format!(
                            "_locales/{lang} \"{}\" takes {contents:?}, the code gives {wanted:?}",
                            code.key()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "the worker's words are not all in the catalogues:\n{}", problems.join("\n"));
}

/// Each phrase has as many values as its code takes, and reads in English as the error's own sentence.
#[track_caller]
fn check_english(phrase: Phrase, english: String) {
    assert_eq!(phrase.args.len(), phrase.code.arity(), "{phrase:?}");
    assert_eq!(phrase.english(), english, "{phrase:?}");
}

#[test]
fn the_worker_s_refusals_read_in_english_as_they_did() {
    let bob = Username::parse("bob").expect("a username");
    let refusals = [
        WorkerError::NotSignedIn,
        WorkerError::NoSuchRoom,
        WorkerError::NoSuchMessage,
        WorkerError::NotAGroup,
        WorkerError::NotAUsername,
        WorkerError::SafetyNumberChanged { user: bob.clone() },
        WorkerError::NewKeyChangedAgain { user: bob.clone() },
        WorkerError::ContactsDamaged,
        WorkerError::NoKnownKey { user: bob.clone() },
        WorkerError::NoNewKey { user: bob.clone() },
        WorkerError::NoRandomness { detail: "NotSupportedError".into() },
        WorkerError::PassphraseInShell,
        UsernameError::Empty.into(),
        UsernameError::TooLong.into(),
        UsernameError::BadCharacters.into(),
        SettingsError::EmptyHost.into(),
        SettingsError::BadPort.into(),
        SettingsError::EmptyKey.into(),
        SettingsError::BadIceUrl("http://x".into()).into(),
        SettingsError::TurnLoginIncomplete("turn:127.0.0.1:3478".into()).into(),
        SettingsError::RelayOnlyWithoutTurn.into(),
        SettingsError::BadMaxFileSize.into(),
        ChatError::Room(RoomError::UnknownRoom).into(),
        ChatError::Room(RoomError::WithYourself).into(),
        ChatError::Room(RoomError::NotAGroup).into(),
        ChatError::Room(RoomError::EmptyName).into(),
        ChatError::Room(RoomError::NameTooLong).into(),
        ChatError::Room(RoomError::TooManyMembers).into(),
        ChatError::EmptyMessage.into(),
        ChatError::MessageTooLong.into(),
        ChatError::SignedOut.into(),
        ChatError::NoInvitation.into(),
        ChatError::NoRequest(bob.clone()).into(),
        ChatError::Blocked(bob.clone()).into(),
        ChatError::NoSuchMessage.into(),
        ChatError::NotYours.into(),
        ChatError::NotAReaction.into(),
        ContactError::UnknownContact(bob.clone()).into(),
        ContactError::NoSuchPendingKey(bob.clone()).into(),
        ContactError::KeyMismatch(bob.clone()).into(),
        ContactError::NewerVersion { found: 9 }.into(),
        ContactError::Corrupt("expected a map".into()).into(),
        ImportError::NotAnExport { reason: "no format".into() }.into(),
        ImportError::NewerVersion { found: 7 }.into(),
        ImportError::Damaged { problem: "part 3".into() }.into(),
        AtRestError::TooShort.into(),
        AtRestError::WrongPassphrase.into(),
        AtRestError::Locked.into(),
        AtRestError::NotSet.into(),
        AtRestError::AlreadySet.into(),
        AtRestError::DamagedLock { reason: "torn".into() }.into(),
        AtRestError::NewerLock { found: 3 }.into(),
        AtRestError::BadSessionKey.into(),
        AtRestError::Unreadable { key: "h/bob/r/1".into() }.into(),
    ];
    for err in refusals {
        check_english(err.phrase(), err.to_string());
    }
    let peer_errors = [
        PeerError::IdTaken,
        PeerError::ServerRefused("Invalid key provided".into()),
        PeerError::ServerUnreachable("127.0.0.1:9000".into()),
        PeerError::NetworkLost,
        PeerError::InvalidId("a  b".into()),
        PeerError::PeerUnavailable("bob".into()),
        PeerError::IceFailed("bob".into()),
        PeerError::PeerGone("bob".into()),
        PeerError::ClosedByPeer("bob".into()),
        PeerError::NotOpen,
        PeerError::TooManyConnections,
        PeerError::Framing("too big".into()),
    ];
    for err in peer_errors {
        check_english(peer_phrase(&err), err.to_string());
    }
}

#[test]
fn the_warnings_and_storage_problems_read_in_english_as_they_did() {
    let bob = Username::parse("bob").expect("a username");
    for how in [Unproved::NoHello, Unproved::OriginalPage, Unproved::NoHandshake, Unproved::NoProof] {
        check_english(unproved_phrase(&bob, how), unproved_warning(&bob, how));
    }
    check_english(unverified_phrase(&bob), unverified_warning(&bob));
    check_english(first_contact_phrase(&bob), first_contact_notice(&bob));
    let room = RoomId::direct(&bob, &Username::parse("alice").expect("a username"));
    let history = [
        HistoryError::CorruptRooms { reason: "expected a list".into() },
        HistoryError::CorruptMeta { room: room.clone(), reason: "torn".into() },
        HistoryError::CorruptPage { room: room.clone(), page: 2, reason: "torn".into() },
        HistoryError::MissingPage { room, page: 3 },
    ];
    for err in history {
        check_english(history_phrase(&err), err.to_string());
    }
    let storage = [
        StorageError::NewerSchema { found: 99 },
        StorageError::Corrupt { key: "settings".into(), reason: "expected a map".into() },
    ];
    for err in storage {
        check_english(storage_phrase(&err), err.to_string());
    }
}

#[test]
fn the_connection_test_reads_in_english_as_it_did() {
    let mut settings = Settings::default();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 9000;
    settings.relay_only = true;
    let found = ConnectionTest {
        signaling: Signaling::Refused(Refusal::NotPeerJs),
        gathered: [CandidateType::Relay, CandidateType::Host, CandidateType::Srflx].into(),
        ice_error: None,
    };
    let said: Vec<String> = found.sentences(&settings).into_iter().map(|it| it.english()).collect();
    assert_eq!(
        said,
        [
            "Signaling server 127.0.0.1:9000: reachable, but it refused us: it answered with something other than PeerJS.",
            "Candidates gathered: host (this device's own addresses), srflx (your public address, found through a STUN server), relay (through your TURN server).",
        ]
    );
    let refused = ConnectionTest {
        signaling: Signaling::Refused(Refusal::Said("Invalid key provided".into())),
        gathered: BTreeSet::new(),
        ice_error: Some("RTCPeerConnection is not defined".into()),
    };
    let said: Vec<String> = refused.sentences(&settings).into_iter().map(|it| it.english()).collect();
    assert_eq!(
        said,
        [
            "Signaling server 127.0.0.1:9000: reachable, but it refused us: Invalid key provided.",
            "No connection could be prepared: RTCPeerConnection is not defined.",
            "Relay only is on but no relay candidate was gathered: check the TURN address and login.",
        ]
    );
}

#[test]
fn the_popup_offers_exactly_the_languages_in_locales() {
    let i18n = fs::read_to_string(root().join("popup/src/i18n.rs")).expect("popup/src/i18n.rs");
    let line = i18n.lines().find(|it| it.contains("const LANGUAGES")).expect("a LANGUAGES constant");
    let offered: BTreeSet<String> =
        line.split("(\"").skip(1).filter_map(|it| it.split('"').next()).map(str::to_owned).collect();
    let folders: BTreeSet<String> = catalogues().into_keys().collect();
    assert_eq!(offered, folders, "popup/src/i18n.rs LANGUAGES and the _locales folders differ");
}

/// The string literals of Rust source, outside comments.
fn literals(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('"' included).
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            found.push(text);
        } else {
            i += 1;
        }
    }
    found
}

/// Whether a literal reads like words for a person: a capitalized word followed by more text, a sentence's
/// punctuation, or four or more words (of two letters or more). CSS class lists, ids, SVG view boxes and
/// catalogue keys are none of these.
fn looks_like_prose(text: &str) -> bool {
    let words: Vec<&str> =
        text.split_whitespace().filter(|it| it.chars().filter(|c| c.is_alphabetic()).count() >= 2).collect();
    let capitalized_phrase = text.chars().next().is_some_and(char::is_uppercase)
        && text.chars().nth(1).is_some_and(char::is_lowercase)
        && words.len() > 1;
    let sentence = text.trim_end().ends_with(['.', '!', '?', '…', ':']) && words.len() > 1;
    capitalized_phrase || sentence || words.len() >= 4
}

#[test]
fn no_prose_is_hard_coded_in_the_popup() {
    let mut found = Vec::new();
    for (path, source) in popup_sources() {
        for literal in literals(&source) {
            // Console lines are for developers, and name the extension first.
            if looks_like_prose(&literal) && !literal.starts_with("multichat:") {
                found.push(format!("{}: {literal:?}", relative(&path)));
            }
        }
    }
    assert!(found.is_empty(), "user-facing text belongs in _locales (tr.t / tr.f):\n{}", found.join("\n"));
}

#[test]
fn the_prose_check_reads_what_it_should() {
    assert_eq!(literals("let a = \"Hello there\"; // \"not this\"\nb('\"'); \"x\\\"y\""), ["Hello there", "x\"y"]);
    assert!(looks_like_prose("Sign in"));
    assert!(looks_like_prose("No messages yet."));
    assert!(looks_like_prose("the other side confirmed it"));
    assert!(!looks_like_prose("status failed error"));
    assert!(!looks_like_prose("room-{index}"));
    assert!(!looks_like_prose("Escape"));
    assert!(!looks_like_prose("0 0 {size} {size}"));
    assert_eq!(
        keys_named("tr.f(\"a_b\", &[x]) tr.t(\"c\") Link::Broken { key: \"d\", detail }"),
        ["a_b", "c", "d"].map(String::from).into()
    );
    assert_eq!(placeholders_used("At least $COUNT$ and $$ and $1"), ["count".to_owned()].into());
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().into_owned()
}
