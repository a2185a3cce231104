//! Words for the user made outside the popup (a refusal, the engine's state, a warning, the connection test's
//! findings), sent as a [`Phrase`]: a [`Code`] the popup looks up in its `_locales` catalogue, with the values
//! it names. So they show in the popup's language, and the core writes no sentence a user reads.
//!
//! A code's catalogue key is its serialized name (`w_…`); its arity is how many placeholders the message has.
//! `tests/popup_catalogue.rs` checks every code against every catalogue.

use serde::{Deserialize, Serialize};

/// Words for the user: a catalogue key and the values its placeholders take, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phrase {
    pub code: Code,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
}

/// One value of a [`Phrase`]: text shown as it is (a username, an address, a browser's or server's own words),
/// another phrase, or a list of phrases (joined with the language's list separator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    Phrase(Phrase),
    List(Vec<Phrase>),
}

impl Phrase {
    /// The words of `code`, which takes no value.
    pub fn new(code: Code) -> Phrase {
        Phrase { code, args: Vec::new() }
    }

    /// `self` with one more value, as text.
    pub fn with(mut self, value: impl std::fmt::Display) -> Phrase {
        self.args.push(Arg::Text(value.to_string()));
        self
    }

    /// `self` with one more value, itself words for the user.
    pub fn with_phrase(mut self, value: Phrase) -> Phrase {
        self.args.push(Arg::Phrase(value));
        self
    }

    /// `self` with one more value, a list of words.
    pub fn with_list(mut self, values: Vec<Phrase>) -> Phrase {
        self.args.push(Arg::List(values));
        self
    }
}

impl From<Code> for Phrase {
    fn from(code: Code) -> Phrase {
        Phrase::new(code)
    }
}

/// The English the popup says, from `_locales/en/messages.json`: for the core's tests, which check the words.
#[cfg(feature = "mem-shell")]
impl Phrase {
    pub fn english(&self) -> String {
        let catalogue: serde_json::Value =
            serde_json::from_str(include_str!("../_locales/en/messages.json")).unwrap_or_default();
        self.said_in(&catalogue)
    }
}

/// The `_locales` folders we have a catalogue for.
pub const LANGUAGES: [&str; 3] = ["en", "fr", "zh_CN"];

/// The catalogue to speak in: `chosen` (Settings) when we have it, else the first of the browser's `preferred`
/// languages we have (`fr-CA` is French, any Chinese is Simplified Chinese), else English.
pub fn catalogue_language(chosen: Option<&str>, preferred: &[String]) -> &'static str {
    let known = |lang: &str| LANGUAGES.iter().copied().find(|it| *it == lang);
    if let Some(lang) = chosen.and_then(known) {
        return lang;
    }
    for tag in preferred {
        let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let found = if primary == "zh" { Some("zh_CN") } else { known(&primary) };
        if let Some(lang) = found {
            return lang;
        }
    }
    "en"
}

/// A `_locales/<lang>/messages.json` catalogue as a shell holds it: parsed JSON in the worker, the fetched
/// JavaScript object in the popup.
pub trait Catalogue {
    /// The message of `key`, if the catalogue has it.
    fn message(&self, key: &str) -> Option<String>;
    /// The content of `key`'s placeholder `name` (lower case), if it has one.
    fn placeholder(&self, key: &str, name: &str) -> Option<String>;
}

impl Catalogue for serde_json::Value {
    fn message(&self, key: &str) -> Option<String> {
        self[key]["message"].as_str().map(str::to_owned)
    }

    fn placeholder(&self, key: &str, name: &str) -> Option<String> {
        self[key]["placeholders"][name]["content"].as_str().map(str::to_owned)
    }
}

/// The message `key` of `catalogue` with its values filled in (`$1` is the first of `args`); a key the
/// catalogue lacks shows as the key rather than nothing.
pub fn message_in(catalogue: &dyn Catalogue, key: &str, args: &[&str]) -> String {
    match catalogue.message(key) {
        Some(message) => fill(&message, &|name| catalogue.placeholder(key, &name.to_ascii_lowercase()), args),
        None => key.to_owned(),
    }
}

/// `message` with `$NAME$` replaced by its placeholder's `content`, `$1`…`$9` by `args`, and `$$` by `$`, as
/// `chrome.i18n.getMessage` does. One pass: a value that holds `$2` (a room's name, a message's text) is
/// shown as it is.
pub fn fill(message: &str, content: &dyn Fn(&str) -> Option<String>, args: &[&str]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(digit) = after.chars().next().filter(char::is_ascii_digit) {
            let index = digit.to_digit(10).unwrap_or(0) as usize;
            out.push_str(index.checked_sub(1).and_then(|it| args.get(it)).copied().unwrap_or(""));
            rest = &after[1..];
        } else if let Some(end) = after.find('$').filter(|&end| end > 0)
            && let Some(filled) = content(&after[..end])
        {
            // A placeholder's content is the catalogue's own text ("$1"), never a value.
            out.push_str(&fill(&filled, content, args));
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

impl Phrase {
    /// The words in the language of `catalogue`: what the popup shows, and the worker's shell puts in a
    /// notification.
    pub fn said_in(&self, catalogue: &dyn Catalogue) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text(text) => text.clone(),
                Arg::Phrase(phrase) => phrase.said_in(catalogue),
                Arg::List(list) => {
                    let separator = Phrase::new(Code::ListSeparator).said_in(catalogue);
                    list.iter().map(|it| it.said_in(catalogue)).collect::<Vec<_>>().join(&separator)
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        message_in(catalogue, self.code.key(), &args)
    }
}

/// Declares [`Code`] with each variant's catalogue key and arity, and [`Code::ALL`].
macro_rules! codes {
    ($($variant:ident = $key:literal / $arity:literal,)*) => {
        /// What a [`Phrase`] says, as its catalogue key (which is also how it is serialized).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, for the catalogue test.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The `_locales` key of its message.
            pub fn key(self) -> &'static str {
                match self {
                    $(Code::$variant => $key,)*
                }
            }

            /// How many values its message takes (`$1`…).
            pub fn arity(self) -> usize {
                match self {
                    $(Code::$variant => $arity,)*
                }
            }
        }
    };
}

// By hand rather than derived: the derived field visitor matched every key in its own code, the popup's
// largest piece of serde (~40 KB of wasm); the keys are already in `Code::key`'s table.
impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Code;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a message catalogue key")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Code, E> {
                Code::from_key(key).ok_or_else(|| E::unknown_variant(key, &[]))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl Code {
    /// The code whose catalogue key is `key`.
    pub fn from_key(key: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|it| it.key() == key)
    }
}

codes! {
    NotSignedIn = "w_not_signed_in" / 0,
    NoSuchRoom = "w_no_such_room" / 0,
    NoSuchMessage = "w_no_such_message" / 0,
    NotAGroup = "w_not_a_group" / 0,
    NotAUsername = "w_not_a_username" / 0,
    SafetyNumberChanged = "w_safety_number_changed" / 1,
    NewKeyChangedAgain = "w_new_key_changed_again" / 1,
    ContactsDamaged = "w_contacts_damaged" / 0,
    NoKnownKey = "w_no_known_key" / 1,
    NoNewKey = "w_no_new_key" / 1,
    NoRandomness = "w_no_randomness" / 1,
    PassphraseInShell = "w_passphrase_in_shell" / 0,
    StorageWriteFailed = "w_storage_write_failed" / 1,
    UsernameEmpty = "w_username_empty" / 0,
    UsernameTooLong = "w_username_too_long" / 1,
    UsernameBadCharacters = "w_username_bad_characters" / 0,
    ServerHostEmpty = "w_server_host_empty" / 0,
    ServerPortBad = "w_server_port_bad" / 0,
    ServerKeyEmpty = "w_server_key_empty" / 0,
    IceUrlBad = "w_ice_url_bad" / 1,
    TurnLoginIncomplete = "w_turn_login_incomplete" / 1,
    RelayOnlyWithoutTurn = "w_relay_only_without_turn" / 0,
    MaxFileSizeBad = "w_max_file_size_bad" / 0,
    RoomUnknown = "w_room_unknown" / 0,
    RoomWithYourself = "w_room_with_yourself" / 0,
    RoomNotAGroup = "w_room_not_a_group" / 0,
    RoomNameEmpty = "w_room_name_empty" / 0,
    RoomNameTooLong = "w_room_name_too_long" / 1,
    RoomTooManyMembers = "w_room_too_many_members" / 1,
    MessageEmpty = "w_message_empty" / 0,
    MessageTooLong = "w_message_too_long" / 0,
    SignedOut = "w_signed_out" / 0,
    NoInvitation = "w_no_invitation" / 0,
    NoRequest = "w_no_request" / 1,
    Blocked = "w_blocked" / 1,
    MessageGone = "w_message_gone" / 0,
    NotYours = "w_not_yours" / 0,
    NotAReaction = "w_not_a_reaction" / 0,
    ContactUnknown = "w_contact_unknown" / 1,
    ContactNoPendingKey = "w_contact_no_pending_key" / 1,
    ContactKeyMismatch = "w_contact_key_mismatch" / 1,
    ContactsNewer = "w_contacts_newer" / 1,
    ContactsCorrupt = "w_contacts_corrupt" / 1,
    ImportNotAnExport = "w_import_not_an_export" / 1,
    ImportNewer = "w_import_newer" / 1,
    ImportDamaged = "w_import_damaged" / 1,
    PassphraseTooShort = "w_passphrase_too_short" / 1,
    PassphraseWrong = "w_passphrase_wrong" / 0,
    Locked = "w_locked" / 0,
    PassphraseNotSet = "w_passphrase_not_set" / 0,
    PassphraseAlreadySet = "w_passphrase_already_set" / 0,
    LockDamaged = "w_lock_damaged" / 1,
    LockNewer = "w_lock_newer" / 1,
    SessionKeyBad = "w_session_key_bad" / 0,
    RecordUnreadable = "w_record_unreadable" / 1,
    PeerIdTaken = "w_peer_id_taken" / 0,
    ServerRefused = "w_server_refused" / 1,
    ServerUnreachable = "w_server_unreachable" / 1,
    NetworkLost = "w_network_lost" / 0,
    InvalidId = "w_invalid_id" / 1,
    PeerUnavailable = "w_peer_unavailable" / 1,
    IceFailed = "w_ice_failed" / 1,
    PeerGone = "w_peer_gone" / 1,
    ClosedByPeer = "w_closed_by_peer" / 1,
    NotOpen = "w_not_open" / 0,
    TooManyConnections = "w_too_many_connections" / 0,
    Framing = "w_framing" / 1,
    EngineNoRandomness = "w_engine_no_randomness" / 0,
    EngineFailed = "w_engine_failed" / 1,
    TestServerReachable = "w_test_server_reachable" / 1,
    TestServerRefused = "w_test_server_refused" / 2,
    TestServerUnreachable = "w_test_server_unreachable" / 1,
    TestIdTaken = "w_test_id_taken" / 0,
    TestNotPeerjs = "w_test_not_peerjs" / 0,
    TestNoConnection = "w_test_no_connection" / 1,
    TestNoCandidates = "w_test_no_candidates" / 0,
    TestCandidates = "w_test_candidates" / 1,
    TestRelayMissing = "w_test_relay_missing" / 0,
    CandidateHost = "w_candidate_host" / 0,
    CandidateSrflx = "w_candidate_srflx" / 0,
    CandidatePrflx = "w_candidate_prflx" / 0,
    CandidateRelay = "w_candidate_relay" / 0,
    ListSeparator = "w_list_separator" / 0,
    ClosedBlocked = "w_closed_blocked" / 1,
    ClosedCrowded = "w_closed_crowded" / 1,
    RefusedBlocked = "w_refused_blocked" / 1,
    RefusedConnection = "w_refused_connection" / 2,
    ClosedNeverGreeted = "w_closed_never_greeted" / 1,
    RefusedReplayed = "w_refused_replayed" / 1,
    RefusedNeverProved = "w_refused_never_proved" / 1,
    RefusedUnverifiable = "w_refused_unverifiable" / 2,
    NotAMultichatUser = "w_not_a_multichat_user" / 1,
    UsesRejectedKey = "w_uses_rejected_key" / 1,
    ClosedUnprovedBlocked = "w_closed_unproved_blocked" / 1,
    ClosedUnprovedWhileVerified = "w_closed_unproved_while_verified" / 1,
    RejectedKey = "w_rejected_key" / 1,
    BlockedUnproved = "w_blocked_unproved" / 1,
    UnprovedWarning = "w_unproved_warning" / 2,
    UnprovedNoHello = "w_unproved_no_hello" / 0,
    UnprovedOriginalPage = "w_unproved_original_page" / 0,
    UnprovedNoHandshake = "w_unproved_no_handshake" / 0,
    UnprovedNoProof = "w_unproved_no_proof" / 0,
    UnverifiedWarning = "w_unverified_warning" / 1,
    FirstContact = "w_first_contact" / 1,
    NotSentBlocked = "w_not_sent_blocked" / 1,
    NotConnected = "w_not_connected" / 0,
    ConnectionClosed = "w_connection_closed" / 0,
    IdentityDamaged = "w_identity_damaged" / 1,
    ContactsDamagedKept = "w_contacts_damaged_kept" / 1,
    DraftsUnreadable = "w_drafts_unreadable" / 0,
    RequestsDamaged = "w_requests_damaged" / 1,
    InvitationsDamaged = "w_invitations_damaged" / 1,
    BlocksDamaged = "w_blocks_damaged" / 1,
    RoomsDamaged = "w_rooms_damaged" / 1,
    RoomMetaDamaged = "w_room_meta_damaged" / 2,
    HistoryPageDamaged = "w_history_page_damaged" / 3,
    HistoryPageMissing = "w_history_page_missing" / 2,
    StorageNewer = "w_storage_newer" / 2,
    StorageCorrupt = "w_storage_corrupt" / 2,
    ReplacedUnproved = "w_replaced_unproved" / 0,
    Text = "w_text" / 1,
    LeftGroup = "w_left_group" / 0,
    NotifyIn = "w_notify_in" / 2,
    NotifyHidden = "w_notify_hidden" / 0,
    NotifyRequestTitle = "w_notify_request_title" / 0,
    NotifyRequest = "w_notify_request" / 1,
    NotifyInvite = "w_notify_invite" / 2,
    NotifyUnprovedTitle = "w_notify_unproved_title" / 1,
    NotifyKeyChangedTitle = "w_notify_key_changed_title" / 1,
    NotifyKeyChanged = "w_notify_key_changed" / 1,
    NotifyFileOffered = "w_notify_file_offered" / 3,
    NotifyFileSent = "w_notify_file_sent" / 2,
    FileTooBigForThem = "w_file_too_big_for_them" / 4,
    FileTooBigForUs = "w_file_too_big_for_us" / 4,
    FileDeclinedByThem = "w_file_declined_by_them" / 2,
    FileDeclinedByUs = "w_file_declined_by_us" / 1,
    FileCancelledByThem = "w_file_cancelled_by_them" / 2,
    FileCancelledByUs = "w_file_cancelled_by_us" / 1,
    FileBusyThem = "w_file_busy_them" / 2,
    FileBusyUs = "w_file_busy_us" / 2,
    FileCorruptForUs = "w_file_corrupt_for_us" / 2,
    FileCorruptForThem = "w_file_corrupt_for_them" / 2,
    FileWantsToSend = "w_file_wants_to_send" / 1,
    FileWaitingOnline = "w_file_waiting_online" / 1,
    FileWaitingAccept = "w_file_waiting_accept" / 1,
    FileDeliveredToSome = "w_file_delivered_to_some" / 2,
    FileBadId = "w_file_bad_id" / 0,
    FileTooBigToSend = "w_file_too_big_to_send" / 2,
    FileBadName = "w_file_bad_name" / 1,
    FileNoRecipients = "w_file_no_recipients" / 0,
    FileDuplicateId = "w_file_duplicate_id" / 0,
    FileUnknown = "w_file_unknown" / 0,
    FileNotWaiting = "w_file_not_waiting" / 0,
    FileBusy = "w_file_busy" / 0,
    FileSizeMismatch = "w_file_size_mismatch" / 2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_the_chosen_language_else_the_browsers_else_english() {
        let preferred = |tags: &[&str]| tags.iter().map(|it| (*it).to_owned()).collect::<Vec<_>>();
        assert_eq!(catalogue_language(Some("fr"), &preferred(&["zh-TW"])), "fr");
        assert_eq!(catalogue_language(Some("klingon"), &preferred(&["de", "zh-TW"])), "zh_CN");
        assert_eq!(catalogue_language(None, &preferred(&["fr-CA", "en"])), "fr");
        assert_eq!(catalogue_language(None, &preferred(&["de"])), "en");
    }

    #[test]
    fn a_notification_is_said_in_the_catalogues_language_and_values_are_shown_as_they_are() {
        let french: serde_json::Value = serde_json::from_str(include_str!("../_locales/fr/messages.json")).unwrap();
        let request = Phrase::new(Code::NotifyRequest).with("sam");
        assert_eq!(request.said_in(&french), "sam veut vous écrire. Ouvrez multichat pour accepter ou bloquer.");
        // A group named "$1" stays "$1": the values are put in once, not read again.
        let title = Phrase::new(Code::NotifyIn).with("bob").with("$1 $2");
        assert_eq!(title.said_in(&french), "bob dans $1 $2");
        assert_eq!(Phrase::new(Code::NotifyHidden).said_in(&serde_json::Value::Null), "w_notify_hidden");
    }

    #[test]
    fn a_message_is_filled_as_chrome_i18n_does() {
        let catalogue = serde_json::json!({
            "hello": { "message": "Hello $USER$, $2 costs $$5", "placeholders": { "user": { "content": "$1" } } },
        });
        assert_eq!(message_in(&catalogue, "hello", &["ann", "tea"]), "Hello ann, tea costs $5");
        // A missing value is left empty, an unknown $NAME$ stays as written, a missing key shows as the key.
        assert_eq!(message_in(&catalogue, "hello", &[]), "Hello ,  costs $5");
        assert_eq!(fill("$NOPE$ and $", &|_| None, &[]), "$NOPE$ and $");
        assert_eq!(message_in(&catalogue, "absent", &["x"]), "absent");
    }

    #[test]
    fn every_code_travels_as_its_key_and_an_unknown_key_is_refused() {
        for code in Code::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.key()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), *code);
        }
        let phrase: Phrase = serde_json::from_str(r#"{"code":"w_locked"}"#).unwrap();
        assert_eq!(phrase, Code::Locked.into());
        assert!(serde_json::from_str::<Code>("\"w_no_such_code\"").is_err());
        assert!(serde_json::from_str::<Code>("7").is_err());
    }
}
