//! The gate between the engine's links and the chat node: it runs the identity handshake
//! ([`crate::identity`]) on every link and decides when the chat node may learn of a link at all.
//!
//! [`LinkGate`] (issue 12) is the gate: a link reaches the chat node only once it proved its username's
//! pinned key, or once it is accepted as unverified (first contact, the original page of a stranger, or a
//! contact the user allowed); until then nothing but the handshake passes either way. A blocked username's
//! links are closed as they come up, and links that have not greeted are capped ([`MAX_UNGREETED_LINKS`]).

mod link_gate;
mod notices;

pub use link_gate::{
    Alert, AlertKind, ChatLinkUp, Closing, GateOutput, HELLO_DEADLINE_MS, LinkGate, MAX_UNGREETED_LINKS,
    ORIGINAL_PAGE_GRACE_MS,
};
pub use notices::{
    first_contact_notice, first_contact_phrase, unproved_phrase, unproved_warning, unverified_phrase,
    unverified_warning,
};
