//! What an author signs: a domain-separated, canonical byte encoding of a message (and of an invitation),
//! and the Ed25519 signature over it.
//!
//! Every signed payload starts with its domain (`multichat/<kind>/v1`), so a signature made for one kind
//! of thing (a message) can never be taken for another (an invitation, a later edit or reaction). Then each
//! field follows in a fixed order, each as its length (4 bytes, big-endian) and its bytes; numbers are
//! 8 bytes big-endian. The encoding is injective: two different payloads never give the same bytes. A
//! later kind (an edit, a reaction, a file) adds its own domain and field list through [`Canonical`].
//!
//! It is not the wire format ([`super::wire`] carries a signature as 128 lowercase hex digits in `sig`) and
//! not key management ([`crate::identity`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::actions::Action;
use super::ids::{MessageId, RoomId};
use crate::account::Username;
use crate::identity::keys::{from_hex, to_hex};
use crate::identity::{Identity, PublicKey};
use crate::time::Millis;

/// The domain of a chat message's signature.
pub const MESSAGE_DOMAIN: &str = "multichat/chat-message/v1";
/// The domain of the signature of a message that acts on another (a reply, reaction, edit or delete).
pub const ACTION_DOMAIN: &str = "multichat/chat-action/v1";
/// The domain of an invitation's signature.
pub const INVITATION_DOMAIN: &str = "multichat/room-invitation/v1";

/// A canonical payload under construction.
pub struct Canonical(Vec<u8>);

impl Canonical {
    pub fn new(domain: &str) -> Canonical {
        let mut canonical = Canonical(Vec::with_capacity(256));
        canonical.bytes(domain.as_bytes());
        canonical
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Canonical {
        // Fields are at most a few KB (a message's text): their length always fits 4 bytes.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn str(&mut self, text: &str) -> &mut Canonical {
        self.bytes(text.as_bytes())
    }

    pub fn u64(&mut self, value: u64) -> &mut Canonical {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// The fields of a chat message its author signs.
pub fn message_payload(
    room: &RoomId,
    id: &MessageId,
    seq: u64,
    sender: &Username,
    text: &str,
    timestamp: Millis,
) -> Vec<u8> {
    Canonical::new(MESSAGE_DOMAIN)
        .str(room.as_str())
        .str(id.as_str())
        .u64(seq)
        .str(sender.as_str())
        .str(text)
        .u64(timestamp.0)
        .finish()
}

/// What the author of a message signs: [`message_payload`] for a plain chat; for one carrying an action,
/// the same fields under [`ACTION_DOMAIN`] followed by the action's (so a signature over a chat can never
/// be taken for an edit or a delete of the same text, nor the other way round).
pub fn signed_payload(
    room: &RoomId,
    id: &MessageId,
    seq: u64,
    sender: &Username,
    text: &str,
    timestamp: Millis,
    act: Option<&Action>,
) -> Vec<u8> {
    let Some(act) = act else { return message_payload(room, id, seq, sender, text, timestamp) };
    let mut canonical = Canonical::new(ACTION_DOMAIN);
    canonical.str(room.as_str()).str(id.as_str()).u64(seq).str(sender.as_str()).str(text).u64(timestamp.0);
    match act {
        Action::Reply { to, author, quote } => canonical.str("reply").str(to.as_str()).str(author.as_str()).str(quote),
        Action::React { to, on } => canonical.str("react").str(to.as_str()).u64(u64::from(*on)),
        Action::Edit { to } => canonical.str("edit").str(to.as_str()),
        Action::Delete { to, seq } => canonical.str("delete").str(to.as_str()).u64(*seq),
    };
    canonical.finish()
}

/// The fields of an invitation its inviter signs: who invites whom to which room (and its name as shown),
/// the invitee's key if the inviter knows it (an introduction), and the history the invitee starts from.
pub fn invitation_payload(
    room: &RoomId,
    name: &str,
    inviter: &Username,
    invitee: &Username,
    invitee_key: Option<&PublicKey>,
    since: &BTreeMap<Username, u64>,
) -> Vec<u8> {
    let mut canonical = Canonical::new(INVITATION_DOMAIN);
    canonical.str(room.as_str()).str(name).str(inviter.as_str()).str(invitee.as_str());
    canonical.bytes(invitee_key.map_or(&[][..], |it| &it.as_bytes()[..]));
    canonical.u64(since.len() as u64);
    for (sender, seq) in since {
        canonical.str(sender.as_str()).u64(*seq);
    }
    canonical.finish()
}

/// An Ed25519 signature; its text form is 128 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn sign(identity: &Identity, payload: &[u8]) -> Signature {
        Signature(identity.sign(payload))
    }

    pub fn verifies(&self, key: &PublicKey, payload: &[u8]) -> bool {
        key.verify(payload, &self.0)
    }

    pub fn parse(text: &str) -> Option<Signature> {
        from_hex::<64>(text).map(Signature)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &to_hex(&self.0[..8]))
    }
}

impl TryFrom<String> for Signature {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Signature, &'static str> {
        Signature::parse(&text).ok_or("a signature is 128 lowercase hex digits")
    }
}

impl From<Signature> for String {
    fn from(sig: Signature) -> String {
        sig.to_string()
    }
}

/// `inviter` invites `invitee` to a group, signed by the inviter (unsigned from a node without a key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub inviter: Username,
    pub invitee: Username,
    /// The invitee's key as the inviter knows it (from a proved link): an introduction to the members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PublicKey>,
    /// Per sender, the seq the invitee's history starts after: catch-up never serves it anything older.
    #[serde(default)]
    pub since: BTreeMap<Username, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Signature>,
}

impl Invitation {
    /// What the inviter signs, for the room `room` named `name`.
    pub fn payload(&self, room: &RoomId, name: &str) -> Vec<u8> {
        invitation_payload(room, name, &self.inviter, &self.invitee, self.key.as_ref(), &self.since)
    }

    /// True when the signature is the inviter's, under `inviter_key`.
    pub fn verifies(&self, room: &RoomId, name: &str, inviter_key: &PublicKey) -> bool {
        self.sig.is_some_and(|sig| sig.verifies(inviter_key, &self.payload(room, name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let room = RoomId::group_from_random([1; 16]);
        let id = MessageId::from_random([2; 16]);
        let a = message_payload(&room, &id, 1, &user("bob"), "x", Millis(5));
        let b = message_payload(&room, &id, 1, &user("bo"), "bx", Millis(5));
        assert_ne!(a, b);
        assert!(a.starts_with(&[0, 0, 0, MESSAGE_DOMAIN.len() as u8]));
        assert_eq!(&a[4..4 + MESSAGE_DOMAIN.len()], MESSAGE_DOMAIN.as_bytes());
    }

    #[test]
    fn a_signature_covers_every_field_and_its_domain() {
        let identity = Identity::from_seed([9; 32]);
        let room = RoomId::group_from_random([1; 16]);
        let id = MessageId::from_random([2; 16]);
        let payload = message_payload(&room, &id, 3, &user("bob"), "hi", Millis(5));
        let sig = Signature::sign(&identity, &payload);
        assert!(sig.verifies(&identity.public_key(), &payload));
        let changed = [
            message_payload(&RoomId::group_from_random([3; 16]), &id, 3, &user("bob"), "hi", Millis(5)),
            message_payload(&room, &MessageId::from_random([4; 16]), 3, &user("bob"), "hi", Millis(5)),
            message_payload(&room, &id, 4, &user("bob"), "hi", Millis(5)),
            message_payload(&room, &id, 3, &user("carol"), "hi", Millis(5)),
            message_payload(&room, &id, 3, &user("bob"), "hI", Millis(5)),
            message_payload(&room, &id, 3, &user("bob"), "hi", Millis(6)),
        ];
        for payload in changed {
            assert!(!sig.verifies(&identity.public_key(), &payload));
        }
        assert!(!sig.verifies(&Identity::from_seed([8; 32]).public_key(), &payload));
        // The same fields as an action are another payload, and each action's fields are covered.
        let to = MessageId::from_random([5; 16]);
        let acts = [
            Action::Edit { to: to.clone() },
            Action::Delete { to: to.clone(), seq: 1 },
            Action::Delete { to: to.clone(), seq: 2 },
            Action::React { to: to.clone(), on: true },
            Action::React { to: to.clone(), on: false },
            Action::Reply { to: to.clone(), author: user("bob"), quote: "q".into() },
        ];
        let payloads: Vec<Vec<u8>> = acts
            .iter()
            .map(|act| signed_payload(&room, &id, 3, &user("bob"), "hi", Millis(5), Some(act)))
            .chain([signed_payload(&room, &id, 3, &user("bob"), "hi", Millis(5), None)])
            .collect();
        assert_eq!(payloads.last(), Some(&payload));
        for (i, a) in payloads.iter().enumerate() {
            for b in &payloads[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let text = sig.to_string();
        assert_eq!(text.len(), 128);
        assert_eq!(Signature::parse(&text), Some(sig));
        assert_eq!(Signature::parse(&text.to_uppercase()), None);
    }
}
