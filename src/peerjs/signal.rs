//! The signaling server's side of PeerJS: where its WebSocket is, what the frames on it look like, and the
//! rules for ids, tokens and connection ids.
//!
//! Frames arrive as text from a server we do not control. They are parsed in two steps (ripgrep's
//! low/high args): serde reads a loose [`RawFrame`], then [`ServerMessage::parse`] checks it and builds a
//! typed message. Anything unexpected is a [`SignalError`], never a panic.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::settings::SignalingServer;

/// The protocol version the stock client announces; the server ignores it, but a proxy might log it.
const CLIENT_VERSION: &str = "1.5.5";

/// Longest id, token or connection id we accept from the server. The server sets no limit; we do, so a
/// hostile server cannot make us hold megabytes per message.
const MAX_ID_CHARS: usize = 256;

/// What the signaling server told us, checked.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    /// Our id is registered.
    Open,
    /// Someone else holds the id (with another token).
    IdTaken,
    /// The server refused us; `message` is its text ("Invalid key provided", a full server...).
    Error {
        message: String,
    },
    Offer {
        src: String,
        offer: Offer,
    },
    Answer {
        src: String,
        connection: String,
        sdp: SessionDescription,
        /// The answerer's `browser` field; see [`Offer::browser`].
        browser: Option<String>,
    },
    Candidate {
        src: String,
        connection: String,
        candidate: Value,
    },
    /// `src` left the server: every connection to it is over.
    Leave {
        src: String,
    },
    /// A message we sent to `src` waited 5 s at the server and `src` never came: it is offline.
    Expire {
        src: String,
    },
    /// A frame type we have no use for (HEARTBEAT echoes, future types); ignored.
    Other {
        kind: String,
    },
}

/// An `RTCSessionDescriptionInit` as PeerJS carries it: `{sdp, type}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    pub sdp: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The payload of an OFFER for a data connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub connection: String,
    pub sdp: SessionDescription,
    /// Whatever the dialer attached; `Value::Null` when absent.
    pub metadata: Value,
    /// The data channel label (PeerJS uses the connection id when no label was given).
    pub label: String,
    /// Ordered delivery; PeerJS channels are always fully reliable, this only picks ordering.
    pub reliable: bool,
    /// The serialization exactly as announced (`json`, `binary`, `raw`, ...); checked by the peer.
    pub serialization: String,
    /// The `browser` field PeerJS 1.0-1.4 put in every OFFER and ANSWER (`"chrome"`, `"firefox"`, ...) and
    /// 1.5 dropped; its presence tells which `json` frames the peer reads (see
    /// [`JsonFrames`](super::framing::JsonFrames)). A non-string value is kept as its JSON text. We never send one:
    /// no PeerJS release reads it, and another multichat would take us for a 1.4 peer.
    pub browser: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("the signaling frame is not JSON: {0}")]
    NotJson(String),
    #[error("the signaling frame has no `{0}`")]
    Missing(&'static str),
    #[error("the signaling frame's `{0}` has the wrong type or is too long")]
    Invalid(&'static str),
    #[error("the OFFER is for a media call; multichat only takes data connections")]
    MediaOffer,
}

/// A frame as serde sees it, before any checks.
#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    src: Option<Value>,
    payload: Option<Value>,
}

impl ServerMessage {
    pub fn parse(text: &str) -> Result<ServerMessage, SignalError> {
        let raw: RawFrame = serde_json::from_str(text).map_err(|err| SignalError::NotJson(err.to_string()))?;
        let kind = raw.kind.ok_or(SignalError::Missing("type"))?;
        let payload = raw.payload.unwrap_or(Value::Null);
        let src = || id_field(raw.src.as_ref(), "src");
        Ok(match kind.as_str() {
            "OPEN" => ServerMessage::Open,
            "ID-TAKEN" => ServerMessage::IdTaken,
            "INVALID-KEY" => ServerMessage::Error { message: "Invalid key provided".to_owned() },
            "ERROR" => {
                let message = payload.get("msg").and_then(Value::as_str).unwrap_or("unknown error");
                ServerMessage::Error { message: message.chars().take(300).collect() }
            }
            "OFFER" => ServerMessage::Offer { src: src()?, offer: parse_offer(&payload)? },
            "ANSWER" => ServerMessage::Answer {
                src: src()?,
                connection: id_field(payload.get("connectionId"), "connectionId")?,
                sdp: parse_sdp(&payload)?,
                browser: browser_field(&payload),
            },
            "CANDIDATE" => {
                let candidate = payload.get("candidate").ok_or(SignalError::Missing("candidate"))?;
                if !candidate.is_object() {
                    return Err(SignalError::Invalid("candidate"));
                }
                ServerMessage::Candidate {
                    src: src()?,
                    connection: id_field(payload.get("connectionId"), "connectionId")?,
                    candidate: candidate.clone(),
                }
            }
            "LEAVE" => ServerMessage::Leave { src: src()? },
            "EXPIRE" => ServerMessage::Expire { src: src()? },
            _ => ServerMessage::Other { kind: kind.chars().take(40).collect() },
        })
    }
}

fn id_field(value: Option<&Value>, name: &'static str) -> Result<String, SignalError> {
    let text = value.ok_or(SignalError::Missing(name))?.as_str().ok_or(SignalError::Invalid(name))?;
    if text.is_empty() || text.chars().count() > MAX_ID_CHARS {
        return Err(SignalError::Invalid(name));
    }
    Ok(text.to_owned())
}

fn parse_sdp(payload: &Value) -> Result<SessionDescription, SignalError> {
    let sdp = payload.get("sdp").ok_or(SignalError::Missing("sdp"))?;
    serde_json::from_value(sdp.clone()).map_err(|_| SignalError::Invalid("sdp"))
}

fn parse_offer(payload: &Value) -> Result<Offer, SignalError> {
    if payload.get("type").and_then(Value::as_str) == Some("media") {
        return Err(SignalError::MediaOffer);
    }
    let connection = id_field(payload.get("connectionId"), "connectionId")?;
    let label = match payload.get("label") {
        None | Some(Value::Null) => connection.clone(),
        Some(other) => id_field(Some(other), "label")?,
    };
    let serialization = match payload.get("serialization") {
        None | Some(Value::Null) => "default".to_owned(),
        Some(other) => id_field(Some(other), "serialization")?,
    };
    Ok(Offer {
        sdp: parse_sdp(payload)?,
        metadata: payload.get("metadata").cloned().unwrap_or(Value::Null),
        label,
        reliable: payload.get("reliable").and_then(Value::as_bool).unwrap_or(false),
        serialization,
        browser: browser_field(payload),
        connection,
    })
}

/// The `browser` field of an OFFER or ANSWER payload, if there is one (any value; only presence matters).
fn browser_field(payload: &Value) -> Option<String> {
    let text = match payload.get("browser")? {
        Value::String(name) => name.clone(),
        other => other.to_string(),
    };
    Some(text.chars().take(40).collect())
}

/// What we send to the server. Serialized with [`ClientMessage::to_text`].
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    Heartbeat,
    Offer { dst: String, offer: Offer },
    Answer { dst: String, connection: String, sdp: SessionDescription },
    Candidate { dst: String, connection: String, candidate: Value },
}

impl ClientMessage {
    pub fn to_text(&self) -> String {
        let frame = match self {
            ClientMessage::Heartbeat => json!({ "type": "HEARTBEAT" }),
            ClientMessage::Offer { dst, offer } => {
                let mut payload = Map::new();
                payload.insert("sdp".into(), json!(offer.sdp));
                payload.insert("type".into(), json!("data"));
                payload.insert("connectionId".into(), json!(offer.connection));
                if !offer.metadata.is_null() {
                    payload.insert("metadata".into(), offer.metadata.clone());
                }
                payload.insert("label".into(), json!(offer.label));
                payload.insert("reliable".into(), json!(offer.reliable));
                payload.insert("serialization".into(), json!(offer.serialization));
                json!({ "type": "OFFER", "payload": payload, "dst": dst })
            }
            ClientMessage::Answer { dst, connection, sdp } => json!({
                "type": "ANSWER",
                "payload": { "sdp": sdp, "type": "data", "connectionId": connection },
                "dst": dst,
            }),
            ClientMessage::Candidate { dst, connection, candidate } => json!({
                "type": "CANDIDATE",
                "payload": { "candidate": candidate, "type": "data", "connectionId": connection },
                "dst": dst,
            }),
        };
        frame.to_string()
    }
}

/// The WebSocket URL for `id`: `ws[s]://host:port/<path>/peerjs?key=…&id=…&token=…&version=…`.
/// The server upgrades only at exactly `<path>/peerjs`, so the path is normalized to start and end with `/`.
pub fn socket_url(server: &SignalingServer, id: &str, token: &str) -> String {
    let scheme = if server.secure { "wss" } else { "ws" };
    format!(
        "{scheme}://{}:{}{}peerjs?key={}&id={}&token={}&version={CLIENT_VERSION}",
        url_host(&server.host),
        server.port,
        normalized_path(&server.path),
        percent_encode(&server.key),
        percent_encode(id),
        percent_encode(token),
    )
}

/// The server's address as people read it, for error messages.
pub fn display_address(server: &SignalingServer) -> String {
    format!("{}:{}", url_host(&server.host), server.port)
}

fn url_host(host: &str) -> String {
    let host = host.trim();
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() }
}

fn normalized_path(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() { "/".to_owned() } else { format!("/{trimmed}/") }
}

/// Escapes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The stock client's id rule: empty, or runs of `[A-Za-z0-9]` joined by single ` `, `_` or `-`.
pub fn is_valid_peer_id(id: &str) -> bool {
    if id.is_empty() {
        return true;
    }
    let bytes = id.as_bytes();
    let separator = |b: u8| matches!(b, b' ' | b'_' | b'-');
    bytes.iter().all(|&b| b.is_ascii_alphanumeric() || separator(b))
        && !separator(bytes[0])
        && !separator(bytes[bytes.len() - 1])
        && !bytes.windows(2).any(|pair| separator(pair[0]) && separator(pair[1]))
}

/// Base-36 text from random bytes, like the stock client's `Math.random().toString(36).slice(2)`.
pub fn random_token(random: &[u8]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    random.iter().map(|byte| DIGITS[usize::from(*byte) % 36] as char).collect()
}

/// A data connection id: `dc_` and ten base-36 characters.
pub fn connection_id(random: &[u8; 10]) -> String {
    format!("dc_{}", random_token(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(path: &str) -> SignalingServer {
        SignalingServer { host: "127.0.0.1".into(), port: 9000, path: path.into(), key: "peerjs".into(), secure: false }
    }

    #[test]
    fn url_matches_the_stock_client() {
        assert_eq!(
            socket_url(&server("/myapp"), "alice-1", "pijfbnub0n"),
            "ws://127.0.0.1:9000/myapp/peerjs?key=peerjs&id=alice-1&token=pijfbnub0n&version=1.5.5"
        );
        assert!(socket_url(&server("/"), "a b", "t").starts_with("ws://127.0.0.1:9000/peerjs?key=peerjs&id=a%20b&"));
        assert!(socket_url(&server("x/"), "a", "t").contains(":9000/x/peerjs?"));
    }

    #[test]
    fn ids_follow_the_stock_rule() {
        for good in ["", "a", "a b-c_d", "secure-p2p-multichat-alice"] {
            assert!(is_valid_peer_id(good), "{good}");
        }
        for bad in ["bad id!", "-abc", "abc-", "a--b", "a é"] {
            assert!(!is_valid_peer_id(bad), "{bad}");
        }
    }

    #[test]
    fn parses_an_offer_as_the_server_relays_it() {
        let text = r#"{"type":"OFFER","src":"alice-1","dst":"bob-1","payload":{"sdp":{"sdp":"v=0","type":"offer"},"type":"data","connectionId":"dc_395qxwajc3","label":"chat","reliable":true,"serialization":"json"}}"#;
        let ServerMessage::Offer { src, offer } = ServerMessage::parse(text).unwrap() else { panic!() };
        assert_eq!(src, "alice-1");
        assert_eq!(offer.connection, "dc_395qxwajc3");
        assert_eq!(offer.label, "chat");
        assert!(offer.reliable);
        assert_eq!(offer.metadata, Value::Null);
        assert_eq!(offer.browser, None);
    }

    #[test]
    fn reads_the_browser_field_of_a_peerjs_1_2_offer_and_answer() {
        // The payloads as PeerJS 1.2.0's negotiator writes them (`browser: util.browser`).
        let offer = r#"{"type":"OFFER","src":"dave","dst":"alice","payload":{"sdp":{"sdp":"v=0","type":"offer"},"type":"data","connectionId":"dc_1","metadata":{"peerIds":[]},"browser":"chrome","label":"dc_1","reliable":false,"serialization":"json"}}"#;
        let ServerMessage::Offer { offer, .. } = ServerMessage::parse(offer).unwrap() else { panic!() };
        assert_eq!(offer.browser.as_deref(), Some("chrome"));
        let answer = r#"{"type":"ANSWER","src":"dave","dst":"alice","payload":{"sdp":{"sdp":"v=0","type":"answer"},"type":"data","connectionId":"dc_1","browser":"firefox"}}"#;
        let ServerMessage::Answer { browser, .. } = ServerMessage::parse(answer).unwrap() else { panic!() };
        assert_eq!(browser.as_deref(), Some("firefox"));
        let odd = r#"{"type":"ANSWER","src":"d","payload":{"sdp":{"sdp":"v=0","type":"answer"},"connectionId":"dc_1","browser":null}}"#;
        let ServerMessage::Answer { browser, .. } = ServerMessage::parse(odd).unwrap() else { panic!() };
        assert_eq!(browser.as_deref(), Some("null"), "present, whatever its value");
    }

    #[test]
    fn hostile_frames_are_errors() {
        for text in [
            "",
            "[]",
            "{}",
            r#"{"type":"OFFER"}"#,
            r#"{"type":"ANSWER","src":"a","payload":{"connectionId":5}}"#,
            r#"{"type":"CANDIDATE","src":"a","payload":{"connectionId":"dc_1","candidate":"x"}}"#,
            r#"{"type":"LEAVE","src":""}"#,
        ] {
            assert!(ServerMessage::parse(text).is_err(), "{text}");
        }
    }
}
