//! User-changeable settings: which PeerJS server to use, which ICE servers (STUN, and TURN with its login),
//! whether to connect through a TURN relay only, and notifications (and whether they show message text).
//! whether to connect through a TURN relay only, notifications, and how the popup looks (theme, language).
//!
//! Real users get the public PeerJS cloud and a public STUN server by default. Tests always override both
//! with a server on 127.0.0.1 and no ICE servers at all.

use serde::{Deserialize, Serialize};

/// Where the PeerJS signaling server is, in the terms the stock client uses (host, port, path, key, secure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalingServer {
    pub host: String,
    pub port: u16,
    /// Mount path of the server, e.g. `/` or `/myapp`.
    pub path: String,
    pub key: String,
    /// `wss`/`https` when true.
    pub secure: bool,
}

impl Default for SignalingServer {
    fn default() -> SignalingServer {
        SignalingServer {
            host: "0.peerjs.com".to_owned(),
            port: 443,
            path: "/".to_owned(),
            key: "peerjs".to_owned(),
            secure: true,
        }
    }
}

/// One entry of `RTCConfiguration.iceServers`. A TURN server takes the `username` and `credential` it
/// was given; a STUN server needs neither.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub server: SignalingServer,
    pub ice_servers: Vec<IceServer>,
    /// Connect to peers only through a TURN relay (`iceTransportPolicy: "relay"`), so that no peer learns
    /// this browser's IP address; the TURN server still does.
    pub relay_only: bool,
    /// Show a system notification when a message arrives while the popup is closed.
    pub notifications: bool,
    /// The largest file accepted from a peer, in bytes (issue 15); larger offers are refused in words.
    pub max_file_bytes: u64,
    /// Tell members when we are typing, and show when they are ("bob is typing…"). Honoured both ways: off
    /// neither sends nor shows it.
    pub typing_indicators: bool,
    /// Read receipts, off by default: sent only when on, and shown only when on, so they appear only
    /// between two users who both turned them on.
    pub read_receipts: bool,
    /// Notifications say who wrote and where, never what: the message text stays out of them.
    pub hide_notification_text: bool,
    /// The popup's colours.
    pub theme: Theme,
    /// The popup's language, a `_locales` folder name (`fr`, `zh_CN`); `None` follows the browser's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The popup's colours: the system's choice, or always light or dark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            server: SignalingServer::default(),
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.l.google.com:19302".to_owned()],
                username: None,
                credential: None,
            }],
            relay_only: false,
            notifications: true,
            max_file_bytes: crate::transfer::DEFAULT_MAX_FILE_BYTES,
            typing_indicators: true,
            read_receipts: false,
            hide_notification_text: false,
            theme: Theme::System,
            language: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("The server host cannot be empty")]
    EmptyHost,
    #[error("The server port must be between 1 and 65535")]
    BadPort,
    #[error("The server key cannot be empty")]
    EmptyKey,
    #[error("ICE server address {0:?} must start with stun:, stuns:, turn: or turns:")]
    BadIceUrl(String),
    #[error("The TURN server {0} needs both a username and a password")]
    TurnLoginIncomplete(String),
    #[error("Relay only needs at least one TURN server (an address starting with turn: or turns:)")]
    RelayOnlyWithoutTurn,
    #[error("The largest file accepted must be between 1 MB and 4 GB")]
    BadMaxFileSize,
}

/// `RTCConfiguration.iceTransportPolicy`: which candidates a connection may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IceTransportPolicy {
    /// Host, server-reflexive and relayed candidates (the browser's default).
    #[default]
    All,
    /// Relayed candidates only: peers see the TURN server's address, never ours.
    Relay,
}

impl IceServer {
    fn is_turn(&self) -> bool {
        self.urls.iter().any(|url| is_turn_url(url))
    }
}

/// A TURN address (`turn:` or `turns:`), which the browser refuses without a username and credential.
/// The smallest "largest file accepted" a user can set: 1 MB.
pub const MIN_MAX_FILE_BYTES: u64 = 1_000_000;

pub fn is_turn_url(url: &str) -> bool {
    url.starts_with("turn:") || url.starts_with("turns:")
}

impl Settings {
    /// Checks settings typed by a user (or loaded from storage) before they are used.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.server.host.trim().is_empty() {
            return Err(SettingsError::EmptyHost);
        }
        if self.server.port == 0 {
            return Err(SettingsError::BadPort);
        }
        if self.server.key.is_empty() {
            return Err(SettingsError::EmptyKey);
        }
        for url in self.ice_servers.iter().flat_map(|it| &it.urls) {
            let known = ["stun:", "stuns:", "turn:", "turns:"].iter().any(|scheme| url.starts_with(scheme));
            if !known {
                return Err(SettingsError::BadIceUrl(url.clone()));
            }
        }
        // `new RTCPeerConnection` throws for a TURN entry missing either half of its login, so it is caught
        // here, where the user can still fix it, rather than on the first connection.
        for server in self.ice_servers.iter().filter(|it| it.is_turn()) {
            let filled = |it: &Option<String>| it.as_deref().is_some_and(|it| !it.is_empty());
            if !filled(&server.username) || !filled(&server.credential) {
                let url = server.urls.iter().find(|url| is_turn_url(url)).cloned().unwrap_or_default();
                return Err(SettingsError::TurnLoginIncomplete(url));
            }
        }
        if self.relay_only && !self.ice_servers.iter().any(IceServer::is_turn) {
            return Err(SettingsError::RelayOnlyWithoutTurn);
        }
        if !(MIN_MAX_FILE_BYTES..=crate::transfer::HARD_MAX_FILE_BYTES).contains(&self.max_file_bytes) {
            return Err(SettingsError::BadMaxFileSize);
        }
        Ok(())
    }

    /// The policy every `RTCPeerConnection` is created with.
    pub fn ice_transport_policy(&self) -> IceTransportPolicy {
        if self.relay_only { IceTransportPolicy::Relay } else { IceTransportPolicy::All }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_public() {
        let settings = Settings::default();
        settings.validate().unwrap();
        assert!(settings.server.secure);
        assert_eq!(settings.ice_servers.len(), 1);
    }

    #[test]
    fn missing_fields_take_defaults() {
        let settings: Settings = serde_json::from_str(r#"{"notifications":false}"#).unwrap();
        assert!(!settings.notifications);
        assert_eq!(settings.server, SignalingServer::default());
    }

    #[test]
    fn rejects_bad_ice_url() {
        let mut settings = Settings::default();
        settings.ice_servers[0].urls[0] = "http://example.invalid".into();
        assert!(matches!(settings.validate(), Err(SettingsError::BadIceUrl(_))));
    }

    fn turn(username: Option<&str>, credential: Option<&str>) -> IceServer {
        IceServer {
            urls: vec!["turn:127.0.0.1:3478".to_owned()],
            username: username.map(str::to_owned),
            credential: credential.map(str::to_owned),
        }
    }

    #[test]
    fn turn_needs_both_halves_of_its_login() {
        let mut settings = Settings { ice_servers: vec![turn(Some("u"), None)], ..Settings::default() };
        let err = settings.validate().unwrap_err();
        assert_eq!(err, SettingsError::TurnLoginIncomplete("turn:127.0.0.1:3478".to_owned()));
        assert_eq!(err.to_string(), "The TURN server turn:127.0.0.1:3478 needs both a username and a password");
        settings.ice_servers = vec![turn(None, Some("p"))];
        assert!(matches!(settings.validate(), Err(SettingsError::TurnLoginIncomplete(_))));
        settings.ice_servers = vec![turn(Some(""), Some("p"))];
        assert!(matches!(settings.validate(), Err(SettingsError::TurnLoginIncomplete(_))));
        settings.ice_servers = vec![turn(Some("u"), Some("p"))];
        settings.validate().unwrap();
    }

    #[test]
    fn relay_only_needs_a_turn_server() {
        let mut settings = Settings { relay_only: true, ..Settings::default() };
        assert_eq!(settings.validate(), Err(SettingsError::RelayOnlyWithoutTurn));
        settings.ice_servers.push(turn(Some("u"), Some("p")));
        settings.validate().unwrap();
        assert_eq!(settings.ice_transport_policy(), IceTransportPolicy::Relay);
        assert_eq!(Settings::default().ice_transport_policy(), IceTransportPolicy::All);
    }

    #[test]
    fn turn_login_and_relay_only_survive_serialization() {
        let settings =
            Settings { ice_servers: vec![turn(Some("u"), Some("p"))], relay_only: true, ..Settings::default() };
        let json = serde_json::to_string(&settings).unwrap();
        assert!(json.contains(r#""username":"u""#) && json.contains(r#""credential":"p""#), "{json}");
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), settings);
        assert_eq!(serde_json::to_value(IceTransportPolicy::Relay).unwrap(), "relay");
    }
}
