//! A JS-facing handle on our PeerJS client, built only for benchmarks (`--features bench-api`): it lets a
//! plain web page run the same Rust peer the extension's engine runs, so `cargo xtask bench` can compare it
//! with the stock client like for like, without the extension's internal messaging in the way.

use multichat_core::peerjs::{DialOptions, PeerConfig, PeerEvent, Serialization, SignalingState, signal};
use multichat_core::settings::SignalingServer;
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;

use crate::peer_host::PeerHost;
use crate::{convert, random_bytes};

#[wasm_bindgen]
pub struct BenchPeer {
    host: PeerHost,
}

#[wasm_bindgen]
impl BenchPeer {
    /// Registers `id` with the PeerJS server at `host:port` + `path` (plain `ws://`, no ICE servers).
    /// `on_event` gets `{kind: 'online' | 'open' | 'data' | 'closed' | 'ignored', ...}` objects.
    #[wasm_bindgen(constructor)]
    pub fn new(
        id: String,
        host: String,
        port: u16,
        path: String,
        on_event: js_sys::Function,
    ) -> Result<BenchPeer, JsValue> {
        let random = random_bytes::<12>().map_err(|err| JsValue::from_str(&err.to_string()))?;
        let config = PeerConfig {
            id,
            token: signal::random_token(&random),
            server: SignalingServer { host, port, path, key: "peerjs".to_owned(), secure: false },
            ice_servers: Vec::new(),
            ice_transport_policy: Default::default(),
            limits: Default::default(),
            rate: Default::default(),
        };
        let host = PeerHost::start(config, move |event| {
            let event = match event {
                PeerEvent::Signaling(SignalingState::Online) => json!({ "kind": "online" }),
                PeerEvent::Signaling(other) => json!({ "kind": "signaling", "state": format!("{other:?}") }),
                PeerEvent::ConnectionOpen { connection, peer, .. } => {
                    json!({ "kind": "open", "connection": connection, "peer": peer })
                }
                PeerEvent::Data { connection, value } => {
                    json!({ "kind": "data", "connection": connection, "value": value })
                }
                PeerEvent::Bytes { connection, bytes } => {
                    json!({ "kind": "bytes", "connection": connection, "length": bytes.len() })
                }
                PeerEvent::ConnectionClosed { connection, error, .. } => {
                    json!({ "kind": "closed", "connection": connection, "error": error.map(|it| it.to_string()) })
                }
                PeerEvent::Ignored { reason } => json!({ "kind": "ignored", "reason": reason }),
            };
            if let Ok(event) = convert::to_js(&event) {
                let _ = on_event.call1(&JsValue::NULL, &event);
            }
        })
        .map_err(|err| JsValue::from_str(&err.to_string()))?;
        Ok(BenchPeer { host })
    }

    /// Dials `peer` with `serialization` (`json`, `binary` or `raw`); returns the connection id.
    pub fn connect(&self, peer: &str, serialization: &str) -> Result<String, JsValue> {
        let serialization =
            Serialization::from_offer(serialization).map_err(|err| JsValue::from_str(&err.to_string()))?;
        let options = DialOptions { metadata: Value::Null, serialization, reliable: true };
        self.host.connect(peer, options).map_err(|err| JsValue::from_str(&err.to_string()))
    }

    pub fn send(&self, connection: &str, value: JsValue) -> Result<(), JsValue> {
        let value: Value = convert::from_js(value).map_err(|err| JsValue::from_str(&err.to_string()))?;
        self.host.send(connection, &value).map_err(|err| JsValue::from_str(&err.to_string()))
    }

    /// Bytes waiting to go out on `connection` (its channel's buffer and our queue).
    pub fn queued_bytes(&self, connection: &str) -> f64 {
        self.host.buffered_bytes(connection) as f64
    }

    /// Every link's send queue and the bound (see `PeerHost::send_queues`).
    pub fn send_queues(&self) -> Result<JsValue, JsValue> {
        convert::to_js(&self.host.send_queues()).map_err(|err| JsValue::from_str(&err.to_string()))
    }

    pub fn close(&self, connection: &str) {
        self.host.close(connection);
    }

    pub fn destroy(&self) {
        self.host.destroy();
    }
}
