//! [`LinkGate`]: the identity gate every link passes before the chat node may learn of it (issue 12).
//!
//! # What it guarantees
//! - The chat node learns of a link ([`GateOutput::to_chat_link_up`]) only once the link proved its
//!   username's pinned key, or was accepted as unverified: a username with no pinned key (first contact,
//!   today's behaviour), or a contact the user allowed ("Allow unverified for this contact"). Until then
//!   nothing but the handshake passes either way: no chat, batch, room, sync or `connections` frame reaches
//!   the chat node, and the chat node, not knowing the link, sends nothing on it (its outbox waits).
//! - So an unproved link never displaces a proved one: the chat node's duplicate rule only ever sees
//!   links that are proved (or accepted as unverified, and those are refused while a proved link is open).
//! - Every link has a hello deadline. A link for a pinned username that does not prove its key (no hello in
//!   time, the original page's ways, a hello without the handshake, or no proof in time) is held like a
//!   changed key: an [`Alert`], stored with the contact ([`crate::identity::Contact::unproved`]) until the user
//!   decides ([`LinkGate::allow_unverified`], [`LinkGate::block_unverified`]). A link for anyone else that
//!   neither greets nor acts as the original page in time is closed.
//! - The gate says every `mc.hello` of ours (with our `auth`), so the hello goes out before the chat node
//!   knows the link; the chat node's own hellos are dropped.
//!
//! # Driving it (the worker)
//! Engine `LinkUp` → [`LinkGate::link_up`]; a link the engine kept across a worker restart →
//! [`LinkGate::link_resumed`]; `Frame` → [`LinkGate::inbound`]; every `Output::Send` of the chat node →
//! [`LinkGate::outbound`]; `LinkDown` → [`LinkGate::link_down`] (and the chat node's `LinkDown`); at
//! [`LinkGate::poll_timeout`] → [`LinkGate::handle_timeout`]. Each returns a [`GateOutput`]: perform its
//! fields in the order documented there.
//!
//! What is deliberately absent: no clock, no randomness of its own (each link's 32 random bytes come in
//! with its link up), no storage IO (the contact book is handed out for the worker to store).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::notices::unverified_phrase;
use crate::account::Username;
use crate::bridge::{LinkId, LinkInfo};
use crate::chat::wire::{self, Frame, Hello};
use crate::identity::handshake::HANDSHAKE_TIMEOUT_MS;
use crate::identity::{
    ContactBook, ContactError, Handshake, Identity, LinkContext, Observation, PublicKey, Role, Step, Unproved,
    UnprovedOutcome, dtls_fingerprint,
};
use crate::phrase::{Code, Phrase};
use crate::time::Millis;

/// A dialer that says in its metadata that it speaks our protocol must greet within this long. Longer than
/// the chat layer's grace: a busy worker may answer late.
pub const HELLO_DEADLINE_MS: u64 = 8_000;
/// A link we dialed on which the peer says nothing this long is the original page (which never greets), as
/// the chat layer's `HELLO_GRACE_MS`; for a username with a pinned key, [`HELLO_DEADLINE_MS`] instead.
pub const ORIGINAL_PAGE_GRACE_MS: u64 = 3_000;
/// Frames held per link; beyond it the oldest are dropped (they come back through the chat layer's re-sends
/// and catch-up once the link passes).
const MAX_HELD: usize = 512;
/// Links that dialed us and have not greeted yet (no hello, or a hello whose proof has not come); a new one
/// beyond it closes the oldest such link. So links that never greet cannot take every connection slot
/// (`crate::peerjs::peer::MAX_CONNECTIONS`), and a greeted link, or one we dialed, is never displaced.
pub const MAX_UNGREETED_LINKS: usize = 32;

const HELLO: &str = "mc.hello";
const PROOF: &str = "mc.auth.proof";
/// Liveness frames carry nothing of the conversation: a held link stays up while the user decides.
const LIVENESS: [&str; 2] = ["mc.ping", "mc.pong"];

/// A link the chat node may learn of now: give it `Input::LinkUp` (or `Input::LinkResumed` when
/// `resumed`) with these fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLinkUp {
    pub link: LinkId,
    pub peer_id: String,
    pub metadata: Value,
    pub outgoing: bool,
    pub resumed: bool,
}

/// A link to close, with the peer's PeerJS id and why, for the user (shown on the member).
#[derive(Clone, Debug, PartialEq)]
pub struct Closing {
    pub link: LinkId,
    pub peer_id: String,
    pub reason: Phrase,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AlertKind {
    /// A link for this contact did not prove its pinned key (see [`crate::auth_gate::unproved_warning`]).
    Unproved(Unproved),
    /// A link proved a key other than the pinned one.
    KeyChanged { new: PublicKey },
}

/// A red warning about a contact: held links wait for the user's decision. `first_time` when no such
/// warning was waiting already: notify then, even with a popup open.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub username: Username,
    pub kind: AlertKind,
    pub first_time: bool,
}

/// What the worker must do, in this order: store the contact book (`contacts_changed`); close each of
/// `close` (engine `Close`, chat node `LinkDown`, and show the reason on the member); send `send` on the
/// engine; give the chat node each of `to_chat_link_up`, then each frame of `to_chat` (every chat node
/// `Output::Send` going through [`LinkGate::outbound`]), then `Input::DialFailed` for each of `dial_failed`;
/// then surface `alerts`, `warnings` and `first_contact`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateOutput {
    pub contacts_changed: bool,
    pub close: Vec<Closing>,
    pub send: Vec<(LinkId, Value)>,
    pub to_chat_link_up: Vec<ChatLinkUp>,
    pub to_chat: Vec<(LinkId, Value)>,
    pub alerts: Vec<Alert>,
    /// An unverified link of a contact the user allowed: (peer id, text) for the member while it lasts.
    pub warnings: Vec<(String, Phrase)>,
    /// Usernames whose key was just pinned for the first time: the conversation says plainly that the key
    /// is new and unverified ([`crate::auth_gate::first_contact_notice`]).
    pub first_contact: Vec<Username>,
    /// Peer ids whose link we dialed was held or closed before the chat node heard of it: give the chat node
    /// `Input::DialFailed` for each, so it backs off instead of waiting for its dial to time out.
    pub dial_failed: Vec<String>,
    /// Lines for the worker's log (a cap reached, a blocked username refused); rate-limit them.
    pub logs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Standing {
    /// No hello from the peer yet.
    Fresh,
    /// The peer's hello named a key; its proof has not verified yet.
    AwaitingProof,
    /// The peer proved the key its username is trusted with, on this very DTLS session.
    Verified(PublicKey),
    /// The peer proved another key than the pinned one: held until the user decides.
    KeyChanged(PublicKey),
    /// A pinned username that did not prove its key: held until the user decides.
    Unproved(Unproved),
    /// Chats without proof: a stranger, a contact the user allowed, or we cannot verify at all.
    Unverified,
}

impl Standing {
    fn passes(&self) -> bool {
        matches!(self, Standing::Verified(_) | Standing::Unverified)
    }
}

struct GateLink {
    peer_id: String,
    metadata: Value,
    outgoing: bool,
    resumed: bool,
    opened_at: Millis,
    /// When the current proof was asked for (the peer's hello with a key).
    awaiting_since: Millis,
    handshake: Option<Handshake>,
    standing: Standing,
    /// The chat node knows this link.
    admitted: bool,
    /// The dialer said in its metadata that it is ours: it never counts as the original page.
    dialer_is_ours: bool,
    hello_sent: bool,
    heard_hello: bool,
    held_in: Vec<Value>,
    held_out: Vec<Value>,
}

pub struct LinkGate {
    identity: Option<Identity>,
    me: Username,
    /// The chat node's session (`mc.hello`'s `session`): when it started.
    session: Millis,
    contacts: ContactBook,
    links: BTreeMap<LinkId, GateLink>,
    /// Links closed here that the engine has not reported down yet: nothing crosses them any more.
    refused: BTreeSet<LinkId>,
    /// Usernames the user blocked: their links are closed as they come up, before anything crosses them.
    blocked: BTreeSet<Username>,
}

impl LinkGate {
    /// `session` is the start time given to the chat node (`ChatNode::new`/`restore`), which the hellos
    /// the gate says on its behalf carry. Without an identity every link is unverified.
    pub fn new(identity: Option<Identity>, me: Username, contacts: ContactBook, session: Millis) -> LinkGate {
        LinkGate {
            identity,
            me,
            session,
            contacts,
            links: BTreeMap::new(),
            refused: BTreeSet::new(),
            blocked: BTreeSet::new(),
        }
    }

    /// The usernames the user blocked (all of them, as stored): their open links are closed now, and every
    /// later one as it comes up.
    pub fn set_blocked(&mut self, blocked: BTreeSet<Username>) -> GateOutput {
        let mut out = GateOutput::default();
        self.blocked = blocked;
        let open: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, it)| Username::from_peer_id(&it.peer_id).is_some_and(|user| self.blocked.contains(&user)))
            .map(|(id, _)| id.clone())
            .collect();
        for link in open {
            let reason = Phrase::new(Code::ClosedBlocked).with(who(&self.links[&link].peer_id));
            self.close(&link, reason, &mut out);
        }
        out
    }

    /// Makes room for one more link that has not greeted: the oldest incoming one is closed at the cap.
    fn cap_ungreeted(&mut self, out: &mut GateOutput) {
        let ungreeted = |it: &GateLink| {
            !it.outgoing && !it.admitted && matches!(it.standing, Standing::Fresh | Standing::AwaitingProof)
        };
        let count = self.links.values().filter(|it| ungreeted(it)).count();
        if count < MAX_UNGREETED_LINKS {
            return;
        }
        let oldest = self.links.iter().filter(|(_, it)| ungreeted(it)).min_by_key(|(_, it)| it.opened_at);
        let Some((link, gate)) = oldest.map(|(id, it)| (id.clone(), it.peer_id.clone())) else { return };
        out.logs.push(format!(
            "{MAX_UNGREETED_LINKS} connections are open that have not greeted: the oldest, from {gate}, was closed"
        ));
        let reason = Phrase::new(Code::ClosedCrowded).with(who(&gate));
        self.close(&link, reason, out);
    }

    pub fn contacts(&self) -> &ContactBook {
        &self.contacts
    }

    /// For the user's own changes (verified, forget); store the book after.
    pub fn contacts_mut(&mut self) -> &mut ContactBook {
        &mut self.contacts
    }

    /// True while a link to `peer_id` that the chat node knows proved the peer's pinned key.
    pub fn authenticated(&self, peer_id: &str) -> bool {
        self.links
            .values()
            .any(|it| it.peer_id == peer_id && it.admitted && matches!(it.standing, Standing::Verified(_)))
    }

    /// True while a link to `peer_id` is held for the user's decision (a changed key, or an unproved one).
    pub fn held(&self, peer_id: &str) -> bool {
        self.links
            .values()
            .any(|it| it.peer_id == peer_id && matches!(it.standing, Standing::KeyChanged(_) | Standing::Unproved(_)))
    }

    /// A new link; `random`: 32 fresh bytes for its handshake (`crate::entropy::Entropy::handshake`).
    pub fn link_up(&mut self, info: LinkInfo, random: [u8; 32], now: Millis) -> GateOutput {
        self.open(info, random, now, false)
    }

    /// A link that was open before the worker restarted (`EngineToWorker::Hello { links }`): the greeting
    /// starts over on it.
    pub fn link_resumed(&mut self, info: LinkInfo, random: [u8; 32], now: Millis) -> GateOutput {
        self.open(info, random, now, true)
    }

    fn open(&mut self, info: LinkInfo, random: [u8; 32], now: Millis, resumed: bool) -> GateOutput {
        let mut out = GateOutput::default();
        let LinkInfo { link, peer_id, metadata, outgoing, sessions } = info;
        self.refused.remove(&link);
        if let Some(user) = Username::from_peer_id(&peer_id).filter(|it| self.blocked.contains(it)) {
            // Nothing crosses it: no handshake, no hello, no frame to the chat node.
            out.logs.push(format!("refused a connection from {user}, whom the user blocked"));
            self.refused.insert(link.clone());
            let reason = Phrase::new(Code::RefusedBlocked).with(&user);
            out.close.push(Closing { link, peer_id, reason });
            return out;
        }
        if !outgoing {
            self.cap_ungreeted(&mut out);
        }
        let mut handshake = None;
        if let (Some(identity), Some(sessions)) = (self.identity.as_ref(), sessions.as_ref()) {
            let fingerprints = dtls_fingerprint(&sessions.local_sdp)
                .and_then(|local| Ok((local, dtls_fingerprint(&sessions.remote_sdp)?)));
            let (local_fingerprint, remote_fingerprint) = match fingerprints {
                Ok(pair) => pair,
                Err(err) => {
                    let who = who(&peer_id);
                    let reason = Phrase::new(Code::RefusedConnection).with(who).with(err);
                    self.refused.insert(link.clone());
                    out.close.push(Closing { link, peer_id, reason });
                    return out;
                }
            };
            let context = LinkContext {
                role: if outgoing { Role::Dialer } else { Role::Answerer },
                our_peer_id: self.me.peer_id(),
                their_peer_id: peer_id.clone(),
                local_fingerprint,
                remote_fingerprint,
            };
            handshake = Some(Handshake::new(identity, context, random));
        }
        let ours = wire::decode_metadata(&metadata).ours.is_some();
        let gate = GateLink {
            peer_id,
            metadata,
            outgoing,
            resumed,
            opened_at: now,
            awaiting_since: now,
            handshake,
            standing: Standing::Fresh,
            admitted: false,
            dialer_is_ours: !outgoing && ours,
            hello_sent: false,
            heard_hello: false,
            held_in: Vec::new(),
            held_out: Vec::new(),
        };
        let original_page = !outgoing && !ours;
        let greet = gate.dialer_is_ours || (resumed && !original_page);
        self.links.insert(link.clone(), gate);
        if original_page {
            // Only the original page (or a stock client) dials without our metadata.
            self.unproved(&link, Unproved::OriginalPage, now, &mut out);
        } else if greet {
            self.send_hello(&link, &mut out);
        }
        out
    }

    pub fn link_down(&mut self, link: &str) {
        self.links.remove(link);
        self.refused.remove(link);
    }

    /// When [`LinkGate::handle_timeout`] has work: the earliest hello or proof deadline.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.links.values().filter_map(|it| deadline(it, self.pinned(&it.peer_id))).min()
    }

    /// Links whose hello or proof did not come in time.
    pub fn handle_timeout(&mut self, now: Millis) -> GateOutput {
        let mut out = GateOutput::default();
        let expired: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, it)| deadline(it, self.pinned(&it.peer_id)).is_some_and(|at| at <= now))
            .map(|(link, _)| link.clone())
            .collect();
        for link in expired {
            let Some(gate) = self.links.get(&link) else { continue };
            let pinned = self.pinned(&gate.peer_id);
            let who = who(&gate.peer_id);
            match gate.standing {
                Standing::Fresh if gate.outgoing => self.unproved(&link, Unproved::OriginalPage, now, &mut out),
                Standing::Fresh if pinned => self.unproved(&link, Unproved::NoHello, now, &mut out),
                Standing::Fresh => {
                    let reason = Phrase::new(Code::ClosedNeverGreeted).with(&who);
                    self.close(&link, reason, &mut out);
                }
                Standing::AwaitingProof if pinned => self.unproved(&link, Unproved::NoProof, now, &mut out),
                _ => {
                    let replayed = gate.handshake.as_ref().is_some_and(Handshake::saw_foreign_proof);
                    let reason = if replayed {
                        Phrase::new(Code::RefusedReplayed).with(&who)
                    } else {
                        Phrase::new(Code::RefusedNeverProved).with(&who)
                    };
                    self.close(&link, reason, &mut out);
                }
            }
        }
        out
    }

    /// A frame the chat node wants to send: what to send now. Nothing on a link the chat node may not know,
    /// none of its hellos (the gate greets), and only liveness while the link is held.
    pub fn outbound(&mut self, link: &str, frame: Value) -> Vec<Value> {
        if self.refused.contains(link) {
            return Vec::new();
        }
        let Some(gate) = self.links.get_mut(link) else { return Vec::new() };
        if !gate.admitted || frame_type(&frame) == Some(HELLO) {
            return Vec::new();
        }
        if gate.standing.passes() || is_liveness(&frame) {
            return vec![frame];
        }
        hold(&mut gate.held_out, frame);
        Vec::new()
    }

    /// A frame from the peer.
    pub fn inbound(&mut self, link: &str, frame: Value, now: Millis) -> GateOutput {
        let mut out = GateOutput::default();
        if self.refused.contains(link) || !self.links.contains_key(link) {
            return out;
        }
        match frame_type(&frame) {
            Some(HELLO) => self.hello(link, frame, now, &mut out),
            Some(PROOF) => self.proof(link, &frame, now, &mut out),
            _ => self.other(link, frame, now, &mut out),
        }
        out
    }

    fn hello(&mut self, link: &str, frame: Value, now: Millis, out: &mut GateOutput) {
        let gate = self.links.get_mut(link).expect("checked by the caller");
        // As the chat node does: answer a first hello, and every later one (the peer restarted).
        let answer = !gate.hello_sent || gate.heard_hello;
        gate.heard_hello = true;
        let auth = frame.get("auth").filter(|it| !it.is_null());
        let step = gate.handshake.as_mut().map(|it| it.handle_hello(auth));
        match step {
            Some(Err(err)) => {
                let reason = Phrase::new(Code::RefusedUnverifiable).with(who(&gate.peer_id)).with(err);
                self.close(link, reason, out);
            }
            Some(Ok(Step::Send { proof, .. })) => {
                gate.standing = Standing::AwaitingProof;
                gate.awaiting_since = now;
                hold(&mut gate.held_in, frame);
                if answer {
                    self.send_hello(link, out);
                }
                out.send.push((link.to_owned(), proof));
            }
            Some(Ok(Step::Unsupported)) | None => {
                let admitted_unverified = gate.admitted && gate.standing == Standing::Unverified;
                if admitted_unverified {
                    out.to_chat.push((link.to_owned(), frame));
                } else {
                    hold(&mut gate.held_in, frame);
                }
                if answer {
                    self.send_hello(link, out);
                }
                if !admitted_unverified {
                    self.unproved(link, Unproved::NoHandshake, now, out);
                }
            }
            // A failed handshake ignores later frames; the link is being closed.
            Some(Ok(Step::Nothing | Step::Verified(_))) => {}
        }
    }

    fn proof(&mut self, link: &str, frame: &Value, now: Millis, out: &mut GateOutput) {
        let gate = self.links.get_mut(link).expect("checked by the caller");
        let Some(handshake) = gate.handshake.as_mut() else { return };
        match handshake.handle_proof(frame) {
            Err(err) => {
                let reason = Phrase::new(Code::RefusedUnverifiable).with(who(&gate.peer_id)).with(err);
                self.close(link, reason, out);
            }
            Ok(Step::Verified(key)) => self.verified(link, key, now, out),
            Ok(_) => {}
        }
    }

    fn other(&mut self, link: &str, frame: Value, now: Millis, out: &mut GateOutput) {
        let gate = self.links.get_mut(link).expect("checked by the caller");
        if gate.standing.passes() && gate.admitted {
            out.to_chat.push((link.to_owned(), frame));
            return;
        }
        if is_liveness(&frame) {
            if gate.admitted {
                out.to_chat.push((link.to_owned(), frame));
            } else if let Ok(Frame::Ping { n }) = wire::decode(&frame) {
                // The chat node does not know this link: the gate keeps it alive while it is held.
                out.send.push((link.to_owned(), wire::encode(&Frame::Pong { n })));
            }
            return;
        }
        let acts_as_original_page = gate.standing == Standing::Fresh
            && !gate.dialer_is_ours
            && matches!(
                wire::decode(&frame),
                Ok(Frame::Connections { .. }) | Ok(Frame::Chat(wire::ChatFrame { ours: None, .. }))
            );
        hold(&mut gate.held_in, frame);
        if acts_as_original_page {
            self.unproved(link, Unproved::OriginalPage, now, out);
        }
    }

    fn verified(&mut self, link: &str, key: PublicKey, now: Millis, out: &mut GateOutput) {
        let peer_id = self.links[link].peer_id.clone();
        let Some(username) = Username::from_peer_id(&peer_id) else {
            self.close(link, Phrase::new(Code::NotAMultichatUser).with(&peer_id), out);
            return;
        };
        let pending_before = self.contacts.get(&username).and_then(|it| it.pending_key.as_ref()).map(|it| it.key);
        let observation = self.contacts.observe(&username, key, now);
        out.contacts_changed = true;
        match observation {
            Observation::NewPinned | Observation::Known | Observation::Verified => {
                if observation == Observation::NewPinned {
                    out.first_contact.push(username);
                }
                self.links.get_mut(link).expect("checked above").standing = Standing::Verified(key);
                self.admit(link, out);
            }
            Observation::KeyChanged { new, .. } => {
                // Held, not closed: it may be the contact on a new install, and only the user can tell.
                let gate = self.links.get_mut(link).expect("checked above");
                gate.standing = Standing::KeyChanged(new);
                if gate.outgoing && !gate.admitted {
                    out.dial_failed.push(peer_id);
                }
                let first_time = pending_before != Some(new);
                out.alerts.push(Alert { username, kind: AlertKind::KeyChanged { new }, first_time });
            }
            Observation::Rejected => {
                self.close(link, Phrase::new(Code::UsesRejectedKey).with(&username), out);
            }
        }
    }

    /// `link` did not prove a key (`how`): a stranger chats unverified; a contact's link is held, allowed or
    /// closed as the user decided.
    fn unproved(&mut self, link: &str, how: Unproved, now: Millis, out: &mut GateOutput) {
        let peer_id = self.links[link].peer_id.clone();
        let username = Username::from_peer_id(&peer_id);
        if self.identity.is_none() || self.links[link].handshake.is_none() {
            // This side cannot verify anyone (no identity key, or an engine that reports no descriptions):
            // nothing the peer did, so no alert; the member shows unverified.
            if let Some(user) = username.as_ref().filter(|it| self.contacts.get(it).is_some()) {
                out.warnings.push((peer_id, unverified_phrase(user)));
            }
            self.links.get_mut(link).expect("checked above").standing = Standing::Unverified;
            self.admit(link, out);
            return;
        }
        let Some(username) = username else {
            // Not a multichat id: the chat node refuses it itself.
            self.links.get_mut(link).expect("checked above").standing = Standing::Unverified;
            self.admit(link, out);
            return;
        };
        match self.contacts.observe_unproved(&username, how, now) {
            UnprovedOutcome::Stranger => {
                self.links.get_mut(link).expect("checked above").standing = Standing::Unverified;
                self.admit(link, out);
            }
            UnprovedOutcome::Allowed => self.allow(link, &username, out),
            UnprovedOutcome::Blocked => {
                let reason = Phrase::new(Code::ClosedUnprovedBlocked).with(&username);
                self.close(link, reason, out);
            }
            UnprovedOutcome::Held { first_time } => {
                out.contacts_changed = true;
                let gate = self.links.get_mut(link).expect("checked above");
                gate.standing = Standing::Unproved(how);
                if gate.outgoing && !gate.admitted {
                    out.dial_failed.push(peer_id.clone());
                }
                out.alerts.push(Alert { username, kind: AlertKind::Unproved(how), first_time });
                // One held unproved link per peer is enough to show; older ones are closed.
                let older: Vec<LinkId> = self
                    .links
                    .iter()
                    .filter(|(id, it)| {
                        id.as_str() != link
                            && it.peer_id == peer_id
                            && !it.admitted
                            && matches!(it.standing, Standing::Unproved(_))
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in older {
                    self.close(&id, Code::ReplacedUnproved.into(), out);
                }
            }
        }
    }

    /// Lets an unproved link of a contact the user allowed chat, unverified, unless a proved link to that
    /// contact is open: an unproved link never displaces a proved one.
    fn allow(&mut self, link: &str, username: &Username, out: &mut GateOutput) {
        let peer_id = username.peer_id();
        let proved_open = self.links.iter().any(|(id, it)| {
            id.as_str() != link && it.peer_id == peer_id && it.admitted && matches!(it.standing, Standing::Verified(_))
        });
        if proved_open {
            let reason = Phrase::new(Code::ClosedUnprovedWhileVerified).with(username);
            self.close(link, reason, out);
            return;
        }
        self.links.get_mut(link).expect("checked by the caller").standing = Standing::Unverified;
        out.warnings.push((peer_id, unverified_phrase(username)));
        self.admit(link, out);
    }

    /// The chat node may learn of `link` now (if it does not know it yet), then gets what it held.
    fn admit(&mut self, link: &str, out: &mut GateOutput) {
        let gate = self.links.get_mut(link).expect("checked by the caller");
        if !gate.admitted {
            gate.admitted = true;
            out.to_chat_link_up.push(ChatLinkUp {
                link: link.to_owned(),
                peer_id: gate.peer_id.clone(),
                metadata: gate.metadata.clone(),
                outgoing: gate.outgoing,
                resumed: gate.resumed,
            });
        }
        out.send.extend(gate.held_out.drain(..).map(|it| (link.to_owned(), it)));
        out.to_chat.extend(gate.held_in.drain(..).map(|it| (link.to_owned(), it)));
    }

    fn send_hello(&mut self, link: &str, out: &mut GateOutput) {
        let gate = self.links.get_mut(link).expect("checked by the caller");
        gate.hello_sent = true;
        let hello = Hello {
            version: wire::PROTOCOL_VERSION,
            user: self.me.clone(),
            capabilities: wire::OUR_CAPABILITIES.iter().map(|it| (*it).to_owned()).collect(),
            auth: gate.handshake.as_ref().map(Handshake::auth_field),
            session: Some(self.session.0),
        };
        out.send.push((link.to_owned(), wire::encode(&Frame::Hello(hello))));
    }

    fn close(&mut self, link: &str, reason: Phrase, out: &mut GateOutput) {
        let Some(gate) = self.links.remove(link) else { return };
        self.refused.insert(link.to_owned());
        let held_before = matches!(gate.standing, Standing::KeyChanged(_) | Standing::Unproved(_));
        if gate.outgoing && !gate.admitted && !held_before {
            out.dial_failed.push(gate.peer_id.clone());
        }
        out.close.push(Closing { link: link.to_owned(), peer_id: gate.peer_id, reason });
    }

    fn pinned(&self, peer_id: &str) -> bool {
        Username::from_peer_id(peer_id).is_some_and(|it| self.contacts.get(&it).is_some())
    }

    /// The user accepts `username`'s new `key`: it is pinned, and every link held for it goes to the chat
    /// node with what it held.
    pub fn accept_new_key(
        &mut self,
        username: &Username,
        key: &PublicKey,
        now: Millis,
    ) -> Result<GateOutput, ContactError> {
        self.contacts.accept_new_key(username, key, now)?;
        let mut out = GateOutput { contacts_changed: true, ..GateOutput::default() };
        for link in self.links_of(username, |it| *it == Standing::KeyChanged(*key)) {
            self.links.get_mut(&link).expect("listed above").standing = Standing::Verified(*key);
            self.admit(&link, &mut out);
        }
        Ok(out)
    }

    /// The user rejects `username`'s new `key`: it is refused from now on, and every link held for it is
    /// closed with what it held.
    pub fn reject_new_key(&mut self, username: &Username, key: &PublicKey) -> Result<GateOutput, ContactError> {
        self.contacts.reject_new_key(username, key)?;
        let mut out = GateOutput { contacts_changed: true, ..GateOutput::default() };
        for link in self.links_of(username, |it| *it == Standing::KeyChanged(*key)) {
            let reason = Phrase::new(Code::RejectedKey).with(username);
            self.close(&link, reason, &mut out);
        }
        Ok(out)
    }

    /// "Allow unverified for this contact": links for `username` that do not prove the pinned key chat,
    /// marked unverified (while no proved link is open), now and after restarts. Clears the alert.
    pub fn allow_unverified(&mut self, username: &Username) -> Result<GateOutput, ContactError> {
        self.contacts.allow_unverified(username)?;
        let mut out = GateOutput { contacts_changed: true, ..GateOutput::default() };
        for link in self.links_of(username, |it| matches!(it, Standing::Unproved(_))) {
            self.allow(&link, username, &mut out);
        }
        Ok(out)
    }

    /// "Block": links for `username` that do not prove the pinned key are closed, now and after restarts.
    /// Clears the alert; a link that proves the pinned key still chats.
    pub fn block_unverified(&mut self, username: &Username) -> Result<GateOutput, ContactError> {
        self.contacts.block_unverified(username)?;
        let mut out = GateOutput { contacts_changed: true, ..GateOutput::default() };
        for link in self.links_of(username, |it| matches!(it, Standing::Unproved(_))) {
            let reason = Phrase::new(Code::BlockedUnproved).with(username);
            self.close(&link, reason, &mut out);
        }
        Ok(out)
    }

    fn links_of(&self, username: &Username, standing: impl Fn(&Standing) -> bool) -> Vec<LinkId> {
        let peer_id = username.peer_id();
        self.links
            .iter()
            .filter(|(_, it)| it.peer_id == peer_id && standing(&it.standing))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// When `gate` must have greeted or proved. `pinned`: its username has a pinned key, so it spoke multichat
/// before; a link we dialed to it gets the full hello deadline (a busy worker may answer late) before its
/// silence is taken for the original page's, which raises an alert.
fn deadline(gate: &GateLink, pinned: bool) -> Option<Millis> {
    match gate.standing {
        Standing::Fresh if gate.outgoing && !pinned => Some(gate.opened_at.saturating_add(ORIGINAL_PAGE_GRACE_MS)),
        Standing::Fresh => Some(gate.opened_at.saturating_add(HELLO_DEADLINE_MS)),
        Standing::AwaitingProof => Some(gate.awaiting_since.saturating_add(HANDSHAKE_TIMEOUT_MS)),
        Standing::Verified(_) | Standing::KeyChanged(_) | Standing::Unproved(_) | Standing::Unverified => None,
    }
}

fn who(peer_id: &str) -> String {
    Username::from_peer_id(peer_id).map_or_else(|| peer_id.to_owned(), |it| it.to_string())
}

fn frame_type(frame: &Value) -> Option<&str> {
    frame.get("type").and_then(Value::as_str)
}

fn is_liveness(frame: &Value) -> bool {
    frame_type(frame).is_some_and(|it| LIVENESS.contains(&it))
}

fn hold(held: &mut Vec<Value>, frame: Value) {
    if held.len() >= MAX_HELD {
        held.remove(0);
    }
    held.push(frame);
}
