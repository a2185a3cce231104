//! Managing conversations through the worker model (issue 15): deleting one leaves no stored record of its
//! room; leaving a group tells the member, who stops dialing the leaver; a muted conversation counts unread
//! and notifies nothing; hidden message text; a local name and a pin; the last message in the list; and a
//! click on a notification opens its conversation.

use multichat_core::bridge::{EngineToWorker, Request, Response, View, WorkerToEngine};
use multichat_core::settings::Settings;
use multichat_core::storage::Key;
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;
use serde_json::json;

use crate::worker_model::{connect, pump, signed_in};

fn view(profile: &MemShell) -> View {
    profile.view()
}

/// Alice and bob with a direct conversation on both sides and one link up; returns its room id.
fn direct() -> (MemShell, MemShell, String) {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    bob.request(Request::OpenDirect { username: "alice".into() }, Millis(11));
    bob.to_engine.clear();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let room = view(&alice).open_room.unwrap().room.id;
    (alice, bob, room)
}

/// Alice's group "Friends" with bob in it (he accepted), one link up; returns the group's id.
fn group() -> (MemShell, MemShell, String) {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::CreateGroup { name: "Friends".into() }, Millis(10));
    let room = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::Invite { room: room.clone(), username: "bob".into() }, Millis(11));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    bob.request(Request::AcceptInvitation { room: room.clone() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    (alice, bob, room)
}

fn refused(response: Response) -> String {
    match response {
        Response::Error { message } => message.english(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn dials(profile: &MemShell) -> Vec<String> {
    profile
        .to_engine
        .iter()
        .filter_map(|it| match it {
            WorkerToEngine::Dial { peer_id, .. } => Some(peer_id.clone()),
            _ => None,
        })
        .collect()
}

/// The stored keys that are records of `room` (its meta, pages, and damaged copies of either).
fn keys_of_room(profile: &MemShell, room: &str) -> Vec<String> {
    profile.disk.0.keys().filter(|it| it.contains(room)).cloned().collect()
}

#[test]
fn deleting_a_conversation_leaves_no_stored_record_of_its_room() {
    let (mut alice, mut bob, room) = direct();
    alice.request(Request::SendText { room: room.clone(), text: "hello bob".into() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    bob.request(Request::SendText { room: room.clone(), text: "hi alice".into() }, Millis(32));
    pump(&mut alice, &mut bob, "dc_1", Millis(33));
    // Records the node does not count: a damaged copy of the meta, a page past the meta's count.
    alice.disk.0.insert(format!("damaged/h/alice/{room}/meta"), json!("garbage"));
    alice.disk.0.insert(format!("h/alice/{room}/7"), json!([]));
    let before = keys_of_room(&alice, &room);
    assert!(before.len() >= 4, "the room's meta, page and the two planted records: {before:?}");

    alice.request(Request::DeleteConversation { room: room.clone() }, Millis(40));
    assert_eq!(keys_of_room(&alice, &room), Vec::<String>::new());
    // Nor is it named in the room list or as the open conversation (the ui record).
    let rooms =
        alice.disk.0.get(&Key::Rooms(multichat_core::account::Username::parse("alice").unwrap()).to_string()).unwrap();
    assert!(!rooms.to_string().contains(&room), "{rooms}");
    assert!(!alice.disk.0.get("ui").map(|it| it.to_string()).unwrap_or_default().contains(&room));
    assert!(view(&alice).rooms.is_empty() && view(&alice).open_room.is_none());
    // Gone for good: a restart does not bring it back, and bob is not dialed again.
    alice.restart(Millis(50));
    assert!(view(&alice).rooms.is_empty());
    alice.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(51));
    alice.to_engine.clear();
    for second in 1..=120 {
        alice.timeout(Millis(51 + second * 1_000));
    }
    assert_eq!(dials(&alice), Vec::<String>::new());
    // A direct conversation cannot be "left".
    let (mut carol, _, direct_room) = direct();
    assert!(refused(carol.request(Request::LeaveGroup { room: direct_room }, Millis(60))).contains("Only a group"));
}

#[test]
fn leaving_a_group_tells_the_member_who_stops_dialing_the_leaver() {
    let (mut alice, mut bob, room) = group();
    // Baseline: a lost link to a member is redialed.
    alice.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(40));
    alice.to_engine.clear();
    for second in 1..=10 {
        alice.timeout(Millis(40 + second * 1_000));
    }
    assert!(dials(&alice).contains(&"secure-p2p-multichat-bob".to_owned()), "alice redials bob while he is a member");
    alice.to_engine.clear();
    bob.to_engine.clear();
    connect_again(&mut alice, &mut bob, "dc_2", Millis(20_000));

    bob.request(Request::LeaveGroup { room: room.clone() }, Millis(30_000));
    assert!(keys_of_room(&bob, &room).is_empty(), "bob's copy of the group is gone");
    pump(&mut alice, &mut bob, "dc_2", Millis(30_001));
    let friends = view(&alice).rooms.into_iter().find(|it| it.id == room).expect("alice is still in her group");
    assert!(friends.members.is_empty(), "bob is out of it: {:?}", friends.members);
    assert!(!friends.left, "alice did not leave");
    // Neither dials the other again once the link is gone (alice closes it: no room is shared any more).
    alice.engine(EngineToWorker::LinkDown { link: "dc_2".into(), reason: "closed".into() }, Millis(30_002));
    bob.engine(EngineToWorker::LinkDown { link: "dc_2".into(), reason: "closed".into() }, Millis(30_002));
    alice.to_engine.clear();
    bob.to_engine.clear();
    for second in 1..=120 {
        alice.timeout(Millis(30_002 + second * 1_000));
        bob.timeout(Millis(30_002 + second * 1_000));
    }
    assert_eq!(dials(&alice), Vec::<String>::new());
    assert_eq!(dials(&bob), Vec::<String>::new());
    // After a restart too.
    alice.restart(Millis(200_000));
    alice.to_engine.clear();
    for second in 1..=60 {
        alice.timeout(Millis(200_000 + second * 1_000));
    }
    assert_eq!(dials(&alice), Vec::<String>::new());
}

/// Brings up another link between two profiles that already know each other (alice dials).
fn connect_again(alice: &mut MemShell, bob: &mut MemShell, link: &str, now: Millis) {
    alice.request(Request::GetView, now);
    alice.to_engine.push(WorkerToEngine::Dial {
        peer_id: "secure-p2p-multichat-bob".into(),
        metadata: json!({"peerIds": [], "multichat": {"v": 1}}),
        serialization: Default::default(),
    });
    connect(alice, bob, link, now);
}

#[test]
fn a_muted_conversation_counts_unread_and_raises_no_notification() {
    let (mut alice, mut bob, room) = direct();
    bob.request(Request::SelectRoom { room: None }, Millis(25));
    bob.request(
        Request::ConversationSettings { room: room.clone(), name: None, muted: Some(true), pinned: None },
        Millis(26),
    );
    alice.request(Request::SendText { room: room.clone(), text: "quiet please".into() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    assert!(bob.notified.is_empty(), "{:?}", bob.notified);
    let summary = view(&bob).rooms.into_iter().find(|it| it.id == room).unwrap();
    assert!(summary.muted);
    assert_eq!(summary.unread, 1);
    assert_eq!(bob.model.unread(), 1, "the badge counts it");
    // Unmuted, the next message notifies.
    bob.request(
        Request::ConversationSettings { room: room.clone(), name: None, muted: Some(false), pinned: None },
        Millis(41),
    );
    alice.request(Request::SendText { room: room.clone(), text: "now loud".into() }, Millis(42));
    pump(&mut alice, &mut bob, "dc_1", Millis(43));
    assert_eq!(bob.notified.iter().map(|it| it.text.english()).collect::<Vec<_>>(), ["now loud"]);
    // Muting is stored: it survives a restart.
    bob.request(
        Request::ConversationSettings { room: room.clone(), name: None, muted: Some(true), pinned: None },
        Millis(44),
    );
    bob.restart(Millis(45));
    assert!(view(&bob).rooms[0].muted);
}

#[test]
fn hidden_message_text_stays_out_of_notifications() {
    let (mut alice, mut bob, room) = direct();
    bob.request(Request::SelectRoom { room: None }, Millis(25));
    let settings = Settings { hide_notification_text: true, ..view(&bob).settings };
    bob.request(Request::SaveSettings { settings }, Millis(26));
    alice.request(Request::SendText { room: room.clone(), text: "the secret plan".into() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let [arrival] = &bob.notified[..] else { panic!("one notification: {:?}", bob.notified) };
    assert_eq!((arrival.title.english().as_str(), arrival.text.english().as_str()), ("alice", "New message"));
    assert!(!format!("{arrival:?}").contains("secret"));
}

#[test]
fn a_local_name_a_pin_and_the_last_message_show_in_the_list_and_stay_local() {
    let (mut alice, mut bob, room) = direct();
    alice.request(Request::CreateGroup { name: "Later".into() }, Millis(21));
    let later = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::SendText { room: later.clone(), text: "note to self".into() }, Millis(22));
    bob.request(Request::SendText { room: room.clone(), text: "a long message ".repeat(10) }, Millis(23));
    pump(&mut alice, &mut bob, "dc_1", Millis(24));
    let list = view(&alice).rooms;
    assert_eq!(list.iter().map(|it| it.title.as_str()).collect::<Vec<_>>(), ["bob", "Later"], "most recent first");
    let last = list[0].last_message.clone().expect("bob's message is the last one");
    assert_eq!((last.sender.as_str(), last.mine), ("bob", false));
    assert!(last.text.starts_with("a long message") && last.text.ends_with('…') && last.text.chars().count() == 81);
    assert_eq!(list[1].last_message.as_ref().map(|it| (it.text.as_str(), it.mine)), Some(("note to self", true)));

    alice.to_engine.clear();
    let set = |name: Option<&str>, pinned: Option<bool>| Request::ConversationSettings {
        room: later.clone(),
        name: name.map(str::to_owned),
        muted: None,
        pinned,
    };
    alice.request(set(Some("Ideas \u{202e}"), Some(true)), Millis(30));
    let list = view(&alice).rooms;
    assert_eq!(list.iter().map(|it| it.title.as_str()).collect::<Vec<_>>(), ["Ideas", "bob"], "pinned first");
    assert!(list[0].pinned && list[0].renamed);
    assert!(alice.to_engine.iter().all(|it| !matches!(it, WorkerToEngine::Send { .. })), "nothing is sent to anyone");
    alice.restart(Millis(40));
    assert_eq!(view(&alice).rooms[0].title, "Ideas");
    // An empty name gives the group its own name back; unpinned, it sorts by activity again.
    alice.request(set(Some(" "), Some(false)), Millis(41));
    let list = view(&alice).rooms;
    assert_eq!(list.iter().map(|it| it.title.as_str()).collect::<Vec<_>>(), ["bob", "Later"]);
    assert!(!list[1].renamed && !list[1].pinned);
    let too_long = "x".repeat(101);
    assert!(!refused(alice.request(set(Some(&too_long), None), Millis(42))).is_empty());
}

#[test]
fn clicking_a_notification_opens_its_conversation() {
    let (mut alice, mut bob, room) = direct();
    bob.request(Request::SelectRoom { room: None }, Millis(25));
    bob.model.popups_closed();
    alice.request(Request::SendText { room: room.clone(), text: "click me".into() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let id = bob.notified.last().expect("a notification").notification_id.clone();
    assert!(view(&bob).open_room.is_none());
    bob.notification_clicked(&id, Millis(32));
    assert_eq!(view(&bob).open_room.map(|it| it.room.id), Some(room.clone()));
    // Stored as the open conversation: the popup opened next (or the tab) shows it, also after a restart.
    assert!(bob.disk.0.get("ui").unwrap().to_string().contains(&room));
    bob.restart(Millis(33));
    assert_eq!(view(&bob).open_room.map(|it| it.room.id), Some(room.clone()));
    // A contact's key warning opens the conversation with them; a request opens the list.
    bob.request(Request::SelectRoom { room: None }, Millis(34));
    bob.notification_clicked("multichat-contact-alice", Millis(35));
    assert_eq!(view(&bob).open_room.map(|it| it.room.id), Some(room));
    bob.notification_clicked("multichat-requests", Millis(36));
    assert!(view(&bob).open_room.is_none());
}

#[test]
fn a_group_left_with_its_history_kept_stays_listed_with_its_messages() {
    let (mut alice, mut bob, room) = group();
    alice.request(Request::SendText { room: room.clone(), text: "welcome bob".into() }, Millis(40));
    pump(&mut alice, &mut bob, "dc_1", Millis(41));
    bob.request(Request::LeaveGroupKeepHistory { room: room.clone() }, Millis(50));
    pump(&mut alice, &mut bob, "dc_1", Millis(51));
    let friends = view(&alice).rooms.into_iter().find(|it| it.id == room).expect("alice is still in her group");
    assert!(friends.members.is_empty(), "bob is out of it: {:?}", friends.members);
    assert!(!keys_of_room(&bob, &room).is_empty(), "bob keeps the group's records");
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(60));
    let open = view(&bob).open_room.expect("bob can still open it");
    assert!(open.room.left, "the popup is told the group was left, so it shows no composer");
    assert_eq!(open.messages.iter().map(|it| it.text.as_str()).collect::<Vec<_>>(), ["welcome bob"]);
    let refused = bob.request(Request::SendText { room: room.clone(), text: "hello?".into() }, Millis(61));
    assert!(
        matches!(&refused, Response::Error { message } if message.english().contains("You left this group")),
        "{refused:?}"
    );
    // After a restart too, and nobody is dialed for it.
    bob.restart(Millis(100_000));
    bob.to_engine.clear();
    for second in 1..=60 {
        bob.timeout(Millis(100_000 + second * 1_000));
    }
    assert_eq!(dials(&bob), Vec::<String>::new());
    assert!(view(&bob).rooms.iter().any(|it| it.id == room));
}
