//! Hostile input never panics: arbitrary JSON and bytes into every frame decoder, into a running chat
//! node, and into the history loader.

use multichat_core::chat::history;
use multichat_core::chat::{ChatNode, Input, RoomId, wire};
use multichat_core::storage::Snapshot;
use multichat_core::time::Millis;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::chat_sim::user;

/// Arbitrary JSON, biased towards our field names and plausible values so decoders get past the first check.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("type".to_owned()),
        Just("chat".to_owned()),
        Just("sender".to_owned()),
        Just("message".to_owned()),
        Just("timestamp".to_owned()),
        Just("id".to_owned()),
        Just("seq".to_owned()),
        Just("room".to_owned()),
        Just("peerIds".to_owned()),
        Just("heads".to_owned()),
        Just("since".to_owned()),
        Just("members".to_owned()),
        Just("messages".to_owned()),
        Just("ids".to_owned()),
        Just("seqs".to_owned()),
        Just("n".to_owned()),
        Just("v".to_owned()),
        Just("user".to_owned()),
        Just("multichat".to_owned()),
        Just("page_count".to_owned()),
        Just("last_page_len".to_owned()),
        Just("senders".to_owned()),
        Just("outbox".to_owned()),
        Just("rooms".to_owned()),
        "[a-z]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|it| serde_json::Number::from_f64(it).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("chat"),
            Just("connections"),
            Just("mc.hello"),
            Just("mc.ping"),
            Just("mc.ack"),
            Just("mc.room"),
            Just("mc.sync"),
            Just("mc.want"),
            Just("mc.batch"),
            Just("bob"),
            Just("alice"),
            Just("dm:alice:bob"),
            Just("g:0123456789abcdef"),
            Just("m-1"),
            Just("secure-p2p-multichat-carol"),
        ]
        .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A node with a link to bob in a direct room and a group, ready to be fed frames.
fn node_with_a_link() -> ChatNode {
    let mut node = ChatNode::new(user("alice"), Millis(1_000));
    node.handle_command(Millis(1_000), multichat_core::chat::Command::OpenDirect { username: user("bob") }).unwrap();
    let metadata = json!({"peerIds": [], "multichat": {"v": 1}});
    node.handle_input(
        Millis(1_000),
        Input::LinkUp { link: "dc_1".into(), peer_id: user("bob").peer_id(), metadata, outgoing: false },
    );
    let hello = wire::encode(&wire::Frame::Hello(wire::Hello {
        version: 1,
        user: user("bob"),
        capabilities: vec![],
        auth: None,
        session: None,
    }));
    node.handle_input(Millis(1_001), Input::Frame { link: "dc_1".into(), frame: hello });
    while node.poll_output().is_some() {}
    node
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn frame_decoders_never_panic(value in json_value()) {
        let _ = wire::decode(&value);
        let _ = wire::decode_metadata(&value);
        if let Some(object) = value.as_object() {
            for kind in ["chat", "connections", "mc.hello", "mc.ack", "mc.room", "mc.sync", "mc.want", "mc.batch", "mc.ping"] {
                let mut typed = object.clone();
                typed.insert("type".into(), kind.into());
                let _ = wire::decode(&Value::Object(typed));
            }
        }
    }

    #[test]
    fn bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            let _ = wire::decode(&value);
        }
    }

    #[test]
    fn a_node_survives_any_frames(frames in prop::collection::vec(json_value(), 1..8), metadata in json_value()) {
        let mut node = node_with_a_link();
        node.handle_input(Millis(2_000), Input::LinkUp { link: "dc_2".into(), peer_id: user("carol").peer_id(), metadata, outgoing: false });
        for (n, frame) in frames.into_iter().enumerate() {
            let link = if n % 2 == 0 { "dc_1" } else { "dc_2" };
            let mut typed = frame.clone();
            if let (Some(object), Some(kind)) = (typed.as_object_mut(), ["chat", "mc.sync", "mc.batch", "mc.room", "mc.want", "mc.ack"].get(n % 6)) {
                object.insert("type".into(), (*kind).into());
            }
            node.handle_input(Millis(2_000 + n as u64), Input::Frame { link: link.into(), frame });
            node.handle_input(Millis(2_000 + n as u64), Input::Frame { link: link.into(), frame: typed });
        }
        node.handle_timeout(Millis(100_000));
        while node.poll_output().is_some() {}
        let _ = node.room_views();
    }

    #[test]
    fn the_history_loader_never_panics(rooms in json_value(), meta in json_value(), page in json_value(), other_page in json_value()) {
        let owner = user("alice");
        let room = RoomId::direct(&owner, &user("bob"));
        let valid_rooms = json!({"rooms": [{"id": room.as_str(), "kind": {"kind": "direct"}, "members": ["alice", "bob"]}]});
        for rooms in [rooms, valid_rooms] {
            let mut snapshot = Snapshot::default();
            snapshot.0.insert(history::rooms_key(&owner), rooms);
            snapshot.0.insert(history::meta_key(&owner, &room), meta.clone());
            snapshot.0.insert(history::page_key(&owner, &room, 0), page.clone());
            snapshot.0.insert(history::page_key(&owner, &room, 1), other_page.clone());
            let _ = history::meta_keys(&owner, &snapshot);
            let _ = history::open_page_keys(&owner, &snapshot);
            let mut node = ChatNode::restore(owner.clone(), &snapshot, Millis(5));
            node.handle_timeout(Millis(10_000));
            let _ = node.handle_command(Millis(10_001), multichat_core::chat::Command::Send { room: room.clone(), text: "hi".into(), random: [1; 16] });
            while node.poll_output().is_some() {}
        }
    }
}
