//! Appending a message costs the same at 100 messages and at 100,000 (issue 4, "Scale"): measured as
//! bytes written to storage per append, not as time, so the check is exact and machine-independent.

use multichat_core::chat::history::{self, PAGE_SIZE, Page, RoomMeta, SenderProgress, StoredMessage};
use multichat_core::chat::room::{RoomKind, RoomRecord, RoomsRecord};
use multichat_core::chat::{ChatNode, Command, MessageId, Output, RoomId};
use multichat_core::storage::{Snapshot, set};
use multichat_core::time::Millis;

use crate::chat_sim::user;

/// Storage holding a group room (alice alone in it) with `n` messages, built page by page.
fn storage_with(n: u64) -> (Snapshot, RoomId) {
    let owner = user("alice");
    let room = RoomId::group_from_random([3; 16]);
    let mut disk = Snapshot::default();
    let page_size = PAGE_SIZE as u64;
    let page_count = n.div_ceil(page_size) as u32;
    for page in 0..page_count {
        let first = u64::from(page) * page_size + 1;
        let messages = (first..=(first + page_size - 1).min(n))
            .map(|seq| StoredMessage {
                id: MessageId::parse(&format!("m-{seq:032x}")).unwrap(),
                room: room.clone(),
                sender: owner.clone(),
                text: format!("an ordinary chat message, number {seq}"),
                timestamp: Millis(seq),
                received_at: Millis(seq),
                seq,
                state: Some(history::DeliveryState::Delivered),
                signature: None,
                act: None,
                deleted: false,
            })
            .collect();
        disk.0.insert(history::page_key(&owner, &room, page), serde_json::to_value(Page { messages }).unwrap());
    }
    let meta = RoomMeta {
        page_count,
        last_page_len: (n - u64::from(page_count - 1) * page_size) as u32,
        message_count: n,
        senders: [(owner.clone(), SenderProgress { contiguous: n, above: Default::default() })].into(),
        ..RoomMeta::default()
    };
    let write = history::meta_write(&owner, &room, &meta);
    history::apply(&mut disk, &[write]);
    let rooms = RoomsRecord {
        rooms: vec![RoomRecord {
            id: room.clone(),
            kind: RoomKind::Group { name: "Big".into() },
            members: [owner.clone()].into(),
            pages_hint: page_count - 1,
            invitations: Default::default(),
            prefs: Default::default(),
            departed: Default::default(),
            left: false,
        }],
        left: Vec::new(),
    };
    history::apply(&mut disk, &[set(history::rooms_key(&owner), &rooms)]);
    (disk, room)
}

/// Opens the room from storage the way a shell does, then appends one page's worth of messages and
/// returns (keys read to open, bytes written per append).
fn append_cost(n: u64) -> (usize, Vec<usize>) {
    let owner = user("alice");
    let (disk, room) = storage_with(n);
    let mut keys = vec![history::rooms_key(&owner)];
    keys.extend(history::meta_keys(&owner, &history::read(&disk, &keys)));
    keys.extend(history::open_page_keys(&owner, &history::read(&disk, &keys)));
    let mut node = ChatNode::restore(owner, &history::read(&disk, &keys), Millis(1));
    while node.poll_output().is_some() {}
    let mut costs = Vec::new();
    for i in 0..PAGE_SIZE {
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let text = format!("an ordinary chat message, number {i}");
        node.handle_command(Millis(2 + i as u64), Command::Send { room: room.clone(), text, random }).unwrap();
        let mut bytes = 0;
        while let Some(output) = node.poll_output() {
            if let Output::Write(writes) = output {
                bytes += writes.iter().map(history::stored_len).sum::<usize>();
            }
        }
        costs.push(bytes);
    }
    (keys.len(), costs)
}

#[test]
fn appending_costs_the_same_at_100_and_at_100_000_messages() {
    let (keys_small, small) = append_cost(100);
    let (keys_large, large) = append_cost(100_000);
    // Opening reads the room list, the meta and at most two pages, whatever the history's size.
    assert!(keys_small <= 4 && keys_large <= 4, "{keys_small} {keys_large}");
    // One page cycle each: the averages are equal-ish and no append writes more than a full page.
    let average = |costs: &[usize]| costs.iter().sum::<usize>() / costs.len();
    let (small_average, large_average) = (average(&small), average(&large));
    println!(
        "append cost (bytes written per message, over one page cycle): at 100: {small_average}, at 100,000: {large_average}"
    );
    let ratio = large_average as f64 / small_average as f64;
    assert!((0.9..1.1).contains(&ratio), "{small_average} vs {large_average}");
    let largest = *small.iter().chain(&large).max().unwrap();
    assert!(largest < 40_000, "one append wrote {largest} bytes");
}
