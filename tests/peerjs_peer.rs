//! The PeerJS peer state machine: registration, heartbeats, reconnects, and two peers connecting through a
//! simulated official server (which routes by `dst` and rewrites `src`, as `peer` 1.0 does), including a
//! modelled PeerJS 1.2.0 peer (the original peerjs-multichat page's release) with its own `json` frames.

use std::collections::{BTreeMap, BTreeSet};

use multichat_core::peerjs::signal::SessionDescription;
use multichat_core::peerjs::{
    ChannelMessage, DialOptions, IceState, Input, JsonFrames, Output, Peer, PeerConfig, PeerError, PeerEvent,
    RateLimit, Role, Serialization, SignalingState,
};
use multichat_core::settings::SignalingServer;
use multichat_core::time::Millis;
use proptest::prelude::*;
use serde_json::{Value, json};

fn config(id: &str) -> PeerConfig {
    PeerConfig {
        id: id.to_owned(),
        token: format!("token-{id}"),
        server: SignalingServer {
            host: "127.0.0.1".into(),
            port: 9000,
            path: "/myapp".into(),
            key: "peerjs".into(),
            secure: false,
        },
        ice_servers: Vec::new(),
        ice_transport_policy: Default::default(),
        limits: Default::default(),
        rate: Default::default(),
    }
}

fn drain(peer: &mut Peer) -> Vec<Output> {
    std::iter::from_fn(|| peer.poll_output()).collect()
}

fn events(outputs: &[Output]) -> Vec<PeerEvent> {
    outputs.iter().filter_map(|it| if let Output::Event(e) = it { Some(e.clone()) } else { None }).collect()
}

fn sent_frames(outputs: &[Output]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(
            |it| if let Output::SendSocket { text } = it { Some(serde_json::from_str(text).unwrap()) } else { None },
        )
        .collect()
}

/// A peer that is registered at `now`.
fn online(id: &str, now: Millis) -> Peer {
    online_with(config(id), now)
}

fn online_with(config: PeerConfig, now: Millis) -> Peer {
    let id = config.id.clone();
    let mut peer = Peer::new(config, now).unwrap();
    let out = drain(&mut peer);
    assert!(matches!(&out[..], [Output::OpenSocket { url }] if url.contains(&format!("id={id}&token=token-{id}"))));
    peer.handle(Input::SocketOpened, now);
    peer.handle(Input::SocketText(r#"{"type":"OPEN"}"#.into()), now);
    let out = drain(&mut peer);
    assert_eq!(events(&out), vec![PeerEvent::Signaling(SignalingState::Online)]);
    peer
}

#[test]
fn registers_and_sends_heartbeats_every_five_seconds() {
    let mut peer = online("alice", Millis(0));
    assert_eq!(peer.poll_timeout(), Some(Millis(5_000)));
    peer.handle_timeout(Millis(5_000));
    assert_eq!(sent_frames(&drain(&mut peer)), vec![json!({"type":"HEARTBEAT"})]);
    assert_eq!(peer.poll_timeout(), Some(Millis(10_000)));
}

#[test]
fn rejects_ids_the_stock_client_rejects() {
    assert!(matches!(Peer::new(config("bad id!"), Millis(0)), Err(PeerError::InvalidId(_))));
}

#[test]
fn reconnects_with_the_same_token_and_flushes_what_waited() {
    let mut alice = online("alice", Millis(0));
    alice.handle(Input::SocketClosed, Millis(1_000));
    let out = drain(&mut alice);
    assert!(matches!(
        &events(&out)[..],
        [PeerEvent::Signaling(SignalingState::Retrying { error: PeerError::NetworkLost, .. })]
    ));
    // A dial while offline: its OFFER must wait, not vanish.
    let conn = alice.connect("bob", DialOptions::default(), b"0123456789", Millis(1_000)).unwrap();
    drain(&mut alice);
    alice.handle(Input::LocalDescription { connection: conn.clone(), sdp: sdp("offer") }, Millis(1_001));
    assert!(sent_frames(&drain(&mut alice)).is_empty());
    alice.handle_timeout(Millis(1_000));
    let out = drain(&mut alice);
    assert!(matches!(&out[..], [Output::OpenSocket { url }] if url.contains("token=token-alice")));
    // The server took the new socket in place of the old one and says nothing: registered after the grace.
    alice.handle(Input::SocketOpened, Millis(1_050));
    assert_eq!(alice.poll_timeout(), Some(Millis(2_550)));
    alice.handle_timeout(Millis(2_550));
    let out = drain(&mut alice);
    assert_eq!(events(&out), vec![PeerEvent::Signaling(SignalingState::Online)]);
    let frames = sent_frames(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["type"], "OFFER");
    assert_eq!(frames[0]["dst"], "bob");
}

#[test]
fn an_unreachable_server_backs_off_exponentially() {
    let mut peer = Peer::new(config("alice"), Millis(0)).unwrap();
    drain(&mut peer);
    let mut now = Millis(0);
    let mut delays = Vec::new();
    for _ in 0..7 {
        peer.handle(Input::SocketClosed, now);
        let out = drain(&mut peer);
        let Some(PeerEvent::Signaling(SignalingState::Retrying { retry_at, error, .. })) = events(&out).pop() else {
            panic!("{out:?}")
        };
        assert!(matches!(error, PeerError::ServerUnreachable(address) if address == "127.0.0.1:9000"));
        delays.push(retry_at.0 - now.0);
        now = retry_at;
        peer.handle_timeout(now);
        assert!(matches!(&drain(&mut peer)[..], [Output::OpenSocket { .. }]));
    }
    assert_eq!(delays, vec![1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
}

#[test]
fn a_socket_that_never_opens_times_out() {
    let mut peer = Peer::new(config("alice"), Millis(0)).unwrap();
    drain(&mut peer);
    assert_eq!(peer.poll_timeout(), Some(Millis(10_000)));
    peer.handle_timeout(Millis(10_000));
    let out = drain(&mut peer);
    assert_eq!(out[0], Output::CloseSocket);
    assert!(matches!(
        &events(&out)[..],
        [PeerEvent::Signaling(SignalingState::Retrying { error: PeerError::ServerUnreachable(_), .. })]
    ));
}

#[test]
fn id_taken_is_explained_and_retried_slowly() {
    let mut peer = Peer::new(config("alice"), Millis(0)).unwrap();
    drain(&mut peer);
    peer.handle(Input::SocketOpened, Millis(10));
    peer.handle(Input::SocketText(r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#.into()), Millis(20));
    let out = drain(&mut peer);
    assert_eq!(out[0], Output::CloseSocket);
    let Some(PeerEvent::Signaling(SignalingState::Retrying { error, retry_at, .. })) = events(&out).pop() else {
        panic!()
    };
    assert_eq!(error, PeerError::IdTaken);
    assert!(error.to_string().contains("username is in use"));
    assert_eq!(retry_at, Millis(15_020));
    // The server's close that follows changes nothing.
    peer.handle(Input::SocketClosed, Millis(30));
    assert!(drain(&mut peer).is_empty());
}

#[test]
fn a_refusal_names_the_server_message() {
    let mut peer = Peer::new(config("alice"), Millis(0)).unwrap();
    drain(&mut peer);
    peer.handle(Input::SocketOpened, Millis(10));
    peer.handle(Input::SocketText(r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#.into()), Millis(20));
    let Some(PeerEvent::Signaling(SignalingState::Retrying { error, .. })) = events(&drain(&mut peer)).pop() else {
        panic!()
    };
    assert_eq!(
        error.to_string(),
        "The signaling server refused the connection: Invalid key provided. Check the server settings."
    );
}

fn sdp(kind: &str) -> SessionDescription {
    SessionDescription { sdp: format!("v=0 {kind}"), kind: kind.to_owned() }
}

/// Two peers, a server that routes like `peer` 1.0, and a fake WebRTC that opens a channel once both
/// descriptions are set.
struct World {
    peers: BTreeMap<String, Peer>,
    /// PeerJS 1.2.0 peers, by id.
    legacy: BTreeMap<String, PeerJs12>,
    /// Every data-channel message, as (writer, connection, message).
    channel_log: Vec<(String, String, ChannelMessage)>,
    /// (peer, connection) → (remote peer, remote connection is the same id)
    answers_set: Vec<(String, String)>,
    now: Millis,
    log: Vec<(String, PeerEvent)>,
    /// Frames the server relayed, for assertions.
    relayed: Vec<Value>,
}

impl World {
    fn new(ids: &[&str]) -> World {
        let peers = ids.iter().map(|id| (id.to_string(), online(id, Millis(0)))).collect();
        World {
            peers,
            legacy: BTreeMap::new(),
            channel_log: Vec::new(),
            answers_set: Vec::new(),
            now: Millis(0),
            log: Vec::new(),
            relayed: Vec::new(),
        }
    }

    /// A signaling frame from `src`, through the server (which sets `src`), to whoever `dst` is.
    fn route(&mut self, src: &str, mut frame: Value) {
        let now = self.now;
        let dst = frame["dst"].as_str().unwrap().to_owned();
        frame["src"] = json!(src);
        self.relayed.push(frame.clone());
        if let Some(peer) = self.peers.get_mut(&dst) {
            peer.handle(Input::SocketText(frame.to_string()), now);
        } else if let Some(legacy) = self.legacy.get_mut(&dst) {
            let (replies, opened) = legacy.signal(&dst, &frame);
            if let Some(connection) = opened {
                // The 1.2.0 dialer applied our ANSWER: both channels open.
                self.peer(src).handle(Input::ChannelOpen { connection }, now);
            }
            for reply in replies {
                self.route(&dst, reply);
            }
        } else {
            let expire = json!({"type":"EXPIRE","src":dst,"dst":src}).to_string();
            self.peer(src).handle(Input::SocketText(expire), now);
        }
    }

    /// The 1.2.0 peer `id` calls `peer.connect(dst, {serialization: "json"})`.
    fn legacy_dial(&mut self, id: &str, dst: &str, connection: &str) {
        let offer = self.legacy.get_mut(id).unwrap().connect(dst, connection);
        self.route(id, offer);
        self.settle();
    }

    /// The 1.2.0 peer `id` calls `conn.send(value)` on `connection`.
    fn legacy_send(&mut self, id: &str, connection: &str, value: &Value) {
        let message = self.legacy[id].send(connection, value);
        self.channel_log.push((id.to_owned(), connection.to_owned(), message.clone()));
        let now = self.now;
        for peer in self.peers.values_mut() {
            peer.handle(Input::ChannelMessage { connection: connection.to_owned(), message: message.clone() }, now);
        }
        self.settle();
    }

    /// The frames `writer` put on `connection`.
    fn frames_from(&self, writer: &str, connection: &str) -> Vec<ChannelMessage> {
        let of = |(who, conn, _): &&(String, String, ChannelMessage)| who == writer && conn == connection;
        self.channel_log.iter().filter(of).map(|(_, _, message)| message.clone()).collect()
    }

    fn peer(&mut self, id: &str) -> &mut Peer {
        self.peers.get_mut(id).unwrap()
    }

    /// Runs every output until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            let ids: Vec<String> = self.peers.keys().cloned().collect();
            for id in ids {
                while let Some(output) = self.peer(&id).poll_output() {
                    moved = true;
                    self.carry_out(&id, output);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn carry_out(&mut self, id: &str, output: Output) {
        let now = self.now;
        match output {
            Output::SendSocket { text } => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "HEARTBEAT" {
                    return;
                }
                self.route(id, frame);
            }
            Output::CreateConnection { connection, role, .. } => {
                let description = match role {
                    Role::Dialer { .. } => sdp("offer"),
                    Role::Answerer { remote_offer } => {
                        assert_eq!(remote_offer.kind, "offer");
                        sdp("answer")
                    }
                };
                let peer = self.peer(id);
                peer.handle(
                    Input::LocalCandidate { connection: connection.clone(), candidate: json!({"candidate": "c1"}) },
                    now,
                );
                peer.handle(Input::LocalDescription { connection, sdp: description }, now);
            }
            Output::SetRemoteAnswer { connection, .. } => {
                self.answers_set.push((id.to_owned(), connection.clone()));
                // Both ends' channels open once the dialer has the answer.
                let ids: Vec<String> = self.peers.keys().cloned().collect();
                for other in ids {
                    self.peer(&other).handle(Input::ChannelOpen { connection: connection.clone() }, now);
                }
                for legacy in self.legacy.values_mut() {
                    legacy.opened(&connection);
                }
            }
            Output::SendChannel { connection, message } => {
                self.channel_log.push((id.to_owned(), connection.clone(), message.clone()));
                for legacy in self.legacy.values_mut() {
                    legacy.receive(&connection, &message);
                }
                let ids: Vec<String> = self.peers.keys().filter(|it| it.as_str() != id).cloned().collect();
                for other in ids {
                    self.peer(&other).handle(
                        Input::ChannelMessage { connection: connection.clone(), message: message.clone() },
                        now,
                    );
                }
            }
            Output::Event(event) => self.log.push((id.to_owned(), event)),
            Output::OpenSocket { .. }
            | Output::CloseSocket
            | Output::AddRemoteCandidate { .. }
            | Output::CloseConnection { .. } => {}
        }
    }

    fn events_of(&self, id: &str) -> Vec<PeerEvent> {
        self.log.iter().filter(|(who, _)| who == id).map(|(_, e)| e.clone()).collect()
    }

    fn data_of(&self, id: &str, connection: &str) -> Vec<Value> {
        let data = |event: PeerEvent| match event {
            PeerEvent::Data { connection: on, value } if on == connection => Some(value),
            _ => None,
        };
        self.events_of(id).into_iter().filter_map(data).collect()
    }
}

/// A PeerJS 1.2.0 peer with `json` connections, as its sources say (`negotiator.ts`, `dataconnection.ts`):
/// OFFER and ANSWER payloads carry `browser: util.browser`; `send(v)` writes `JSON.stringify(v)` as a text
/// frame; a received frame goes to `JSON.parse(data)`, which throws on an ArrayBuffer (it becomes the text
/// `[object ArrayBuffer]`), and a parsed value with a truthy `__peerData` is taken for a chunk, never data.
#[derive(Default)]
struct PeerJs12 {
    /// Connections set up, and those whose channel is open.
    connections: BTreeSet<String>,
    open: BTreeSet<String>,
    /// What reached the page's `data` handlers, by connection.
    received: Vec<(String, Value)>,
    /// Exceptions thrown inside PeerJS (the page's `pageerror`).
    thrown: Vec<String>,
    /// Values taken for chunks of a chunked message.
    chunks: Vec<Value>,
}

impl PeerJs12 {
    fn connect(&mut self, dst: &str, connection: &str) -> Value {
        self.connections.insert(connection.to_owned());
        json!({"type": "OFFER", "dst": dst, "payload": {
            "sdp": {"sdp": "v=0 offer", "type": "offer"}, "type": "data", "connectionId": connection,
            "metadata": {"peerIds": []}, "browser": "chrome", "label": connection, "reliable": false,
            "serialization": "json",
        }})
    }

    /// A frame from the server; the replies it sends, and the connection that opened, if any.
    fn signal(&mut self, me: &str, frame: &Value) -> (Vec<Value>, Option<String>) {
        let src = frame["src"].as_str().unwrap();
        let connection = frame["payload"]["connectionId"].as_str().unwrap_or_default().to_owned();
        match frame["type"].as_str() {
            Some("OFFER") => {
                assert_eq!(frame["payload"]["serialization"], "json", "{me} is a json page");
                self.connections.insert(connection.clone());
                let answer = json!({"type": "ANSWER", "dst": src, "payload": {
                    "sdp": {"sdp": "v=0 answer", "type": "answer"}, "type": "data", "connectionId": connection,
                    "browser": "chrome",
                }});
                (vec![answer], None)
            }
            Some("ANSWER") if self.connections.contains(&connection) => {
                self.open.insert(connection.clone());
                (Vec::new(), Some(connection))
            }
            _ => (Vec::new(), None),
        }
    }

    fn opened(&mut self, connection: &str) {
        if self.connections.contains(connection) {
            self.open.insert(connection.to_owned());
        }
    }

    fn receive(&mut self, connection: &str, message: &ChannelMessage) {
        if !self.open.contains(connection) {
            return;
        }
        let text = match message {
            ChannelMessage::Text(text) => text.clone(),
            ChannelMessage::Binary(_) => "[object ArrayBuffer]".to_owned(),
        };
        match serde_json::from_str::<Value>(&text) {
            Err(err) => self.thrown.push(format!("SyntaxError: {err} in {text:?}")),
            Ok(value) if value.get("__peerData").is_some_and(|it| !it.is_null() && it != &json!(false)) => {
                self.chunks.push(value)
            }
            Ok(value) => self.received.push((connection.to_owned(), value)),
        }
    }

    fn send(&self, connection: &str, value: &Value) -> ChannelMessage {
        assert!(self.open.contains(connection), "1.2.0 refuses to send before open");
        ChannelMessage::Text(value.to_string())
    }

    fn received_on(&self, connection: &str) -> Vec<Value> {
        self.received.iter().filter(|(on, _)| on == connection).map(|(_, value)| value.clone()).collect()
    }
}

#[test]
fn a_flooding_connection_is_cut_at_arrival_reported_once_and_kept() {
    let mut world = World::new(&["alice", "bob"]);
    let limited = PeerConfig { rate: RateLimit { per_second: 10, burst: 5 }, ..config("bob") };
    world.peers.insert("bob".into(), online_with(limited, Millis(0)));
    let conn = world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    let message = |n: u64| Input::ChannelMessage {
        connection: conn.clone(),
        message: ChannelMessage::Binary(json!({"n": n}).to_string().into_bytes()),
    };
    let bob = world.peer("bob");
    // 50 messages in the same millisecond: the burst passes, the rest is dropped with one report.
    for n in 0..50 {
        bob.handle(message(n), Millis(1_000));
    }
    let out = drain(bob);
    let data = events(&out).into_iter().filter(|it| matches!(it, PeerEvent::Data { .. })).count();
    let reports = events(&out)
        .into_iter()
        .filter(|it| matches!(it, PeerEvent::Ignored { reason } if reason.contains("faster than 10 a second")))
        .count();
    assert_eq!((data, reports), (5, 1));
    // Half a second later, 5 more are allowed; the connection was never closed.
    for n in 50..60 {
        bob.handle(message(n), Millis(1_500));
    }
    let out = drain(bob);
    assert_eq!(events(&out).into_iter().filter(|it| matches!(it, PeerEvent::Data { .. })).count(), 5);
    assert!(!out.iter().any(|it| matches!(it, Output::CloseConnection { .. })));
    assert!(bob.send(&conn, &json!("still open")).is_ok());
}

#[test]
fn two_peers_connect_and_exchange_values_through_the_server() {
    let mut world = World::new(&["alice", "bob"]);
    let metadata = json!({"peerIds": ["secure-p2p-multichat-alice"]});
    let options = DialOptions { metadata: metadata.clone(), ..DialOptions::default() };
    let conn = world.peer("alice").connect("bob", options, b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    // The OFFER carries what a stock receiver needs, and the candidate waited for it.
    let offer = &world.relayed[0];
    assert_eq!(offer["type"], "OFFER");
    assert_eq!(offer["payload"]["serialization"], "json");
    assert_eq!(offer["payload"]["type"], "data");
    assert_eq!(offer["payload"]["label"], json!(conn));
    assert_eq!(offer["payload"]["metadata"], metadata);
    assert_eq!(offer["payload"]["sdp"]["type"], "offer");
    assert_eq!(world.relayed[1]["type"], "CANDIDATE");
    assert!(conn.starts_with("dc_") && conn.len() == 13);

    let opened = |events: Vec<PeerEvent>| events.into_iter().find(|e| matches!(e, PeerEvent::ConnectionOpen { .. }));
    assert_eq!(
        opened(world.events_of("bob")),
        Some(PeerEvent::ConnectionOpen {
            connection: conn.clone(),
            peer: "alice".into(),
            metadata,
            outgoing: false,
            serialization: Serialization::Json
        })
    );
    assert!(matches!(opened(world.events_of("alice")), Some(PeerEvent::ConnectionOpen { outgoing: true, .. })));
    // Each side keeps the descriptions it sent and applied, for the identity handshake.
    assert_eq!(world.peer("alice").session_descriptions(&conn), Some(("v=0 offer", "v=0 answer")));
    assert_eq!(world.peer("bob").session_descriptions(&conn), Some(("v=0 answer", "v=0 offer")));

    let text = json!({"type":"chat","chat":{"sender":"alice","message":"héllo 👋","timestamp":1}});
    world.peer("alice").send(&conn, &text).unwrap();
    world.peer("bob").send(&conn, &json!("back")).unwrap();
    world.settle();
    assert!(world.events_of("bob").contains(&PeerEvent::Data { connection: conn.clone(), value: text }));
    assert!(world.events_of("alice").contains(&PeerEvent::Data { connection: conn.clone(), value: json!("back") }));

    world.peer("alice").close(&conn);
    world.settle();
    assert!(world.events_of("bob").iter().any(|e| matches!(e,
        PeerEvent::ConnectionClosed { was_open: true, error: Some(PeerError::ClosedByPeer(peer)), .. } if peer == "alice")));
    assert_eq!(world.peer("bob").send(&conn, &json!(1)), Err(PeerError::NotOpen));
}

#[test]
fn file_chunks_go_as_raw_bytes_to_a_binary_frame_peer_and_never_to_peerjs_12() {
    let mut world = World::new(&["alice", "bob"]);
    world.legacy.insert("dave".into(), PeerJs12::default());
    let to_bob = world.peer("alice").connect("bob", DialOptions::default(), b"bbbbbbbbbb", Millis(0)).unwrap();
    let to_dave = world.peer("alice").connect("dave", DialOptions::default(), b"aaaaaaaaaa", Millis(0)).unwrap();
    world.settle();
    let chunk = multichat_core::transfer::wire::encode_chunk(
        &multichat_core::transfer::TransferId::from_random([5; 16]),
        0,
        b"file bytes",
    );
    world.peer("alice").send_bytes(&to_bob, chunk.clone()).unwrap();
    assert!(matches!(world.peer("alice").send_bytes(&to_dave, chunk.clone()), Err(PeerError::Framing(_))));
    world.settle();
    assert!(world.events_of("bob").contains(&PeerEvent::Bytes { connection: to_bob.clone(), bytes: chunk.clone() }));
    assert_eq!(world.frames_from("alice", &to_dave), Vec::<ChannelMessage>::new(), "nothing reached 1.2.0");
    assert_eq!(world.legacy["dave"].thrown, Vec::<String>::new());
    assert_eq!(world.peer("bob").send_bytes("dc_nothing", chunk), Err(PeerError::NotOpen));
}

fn chat(sender: &str, message: &str) -> Value {
    json!({"type": "chat", "chat": {"sender": sender, "message": message, "timestamp": 1_700_000_000_000u64}})
}

#[test]
fn json_speaks_each_peers_release_whoever_dials() {
    // alice is us; bob is another multichat (or a PeerJS 1.5 page); dave runs PeerJS 1.2.0.
    let mut world = World::new(&["alice", "bob"]);
    world.legacy.insert("dave".into(), PeerJs12::default());

    // We dial dave: his ANSWER tells.
    let to_dave = world.peer("alice").connect("dave", DialOptions::default(), b"aaaaaaaaaa", Millis(0)).unwrap();
    world.settle();
    let answer = world.relayed.iter().find(|it| it["type"] == "ANSWER").unwrap();
    assert_eq!(answer["payload"]["browser"], "chrome");
    assert_eq!(world.peer("alice").json_frames(&to_dave), Some(JsonFrames::Text));
    // Dave dials us: his OFFER tells.
    world.legacy_dial("dave", "alice", "dc_fromdave01");
    let from_dave = "dc_fromdave01".to_owned();
    assert!(world.events_of("alice").iter().any(|e| matches!(e,
        PeerEvent::ConnectionOpen { connection, outgoing: false, .. } if *connection == from_dave)));
    assert_eq!(world.peer("alice").json_frames(&from_dave), Some(JsonFrames::Text));
    // Bob, without a `browser` field either way, gets binary frames in both directions.
    let to_bob = world.peer("alice").connect("bob", DialOptions::default(), b"bbbbbbbbbb", Millis(0)).unwrap();
    let from_bob = world.peer("bob").connect("alice", DialOptions::default(), b"cccccccccc", Millis(0)).unwrap();
    world.settle();
    // What we send carries no `browser` field: another multichat must not take us for 1.2.
    assert!(world.relayed.iter().filter(|it| it["src"] == "alice").all(|it| it["payload"].get("browser").is_none()));

    for (connection, text) in [(&to_dave, "to dave"), (&from_dave, "to dave, who dialed"), (&to_bob, "to bob")] {
        world.peer("alice").send(connection, &chat("alice", text)).unwrap();
    }
    world.peer("alice").send(&from_bob, &chat("alice", "to bob, who dialed")).unwrap();
    world.settle();
    let dave = &world.legacy["dave"];
    assert_eq!(dave.received_on(&to_dave), [chat("alice", "to dave")]);
    assert_eq!(dave.received_on(&from_dave), [chat("alice", "to dave, who dialed")]);
    assert_eq!(dave.thrown, Vec::<String>::new());
    // The golden frames: dave's are text, bob's are the UTF-8 bytes of the same JSON.
    let golden = r#"{"chat":{"message":"to dave","sender":"alice","timestamp":1700000000000},"type":"chat"}"#;
    assert_eq!(world.frames_from("alice", &to_dave), [ChannelMessage::Text(golden.into())]);
    let golden = r#"{"chat":{"message":"to bob","sender":"alice","timestamp":1700000000000},"type":"chat"}"#;
    assert_eq!(world.frames_from("alice", &to_bob), [ChannelMessage::Binary(golden.as_bytes().to_vec())]);
    assert!(matches!(&world.frames_from("alice", &from_bob)[..], [ChannelMessage::Binary(_)]));
    assert_eq!(world.data_of("bob", &to_bob), [chat("alice", "to bob")]);
    assert_eq!(world.data_of("bob", &from_bob), [chat("alice", "to bob, who dialed")]);

    // Dave's text frames reach us on both connections.
    world.legacy_send("dave", &to_dave, &chat("dave", "hi alice"));
    world.legacy_send("dave", &from_dave, &chat("dave", "hi again"));
    assert_eq!(world.data_of("alice", &to_dave), [chat("dave", "hi alice")]);
    assert_eq!(world.data_of("alice", &from_dave), [chat("dave", "hi again")]);
    assert_eq!(world.peer("alice").json_frames(&to_dave), Some(JsonFrames::Text), "confirmed by his frames");

    // Closing says nothing dave would misread (1.2.0 has no close signal); bob gets the 1.5 signal.
    world.peer("alice").close(&to_dave);
    world.peer("alice").close(&to_bob);
    world.settle();
    assert_eq!(world.frames_from("alice", &to_dave).len(), 1, "no close frame to 1.2.0");
    assert_eq!(world.legacy["dave"].chunks, Vec::<Value>::new());
    assert_eq!(world.frames_from("alice", &to_bob).len(), 2, "the 1.5 flush-close signal");
    assert!(world.events_of("bob").iter().any(|e| matches!(e,
        PeerEvent::ConnectionClosed { connection, error: Some(PeerError::ClosedByPeer(_)), .. } if *connection == to_bob)));
}

#[test]
fn the_frames_a_peer_writes_correct_what_its_signaling_said() {
    let answer = |conn: &str, browser: Option<&str>| {
        let mut payload = json!({"sdp": {"sdp": "v=0", "type": "answer"}, "type": "data", "connectionId": conn});
        if let Some(browser) = browser {
            payload["browser"] = json!(browser);
        }
        json!({"type": "ANSWER", "src": "carol", "dst": "alice", "payload": payload}).to_string()
    };
    let mut alice = online("alice", Millis(0));
    // A peer that said nothing (taken for 1.5) but writes text gets text from then on.
    let quiet = alice.connect("carol", DialOptions::default(), b"dddddddddd", Millis(0)).unwrap();
    alice.handle(Input::SocketText(answer(&quiet, None)), Millis(1));
    alice.handle(Input::ChannelOpen { connection: quiet.clone() }, Millis(2));
    assert_eq!(alice.json_frames(&quiet), Some(JsonFrames::Binary));
    let text = ChannelMessage::Text(r#"{"type":"chat"}"#.into());
    alice.handle(Input::ChannelMessage { connection: quiet.clone(), message: text }, Millis(3));
    assert_eq!(alice.json_frames(&quiet), Some(JsonFrames::Text));
    drain(&mut alice);
    alice.send(&quiet, &json!({"a": 1})).unwrap();
    assert!(drain(&mut alice).contains(&Output::SendChannel {
        connection: quiet.clone(),
        message: ChannelMessage::Text(r#"{"a":1}"#.into())
    }));
    // One with a `browser` field that writes binary frames gets binary.
    let odd = alice.connect("carol", DialOptions::default(), b"eeeeeeeeee", Millis(0)).unwrap();
    alice.handle(Input::SocketText(answer(&odd, Some("firefox"))), Millis(1));
    alice.handle(Input::ChannelOpen { connection: odd.clone() }, Millis(2));
    assert_eq!(alice.json_frames(&odd), Some(JsonFrames::Text));
    alice.handle(
        Input::ChannelMessage { connection: odd.clone(), message: ChannelMessage::Binary(b"{}".to_vec()) },
        Millis(3),
    );
    assert_eq!(alice.json_frames(&odd), Some(JsonFrames::Binary));
    // A frame that is not JSON proves nothing and changes nothing.
    alice.handle(
        Input::ChannelMessage { connection: odd.clone(), message: ChannelMessage::Text("{".into()) },
        Millis(4),
    );
    assert_eq!(alice.json_frames(&odd), Some(JsonFrames::Binary));
    // A forged ANSWER from someone else does not touch the connection.
    let forged = answer(&odd, Some("chrome")).replace(r#""src":"carol""#, r#""src":"mallory""#);
    alice.handle(Input::SocketText(forged), Millis(5));
    assert_eq!(alice.json_frames(&odd), Some(JsonFrames::Binary));
    // Binary and raw connections are untouched by any of it.
    let packed = alice
        .connect(
            "carol",
            DialOptions { serialization: Serialization::Binary, ..DialOptions::default() },
            b"ffffffffff",
            Millis(0),
        )
        .unwrap();
    alice.handle(Input::SocketText(answer(&packed, Some("chrome"))), Millis(1));
    alice.handle(Input::ChannelOpen { connection: packed.clone() }, Millis(2));
    drain(&mut alice);
    alice.send(&packed, &json!("x")).unwrap();
    assert!(matches!(&drain(&mut alice)[..], [Output::SendChannel { message: ChannelMessage::Binary(_), .. }]));
}

#[test]
fn a_dial_to_nobody_fails_as_unavailable() {
    let mut world = World::new(&["alice"]);
    let conn = world.peer("alice").connect("ghost", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    let closed = world.events_of("alice").into_iter().find(|e| matches!(e, PeerEvent::ConnectionClosed { .. }));
    assert_eq!(
        closed,
        Some(PeerEvent::ConnectionClosed {
            connection: conn,
            peer: "ghost".into(),
            outgoing: true,
            was_open: false,
            error: Some(PeerError::PeerUnavailable("ghost".into()))
        })
    );
}

#[test]
fn a_silent_peer_is_dropped_after_ice_grace() {
    let mut world = World::new(&["alice", "bob"]);
    let conn = world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    let alice = world.peer("alice");
    alice.handle(Input::Ice { connection: conn.clone(), state: IceState::Disconnected }, Millis(5_000));
    // A blip that recovers changes nothing.
    alice.handle(Input::Ice { connection: conn.clone(), state: IceState::Working }, Millis(6_000));
    alice.handle(Input::Ice { connection: conn.clone(), state: IceState::Disconnected }, Millis(7_000));
    alice.handle_timeout(Millis(8_999));
    assert!(!drain(alice).iter().any(|it| matches!(it, Output::CloseConnection { .. })));
    assert_eq!(alice.poll_timeout(), Some(Millis(9_000)));
    alice.handle_timeout(Millis(9_000));
    let out = drain(alice);
    assert!(out.contains(&Output::CloseConnection { connection: conn.clone() }));
    assert!(events(&out).contains(&PeerEvent::ConnectionClosed {
        connection: conn,
        peer: "bob".into(),
        outgoing: true,
        was_open: true,
        error: Some(PeerError::PeerGone("bob".into()))
    }));
}

#[test]
fn a_connection_that_never_opens_fails() {
    let mut alice = online("alice", Millis(0));
    let conn = alice.connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    drain(&mut alice);
    alice.handle_timeout(Millis(20_000));
    assert!(events(&drain(&mut alice)).contains(&PeerEvent::ConnectionClosed {
        connection: conn,
        peer: "bob".into(),
        outgoing: true,
        was_open: false,
        error: Some(PeerError::IceFailed("bob".into()))
    }));
}

#[test]
fn candidates_before_their_offer_are_replayed() {
    let mut bob = online("bob", Millis(0));
    let candidate = r#"{"type":"CANDIDATE","src":"alice","dst":"bob","payload":{"candidate":{"candidate":"c"},"type":"data","connectionId":"dc_1"}}"#;
    bob.handle(Input::SocketText(candidate.into()), Millis(1));
    assert!(drain(&mut bob).is_empty());
    let offer = r#"{"type":"OFFER","src":"alice","dst":"bob","payload":{"sdp":{"sdp":"v=0","type":"offer"},"type":"data","connectionId":"dc_1","serialization":"binary"}}"#;
    bob.handle(Input::SocketText(offer.into()), Millis(2));
    let out = drain(&mut bob);
    assert!(matches!(&out[0], Output::CreateConnection { role: Role::Answerer { .. }, .. }));
    assert_eq!(out[1], Output::AddRemoteCandidate { connection: "dc_1".into(), candidate: json!({"candidate":"c"}) });
}

#[test]
fn signaling_for_someone_elses_connection_is_ignored() {
    let mut world = World::new(&["alice", "bob"]);
    let conn = world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    drain(world.peer("alice"));
    let forged = json!({"type":"ANSWER","src":"mallory","dst":"alice","payload":{"sdp":{"sdp":"x","type":"answer"},"type":"data","connectionId":conn}});
    world.peer("alice").handle(Input::SocketText(forged.to_string()), Millis(1));
    let out = drain(world.peer("alice"));
    assert!(matches!(&out[..], [Output::Event(PeerEvent::Ignored { .. })]));
}

#[test]
fn leave_closes_every_connection_to_that_peer() {
    let mut world = World::new(&["alice", "bob"]);
    world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    world.peer("alice").handle(Input::SocketText(r#"{"type":"LEAVE","src":"bob","dst":"alice"}"#.into()), Millis(1));
    let out = drain(world.peer("alice"));
    assert!(matches!(&events(&out)[..], [PeerEvent::ConnectionClosed { error: Some(PeerError::ClosedByPeer(_)), .. }]));
    assert_eq!(world.peer("alice").open_connections().count(), 0);
}

#[test]
fn unknown_serializations_and_media_offers_are_refused() {
    let mut bob = online("bob", Millis(0));
    for payload in [
        r#"{"sdp":{"sdp":"v=0","type":"offer"},"type":"data","connectionId":"dc_1","serialization":"msgpack"}"#,
        r#"{"sdp":{"sdp":"v=0","type":"offer"},"type":"media","connectionId":"mc_1"}"#,
    ] {
        let offer = format!(r#"{{"type":"OFFER","src":"alice","dst":"bob","payload":{payload}}}"#);
        bob.handle(Input::SocketText(offer), Millis(1));
        assert!(matches!(&drain(&mut bob)[..], [Output::Event(PeerEvent::Ignored { .. })]));
    }
}

#[test]
fn destroy_closes_everything_once() {
    let mut world = World::new(&["alice", "bob"]);
    world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
    world.settle();
    let alice = world.peer("alice");
    alice.destroy();
    let out = drain(alice);
    assert!(out.contains(&Output::CloseSocket));
    assert!(out.iter().any(|it| matches!(it, Output::SendChannel { .. })), "the close signal goes out first");
    assert!(events(&out).contains(&PeerEvent::Signaling(SignalingState::Destroyed)));
    alice.handle(Input::SocketText(r#"{"type":"OPEN"}"#.into()), Millis(1));
    alice.handle_timeout(Millis(100_000));
    assert!(drain(alice).is_empty());
}

proptest! {
    /// Whatever a hostile server or peer sends, the peer answers with events, never a panic.
    #[test]
    fn hostile_input_never_panics(frames in proptest::collection::vec(any::<String>(), 0..20), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut world = World::new(&["alice", "bob"]);
        let conn = world.peer("alice").connect("bob", DialOptions::default(), b"abcdefghij", Millis(0)).unwrap();
        world.settle();
        let alice = world.peer("alice");
        for text in frames {
            alice.handle(Input::SocketText(text), Millis(1));
        }
        alice.handle(Input::ChannelMessage { connection: conn.clone(), message: ChannelMessage::Binary(bytes.clone()) }, Millis(2));
        alice.handle(Input::ChannelMessage { connection: conn, message: ChannelMessage::Text(String::from_utf8_lossy(&bytes).into()) }, Millis(2));
        drain(alice);
    }

    /// Structurally valid frames with arbitrary field values never panic either.
    #[test]
    fn hostile_signaling_fields_never_panic(kind in "(OFFER|ANSWER|CANDIDATE|LEAVE|EXPIRE|OPEN|ERROR|ID-TAKEN)", src in any::<String>(), conn in any::<String>(), ser in any::<String>()) {
        let mut bob = online("bob", Millis(0));
        let frame = json!({"type": kind, "src": src, "payload": {"sdp": {"sdp": "v=0", "type": "offer"}, "type": "data", "connectionId": conn, "serialization": ser, "candidate": {}}});
        bob.handle(Input::SocketText(frame.to_string()), Millis(1));
        drain(&mut bob);
    }
}

proptest! {
    /// The signaling parser on its own, with JSON shaped like the server's frames and hostile values inside.
    #[test]
    fn the_signaling_parser_never_panics(
        kind in "(OFFER|ANSWER|CANDIDATE|LEAVE|EXPIRE|OPEN|ERROR|ID-TAKEN|INVALID-KEY|HEARTBEAT|[A-Z]{0,6})",
        fields in proptest::collection::vec(("(src|dst|payload|sdp|type|connectionId|serialization|metadata|candidate|msg|label|reliable)", prop_oneof![
            Just(json!(null)), any::<i64>().prop_map(|it| json!(it)), any::<String>().prop_map(|it| json!(it)), Just(json!({})), Just(json!([])),
            Just(json!({"sdp": {"sdp": 7, "type": []}, "type": "data", "connectionId": {}})),
        ]), 0..6),
    ) {
        let mut frame = serde_json::Map::new();
        frame.insert("type".into(), json!(kind));
        for (name, value) in fields {
            let target = if frame.get("payload").is_some_and(Value::is_object) && name != "payload" { frame["payload"].as_object_mut().unwrap() } else { &mut frame };
            target.insert(name, value);
        }
        let _ = multichat_core::peerjs::signal::ServerMessage::parse(&Value::Object(frame).to_string());
    }
}
