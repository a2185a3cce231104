//! Runs a core [`Peer`] in a page: performs its outputs with a [`Socket`] and [`RtcLink`]s, feeds their
//! events back, and keeps one timer at [`Peer::poll_timeout`]. What the peer reports goes to `on_event`.
//!
//! No `RefCell` borrow is held while `on_event` runs, so the listener may call back into the host.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use multichat_core::peerjs::{
    ConnectionId, DialOptions, Input, Output, Peer, PeerConfig, PeerError, PeerEvent, Role, SignalingState,
};
use multichat_core::send_queue::SendQueueError;
use serde_json::Value;
use wasm_bindgen::JsValue;

use crate::rtc::{MAX_LINK_QUEUED_BYTES, RtcEvent, RtcLink, SendError};
use crate::ws::{Socket, SocketEvent};
use crate::{now, random_bytes};

type Listener = Rc<dyn Fn(PeerEvent)>;

struct State {
    peer: Peer,
    socket: Option<Socket>,
    /// Bumped per socket, so events of a socket we already replaced are ignored.
    socket_generation: u64,
    links: BTreeMap<ConnectionId, RtcLink>,
    timer: Option<Timeout>,
    /// The most any link of this host held unsent at once, closed links included.
    peak_queued: u64,
    /// Links closed because they would have held more than [`MAX_LINK_QUEUED_BYTES`].
    closed_full: u32,
}

/// What the host's links hold unsent (see [`PeerHost::send_queues`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SendQueueReport {
    /// The bound per link, in bytes.
    pub limit: u64,
    /// The most any link held at once since the host started, closed links included.
    pub peak: u64,
    /// Links closed for going over the bound.
    pub closed_full: u32,
    pub links: Vec<LinkQueue>,
}

/// One link's send queue.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LinkQueue {
    pub connection: ConnectionId,
    /// The peer's PeerJS id, once the connection is open.
    pub peer: Option<String>,
    /// Bytes unsent now (the channel's buffer and our queue).
    pub queued: u64,
    /// The most this link held at once.
    pub peak: u64,
}

#[derive(Clone)]
pub struct PeerHost {
    state: Rc<RefCell<State>>,
    listener: Listener,
}

impl PeerHost {
    /// Starts registering `config.id`.
    pub fn start(config: PeerConfig, on_event: impl Fn(PeerEvent) + 'static) -> Result<PeerHost, PeerError> {
        let peer = Peer::new(config, now())?;
        let state = State {
            peer,
            socket: None,
            socket_generation: 0,
            links: BTreeMap::new(),
            timer: None,
            peak_queued: 0,
            closed_full: 0,
        };
        let host = PeerHost { state: Rc::new(RefCell::new(state)), listener: Rc::new(on_event) };
        host.drive();
        Ok(host)
    }

    pub fn config(&self) -> PeerConfig {
        self.state.borrow().peer.config().clone()
    }

    pub fn signaling(&self) -> SignalingState {
        self.state.borrow().peer.state().clone()
    }

    /// Open connections: `(connection, peer, metadata, outgoing)`.
    pub fn open_connections(&self) -> Vec<(ConnectionId, String, Value, bool)> {
        let state = self.state.borrow();
        state
            .peer
            .open_connections()
            .map(|(id, peer, metadata, outgoing)| (id.clone(), peer.to_owned(), metadata.clone(), outgoing))
            .collect()
    }

    /// The (local, remote) SDP of a connection, once both are known.
    pub fn session_descriptions(&self, connection: &str) -> Option<(String, String)> {
        let state = self.state.borrow();
        state.peer.session_descriptions(connection).map(|(local, remote)| (local.to_owned(), remote.to_owned()))
    }

    pub fn connect(&self, peer: &str, options: DialOptions) -> Result<ConnectionId, PeerError> {
        let random = random_bytes::<10>().map_err(|err| PeerError::Framing(err.to_string()))?;
        let result = self.state.borrow_mut().peer.connect(peer, options, &random, now());
        self.drive();
        result
    }

    pub fn send(&self, connection: &str, value: &Value) -> Result<(), PeerError> {
        let result = self.state.borrow_mut().peer.send(connection, value);
        self.drive();
        result
    }

    /// Sends raw bytes (a file chunk) on a connection, through its send queue like any message.
    pub fn send_bytes(&self, connection: &str, bytes: Vec<u8>) -> Result<(), PeerError> {
        let result = self.state.borrow_mut().peer.send_bytes(connection, bytes);
        self.drive();
        result
    }

    /// Bytes waiting to go out on a connection (for flow control by callers that send a lot).
    pub fn buffered_bytes(&self, connection: &str) -> u64 {
        self.state.borrow().links.get(connection).map_or(0, RtcLink::buffered_bytes)
    }

    /// What every link holds unsent now, and the most any held (for tests and the debug report).
    pub fn send_queues(&self) -> SendQueueReport {
        let state = self.state.borrow();
        let peers: BTreeMap<&ConnectionId, &str> =
            state.peer.open_connections().map(|(id, peer, ..)| (id, peer)).collect();
        let links: Vec<LinkQueue> = state
            .links
            .iter()
            .map(|(id, link)| LinkQueue {
                connection: id.clone(),
                peer: peers.get(id).map(|it| (*it).to_owned()),
                queued: link.buffered_bytes(),
                peak: link.peak_bytes(),
            })
            .collect();
        let peak = links.iter().map(|it| it.peak).fold(state.peak_queued, u64::max);
        SendQueueReport { limit: MAX_LINK_QUEUED_BYTES, peak, closed_full: state.closed_full, links }
    }

    pub fn close(&self, connection: &str) {
        self.state.borrow_mut().peer.close(connection);
        self.drive();
    }

    /// The browser regained the network: retry the server now.
    pub fn network_online(&self) {
        self.input(Input::NetworkOnline);
    }

    /// Closes everything; the host is finished.
    pub fn destroy(&self) {
        self.state.borrow_mut().peer.destroy();
        self.drive();
        let mut state = self.state.borrow_mut();
        state.timer = None;
        state.links.clear();
        state.socket = None;
    }

    fn input(&self, input: Input) {
        self.state.borrow_mut().peer.handle(input, now());
        self.drive();
    }

    /// Carries out every pending output, then sets the timer.
    fn drive(&self) {
        loop {
            let output = self.state.borrow_mut().peer.poll_output();
            let Some(output) = output else { break };
            match output {
                Output::Event(event) => (self.listener)(event),
                other => self.perform(other),
            }
        }
        self.schedule();
    }

    fn perform(&self, output: Output) {
        match output {
            Output::OpenSocket { url } => {
                let generation = {
                    let mut state = self.state.borrow_mut();
                    state.socket = None;
                    state.socket_generation += 1;
                    state.socket_generation
                };
                let weak = self.weak();
                let opened = Socket::open(&url, move |event| {
                    let Some(host) = PeerHost::upgrade(&weak) else { return };
                    if host.state.borrow().socket_generation != generation {
                        return;
                    }
                    let input = match event {
                        SocketEvent::Opened => Input::SocketOpened,
                        SocketEvent::Text(text) => Input::SocketText(text),
                        SocketEvent::Closed => Input::SocketClosed,
                    };
                    host.input(input);
                });
                match opened {
                    Ok(socket) => self.state.borrow_mut().socket = Some(socket),
                    Err(err) => {
                        warn(&format!("multichat: could not open the signaling socket: {err}"));
                        self.state.borrow_mut().peer.handle(Input::SocketClosed, now());
                    }
                }
            }
            Output::CloseSocket => {
                let mut state = self.state.borrow_mut();
                state.socket = None;
                state.socket_generation += 1;
            }
            Output::SendSocket { text } => {
                let state = self.state.borrow();
                if let Some(Err(err)) = state.socket.as_ref().map(|it| it.send(&text)) {
                    warn(&format!("multichat: a signaling message was not sent: {err}"));
                }
            }
            Output::CreateConnection { connection, ice_servers, ice_transport_policy, role } => {
                let report = self.rtc_listener(connection.clone());
                let policy = ice_transport_policy;
                let link = match &role {
                    Role::Dialer { label, reliable } => RtcLink::dial(&ice_servers, policy, label, *reliable, report),
                    Role::Answerer { remote_offer } => RtcLink::answer(&ice_servers, policy, remote_offer, report),
                };
                match link {
                    Ok(link) => {
                        self.state.borrow_mut().links.insert(connection, link);
                    }
                    Err(err) => self
                        .state
                        .borrow_mut()
                        .peer
                        .handle(Input::RtcError { connection, message: err.to_string() }, now()),
                }
            }
            Output::SetRemoteAnswer { connection, sdp } => {
                if let Some(link) = self.state.borrow().links.get(&connection) {
                    link.set_remote_answer(&sdp);
                }
            }
            Output::AddRemoteCandidate { connection, candidate } => {
                if let Some(link) = self.state.borrow().links.get(&connection) {
                    link.add_remote_candidate(candidate);
                }
            }
            Output::SendChannel { connection, message } => {
                let sent = self.state.borrow().links.get(&connection).map(|it| it.send(message));
                match sent {
                    None | Some(Ok(())) => {}
                    Some(Err(SendError::Refused(err))) => self
                        .state
                        .borrow_mut()
                        .peer
                        .handle(Input::RtcError { connection, message: err.to_string() }, now()),
                    Some(Err(SendError::Full(err @ SendQueueError::Full { .. }))) => {
                        let mut state = self.state.borrow_mut();
                        let peer_id = state
                            .peer
                            .open_connections()
                            .find(|(id, ..)| **id == connection)
                            .map(|(_, peer, ..)| peer.to_owned())
                            .unwrap_or_default();
                        warn(&format!("multichat: closed the connection {connection} to {peer_id}: {err}"));
                        state.closed_full = state.closed_full.saturating_add(1);
                        // The close signal cannot go (the link takes nothing more); the outputs this queues
                        // are performed by the `drive` loop that called us.
                        state.peer.close(&connection);
                    }
                    // The link overflowed already and is being closed.
                    Some(Err(SendError::Full(SendQueueError::Closed))) => {}
                }
            }
            Output::CloseConnection { connection } => {
                // Dropping the link closes the channel and the peer connection (after the close signal,
                // which was queued on the channel before this output).
                let mut state = self.state.borrow_mut();
                let link = state.links.remove(&connection);
                if let Some(link) = &link {
                    state.peak_queued = state.peak_queued.max(link.peak_bytes());
                }
                drop(state);
                drop(link);
            }
            Output::Event(_) => unreachable!("events are handled by drive"),
        }
    }

    fn rtc_listener(&self, connection: ConnectionId) -> impl Fn(RtcEvent) + 'static {
        let weak = self.weak();
        move |event| {
            let Some(host) = PeerHost::upgrade(&weak) else { return };
            let connection = connection.clone();
            let input = match event {
                RtcEvent::LocalDescription(sdp) => Input::LocalDescription { connection, sdp },
                RtcEvent::LocalCandidate(candidate) => Input::LocalCandidate { connection, candidate },
                RtcEvent::ChannelOpen => Input::ChannelOpen { connection },
                RtcEvent::Message(message) => Input::ChannelMessage { connection, message },
                RtcEvent::ChannelClosed => Input::ChannelClosed { connection },
                RtcEvent::Ice(state) => Input::Ice { connection, state },
                RtcEvent::Error(message) => Input::RtcError { connection, message },
            };
            host.input(input);
        }
    }

    fn schedule(&self) {
        let deadline = self.state.borrow().peer.poll_timeout();
        let timer = deadline.map(|at| {
            let delay = at.saturating_sub(now()).min(u64::from(u32::MAX)) as u32;
            let weak = self.weak();
            Timeout::new(delay, move || {
                if let Some(host) = PeerHost::upgrade(&weak) {
                    host.state.borrow_mut().peer.handle_timeout(now());
                    host.drive();
                }
            })
        });
        // Replacing the old Timeout cancels it.
        self.state.borrow_mut().timer = timer;
    }

    fn weak(&self) -> (Weak<RefCell<State>>, Listener) {
        (Rc::downgrade(&self.state), self.listener.clone())
    }

    fn upgrade((state, listener): &(Weak<RefCell<State>>, Listener)) -> Option<PeerHost> {
        Some(PeerHost { state: state.upgrade()?, listener: listener.clone() })
    }
}

fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
