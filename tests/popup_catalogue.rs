//! The popup's message catalogues (`_locales/<lang>/messages.json`): every key the popup uses is in every
//! catalogue, every catalogue has the same keys with the same placeholders, the popup's language list is
//! the `_locales` folders, and no prose is left hard-coded in the popup's Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

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
