//! History at rest (issue 5): an optional passphrase that encrypts the stored chat history.
//!
//! With a passphrase set, storage holds a [`LockRecord`] under [`StorageKey::Lock`], and every history record (the
//! room list, each room's meta and every page) and every record that says whom the user talks to (contacts,
//! blocks, message requests, invitations, the open conversation; see [`is_sealed_key`]) is stored as
//! `{"sealed": base64(nonce || ciphertext)}`: XChaCha20-Poly1305 under a key derived from the passphrase
//! with Argon2id, with the record's storage key as associated data, so a record moved under another key
//! does not open. The chat layer never sees any of this: the shell passes every write through
//! [`seal_writes`] and every snapshot it reads through [`open_snapshot`].
//!
//! Turning the passphrase on ([`enable`]), changing it ([`change`]) and turning it off ([`disable`]) each
//! produce one batch of writes whose sets come first, so the shell stores them in one transaction.
//! Like the rest of the core, this module draws no randomness: salts and nonces come in as bytes.
//! It is not the identity key ([`crate::identity`]), which stays in the clear so chats can be verified
//! before unlocking.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::storage::{Key as StorageKey, Snapshot, StorageWrite};

/// The shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// What the popup is told for any request it makes while the history is locked.
pub const LOCKED_MESSAGE: &str = "multichat is locked; enter your passphrase";

/// The lock record's layout version.
const LOCK_VERSION: u32 = 1;

/// The known value sealed into the lock record, to tell a wrong passphrase from a right one.
const CHECK_TEXT: &str = "multichat history key check";

/// The associated data of the check value (no history record has this name).
const CHECK_NAME: &str = "lock/check";

/// Argon2id parameters: OWASP's 19 MiB and 1 lane, with 4 passes instead of 2. With 2 passes the derivation
/// took about 0.1 s in Chromium's wasm on a 2-core machine (e2e `at_rest.test.mjs`); 4 bring it to the
/// 0.2-0.5 s a user waits once per browser session. Stored in each lock record, so it can change later.
pub const DEFAULT_KDF: KdfParams = KdfParams { alg: String::new(), m_kib: 19 * 1024, t: 4, p: 1 };

/// Bounds on parameters read from storage, so a tampered lock record cannot make unlocking take forever.
const MAX_M_KIB: u32 = 256 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 4;

/// The 256-bit key that seals the history. Zeroed when dropped; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Drop for Key {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// The key as kept in the browser's session storage (memory only).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn from_base64(text: &str) -> Result<Key, AtRestError> {
        let bytes = BASE64.decode(text).map_err(|_| AtRestError::BadSessionKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| AtRestError::BadSessionKey)?;
        Ok(Key(bytes))
    }
}

/// Argon2id cost parameters, as stored in the lock record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub alg: String,
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// The record under [`StorageKey::Lock`] (absent or `null`: no passphrase): how to derive the key from the
/// passphrase, and how to check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    pub v: u32,
    /// 16 random bytes, base64.
    pub salt: String,
    pub kdf: KdfParams,
    /// [`CHECK_TEXT`] sealed with the key: opens only with the right passphrase.
    pub check: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AtRestError {
    #[error("A passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")]
    TooShort,
    #[error("That passphrase is not right")]
    WrongPassphrase,
    #[error("{LOCKED_MESSAGE}")]
    Locked,
    #[error("Your history is not protected by a passphrase")]
    NotSet,
    #[error("Your history is already protected by a passphrase; change it instead")]
    AlreadySet,
    #[error("The passphrase record is damaged ({reason}); your history cannot be opened")]
    DamagedLock { reason: String },
    #[error("The passphrase record comes from a newer multichat (version {found}); please update the extension")]
    NewerLock { found: u32 },
    #[error("The key kept for this browser session is damaged; please enter your passphrase again")]
    BadSessionKey,
    #[error(
        "The stored record {key} could not be decrypted: it was changed outside multichat or moved from another record; it was skipped"
    )]
    Unreadable { key: String },
}

/// Whether a storage key is sealed when a passphrase is set ([`StorageKey::is_sealed`]): the room list, each
/// room's meta and pages, the contact book, blocks, message requests, invitations and the open conversation,
/// of any user of this install, and a damaged copy of any of them.
pub fn is_sealed_key(name: &str) -> bool {
    StorageKey::parse(name).is_some_and(|key| key.is_sealed())
}

/// The lock record in a snapshot: `None` without a passphrase.
pub fn read_lock(snapshot: &Snapshot) -> Result<Option<LockRecord>, AtRestError> {
    match snapshot.get(&StorageKey::Lock) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let lock =
                LockRecord::deserialize(value).map_err(|err| AtRestError::DamagedLock { reason: err.to_string() })?;
            if lock.v > LOCK_VERSION {
                return Err(AtRestError::NewerLock { found: lock.v });
            }
            Ok(Some(lock))
        }
    }
}

/// Derives the key from the passphrase with the lock's salt and parameters. It does not check it: see
/// [`unlock`].
pub fn derive_key(passphrase: &str, lock: &LockRecord) -> Result<Key, AtRestError> {
    let damaged = |reason: &str| AtRestError::DamagedLock { reason: reason.to_owned() };
    let salt = BASE64.decode(&lock.salt).map_err(|_| damaged("the salt is not base64"))?;
    if salt.len() != 16 {
        return Err(damaged("the salt is not 16 bytes"));
    }
    let kdf = &lock.kdf;
    if kdf.alg != "argon2id" || kdf.m_kib > MAX_M_KIB || kdf.t > MAX_T || kdf.p > MAX_P {
        return Err(damaged("unsupported key derivation parameters"));
    }
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32)).map_err(|err| damaged(&err.to_string()))?;
    let mut key = Key([0; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, &mut key.0)
        .map_err(|err| damaged(&err.to_string()))?;
    Ok(key)
}

/// Whether `key` is the one the lock was made with.
pub fn check_key(key: &Key, lock: &LockRecord) -> Result<(), AtRestError> {
    match open(key, CHECK_NAME, &lock.check) {
        Ok(Value::String(text)) if text == CHECK_TEXT => Ok(()),
        _ => Err(AtRestError::WrongPassphrase),
    }
}

/// Derives the key and checks it against the lock: a wrong passphrase is [`AtRestError::WrongPassphrase`].
pub fn unlock(passphrase: &str, lock: &LockRecord) -> Result<Key, AtRestError> {
    let key = derive_key(passphrase, lock)?;
    check_key(&key, lock)?;
    Ok(key)
}

/// A new lock record for `passphrase` with [`DEFAULT_KDF`], and its key.
pub fn new_lock(passphrase: &str, salt: [u8; 16], check_nonce: [u8; 24]) -> Result<(LockRecord, Key), AtRestError> {
    new_lock_with(passphrase, salt, check_nonce, DEFAULT_KDF.clone())
}

fn new_lock_with(
    passphrase: &str,
    salt: [u8; 16],
    check_nonce: [u8; 24],
    mut kdf: KdfParams,
) -> Result<(LockRecord, Key), AtRestError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(AtRestError::TooShort);
    }
    "argon2id".clone_into(&mut kdf.alg);
    let mut lock = LockRecord { v: LOCK_VERSION, salt: BASE64.encode(salt), kdf, check: Value::Null };
    let key = derive_key(passphrase, &lock)?;
    lock.check = seal(&key, CHECK_NAME, &Value::String(CHECK_TEXT.to_owned()), check_nonce);
    Ok((lock, key))
}

/// Seals `value`, to be stored under `name`: `{"sealed": base64(nonce || ciphertext)}`. A nonce must never be
/// used twice with one key.
pub fn seal(key: &Key, name: &str, value: &Value, nonce: [u8; 24]) -> Value {
    let plaintext = value.to_string();
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    // Encryption fails only for inputs beyond 256 GiB, which no storage record comes near.
    let ciphertext = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext.as_bytes(), aad: name.as_bytes() })
        .expect("a storage record is far below XChaCha20-Poly1305's size limit");
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    serde_json::json!({ "sealed": BASE64.encode(sealed) })
}

/// Opens a value sealed under `name`. Anything else (plain data, another record's ciphertext, a changed
/// byte) is [`AtRestError::Unreadable`].
pub fn open(key: &Key, name: &str, value: &Value) -> Result<Value, AtRestError> {
    let unreadable = || AtRestError::Unreadable { key: name.to_owned() };
    let text = value
        .as_object()
        .filter(|it| it.len() == 1)
        .and_then(|it| it.get("sealed"))
        .and_then(Value::as_str)
        .ok_or_else(unreadable)?;
    let bytes = BASE64.decode(text).map_err(|_| unreadable())?;
    if bytes.len() < 24 {
        return Err(unreadable());
    }
    let (nonce, ciphertext) = bytes.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| unreadable())?;
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    let plaintext = cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: name.as_bytes() })
        .map_err(|_| unreadable())?;
    serde_json::from_slice(&plaintext).map_err(|_| unreadable())
}

/// The nonce of the `index`th write sealed with `random`: SHA-256 of both, so writes of one batch never share
/// a nonce, and batches share one only if the shell's 32 random bytes repeat.
pub fn nonce_for(random: &[u8; 32], index: usize) -> [u8; 24] {
    let digest = Sha256::new()
        .chain_update(b"multichat at-rest nonce v1")
        .chain_update(random)
        .chain_update((index as u64).to_le_bytes())
        .finalize();
    let mut nonce = [0; 24];
    nonce.copy_from_slice(&digest[..24]);
    nonce
}

/// Seals every write to a history key; other writes pass as they are. `random`: 32 fresh random bytes.
pub fn seal_writes(key: &Key, writes: Vec<StorageWrite>, random: [u8; 32]) -> Vec<StorageWrite> {
    writes
        .into_iter()
        .enumerate()
        .map(|(index, write)| match write {
            StorageWrite::Set { key: name, value } if is_sealed_key(&name) => {
                let value = seal(key, &name, &value, nonce_for(&random, index));
                StorageWrite::Set { key: name, value }
            }
            other => other,
        })
        .collect()
}

/// A snapshot with its history records opened, and what could not be opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opened {
    pub snapshot: Snapshot,
    /// One per record that did not open, worded for the user.
    pub problems: Vec<AtRestError>,
}

/// Opens every history record of `snapshot`. A record that does not open becomes a text value, which the
/// history loaders report as damaged (they expect objects), and its problem is listed. Such a record cannot be
/// recovered by anyone (it fails authentication), so the chat layer replacing it later loses nothing.
pub fn open_snapshot(key: &Key, snapshot: Snapshot) -> Opened {
    let mut opened = Opened::default();
    for (name, value) in snapshot.0 {
        let value = if is_sealed_key(&name) {
            open(key, &name, &value).unwrap_or_else(|err| {
                opened.problems.push(err);
                Value::String("this record could not be decrypted".to_owned())
            })
        } else {
            value
        };
        opened.snapshot.0.insert(name, value);
    }
    opened
}

/// What turning the passphrase on, changing or removing it produces.
#[derive(Debug)]
pub struct Rekeyed {
    /// The key the history is sealed with from now on (`None`: no passphrase any more).
    pub key: Option<Key>,
    /// Writes to perform as they are (already sealed); their sets come first and go out as one batch.
    pub writes: Vec<StorageWrite>,
    /// Records left as they were because they did not open.
    pub problems: Vec<AtRestError>,
}

/// Turns the passphrase on: every history record in `records` (the whole stored history, in the clear) is
/// sealed, and the lock record written, in one batch. `random`: 32 fresh random bytes.
pub fn enable(
    passphrase: &str,
    salt: [u8; 16],
    random: [u8; 32],
    current: Option<&LockRecord>,
    records: &Snapshot,
) -> Result<Rekeyed, AtRestError> {
    enable_with(passphrase, salt, random, current, records, DEFAULT_KDF.clone())
}

fn enable_with(
    passphrase: &str,
    salt: [u8; 16],
    random: [u8; 32],
    current: Option<&LockRecord>,
    records: &Snapshot,
    kdf: KdfParams,
) -> Result<Rekeyed, AtRestError> {
    if current.is_some() {
        return Err(AtRestError::AlreadySet);
    }
    let plain =
        records.0.iter().filter(|(name, _)| is_sealed_key(name)).map(|(name, value)| (name.clone(), value.clone()));
    sealed_under_new_lock(passphrase, salt, random, kdf, plain, Vec::new())
}

/// The history in `plain` sealed under a new lock made from `passphrase`, with the lock, as one batch.
fn sealed_under_new_lock(
    passphrase: &str,
    salt: [u8; 16],
    random: [u8; 32],
    kdf: KdfParams,
    plain: impl IntoIterator<Item = (String, Value)>,
    problems: Vec<AtRestError>,
) -> Result<Rekeyed, AtRestError> {
    let (lock, key) = new_lock_with(passphrase, salt, nonce_for(&random, usize::MAX), kdf)?;
    let mut writes =
        seal_writes(&key, plain.into_iter().map(|(key, value)| StorageWrite::Set { key, value }).collect(), random);
    writes.push(crate::storage::set(StorageKey::Lock, &lock));
    Ok(Rekeyed { key: Some(key), writes, problems })
}

/// Changes the passphrase: every history record is opened with `key` (the current one, checked against
/// `current`) and sealed again under the new passphrase, with the new lock, in one batch. A record that does
/// not open is left as it was and reported.
pub fn change(
    key: &Key,
    new_passphrase: &str,
    salt: [u8; 16],
    random: [u8; 32],
    current: Option<&LockRecord>,
    records: &Snapshot,
) -> Result<Rekeyed, AtRestError> {
    change_with(key, new_passphrase, salt, random, current, records, DEFAULT_KDF.clone())
}

fn change_with(
    key: &Key,
    new_passphrase: &str,
    salt: [u8; 16],
    random: [u8; 32],
    current: Option<&LockRecord>,
    records: &Snapshot,
    kdf: KdfParams,
) -> Result<Rekeyed, AtRestError> {
    let current = current.ok_or(AtRestError::NotSet)?;
    check_key(key, current)?;
    let opened = open_history(key, records);
    sealed_under_new_lock(new_passphrase, salt, random, kdf, opened.snapshot.0, opened.problems)
}

/// Turns the passphrase off: every history record is opened and stored in the clear, and the lock is set to
/// `null` (no passphrase) in the same batch, then removed. A record that does not open is left as it was.
pub fn disable(key: &Key, current: Option<&LockRecord>, records: &Snapshot) -> Result<Rekeyed, AtRestError> {
    let current = current.ok_or(AtRestError::NotSet)?;
    check_key(key, current)?;
    let opened = open_history(key, records);
    let mut writes: Vec<StorageWrite> =
        opened.snapshot.0.into_iter().map(|(key, value)| StorageWrite::Set { key, value }).collect();
    writes.push(crate::storage::set(StorageKey::Lock, &Value::Null));
    writes.push(crate::storage::remove(StorageKey::Lock));
    Ok(Rekeyed { key: None, writes, problems: opened.problems })
}

/// The history records of `records` that open with `key`, and problems for those that do not.
fn open_history(key: &Key, records: &Snapshot) -> Opened {
    let mut opened = Opened::default();
    for (name, value) in records.0.iter().filter(|(name, _)| is_sealed_key(name)) {
        match open(key, name, value) {
            Ok(value) => {
                opened.snapshot.0.insert(name.clone(), value);
            }
            Err(err) => opened.problems.push(err),
        }
    }
    opened
}

/// What the shell knows about the passphrase: the lock record and, once entered, the key. It sits between
/// the worker model and storage, so the chat logic never sees a sealed record.
#[derive(Clone, Debug, Default)]
pub struct Vault {
    pub lock: Option<LockRecord>,
    pub key: Option<Key>,
    /// The lock record is there but unreadable ([`read_lock`] failed): the history stays locked, since
    /// treating sealed records as plain would let the chat layer write over them.
    pub damaged: Option<AtRestError>,
}

impl Vault {
    /// The vault for what storage holds under [`StorageKey::Lock`] and the key kept for the session, which is dropped
    /// unless it opens the lock's check value.
    pub fn new(lock: Result<Option<LockRecord>, AtRestError>, key: Option<Key>) -> Vault {
        match lock {
            Ok(None) => Vault::default(),
            Ok(Some(lock)) => {
                let key = key.filter(|key| check_key(key, &lock).is_ok());
                Vault { lock: Some(lock), key, damaged: None }
            }
            Err(err) => Vault { lock: None, key: None, damaged: Some(err) },
        }
    }

    /// A passphrase is set and was not entered this session (or its record is damaged).
    pub fn locked(&self) -> bool {
        (self.lock.is_some() && self.key.is_none()) || self.damaged.is_some()
    }

    /// The lock record, or why the history cannot be opened.
    pub fn lock(&self) -> Result<&LockRecord, AtRestError> {
        match (&self.lock, &self.damaged) {
            (_, Some(err)) => Err(err.clone()),
            (Some(lock), None) => Ok(lock),
            (None, None) => Err(AtRestError::NotSet),
        }
    }

    /// The writes to store: history sealed when a passphrase is set. While locked no history is held, so a
    /// history write cannot be sealed: it is dropped rather than stored in the clear (and listed).
    pub fn outgoing(&self, writes: Vec<StorageWrite>, random: [u8; 32]) -> (Vec<StorageWrite>, Vec<String>) {
        match (self.locked(), &self.key) {
            (false, None) => (writes, Vec::new()),
            (false, Some(key)) => (seal_writes(key, writes, random), Vec::new()),
            (true, _) => {
                let (dropped, kept): (Vec<StorageWrite>, Vec<StorageWrite>) = writes
                    .into_iter()
                    .partition(|it| matches!(it, StorageWrite::Set { key, .. } if is_sealed_key(key)));
                let dropped = dropped
                    .into_iter()
                    .filter_map(|it| match it {
                        StorageWrite::Set { key, .. } => Some(key),
                        StorageWrite::Remove { .. } => None,
                    })
                    .collect();
                (kept, dropped)
            }
        }
    }

    /// What was read, as the chat layer should see it: history opened; while locked, without any history.
    pub fn incoming(&self, snapshot: Snapshot) -> Opened {
        match (self.locked(), &self.key) {
            (false, None) => Opened { snapshot, problems: Vec::new() },
            (false, Some(key)) => open_snapshot(key, snapshot),
            (true, _) => {
                let snapshot = Snapshot(snapshot.0.into_iter().filter(|(name, _)| !is_sealed_key(name)).collect());
                Opened { snapshot, problems: Vec::new() }
            }
        }
    }
}

#[cfg(test)]
mod tests;
