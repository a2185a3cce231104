//! The Settings form's "Test connection": what the shell observed (the signaling server's first frame, the
//! ICE candidates a throwaway `RTCPeerConnection` gathered) turned into sentences for people.
//!
//! The shell (web/src/connection_test.rs) does the I/O; everything said about it is decided here.

use std::collections::BTreeSet;

use crate::peerjs::signal::{ServerMessage, display_address};
use crate::phrase::{Code, Phrase};
use crate::settings::Settings;

/// `RTCIceCandidate.type`, read from the candidate line (`… typ host …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CandidateType {
    Host,
    Srflx,
    Prflx,
    Relay,
}

impl CandidateType {
    /// The type named after `typ` in an ICE candidate line, if it is one of the four.
    pub fn of_candidate(line: &str) -> Option<CandidateType> {
        let mut words = line.split_ascii_whitespace();
        words.by_ref().find(|word| *word == "typ")?;
        match words.next()? {
            "host" => Some(CandidateType::Host),
            "srflx" => Some(CandidateType::Srflx),
            "prflx" => Some(CandidateType::Prflx),
            "relay" => Some(CandidateType::Relay),
            _ => None,
        }
    }

    fn words(self) -> Phrase {
        Phrase::new(match self {
            CandidateType::Host => Code::CandidateHost,
            CandidateType::Srflx => Code::CandidateSrflx,
            CandidateType::Prflx => Code::CandidatePrflx,
            CandidateType::Relay => Code::CandidateRelay,
        })
    }
}

/// What the signaling server did when the test connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signaling {
    /// It accepted the connection (`OPEN`).
    Reachable,
    /// It answered, but refused (a wrong key, or another error frame): why.
    Refused(Refusal),
    /// No socket opened, or it closed before answering, within the test's time.
    Unreachable,
}

impl Signaling {
    /// Judges the server's first text frame (none when the socket never opened or closed first).
    pub fn from_first_frame(frame: Option<&str>) -> Signaling {
        match frame.map(ServerMessage::parse) {
            None => Signaling::Unreachable,
            Some(Ok(ServerMessage::Open)) => Signaling::Reachable,
            Some(Ok(ServerMessage::Error { message })) => Signaling::Refused(Refusal::Said(message)),
            Some(Ok(ServerMessage::IdTaken)) => Signaling::Refused(Refusal::IdTaken),
            Some(Ok(_)) | Some(Err(_)) => Signaling::Refused(Refusal::NotPeerJs),
        }
    }
}

/// Why the signaling server refused the test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An error frame, in the server's words.
    Said(String),
    /// The test's random id was taken.
    IdTaken,
    /// It answered with something that is not a PeerJS frame.
    NotPeerJs,
}

/// Everything one test observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionTest {
    pub signaling: Signaling,
    pub gathered: BTreeSet<CandidateType>,
    /// Why no `RTCPeerConnection` could be made or gather (the browser's words), if so.
    pub ice_error: Option<String>,
}

impl ConnectionTest {
    /// One sentence per finding, for the settings form (said in the popup's language).
    pub fn sentences(&self, settings: &Settings) -> Vec<Phrase> {
        let server = display_address(&settings.server);
        let mut said = vec![match &self.signaling {
            Signaling::Reachable => Phrase::new(Code::TestServerReachable).with(&server),
            Signaling::Refused(why) => {
                let said = Phrase::new(Code::TestServerRefused).with(&server);
                match why {
                    Refusal::Said(words) => said.with(words),
                    Refusal::IdTaken => said.with_phrase(Code::TestIdTaken.into()),
                    Refusal::NotPeerJs => said.with_phrase(Code::TestNotPeerjs.into()),
                }
            }
            Signaling::Unreachable => Phrase::new(Code::TestServerUnreachable).with(&server),
        }];
        if let Some(error) = &self.ice_error {
            said.push(Phrase::new(Code::TestNoConnection).with(error));
        } else if self.gathered.is_empty() {
            said.push(Phrase::new(Code::TestNoCandidates));
        } else {
            let kinds = self.gathered.iter().map(|it| it.words()).collect();
            said.push(Phrase::new(Code::TestCandidates).with_list(kinds));
        }
        if settings.relay_only && !self.gathered.contains(&CandidateType::Relay) {
            said.push(Phrase::new(Code::TestRelayMissing));
        }
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_type_of_a_candidate_line() {
        let relay = "candidate:1 1 udp 41885695 127.0.0.1 50000 typ relay raddr 127.0.0.1 rport 40000 generation 0";
        assert_eq!(CandidateType::of_candidate(relay), Some(CandidateType::Relay));
        assert_eq!(CandidateType::of_candidate("candidate:2 1 udp 1 127.0.0.1 5 typ host"), Some(CandidateType::Host));
        assert_eq!(
            CandidateType::of_candidate("candidate:3 1 udp 1 1.2.3.4 5 typ srflx raddr 0.0.0.0"),
            Some(CandidateType::Srflx)
        );
        assert_eq!(CandidateType::of_candidate("typ"), None);
        assert_eq!(CandidateType::of_candidate("candidate:4 1 udp 1 1.2.3.4 5 typ weird"), None);
        assert_eq!(CandidateType::of_candidate(""), None);
    }

    #[test]
    fn judges_the_first_frame() {
        assert_eq!(Signaling::from_first_frame(Some(r#"{"type":"OPEN"}"#)), Signaling::Reachable);
        assert_eq!(
            Signaling::from_first_frame(Some(r#"{"type":"INVALID-KEY"}"#)),
            Signaling::Refused(Refusal::Said("Invalid key provided".to_owned()))
        );
        assert!(matches!(Signaling::from_first_frame(Some("<html>")), Signaling::Refused(_)));
        assert_eq!(Signaling::from_first_frame(None), Signaling::Unreachable);
    }

    #[test]
    fn says_what_it_found_in_words() {
        let mut settings = Settings::default();
        settings.server.host = "127.0.0.1".into();
        settings.server.port = 9000;
        let test = ConnectionTest {
            signaling: Signaling::Reachable,
            gathered: [CandidateType::Relay, CandidateType::Host].into(),
            ice_error: None,
        };
        assert_eq!(
            test.sentences(&settings),
            [
                Phrase::new(Code::TestServerReachable).with("127.0.0.1:9000"),
                Phrase::new(Code::TestCandidates)
                    .with_list(vec![Code::CandidateHost.into(), Code::CandidateRelay.into()]),
            ]
        );
        settings.relay_only = true;
        let nothing = ConnectionTest { signaling: Signaling::Unreachable, gathered: BTreeSet::new(), ice_error: None };
        assert_eq!(
            nothing.sentences(&settings),
            [
                Phrase::new(Code::TestServerUnreachable).with("127.0.0.1:9000"),
                Phrase::new(Code::TestNoCandidates),
                Phrase::new(Code::TestRelayMissing),
            ]
        );
    }
}
