//! The gate as the worker drives it before issue 12 ([`AuthGate`]): the chat node learns of every link at
//! once and frames pass before any hello. Kept, unchanged, only until the worker drives
//! [`super::LinkGate`] instead (the wiring follow-up of issue 12); it does **not** stop a squatter (see
//! `tests/auth_gate.rs`, `squatters`). Delete it then.
//!
//! It runs the identity handshake ([`crate::identity`]) on every link and holds chat traffic while a proof
//! is awaited: our `mc.hello` gets our `auth`, the peer's hello is answered with an `mc.auth.proof`, and the
//! peer's proof is checked against the DTLS fingerprints our own browser holds for the link. A failed proof
//! closes the link; a proof of a key other than the pinned one holds the link until the user decides.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::account::Username;
use crate::bridge::{LinkId, LinkInfo};
use crate::identity::handshake::HANDSHAKE_TIMEOUT_MS;
use crate::identity::{
    ContactBook, ContactError, Handshake, Identity, LinkContext, Observation, PublicKey, Role, Step, Unauthenticated,
    dtls_fingerprint,
};
use crate::time::Millis;

const HELLO: &str = "mc.hello";
const PROOF: &str = "mc.auth.proof";
/// Liveness frames carry nothing of the conversation, so they pass a held link: it stays up while the user
/// decides, instead of being closed for silence and redialed in a loop.
const LIVENESS: [&str; 2] = ["mc.ping", "mc.pong"];
/// Frames held per link while its proof is awaited; beyond it the oldest are dropped (they come back
/// through the chat layer's re-sends and catch-up once the link is trusted).
const MAX_HELD: usize = 512;

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// No peer hello yet: only hellos go out (the chat node sends nothing else before one), and a peer of the
    /// original page, which never says hello, is passed through.
    Fresh,
    /// The peer's hello carried a key; its proof has not verified yet.
    AwaitingProof,
    /// The peer proved its key on this very DTLS session.
    Verified(PublicKey),
    /// The peer proved a key on this session, but not the one pinned for its username: only liveness
    /// (`mc.ping`/`mc.pong`) passes, everything else is held until the user accepts or rejects the key.
    KeyChanged(PublicKey),
    /// No handshake on this link (the peer does not do it, or we have no fingerprints): unverified.
    Plain,
}

struct GateLink {
    peer_id: String,
    /// When the peer's hello with a key arrived; its proof must follow within [`HANDSHAKE_TIMEOUT_MS`].
    awaiting_since: Option<Millis>,
    handshake: Option<Handshake>,
    phase: Phase,
    held_in: Vec<Value>,
    held_out: Vec<Value>,
}

/// A held link the user let through: frames for the chat node, then frames for the peer.
#[derive(Debug, PartialEq)]
pub struct Released {
    pub link: LinkId,
    pub to_chat: Vec<Value>,
    pub send: Vec<Value>,
}

/// What the worker must do with one inbound frame.
#[derive(Debug, Default, PartialEq)]
pub struct Inbound {
    /// Frames for the chat node, in order.
    pub to_chat: Vec<Value>,
    /// Frames to send on the link after the chat node's own answers to `to_chat`.
    pub send: Vec<Value>,
    /// Close the link: it failed the handshake. The peer's PeerJS id, and why, for the user.
    pub close: Option<(String, String)>,
    /// The contact book changed and should be stored.
    pub contacts_changed: bool,
    /// A known contact came without the handshake: chat goes on, unverified, with this warning on the
    /// member (the peer's PeerJS id, and the text).
    pub warning: Option<(String, String)>,
    /// This username just proved a key other than the pinned one, for the first time since the user last
    /// decided: worth telling the user even when no popup is open.
    pub new_key_from: Option<Username>,
}

pub struct AuthGate {
    identity: Option<Identity>,
    our_peer_id: String,
    contacts: ContactBook,
    links: BTreeMap<LinkId, GateLink>,
    /// Links refused here that the engine has not reported closed yet: whatever still arrives on them,
    /// or is sent to them, is dropped.
    refused: BTreeSet<LinkId>,
}

impl AuthGate {
    /// Without an identity every link is unverified (an account made before identities existed, until it
    /// gets one).
    pub fn new(identity: Option<Identity>, our_peer_id: String, contacts: ContactBook) -> AuthGate {
        AuthGate { identity, our_peer_id, contacts, links: BTreeMap::new(), refused: BTreeSet::new() }
    }

    pub fn contacts(&self) -> &ContactBook {
        &self.contacts
    }

    pub fn contacts_mut(&mut self) -> &mut ContactBook {
        &mut self.contacts
    }

    /// True while some link to `peer_id` has proved the peer's key.
    pub fn authenticated(&self, peer_id: &str) -> bool {
        self.links.values().any(|it| it.peer_id == peer_id && matches!(it.phase, Phase::Verified(_)))
    }

    /// A new link. Returns a reason to close it when its descriptions carry no readable DTLS fingerprint:
    /// the remote one came through the signaling server, so that is what a tampering server would send.
    pub fn link_up(&mut self, info: &LinkInfo, random: [u8; 32]) -> Option<String> {
        self.refused.remove(&info.link);
        let mut handshake = None;
        if let (Some(identity), Some(sessions)) = (self.identity.as_ref(), info.sessions.as_ref()) {
            let fingerprints = dtls_fingerprint(&sessions.local_sdp)
                .and_then(|local| Ok((local, dtls_fingerprint(&sessions.remote_sdp)?)));
            let (local_fingerprint, remote_fingerprint) = match fingerprints {
                Ok(pair) => pair,
                Err(err) => {
                    self.refused.insert(info.link.clone());
                    return Some(format!(
                        "The connection offered no readable DTLS fingerprint ({err}); multichat did not connect."
                    ));
                }
            };
            let context = LinkContext {
                role: if info.outgoing { Role::Dialer } else { Role::Answerer },
                our_peer_id: self.our_peer_id.clone(),
                their_peer_id: info.peer_id.clone(),
                local_fingerprint,
                remote_fingerprint,
            };
            handshake = Some(Handshake::new(identity, context, random));
        }
        let phase = if handshake.is_some() { Phase::Fresh } else { Phase::Plain };
        let link = GateLink {
            peer_id: info.peer_id.clone(),
            awaiting_since: None,
            handshake,
            phase,
            held_in: Vec::new(),
            held_out: Vec::new(),
        };
        self.links.insert(info.link.clone(), link);
        None
    }

    /// When [`AuthGate::handle_timeout`] has work: the earliest proof deadline.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.links.values().filter_map(|it| it.awaiting_since).map(|it| it.saturating_add(HANDSHAKE_TIMEOUT_MS)).min()
    }

    /// Links whose proof did not come in time: `(link, peer id, reason)`, to be closed.
    pub fn handle_timeout(&mut self, now: Millis) -> Vec<(LinkId, String, String)> {
        let expired: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, it)| it.awaiting_since.is_some_and(|at| at.saturating_add(HANDSHAKE_TIMEOUT_MS) <= now))
            .map(|(link, _)| link.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|link| {
                let gate = self.links.remove(&link)?;
                self.refused.insert(link.clone());
                let who = Username::from_peer_id(&gate.peer_id).map_or_else(|| gate.peer_id.clone(), |it| it.to_string());
                let replayed = gate.handshake.as_ref().is_some_and(Handshake::saw_foreign_proof);
                let reason = if replayed {
                    format!("Could not verify the connection with {who}: the other side sent a proof of identity recorded on another connection, so someone may be replaying an old handshake. multichat refused it, and nothing was sent over it.")
                } else {
                    format!("Could not verify the connection with {who}: the other side never proved its identity key. multichat refused it, and nothing was sent over it.")
                };
                Some((link, gate.peer_id, reason))
            })
            .collect()
    }

    pub fn link_down(&mut self, link: &str) {
        self.links.remove(link);
        self.refused.remove(link);
    }

    /// A frame the chat node wants to send: returns what to send now (our hellos carry `auth`).
    pub fn outbound(&mut self, link: &str, mut frame: Value) -> Vec<Value> {
        if self.refused.contains(link) {
            return Vec::new();
        }
        let Some(gate) = self.links.get_mut(link) else { return vec![frame] };
        if frame_type(&frame) == Some(HELLO) {
            if let (Some(handshake), Some(object)) = (&gate.handshake, frame.as_object_mut()) {
                object.insert("auth".to_owned(), handshake.auth_field());
            }
            return vec![frame];
        }
        let held = match gate.phase {
            Phase::AwaitingProof => true,
            Phase::KeyChanged(_) => !frame_type(&frame).is_some_and(|it| LIVENESS.contains(&it)),
            Phase::Fresh | Phase::Verified(_) | Phase::Plain => false,
        };
        if held {
            hold(&mut gate.held_out, frame);
            return Vec::new();
        }
        vec![frame]
    }

    /// A frame from the peer.
    pub fn inbound(&mut self, link: &str, frame: Value, now: Millis) -> Inbound {
        if self.refused.contains(link) {
            return Inbound::default();
        }
        let passed = || Inbound { to_chat: vec![frame.clone()], ..Inbound::default() };
        let Some(gate) = self.links.get_mut(link) else { return passed() };
        if let Phase::KeyChanged(_) = gate.phase {
            if frame_type(&frame).is_some_and(|it| LIVENESS.contains(&it)) {
                return passed();
            }
            hold(&mut gate.held_in, frame);
            return Inbound::default();
        }
        let Some(handshake) = gate.handshake.as_mut() else { return passed() };
        let step = match frame_type(&frame) {
            Some(HELLO) => handshake.handle_hello(frame.get("auth").filter(|it| !it.is_null())),
            Some(PROOF) => handshake.handle_proof(&frame),
            _ if gate.phase == Phase::AwaitingProof => {
                hold(&mut gate.held_in, frame);
                return Inbound::default();
            }
            _ => return passed(),
        };
        let is_hello = frame_type(&frame) == Some(HELLO);
        match step {
            Err(err) => {
                let who =
                    Username::from_peer_id(&gate.peer_id).map_or_else(|| gate.peer_id.clone(), |it| it.to_string());
                self.fail(link, format!("Could not verify the connection with {who}: {err}. multichat refused it, and nothing was sent over it."))
            }
            Ok(Step::Verified(key)) => self.verified(link, key, now),
            Ok(Step::Send { proof, .. }) if is_hello => {
                gate.phase = Phase::AwaitingProof;
                gate.awaiting_since.get_or_insert(now);
                // Our hello (the chat node's answer, with `auth` added) must precede the proof.
                Inbound { to_chat: vec![frame], send: vec![proof], ..Inbound::default() }
            }
            Ok(Step::Send { proof, .. }) => Inbound { send: vec![proof], ..Inbound::default() },
            Ok(Step::Unsupported) => {
                gate.phase = Phase::Plain;
                let mut to_chat = std::mem::take(&mut gate.held_in);
                to_chat.push(frame);
                let peer_id = gate.peer_id.clone();
                let send = std::mem::take(&mut gate.held_out);
                // A contact that proved a key before and now does not: a server may have stripped it.
                let warning = Username::from_peer_id(&peer_id)
                    .filter(|user| {
                        matches!(self.contacts.observe_unauthenticated(user), Unauthenticated::Downgrade { .. })
                    })
                    .map(|user| (peer_id, downgrade_warning(&user)));
                Inbound { to_chat, send, warning, ..Inbound::default() }
            }
            Ok(Step::Nothing) if is_hello => passed(),
            Ok(Step::Nothing) => Inbound::default(),
        }
    }

    fn verified(&mut self, link: &str, key: PublicKey, now: Millis) -> Inbound {
        let peer_id = self.links[link].peer_id.clone();
        let Some(username) = Username::from_peer_id(&peer_id) else {
            return self.fail(link, format!("{peer_id} is not a multichat user"));
        };
        let pending_before = self.contacts.get(&username).and_then(|it| it.pending_key.as_ref()).map(|it| it.key);
        match self.contacts.observe(&username, key, now) {
            Observation::NewPinned | Observation::Known | Observation::Verified => {
                let gate = self.links.get_mut(link).expect("checked above");
                gate.phase = Phase::Verified(key);
                gate.awaiting_since = None;
                Inbound {
                    to_chat: std::mem::take(&mut gate.held_in),
                    send: std::mem::take(&mut gate.held_out),
                    close: None,
                    contacts_changed: true,
                    warning: None,
                    new_key_from: None,
                }
            }
            Observation::KeyChanged { new, .. } => {
                // Held, not closed: it may be the contact on a new install, and only the user can tell.
                let gate = self.links.get_mut(link).expect("checked above");
                gate.phase = Phase::KeyChanged(new);
                gate.awaiting_since = None;
                let first_time = pending_before != Some(new);
                Inbound { contacts_changed: true, new_key_from: first_time.then_some(username), ..Inbound::default() }
            }
            Observation::Rejected => {
                self.fail(link, format!("{username} uses a key you rejected; multichat did not connect."))
            }
        }
    }

    /// True while a link to `peer_id` is held because it proved a key the user has not accepted yet.
    pub fn held(&self, peer_id: &str) -> bool {
        self.links.values().any(|it| it.peer_id == peer_id && matches!(it.phase, Phase::KeyChanged(_)))
    }

    /// The user accepts `username`'s new `key`: it is pinned, and every link held for it is released:
    /// what it held goes to the chat node and to the peer, in order.
    pub fn accept_new_key(
        &mut self,
        username: &Username,
        key: &PublicKey,
        now: Millis,
    ) -> Result<Vec<Released>, ContactError> {
        self.contacts.accept_new_key(username, key, now)?;
        let peer_id = username.peer_id();
        let released = self
            .links
            .iter_mut()
            .filter(|(_, it)| it.peer_id == peer_id && it.phase == Phase::KeyChanged(*key))
            .map(|(link, it)| {
                it.phase = Phase::Verified(*key);
                Released {
                    link: link.clone(),
                    to_chat: std::mem::take(&mut it.held_in),
                    send: std::mem::take(&mut it.held_out),
                }
            })
            .collect();
        Ok(released)
    }

    /// The user rejects `username`'s new `key`: it is refused from now on, and every link held for it is
    /// dropped with what it held. Returns those links, to be closed.
    pub fn reject_new_key(&mut self, username: &Username, key: &PublicKey) -> Result<Vec<LinkId>, ContactError> {
        self.contacts.reject_new_key(username, key)?;
        let peer_id = username.peer_id();
        let rejected: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, it)| it.peer_id == peer_id && it.phase == Phase::KeyChanged(*key))
            .map(|(link, _)| link.clone())
            .collect();
        for link in &rejected {
            self.links.remove(link);
            self.refused.insert(link.clone());
        }
        Ok(rejected)
    }

    fn fail(&mut self, link: &str, reason: String) -> Inbound {
        let peer_id = self.links.remove(link).map(|it| it.peer_id).unwrap_or_default();
        self.refused.insert(link.to_owned());
        Inbound { close: Some((peer_id, reason)), ..Inbound::default() }
    }
}

/// What the user is told about a contact who proved a key before and now chats without the handshake.
pub fn downgrade_warning(user: &Username) -> String {
    format!(
        "{user} proved their identity key before, but this connection does not. Someone may be in the middle; do not share secrets until it is authenticated again."
    )
}

fn frame_type(frame: &Value) -> Option<&str> {
    frame.get("type").and_then(Value::as_str)
}

fn hold(held: &mut Vec<Value>, frame: Value) {
    if held.len() >= MAX_HELD {
        held.remove(0);
    }
    held.push(frame);
}
