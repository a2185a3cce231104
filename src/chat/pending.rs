//! What waits for the user's answer, and whom the user blocked: message requests (a first message from a
//! username with no conversation), group invitations, and the block list. Each is one stored record per user
//! (`storage::Key::Requests`, `Key::Invitations`, `Key::Blocked`), so what waits survives a restart of the
//! worker. The records are plain data; [`super::node`] decides what goes into them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::history::StoredMessage;
use super::ids::RoomId;
use super::signing::Invitation;
use crate::account::Username;
use crate::phrase::{Code, Phrase};
use crate::storage::{Key, Snapshot};
use crate::time::Millis;

/// An invitation waiting for the user's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    pub room: RoomId,
    /// Cleaned for display.
    pub name: String,
    pub inviter: Username,
    /// The members as the inviter listed them.
    pub members: BTreeSet<Username>,
    pub invitations: BTreeMap<Username, Invitation>,
}

/// A first message (or a few) from a username the user has no conversation with: shown under "Requests"
/// until the user accepts (a conversation, with these messages) or blocks (they are discarded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRequest {
    pub from: Username,
    /// When the first message arrived (our clock).
    pub since: Millis,
    /// The messages kept, oldest first (at most `node::MAX_MESSAGES_PER_REQUEST`), as they would be stored.
    pub messages: Vec<StoredMessage>,
}

/// `Key::Requests`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestsRecord {
    pub requests: Vec<MessageRequest>,
}

/// `Key::Invitations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationsRecord {
    pub invitations: Vec<PendingInvitation>,
}

/// `Key::Blocked`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedRecord {
    pub blocked: BTreeSet<Username>,
}

/// The three records of `owner`, as read; a damaged one is reported (worded for people) and read as empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedPending {
    pub requests: RequestsRecord,
    pub invitations: InvitationsRecord,
    pub blocked: BlockedRecord,
    pub problems: Vec<Phrase>,
    /// Keys whose stored record could not be read: not written over (a damaged block list must not be
    /// replaced by an empty one).
    pub damaged: BTreeSet<String>,
}

/// The keys of `owner`'s records, for the loader.
pub fn keys(owner: &Username) -> [String; 3] {
    [
        Key::Requests(owner.clone()).to_string(),
        Key::Invitations(owner.clone()).to_string(),
        Key::Blocked(owner.clone()).to_string(),
    ]
}

pub fn load(owner: &Username, snapshot: &Snapshot) -> LoadedPending {
    let mut loaded = LoadedPending::default();
    loaded.requests = decode(snapshot, Key::Requests(owner.clone()), Code::RequestsDamaged, &mut loaded);
    loaded.invitations = decode(snapshot, Key::Invitations(owner.clone()), Code::InvitationsDamaged, &mut loaded);
    loaded.blocked = decode(snapshot, Key::Blocked(owner.clone()), Code::BlocksDamaged, &mut loaded);
    loaded
}

/// Just the block list of `owner` (the identity gate refuses these before the chat node hears of a link).
pub fn blocked(owner: &Username, snapshot: &Snapshot) -> BTreeSet<Username> {
    load(owner, snapshot).blocked.blocked
}

/// Checks one stored record of these kinds (export files are checked with it): the problem, for people.
pub fn check(key: &Key, value: &Value) -> Result<(), String> {
    let result = match key {
        Key::Requests(_) => RequestsRecord::deserialize(value).map(drop),
        Key::Invitations(_) => InvitationsRecord::deserialize(value).map(drop),
        Key::Blocked(_) => BlockedRecord::deserialize(value).map(drop),
        _ => return Ok(()),
    };
    result.map_err(|err| err.to_string())
}

fn decode<T: for<'de> Deserialize<'de> + Default>(
    snapshot: &Snapshot,
    key: Key,
    damaged: Code,
    loaded: &mut LoadedPending,
) -> T {
    let Some(value) = snapshot.get(&key) else { return T::default() };
    match T::deserialize(value) {
        Ok(it) => it,
        Err(err) => {
            loaded.problems.push(Phrase::new(damaged).with(err));
            loaded.damaged.insert(key.to_string());
            T::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_read_back_and_damage_is_reported_not_replaced() {
        let alice = Username::parse("alice").unwrap();
        let blocked = BlockedRecord { blocked: [Username::parse("mallory").unwrap()].into() };
        let mut snapshot = Snapshot::default();
        snapshot.0.insert(Key::Blocked(alice.clone()).to_string(), serde_json::to_value(&blocked).unwrap());
        snapshot.0.insert(Key::Requests(alice.clone()).to_string(), json!({"requests": 3}));
        let loaded = load(&alice, &snapshot);
        assert_eq!(loaded.blocked, blocked);
        assert_eq!(loaded.requests, RequestsRecord::default());
        assert_eq!(loaded.problems.len(), 1);
        assert!(loaded.damaged.contains("requests/alice"));
        assert!(check(&Key::Requests(alice.clone()), &json!({"requests": 3})).is_err());
        assert!(check(&Key::Blocked(alice), &json!({"blocked": ["bob"]})).is_ok());
    }
}
