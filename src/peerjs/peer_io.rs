//! What goes into a [`Peer`](super::peer::Peer) and what comes out: its configuration, the shell's inputs,
//! the outputs the shell carries out, and the events and errors its user sees.

use serde_json::Value;

use super::framing::{ChannelMessage, DecoderLimits, Serialization};
use super::signal::SessionDescription;
use crate::settings::{IceServer, IceTransportPolicy, SignalingServer};
use crate::time::Millis;

/// Who we are on which server.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerConfig {
    pub id: String,
    /// Proves to the server that a reconnecting socket is still us.
    pub token: String,
    pub server: SignalingServer,
    pub ice_servers: Vec<IceServer>,
    /// `Relay` when the user hides their IP address from peers (Settings, "Relay only").
    pub ice_transport_policy: IceTransportPolicy,
    /// The most a peer may make one connection hold (chunked messages in reassembly).
    pub limits: DecoderLimits,
    /// How fast a peer may send on one connection; messages beyond it are dropped unread.
    pub rate: RateLimit,
}

/// A token bucket per connection, counted in data-channel messages at arrival (so a busy receiver does not
/// stretch it): `burst` at once, then `per_second`. Over it, messages are dropped before they are decoded,
/// and the connection is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u64,
    pub burst: u64,
}

impl Default for RateLimit {
    /// No limit (a plain PeerJS client); the extension's engine sets one.
    fn default() -> RateLimit {
        RateLimit { per_second: u64::MAX, burst: u64::MAX }
    }
}

/// How the signaling connection is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum SignalingState {
    Connecting,
    Online,
    /// Not connected; the next attempt is at `retry_at`. `error` says why we are not online.
    Retrying {
        attempt: u32,
        error: PeerError,
        retry_at: Millis,
    },
    Destroyed,
}

/// Errors the user may see. The texts are written for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error(
        "This username is in use on the signaling server, by someone else or by this account in another browser. multichat keeps trying; choose another username if it stays taken."
    )]
    IdTaken,
    #[error("The signaling server refused the connection: {0}. Check the server settings.")]
    ServerRefused(String),
    #[error(
        "Cannot reach the signaling server at {0}. Check the server settings and your network; multichat keeps trying."
    )]
    ServerUnreachable(String),
    #[error("Lost the connection to the signaling server; reconnecting. Open chats stay connected.")]
    NetworkLost,
    #[error("The id {0:?} cannot be used with PeerJS (letters and digits, joined by single spaces, - or _).")]
    InvalidId(String),
    #[error("{0} is not online right now.")]
    PeerUnavailable(String),
    #[error("Could not set up a direct connection to {0}. A TURN server in the settings may help on strict networks.")]
    IceFailed(String),
    #[error("{0} stopped responding.")]
    PeerGone(String),
    #[error("{0} closed the connection.")]
    ClosedByPeer(String),
    #[error("The connection is not open.")]
    NotOpen,
    #[error("Too many connections are open at once.")]
    TooManyConnections,
    #[error("The message could not be sent: {0}")]
    Framing(String),
}

/// A data connection's id (`dc_…`), unique per connection.
pub type ConnectionId = String;

/// How to dial.
#[derive(Clone, Debug, PartialEq)]
pub struct DialOptions {
    pub metadata: Value,
    pub serialization: Serialization,
    /// Ordered delivery (PeerJS's `reliable`).
    pub reliable: bool,
}

impl Default for DialOptions {
    fn default() -> DialOptions {
        DialOptions { metadata: Value::Null, serialization: Serialization::Json, reliable: true }
    }
}

/// What ICE reports about one connection, reduced to what matters to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    Working,
    Disconnected,
    Failed,
}

/// What happened in the shell.
#[derive(Debug)]
pub enum Input {
    SocketOpened,
    SocketText(String),
    /// The socket closed or failed to open.
    SocketClosed,
    /// The browser says the network came back: skip the backoff.
    NetworkOnline,
    /// The connection's local description is set; send it to the other side.
    LocalDescription {
        connection: ConnectionId,
        sdp: SessionDescription,
    },
    LocalCandidate {
        connection: ConnectionId,
        candidate: Value,
    },
    ChannelOpen {
        connection: ConnectionId,
    },
    ChannelMessage {
        connection: ConnectionId,
        message: ChannelMessage,
    },
    ChannelClosed {
        connection: ConnectionId,
    },
    Ice {
        connection: ConnectionId,
        state: IceState,
    },
    /// Creating the peer connection or applying a description failed.
    RtcError {
        connection: ConnectionId,
        message: String,
    },
}

/// What the shell must do, or tell its user.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    OpenSocket {
        url: String,
    },
    CloseSocket,
    SendSocket {
        text: String,
    },
    /// Create an `RTCPeerConnection` for `connection` with these ICE servers and policy. As the dialer, create the
    /// data channel (`label`, `ordered: reliable`) and an offer; as the answerer, apply `remote_offer`
    /// and create an answer. Report the local description and candidates back.
    CreateConnection {
        connection: ConnectionId,
        ice_servers: Vec<IceServer>,
        ice_transport_policy: IceTransportPolicy,
        role: Role,
    },
    SetRemoteAnswer {
        connection: ConnectionId,
        sdp: SessionDescription,
    },
    AddRemoteCandidate {
        connection: ConnectionId,
        candidate: Value,
    },
    SendChannel {
        connection: ConnectionId,
        message: ChannelMessage,
    },
    /// Close and forget the peer connection.
    CloseConnection {
        connection: ConnectionId,
    },
    Event(PeerEvent),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    Dialer { label: String, reliable: bool },
    Answerer { remote_offer: SessionDescription },
}

#[derive(Clone, Debug, PartialEq)]
pub enum PeerEvent {
    Signaling(SignalingState),
    ConnectionOpen {
        connection: ConnectionId,
        peer: String,
        metadata: Value,
        outgoing: bool,
        serialization: Serialization,
    },
    Data {
        connection: ConnectionId,
        value: Value,
    },
    /// Raw bytes of ours on a `json` connection ([`super::framing::Received::Bytes`]: a file chunk).
    Bytes {
        connection: ConnectionId,
        bytes: Vec<u8>,
    },
    /// A connection ended; if it never opened, this is a failed dial (or a failed incoming attempt).
    ConnectionClosed {
        connection: ConnectionId,
        peer: String,
        outgoing: bool,
        was_open: bool,
        error: Option<PeerError>,
    },
    /// Remote input we ignored, with why; for logs.
    Ignored {
        reason: String,
    },
}
