//! The contact book: which key each username is trusted with (trust on first use), and safety numbers.
//!
//! The first key a username proves (a [`super::Step::Verified`] handshake) is pinned. The same key later is
//! [`Observation::Known`]; a different one is [`Observation::KeyChanged`]: the user is warned loudly, and
//! messages from links proving the new key are held until the user accepts it ([`ContactBook::accept_new_key`])
//! or rejects it ([`ContactBook::reject_new_key`]; a rejected key is refused quietly from then on).
//! Comparing [`safety_number`]s out of band lets two users mark each other [`TrustState::Verified`].
//!
//! A username we hold a key for that turns up *without* the handshake is a possible downgrade (someone in
//! the middle can strip `auth` from the hellos): [`ContactBook::observe_unauthenticated`] says so.
//!
//! A link for a username we hold a key for that does not prove that key (it never greets, acts as the
//! original page, greets without the handshake or never sends its proof) is a possible squatter (issue 12):
//! [`ContactBook::observe_unproved`] raises an alert ([`Contact::unproved`]) that stays until the user
//! decides ([`ContactBook::allow_unverified`], [`ContactBook::block_unverified`]); the decision
//! ([`Contact::unverified_links`]) is kept with the contact, so it survives restarts. Nothing a link does
//! clears the alert: not another unproved link, not even the pinned key proved again.
//!
//! The book is plain data, stored whole as one record ([`ContactBook::to_value`], [`ContactBook::from_value`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha512};

use super::keys::PublicKey;
use crate::account::Username;
use crate::time::Millis;

/// The layout version of the stored book.
pub const CONTACT_BOOK_VERSION: u64 = 1;
/// Rejected keys remembered per contact (the oldest are forgotten first).
pub const MAX_REJECTED_KEYS: usize = 16;
/// SHA-512 iterations per key in a safety number (as Signal's numeric fingerprints).
pub const SAFETY_NUMBER_ITERATIONS: u32 = 5200;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("{0} is not in your contacts")]
    UnknownContact(Username),
    #[error("{0} has no new key waiting for your decision (it may have changed again; please look again)")]
    NoSuchPendingKey(Username),
    #[error("{0}'s key changed since the safety number was shown; please compare the new number")]
    KeyMismatch(Username),
    #[error("The stored contacts come from a newer multichat (layout {found}); please update the extension")]
    NewerVersion { found: u64 },
    #[error("The stored contacts are damaged and were ignored ({0})")]
    Corrupt(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustState {
    /// Trusted because it was the first key seen for this username.
    Pinned,
    /// The user compared safety numbers with this contact for this key.
    Verified,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingKey {
    pub key: PublicKey,
    /// When this key was first proved (since the last decision).
    pub first_seen: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The trusted key.
    pub key: PublicKey,
    pub state: TrustState,
    /// When the trusted key was pinned or accepted.
    pub first_seen: Millis,
    /// When the trusted key was last proved.
    pub last_seen: Millis,
    /// A different key this username proved, waiting for the user's decision. Messages from it are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_key: Option<PendingKey>,
    /// Keys the user refused for this username, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_keys: Vec<PublicKey>,
    /// A link for this username did not prove the pinned key, and the user has not decided yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unproved: Option<UnprovedAlert>,
    /// What the user decided about links for this username that do not prove the pinned key.
    #[serde(default, skip_serializing_if = "UnverifiedLinks::is_hold")]
    pub unverified_links: UnverifiedLinks,
}

/// How a link failed to prove the pinned key of its username.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unproved {
    /// It never said `mc.hello` in time.
    NoHello,
    /// It acted as the original page (dialed without our metadata, sent `connections` or an original-shape
    /// chat before any hello, or stayed silent on a link we dialed).
    OriginalPage,
    /// Its hello carried no handshake.
    NoHandshake,
    /// It offered a key in its hello but never proved it on this connection.
    NoProof,
}

/// The alert of a username whose pinned key a link did not prove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnprovedAlert {
    pub how: Unproved,
    /// When the first such link came (since the last decision).
    pub first_seen: Millis,
    /// When the latest did.
    pub last_seen: Millis,
}

/// The user's decision about links that do not prove a contact's pinned key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnverifiedLinks {
    /// Not decided: such a link is held (nothing passes) and the user is alerted.
    #[default]
    Hold,
    /// "Allow unverified for this contact": such a link chats, marked unverified.
    Allow,
    /// "Block": such a link is closed at once.
    Block,
}

impl UnverifiedLinks {
    fn is_hold(&self) -> bool {
        *self == UnverifiedLinks::Hold
    }
}

/// What a link that did not prove its username's pinned key gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnprovedOutcome {
    /// No key is pinned for this username: first contact, chat unverified as today.
    Stranger,
    /// The user allowed unverified links for this contact: chat, marked unverified.
    Allowed,
    /// The user blocked them: close the link.
    Blocked,
    /// Hold the link and alert the user; `first_time` when no alert was waiting already (notify then).
    Held { first_time: bool },
}

/// What a proved key means for its username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A username we had no key for: this key is now pinned. Chat normally.
    NewPinned,
    /// The pinned key. Chat normally.
    Known,
    /// The key the user verified. Chat normally, with the verified mark.
    Verified,
    /// A different key than the trusted one: warn loudly, hold messages from this link, and ask the user.
    KeyChanged { old: PublicKey, new: PublicKey },
    /// A key the user already rejected for this username: close the link.
    Rejected,
}

/// How a key stands for a username right now (for gating messages already on an open link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTrust {
    Unknown,
    Pinned,
    Verified,
    /// Waiting for the user: hold messages.
    Pending,
    /// Rejected: drop messages and close.
    Rejected,
    /// Neither trusted nor pending nor rejected (observe it first).
    Other,
}

/// A peer that chats without the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unauthenticated {
    /// We never saw a key for this username: unverified, as every peer of the original page.
    Stranger,
    /// This username proved a key before and now does not: someone may have stripped the handshake.
    /// Warn, and show the conversation as unverified.
    Downgrade { state: TrustState },
}

/// Every contact's key, by username.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactBook {
    v: u64,
    contacts: BTreeMap<Username, Contact>,
}

impl Default for ContactBook {
    fn default() -> ContactBook {
        ContactBook { v: CONTACT_BOOK_VERSION, contacts: BTreeMap::new() }
    }
}

impl ContactBook {
    pub fn new() -> ContactBook {
        ContactBook::default()
    }

    /// Reads the stored record. A damaged or newer record is an error; the caller reports it and keeps the
    /// record untouched (starting from an empty book would pin whatever key shows up next).
    pub fn from_value(value: &Value) -> Result<ContactBook, ContactError> {
        let found = value.get("v").and_then(Value::as_u64);
        if let Some(found) = found.filter(|&it| it > CONTACT_BOOK_VERSION) {
            return Err(ContactError::NewerVersion { found });
        }
        ContactBook::deserialize(value).map_err(|err| ContactError::Corrupt(err.to_string()))
    }

    pub fn to_value(&self) -> Value {
        // Plain data with string map keys: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn get(&self, username: &Username) -> Option<&Contact> {
        self.contacts.get(username)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Username, &Contact)> {
        self.contacts.iter()
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// `username` just proved `key` on a link (the handshake said [`super::Step::Verified`]).
    pub fn observe(&mut self, username: &Username, key: PublicKey, now: Millis) -> Observation {
        let Some(contact) = self.contacts.get_mut(username) else {
            let contact = Contact {
                key,
                state: TrustState::Pinned,
                first_seen: now,
                last_seen: now,
                pending_key: None,
                rejected_keys: Vec::new(),
                unproved: None,
                unverified_links: UnverifiedLinks::Hold,
            };
            self.contacts.insert(username.clone(), contact);
            return Observation::NewPinned;
        };
        if key == contact.key {
            // A pending key stays pending: the user still has to decide about it.
            contact.last_seen = now;
            return match contact.state {
                TrustState::Pinned => Observation::Known,
                TrustState::Verified => Observation::Verified,
            };
        }
        if contact.rejected_keys.contains(&key) {
            return Observation::Rejected;
        }
        match &contact.pending_key {
            Some(pending) if pending.key == key => {}
            _ => contact.pending_key = Some(PendingKey { key, first_seen: now }),
        }
        Observation::KeyChanged { old: contact.key, new: key }
    }

    /// `username` chats without the handshake.
    pub fn observe_unauthenticated(&self, username: &Username) -> Unauthenticated {
        match self.contacts.get(username) {
            Some(contact) => Unauthenticated::Downgrade { state: contact.state },
            None => Unauthenticated::Stranger,
        }
    }

    /// A link for `username` did not prove a key (`how`). For a contact with a pinned key this raises (or
    /// refreshes) its alert unless the user decided already.
    pub fn observe_unproved(&mut self, username: &Username, how: Unproved, now: Millis) -> UnprovedOutcome {
        let Some(contact) = self.contacts.get_mut(username) else { return UnprovedOutcome::Stranger };
        match contact.unverified_links {
            UnverifiedLinks::Allow => UnprovedOutcome::Allowed,
            UnverifiedLinks::Block => UnprovedOutcome::Blocked,
            UnverifiedLinks::Hold => {
                let first_time = contact.unproved.is_none();
                match &mut contact.unproved {
                    Some(alert) => alert.last_seen = now,
                    None => contact.unproved = Some(UnprovedAlert { how, first_seen: now, last_seen: now }),
                }
                UnprovedOutcome::Held { first_time }
            }
        }
    }

    /// The user chose "Allow unverified for this contact": links that do not prove the pinned key chat,
    /// marked unverified. Clears the alert.
    pub fn allow_unverified(&mut self, username: &Username) -> Result<(), ContactError> {
        self.decide_unverified(username, UnverifiedLinks::Allow)
    }

    /// The user chose "Block": links that do not prove the pinned key are closed. Clears the alert.
    pub fn block_unverified(&mut self, username: &Username) -> Result<(), ContactError> {
        self.decide_unverified(username, UnverifiedLinks::Block)
    }

    /// Back to the default: hold such links and alert the user.
    pub fn hold_unverified(&mut self, username: &Username) -> Result<(), ContactError> {
        self.decide_unverified(username, UnverifiedLinks::Hold)
    }

    fn decide_unverified(&mut self, username: &Username, decision: UnverifiedLinks) -> Result<(), ContactError> {
        let contact = self.contacts.get_mut(username).ok_or_else(|| ContactError::UnknownContact(username.clone()))?;
        contact.unverified_links = decision;
        contact.unproved = None;
        Ok(())
    }

    pub fn trust(&self, username: &Username, key: &PublicKey) -> KeyTrust {
        let Some(contact) = self.contacts.get(username) else { return KeyTrust::Unknown };
        if *key == contact.key {
            return match contact.state {
                TrustState::Pinned => KeyTrust::Pinned,
                TrustState::Verified => KeyTrust::Verified,
            };
        }
        if contact.pending_key.as_ref().is_some_and(|it| it.key == *key) {
            return KeyTrust::Pending;
        }
        if contact.rejected_keys.contains(key) {
            return KeyTrust::Rejected;
        }
        KeyTrust::Other
    }

    /// The user accepts the new key they were shown: it becomes the pinned key (not verified: the new
    /// key has not been compared), and held messages from it can be released.
    pub fn accept_new_key(&mut self, username: &Username, key: &PublicKey, now: Millis) -> Result<(), ContactError> {
        let contact = self.contacts.get_mut(username).ok_or_else(|| ContactError::UnknownContact(username.clone()))?;
        if contact.pending_key.as_ref().is_none_or(|it| it.key != *key) {
            return Err(ContactError::NoSuchPendingKey(username.clone()));
        }
        contact.key = *key;
        contact.state = TrustState::Pinned;
        contact.first_seen = now;
        contact.last_seen = now;
        contact.pending_key = None;
        contact.rejected_keys.retain(|it| it != key);
        Ok(())
    }

    /// The user refuses the new key they were shown: held messages from it are dropped, its links closed,
    /// and it is refused from now on.
    pub fn reject_new_key(&mut self, username: &Username, key: &PublicKey) -> Result<(), ContactError> {
        let contact = self.contacts.get_mut(username).ok_or_else(|| ContactError::UnknownContact(username.clone()))?;
        if contact.pending_key.as_ref().is_none_or(|it| it.key != *key) {
            return Err(ContactError::NoSuchPendingKey(username.clone()));
        }
        contact.pending_key = None;
        if !contact.rejected_keys.contains(key) {
            contact.rejected_keys.push(*key);
        }
        let excess = contact.rejected_keys.len().saturating_sub(MAX_REJECTED_KEYS);
        contact.rejected_keys.drain(..excess);
        Ok(())
    }

    /// The user compared the safety number made with `key` and it matched. Refused if the trusted key is
    /// no longer the one the number was made from.
    pub fn mark_verified(&mut self, username: &Username, key: &PublicKey) -> Result<(), ContactError> {
        let contact = self.contacts.get_mut(username).ok_or_else(|| ContactError::UnknownContact(username.clone()))?;
        if contact.key != *key {
            return Err(ContactError::KeyMismatch(username.clone()));
        }
        contact.state = TrustState::Verified;
        Ok(())
    }

    pub fn mark_unverified(&mut self, username: &Username) -> Result<(), ContactError> {
        let contact = self.contacts.get_mut(username).ok_or_else(|| ContactError::UnknownContact(username.clone()))?;
        contact.state = TrustState::Pinned;
        Ok(())
    }

    /// Forgets a contact entirely: the next key it proves is pinned as new. Returns whether it was known.
    pub fn forget(&mut self, username: &Username) -> bool {
        self.contacts.remove(username).is_some()
    }
}

/// The safety number of two keys: 60 digits in 12 groups of 5, the same on both sides.
///
/// Construction (after Signal's numeric fingerprint, without its phone-number identifier): for each key,
/// `h = SHA-512(0x0000 || key || "multichat-safety-number")`, then [`SAFETY_NUMBER_ITERATIONS`] − 1 more
/// times `h = SHA-512(h || key)`. The first 30 bytes of `h`, read as six 5-byte big-endian numbers, each
/// taken modulo 100000 and written as 5 digits, give the key's 30 digits. The two 30-digit halves are put
/// in ascending order and joined, so the order of the arguments does not matter. Someone who wants another
/// key to give the same number must find a 100-bit collision through 5200 hashes per try.
pub fn safety_number(our_key: &PublicKey, their_key: &PublicKey) -> String {
    let mut halves = [key_digits(our_key), key_digits(their_key)];
    halves.sort();
    let digits = halves.concat();
    let groups: Vec<&str> = (0..12).map(|idx| &digits[idx * 5..idx * 5 + 5]).collect();
    groups.join(" ")
}

fn key_digits(key: &PublicKey) -> String {
    let mut hash = Sha512::new()
        .chain_update([0u8, 0u8])
        .chain_update(key.as_bytes())
        .chain_update(b"multichat-safety-number")
        .finalize();
    for _ in 1..SAFETY_NUMBER_ITERATIONS {
        hash = Sha512::new().chain_update(hash).chain_update(key.as_bytes()).finalize();
    }
    let mut out = String::with_capacity(30);
    for chunk in hash[..30].chunks_exact(5) {
        let number = chunk.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
        out.push_str(&format!("{:05}", number % 100_000));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    fn key(seed: u8) -> PublicKey {
        Identity::from_seed([seed; 32]).public_key()
    }

    #[test]
    fn first_key_is_pinned_then_known() {
        let mut book = ContactBook::new();
        assert_eq!(book.observe(&user("bob"), key(1), Millis(10)), Observation::NewPinned);
        assert_eq!(book.observe(&user("bob"), key(1), Millis(20)), Observation::Known);
        let bob = book.get(&user("bob")).unwrap();
        assert_eq!((bob.state, bob.first_seen, bob.last_seen), (TrustState::Pinned, Millis(10), Millis(20)));
        assert_eq!(book.trust(&user("bob"), &key(1)), KeyTrust::Pinned);
        assert_eq!(book.trust(&user("carol"), &key(1)), KeyTrust::Unknown);
    }

    #[test]
    fn a_changed_key_waits_for_the_user() {
        let mut book = ContactBook::new();
        book.observe(&user("bob"), key(1), Millis(10));
        assert_eq!(
            book.observe(&user("bob"), key(2), Millis(20)),
            Observation::KeyChanged { old: key(1), new: key(2) }
        );
        assert_eq!(book.trust(&user("bob"), &key(2)), KeyTrust::Pending);
        // Seen again: still pending, first seen unchanged; the old key still works meanwhile.
        assert_eq!(
            book.observe(&user("bob"), key(2), Millis(30)),
            Observation::KeyChanged { old: key(1), new: key(2) }
        );
        assert_eq!(
            book.get(&user("bob")).unwrap().pending_key,
            Some(PendingKey { key: key(2), first_seen: Millis(20) })
        );
        assert_eq!(book.observe(&user("bob"), key(1), Millis(40)), Observation::Known);
        assert!(book.get(&user("bob")).unwrap().pending_key.is_some(), "the decision is still the user's");

        // Accepting a key that is not the one pending is refused.
        assert_eq!(
            book.accept_new_key(&user("bob"), &key(3), Millis(50)),
            Err(ContactError::NoSuchPendingKey(user("bob")))
        );
        book.accept_new_key(&user("bob"), &key(2), Millis(50)).unwrap();
        assert_eq!(book.observe(&user("bob"), key(2), Millis(60)), Observation::Known);
        assert_eq!(book.get(&user("bob")).unwrap().first_seen, Millis(50));
        assert_eq!(
            book.observe(&user("bob"), key(1), Millis(70)),
            Observation::KeyChanged { old: key(2), new: key(1) }
        );
    }

    #[test]
    fn a_rejected_key_stays_rejected() {
        let mut book = ContactBook::new();
        book.observe(&user("bob"), key(1), Millis(10));
        book.observe(&user("bob"), key(2), Millis(20));
        book.reject_new_key(&user("bob"), &key(2)).unwrap();
        assert_eq!(book.get(&user("bob")).unwrap().pending_key, None);
        assert_eq!(book.observe(&user("bob"), key(2), Millis(30)), Observation::Rejected);
        assert_eq!(book.trust(&user("bob"), &key(2)), KeyTrust::Rejected);
        assert_eq!(book.reject_new_key(&user("bob"), &key(2)), Err(ContactError::NoSuchPendingKey(user("bob"))));
        assert_eq!(book.reject_new_key(&user("carol"), &key(2)), Err(ContactError::UnknownContact(user("carol"))));
        // The list of rejected keys is bounded.
        for seed in 100..100 + MAX_REJECTED_KEYS as u8 + 4 {
            book.observe(&user("bob"), key(seed), Millis(40));
            book.reject_new_key(&user("bob"), &key(seed)).unwrap();
        }
        assert_eq!(book.get(&user("bob")).unwrap().rejected_keys.len(), MAX_REJECTED_KEYS);
    }

    #[test]
    fn verification_is_for_one_key() {
        let mut book = ContactBook::new();
        book.observe(&user("bob"), key(1), Millis(10));
        assert_eq!(book.mark_verified(&user("bob"), &key(2)), Err(ContactError::KeyMismatch(user("bob"))));
        book.mark_verified(&user("bob"), &key(1)).unwrap();
        assert_eq!(book.observe(&user("bob"), key(1), Millis(20)), Observation::Verified);
        assert_eq!(book.trust(&user("bob"), &key(1)), KeyTrust::Verified);
        // A new key, once accepted, is pinned but not verified.
        book.observe(&user("bob"), key(2), Millis(30));
        book.accept_new_key(&user("bob"), &key(2), Millis(40)).unwrap();
        assert_eq!(book.get(&user("bob")).unwrap().state, TrustState::Pinned);
        book.mark_verified(&user("bob"), &key(2)).unwrap();
        book.mark_unverified(&user("bob")).unwrap();
        assert_eq!(book.get(&user("bob")).unwrap().state, TrustState::Pinned);
    }

    #[test]
    fn a_known_contact_without_the_handshake_is_a_downgrade() {
        let mut book = ContactBook::new();
        assert_eq!(book.observe_unauthenticated(&user("bob")), Unauthenticated::Stranger);
        book.observe(&user("bob"), key(1), Millis(10));
        assert_eq!(
            book.observe_unauthenticated(&user("bob")),
            Unauthenticated::Downgrade { state: TrustState::Pinned }
        );
        assert!(book.forget(&user("bob")));
        assert_eq!(book.observe_unauthenticated(&user("bob")), Unauthenticated::Stranger);
    }

    #[test]
    fn the_book_round_trips_through_storage() {
        let mut book = ContactBook::new();
        book.observe(&user("bob"), key(1), Millis(10));
        book.observe(&user("bob"), key(2), Millis(20));
        book.observe(&user("carol"), key(3), Millis(30));
        book.mark_verified(&user("carol"), &key(3)).unwrap();
        let value = book.to_value();
        assert_eq!(value["v"], 1);
        assert_eq!(value["contacts"]["carol"]["state"], "verified");
        assert_eq!(value["contacts"]["carol"]["key"], key(3).to_string());
        assert_eq!(ContactBook::from_value(&value), Ok(book));
    }

    #[test]
    fn a_damaged_or_newer_book_is_an_error() {
        assert_eq!(
            ContactBook::from_value(&serde_json::json!({"v": 9, "contacts": {}})),
            Err(ContactError::NewerVersion { found: 9 })
        );
        let bad_key = serde_json::json!({"v": 1, "contacts": {"bob": {"key": "zz", "state": "pinned", "first_seen": 1, "last_seen": 1}}});
        assert!(matches!(ContactBook::from_value(&bad_key), Err(ContactError::Corrupt(_))));
        let bad_name = serde_json::json!({"v": 1, "contacts": {"<b>": {"key": key(1).to_string(), "state": "pinned", "first_seen": 1, "last_seen": 1}}});
        assert!(matches!(ContactBook::from_value(&bad_name), Err(ContactError::Corrupt(_))));
        assert!(matches!(ContactBook::from_value(&serde_json::json!("x")), Err(ContactError::Corrupt(_))));
    }

    #[test]
    fn both_sides_see_the_same_safety_number() {
        let number = safety_number(&key(1), &key(2));
        assert_eq!(number, safety_number(&key(2), &key(1)));
        let groups: Vec<&str> = number.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|it| it.len() == 5 && it.bytes().all(|b| b.is_ascii_digit())));
        assert_ne!(number, safety_number(&key(1), &key(3)));
        assert_ne!(number, safety_number(&key(3), &key(2)));
    }

    #[test]
    fn an_unproved_link_alerts_until_the_user_decides_and_the_decision_is_kept() {
        let mut book = ContactBook::new();
        assert_eq!(book.observe_unproved(&user("bob"), Unproved::NoHello, Millis(5)), UnprovedOutcome::Stranger);
        assert!(book.is_empty(), "a stranger is not pinned by failing to prove");
        book.observe(&user("bob"), key(1), Millis(10));
        assert_eq!(
            book.observe_unproved(&user("bob"), Unproved::OriginalPage, Millis(20)),
            UnprovedOutcome::Held { first_time: true }
        );
        // Nothing a link does clears it: another unproved link, or the pinned key proved again.
        assert_eq!(
            book.observe_unproved(&user("bob"), Unproved::NoHello, Millis(30)),
            UnprovedOutcome::Held { first_time: false }
        );
        assert_eq!(book.observe(&user("bob"), key(1), Millis(40)), Observation::Known);
        let alert = book.get(&user("bob")).unwrap().unproved.clone().unwrap();
        assert_eq!(alert, UnprovedAlert { how: Unproved::OriginalPage, first_seen: Millis(20), last_seen: Millis(30) });
        let stored = ContactBook::from_value(&book.to_value()).unwrap();
        assert_eq!(stored, book, "the alert survives a restart");

        book.block_unverified(&user("bob")).unwrap();
        assert_eq!(book.get(&user("bob")).unwrap().unproved, None);
        assert_eq!(book.observe_unproved(&user("bob"), Unproved::NoHello, Millis(50)), UnprovedOutcome::Blocked);
        book.allow_unverified(&user("bob")).unwrap();
        let stored = ContactBook::from_value(&book.to_value()).unwrap();
        assert_eq!(
            stored.get(&user("bob")).unwrap().unverified_links,
            UnverifiedLinks::Allow,
            "the decision survives a restart"
        );
        assert_eq!(book.observe_unproved(&user("bob"), Unproved::NoHandshake, Millis(60)), UnprovedOutcome::Allowed);
        book.hold_unverified(&user("bob")).unwrap();
        assert_eq!(
            book.observe_unproved(&user("bob"), Unproved::NoProof, Millis(70)),
            UnprovedOutcome::Held { first_time: true }
        );
        assert_eq!(book.allow_unverified(&user("carol")), Err(ContactError::UnknownContact(user("carol"))));
    }

    #[test]
    fn records_without_the_new_fields_still_load() {
        let old = serde_json::json!({"v": 1, "contacts": {"bob": {"key": key(1).to_string(), "state": "pinned", "first_seen": 1, "last_seen": 1}}});
        let book = ContactBook::from_value(&old).unwrap();
        let bob = book.get(&user("bob")).unwrap();
        assert_eq!((bob.unproved.clone(), bob.unverified_links), (None, UnverifiedLinks::Hold));
        assert_eq!(book.to_value(), old, "and are written back the same");
    }
}
