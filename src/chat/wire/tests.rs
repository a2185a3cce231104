use super::*;

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

#[test]
fn the_original_chat_frame_decodes() {
    let frame =
        decode(&json!({"type": "chat", "chat": {"sender": "bob", "message": "hi", "timestamp": 1700000000000u64}}));
    assert_eq!(
        frame,
        Ok(Frame::Chat(ChatFrame {
            sender: user("bob"),
            text: "hi".into(),
            timestamp: Millis(1_700_000_000_000),
            ours: None
        }))
    );
    // A float timestamp (any JS number) is accepted.
    let frame =
        decode(&json!({"type": "chat", "chat": {"sender": "bob", "message": "hi", "timestamp": 12.7}})).unwrap();
    assert!(matches!(frame, Frame::Chat(ChatFrame { timestamp: Millis(12), .. })));
}

#[test]
fn our_chat_frame_is_the_original_plus_top_level_fields() {
    let frame = Frame::Chat(ChatFrame {
        sender: user("alice"),
        text: "hello".into(),
        timestamp: Millis(5),
        ours: Some(ChatExtras {
            id: MessageId::from_random([7; 16]),
            seq: 3,
            room: RoomId::direct(&user("alice"), &user("bob")),
            sig: None,
            act: None,
        }),
    });
    let value = encode(&frame);
    // The `chat` object is exactly the original's, so an original page stores nothing new.
    assert_eq!(value["chat"], json!({"sender": "alice", "message": "hello", "timestamp": 5}));
    assert_eq!(value["type"], "chat");
    assert_eq!(value["seq"], 3);
    assert_eq!(value["room"], "dm:alice:bob");
    assert_eq!(decode(&value), Ok(frame));
}

#[test]
fn every_frame_round_trips() {
    let room = RoomId::group_from_random([1; 16]);
    let frames = [
        Frame::Connections { peer_ids: vec!["secure-p2p-multichat-bob".into()] },
        Frame::Hello(Hello {
            version: 1,
            user: user("alice"),
            capabilities: vec!["ack".into()],
            auth: None,
            session: Some(7),
        }),
        Frame::Ping { n: 9 },
        Frame::Pong { n: 9 },
        Frame::Ack { room: room.clone(), ids: vec![MessageId::from_random([2; 16])] },
        Frame::Room(RoomInfo {
            room: room.clone(),
            name: "Friends".into(),
            members: [user("alice"), user("bob")].into(),
            invites: vec![Invitation {
                inviter: user("alice"),
                invitee: user("bob"),
                key: Some(crate::identity::Identity::from_seed([4; 32]).public_key()),
                since: [(user("alice"), 4)].into(),
                sig: Some(Signature([5; 64])),
            }],
        }),
        Frame::Sync { room: room.clone(), heads: [(user("bob"), 4)].into() },
        Frame::Want { room: room.clone(), sender: user("bob"), seqs: vec![2, 3] },
        Frame::Batch {
            room,
            messages: vec![WireMessage {
                id: MessageId::from_random([3; 16]),
                sender: user("bob"),
                seq: 1,
                text: "x".into(),
                timestamp: Millis(1),
                sig: Some(Signature([6; 64])),
                act: None,
            }],
            pull: true,
        },
        Frame::Batch { room: RoomId::direct(&user("alice"), &user("bob")), messages: Vec::new(), pull: false },
    ];
    for frame in frames {
        assert_eq!(decode(&encode(&frame)), Ok(frame.clone()), "{frame:?}");
    }
}

#[test]
fn bad_frames_say_why() {
    let cases = [
        (json!([1]), WireError::NotAnObject),
        (json!({"chat": {}}), WireError::MissingType),
        (json!({"type": "format-disk"}), WireError::UnknownType("format-disk".into())),
        (json!({"type": "chat"}), WireError::Missing("chat")),
        (
            json!({"type": "chat", "chat": {"sender": "bob", "message": 5, "timestamp": 1}}),
            WireError::Invalid { field: "message", reason: "not a string".into() },
        ),
        (
            json!({"type": "chat", "chat": {"sender": "bob", "message": "x".repeat(MAX_TEXT_BYTES + 1), "timestamp": 1}}),
            WireError::TooLong { field: "message", limit: MAX_TEXT_BYTES },
        ),
        (json!({"type": "mc.ping"}), WireError::Missing("n")),
    ];
    for (value, expected) in cases {
        assert_eq!(decode(&value), Err(expected));
    }
    let html = decode(&json!({"type": "chat", "chat": {"sender": "<b>x</b>", "message": "hi", "timestamp": 1}}));
    assert!(matches!(html, Err(WireError::Invalid { field: "sender", .. })));
}

#[test]
fn metadata_keeps_the_original_peer_ids_and_adds_ours() {
    let metadata =
        LinkMetadata { peer_ids: vec!["secure-p2p-multichat-carol".into()], ours: Some(OurMetadata { version: 1 }) };
    let value = encode_metadata(&metadata);
    assert_eq!(value["peerIds"], json!(["secure-p2p-multichat-carol"]));
    assert_eq!(value["multichat"], json!({"v": 1}), "no room id for the signaling server to see");
    assert_eq!(decode_metadata(&value), metadata);
    // The original page's metadata, and junk, decode to "a stock peer".
    let original = decode_metadata(&json!({"peerIds": ["secure-p2p-multichat-dave", "other-app-id", 5]}));
    assert_eq!(original, LinkMetadata { peer_ids: vec!["secure-p2p-multichat-dave".into()], ours: None });
    assert_eq!(decode_metadata(&json!(null)).peer_ids, Vec::<String>::new());
}

#[test]
fn a_full_text_chat_fits_the_peerjs_limit() {
    let frame = Frame::Chat(ChatFrame {
        sender: user(&"a".repeat(64)),
        text: "é".repeat(MAX_TEXT_BYTES / 2),
        timestamp: Millis(u64::from(u32::MAX) * 1000),
        ours: Some(ChatExtras {
            id: MessageId::from_random([9; 16]),
            seq: u64::MAX,
            room: RoomId::group_from_random([1; 16]),
            sig: Some(Signature([0xff; 64])),
            act: None,
        }),
    });
    assert!(encoded_len(&encode(&frame)) <= MAX_FRAME_BYTES);
}
