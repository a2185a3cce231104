//! The engine: the part of multichat that holds live connections (the PeerJS signaling WebSocket and the
//! WebRTC data channels). Service workers have no `RTCPeerConnection`, so in Chrome the engine runs in an
//! offscreen document (`offscreen.html`, reason `WEB_RTC`); Firefox runs it inside the background page.
//!
//! The engine keeps no chat state. It reports status, links and frames to the worker, and the worker's
//! reply to each report says what to do next. It knows the worker only as where reports go (runtime
//! messages, or a function it was handed): it has no import of the worker's code, which is another wasm.

use std::cell::RefCell;
use std::rc::Rc;

use multichat_core::account::Username;
use multichat_core::bridge::{
    ENGINE_ADDRESS, EngineCommands, EngineStatus, EngineToWorker, LinkInfo, SessionPair, WorkerToEngine,
};
use multichat_core::chat::ids::LinkId;
use multichat_core::chat::node::{MAX_FRAME_BURST, MAX_FRAMES_PER_SECOND};
use multichat_core::log_budget::LogBudget;
use multichat_core::peerjs::framing::DecoderLimits;
use multichat_core::peerjs::{DialOptions, PeerConfig, PeerError, PeerEvent, RateLimit, SignalingState, signal};
use multichat_core::phrase::{Code, Phrase};
use multichat_core::worker::peer_phrase;
use multichat_web::chrome::Port;
use multichat_web::peer_host::PeerHost;
use multichat_web::{ShellError, chrome, convert, now};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::worker_port::{self, PortEvent, WorkerPort};

/// What one peer may make the engine hold. Chat frames are small (the json serialization stops at 16 KB);
/// 1 MiB leaves room for other PeerJS apps' messages without letting a peer park 16 MiB per connection.
const CHAT_LIMITS: DecoderLimits =
    DecoderLimits { max_message_bytes: 1 << 20, max_pieces: 65, max_partials: 4, max_buffered_bytes: 2 << 20 };

/// How fast one peer may send: the chat layer's own limit, applied here at arrival, so frames over it never
/// reach the worker (whose limit, counted as it handles frames, cannot bite while it is slower than that).
const CHAT_RATE: RateLimit = RateLimit { per_second: MAX_FRAMES_PER_SECOND, burst: MAX_FRAME_BURST };

/// How the engine reaches the worker.
enum WorkerLink {
    /// From Chrome's offscreen document: a port to the worker (see [`worker_port`]).
    Runtime(WorkerPort),
    /// In Firefox's background page: the worker's report function (a report in, a promise of commands out).
    Page(js_sys::Function),
}

#[derive(Clone)]
struct Engine(Rc<RefCell<State>>);

thread_local! {
    /// The engine of this page, for [`send_queue_report`] (a page runs one engine).
    static CURRENT: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// What the running peer's links hold unsent (see `PeerHost::send_queues`), as a JSON-compatible value:
/// `{ limit, peak, closed_full, links: [{ connection, peer, queued, peak }] }`, or null before a peer runs.
pub(crate) fn send_queue_report() -> JsValue {
    let host = CURRENT.with(|it| it.borrow().as_ref().and_then(Engine::host));
    let Some(host) = host else { return JsValue::NULL };
    convert::to_js(&host.send_queues()).unwrap_or(JsValue::NULL)
}

struct State {
    worker: WorkerLink,
    status: EngineStatus,
    /// The id, token and settings the worker configured, if any.
    config: Option<PeerConfig>,
    host: Option<PeerHost>,
    /// Limits the lines a peer can make the engine log (see [`IGNORED_LOG`]).
    ignored_log: LogBudget,
}

/// At most this many "ignored" lines per window: a flood of unreadable messages is counted, not printed.
const IGNORED_LOG: (u32, u64) = (30, 10_000);

/// Entry point of the offscreen document.
pub(crate) fn start_offscreen() {
    let engine = Engine::new(WorkerLink::Runtime(WorkerPort::default()));
    let lane = engine.clone();
    multichat_web::worker_lane::on_worker_frame(move |frame| {
        if let Some(commands) = worker_port::commands_in(frame) {
            lane.port_event(None, PortEvent::Commands(commands));
        }
    });
    let listener = engine.clone();
    chrome::on_message(move |message| {
        // The worker's commands come over the engine's port once it is open; before that (a worker that just
        // started and greets an engine it did not create) they come as runtime messages. Only the address is
        // read from a message for someone else.
        let to = js_sys::Reflect::get(&message, &"to".into()).ok()?.as_string()?;
        if to != ENGINE_ADDRESS {
            return None;
        }
        let body = js_sys::Reflect::get(&message, &"body".into()).unwrap_or(JsValue::UNDEFINED);
        match convert::from_js::<WorkerToEngine>(body) {
            Ok(command) => listener.command(command),
            Err(err) => log(&format!("multichat engine: dropped a malformed command: {err}")),
        }
        Some(async { JsValue::NULL })
    });
    engine.greet();
}

/// Starts an engine in the worker's own context (Firefox's background page): reports go to `report`, and
/// the returned function takes the worker's commands.
pub(crate) fn start_in_page(report: js_sys::Function) -> js_sys::Function {
    let engine = Engine::new(WorkerLink::Page(report));
    let commands = engine.clone();
    let command =
        Closure::<dyn Fn(JsValue)>::new(move |command: JsValue| match convert::from_js::<WorkerToEngine>(command) {
            Ok(command) => commands.command(command),
            Err(err) => log(&format!("multichat engine: dropped a malformed command: {err}")),
        });
    engine.greet();
    // The page lives as long as the worker that holds this function.
    command.into_js_value().unchecked_into()
}

impl Engine {
    fn new(worker: WorkerLink) -> Engine {
        let engine = Engine(Rc::new(RefCell::new(State {
            worker,
            status: EngineStatus::Offline,
            config: None,
            host: None,
            ignored_log: LogBudget::new(IGNORED_LOG.0, IGNORED_LOG.1),
        })));
        CURRENT.with(|it| *it.borrow_mut() = Some(engine.clone()));
        engine.watch_network();
        engine
    }

    /// When the browser says the network is back (after a network change or sleep), retry the signaling
    /// server at once instead of waiting out the backoff.
    fn watch_network(&self) {
        let Some(window) = web_sys::window() else { return };
        let engine = self.clone();
        let on_online = Closure::<dyn FnMut()>::new(move || {
            if let Some(host) = engine.host() {
                host.network_online();
            }
        });
        if window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref()).is_ok() {
            // The listener lives as long as the page does.
            on_online.forget();
        }
    }

    fn greet(&self) {
        let (status, host) = {
            let state = self.0.borrow();
            (state.status.clone(), state.host.clone())
        };
        let links = host.as_ref().map(PeerHost::open_connections).unwrap_or_default();
        let links = links
            .into_iter()
            .map(|(link, peer_id, metadata, outgoing)| {
                let sessions = host.as_ref().and_then(|it| session_pair(it, &link));
                LinkInfo { link, peer_id, metadata, outgoing, sessions }
            })
            .collect();
        self.report(EngineToWorker::Hello { status, links });
    }

    /// Carries out one command from the worker.
    fn command(&self, command: WorkerToEngine) {
        match command {
            WorkerToEngine::Configure { peer_id, token, settings } => {
                let current = self.0.borrow().config.clone();
                // Keep the token of a running peer when the worker has none, so a reconfigure is not a new session.
                let Some(token) = token.or_else(|| current.as_ref().map(|it| it.token.clone())).or_else(fresh_token)
                else {
                    self.set_status(EngineStatus::Failed { message: Code::EngineNoRandomness.into() });
                    return;
                };
                let ice_transport_policy = settings.ice_transport_policy();
                let config = PeerConfig {
                    id: peer_id,
                    token,
                    server: settings.server,
                    ice_servers: settings.ice_servers,
                    ice_transport_policy,
                    limits: CHAT_LIMITS,
                    rate: CHAT_RATE,
                };
                if current.as_ref() != Some(&config) {
                    self.start_peer(config);
                }
            }
            WorkerToEngine::Shutdown => {
                let host = {
                    let mut state = self.0.borrow_mut();
                    state.config = None;
                    state.host.take()
                };
                if let Some(host) = host {
                    host.destroy();
                }
                self.set_status(EngineStatus::Offline);
            }
            WorkerToEngine::Greet => self.greet(),
            WorkerToEngine::Dial { peer_id, metadata, serialization } => {
                let Some(host) = self.host() else {
                    self.report(EngineToWorker::DialFailed { peer_id, reason: Code::NotConnected.into() });
                    return;
                };
                let options = DialOptions { metadata, serialization, reliable: true };
                if let Err(err) = host.connect(&peer_id, options) {
                    self.report(EngineToWorker::DialFailed { peer_id, reason: for_people(err) });
                }
            }
            WorkerToEngine::Send { link, frame } => {
                let sent = self.host().map(|host| host.send(&link, &frame));
                match sent {
                    Some(Ok(())) => {}
                    // The worker thinks the link is up but it is gone: tell it, so it redials.
                    Some(Err(err @ PeerError::NotOpen)) => {
                        self.report(EngineToWorker::LinkDown { link, reason: err.to_string() })
                    }
                    Some(Err(err)) => log(&format!("multichat engine: a frame was not sent: {err}")),
                    None => {
                        self.report(EngineToWorker::LinkDown { link, reason: "multichat is not connected".to_owned() })
                    }
                }
            }
            WorkerToEngine::SendChunk { link, data } => self.send_chunk(link, data),
            WorkerToEngine::Close { link } => {
                if let Some(host) = self.host() {
                    host.close(&link);
                }
            }
        }
    }

    /// Sends a file chunk's message (`SendChunk`).
    fn send_chunk(&self, link: LinkId, bytes: Vec<u8>) {
        match self.host().map(|host| host.send_bytes(&link, bytes)) {
            Some(Ok(())) => {}
            Some(Err(err @ PeerError::NotOpen)) => {
                self.report(EngineToWorker::LinkDown { link, reason: err.to_string() })
            }
            Some(Err(err)) => log(&format!("multichat engine: a file chunk was not sent: {err}")),
            None => self.report(EngineToWorker::LinkDown { link, reason: "multichat is not connected".to_owned() }),
        }
    }

    fn host(&self) -> Option<PeerHost> {
        self.0.borrow().host.clone()
    }

    /// Replaces the running peer (if any) with one for `config`.
    fn start_peer(&self, config: PeerConfig) {
        let old = self.0.borrow_mut().host.take();
        if let Some(old) = old {
            old.destroy();
        }
        self.0.borrow_mut().config = Some(config.clone());
        self.set_status(EngineStatus::Connecting);
        let engine = self.clone();
        match PeerHost::start(config, move |event| engine.peer_event(event)) {
            Ok(host) => self.0.borrow_mut().host = Some(host),
            Err(err) => self.set_status(EngineStatus::Failed { message: Phrase::new(Code::EngineFailed).with(err) }),
        }
    }

    /// Turns what the PeerJS peer reports into reports for the worker.
    fn peer_event(&self, event: PeerEvent) {
        match event {
            PeerEvent::Signaling(state) => self.set_status(engine_status(state)),
            PeerEvent::ConnectionOpen { connection, peer, metadata, outgoing, serialization: _ } => {
                let sessions = self.host().and_then(|host| session_pair(&host, &connection));
                self.report(EngineToWorker::LinkUp {
                    info: LinkInfo { link: connection, peer_id: peer, metadata, outgoing, sessions },
                });
            }
            PeerEvent::Data { connection, value } => {
                self.report(EngineToWorker::Frame { link: connection, frame: value })
            }
            PeerEvent::Bytes { connection, bytes } => {
                self.report(EngineToWorker::Chunk { link: connection, data: bytes })
            }
            PeerEvent::ConnectionClosed { connection, peer, outgoing, was_open, error } => {
                // A link down's reason is for logs (the worker shows none); a failed dial's is shown.
                let logged = error.as_ref().map_or_else(|| "closed".to_owned(), ToString::to_string);
                let reason = error.map(for_people).unwrap_or_else(|| Code::ConnectionClosed.into());
                if was_open {
                    self.report(EngineToWorker::LinkDown { link: connection, reason: logged });
                } else if outgoing {
                    self.report(EngineToWorker::DialFailed { peer_id: peer, reason });
                }
            }
            PeerEvent::Ignored { reason } => {
                let line = format!("multichat engine: ignored {reason}");
                let lines = match self.0.try_borrow_mut() {
                    Ok(mut state) => state.ignored_log.admit(now(), &line),
                    Err(_) => vec![line],
                };
                lines.iter().for_each(|it| log(it));
            }
        }
    }

    fn set_status(&self, status: EngineStatus) {
        if self.0.borrow().status == status {
            return;
        }
        self.0.borrow_mut().status = status.clone();
        self.report(EngineToWorker::Status { status });
    }

    /// Sends a report to the worker; the commands in its reply are carried out when they come.
    fn report(&self, message: EngineToWorker) {
        let page = {
            let mut state = self.0.borrow_mut();
            match &mut state.worker {
                WorkerLink::Page(report) => Some((report.clone(), message)),
                WorkerLink::Runtime(port) => {
                    port.push(message);
                    None
                }
            }
        };
        match page {
            Some((report, message)) => self.report_in_page(&report, &message),
            None => self.post_reports(),
        }
    }

    /// Posts the queued reports to the worker as one batch, if the port takes one now (see [`worker_port`]).
    fn post_reports(&self) {
        let engine = self.clone();
        let batch = {
            let mut state = self.0.borrow_mut();
            let WorkerLink::Runtime(port) = &mut state.worker else { return };
            port.next_batch(|| match worker_port::open(move |port, event| engine.port_event(Some(port), event)) {
                Ok(port) => Some(port),
                Err(err) => {
                    log(&format!("multichat engine: could not reach the worker: {err}"));
                    None
                }
            })
        };
        let Some((port, batch)) = batch else { return };
        if let Err(err) = worker_port::post(&port, &batch) {
            log(&format!("multichat engine: the worker did not take {} reports: {err}", batch.len()));
            if let WorkerLink::Runtime(port) = &mut self.0.borrow_mut().worker {
                port.lost();
            }
        }
    }

    /// What the worker posted on `port` (`None`: on the lane) or that the port closed.
    fn port_event(&self, port: Option<&Port>, event: PortEvent) {
        let current = match &mut self.0.borrow_mut().worker {
            WorkerLink::Runtime(link) => link.saw(port, &event),
            WorkerLink::Page(_) => false,
        };
        if let (true, PortEvent::Commands(EngineCommands { commands, .. })) = (current, event) {
            commands.into_iter().for_each(|it| self.command(it));
        }
        // An answer frees a place for the next batch; a closed port is reopened only if reports wait.
        self.post_reports();
    }

    /// Firefox: the worker's report function, called directly; its promise resolves with the commands.
    fn report_in_page(&self, report: &js_sys::Function, message: &EngineToWorker) {
        let reply = convert::to_js_cloned(message).and_then(|message| {
            report.call1(&JsValue::NULL, &message).map_err(|err| ShellError::from_js("the worker's report", &err))
        });
        let engine = self.clone();
        spawn_local(async move {
            let commands = match reply {
                Ok(reply) => JsFuture::from(js_sys::Promise::resolve(&reply))
                    .await
                    .map_err(|err| ShellError::from_js("the worker's reply", &err))
                    .and_then(convert::from_js::<Vec<WorkerToEngine>>),
                Err(err) => Err(err),
            };
            match commands {
                Ok(commands) => commands.into_iter().for_each(|it| engine.command(it)),
                Err(err) => log(&format!("multichat engine: the worker did not take a report: {err}")),
            }
        });
    }
}

fn log(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

fn engine_status(state: SignalingState) -> EngineStatus {
    match state {
        SignalingState::Connecting => EngineStatus::Connecting,
        SignalingState::Online => EngineStatus::Online,
        // The user has to act on these (another username, other server settings); we keep retrying anyway.
        SignalingState::Retrying { error: error @ (PeerError::IdTaken | PeerError::ServerRefused(_)), .. } => {
            EngineStatus::Failed { message: peer_phrase(&error) }
        }
        SignalingState::Retrying { attempt, error, .. } => {
            EngineStatus::Reconnecting { attempt, message: peer_phrase(&error) }
        }
        SignalingState::Destroyed => EngineStatus::Offline,
    }
}

/// A token for a peer the worker gave none (an account stored before tokens existed).
fn fresh_token() -> Option<String> {
    multichat_web::random_bytes::<12>().ok().map(|random| signal::random_token(&random))
}

/// The error's words, with a multichat peer named by its username, as people know it.
fn for_people(error: PeerError) -> Phrase {
    let name = |peer: String| Username::from_peer_id(&peer).map(|it| it.to_string()).unwrap_or(peer);
    let error = match error {
        PeerError::PeerUnavailable(peer) => PeerError::PeerUnavailable(name(peer)),
        PeerError::IceFailed(peer) => PeerError::IceFailed(name(peer)),
        PeerError::PeerGone(peer) => PeerError::PeerGone(name(peer)),
        PeerError::ClosedByPeer(peer) => PeerError::ClosedByPeer(name(peer)),
        other => other,
    };
    peer_phrase(&error)
}

fn session_pair(host: &PeerHost, connection: &str) -> Option<SessionPair> {
    host.session_descriptions(connection).map(|(local_sdp, remote_sdp)| SessionPair { local_sdp, remote_sdp })
}
