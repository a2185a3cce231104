//! One PeerJS peer, sans-IO: the signaling connection and every data connection, as a state machine.
//!
//! The shell owns a WebSocket and one `RTCPeerConnection` per data connection (as PeerJS does). It feeds
//! what happens to them into [`Peer::handle`], calls [`Peer::handle_timeout`] at [`Peer::poll_timeout`],
//! and carries out every [`Output`] from [`Peer::poll_output`]. The peer never touches a socket, a clock or
//! a random source: time comes in as [`Millis`], randomness as bytes.
//!
//! Differences from the stock client, on purpose:
//! - signaling messages written while the socket is down wait in a bounded queue instead of being dropped;
//! - losing the server reconnects with backoff and the same token, so the id is ours again at once;
//! - a data connection whose ICE stays `disconnected` for [`ICE_GRACE_MS`] is closed, so a vanished peer is
//!   noticed in about 7 s (Chrome reports `disconnected` ~5 s after the last consent check) instead of 15-35 s;
//! - a `json` connection writes the frames its peer's release reads ([`JsonFrames`]), told by the `browser`
//!   field of the peer's OFFER or ANSWER and confirmed by every frame the peer writes, so PeerJS 1.0-1.4
//!   peers get text frames and 1.5 peers binary ones. Both are known before the channel opens, so nothing
//!   is ever sent in frames the peer cannot read.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use super::framing::{
    ChannelMessage, Decoder, DecoderLimits, Encoder, FramingError, JsonFrames, Received, Serialization,
};
pub use super::peer_io::{
    ConnectionId, DialOptions, IceState, Input, Output, PeerConfig, PeerError, PeerEvent, RateLimit, Role,
    SignalingState,
};
use super::signal::{self, ClientMessage, Offer, ServerMessage, SessionDescription};
use crate::time::Millis;

/// The stock client's heartbeat period; the official server drops a client silent for 60 s.
pub const HEARTBEAT_EVERY_MS: u64 = 5_000;
/// How long the socket may take to open and be answered before we try again.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// After the socket opens we wait this long for OPEN. With a token the server already knows (we reconnect
/// faster than it noticed the old socket die) it silently takes the new socket and sends nothing, so
/// silence without an error means we are registered.
pub const OPEN_GRACE_MS: u64 = 1_500;
pub const BACKOFF_FIRST_MS: u64 = 1_000;
pub const BACKOFF_MAX_MS: u64 = 30_000;
/// When the id is taken we retry slowly: the holder may be our own previous session, which the server
/// forgets once its heartbeats stop (60 s on the official server).
pub const ID_TAKEN_RETRY_MS: u64 = 15_000;
/// A data connection that is not open after this long has failed (no route, ICE failure, a peer that
/// never answers).
pub const NEGOTIATION_TIMEOUT_MS: u64 = 20_000;
/// How long ICE may stay `disconnected` before we give the connection up.
pub const ICE_GRACE_MS: u64 = 2_000;
/// Signaling messages kept while the server is unreachable.
const MAX_QUEUED_SIGNALS: usize = 512;
/// CANDIDATE messages kept for connections whose OFFER has not arrived yet.
const MAX_EARLY_CONNECTIONS: usize = 64;
const MAX_EARLY_PER_CONNECTION: usize = 32;
/// Data connections at once; a flood of OFFERs must not exhaust the browser.
pub const MAX_CONNECTIONS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Socket {
    /// No socket; open one at the instant (the start, or the end of a backoff).
    Idle {
        at: Millis,
    },
    /// Asked the shell for a socket at `since`.
    Opening {
        since: Millis,
    },
    /// The socket is open since `since`; waiting for OPEN.
    Registering {
        since: Millis,
    },
    Open,
    Destroyed,
}

struct Connection {
    peer: String,
    outgoing: bool,
    metadata: Value,
    serialization: Serialization,
    label: String,
    reliable: bool,
    open: bool,
    started: Millis,
    description_sent: bool,
    /// Candidates gathered before our description went out; the other side needs the description first.
    held_candidates: Vec<Value>,
    ice_disconnected_at: Option<Millis>,
    /// The SDP we sent and the one we applied; the identity handshake reads their DTLS fingerprints.
    local_sdp: Option<String>,
    remote_sdp: Option<String>,
    encoder: Encoder,
    decoder: Decoder,
    /// The rate limit's bucket, in thousandths of a message, as of `credit_at`.
    credit: u64,
    credit_at: Millis,
    /// Messages are being dropped for rate; reported once per episode.
    rate_limited: bool,
}

pub struct Peer {
    config: PeerConfig,
    socket: Socket,
    state: SignalingState,
    attempt: u32,
    /// Why the last socket ended; the error shown while retrying.
    last_error: Option<PeerError>,
    next_heartbeat: Option<Millis>,
    queued: VecDeque<ClientMessage>,
    connections: BTreeMap<ConnectionId, Connection>,
    /// Candidates that arrived before their OFFER (the server may reorder across reconnects).
    early: BTreeMap<ConnectionId, (String, Vec<Value>)>,
    outputs: VecDeque<Output>,
}

impl Peer {
    /// A peer that will register `config.id` on the first [`Peer::handle_timeout`] (or at once, through
    /// [`Peer::poll_output`]).
    pub fn new(config: PeerConfig, now: Millis) -> Result<Peer, PeerError> {
        if config.id.is_empty() || !signal::is_valid_peer_id(&config.id) {
            return Err(PeerError::InvalidId(config.id));
        }
        let mut peer = Peer {
            config,
            socket: Socket::Idle { at: now },
            state: SignalingState::Connecting,
            attempt: 0,
            last_error: None,
            next_heartbeat: None,
            queued: VecDeque::new(),
            connections: BTreeMap::new(),
            early: BTreeMap::new(),
            outputs: VecDeque::new(),
        };
        peer.open_socket(now);
        Ok(peer)
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn state(&self) -> &SignalingState {
        &self.state
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Open connections and the peers they reach: `(connection, peer, metadata, outgoing)`.
    pub fn open_connections(&self) -> impl Iterator<Item = (&ConnectionId, &str, &Value, bool)> {
        self.connections
            .iter()
            .filter(|(_, it)| it.open)
            .map(|(id, it)| (id, it.peer.as_str(), &it.metadata, it.outgoing))
    }

    /// The (local, remote) SDP of a connection, once both are known.
    pub fn session_descriptions(&self, connection: &str) -> Option<(&str, &str)> {
        let conn = self.connections.get(connection)?;
        Some((conn.local_sdp.as_deref()?, conn.remote_sdp.as_deref()?))
    }

    /// The frames a connection writes `json` values in, as far as the peer has told (see [`JsonFrames`]).
    pub fn json_frames(&self, connection: &str) -> Option<JsonFrames> {
        Some(self.connections.get(connection)?.encoder.json_frames())
    }

    /// Starts a data connection to `peer`. `random` makes the connection id.
    pub fn connect(
        &mut self,
        peer: &str,
        options: DialOptions,
        random: &[u8; 10],
        now: Millis,
    ) -> Result<ConnectionId, PeerError> {
        if peer.is_empty() || !signal::is_valid_peer_id(peer) {
            return Err(PeerError::InvalidId(peer.to_owned()));
        }
        if self.connections.len() >= MAX_CONNECTIONS {
            return Err(PeerError::TooManyConnections);
        }
        let id = signal::connection_id(random);
        let label = id.clone();
        self.connections.insert(
            id.clone(),
            Connection::new(
                peer.to_owned(),
                true,
                options.metadata,
                options.serialization,
                label.clone(),
                options.reliable,
                now,
                self.config.limits,
                self.config.rate,
            ),
        );
        self.outputs.push_back(Output::CreateConnection {
            connection: id.clone(),
            ice_servers: self.config.ice_servers.clone(),
            ice_transport_policy: self.config.ice_transport_policy,
            role: Role::Dialer { label, reliable: options.reliable },
        });
        Ok(id)
    }

    /// Sends one value on an open connection.
    pub fn send(&mut self, connection: &str, value: &Value) -> Result<(), PeerError> {
        let conn = self.connections.get_mut(connection).filter(|it| it.open).ok_or(PeerError::NotOpen)?;
        let messages = conn.encoder.encode(value).map_err(|err| PeerError::Framing(err.to_string()))?;
        for message in messages {
            self.outputs.push_back(Output::SendChannel { connection: connection.to_owned(), message });
        }
        Ok(())
    }

    /// Sends raw bytes (a file chunk) on a `json` connection whose peer reads binary frames
    /// ([`Encoder::encode_bytes`]).
    pub fn send_bytes(&mut self, connection: &str, bytes: Vec<u8>) -> Result<(), PeerError> {
        let conn = self.connections.get_mut(connection).filter(|it| it.open).ok_or(PeerError::NotOpen)?;
        let message = conn.encoder.encode_bytes(bytes).map_err(|err| PeerError::Framing(err.to_string()))?;
        self.outputs.push_back(Output::SendChannel { connection: connection.to_owned(), message });
        Ok(())
    }

    /// Closes a connection: says goodbye the PeerJS way (`__peerData: close`) if it is open.
    pub fn close(&mut self, connection: &str) {
        if let Some(conn) = self.connections.get_mut(connection)
            && conn.open
        {
            for message in conn.encoder.encode_close() {
                self.outputs.push_back(Output::SendChannel { connection: connection.to_owned(), message });
            }
        }
        self.drop_connection(connection, None);
    }

    /// Leaves the server and closes everything. The peer is finished afterwards.
    pub fn destroy(&mut self) {
        let ids: Vec<ConnectionId> = self.connections.keys().cloned().collect();
        for id in ids {
            self.close(&id);
        }
        if !matches!(self.socket, Socket::Idle { .. } | Socket::Destroyed) {
            self.outputs.push_back(Output::CloseSocket);
        }
        self.socket = Socket::Destroyed;
        self.queued.clear();
        self.next_heartbeat = None;
        self.set_state(SignalingState::Destroyed);
    }

    pub fn handle(&mut self, input: Input, now: Millis) {
        if self.socket == Socket::Destroyed {
            return;
        }
        match input {
            Input::SocketOpened => {
                if let Socket::Opening { .. } = self.socket {
                    self.socket = Socket::Registering { since: now };
                    self.next_heartbeat = Some(now.saturating_add(HEARTBEAT_EVERY_MS));
                }
            }
            Input::SocketText(text) => self.server_text(&text, now),
            Input::SocketClosed => self.socket_lost(now),
            Input::NetworkOnline => {
                if let Socket::Idle { at } = self.socket
                    && at > now
                {
                    self.socket = Socket::Idle { at: now };
                    self.handle_timeout(now);
                }
            }
            Input::LocalDescription { connection, sdp } => self.local_description(connection, sdp),
            Input::LocalCandidate { connection, candidate } => {
                let Some(conn) = self.connections.get_mut(&connection) else { return };
                if conn.description_sent {
                    let dst = conn.peer.clone();
                    self.signal(ClientMessage::Candidate { dst, connection, candidate });
                } else if conn.held_candidates.len() < MAX_EARLY_PER_CONNECTION {
                    conn.held_candidates.push(candidate);
                }
            }
            Input::ChannelOpen { connection } => {
                let Some(conn) = self.connections.get_mut(&connection) else { return };
                if conn.open {
                    return;
                }
                conn.open = true;
                let event = PeerEvent::ConnectionOpen {
                    connection,
                    peer: conn.peer.clone(),
                    metadata: conn.metadata.clone(),
                    outgoing: conn.outgoing,
                    serialization: conn.serialization,
                };
                self.event(event);
            }
            Input::ChannelMessage { connection, message } => self.channel_message(connection, message, now),
            Input::ChannelClosed { connection } => {
                let error = self.connections.get(&connection).map(|it| {
                    if it.open {
                        PeerError::ClosedByPeer(it.peer.clone())
                    } else {
                        PeerError::IceFailed(it.peer.clone())
                    }
                });
                self.drop_connection(&connection, error);
            }
            Input::Ice { connection, state } => {
                let Some(conn) = self.connections.get_mut(&connection) else { return };
                match state {
                    IceState::Working => conn.ice_disconnected_at = None,
                    IceState::Disconnected => {
                        conn.ice_disconnected_at.get_or_insert(now);
                    }
                    IceState::Failed => {
                        let error = if conn.open {
                            PeerError::PeerGone(conn.peer.clone())
                        } else {
                            PeerError::IceFailed(conn.peer.clone())
                        };
                        self.drop_connection(&connection, Some(error));
                    }
                }
            }
            Input::RtcError { connection, message } => {
                let Some(conn) = self.connections.get(&connection) else { return };
                let peer = conn.peer.clone();
                self.event(PeerEvent::Ignored {
                    reason: format!("WebRTC error on the connection to {peer}: {message}"),
                });
                self.drop_connection(&connection, Some(PeerError::IceFailed(peer)));
            }
        }
    }

    /// The earliest instant [`Peer::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let socket = match self.socket {
            Socket::Idle { at } => Some(at),
            Socket::Opening { since } => Some(since.saturating_add(CONNECT_TIMEOUT_MS)),
            Socket::Registering { since } => Some(since.saturating_add(OPEN_GRACE_MS)),
            Socket::Open | Socket::Destroyed => None,
        };
        let connections = self.connections.values().filter_map(|it| {
            let negotiation = (!it.open).then(|| it.started.saturating_add(NEGOTIATION_TIMEOUT_MS));
            let ice = it.ice_disconnected_at.map(|at| at.saturating_add(ICE_GRACE_MS));
            [negotiation, ice].into_iter().flatten().min()
        });
        [socket, self.next_heartbeat].into_iter().flatten().chain(connections).min()
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        match self.socket {
            Socket::Idle { at } if at <= now => self.open_socket(now),
            Socket::Opening { since } if since.saturating_add(CONNECT_TIMEOUT_MS) <= now => {
                self.outputs.push_back(Output::CloseSocket);
                self.last_error = Some(PeerError::ServerUnreachable(signal::display_address(&self.config.server)));
                self.socket_lost(now);
            }
            Socket::Registering { since } if since.saturating_add(OPEN_GRACE_MS) <= now => self.registered(),
            _ => {}
        }
        if let Some(at) = self.next_heartbeat
            && at <= now
        {
            self.outputs.push_back(Output::SendSocket { text: ClientMessage::Heartbeat.to_text() });
            self.next_heartbeat = Some(now.saturating_add(HEARTBEAT_EVERY_MS));
        }
        let expired: Vec<(ConnectionId, PeerError)> = self
            .connections
            .iter()
            .filter_map(|(id, it)| {
                if !it.open && it.started.saturating_add(NEGOTIATION_TIMEOUT_MS) <= now {
                    return Some((id.clone(), PeerError::IceFailed(it.peer.clone())));
                }
                let gone = it.ice_disconnected_at.is_some_and(|at| at.saturating_add(ICE_GRACE_MS) <= now);
                gone.then(|| (id.clone(), PeerError::PeerGone(it.peer.clone())))
            })
            .collect();
        for (id, error) in expired {
            self.drop_connection(&id, Some(error));
        }
    }

    fn open_socket(&mut self, now: Millis) {
        self.socket = Socket::Opening { since: now };
        let url = signal::socket_url(&self.config.server, &self.config.id, &self.config.token);
        self.outputs.push_back(Output::OpenSocket { url });
    }

    fn registered(&mut self) {
        self.socket = Socket::Open;
        self.attempt = 0;
        self.last_error = None;
        self.set_state(SignalingState::Online);
        while let Some(message) = self.queued.pop_front() {
            self.outputs.push_back(Output::SendSocket { text: message.to_text() });
        }
    }

    /// The socket is gone (closed by the server, the network, or our timeout): back off and retry.
    fn socket_lost(&mut self, now: Millis) {
        let delay = match self.socket {
            Socket::Destroyed | Socket::Idle { .. } => return,
            Socket::Open => {
                self.last_error.get_or_insert(PeerError::NetworkLost);
                0
            }
            Socket::Opening { .. } | Socket::Registering { .. } => {
                self.last_error
                    .get_or_insert_with(|| PeerError::ServerUnreachable(signal::display_address(&self.config.server)));
                backoff(self.attempt)
            }
        };
        let delay = if self.last_error == Some(PeerError::IdTaken) { ID_TAKEN_RETRY_MS } else { delay };
        self.attempt = self.attempt.saturating_add(1);
        self.next_heartbeat = None;
        let retry_at = now.saturating_add(delay);
        self.socket = Socket::Idle { at: retry_at };
        let error = self.last_error.take().unwrap_or(PeerError::NetworkLost);
        self.set_state(SignalingState::Retrying { attempt: self.attempt, error, retry_at });
    }

    fn server_text(&mut self, text: &str, now: Millis) {
        let message = match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(err) => {
                self.event(PeerEvent::Ignored { reason: format!("signaling server: {err}") });
                return;
            }
        };
        match message {
            ServerMessage::Open => {
                if matches!(self.socket, Socket::Registering { .. } | Socket::Opening { .. }) {
                    self.registered();
                }
            }
            ServerMessage::IdTaken => self.refused(PeerError::IdTaken, now),
            ServerMessage::Error { message } => self.refused(PeerError::ServerRefused(message), now),
            ServerMessage::Offer { src, offer } => self.offer(src, offer, now),
            ServerMessage::Answer { src, connection, sdp, browser } => match self.connections.get(&connection) {
                Some(conn) if conn.peer == src && conn.outgoing => {
                    if let Some(conn) = self.connections.get_mut(&connection) {
                        conn.remote_sdp = Some(sdp.sdp.clone());
                        conn.encoder.set_json_frames(JsonFrames::from_browser_field(browser.as_deref()));
                    }
                    self.outputs.push_back(Output::SetRemoteAnswer { connection, sdp });
                }
                Some(_) => self.event(PeerEvent::Ignored {
                    reason: format!("an ANSWER from {src} for a connection it is not part of"),
                }),
                None => {
                    self.event(PeerEvent::Ignored { reason: format!("an ANSWER from {src} for no connection of ours") })
                }
            },
            ServerMessage::Candidate { src, connection, candidate } => match self.connections.get(&connection) {
                Some(conn) if conn.peer == src => {
                    self.outputs.push_back(Output::AddRemoteCandidate { connection, candidate })
                }
                Some(_) => self.event(PeerEvent::Ignored {
                    reason: format!("a CANDIDATE from {src} for a connection it is not part of"),
                }),
                None => self.hold_early(src, connection, candidate),
            },
            ServerMessage::Leave { src } => self.peer_gone(&src, PeerError::ClosedByPeer(src.clone())),
            ServerMessage::Expire { src } => {
                // Only connections still negotiating are affected: an open data channel needs no server.
                let failed: Vec<ConnectionId> = self
                    .connections
                    .iter()
                    .filter(|(_, it)| it.peer == src && !it.open)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in failed {
                    self.drop_connection(&id, Some(PeerError::PeerUnavailable(src.clone())));
                }
            }
            ServerMessage::Other { kind } => {
                self.event(PeerEvent::Ignored { reason: format!("signaling frame of unknown type {kind:?}") })
            }
        }
    }

    /// The server refused us and will close the socket.
    fn refused(&mut self, error: PeerError, now: Millis) {
        self.last_error = Some(error);
        if matches!(self.socket, Socket::Open) {
            // A refusal after we thought we were registered (the grace passed): treat as a fresh failure.
            self.socket = Socket::Registering { since: now };
        }
        self.outputs.push_back(Output::CloseSocket);
        self.socket_lost(now);
    }

    fn offer(&mut self, src: String, offer: Offer, now: Millis) {
        let serialization = match Serialization::from_offer(&offer.serialization) {
            Ok(it) => it,
            Err(err) => {
                self.event(PeerEvent::Ignored { reason: format!("an OFFER from {src}: {err}") });
                return;
            }
        };
        if self.connections.contains_key(&offer.connection) {
            // PeerJS replaces a connection whose id is offered again.
            self.drop_connection(&offer.connection.clone(), None);
        }
        if self.connections.len() >= MAX_CONNECTIONS {
            self.event(PeerEvent::Ignored { reason: format!("an OFFER from {src}: too many connections") });
            return;
        }
        let id = offer.connection.clone();
        let mut connection = Connection::new(
            src.clone(),
            false,
            offer.metadata,
            serialization,
            offer.label,
            offer.reliable,
            now,
            self.config.limits,
            self.config.rate,
        );
        connection.remote_sdp = Some(offer.sdp.sdp.clone());
        connection.encoder.set_json_frames(JsonFrames::from_browser_field(offer.browser.as_deref()));
        self.connections.insert(id.clone(), connection);
        self.outputs.push_back(Output::CreateConnection {
            connection: id.clone(),
            ice_servers: self.config.ice_servers.clone(),
            ice_transport_policy: self.config.ice_transport_policy,
            role: Role::Answerer { remote_offer: offer.sdp },
        });
        if let Some((early_src, held)) = self.early.remove(&id)
            && early_src == src
        {
            for candidate in held {
                self.outputs.push_back(Output::AddRemoteCandidate { connection: id.clone(), candidate });
            }
        }
    }

    fn hold_early(&mut self, src: String, connection: ConnectionId, candidate: Value) {
        if !self.early.contains_key(&connection) && self.early.len() >= MAX_EARLY_CONNECTIONS {
            self.event(PeerEvent::Ignored {
                reason: format!("signaling for unknown connection {connection} from {src}"),
            });
            return;
        }
        let entry = self.early.entry(connection).or_insert_with(|| (src.clone(), Vec::new()));
        if entry.0 == src && entry.1.len() < MAX_EARLY_PER_CONNECTION {
            entry.1.push(candidate);
        }
    }

    fn local_description(&mut self, connection: ConnectionId, sdp: SessionDescription) {
        let Some(conn) = self.connections.get_mut(&connection) else { return };
        if conn.description_sent {
            return;
        }
        conn.description_sent = true;
        conn.local_sdp = Some(sdp.sdp.clone());
        let dst = conn.peer.clone();
        let held = std::mem::take(&mut conn.held_candidates);
        let message = if conn.outgoing {
            let offer = Offer {
                connection: connection.clone(),
                sdp,
                metadata: conn.metadata.clone(),
                label: conn.label.clone(),
                reliable: conn.reliable,
                serialization: conn.serialization.as_offer().to_owned(),
                browser: None,
            };
            ClientMessage::Offer { dst: dst.clone(), offer }
        } else {
            ClientMessage::Answer { dst: dst.clone(), connection: connection.clone(), sdp }
        };
        self.signal(message);
        for candidate in held {
            self.signal(ClientMessage::Candidate { dst: dst.clone(), connection: connection.clone(), candidate });
        }
    }

    fn channel_message(&mut self, connection: ConnectionId, message: ChannelMessage, now: Millis) {
        let Some(conn) = self.connections.get_mut(&connection) else { return };
        let rate = self.config.rate;
        if !conn.take_credit(rate, now) {
            if !std::mem::replace(&mut conn.rate_limited, true) {
                let reason = format!(
                    "messages from {}: it sends faster than {} a second; they are dropped until it slows down",
                    conn.peer, rate.per_second
                );
                self.event(PeerEvent::Ignored { reason });
            }
            return;
        }
        conn.rate_limited = false;
        let frames = JsonFrames::of_message(&message);
        let decoded = conn.decoder.decode(message);
        if conn.serialization == Serialization::Json && decoded.is_ok() {
            // The peer writes the frames it reads: a release the OFFER/ANSWER did not tell us is corrected
            // from its first message on.
            conn.encoder.set_json_frames(frames);
        }
        match decoded {
            Ok(Some(Received::Value(value))) => self.event(PeerEvent::Data { connection, value }),
            Ok(Some(Received::Bytes(bytes))) => self.event(PeerEvent::Bytes { connection, bytes }),
            Ok(Some(Received::Close)) => {
                let error = PeerError::ClosedByPeer(conn.peer.clone());
                self.drop_connection(&connection, Some(error));
            }
            Ok(None) => {}
            Err(err) => {
                let peer = conn.peer.clone();
                self.event(PeerEvent::Ignored { reason: framing_reason(&peer, &err) });
            }
        }
    }

    fn peer_gone(&mut self, peer: &str, error: PeerError) {
        let ids: Vec<ConnectionId> =
            self.connections.iter().filter(|(_, it)| it.peer == peer).map(|(id, _)| id.clone()).collect();
        for id in ids {
            self.drop_connection(&id, Some(error.clone()));
        }
    }

    fn drop_connection(&mut self, connection: &str, error: Option<PeerError>) {
        let Some(conn) = self.connections.remove(connection) else { return };
        self.outputs.push_back(Output::CloseConnection { connection: connection.to_owned() });
        self.event(PeerEvent::ConnectionClosed {
            connection: connection.to_owned(),
            peer: conn.peer,
            outgoing: conn.outgoing,
            was_open: conn.open,
            error,
        });
    }

    /// Sends a signaling message now, or keeps it until the server takes messages again.
    fn signal(&mut self, message: ClientMessage) {
        if self.socket == Socket::Open {
            self.outputs.push_back(Output::SendSocket { text: message.to_text() });
            return;
        }
        if self.queued.len() >= MAX_QUEUED_SIGNALS {
            self.queued.pop_front();
        }
        self.queued.push_back(message);
    }

    fn set_state(&mut self, state: SignalingState) {
        if self.state != state {
            self.state = state.clone();
            self.event(PeerEvent::Signaling(state));
        }
    }

    fn event(&mut self, event: PeerEvent) {
        self.outputs.push_back(Output::Event(event));
    }
}

impl Connection {
    #[allow(clippy::too_many_arguments)]
    fn new(
        peer: String,
        outgoing: bool,
        metadata: Value,
        serialization: Serialization,
        label: String,
        reliable: bool,
        now: Millis,
        limits: DecoderLimits,
        rate: RateLimit,
    ) -> Connection {
        Connection {
            peer,
            outgoing,
            metadata,
            serialization,
            label,
            reliable,
            open: false,
            started: now,
            description_sent: false,
            held_candidates: Vec::new(),
            ice_disconnected_at: None,
            local_sdp: None,
            remote_sdp: None,
            encoder: Encoder::new(serialization),
            decoder: Decoder::with_limits(serialization, limits),
            credit: rate.burst.saturating_mul(1_000),
            credit_at: now,
            rate_limited: false,
        }
    }

    /// Takes one message from the bucket; false when the peer is over its rate.
    fn take_credit(&mut self, rate: RateLimit, now: Millis) -> bool {
        let refill = now.0.saturating_sub(self.credit_at.0).saturating_mul(rate.per_second);
        self.credit = self.credit.saturating_add(refill).min(rate.burst.saturating_mul(1_000));
        self.credit_at = self.credit_at.max(now);
        match self.credit.checked_sub(1_000) {
            Some(left) => {
                self.credit = left;
                true
            }
            None => false,
        }
    }
}

fn backoff(attempt: u32) -> u64 {
    BACKOFF_FIRST_MS.saturating_mul(1u64 << attempt.min(16)).min(BACKOFF_MAX_MS)
}

fn framing_reason(peer: &str, err: &FramingError) -> String {
    format!("a data message from {peer} could not be read: {err}")
}
