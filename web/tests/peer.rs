//! Our PeerJS client in a real browser: two [`PeerHost`]s in one page register with the official server
//! (started on 127.0.0.1:9200 by `cargo xtask test`), connect with each serialization and exchange
//! messages of 10 bytes, 15 KB and 200 KB both ways over real WebSocket and WebRTC.
//!
//! `web/webdriver.json` gives the runner's Chromium `--allow-loopback-in-peer-connection` and
//! `--use-fake-ui-for-media-stream`: with both, Chrome offers plain 127.0.0.1 host candidates, the only
//! route in the loopback-only namespace.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use multichat_core::peerjs::{DialOptions, PeerConfig, PeerError, PeerEvent, Serialization, SignalingState};
use multichat_core::settings::SignalingServer;
use multichat_web::peer_host::PeerHost;
use multichat_web::random_bytes;
use multichat_web::ws::{Socket, SocketEvent};
use serde_json::{Value, json};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn server() -> SignalingServer {
    SignalingServer { host: "127.0.0.1".into(), port: 9200, path: "/myapp".into(), key: "peerjs".into(), secure: false }
}

fn unique(name: &str) -> String {
    let random = random_bytes::<4>().unwrap();
    format!("{name}-{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

type Events = Rc<RefCell<Vec<PeerEvent>>>;

fn start(id: &str) -> (PeerHost, Events) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let config = PeerConfig {
        id: id.to_owned(),
        token: unique("token"),
        server: server(),
        ice_servers: Vec::new(),
        ice_transport_policy: Default::default(),
        limits: Default::default(),
        rate: Default::default(),
    };
    let host = PeerHost::start(config, move |event| sink.borrow_mut().push(event)).unwrap();
    (host, events)
}

async fn wait_for(what: &str, events: &Events, found: impl Fn(&PeerEvent) -> bool) {
    for _ in 0..200 {
        if events.borrow().iter().any(&found) {
            return;
        }
        TimeoutFuture::new(50).await;
    }
    panic!("timed out waiting for {what}; events: {:?}", events.borrow().iter().map(short).collect::<Vec<_>>());
}

/// Events without their (possibly 200 KB) payloads, for failure messages.
fn short(event: &PeerEvent) -> String {
    match event {
        PeerEvent::Data { connection, value } => format!("Data({connection}, {} chars)", value.to_string().len()),
        other => format!("{other:?}"),
    }
}

/// About `bytes` bytes of UTF-8 text with 1-, 2-, 3- and 4-byte characters (ASCII, accents, CJK, emoji).
fn text_of(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes);
    for c in "aé中😀".chars().cycle() {
        if text.len() + c.len_utf8() > bytes {
            break;
        }
        text.push(c);
    }
    text
}

#[wasm_bindgen_test]
async fn the_socket_opens_and_the_server_says_open() {
    let id = unique("socket");
    let url = multichat_core::peerjs::signal::socket_url(&server(), &id, "t0ken");
    let seen: Rc<RefCell<Vec<SocketEvent>>> = Rc::default();
    let sink = seen.clone();
    let _socket = Socket::open(&url, move |event| sink.borrow_mut().push(event)).unwrap();
    for _ in 0..100 {
        if seen.borrow().iter().any(|it| matches!(it, SocketEvent::Text(text) if text.contains("OPEN"))) {
            return;
        }
        TimeoutFuture::new(50).await;
    }
    panic!("no OPEN: {:?}", seen.borrow());
}

#[wasm_bindgen_test]
async fn two_hosts_exchange_messages_with_every_serialization() {
    let (alice_id, bob_id) = (unique("alice"), unique("bob"));
    let (alice, alice_events) = start(&alice_id);
    let (bob, bob_events) = start(&bob_id);
    let online = |e: &PeerEvent| *e == PeerEvent::Signaling(SignalingState::Online);
    wait_for("alice online", &alice_events, online).await;
    wait_for("bob online", &bob_events, online).await;

    for serialization in [Serialization::Json, Serialization::Binary, Serialization::Raw] {
        let options =
            DialOptions { metadata: json!({"case": serialization.as_offer()}), serialization, reliable: true };
        let conn = alice.connect(&bob_id, options).unwrap();
        let opened = |e: &PeerEvent| matches!(e, PeerEvent::ConnectionOpen { connection, .. } if *connection == conn);
        wait_for("alice's channel", &alice_events, opened).await;
        wait_for("bob's channel", &bob_events, |e| {
            matches!(e, PeerEvent::ConnectionOpen { connection, metadata, serialization: s, outgoing: false, .. }
                if *connection == conn && metadata["case"] == serialization.as_offer() && *s == serialization)
        })
        .await;
        for size in [10, 15_000, 200_000] {
            let message = Value::String(text_of(size));
            for (from, to_events) in [(&alice, &bob_events), (&bob, &alice_events)] {
                let sent = from.send(&conn, &message);
                if serialization == Serialization::Json && size > 16_299 {
                    // What the stock client does too: json messages of 16300 bytes or more are refused.
                    assert!(matches!(sent, Err(PeerError::Framing(_))), "{sent:?}");
                    continue;
                }
                sent.unwrap();
                let arrived = |e: &PeerEvent| matches!(e, PeerEvent::Data { connection, value } if *connection == conn && *value == message);
                wait_for(&format!("{size} bytes over {}", serialization.as_offer()), to_events, arrived).await;
            }
        }
        alice.close(&conn);
        wait_for(
            "bob to hear the close",
            &bob_events,
            |e| matches!(e, PeerEvent::ConnectionClosed { connection, .. } if *connection == conn),
        )
        .await;
    }
    alice.destroy();
    bob.destroy();
}
