//! Unit tests of the node through its public verbs.

use serde_json::json;

use super::{
    ChatError, ChatEvent, ChatNode, Command, DropReason, HELLO_GRACE_MS, HOLD_MAX_MS, Input, MAX_FRAME_BURST, Output,
    RESEND_AFTER_MS, caps, legacy_chat,
};
use crate::account::Username;
use crate::chat::history::DeliveryState;
use crate::chat::ids::{LinkId, MessageId, RoomId};
use crate::chat::room::RoomError;
use crate::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello};
use crate::time::Millis;

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

/// Alice with a direct room and a link to bob that said hello; outputs drained.
fn alice_linked_to_bob() -> (ChatNode, RoomId) {
    let mut node = ChatNode::new(user("alice"), Millis(1_000));
    let room = node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap().unwrap();
    let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
    node.handle_input(
        Millis(1_000),
        Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false },
    );
    let hello = Hello { version: 1, user: user("bob"), capabilities: caps(), auth: None, session: None };
    node.handle_input(Millis(1_000), Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Hello(hello)) });
    drain(&mut node);
    (node, room)
}

fn drain(node: &mut ChatNode) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// Alice (the smaller username) dialed bob on dc_1; bob's hello there named `first`. Then bob dials
/// alice on dc_2 and greets with `second`. Returns the links alice closed.
fn second_link_from_bob(first: Option<u64>, second: Option<u64>) -> Vec<LinkId> {
    let mut node = ChatNode::new(user("alice"), Millis(1_000));
    node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap();
    let ours = json!({"peerIds": [], "multichat": {"v": 1}});
    let hello = |session| {
        wire::encode(&Frame::Hello(Hello { version: 1, user: user("bob"), capabilities: caps(), auth: None, session }))
    };
    node.handle_input(
        Millis(1_000),
        Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata: ours.clone(), outgoing: true },
    );
    node.handle_input(Millis(1_000), Input::Frame { link: "dc_1".into(), frame: hello(first) });
    drain(&mut node);
    node.handle_input(
        Millis(2_000),
        Input::LinkUp { link: "dc_2".into(), peer_id: user("bob").peer_id(), metadata: ours, outgoing: false },
    );
    node.handle_input(Millis(2_000), Input::Frame { link: "dc_2".into(), frame: hello(second) });
    drain(&mut node)
        .into_iter()
        .filter_map(|it| if let Output::Close { link } = it { Some(link) } else { None })
        .collect()
}

#[test]
fn dials_the_engine_may_have_missed_are_made_again_when_it_greets() {
    let mut node = ChatNode::new(user("alice"), Millis(1_000));
    node.handle_command(Millis(1_000), Command::OpenDirect { username: user("bob") }).unwrap();
    let dials = |outputs: Vec<Output>| outputs.into_iter().filter(|it| matches!(it, Output::Dial { .. })).count();
    assert_eq!(dials(drain(&mut node)), 1);
    // The engine was just being created and never saw that dial; when it greets, bob is dialed again
    // rather than after the 15 s dial timeout.
    node.handle_input(Millis(1_200), Input::EngineGreeted);
    assert_eq!(dials(drain(&mut node)), 1);
    // With a link up, nothing is dialed again.
    let ours = json!({"peerIds": [], "multichat": {"v": 1}});
    node.handle_input(
        Millis(1_300),
        Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata: ours, outgoing: true },
    );
    drain(&mut node);
    node.handle_input(Millis(1_400), Input::EngineGreeted);
    assert_eq!(dials(drain(&mut node)), 0);
}

#[test]
fn a_link_from_an_earlier_session_of_the_peer_gives_way_at_once() {
    // Bob's browser restarted: the link alice dialed belongs to his earlier session and is dead.
    assert_eq!(second_link_from_bob(Some(10), Some(20)), ["dc_1"]);
    // The same session: both ends apply the usual rule and keep the link the smaller username dialed.
    assert_eq!(second_link_from_bob(Some(10), Some(10)), ["dc_2"]);
    // A peer that names no session (an older multichat) gets the usual rule too.
    assert_eq!(second_link_from_bob(None, None), ["dc_2"]);
}

fn chat_from_bob(room: &RoomId, seq: u64) -> Input {
    let frame = Frame::Chat(ChatFrame {
        sender: user("bob"),
        text: format!("bob {seq}"),
        timestamp: Millis(seq),
        ours: Some(ChatExtras {
            id: MessageId::parse(&format!("m-bob-{seq}")).unwrap(),
            seq,
            room: room.clone(),
            sig: None,
            act: None,
        }),
    });
    Input::Frame { link: "dc_1".into(), frame: wire::encode(&frame) }
}

fn sent_types(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|it| match it {
            Output::Send { frame, .. } => Some(frame["type"].as_str().unwrap_or_default().to_owned()),
            Output::Write(_) => Some("(write)".to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_flooding_peer_is_rate_limited_and_the_link_kept() {
    let (mut node, _room) = alice_linked_to_bob();
    let ping = |n| Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Ping { n }) };
    for n in 0..MAX_FRAME_BURST + 500 {
        node.handle_input(Millis(2_000), ping(n));
    }
    let outputs = drain(&mut node);
    let pongs = sent_types(&outputs).iter().filter(|it| it.as_str() == "mc.pong").count() as u64;
    assert_eq!(pongs, MAX_FRAME_BURST, "the burst is answered, the rest dropped");
    let drops: Vec<_> = outputs
        .iter()
        .filter(|it| matches!(it, Output::Event(ChatEvent::FrameDropped { reason: DropReason::RateLimited, .. })))
        .collect();
    assert_eq!(drops.len(), 1, "reported once per episode, not per frame");
    assert!(!outputs.iter().any(|it| matches!(it, Output::Close { .. })), "the link is kept");
    // A second later the peer may send again.
    node.handle_input(Millis(3_000), ping(1));
    assert_eq!(sent_types(&drain(&mut node)), ["mc.pong"]);
}

#[test]
fn a_message_is_stored_before_it_is_acknowledged() {
    let (mut node, room) = alice_linked_to_bob();
    node.handle_input(Millis(2_000), chat_from_bob(&room, 1));
    assert_eq!(sent_types(&drain(&mut node)), ["(write)", "mc.ack"]);
    // The same message again is acknowledged again but not stored again.
    node.handle_input(Millis(2_001), chat_from_bob(&room, 1));
    assert_eq!(sent_types(&drain(&mut node)), ["mc.ack"]);
    assert_eq!(node.messages(&room).len(), 1);
}

#[test]
fn a_gap_holds_later_messages_back_and_asks_for_the_missing_ones() {
    let (mut node, room) = alice_linked_to_bob();
    node.handle_input(Millis(2_000), chat_from_bob(&room, 1));
    node.handle_input(Millis(2_000), chat_from_bob(&room, 4));
    let outputs = drain(&mut node);
    let want = outputs.iter().find_map(|it| match it {
        Output::Send { frame, .. } if frame["type"] == "mc.want" => Some(frame["seqs"].clone()),
        _ => None,
    });
    assert_eq!(want, Some(json!([2, 3])));
    node.handle_input(Millis(2_100), chat_from_bob(&room, 3));
    node.handle_input(Millis(2_200), chat_from_bob(&room, 2));
    let seqs: Vec<u64> = node.messages(&room).iter().map(|it| it.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // A gap that is never filled is given up on after a while.
    node.handle_input(Millis(3_000), chat_from_bob(&room, 9));
    assert_eq!(node.messages(&room).len(), 4);
    node.handle_timeout(Millis(3_000 + HOLD_MAX_MS));
    assert_eq!(node.messages(&room).len(), 5);
}

#[test]
fn bad_frames_are_dropped_with_a_reason_and_the_link_is_kept() {
    let (mut node, room) = alice_linked_to_bob();
    node.handle_input(Millis(2_000), Input::Frame { link: "dc_1".into(), frame: json!({"type": "chat", "chat": 5}) });
    let forged = Frame::Chat(ChatFrame { sender: user("carol"), text: "hi".into(), timestamp: Millis(1), ours: None });
    node.handle_input(Millis(2_000), Input::Frame { link: "dc_1".into(), frame: wire::encode(&forged) });
    let reasons: Vec<DropReason> = drain(&mut node)
        .into_iter()
        .filter_map(|it| match it {
            Output::Event(ChatEvent::FrameDropped { reason, .. }) => Some(reason),
            _ => None,
        })
        .collect();
    assert!(matches!(&reasons[..], [DropReason::Malformed(_), DropReason::SenderMismatch]), "{reasons:?}");
    assert!(node.is_online(&user("bob")));
    node.handle_input(Millis(2_001), chat_from_bob(&room, 1));
    assert_eq!(node.messages(&room).len(), 1);
}

#[test]
fn sending_refuses_what_cannot_be_sent() {
    let (mut node, room) = alice_linked_to_bob();
    let send = |text: String| Command::Send { room: room.clone(), text, random: [1; 16] };
    assert_eq!(node.handle_command(Millis(2_000), send("  ".into())), Err(ChatError::EmptyMessage));
    assert_eq!(
        node.handle_command(Millis(2_000), send("x".repeat(wire::MAX_TEXT_BYTES + 1))),
        Err(ChatError::MessageTooLong)
    );
    // Control characters are escaped six times their size in JSON: over the frame limit.
    assert_eq!(node.handle_command(Millis(2_000), send("\u{1}".repeat(4_000))), Err(ChatError::MessageTooLong));
    let unknown = Command::Send { room: RoomId::group_from_random([9; 16]), text: "hi".into(), random: [1; 16] };
    assert_eq!(node.handle_command(Millis(2_000), unknown), Err(ChatError::Room(RoomError::UnknownRoom)));
    assert_eq!(
        ChatError::MessageTooLong.to_string(),
        "This message is too long to send; please split it into shorter messages"
    );
}

#[test]
fn our_message_is_sending_until_acknowledged() {
    let (mut node, room) = alice_linked_to_bob();
    node.handle_command(Millis(2_000), Command::Send { room: room.clone(), text: "hi".into(), random: [1; 16] })
        .unwrap();
    assert_eq!(sent_types(&drain(&mut node)), ["(write)", "chat"]);
    assert_eq!(node.messages(&room)[0].state, Some(DeliveryState::Sending));
    // Not acknowledged: re-sent after a while.
    node.handle_timeout(Millis(2_000 + RESEND_AFTER_MS));
    assert!(sent_types(&drain(&mut node)).contains(&"chat".to_owned()));
    let id = node.messages(&room)[0].id.clone();
    let ack = wire::encode(&Frame::Ack { room: room.clone(), ids: vec![id] });
    node.handle_input(Millis(8_000), Input::Frame { link: "dc_1".into(), frame: ack });
    assert_eq!(node.messages(&room)[0].state, Some(DeliveryState::Delivered));
    assert_eq!(node.outbox_len(), 0);
}

#[test]
fn a_restarted_node_greets_resumed_links_and_the_peer_answers() {
    // Bob's node, linked to alice (bob dialed). Then alice's node restarts with the link still open.
    let mut bob = ChatNode::new(user("bob"), Millis(0));
    let up =
        Input::LinkUp { link: "dc_1".into(), peer_id: user("alice").peer_id(), metadata: json!({}), outgoing: true };
    bob.handle_input(Millis(0), up);
    let hello_from = |name: &str| Input::Frame {
        link: "dc_1".into(),
        frame: wire::encode(&Frame::Hello(Hello {
            version: 1,
            user: user(name),
            capabilities: caps(),
            auth: None,
            session: None,
        })),
    };
    bob.handle_input(Millis(1), hello_from("alice"));
    drain(&mut bob);
    let mut alice = ChatNode::new(user("alice"), Millis(2));
    let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
    let resumed = Input::LinkResumed { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false };
    alice.handle_input(Millis(2), resumed);
    assert!(sent_types(&drain(&mut alice)).contains(&"mc.hello".to_owned()));
    bob.handle_input(Millis(3), hello_from("alice"));
    assert!(sent_types(&drain(&mut bob)).contains(&"mc.hello".to_owned()), "bob answers the second hello");
    alice.handle_input(Millis(4), hello_from("bob"));
    assert!(!sent_types(&drain(&mut alice)).contains(&"mc.hello".to_owned()), "and alice does not answer back");
    assert!(alice.is_online(&user("bob")));
}

#[test]
fn a_dialer_with_our_metadata_is_never_taken_for_legacy() {
    // Bob dialed with our metadata; alice greeted, but bob's answer is slow (his worker is busy) and
    // his grace ran out first, so he sends original-shape chats for a while.
    let mut node = ChatNode::new(user("alice"), Millis(0));
    let room = node.handle_command(Millis(0), Command::OpenDirect { username: user("bob") }).unwrap().unwrap();
    let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
    node.handle_input(
        Millis(0),
        Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false },
    );
    drain(&mut node);
    node.handle_timeout(Millis(HELLO_GRACE_MS * 4));
    assert!(!node.is_online(&user("bob")), "still waiting for bob's hello, not legacy");
    assert!(node.poll_timeout().is_none_or(|it| it > Millis(HELLO_GRACE_MS * 4)), "no busy timer for the wait");
    let legacy = legacy_chat(&user("bob"), "bob 1", Millis(5));
    node.handle_input(Millis(HELLO_GRACE_MS * 4), Input::Frame { link: "dc_1".into(), frame: legacy });
    let outputs = drain(&mut node);
    assert!(
        outputs.iter().any(|it| matches!(
            it,
            Output::Event(ChatEvent::FrameDropped { reason: DropReason::OriginalShapeFromOurs, .. })
        )),
        "{outputs:?}"
    );
    assert!(node.messages(&room).is_empty(), "an original-shape copy is never stored");
    assert!(!sent_types(&outputs).iter().any(|it| it == "chat" || it == "connections"));
    // Bob's hello arrives at last: the link is ours, and catch-up starts.
    let hello = Hello { version: 1, user: user("bob"), capabilities: caps(), auth: None, session: None };
    node.handle_input(Millis(13_000), Input::Frame { link: "dc_1".into(), frame: wire::encode(&Frame::Hello(hello)) });
    assert!(sent_types(&drain(&mut node)).contains(&"mc.sync".to_owned()));
    assert!(node.is_online(&user("bob")));
}

#[test]
fn a_dialer_without_our_metadata_gets_only_original_frames() {
    let mut node = ChatNode::new(user("alice"), Millis(0));
    let metadata = json!({"peerIds": []});
    node.handle_input(
        Millis(0),
        Input::LinkUp { link: "dc_9".into(), peer_id: user("dave").peer_id(), metadata, outgoing: false },
    );
    let room = RoomId::direct(&user("alice"), &user("dave"));
    node.handle_command(Millis(1), Command::Send { room, text: "hi".into(), random: [2; 16] }).unwrap();
    node.handle_timeout(Millis(60_000));
    for output in drain(&mut node) {
        if let Output::Send { frame, .. } = output {
            assert!(matches!(frame["type"].as_str(), Some("chat" | "connections")), "{frame}");
            assert!(frame.get("id").is_none(), "{frame}");
        }
    }
}

#[test]
fn files_go_only_on_links_whose_hello_announced_them() {
    // Our peer with the capability (ours include it: the worker takes files).
    assert!(caps().iter().any(|it| it == crate::transfer::CAPABILITY));
    let (node, _) = alice_linked_to_bob();
    assert_eq!(node.files_link(&user("bob")), Some(&"dc_1".to_owned()));
    assert_eq!(
        node.files_links().map(|(link, peer, _)| (link.clone(), peer.clone())).collect::<Vec<_>>(),
        [("dc_1".to_owned(), user("bob"))]
    );
    assert_eq!(node.files_peer(&"dc_1".to_owned()), Some(&user("bob")));

    // An older multichat, without it.
    let mut node = ChatNode::new(user("alice"), Millis(1_000));
    let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
    node.handle_input(
        Millis(1_000),
        Input::LinkUp { link: "dc_2".into(), peer_id: user("carol").peer_id(), metadata, outgoing: false },
    );
    let older = vec!["ack".to_owned(), "sync".to_owned(), "rooms".to_owned(), "ping".to_owned()];
    let hello = Hello { version: 1, user: user("carol"), capabilities: older, auth: None, session: None };
    node.handle_input(Millis(1_000), Input::Frame { link: "dc_2".into(), frame: wire::encode(&Frame::Hello(hello)) });
    assert_eq!(node.files_link(&user("carol")), None);

    // The original page, even one that writes "files" somewhere in what it sends.
    let metadata = json!({"peerIds": [], "caps": ["files"]});
    node.handle_input(
        Millis(1_000),
        Input::LinkUp { link: "dc_3".into(), peer_id: user("dave").peer_id(), metadata, outgoing: false },
    );
    let connections = json!({"type": "connections", "peerIds": [], "caps": ["files"]});
    node.handle_input(Millis(1_000), Input::Frame { link: "dc_3".into(), frame: connections });
    let chat = legacy_chat(&user("dave"), "hi", Millis(5));
    node.handle_input(Millis(1_000), Input::Frame { link: "dc_3".into(), frame: chat });
    assert!(node.is_online(&user("dave")));
    assert_eq!(node.files_link(&user("dave")), None);
    assert_eq!(node.files_peer(&"dc_3".to_owned()), None);
}
