//! What the user is told about a contact's identity, worded for people: in English for notifications, and as
//! a [`Phrase`] for the popup (the same words, from its catalogue).

use crate::account::Username;
use crate::identity::Unproved;
use crate::phrase::{Code, Phrase};

/// A contact whose pinned key a link did not prove, held until the user decides (the red warning, and
/// the notification's text).
pub fn unproved_warning(user: &Username, how: Unproved) -> String {
    let what = match how {
        Unproved::NoHello => "it never greeted",
        Unproved::OriginalPage => "it acted as the original peerjs-multichat page",
        Unproved::NoHandshake => "it greeted without any identity key",
        Unproved::NoProof => "it never proved the key it named",
    };
    format!(
        "Someone connected as {user} without proving {user}'s identity key ({what}). It may be someone else using {user}'s name while {user} is offline. Nothing from that connection is shown, and nothing of yours was sent to it. Choose \"Allow unverified for this contact\" only if you know {user} uses a device without multichat's identity check; otherwise choose \"Block\"."
    )
}

/// A contact the user allowed to chat without proving its key, chatting that way now.
pub fn unverified_warning(user: &Username) -> String {
    format!(
        "This connection with {user} is unverified: it did not prove {user}'s identity key, and you allowed that for {user}. Someone else could be using {user}'s name; do not share secrets."
    )
}

/// A key seen for the first time (trust on first use): what the conversation says until the safety
/// numbers are compared.
pub fn first_contact_notice(user: &Username) -> String {
    format!(
        "multichat met {user}'s identity key for the first time and will warn you if it ever changes. It is new and unverified: compare safety numbers with {user} (in person or on a call) to be sure it is really {user}."
    )
}

/// [`unproved_warning`] for the popup, said in its language.
pub fn unproved_phrase(user: &Username, how: Unproved) -> Phrase {
    let what = match how {
        Unproved::NoHello => Code::UnprovedNoHello,
        Unproved::OriginalPage => Code::UnprovedOriginalPage,
        Unproved::NoHandshake => Code::UnprovedNoHandshake,
        Unproved::NoProof => Code::UnprovedNoProof,
    };
    Phrase::new(Code::UnprovedWarning).with(user).with_phrase(what.into())
}

/// [`unverified_warning`] for the popup.
pub fn unverified_phrase(user: &Username) -> Phrase {
    Phrase::new(Code::UnverifiedWarning).with(user)
}

/// [`first_contact_notice`] for the popup.
pub fn first_contact_phrase(user: &Username) -> Phrase {
    Phrase::new(Code::FirstContact).with(user)
}
