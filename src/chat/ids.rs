//! The identifiers the chat layer passes around: rooms, messages and links.
//!
//! Ids are made from random bytes the shell hands in (the core draws no randomness), or derived
//! deterministically where both ends must agree without talking (a direct room's id). This module is not
//! the wire format: it only says which strings are valid ids.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::account::Username;

/// One data connection, as the PeerJS layer names it (its `dc_…` connection id). Same as
/// `crate::bridge::LinkId`; repeated here so the chat layer does not depend on the bridge.
pub type LinkId = String;

/// Longest id we accept from a peer. Our own ids are 34 characters; the slack is for future formats.
pub const MAX_ID_CHARS: usize = 80;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id must be 1 to {MAX_ID_CHARS} characters of letters, digits, '-', '_', ':' or '.'")]
    BadId,
    #[error("a room id must be a direct room (`dm:<user>:<user>`) or a group room (`g:<hex>`)")]
    BadRoomId,
}

fn check_id_chars(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= MAX_ID_CHARS
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A message id, unique across all rooms and senders.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

impl MessageId {
    /// A fresh id from 16 random bytes (128 bits: collisions are not a practical concern).
    pub fn from_random(random: [u8; 16]) -> MessageId {
        MessageId(format!("m-{}", hex(&random)))
    }

    /// The id we give a message from a peer that sends no ids (the original page). It is derived from the
    /// message itself, so the same message arriving twice (two links to one peer) is still stored once.
    pub fn for_legacy(sender: &Username, timestamp: u64, text: &str) -> MessageId {
        // FNV-1a: stable across builds and platforms, unlike `std`'s hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(sender.as_str().as_bytes());
        feed(&[0]);
        feed(&timestamp.to_le_bytes());
        feed(text.as_bytes());
        MessageId(format!("l-{hash:016x}"))
    }

    pub fn parse(raw: &str) -> Result<MessageId, IdError> {
        if check_id_chars(raw) { Ok(MessageId(raw.to_owned())) } else { Err(IdError::BadId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<MessageId, IdError> {
        MessageId::parse(&raw)
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> String {
        id.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A room: either the direct conversation of two users or a named group.
///
/// A direct room's id is derived from the two usernames (sorted), so both users (and a user of the
/// original page, which has no rooms at all) land in the same room without agreeing on anything.
/// Usernames never contain ':' or '/', so the id splits back unambiguously and is safe in a storage key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomId(String);

impl RoomId {
    pub fn direct(a: &Username, b: &Username) -> RoomId {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        RoomId(format!("dm:{first}:{second}"))
    }

    pub fn group_from_random(random: [u8; 16]) -> RoomId {
        RoomId(format!("g:{}", hex(&random)))
    }

    pub fn parse(raw: &str) -> Result<RoomId, IdError> {
        if raw.len() > 2 * crate::account::MAX_USERNAME_CHARS + 4 {
            return Err(IdError::BadRoomId);
        }
        if let Some(rest) = raw.strip_prefix("dm:") {
            let (a, b) = rest.split_once(':').ok_or(IdError::BadRoomId)?;
            // Re-deriving rejects unsorted pairs and untrimmed names, so each pair has exactly one id.
            let (a, b) = (
                Username::parse(a).map_err(|_| IdError::BadRoomId)?,
                Username::parse(b).map_err(|_| IdError::BadRoomId)?,
            );
            let id = RoomId::direct(&a, &b);
            return if id.0 == raw && a != b { Ok(id) } else { Err(IdError::BadRoomId) };
        }
        if let Some(rest) = raw.strip_prefix("g:") {
            let ok = (8..=64).contains(&rest.len())
                && rest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
            return if ok { Ok(RoomId(raw.to_owned())) } else { Err(IdError::BadRoomId) };
        }
        Err(IdError::BadRoomId)
    }

    /// For a direct room, the two members.
    pub fn direct_members(&self) -> Option<(Username, Username)> {
        let (a, b) = self.0.strip_prefix("dm:")?.split_once(':')?;
        Some((Username::parse(a).ok()?, Username::parse(b).ok()?))
    }

    pub fn is_direct(&self) -> bool {
        self.0.starts_with("dm:")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomId {
    type Error = IdError;
    fn try_from(raw: String) -> Result<RoomId, IdError> {
        RoomId::parse(&raw)
    }
}

impl From<RoomId> for String {
    fn from(id: RoomId) -> String {
        id.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn a_direct_room_is_the_same_from_both_ends() {
        let ab = RoomId::direct(&user("alice"), &user("bob"));
        assert_eq!(ab, RoomId::direct(&user("bob"), &user("alice")));
        assert_eq!(ab.as_str(), "dm:alice:bob");
        assert_eq!(RoomId::parse("dm:alice:bob"), Ok(ab.clone()));
        assert_eq!(ab.direct_members(), Some((user("alice"), user("bob"))));
    }

    #[test]
    fn room_ids_have_one_spelling() {
        for bad in
            ["dm:bob:alice", "dm:alice:alice", "dm:alice", "dm: alice:bob", "g:XYZ", "g:12", "x:1", "", "g:abcd/ef01"]
        {
            assert_eq!(RoomId::parse(bad), Err(IdError::BadRoomId), "{bad:?}");
        }
        let group = RoomId::group_from_random([0xab; 16]);
        assert_eq!(RoomId::parse(group.as_str()), Ok(group));
    }

    #[test]
    fn message_ids() {
        let id = MessageId::from_random([1; 16]);
        assert_eq!(id.as_str(), "m-01010101010101010101010101010101");
        assert_eq!(MessageId::parse(id.as_str()), Ok(id));
        assert!(MessageId::parse("").is_err());
        assert!(MessageId::parse("a b").is_err());
        assert!(MessageId::parse(&"x".repeat(81)).is_err());
        let legacy = MessageId::for_legacy(&user("bob"), 5, "hi");
        assert_eq!(legacy, MessageId::for_legacy(&user("bob"), 5, "hi"));
        assert_ne!(legacy, MessageId::for_legacy(&user("bob"), 6, "hi"));
    }
}
