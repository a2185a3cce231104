//! The DTLS certificate fingerprint of one end of a WebRTC connection, read from its SDP.
//!
//! Each `RTCPeerConnection` announces the SHA-256 of its DTLS certificate in its SDP
//! (`a=fingerprint:sha-256 AB:CD:...`, RFC 8122), and the browser refuses a DTLS handshake whose remote
//! certificate does not match the fingerprint in the remote description. So the pair (local fingerprint,
//! remote fingerprint) names the very DTLS session a data channel runs over, and the identity handshake
//! signs that pair. The SDPs must be the ones the browser applied (`pc.localDescription.sdp`,
//! `pc.remoteDescription.sdp`), not copies of what the signaling server relayed.
//!
//! Exactly one certificate may be named: one `sha-256` value (every browser sends one), repeated at will, and
//! no line of another hash function (a browser would accept a certificate matching that one too). The
//! attribute may sit at session level (Firefox) or in each media section (Chromium).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::IdentityError;

/// A SHA-256 DTLS certificate fingerprint. Displayed as SDP writes it: `AB:CD:...` (upper case), and
/// serialized that way, so the engine can hand fingerprints to the worker in bridge messages.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Parses the SDP form `AB:CD:...` (32 bytes, either case).
    pub fn parse(text: &str) -> Result<Fingerprint, IdentityError> {
        parse_sha256(text.trim())
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = IdentityError;
    fn try_from(text: String) -> Result<Fingerprint, IdentityError> {
        Fingerprint::parse(&text)
    }
}

impl From<Fingerprint> for String {
    fn from(fingerprint: Fingerprint) -> String {
        fingerprint.to_string()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, byte) in self.0.iter().enumerate() {
            if idx > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The one SHA-256 DTLS fingerprint of an SDP.
///
/// Every `a=fingerprint` line counts, of any hash function, at session level or in any media section:
/// a browser accepts a remote DTLS certificate that matches *any* of them (Firefox does), so a second value
/// (a sha-384 line, or a second sha-256) would let a second certificate into the session while the
/// handshake signs only one. Such a description is refused ([`IdentityError::SeveralFingerprints`]).
/// Repeats of the same sha-256 value (one per media section, or at both levels) are fine.
pub fn dtls_fingerprint(sdp: &str) -> Result<Fingerprint, IdentityError> {
    let mut found: Option<Fingerprint> = None;
    let mut other_hash_function = false;
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        let Some(value) = strip_prefix_ignore_case(line, "a=fingerprint:") else { continue };
        let value = value.trim();
        let (hash_function, digest) =
            value.split_once(' ').ok_or(IdentityError::MalformedFingerprint("no hash function"))?;
        if !hash_function.eq_ignore_ascii_case("sha-256") {
            other_hash_function = true;
            continue;
        }
        let fingerprint = parse_sha256(digest.trim())?;
        match found {
            Some(previous) if previous != fingerprint => return Err(IdentityError::SeveralFingerprints),
            _ => found = Some(fingerprint),
        }
    }
    let fingerprint = found.ok_or(IdentityError::NoFingerprint)?;
    if other_hash_function {
        return Err(IdentityError::SeveralFingerprints);
    }
    Ok(fingerprint)
}

fn strip_prefix_ignore_case<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &line[prefix.len()..])
}

/// `AB:CD:...`: 32 bytes, two hex digits each (either case), joined by colons.
fn parse_sha256(digest: &str) -> Result<Fingerprint, IdentityError> {
    let mut out = [0u8; 32];
    let mut count = 0;
    for part in digest.split(':') {
        let byte = match part.as_bytes() {
            [high, low] => hex_digit(*high).zip(hex_digit(*low)).map(|(h, l)| (h << 4) | l),
            _ => None,
        };
        let byte = byte.ok_or(IdentityError::MalformedFingerprint("not colon-separated hex bytes"))?;
        if count == out.len() {
            return Err(IdentityError::MalformedFingerprint("longer than 32 bytes"));
        }
        out[count] = byte;
        count += 1;
    }
    if count != out.len() {
        return Err(IdentityError::MalformedFingerprint("shorter than 32 bytes"));
    }
    Ok(Fingerprint(out))
}

fn hex_digit(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).and_then(|it| u8::try_from(it).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data-channel offer as Chromium writes it (fingerprint in the media section).
    const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Zf0L\r\n\
a=ice-pwd:kUxf3o8nAMi8ZcNxVb6qyEf4\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n";

    /// Firefox writes the fingerprint at session level, and in lower case here for the test.
    const FIREFOX_ANSWER: &str = "v=0\r\n\
o=mozilla...THIS_IS_SDPARTA-115.0 7091482385434574413 0 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=fingerprint:sha-256 0f:6a:1e:c2:51:b6:4d:d4:2c:8f:40:36:44:b1:6a:4e:1f:2b:1b:6b:1e:ea:20:3c:30:27:47:83:61:8f:52:3e\r\n\
a=group:BUNDLE 0\r\n\
a=ice-options:trickle\r\n\
a=msid-semantic:WMS *\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=sendrecv\r\n\
a=ice-pwd:2a0d8a8c8ee84e0e6f8bbbd77c1d2b4f\r\n\
a=ice-ufrag:4e6b1a3c\r\n\
a=mid:0\r\n\
a=setup:active\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:1073741823\r\n";

    #[test]
    fn reads_chromium_media_level_fingerprint() {
        let fingerprint = dtls_fingerprint(CHROMIUM_OFFER).unwrap();
        assert_eq!(
            fingerprint.to_string(),
            "6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08"
        );
    }

    #[test]
    fn reads_session_level_fingerprint_and_normalizes_case() {
        let fingerprint = dtls_fingerprint(FIREFOX_ANSWER).unwrap();
        assert!(fingerprint.to_string().starts_with("0F:6A:1E:C2"));
        let upper = FIREFOX_ANSWER.replace("0f:6a:1e:c2", "0F:6A:1E:C2");
        assert_eq!(dtls_fingerprint(&upper), Ok(fingerprint));
    }

    #[test]
    fn bare_newlines_and_repeated_equal_lines_are_fine() {
        let sdp = CHROMIUM_OFFER.replace("\r\n", "\n");
        let line = "a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08";
        let repeated = format!("{sdp}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n{}\n", line.to_lowercase());
        assert_eq!(dtls_fingerprint(&repeated), dtls_fingerprint(CHROMIUM_OFFER));
    }

    #[test]
    fn a_fingerprint_round_trips_through_its_text_form() {
        let fingerprint = dtls_fingerprint(CHROMIUM_OFFER).unwrap();
        assert_eq!(Fingerprint::parse(&fingerprint.to_string()), Ok(fingerprint));
        let value = serde_json::to_value(fingerprint).unwrap();
        assert_eq!(value, serde_json::json!(fingerprint.to_string()));
        assert_eq!(serde_json::from_value::<Fingerprint>(value).unwrap(), fingerprint);
        assert!(serde_json::from_value::<Fingerprint>(serde_json::json!("AB:CD")).is_err());
    }

    #[test]
    fn missing_conflicting_and_malformed_fingerprints_are_refused() {
        assert_eq!(dtls_fingerprint(""), Err(IdentityError::NoFingerprint));
        assert_eq!(
            dtls_fingerprint("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
            Err(IdentityError::NoFingerprint)
        );
        let other = format!("a=fingerprint:sha-256 {}\r\n", ["AA"; 32].join(":"));
        assert_eq!(dtls_fingerprint(&format!("{CHROMIUM_OFFER}{other}")), Err(IdentityError::SeveralFingerprints));
        let malformed = [
            "a=fingerprint:sha-256\r\n".to_owned(),
            "a=fingerprint:sha-256 \r\n".to_owned(),
            format!("a=fingerprint:sha-256 {}\r\n", ["AA"; 31].join(":")),
            format!("a=fingerprint:sha-256 {}\r\n", ["AA"; 33].join(":")),
            format!("a=fingerprint:sha-256 {}\r\n", ["AG"; 32].join(":")),
            format!("a=fingerprint:sha-256 {}\r\n", ["A"; 32].join(":")),
            format!("a=fingerprint:sha-256 {}\r\n", ["AA"; 32].join("-")),
            format!("a=fingerprint:sha-256 {}:\r\n", ["AA"; 32].join(":")),
            format!("a=fingerprint:sha-256 {}\r\n", ["éé"; 32].join(":")),
        ];
        for sdp in malformed {
            assert!(matches!(dtls_fingerprint(&sdp), Err(IdentityError::MalformedFingerprint(_))), "{sdp:?}");
        }
    }

    /// A second certificate the browser would also accept (Firefox accepts a DTLS certificate matching any
    /// fingerprint of the remote description): whoever added it may be in the middle. Issue 12.
    #[test]
    fn a_second_fingerprint_of_any_hash_function_is_refused() {
        let sha384 = format!("a=fingerprint:sha-384 {}\r\n", ["5A"; 48].join(":"));
        let at_media = format!("{CHROMIUM_OFFER}{sha384}");
        assert_eq!(dtls_fingerprint(&at_media), Err(IdentityError::SeveralFingerprints));
        let at_session = FIREFOX_ANSWER.replacen("a=group:", &format!("{sha384}a=group:"), 1);
        assert_eq!(dtls_fingerprint(&at_session), Err(IdentityError::SeveralFingerprints));
        let sha1 = "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n";
        assert_eq!(dtls_fingerprint(&format!("{CHROMIUM_OFFER}{sha1}")), Err(IdentityError::SeveralFingerprints));
        // Even one the browser could not use: the description is not what an honest browser writes.
        let unknown = "a=fingerprint:md5 00:11\r\n";
        assert_eq!(dtls_fingerprint(&format!("{CHROMIUM_OFFER}{unknown}")), Err(IdentityError::SeveralFingerprints));
        let only_sha1 = format!("v=0\r\n{sha1}");
        assert_eq!(dtls_fingerprint(&only_sha1), Err(IdentityError::NoFingerprint));
    }

    #[test]
    fn two_different_sha256_fingerprints_are_refused_at_either_level() {
        let other = format!("a=fingerprint:sha-256 {}", ["AA"; 32].join(":"));
        // Session level and media level disagree.
        let session_and_media = CHROMIUM_OFFER.replacen("a=group:", &format!("{other}\r\na=group:"), 1);
        assert_eq!(dtls_fingerprint(&session_and_media), Err(IdentityError::SeveralFingerprints));
        // Two in the same media section.
        let same_section = CHROMIUM_OFFER.replacen("a=setup:", &format!("{other}\r\na=setup:"), 1);
        assert_eq!(dtls_fingerprint(&same_section), Err(IdentityError::SeveralFingerprints));
        // Two media sections with different values.
        let two_sections = format!("{CHROMIUM_OFFER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{other}\r\n");
        assert_eq!(dtls_fingerprint(&two_sections), Err(IdentityError::SeveralFingerprints));
    }

    #[test]
    fn the_refusal_reads_plainly() {
        let message = IdentityError::SeveralFingerprints.to_string();
        assert!(message.contains("more than one"), "{message}");
    }
}
