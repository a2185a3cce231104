//! Hostile peers against file transfers (issue 15): lying manifests, tampered, out-of-range, misplaced
//! and unsolicited chunks, forged and misattributed frames, offers for rooms we do not share, floods of
//! offers and of early chunks, acknowledgements of what was never sent, endless rewinds, and garbage.
//! Every refusal leaves nothing stored and names its reason; nothing panics.

use multichat_core::chat::ids::RoomId;
use multichat_core::time::Millis;
use multichat_core::transfer::manager::{Limits, TransferEvent};
use multichat_core::transfer::record::{IncomingState, RecipientState};
use multichat_core::transfer::wire::{self, Cancel, FileFrame, Offer, Refusal};
use multichat_core::transfer::{CHUNK_BYTES, DropReason, Party, TransferId, hash};
use proptest::prelude::*;
use serde_json::json;

use crate::transfer_sim::{Msg, Net, Side, direct, file_bytes, identity_of, user};

/// Alice (the victim, receiving) and mallory (a contact of hers, hostile), linked.
fn victim() -> Net {
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("mallory", Limits::default())]);
    net.befriend("alice", "mallory", &direct("alice", "mallory"));
    net.link_up("alice", "mallory");
    net
}

fn offer_of(from: &str, room: &RoomId, id: u8, bytes: &[u8]) -> Offer {
    Offer {
        id: TransferId::from_random([id; 16]),
        room: room.clone(),
        from: user(from),
        name: "x.bin".into(),
        mime: "application/octet-stream".into(),
        size: bytes.len() as u64,
        sha256: hash::sha256(bytes),
        chunk: CHUNK_BYTES,
        timestamp: Millis(1),
        sig: None,
    }
}

/// Mallory puts `frame`, signed by `signer`, on her link to alice.
fn say(net: &mut Net, frame: FileFrame, signer: &str) {
    let value = wire::encode(&frame.signed(&identity_of(signer)));
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Frame(value));
    net.run(50);
}

fn chunk(net: &mut Net, id: TransferId, index: u32, bytes: &[u8]) {
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Chunk(wire::encode_chunk(&id, index, bytes)));
    net.run(50);
}

fn drops(net: &Net) -> Vec<DropReason> {
    net.get("alice").drops.iter().map(|(_, reason)| reason.clone()).collect()
}

#[test]
fn a_manifest_whose_hash_does_not_match_the_bytes_is_discarded_and_never_shown() {
    let mut net = victim();
    let bytes = file_bytes(300_000, 1);
    let id = TransferId::from_random([1; 16]);
    // Mallory's own client, honest in every way but the hash it signs.
    net.side("mallory").send_with_manifest(
        id,
        &direct("alice", "mallory"),
        "photo.png",
        "image/png",
        &bytes,
        hash::sha256(b"something else"),
        &["alice"],
    );
    net.run(500);
    let alice = net.get("alice");
    let state = alice.incoming_record("mallory", id).unwrap().state;
    assert_eq!(state, IncomingState::Ended { reason: Refusal::Corrupt, by: Party::Us });
    assert_eq!(alice.received_chunk_keys(), 0, "the bytes are discarded");
    assert!(!alice.events.iter().any(|it| matches!(it, TransferEvent::Received { .. })), "never shown as a file");
    let told = &net.get("mallory").outgoing_record(id).unwrap().recipients[&user("alice")].state;
    assert_eq!(*told, RecipientState::Ended { reason: Refusal::Corrupt, by: Party::Them(user("alice")) });
}

#[test]
fn a_chunk_tampered_with_in_transit_fails_the_hash() {
    let mut net = victim();
    net.faults.tamper_chunk = Some(2);
    let bytes = file_bytes(500_000, 2);
    let id = net.side("mallory").send_file(
        2,
        &direct("alice", "mallory"),
        "a.bin",
        "application/octet-stream",
        &bytes,
        &["alice"],
    );
    net.run(500);
    assert!(net.tampered);
    let state = net.get("alice").incoming_record("mallory", id).unwrap().state;
    assert_eq!(state, IncomingState::Ended { reason: Refusal::Corrupt, by: Party::Us });
    assert_eq!(net.get("alice").received_chunk_keys(), 0);
}

#[test]
fn chunks_out_of_range_of_the_wrong_length_beyond_the_window_or_unsolicited_are_refused() {
    let mut net = victim();
    let bytes = file_bytes(3 * CHUNK_BYTES as usize + 10, 3);
    let offer = offer_of("mallory", &direct("alice", "mallory"), 3, &bytes);
    let id = offer.id;
    say(&mut net, FileFrame::Offer(offer), "mallory");
    assert_eq!(net.get("alice").incoming_record("mallory", id).unwrap().state, IncomingState::Receiving);
    let full = vec![0u8; CHUNK_BYTES as usize];
    chunk(&mut net, id, 4, &full);
    chunk(&mut net, id, u32::MAX, &full);
    chunk(&mut net, id, 0, &full[..100]);
    chunk(&mut net, id, 3, &full);
    chunk(&mut net, TransferId::from_random([0xee; 16]), 0, &full);
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Chunk(vec![0, b'm', b'c', b'f', 9, 1, 2]));
    net.run(10);
    assert_eq!(
        drops(&net),
        vec![
            DropReason::OutOfRange,
            DropReason::OutOfRange,
            DropReason::BadLength,
            DropReason::BadLength,
            DropReason::Unsolicited,
            DropReason::Malformed("the message is not a file chunk".into()),
        ]
    );
    assert_eq!(net.get("alice").received_chunk_keys(), 0);

    // Beyond the window: a large file, a chunk far ahead.
    let big = offer_of("mallory", &direct("alice", "mallory"), 4, &file_bytes(50 * CHUNK_BYTES as usize, 4));
    let big_id = big.id;
    say(&mut net, FileFrame::Offer(big), "mallory");
    chunk(&mut net, big_id, Limits::default().window_chunks, &full);
    assert_eq!(drops(&net).last(), Some(&DropReason::BeyondWindow));
    assert_eq!(net.get("alice").transfers.held_bytes(), 0);
}

#[test]
fn chunks_for_a_file_waiting_for_accept_are_refused() {
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("mallory", Limits::default())]);
    let room = RoomId::group_from_random([5; 16]);
    net.side("alice").rooms.insert(room.clone());
    net.link_up("alice", "mallory");
    let bytes = file_bytes(CHUNK_BYTES as usize, 5);
    let offer = offer_of("mallory", &room, 5, &bytes);
    let id = offer.id;
    say(&mut net, FileFrame::Offer(offer), "mallory");
    assert_eq!(net.get("alice").incoming_record("mallory", id).unwrap().state, IncomingState::AwaitingUser);
    chunk(&mut net, id, 0, &bytes);
    assert_eq!(drops(&net), vec![DropReason::NotReceiving]);
    assert_eq!(net.get("alice").received_chunk_keys(), 0);
}

#[test]
fn forged_misattributed_and_unsigned_frames_are_refused() {
    let mut net = victim();
    let room = direct("alice", "mallory");
    let bytes = file_bytes(1000, 6);
    // Signed by someone else than the author it names.
    say(&mut net, FileFrame::Offer(offer_of("mallory", &room, 6, &bytes)), "carol");
    // Naming carol as author, on mallory's link (relaying someone's file).
    say(&mut net, FileFrame::Offer(offer_of("carol", &room, 7, &bytes)), "carol");
    // No signature at all, from a peer whose key is known.
    let value = wire::encode(&FileFrame::Offer(offer_of("mallory", &room, 8, &bytes)));
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Frame(value));
    net.run(10);
    // A valid signature over different contents (the size changed after signing).
    let mut altered = offer_of("mallory", &room, 9, &bytes).signed(&identity_of("mallory"));
    altered.size += 1;
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Frame(wire::encode(&FileFrame::Offer(altered))));
    net.run(10);
    assert_eq!(
        drops(&net),
        vec![DropReason::BadSignature, DropReason::NotTheirs, DropReason::BadSignature, DropReason::BadSignature]
    );
    assert!(net.get("alice").store.is_empty(), "{:?}", net.get("alice").store.keys());
}

#[test]
fn an_offer_for_a_room_we_do_not_share_or_a_conflicting_reoffer_is_refused() {
    let mut net = victim();
    let bytes = file_bytes(1000, 10);
    let stranger_room = RoomId::group_from_random([0x42; 16]);
    say(&mut net, FileFrame::Offer(offer_of("mallory", &stranger_room, 10, &bytes)), "mallory");
    assert_eq!(drops(&net), vec![DropReason::NotInRoom]);
    let room = direct("alice", "mallory");
    let first = offer_of("mallory", &room, 11, &bytes);
    say(&mut net, FileFrame::Offer(first.clone()), "mallory");
    let mut second = first.clone();
    second.sha256 = hash::sha256(b"other");
    say(&mut net, FileFrame::Offer(second), "mallory");
    assert_eq!(drops(&net).last(), Some(&DropReason::ConflictingOffer));
    assert_eq!(net.get("alice").incoming_record("mallory", first.id).unwrap().offer.sha256, first.sha256);
}

#[test]
fn a_peer_reusing_the_id_of_someone_elses_file_touches_nothing_of_it() {
    let mut net = Net::new(vec![
        Side::new("alice", Limits::default()),
        Side::new("bob", Limits::default()),
        Side::new("mallory", Limits::default()),
    ]);
    net.befriend("alice", "bob", &direct("alice", "bob"));
    net.befriend("alice", "mallory", &direct("alice", "mallory"));
    net.link_up("alice", "bob");
    net.link_up("alice", "mallory");
    net.capacity = 1;
    let bytes = file_bytes(1_000_000, 12);
    let id =
        net.side("bob").send_file(12, &direct("alice", "bob"), "b.bin", "application/octet-stream", &bytes, &["alice"]);
    net.step(3);
    // Mallory cancels bob's transfer by id, acknowledges it, and offers her own under the same id.
    say(
        &mut net,
        FileFrame::Cancel(Cancel { id, by: user("mallory"), reason: Refusal::Cancelled, sig: None }),
        "mallory",
    );
    say(&mut net, FileFrame::Ack { id, by: user("mallory"), n: 1, sig: None }, "mallory");
    let mut own = offer_of("mallory", &direct("alice", "mallory"), 12, &file_bytes(10, 1));
    own.id = id;
    say(&mut net, FileFrame::Offer(own), "mallory");
    assert_eq!(drops(&net)[..2], [DropReason::Unsolicited, DropReason::Unsolicited]);
    net.run(1000);
    let got = net.get("alice").received_bytes("bob", id).unwrap();
    assert_eq!(got, bytes, "bob's file arrives untouched");
    assert_eq!(net.get("alice").incoming_record("mallory", id).unwrap().offer.size, 10, "kept apart, under her name");
}

#[test]
fn a_stranger_flooding_offers_gets_a_bounded_number_stored_and_the_rest_refused() {
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("mallory", Limits::default())]);
    let room = RoomId::group_from_random([7; 16]);
    net.side("alice").rooms.insert(room.clone());
    net.link_up("alice", "mallory");
    for n in 0..100u8 {
        say(&mut net, FileFrame::Offer(offer_of("mallory", &room, n, &file_bytes(10, n))), "mallory");
    }
    let alice = net.get("alice");
    let waiting = alice.transfers.incoming_records().filter(|it| it.state == IncomingState::AwaitingUser).count();
    assert_eq!(waiting, Limits::default().max_waiting_per_peer);
    assert_eq!(alice.store.len(), Limits::default().max_waiting_per_peer + 1, "refused offers store nothing");
    assert_eq!(alice.transfers.index().files.len(), Limits::default().max_waiting_per_peer, "nor are they indexed");
    let busy =
        alice.events.iter().filter(|it| matches!(it, TransferEvent::Refused { reason: Refusal::Busy, .. })).count();
    assert_eq!(busy, 100 - Limits::default().max_waiting_per_peer);
}

#[test]
fn chunks_sent_ahead_on_many_files_cannot_hold_more_than_the_cap() {
    let limits = Limits { max_active_per_peer: 16, max_held_bytes: 3 * 1024 * 1024, ..Limits::default() };
    let mut net = Net::new(vec![Side::new("alice", limits), Side::new("mallory", Limits::default())]);
    net.befriend("alice", "mallory", &direct("alice", "mallory"));
    net.link_up("alice", "mallory");
    let full = vec![1u8; CHUNK_BYTES as usize];
    for n in 0..16u8 {
        let offer = offer_of("mallory", &direct("alice", "mallory"), n, &file_bytes(40 * CHUNK_BYTES as usize, n));
        let id = offer.id;
        say(&mut net, FileFrame::Offer(offer), "mallory");
        // Every chunk but the first, so none can be stored.
        for index in 1..limits.window_chunks {
            chunk(&mut net, id, index, &full);
        }
        assert!(net.get("alice").transfers.held_bytes() <= limits.max_held_bytes);
    }
    assert!(drops(&net).contains(&DropReason::BufferFull));
    assert_eq!(net.get("alice").received_chunk_keys(), 0);
}

#[test]
fn acknowledgements_of_unsent_chunks_and_endless_rewinds_are_refused() {
    // Here alice sends and mallory receives.
    let mut net = victim();
    // Mallory's own client takes nothing by itself: only the frames written here answer alice.
    net.side("mallory").contacts.clear();
    net.capacity = 1;
    let bytes = file_bytes(40 * CHUNK_BYTES as usize, 13);
    let id = net.side("alice").send_file(
        13,
        &direct("alice", "mallory"),
        "s.bin",
        "application/octet-stream",
        &bytes,
        &["mallory"],
    );
    let accept = |at| FileFrame::Accept { id, by: user("mallory"), at, sig: None };
    say(&mut net, accept(0), "mallory");
    net.wire.clear();
    say(&mut net, FileFrame::Ack { id, by: user("mallory"), n: 39, sig: None }, "mallory");
    say(&mut net, accept(41), "mallory");
    assert_eq!(drops(&net)[..2], [DropReason::BeyondSent, DropReason::BeyondSent]);
    for _ in 0..Limits::default().max_rewinds + 1 {
        say(&mut net, accept(0), "mallory");
        net.wire.clear();
    }
    assert_eq!(drops(&net).last(), Some(&DropReason::TooManyRewinds));
    // A cancel for someone else's file she is not a recipient of.
    let other =
        net.side("alice").send_file(14, &direct("alice", "mallory"), "t.bin", "text/plain", b"hi", &["mallory"]);
    say(
        &mut net,
        FileFrame::Cancel(Cancel {
            id: TransferId::from_random([0x77; 16]),
            by: user("mallory"),
            reason: Refusal::Busy,
            sig: None,
        }),
        "mallory",
    );
    assert_eq!(drops(&net).last(), Some(&DropReason::Unsolicited));
    assert!(net.get("alice").outgoing_record(other).is_some());
}

#[test]
fn an_oversized_offer_is_refused_before_anything_is_stored_even_from_a_contact() {
    let limits = Limits { max_file_bytes: 10_000, ..Limits::default() };
    let mut net = Net::new(vec![Side::new("alice", limits), Side::new("mallory", Limits::default())]);
    net.befriend("alice", "mallory", &direct("alice", "mallory"));
    net.link_up("alice", "mallory");
    let mut offer = offer_of("mallory", &direct("alice", "mallory"), 20, &file_bytes(10, 1));
    offer.size = 10_001;
    let id = offer.id;
    say(&mut net, FileFrame::Offer(offer), "mallory");
    chunk(&mut net, id, 0, &[0u8; 10]);
    assert!(net.get("alice").store.is_empty());
    assert_eq!(drops(&net), vec![DropReason::Unsolicited], "no transfer exists for its chunks");
    // Sizes past any limit do not even decode.
    let value = json!({"type": "mc.file.offer", "id": id.to_string(), "room": "dm:alice:mallory", "from": "mallory",
        "name": "x", "mime": "a/b", "size": u64::MAX, "sha256": "00".repeat(32), "chunk": 65536, "ts": 1, "sig": null});
    net.deliver_one(&user("mallory"), &user("alice"), Msg::Frame(value));
    net.run(5);
    assert!(matches!(drops(&net).last(), Some(DropReason::Malformed(_))));
}

#[test]
fn hostile_names_and_media_types_are_refused_at_decoding() {
    let base = |name: &str, mime: &str, chunk: u64| {
        json!({"type": "mc.file.offer", "id": format!("f-{}", "ab".repeat(16)), "room": "dm:alice:mallory",
            "from": "mallory", "name": name, "mime": mime, "size": 5, "sha256": "00".repeat(32), "chunk": chunk,
            "ts": 1, "sig": null})
    };
    assert!(wire::decode(&base("ok.png", "image/png", 65536)).is_ok());
    for value in [
        base("../../etc/passwd", "image/png", 65536),
        base("evil\u{202e}gnp.exe", "image/png", 65536),
        base("", "image/png", 65536),
        base(&"a".repeat(201), "image/png", 65536),
        base("ok.png", "text/html<script>", 65536),
        base("ok.png", "image/png", 65537),
        base("ok.png", "image/png", 1024),
    ] {
        assert!(wire::decode(&value).is_err(), "{value}");
    }
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        "[a-z0-9.:/-]{0,40}".prop_map(serde_json::Value::from),
        Just(json!(format!("f-{}", "ab".repeat(16)))),
        Just(json!("mallory")),
        Just(json!("dm:alice:mallory")),
    ];
    leaf.prop_recursive(3, 24, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("id".to_owned()),
                    Just("by".to_owned()),
                    Just("n".to_owned()),
                    Just("at".to_owned()),
                    Just("reason".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..8
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn garbage_frames_and_chunks_never_panic_and_store_nothing(
        frames in prop::collection::vec(arbitrary_json(), 0..8),
        types in prop::collection::vec(prop_oneof![Just("mc.file.offer"), Just("mc.file.accept"), Just("mc.file.ack"), Just("mc.file.cancel")], 8),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let mut net = victim();
        for (mut value, kind) in frames.into_iter().zip(types) {
            if let Some(object) = value.as_object_mut() {
                object.insert("type".into(), json!(kind));
            }
            net.deliver_one(&user("mallory"), &user("alice"), Msg::Frame(value));
        }
        for mut bytes in chunks {
            bytes.splice(0..0, [0, b'm', b'c', b'f', 1]);
            net.deliver_one(&user("mallory"), &user("alice"), Msg::Chunk(bytes));
        }
        net.run(20);
        prop_assert_eq!(net.get("alice").received_chunk_keys(), 0);
    }
}
