//! The chat layer: the protocol peers speak over PeerJS data connections, the room model, and the
//! storage schema for history. Sans-IO like the rest of the core.
//!
//! It sits above `crate::peerjs` and sees only links: a link comes up (peer id, dial metadata, who
//! dialed), carries JSON values, and goes down. [`node::ChatNode`] is the engine; the other modules are its
//! parts: [`wire`] (frames and their validation, compatible with the original peerjs-multichat page),
//! [`room`] (direct and group rooms, membership, views), [`actions`] (replies, reactions, edits and
//! deletes) and [`fold`] (them applied to their targets), [`history`] (paged history in storage),
//! [`pending`] (message requests, waiting invitations and blocks, as stored) and
//! [`ids`], [`signing`] (what an author signs, and the signature) and [`names`] (names cleaned for
//! display). It is not the PeerJS protocol, not the worker, and not the identity handshake of issue 5
//! (`crate::auth_gate` runs it below the node; the worker hands the node each key a link proved).

pub mod actions;
pub mod fold;
pub mod history;
pub mod ids;
pub mod names;
pub mod node;
pub mod pending;
pub mod room;
pub mod signing;
pub mod wire;

pub use history::{DeliveryState, HistoryError, StoredMessage};
pub use ids::{LinkId, MessageId, RoomId};
pub use node::{ChatError, ChatEvent, ChatNode, Command, DropReason, Input, Output};
pub use room::{Invitation, RoomView, RoomsRecord};
pub use signing::Signature;
