//! The at-rest encryption's unit tests.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// Cheap parameters so the tests run fast; the real ones are measured in the browser.
fn fast() -> KdfParams {
    KdfParams { alg: String::new(), m_kib: 64, t: 1, p: 1 }
}

fn lock_for(passphrase: &str) -> (LockRecord, Key) {
    new_lock_with(passphrase, [7; 16], [9; 24], fast()).unwrap()
}

fn history() -> Snapshot {
    Snapshot(
        [
            ("chat/alice/rooms", json!({"rooms": [{"id": "r1"}]})),
            ("h/alice/dm:alice:bob/meta", json!({"page_count": 1, "last_page_len": 1})),
            ("h/alice/dm:alice:bob/0", json!({"messages": [{"text": "meet me at the old mill"}]})),
            ("account", json!({"username": "alice"})),
            ("settings", json!({"notifications": true})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    )
}

fn written(writes: &[StorageWrite]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    crate::chat::history::apply(&mut snapshot, writes);
    snapshot
}

#[test]
fn which_keys_are_sealed() {
    assert!(is_sealed_key("chat/alice/rooms"));
    assert!(is_sealed_key("h/alice/dm:alice:bob/meta"));
    assert!(is_sealed_key("h/alice/dm:alice:bob/12"));
    // Whom the user talks to is sealed too.
    for sealed in
        ["ui", "contacts/alice", "blocked/alice", "requests/alice", "invitations/alice", "damaged/contacts/alice"]
    {
        assert!(is_sealed_key(sealed), "{sealed}");
    }
    for plain in ["account", "settings", "identity", "schema_version", "lock", "h/alice/r1/0"] {
        assert!(!is_sealed_key(plain), "{plain}");
    }
}

#[test]
fn a_sealed_value_opens_to_itself() {
    let (_, key) = lock_for("correct horse");
    let value = json!({"messages": [{"text": "hello", "n": 3}]});
    let sealed = seal(&key, "h/alice/dm:alice:bob/0", &value, [1; 24]);
    assert!(!sealed.to_string().contains("hello"));
    assert_eq!(open(&key, "h/alice/dm:alice:bob/0", &sealed), Ok(value));
}

#[test]
fn the_right_passphrase_unlocks_and_a_wrong_one_is_refused() {
    let (lock, key) = lock_for("correct horse");
    assert_eq!(unlock("correct horse", &lock).unwrap(), key);
    assert_eq!(unlock("correct hors", &lock).unwrap_err(), AtRestError::WrongPassphrase);
    assert_eq!(AtRestError::WrongPassphrase.to_string(), "That passphrase is not right");
    let round_tripped: LockRecord = serde_json::from_value(serde_json::to_value(&lock).unwrap()).unwrap();
    assert_eq!(unlock("correct horse", &round_tripped).unwrap(), key);
}

#[test]
fn a_short_or_empty_passphrase_is_refused() {
    for short in ["", "1234567", "ééééééé"] {
        assert_eq!(new_lock_with(short, [0; 16], [0; 24], fast()).unwrap_err(), AtRestError::TooShort, "{short:?}");
    }
    assert!(new_lock_with("éééééééé", [0; 16], [0; 24], fast()).is_ok());
}

#[test]
fn a_record_moved_to_another_key_does_not_open() {
    let (_, key) = lock_for("correct horse");
    let sealed = seal(&key, "h/alice/dm:alice:bob/0", &json!({"messages": []}), [1; 24]);
    assert_eq!(
        open(&key, "h/alice/dm:alice:bob/1", &sealed),
        Err(AtRestError::Unreadable { key: "h/alice/dm:alice:bob/1".to_owned() })
    );
}

#[test]
fn a_tampered_record_is_reported_as_damaged() {
    let (_, key) = lock_for("correct horse");
    let name = "h/alice/dm:alice:bob/0";
    let sealed = seal(&key, name, &json!({"messages": []}), [1; 24]);
    let mut bytes = BASE64.decode(sealed["sealed"].as_str().unwrap()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = json!({"sealed": BASE64.encode(bytes)});
    let mut snapshot = Snapshot::default();
    snapshot.0.insert(name.to_owned(), tampered);
    let opened = open_snapshot(&key, snapshot);
    assert_eq!(opened.problems, vec![AtRestError::Unreadable { key: name.to_owned() }]);
    // The history loader treats the stand-in as a damaged page rather than an empty one.
    assert!(serde_json::from_value::<crate::chat::history::Page>(opened.snapshot.0[name].clone()).is_err());
    assert!(serde_json::from_value::<crate::chat::room::RoomsRecord>(opened.snapshot.0[name].clone()).is_err());
    assert!(serde_json::from_value::<crate::chat::history::RoomMeta>(opened.snapshot.0[name].clone()).is_err());
}

#[test]
fn plain_data_under_a_sealed_key_is_not_taken_for_history() {
    let (_, key) = lock_for("correct horse");
    assert!(open(&key, "h/alice/dm:alice:bob/0", &json!({"messages": []})).is_err());
    assert!(open(&key, "h/alice/dm:alice:bob/0", &json!({"sealed": "not base64!"})).is_err());
    assert!(open(&key, "h/alice/dm:alice:bob/0", &json!({"sealed": "AAAA"})).is_err());
}

#[test]
fn every_write_gets_its_own_nonce() {
    let (_, key) = lock_for("correct horse");
    let value = json!({"messages": []});
    let writes: Vec<StorageWrite> =
        (0..50).map(|_| StorageWrite::Set { key: "h/alice/dm:alice:bob/0".to_owned(), value: value.clone() }).collect();
    let sealed = seal_writes(&key, writes, [3; 32]);
    let nonces: std::collections::BTreeSet<String> = sealed
        .iter()
        .map(|write| match write {
            StorageWrite::Set { value, .. } => value["sealed"].as_str().unwrap()[..32].to_owned(),
            StorageWrite::Remove { .. } => unreachable!(),
        })
        .collect();
    assert_eq!(nonces.len(), 50);
    assert_ne!(nonce_for(&[3; 32], 0), nonce_for(&[4; 32], 0));
}

#[test]
fn only_history_writes_are_sealed() {
    let (_, key) = lock_for("correct horse");
    let writes = vec![
        StorageWrite::Set { key: "settings".to_owned(), value: json!({"a": 1}) },
        StorageWrite::Set { key: "h/alice/dm:alice:bob/meta".to_owned(), value: json!({"b": 2}) },
        StorageWrite::Remove { key: "h/alice/dm:alice:bob/0".to_owned() },
    ];
    let sealed = seal_writes(&key, writes.clone(), [0; 32]);
    assert_eq!(sealed[0], writes[0]);
    assert_eq!(sealed[2], writes[2]);
    let StorageWrite::Set { value, .. } = &sealed[1] else { panic!("a set stays a set") };
    assert_eq!(open(&key, "h/alice/dm:alice:bob/meta", value), Ok(json!({"b": 2})));
}

#[test]
fn turning_on_seals_every_history_record_in_one_batch() {
    let stored = history();
    let on = enable_with("correct horse", [1; 16], [2; 32], None, &stored, fast()).unwrap();
    let serialized = format!("{:?}", on.writes);
    assert!(!serialized.contains("old mill"), "message text leaked: {serialized}");
    assert!(!serialized.contains("last_page_len") && !serialized.contains("r1\"}"), "history leaked: {serialized}");
    assert!(on.writes.iter().all(|it| matches!(it, StorageWrite::Set { .. })), "one batch of sets");
    let after = {
        let mut disk = stored.clone();
        disk.0.extend(written(&on.writes).0);
        disk
    };
    let lock = read_lock(&after).unwrap().expect("the lock is written");
    let key = unlock("correct horse", &lock).unwrap();
    assert_eq!(Some(&key), on.key.as_ref());
    let opened = open_snapshot(&key, after);
    assert!(opened.problems.is_empty());
    let mut expected = stored;
    expected.0.insert(StorageKey::Lock.to_string(), serde_json::to_value(&lock).unwrap());
    assert_eq!(opened.snapshot, expected);
    assert_eq!(
        enable_with("another one", [1; 16], [2; 32], Some(&lock), &Snapshot::default(), fast()).unwrap_err(),
        AtRestError::AlreadySet
    );
}

#[test]
fn changing_reseals_under_the_new_passphrase() {
    let stored = history();
    let on = enable_with("correct horse", [1; 16], [2; 32], None, &stored, fast()).unwrap();
    let disk = written(&on.writes);
    let lock = read_lock(&disk).unwrap();
    let old_key = on.key.unwrap();
    let changed = change_with(&old_key, "battery staple", [5; 16], [6; 32], lock.as_ref(), &disk, fast()).unwrap();
    let disk = {
        let mut disk = disk;
        disk.0.extend(written(&changed.writes).0);
        disk
    };
    let new_lock = read_lock(&disk).unwrap().unwrap();
    assert_eq!(unlock("correct horse", &new_lock).unwrap_err(), AtRestError::WrongPassphrase);
    let new_key = unlock("battery staple", &new_lock).unwrap();
    assert!(open_snapshot(&old_key, disk.clone()).problems.len() == 3, "the old key opens nothing");
    let opened = open_snapshot(&new_key, disk);
    assert!(opened.problems.is_empty());
    assert_eq!(opened.snapshot.0["h/alice/dm:alice:bob/0"], stored.0["h/alice/dm:alice:bob/0"]);
    let wrong = unlock("battery staple", &new_lock).map(|_| Key([0; 32])).unwrap();
    assert_eq!(
        change_with(&wrong, "x".repeat(9).as_str(), [0; 16], [0; 32], Some(&new_lock), &Snapshot::default(), fast())
            .unwrap_err(),
        AtRestError::WrongPassphrase
    );
}

#[test]
fn turning_off_restores_the_plain_history_and_drops_the_lock() {
    let stored = history();
    let on = enable_with("correct horse", [1; 16], [2; 32], None, &stored, fast()).unwrap();
    let mut disk = stored.clone();
    disk.0.extend(written(&on.writes).0);
    let key = on.key.unwrap();
    let off = disable(&key, read_lock(&disk).unwrap().as_ref(), &disk).unwrap();
    assert_eq!(off.key, None);
    // The lock goes to null in the same batch as the plain records, then away.
    let sets: Vec<&str> = off
        .writes
        .iter()
        .filter_map(|it| match it {
            StorageWrite::Set { key, .. } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(sets.last(), Some(&StorageKey::Lock.to_string().as_str()));
    assert_eq!(off.writes.last(), Some(&StorageWrite::Remove { key: StorageKey::Lock.to_string() }));
    disk.0.extend(written(&off.writes[..off.writes.len() - 1]).0);
    assert_eq!(read_lock(&disk), Ok(None), "a null lock is no lock");
    disk.0.remove(&StorageKey::Lock.to_string());
    assert_eq!(disk, stored);
}

#[test]
fn a_record_that_does_not_open_is_left_alone_when_turning_off() {
    let stored = history();
    let on = enable_with("correct horse", [1; 16], [2; 32], None, &stored, fast()).unwrap();
    let mut disk = written(&on.writes);
    disk.0.insert("h/alice/dm:alice:bob/0".to_owned(), json!({"sealed": "AAAA"}));
    let key = on.key.unwrap();
    let off = disable(&key, read_lock(&disk).unwrap().as_ref(), &disk).unwrap();
    assert_eq!(off.problems, vec![AtRestError::Unreadable { key: "h/alice/dm:alice:bob/0".to_owned() }]);
    assert!(
        off.writes.iter().all(|it| !matches!(it, StorageWrite::Set { key, .. } if key == "h/alice/dm:alice:bob/0"))
    );
}

#[test]
fn a_damaged_or_hostile_lock_record_is_refused() {
    let (lock, _) = lock_for("correct horse");
    let mut snapshot = Snapshot::default();
    snapshot.0.insert(StorageKey::Lock.to_string(), json!({"v": 1}));
    assert!(matches!(read_lock(&snapshot), Err(AtRestError::DamagedLock { .. })));
    let mut newer = lock.clone();
    newer.v = 2;
    snapshot.0.insert(StorageKey::Lock.to_string(), serde_json::to_value(&newer).unwrap());
    assert_eq!(read_lock(&snapshot), Err(AtRestError::NewerLock { found: 2 }));
    let mut huge = lock.clone();
    huge.kdf.m_kib = u32::MAX;
    assert!(matches!(derive_key("correct horse", &huge), Err(AtRestError::DamagedLock { .. })));
    let mut salty = lock;
    salty.salt = "AAAA".to_owned();
    assert!(matches!(derive_key("correct horse", &salty), Err(AtRestError::DamagedLock { .. })));
}

#[test]
fn the_session_key_round_trips_and_is_never_printed() {
    let (_, key) = lock_for("correct horse");
    assert_eq!(Key::from_base64(&key.to_base64()).unwrap(), key);
    assert_eq!(Key::from_base64("AAAA").unwrap_err(), AtRestError::BadSessionKey);
    assert_eq!(format!("{key:?}"), "Key(..)");
}

#[test]
fn the_vault_seals_while_unlocked_and_holds_no_history_while_locked() {
    let (lock, key) = lock_for("correct horse");
    let writes = vec![
        StorageWrite::Set { key: "h/alice/dm:alice:bob/0".to_owned(), value: json!({"messages": ["secret"]}) },
        StorageWrite::Set { key: "settings".to_owned(), value: json!({}) },
    ];
    let open_vault = Vault::default();
    assert_eq!(open_vault.outgoing(writes.clone(), [0; 32]).0, writes);
    let unlocked = Vault::new(Ok(Some(lock.clone())), Some(key.clone()));
    assert_eq!(unlocked.key.as_ref(), Some(&key));
    assert_eq!(Vault::new(Ok(Some(lock.clone())), Some(Key([1; 32]))).key, None, "a stale session key is dropped");
    let damaged = Vault::new(Err(AtRestError::DamagedLock { reason: "x".into() }), None);
    assert!(damaged.locked() && damaged.outgoing(writes.clone(), [0; 32]).0 == writes[1..]);
    let (sealed, dropped) = unlocked.outgoing(writes.clone(), [0; 32]);
    assert!(dropped.is_empty() && !format!("{sealed:?}").contains("secret"));
    let opened = unlocked.incoming(written(&sealed));
    assert_eq!(opened.snapshot, written(&writes));
    let locked = Vault::new(Ok(Some(lock)), None);
    assert!(locked.locked() && !unlocked.locked() && !open_vault.locked());
    let (kept, dropped) = locked.outgoing(writes.clone(), [0; 32]);
    assert_eq!((kept, dropped), (vec![writes[1].clone()], vec!["h/alice/dm:alice:bob/0".to_owned()]));
    assert_eq!(locked.incoming(written(&sealed)).snapshot, written(&writes[1..]));
}

#[test]
fn the_default_parameters_are_at_least_owasps() {
    assert_eq!((DEFAULT_KDF.m_kib, DEFAULT_KDF.t, DEFAULT_KDF.p), (19 * 1024, 4, 1));
    // And they work end to end (one real derivation).
    let (lock, key) = new_lock("correct horse", [1; 16], [2; 24]).unwrap();
    assert_eq!(lock.kdf.alg, "argon2id");
    assert_eq!(unlock("correct horse", &lock).unwrap(), key);
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
        "[A-Za-z0-9+/=]{0,80}".prop_map(|it| json!({"sealed": it})),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("sealed|[a-z]{1,6}", inner, 0..4)
                .prop_map(|it| Value::Object(it.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn opening_arbitrary_json_never_panics(value in arbitrary_json(), name in ".{0,20}") {
        let key = Key([42; 32]);
        prop_assert!(open(&key, &name, &value).is_err());
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught(bit in 0usize..(8 * 60)) {
        let key = Key([42; 32]);
        let sealed = seal(&key, "h/alice/dm:alice:bob/0", &json!({"messages": ["x"]}), [5; 24]);
        let mut bytes = BASE64.decode(sealed["sealed"].as_str().unwrap()).unwrap();
        let bit = bit % (8 * bytes.len());
        bytes[bit / 8] ^= 1 << (bit % 8);
        let flipped = json!({"sealed": BASE64.encode(bytes)});
        prop_assert!(open(&key, "h/alice/dm:alice:bob/0", &flipped).is_err());
    }
}
