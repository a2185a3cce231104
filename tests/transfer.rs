//! File transfers between honest peers (issue 15), through `transfer_sim`: a picture to a contact, a file
//! waiting for "Accept", a refusal worded for people, offline recipients, groups, restarts and dropped
//! links mid-transfer, cancel from either side, an unordered channel, and the window that bounds what is
//! in flight.

use multichat_core::chat::ids::RoomId;
use multichat_core::storage::Key;
use multichat_core::transfer::manager::{Limits, TransferEvent};
use multichat_core::transfer::record::{FileKey, IncomingState, RecipientState};
use multichat_core::transfer::wire::Refusal;
use multichat_core::transfer::{CHUNK_BYTES, Party, TransferId, ended_phrase, hash};

use crate::transfer_sim::{Net, Side, direct, file_bytes, user};

fn pair() -> Net {
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("bob", Limits::default())]);
    net.befriend("alice", "bob", &direct("alice", "bob"));
    net
}

fn received_whole(net: &Net, at: &str, from: &str, id: TransferId, bytes: &[u8]) {
    let side = net.get(at);
    let got = side.received_bytes(from, id).expect("every chunk stored");
    assert_eq!(hash::sha256(&got), hash::sha256(bytes), "the stored file hashes as sent");
    assert_eq!(got, bytes);
    let record = side.incoming_record(from, id).unwrap();
    assert_eq!(record.state, IncomingState::Complete);
    assert!(record.verified, "the offer's signature was checked against the author's key");
}

#[test]
fn a_one_megabyte_image_reaches_a_contact_whole_with_progress_on_both_sides() {
    let mut net = pair();
    net.link_up("alice", "bob");
    let bytes = file_bytes(1_000_000, 1);
    let id = net.side("alice").send_file(1, &direct("alice", "bob"), "cat.png", "image/png", &bytes, &["bob"]);
    net.run(1000);
    received_whole(&net, "bob", "alice", id, &bytes);
    let bob = net.get("bob");
    assert!(bob.events.contains(&TransferEvent::Received { key: FileKey::In { from: user("alice"), id } }));
    let alice = net.get("alice");
    assert!(alice.events.contains(&TransferEvent::Delivered { id, to: user("bob") }));
    assert_eq!(alice.outgoing_record(id).unwrap().recipients[&user("bob")].state, RecipientState::Done);
    // Progress rises on both sides and ends at the file's size.
    for side in [alice, bob] {
        let done: Vec<u64> = side
            .events
            .iter()
            .filter_map(|it| match it {
                TransferEvent::Progress { done, total, .. } if *total == bytes.len() as u64 => Some(*done),
                _ => None,
            })
            .collect();
        assert!(done.len() >= 3, "{}: progress reported along the way: {done:?}", side.me.as_str());
        assert!(done.windows(2).all(|it| it[0] <= it[1]), "{done:?}");
        assert_eq!(done.last(), Some(&(bytes.len() as u64)));
    }
    assert!(bob.drops.is_empty() && alice.drops.is_empty(), "{:?} {:?}", bob.drops, alice.drops);
    // Exactly one copy of each chunk travelled.
    assert_eq!(net.chunks_sent[&(user("alice"), user("bob"))], bytes.len().div_ceil(CHUNK_BYTES as usize));
}

#[test]
fn a_file_from_someone_not_a_contact_waits_for_accept_and_can_be_declined() {
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("bob", Limits::default())]);
    let room = RoomId::group_from_random([3; 16]);
    // They share a group, but bob has not made alice a contact.
    net.side("alice").rooms.insert(room.clone());
    net.side("bob").rooms.insert(room.clone());
    net.side("alice").contacts.insert(user("bob"));
    net.link_up("alice", "bob");
    let bytes = file_bytes(200_000, 2);
    let id = net.side("alice").send_file(2, &room, "notes.pdf", "application/pdf", &bytes, &["bob"]);
    net.run(100);
    let key = FileKey::In { from: user("alice"), id };
    assert!(net.get("bob").events.contains(&TransferEvent::Offered { key: key.clone() }));
    assert_eq!(net.get("bob").incoming_record("alice", id).unwrap().state, IncomingState::AwaitingUser);
    assert_eq!(net.get("bob").received_chunk_keys(), 0, "nothing fetched before Accept");
    assert!(!net.chunks_sent.contains_key(&(user("alice"), user("bob"))), "no chunk sent before Accept");

    net.side("bob").transfers.accept(&user("alice"), id).unwrap();
    net.run(1000);
    received_whole(&net, "bob", "alice", id, &bytes);

    // A second file is declined: alice is told, in words.
    let second = net.side("alice").send_file(3, &room, "more.pdf", "application/pdf", &bytes, &["bob"]);
    net.run(100);
    net.side("bob").transfers.decline(&user("alice"), second).unwrap();
    net.run(100);
    let state = &net.get("alice").outgoing_record(second).unwrap().recipients[&user("bob")].state;
    assert_eq!(*state, RecipientState::Ended { reason: Refusal::Declined, by: Party::Them(user("bob")) });
    assert_eq!(
        ended_phrase("more.pdf", 200_000, &user("bob"), Refusal::Declined, &Party::Them(user("bob"))).english(),
        "bob declined more.pdf."
    );
}

#[test]
fn a_file_over_the_recipients_limit_is_refused_in_words_and_nothing_is_stored() {
    let limits = Limits { max_file_bytes: 1_000_000, ..Limits::default() };
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("bob", limits)]);
    net.befriend("alice", "bob", &direct("alice", "bob"));
    net.link_up("alice", "bob");
    let bytes = file_bytes(2_500_000, 4);
    let id = net.side("alice").send_file(4, &direct("alice", "bob"), "film.mp4", "video/mp4", &bytes, &["bob"]);
    net.run(100);
    let refusal = Refusal::TooBig { limit: 1_000_000 };
    let record = net.get("alice").outgoing_record(id).unwrap();
    assert_eq!(
        record.recipients[&user("bob")].state,
        RecipientState::Ended { reason: refusal, by: Party::Them(user("bob")) }
    );
    assert!(
        net.get("alice")
            .events
            .iter()
            .any(|it| matches!(it, TransferEvent::Ended { reason, .. } if *reason == refusal))
    );
    assert_eq!(
        ended_phrase("film.mp4", 2_500_000, &user("bob"), refusal, &Party::Them(user("bob"))).english(),
        "bob accepts files up to 1.0 MB; film.mp4 is 2.5 MB."
    );
    let bob = net.get("bob");
    assert!(bob.store.is_empty(), "nothing of a refused offer is stored: {:?}", bob.store.keys());
    assert!(bob.events.iter().any(|it| matches!(it, TransferEvent::Refused { reason, .. } if *reason == refusal)));
    assert!(!net.chunks_sent.contains_key(&(user("alice"), user("bob"))));
}

#[test]
fn a_file_to_an_offline_peer_waits_and_goes_when_they_are_back() {
    let mut net = pair();
    let bytes = file_bytes(300_000, 5);
    let id = net.side("alice").send_file(5, &direct("alice", "bob"), "a.txt", "text/plain", &bytes, &["bob"]);
    net.run(100);
    assert_eq!(net.get("alice").outgoing_record(id).unwrap().recipients[&user("bob")].state, RecipientState::Waiting);
    // Alice restarts while bob is away: it still waits.
    net.side("alice").restart();
    net.run(10);
    net.link_up("alice", "bob");
    net.run(1000);
    received_whole(&net, "bob", "alice", id, &bytes);
}

#[test]
fn in_a_group_the_file_goes_to_each_member_even_one_who_comes_later() {
    let room = RoomId::group_from_random([9; 16]);
    let mut net = Net::new(vec![
        Side::new("alice", Limits::default()),
        Side::new("bob", Limits::default()),
        Side::new("carol", Limits::default()),
    ]);
    net.befriend("alice", "bob", &room);
    net.befriend("alice", "carol", &room);
    net.link_up("alice", "bob");
    let bytes = file_bytes(700_000, 6);
    let id = net.side("alice").send_file(6, &room, "plan.png", "image/png", &bytes, &["bob", "carol", "alice"]);
    net.run(1000);
    received_whole(&net, "bob", "alice", id, &bytes);
    assert_eq!(net.get("alice").outgoing_record(id).unwrap().recipients[&user("carol")].state, RecipientState::Waiting);
    net.link_up("alice", "carol");
    net.run(1000);
    received_whole(&net, "carol", "alice", id, &bytes);
    let record = net.get("alice").outgoing_record(id).unwrap();
    assert_eq!(record.recipients.len(), 2, "not to herself");
    assert!(record.recipients.values().all(|it| it.state == RecipientState::Done));
}

#[test]
fn a_receiver_restarted_mid_transfer_resumes_where_its_storage_stands() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let bytes = file_bytes(3_000_000, 7);
    let id = net.side("alice").send_file(
        7,
        &direct("alice", "bob"),
        "big.bin",
        "application/octet-stream",
        &bytes,
        &["bob"],
    );
    net.step(10);
    let stored_before = net.get("bob").incoming_record("alice", id).unwrap().stored;
    assert!(stored_before > 0 && stored_before < 46, "mid-transfer: {stored_before}");
    net.link_down("alice", "bob");
    net.side("bob").restart();
    net.link_up("alice", "bob");
    net.run(2000);
    received_whole(&net, "bob", "alice", id, &bytes);
    let sent = net.chunks_sent[&(user("alice"), user("bob"))];
    let count = bytes.len().div_ceil(CHUNK_BYTES as usize);
    assert!(sent - count <= Limits::default().window_chunks as usize, "resent at most a window: {sent} for {count}");
}

#[test]
fn a_sender_restarted_mid_transfer_resumes_from_the_last_acknowledgement() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let bytes = file_bytes(2_000_000, 8);
    let id =
        net.side("alice").send_file(8, &direct("alice", "bob"), "x.bin", "application/octet-stream", &bytes, &["bob"]);
    net.step(8);
    net.link_down("alice", "bob");
    net.side("alice").restart();
    net.link_up("alice", "bob");
    net.run(2000);
    received_whole(&net, "bob", "alice", id, &bytes);
    assert_eq!(net.get("alice").outgoing_record(id).unwrap().recipients[&user("bob")].state, RecipientState::Done);
}

#[test]
fn an_unordered_channel_and_held_back_writes_still_give_the_exact_file() {
    let mut net = pair();
    net.faults.reorder = true;
    net.capacity = 16;
    net.side("bob").hold_writes = true;
    net.link_up("alice", "bob");
    let bytes = file_bytes(2_000_000 + 77, 9);
    let id =
        net.side("alice").send_file(9, &direct("alice", "bob"), "y.bin", "application/octet-stream", &bytes, &["bob"]);
    for _ in 0..400 {
        net.step(1);
        // Writes land a round late; until then no acknowledgement goes, so the sender's window holds.
        net.side("bob").confirm_writes();
    }
    received_whole(&net, "bob", "alice", id, &bytes);
    assert!(net.get("bob").drops.is_empty(), "{:?}", net.get("bob").drops);
}

#[test]
fn the_sender_stops_at_the_window_until_the_receiver_has_stored_chunks() {
    let mut net = pair();
    net.capacity = 1000;
    net.side("bob").hold_writes = true;
    net.link_up("alice", "bob");
    let bytes = file_bytes(5_000_000, 10);
    net.side("alice").send_file(10, &direct("alice", "bob"), "z.bin", "application/octet-stream", &bytes, &["bob"]);
    net.run(50);
    let window = Limits::default().window_chunks as usize;
    assert_eq!(net.chunks_sent[&(user("alice"), user("bob"))], window, "no more than the window in flight");
    net.side("bob").confirm_writes();
    net.run(50);
    assert!(net.chunks_sent[&(user("alice"), user("bob"))] > window, "acknowledgements open the window again");
}

#[test]
fn cancel_from_the_sender_discards_the_partial_file_at_the_receiver() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let bytes = file_bytes(3_000_000, 11);
    let id =
        net.side("alice").send_file(11, &direct("alice", "bob"), "c.bin", "application/octet-stream", &bytes, &["bob"]);
    net.step(6);
    assert!(net.get("bob").received_chunk_keys() > 0);
    net.side("alice").transfers.cancel(&FileKey::Out(id)).unwrap();
    net.run(100);
    let bob = net.get("bob");
    assert_eq!(bob.received_chunk_keys(), 0, "the partial file is gone");
    let state = bob.incoming_record("alice", id).unwrap().state;
    assert_eq!(state, IncomingState::Ended { reason: Refusal::Cancelled, by: Party::Them(user("alice")) });
    let sent = net.chunks_sent[&(user("alice"), user("bob"))];
    net.run(100);
    assert_eq!(net.chunks_sent[&(user("alice"), user("bob"))], sent, "nothing more is sent");
}

#[test]
fn cancel_from_the_receiver_stops_the_sender() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let bytes = file_bytes(3_000_000, 12);
    let id =
        net.side("alice").send_file(12, &direct("alice", "bob"), "d.bin", "application/octet-stream", &bytes, &["bob"]);
    net.step(6);
    net.side("bob").transfers.cancel(&FileKey::In { from: user("alice"), id }).unwrap();
    net.run(100);
    let state = &net.get("alice").outgoing_record(id).unwrap().recipients[&user("bob")].state;
    assert_eq!(*state, RecipientState::Ended { reason: Refusal::Cancelled, by: Party::Them(user("bob")) });
    assert_eq!(net.get("bob").received_chunk_keys(), 0);
    // Offered again on a new link, the answer is still no.
    net.link_down("alice", "bob");
    net.link_up("alice", "bob");
    net.run(100);
    assert_eq!(net.get("bob").received_chunk_keys(), 0);
}

#[test]
fn a_cancel_made_while_the_recipient_is_offline_reaches_them_on_their_next_link() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let bytes = file_bytes(2_000_000, 13);
    let id =
        net.side("alice").send_file(13, &direct("alice", "bob"), "e.bin", "application/octet-stream", &bytes, &["bob"]);
    net.step(5);
    net.link_down("alice", "bob");
    net.side("alice").transfers.cancel(&FileKey::Out(id)).unwrap();
    net.run(10);
    net.link_up("alice", "bob");
    net.run(100);
    let state = net.get("bob").incoming_record("alice", id).unwrap().state;
    assert_eq!(state, IncomingState::Ended { reason: Refusal::Cancelled, by: Party::Them(user("alice")) });
    assert_eq!(net.get("bob").received_chunk_keys(), 0);
}

#[test]
fn two_files_to_one_peer_share_the_link_and_an_empty_file_arrives_too() {
    let mut net = pair();
    net.capacity = 2;
    net.link_up("alice", "bob");
    let first = file_bytes(1_500_000, 14);
    let second = file_bytes(1_500_000, 15);
    let room = direct("alice", "bob");
    let a = net.side("alice").send_file(14, &room, "one.bin", "application/octet-stream", &first, &["bob"]);
    let b = net.side("alice").send_file(15, &room, "two.bin", "application/octet-stream", &second, &["bob"]);
    let empty = net.side("alice").send_file(16, &room, "empty.txt", "text/plain", &[], &["bob"]);
    net.step(8);
    let (sa, sb) = (
        net.get("bob").incoming_record("alice", a).unwrap().stored,
        net.get("bob").incoming_record("alice", b).unwrap().stored,
    );
    assert!(sa > 0 && sb > 0, "both advance together: {sa} {sb}");
    net.run(2000);
    received_whole(&net, "bob", "alice", a, &first);
    received_whole(&net, "bob", "alice", b, &second);
    received_whole(&net, "bob", "alice", empty, &[]);
}

#[test]
fn storage_keys_of_files_read_back_and_records_survive_json() {
    let id = TransferId::from_random([0xab; 16]);
    let keys = [
        Key::FileIndex(user("alice")),
        Key::File { owner: user("alice"), file: FileKey::Out(id) },
        Key::File { owner: user("alice"), file: FileKey::In { from: user("bob"), id } },
        Key::FileChunk { owner: user("alice"), file: FileKey::Out(id), index: 0 },
        Key::FileChunk { owner: user("alice"), file: FileKey::In { from: user("bob"), id }, index: 4_000_000 },
    ];
    for key in keys {
        let raw = key.to_string();
        assert_eq!(Key::parse(&raw), Some(key.clone()), "{raw}");
        assert_eq!(key.owner(), Some(&user("alice")));
        assert!(key.is_history(), "a passphrase seals files as it seals history: {raw}");
    }
    assert_eq!(
        Key::File { owner: user("alice"), file: FileKey::In { from: user("bob"), id } }.to_string(),
        format!("file/alice/in/bob/{id}")
    );
    for bad in [
        "file/alice/out/f-zz",
        "file/alice/sideways/f-abababababababababababababababab",
        "fc/alice/out/f-abababababababababababababababab/007",
        "fc/alice/out/f-abababababababababababababababab",
        "file/alice/out/f-abababababababababababababababab/3",
        "file/a%b/out/f-abababababababababababababababab",
        "file/alice/in/a%b/f-abababababababababababababababab",
    ] {
        assert_eq!(Key::parse(bad), None, "{bad}");
    }
}

#[test]
fn settings_hold_the_largest_accepted_file_with_100_mb_by_default_even_for_older_records() {
    use multichat_core::settings::{Settings, SettingsError};
    let settings = Settings::default();
    assert_eq!(settings.max_file_bytes, 100_000_000);
    let mut older = serde_json::to_value(&settings).unwrap();
    older.as_object_mut().unwrap().remove("max_file_bytes");
    let older: Settings = serde_json::from_value(older).unwrap();
    assert_eq!(older.max_file_bytes, 100_000_000, "a record stored before the setting existed");
    for (bytes, ok) in [(999_999, false), (1_000_000, true), (4_000_000_000, true), (4_000_000_001, false)] {
        let settings = Settings { max_file_bytes: bytes, ..Settings::default() };
        assert_eq!(settings.validate().is_ok(), ok, "{bytes}");
        if !ok {
            assert_eq!(settings.validate(), Err(SettingsError::BadMaxFileSize));
        }
    }
    assert_eq!(SettingsError::BadMaxFileSize.to_string(), "The largest file accepted must be between 1 MB and 4 GB");
}

#[test]
fn several_files_to_one_peer_keep_to_the_links_window_together() {
    let mut net = pair();
    net.capacity = 1000;
    net.side("bob").hold_writes = true;
    net.link_up("alice", "bob");
    let room = direct("alice", "bob");
    let files: Vec<(TransferId, Vec<u8>)> = (0..4u8)
        .map(|n| {
            let bytes = file_bytes(3_000_000, 40 + n);
            (net.side("alice").send_file(40 + n, &room, "f.bin", "application/octet-stream", &bytes, &["bob"]), bytes)
        })
        .collect();
    net.run(50);
    let limits = Limits::default();
    assert_eq!(
        net.chunks_sent[&(user("alice"), user("bob"))],
        limits.link_window_chunks as usize,
        "one link window in all"
    );
    assert!(limits.link_window_chunks < 4 * limits.window_chunks, "the link's window binds before each file's");
    for _ in 0..200 {
        net.side("bob").confirm_writes();
        net.step(1);
    }
    for (id, bytes) in &files {
        received_whole(&net, "bob", "alice", *id, bytes);
    }
}

#[test]
fn accepting_past_the_cap_on_files_under_way_says_so_and_the_file_keeps_waiting() {
    let limits = Limits { max_active: 1, ..Limits::default() };
    let mut net = Net::new(vec![Side::new("alice", Limits::default()), Side::new("bob", limits)]);
    let room = RoomId::group_from_random([8; 16]);
    net.side("alice").rooms.insert(room.clone());
    net.side("bob").rooms.insert(room.clone());
    net.side("bob").hold_writes = true;
    net.link_up("alice", "bob");
    let bytes = file_bytes(3_000_000, 50);
    let first = net.side("alice").send_file(50, &room, "a.bin", "application/octet-stream", &bytes, &["bob"]);
    let second = net.side("alice").send_file(51, &room, "b.bin", "application/octet-stream", &bytes, &["bob"]);
    net.run(20);
    net.side("bob").transfers.accept(&user("alice"), first).unwrap();
    let refused = net.side("bob").transfers.accept(&user("alice"), second);
    assert_eq!(refused, Err(multichat_core::transfer::TransferError::Busy));
    assert_eq!(net.get("bob").transfers.incoming(&user("alice"), second).unwrap().state, IncomingState::AwaitingUser);
}

#[test]
fn a_chunk_crosses_the_peerjs_json_framing_unchanged_and_a_json_frame_is_never_taken_for_one() {
    use multichat_core::peerjs::framing::{Decoder, Encoder, Received, Serialization};
    use multichat_core::transfer::wire;
    let id = TransferId::from_random([0x5a; 16]);
    let bytes = file_bytes(CHUNK_BYTES as usize, 60);
    let message = Encoder::new(Serialization::Json).encode_bytes(wire::encode_chunk(&id, 9, &bytes)).unwrap();
    let Some(Received::Bytes(received)) = Decoder::new(Serialization::Json).decode(message).unwrap() else {
        panic!("a chunk arrives as bytes")
    };
    assert!(wire::is_chunk(&received));
    let chunk = wire::decode_chunk(&received).unwrap();
    assert_eq!((chunk.id, chunk.index, chunk.bytes), (id, 9, &bytes[..]));
    let offer = wire::encode(&wire::FileFrame::Ack { id, by: user("bob"), n: 1, sig: None });
    let frame = Encoder::new(Serialization::Json).encode(&offer).unwrap().remove(0);
    assert_eq!(Decoder::new(Serialization::Json).decode(frame).unwrap(), Some(Received::Value(offer.clone())));
    assert!(wire::is_file_frame(&offer));
}
