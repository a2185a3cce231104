//! User-changeable settings: which PeerJS server to use, which ICE servers, and notifications.
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

/// One entry of `RTCConfiguration.iceServers`.
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
    /// Show a system notification when a message arrives while the popup is closed.
    pub notifications: bool,
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
            notifications: true,
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
        Ok(())
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
}
