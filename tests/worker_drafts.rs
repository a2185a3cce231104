//! Drafts and "erase and start over" (issue 16), through the worker model: a draft is kept per room across
//! a worker restart, refused for a room that does not exist, ended by sending, and sealed (no text on disk)
//! while a passphrase is set; erasing while locked leaves storage empty and signed out, unlocked.

use multichat_core::bridge::{Request, Response};
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;

const PASSPHRASE: &str = "a long passphrase";

fn open_room(shell: &mut MemShell, with: &str, now: Millis) -> String {
    shell.request(Request::OpenDirect { username: with.into() }, now);
    shell.view().open_room.expect("the conversation is open").room.id
}

fn disk_text(shell: &MemShell) -> String {
    serde_json::to_string(&shell.disk.0).unwrap()
}

#[test]
fn a_draft_is_kept_per_room_across_a_restart_and_ended_by_sending() {
    let mut alice = MemShell::new();
    alice.request(Request::SignIn { username: "alice".into() }, Millis(1));
    let bob = open_room(&mut alice, "bob", Millis(2));
    let carol = open_room(&mut alice, "carol", Millis(3));
    alice.request(Request::SaveDraft { room: bob.clone(), text: "for bob".into() }, Millis(4));
    alice.request(Request::SaveDraft { room: carol.clone(), text: "for carol".into() }, Millis(5));
    let refused = alice.request(Request::SaveDraft { room: "no-such-room".into(), text: "x".into() }, Millis(6));
    assert!(matches!(refused, Response::Error { .. }));

    alice.restart(Millis(7));
    assert_eq!(alice.view().open_room.unwrap().draft.as_deref(), Some("for carol"));
    alice.request(Request::SelectRoom { room: Some(bob.clone()) }, Millis(8));
    assert_eq!(alice.view().open_room.unwrap().draft.as_deref(), Some("for bob"));

    alice.request(Request::SendText { room: bob.clone(), text: "for bob".into() }, Millis(9));
    alice.restart(Millis(10));
    alice.request(Request::SelectRoom { room: Some(bob) }, Millis(11));
    assert_eq!(alice.view().open_room.unwrap().draft, None, "sending ends the draft");
    alice.request(Request::SaveDraft { room: carol.clone(), text: String::new() }, Millis(12));
    assert!(!disk_text(&alice).contains("drafts/alice"), "no drafts, no record");
}

#[test]
fn drafts_are_sealed_while_a_passphrase_is_set() {
    let mut alice = MemShell::new();
    alice.request(Request::SignIn { username: "alice".into() }, Millis(1));
    let bob = open_room(&mut alice, "bob", Millis(2));
    alice.request(Request::SaveDraft { room: bob.clone(), text: "typed before".into() }, Millis(3));
    assert!(disk_text(&alice).contains("typed before"));
    alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(4));
    alice.request(Request::SaveDraft { room: bob.clone(), text: "typed after".into() }, Millis(5));
    let disk = disk_text(&alice);
    assert!(!disk.contains("typed before") && !disk.contains("typed after"), "no draft text on disk: {disk}");

    alice.restart_browser(Millis(6));
    assert!(alice.view().locked);
    let refused = alice.request(Request::SaveDraft { room: bob.clone(), text: "while locked".into() }, Millis(7));
    assert!(matches!(refused, Response::Error { .. }), "nothing is written while locked");
    alice.request(Request::Unlock { passphrase: PASSPHRASE.into() }, Millis(8));
    alice.request(Request::SelectRoom { room: Some(bob) }, Millis(9));
    assert_eq!(alice.view().open_room.unwrap().draft.as_deref(), Some("typed after"));
}

#[test]
fn erasing_while_locked_leaves_nothing_and_starts_over() {
    let mut alice = MemShell::new();
    alice.request(Request::SignIn { username: "alice".into() }, Millis(1));
    let bob = open_room(&mut alice, "bob", Millis(2));
    alice.request(Request::SendText { room: bob, text: "history".into() }, Millis(3));
    alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(4));
    alice.restart_browser(Millis(5));
    assert!(alice.view().locked);

    alice.request(Request::EraseEverything, Millis(6));
    let view = alice.view();
    assert!(!view.locked && view.account.is_none() && !view.passphrase_set, "signed out and unlocked");
    let left: Vec<&String> = alice.disk.0.keys().filter(|key| *key != "schema_version").collect();
    assert!(left.is_empty(), "storage holds {left:?}");
    assert!(alice.session.0.is_empty(), "the session's key is forgotten");

    // A fresh start: a new identity, and the history is gone.
    alice.request(Request::SignIn { username: "alice".into() }, Millis(7));
    assert!(alice.view().rooms.is_empty());
    alice.restart(Millis(8));
    assert!(!alice.view().locked);
}
