//! A multichat user and peers of the original peerjs-multichat page: they chat both ways, the page only
//! ever receives the frame shapes it knows, and its room merging still forms a mesh.

use multichat_core::chat::RoomId;
use serde_json::Value;

use crate::chat_sim::{Sim, user};

/// Every frame an original page received is one it understands, in exactly its shape.
fn assert_only_original_frames(sim: &Sim, page: &str) {
    for frame in &sim.pages[page].received {
        match frame["type"].as_str() {
            Some("chat") => {
                let mut keys: Vec<&str> = frame["chat"].as_object().unwrap().keys().map(String::as_str).collect();
                keys.sort_unstable();
                assert_eq!(keys, ["message", "sender", "timestamp"], "{frame}");
                assert!(frame["chat"]["timestamp"].is_u64());
            }
            Some("connections") => assert!(frame["peerIds"].is_array()),
            _ => panic!("{page} received a frame it does not know: {frame}"),
        }
    }
    assert!(sim.pages[page].broken_metadata.is_empty(), "metadata the page would throw on");
}

fn page_texts(sim: &Sim, page: &str) -> Vec<(String, String)> {
    sim.pages[page]
        .chats
        .iter()
        .map(|it| (it["sender"].as_str().unwrap().to_owned(), it["message"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(sender: &str, text: &str) -> (String, String) {
    (sender.to_owned(), text.to_owned())
}

#[test]
fn we_dial_an_original_page_and_chat_both_ways() {
    let mut sim = Sim::new(&["alice"], &["dave"]);
    let room = sim.open_direct("alice", "dave");
    sim.advance(100);
    sim.send("alice", &room, "hello dave");
    sim.page_send("dave", "hello alice");
    assert_eq!(sim.texts("alice", &room), vec![pair("alice", "hello dave"), pair("dave", "hello alice")]);
    assert_eq!(page_texts(&sim, "dave"), vec![pair("alice", "hello dave"), pair("dave", "hello alice")]);
    // It cannot acknowledge; handing it the message is delivery.
    assert_eq!(sim.node("alice").outbox_len(), 0);
    assert_only_original_frames(&sim, "dave");
    assert!(sim.dropped_frames("alice").is_empty(), "{:?}", sim.dropped_frames("alice"));
}

#[test]
fn an_original_page_dials_us_and_chats_both_ways() {
    let mut sim = Sim::new(&["alice"], &["dave"]);
    sim.page_connect("dave", "alice");
    sim.page_send("dave", "hi, it's dave");
    let room = RoomId::direct(&user("alice"), &user("dave"));
    assert_eq!(sim.texts("alice", &room), vec![pair("dave", "hi, it's dave")]);
    sim.send("alice", &room, "hi dave");
    assert_eq!(page_texts(&sim, "dave").last().unwrap(), &pair("alice", "hi dave"));
    assert_only_original_frames(&sim, "dave");
    assert!(sim.node("alice").is_online(&user("dave")));
}

#[test]
fn messages_written_while_an_original_page_was_away_are_handed_over_when_it_returns() {
    let mut sim = Sim::new(&["alice"], &["dave"]);
    let room = sim.open_direct("alice", "dave");
    sim.drop_links_of("dave");
    sim.pages.get_mut("dave").unwrap().connections.clear();
    // Dave's page is "closed": make it unreachable by removing it, then bring it back.
    let page = sim.pages.remove("dave").unwrap();
    sim.send("alice", &room, "while you were away");
    assert_eq!(sim.node("alice").outbox_len(), 1);
    sim.pages.insert("dave".into(), page);
    sim.advance(35_000);
    assert_eq!(page_texts(&sim, "dave").last().unwrap(), &pair("alice", "while you were away"));
    assert_eq!(sim.node("alice").outbox_len(), 0);
    assert_only_original_frames(&sim, "dave");
}

#[test]
fn an_original_page_invited_to_a_group_joins_its_mesh() {
    let mut sim = Sim::new(&["alice", "bob"], &["dave"]);
    let room = sim.create_group("alice", "Mixed");
    sim.invite("alice", &room, "bob");
    sim.invite("alice", &room, "dave");
    sim.advance(100);
    // The page merged with the member list it was given, as it always did.
    assert!(sim.linked("dave", "alice") && sim.linked("dave", "bob"));
    sim.page_send("dave", "hello room");
    sim.send("bob", &room, "hi dave");
    sim.send("alice", &room, "welcome");
    for name in ["alice", "bob"] {
        let texts: Vec<String> = sim.texts(name, &room).into_iter().map(|it| it.1).collect();
        assert_eq!(texts, ["hello room", "hi dave", "welcome"], "{name}");
    }
    assert_eq!(
        page_texts(&sim, "dave"),
        vec![pair("dave", "hello room"), pair("bob", "hi dave"), pair("alice", "welcome")]
    );
    assert_only_original_frames(&sim, "dave");
}

#[test]
fn a_stock_client_that_never_answers_is_treated_as_the_original_page_after_a_grace_period() {
    let mut sim = Sim::new(&["alice"], &["erin"]);
    sim.pages.get_mut("erin").unwrap().quiet = true;
    let room = sim.open_direct("alice", "erin");
    // Not yet known to be a stock client: the message waits rather than risk the wrong frame shape.
    sim.send("alice", &room, "early");
    assert!(page_texts(&sim, "erin").is_empty());
    sim.advance(4_000);
    assert!(page_texts(&sim, "erin").contains(&pair("alice", "early")));
    assert!(sim.pages["erin"].received.iter().all(|it| it.get("type").and_then(Value::as_str) != Some("mc.hello")));
}

/// Dave and erin are two original pages meshed with each other; alice chats with dave.
fn page_mesh() -> (Sim, RoomId) {
    let mut sim = Sim::new(&["alice"], &["dave", "erin"]);
    sim.page_connect("erin", "dave");
    assert!(sim.linked("dave", "erin"));
    let room = sim.open_direct("alice", "dave");
    sim.advance(100);
    (sim, room)
}

#[test]
fn the_conversation_with_an_original_page_becomes_its_mesh_room() {
    let (mut sim, room) = page_mesh();
    // Dave's page gossiped erin; alice dialed her with the room's members as the page's merge metadata.
    assert!(sim.linked("alice", "erin"), "alice dialed the peer dave's page listed");
    let record = sim.node("alice").room(&room).unwrap().clone();
    assert_eq!(record.members, [user("alice"), user("dave"), user("erin")].into());

    sim.send("alice", &room, "hello mesh");
    sim.page_send("erin", "hi from erin");
    sim.page_send("dave", "hi from dave");
    assert_eq!(
        sim.texts("alice", &room),
        vec![pair("alice", "hello mesh"), pair("erin", "hi from erin"), pair("dave", "hi from dave")]
    );
    for page in ["dave", "erin"] {
        assert!(page_texts(&sim, page).contains(&pair("alice", "hello mesh")), "{page}: {:?}", page_texts(&sim, page));
        assert_only_original_frames(&sim, page);
    }
    assert_eq!(sim.node("alice").outbox_len(), 0, "handed to both pages");
    // Still the conversation with dave, by name.
    let view = sim.node("alice").room_views().into_iter().find(|it| it.id == room).unwrap();
    assert_eq!(view.title, "dave");
    assert_eq!(sim.node("alice").room_views().len(), 1, "no separate conversation with erin");
}

#[test]
fn a_page_that_dials_us_listing_a_mesh_member_joins_that_mesh_room() {
    let mut sim = Sim::new(&["alice"], &["dave", "erin"]);
    let room = sim.open_direct("alice", "dave");
    sim.advance(100);
    // Erin's page connects to dave's, merges with its list, and so dials alice with `peerIds: [dave]`.
    sim.page_connect("erin", "dave");
    sim.advance(100);
    assert!(sim.linked("erin", "alice"));
    assert!(sim.node("alice").room(&room).unwrap().members.contains(&user("erin")));
    sim.page_send("erin", "erin here");
    assert_eq!(sim.texts("alice", &room).last().unwrap(), &pair("erin", "erin here"));
    sim.send("alice", &room, "welcome erin");
    assert_eq!(page_texts(&sim, "erin").last().unwrap(), &pair("alice", "welcome erin"));
    assert_eq!(sim.node("alice").room_views().len(), 1);
}

#[test]
fn a_multichat_peer_a_page_lists_does_not_join_the_mesh_room_without_an_invitation() {
    let mut sim = Sim::new(&["alice", "bob"], &["dave"]);
    // Bob (ours) chats with dave's page, so dave's page lists bob.
    let bobs = sim.open_direct("bob", "dave");
    sim.advance(100);
    sim.send("bob", &bobs, "bob to dave");
    let room = sim.open_direct("alice", "dave");
    sim.advance(5_000);
    let record = sim.node("alice").room(&room).unwrap().clone();
    assert_eq!(record.members, [user("alice"), user("dave")].into(), "bob speaks our protocol: no gossip membership");
    sim.send("alice", &room, "for dave only");
    assert!(page_texts(&sim, "dave").contains(&pair("alice", "for dave only")));
    let bob_saw: Vec<String> =
        sim.node("bob").room_views().iter().flat_map(|it| sim.texts("bob", &it.id)).map(|it| it.1).collect();
    assert!(!bob_saw.contains(&"for dave only".to_owned()), "{bob_saw:?}");
}

#[test]
fn a_page_that_dials_us_has_its_mesh_merged_only_once_the_user_answers_it() {
    let mut sim = Sim::new(&["alice"], &["dave", "erin"]);
    sim.page_connect("erin", "dave");
    // Dave's page dials alice, listing erin: a stranger's word, so alice dials nobody yet.
    sim.page_connect("dave", "alice");
    sim.advance(100);
    let room = RoomId::direct(&user("alice"), &user("dave"));
    assert!(!sim.linked("alice", "erin"), "a page that dialed us makes us dial nobody unasked");
    assert_eq!(sim.node("alice").room(&room).unwrap().members, [user("alice"), user("dave")].into());
    // Alice answers: the conversation is one she chose now, and dave's page's mesh merges into it.
    sim.send("alice", &room, "hi dave");
    sim.advance(100);
    assert!(sim.linked("alice", "erin"));
    assert!(sim.node("alice").room(&room).unwrap().members.contains(&user("erin")));
    sim.send("alice", &room, "hi both");
    assert!(page_texts(&sim, "erin").contains(&pair("alice", "hi both")));
    assert!(page_texts(&sim, "dave").contains(&pair("alice", "hi both")));
}

#[test]
fn a_page_mesh_survives_a_restart_of_the_multichat_user() {
    let (mut sim, room) = page_mesh();
    sim.send("alice", &room, "before the restart");
    sim.crash("alice");
    // The pages forget alice's dropped links, as theirs close.
    for page in ["dave", "erin"] {
        sim.pages.get_mut(page).unwrap().connections.remove(&user("alice").peer_id());
    }
    sim.restart("alice");
    sim.advance(35_000);
    assert!(sim.linked("alice", "erin") && sim.linked("alice", "dave"), "alice redials the whole mesh");
    sim.page_send("erin", "erin after the restart");
    assert_eq!(sim.texts("alice", &room).last().unwrap(), &pair("erin", "erin after the restart"));
    assert_eq!(sim.node("alice").room_views().len(), 1, "still one conversation");
    sim.send("alice", &room, "after the restart");
    assert!(page_texts(&sim, "erin").contains(&pair("alice", "after the restart")));
}
