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
        self.said_with(&catalogue)
    }

    fn said_with(&self, catalogue: &serde_json::Value) -> String {
        let entry = &catalogue[self.code.key()];
        let mut message = entry["message"].as_str().unwrap_or(self.code.key()).to_owned();
        if let Some(placeholders) = entry["placeholders"].as_object() {
            for (name, it) in placeholders {
                let content = it["content"].as_str().unwrap_or_default();
                message = message.replace(&format!("${}$", name.to_ascii_uppercase()), content);
            }
        }
        let args: Vec<String> = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text(text) => text.clone(),
                Arg::Phrase(phrase) => phrase.said_with(catalogue),
                Arg::List(list) => {
                    let separator = Phrase::new(Code::ListSeparator).said_with(catalogue);
                    list.iter().map(|it| it.said_with(catalogue)).collect::<Vec<_>>().join(&separator)
                }
            })
            .collect();
        // `$1`…`$9`, highest first so `$1` does not eat the start of `$10` (no message has ten).
        for (at, arg) in args.iter().enumerate().rev() {
            message = message.replace(&format!("${}", at + 1), arg);
        }
        message
    }
}

/// Declares [`Code`] with each variant's catalogue key and arity, and [`Code::ALL`].
macro_rules! codes {
    ($($variant:ident = $key:literal / $arity:literal,)*) => {
        /// What a [`Phrase`] says, as its catalogue key.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Code {
            $(#[serde(rename = $key)] $variant,)*
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
