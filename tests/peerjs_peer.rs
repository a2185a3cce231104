//! The PeerJS peer state machine: registration, heartbeats, reconnects, and two peers connecting through a
//! simulated official server (which routes by `dst` and rewrites `src`, as `peer` 1.0 does).

use std::collections::BTreeMap;

use multichat_core::peerjs::signal::SessionDescription;
use multichat_core::peerjs::{
    ChannelMessage, DialOptions, IceState, Input, Output, Peer, PeerConfig, PeerError, PeerEvent, RateLimit, Role,
    Serialization, SignalingState,
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
        World { peers, answers_set: Vec::new(), now: Millis(0), log: Vec::new(), relayed: Vec::new() }
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
                let mut frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "HEARTBEAT" {
                    return;
                }
                let dst = frame["dst"].as_str().unwrap().to_owned();
                frame["src"] = json!(id);
                self.relayed.push(frame.clone());
                match self.peers.get_mut(&dst) {
                    Some(peer) => peer.handle(Input::SocketText(frame.to_string()), now),
                    None => {
                        let expire = json!({"type":"EXPIRE","src":dst,"dst":id}).to_string();
                        self.peer(id).handle(Input::SocketText(expire), now);
                    }
                }
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
            }
            Output::SendChannel { connection, message } => {
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
