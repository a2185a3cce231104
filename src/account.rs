//! Usernames and the PeerJS ids derived from them.
//!
//! The original peerjs-multichat page registered `secure-p2p-multichat-<username>` with the PeerJS server,
//! so a user of that page and a multichat user reach each other by username alone.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The prefix the original page put in front of every username to make its PeerJS id.
pub const PEER_ID_PREFIX: &str = "secure-p2p-multichat-";

/// Longest username we accept. PeerJS has no limit, but ids travel in URLs and every signaling frame.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A username that is valid as the tail of a PeerJS id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Please enter a username")]
    Empty,
    #[error("A username can be at most {MAX_USERNAME_CHARS} characters long")]
    TooLong,
    #[error("A username may only use letters A-Z, digits, and single '-', '_' or spaces between them")]
    BadCharacters,
}

impl Username {
    /// Checks `raw` against the PeerJS id rule: runs of ASCII letters and digits joined by single
    /// ' ', '_' or '-' separators. Surrounding white space is trimmed first, since users type it by accident.
    pub fn parse(raw: &str) -> Result<Username, UsernameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(UsernameError::Empty);
        }
        if name.chars().count() > MAX_USERNAME_CHARS {
            return Err(UsernameError::TooLong);
        }
        let mut previous_was_separator = true; // A leading separator is rejected like a doubled one.
        for ch in name.chars() {
            let is_separator = matches!(ch, ' ' | '_' | '-');
            if is_separator {
                if previous_was_separator {
                    return Err(UsernameError::BadCharacters);
                }
            } else if !ch.is_ascii_alphanumeric() {
                return Err(UsernameError::BadCharacters);
            }
            previous_was_separator = is_separator;
        }
        if previous_was_separator {
            return Err(UsernameError::BadCharacters);
        }
        Ok(Username(name.to_owned()))
    }

    /// Recovers the username from a PeerJS id of the original page's form, if it is one.
    pub fn from_peer_id(peer_id: &str) -> Option<Username> {
        Username::parse(peer_id.strip_prefix(PEER_ID_PREFIX)?).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id this user registers with the PeerJS server.
    pub fn peer_id(&self) -> String {
        format!("{PEER_ID_PREFIX}{}", self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(raw: String) -> Result<Username, UsernameError> {
        Username::parse(&raw)
    }
}

impl From<Username> for String {
    fn from(name: Username) -> String {
        name.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_peerjs_accepts() {
        for ok in ["alice", "a", "Bob-2", "a b-c_d", "  padded  "] {
            assert!(Username::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn rejects_what_peerjs_rejects() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse("   "), Err(UsernameError::Empty));
        for bad in ["bad id!", "-abc", "abc-", "a--b", "a  b", "ünï", "<script>"] {
            assert_eq!(Username::parse(bad), Err(UsernameError::BadCharacters), "{bad:?}");
        }
        assert_eq!(Username::parse(&"x".repeat(65)), Err(UsernameError::TooLong));
    }

    #[test]
    fn peer_id_round_trips() {
        let name = Username::parse("alice").unwrap();
        assert_eq!(name.peer_id(), "secure-p2p-multichat-alice");
        assert_eq!(Username::from_peer_id(&name.peer_id()), Some(name));
        assert_eq!(Username::from_peer_id("alice"), None);
    }
}
