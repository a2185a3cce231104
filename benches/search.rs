//! How long searching 100,000 stored messages takes: building the index from the stored pages (cold: once
//! per worker life, on the first search) and answering a query from it (warm), in the core and through the
//! worker's request path (`MemShell`). Prints figures; asserts nothing (the goal is a query under 50 ms).
//!
//! Run with `cargo xtask bench` (or `cargo bench --bench search`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use multichat_core::account::Username;
use multichat_core::bridge::{Request, Response};
use multichat_core::chat::history::{self, RoomHistory, StoredMessage};
use multichat_core::chat::room::{RoomRecord, RoomsRecord};
use multichat_core::chat::{MessageId, RoomId};
use multichat_core::search::SearchIndex;
use multichat_core::storage::{self, AccountRecord, Key, Snapshot};
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;

const MESSAGES: u64 = 100_000;
const RUNS: usize = 21;

const WORDS: &[&str] = &[
    "the", "a", "meeting", "tomorrow", "lunch", "café", "train", "late", "photo", "weekend", "project", "deadline",
    "birthday", "party", "okay", "thanks", "see", "you", "at", "noon", "Zürich", "crème", "brûlée", "naïve", "résumé",
    "call", "me", "when", "home", "dinner", "movie", "tonight", "ticket", "flight", "hotel", "garden", "rain", "sun",
    "coffee", "tea", "book", "music", "concert", "office", "report", "budget", "review", "draft", "idea", "plan",
];

/// A deterministic stream of numbers (no randomness in benchmarks: the same history every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn user(name: &str) -> Username {
    Username::parse(name).expect("a valid username")
}

/// Storage holding alice's account and 100,000 messages over five conversations, one of which (an old one)
/// says "Quetzalcóatl".
fn seeded_storage() -> Snapshot {
    let alice = user("alice");
    let peers = ["bob", "carol", "dave", "erin", "frank"].map(user);
    let rooms: Vec<RoomId> = peers.iter().map(|peer| RoomId::direct(&alice, peer)).collect();
    let mut histories: Vec<RoomHistory> = rooms.iter().map(|_| RoomHistory::default()).collect();
    let mut disk = Snapshot::default();
    let mut random = Lcg(7);
    for n in 0..MESSAGES {
        let which = (random.next() % rooms.len() as u64) as usize;
        let sender = if random.next() % 2 == 0 { alice.clone() } else { peers[which].clone() };
        let words = 4 + random.next() % 12;
        let mut text: Vec<&str> = (0..words).map(|_| WORDS[(random.next() % WORDS.len() as u64) as usize]).collect();
        if n == 1_234 {
            text.push("Quetzalcóatl");
        }
        let history = &mut histories[which];
        let seq = history.meta.senders.get(&sender).map_or(0, |it| it.contiguous) + 1;
        history.meta.senders.entry(sender.clone()).or_default().record(seq);
        let message = StoredMessage {
            id: MessageId::parse(&format!("m-{n:032x}")).expect("a valid id"),
            room: rooms[which].clone(),
            sender,
            text: text.join(" "),
            timestamp: Millis(1_700_000_000_000 + n * 1_000),
            received_at: Millis(1_700_000_000_000 + n * 1_000),
            seq,
            state: None,
            signature: None,
            act: None,
            deleted: false,
        };
        // As `history::append` lays them out, without writing the growing last page at every message.
        let meta = &mut history.meta;
        if meta.page_count == 0 || meta.last_page_len as usize >= history::PAGE_SIZE {
            meta.page_count += 1;
            meta.last_page_len = 0;
        }
        meta.last_page_len += 1;
        meta.message_count += 1;
        meta.last_activity = message.received_at;
        history.pages.entry(meta.page_count - 1).or_default().push(message);
    }
    for (room, history) in rooms.iter().zip(&histories) {
        let mut writes: Vec<_> =
            history.pages.iter().map(|(page, messages)| history::page_write(&alice, room, *page, messages)).collect();
        writes.push(history::meta_write(&alice, room, &history.meta));
        history::apply(&mut disk, &writes);
    }
    let records = rooms
        .iter()
        .zip(&peers)
        .zip(&histories)
        .map(|((room, peer), history)| RoomRecord::direct(room.clone(), peer.clone(), history.meta.page_count - 1))
        .collect();
    let account = AccountRecord { username: alice.clone(), token: "bench-token".into(), token_v: 1 };
    history::apply(
        &mut disk,
        &[
            storage::set(Key::SchemaVersion, &storage::SCHEMA_VERSION),
            storage::set(Key::Account, &account),
            storage::set(Key::Rooms(alice), &RoomsRecord { rooms: records }),
        ],
    );
    disk
}

/// The rooms' histories as the worker holds them after start: each meta and its last two pages.
fn as_loaded(owner: &Username, disk: &Snapshot) -> BTreeMap<RoomId, RoomHistory> {
    let mut keys = vec![Key::Rooms(owner.clone()).to_string()];
    keys.extend(history::meta_keys(owner, &history::read(disk, &keys)));
    keys.extend(history::open_page_keys(owner, &history::read(disk, &keys)));
    history::load(owner, &history::read(disk, &keys)).histories
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn time<T>(runs: usize, mut work: impl FnMut() -> T) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(work());
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let fill = Instant::now();
    let disk = seeded_storage();
    let alice = user("alice");
    println!(
        "search over {MESSAGES} stored messages (5 conversations; built in {:.1} s):",
        fill.elapsed().as_secs_f64()
    );

    let loaded = as_loaded(&alice, &disk);
    let cold = time(5, || SearchIndex::build(&alice, loaded.iter(), &disk).0.len());
    let (index, problems) = SearchIndex::build(&alice, loaded.iter(), &disk);
    assert!(problems.is_empty(), "{problems:?}");
    println!(
        "  core, cold: index built from the stored pages      median {cold:>8.1} ms  ({} messages, ~{:.1} MB held)",
        index.len(),
        index.heap_bytes() as f64 / 1e6
    );
    for (label, query) in [
        ("a word in one old message, any case and accent", "quetzalcoatl"),
        ("a word in none (the whole text scanned)", "xylophone"),
        ("a common word (stops at the 50 newest)", "coffee"),
        ("two words with an accent", "crème brûlée"),
    ] {
        let found = index.search(query);
        let warm = time(RUNS, || index.search(query).hits.len());
        let count = if found.more { format!("{}+", found.hits.len()) } else { found.hits.len().to_string() };
        println!("  core, warm: {label:<48} median {warm:>8.3} ms  ({count} hits)");
    }

    // Through the worker: the popup's request, storage read whole (in memory here), pages decoded, the index
    // built, the answer made; then the same request again.
    let mut cold_worker = Vec::new();
    let mut warm_worker = Vec::new();
    for _ in 0..3 {
        let mut shell = MemShell::with_storage(disk.clone(), 1, Millis(1_800_000_000_000));
        let start = Instant::now();
        let first = shell.request(Request::Search { query: "quetzalcoatl".into() }, Millis(1_800_000_000_001));
        cold_worker.push(start.elapsed());
        assert!(matches!(&first, Response::Search { results } if results.hits.len() == 1), "{first:?}");
        for _ in 0..7 {
            let start = Instant::now();
            black_box(shell.request(Request::Search { query: "quetzalcoatl".into() }, Millis(1_800_000_000_002)));
            warm_worker.push(start.elapsed());
        }
    }
    println!("  worker, cold: first search request (reads and indexes all)  median {:>8.1} ms", median(cold_worker));
    println!("  worker, warm: a search request                              median {:>8.3} ms", median(warm_worker));
}
