//! The PeerJS client protocol, sans-IO: wire-compatible with the stock `peerjs` 1.5 client, with the
//! 1.0-1.4 clients' `json` frames (the original peerjs-multichat page loads 1.2.0), and with the official
//! `peer` 1.0 server (see `../shared/notes/peerjs-protocol.md` for the observed protocol).
//!
//! - [`signal`]: the signaling server's URL and frames, ids, tokens.
//! - [`peer`]: the state machine of one peer: registration, heartbeats, reconnects, every data connection;
//!   [`peer_io`]: its configuration, inputs, outputs, events and errors.
//! - [`framing`]: what a data connection puts on its channel for each serialization (`json`, `binary`, `raw`).
//! - [`binarypack`]: PeerJS's MessagePack variant, used by the `binary` serialization.

pub mod binarypack;
pub mod framing;
pub mod peer;
pub mod peer_io;
pub mod signal;

pub use framing::{ChannelMessage, JsonFrames, Serialization};
pub use peer::{
    ConnectionId, DialOptions, IceState, Input, Output, Peer, PeerConfig, PeerError, PeerEvent, RateLimit, Role,
    SignalingState,
};
