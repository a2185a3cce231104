//! How much appending one message costs at 100 and at 100,000 stored messages in a room, through the
//! worker's real receive path (a peer's frame in, the storage writes out). Prints figures; asserts nothing.
//!
//! Run with `cargo xtask bench` (or `cargo bench --bench history`). With `--seed FILE` it also writes the
//! storage it built (alice's account, a direct room with bob holding 100,000 messages, opened last) as
//! JSON, for the browser benchmark of opening the popup on a full history.

use std::hint::black_box;
use std::time::Instant;

use multichat_core::bridge::{EngineToWorker, LinkInfo, Request};
use multichat_core::storage::StorageWrite;
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;
use serde_json::json;

const LINK: &str = "dc_bench";
const MEASURED: u64 = 1_000;

/// The worker with no popup open, as under a flood: each frame's effects are performed in memory.
struct Receiver {
    shell: MemShell,
    now: u64,
    sent: u64,
}

impl Receiver {
    fn new() -> Receiver {
        let mut shell = MemShell::new();
        shell.request(Request::SignIn { username: "alice".into() }, Millis(1));
        // A conversation with bob, so his messages are stored as history, not held as a message request.
        shell.request(Request::OpenDirect { username: "bob".into() }, Millis(2));
        // A peer of the original page: its frames carry no ids, which is the receive path every peer has.
        let link = LinkInfo {
            link: LINK.into(),
            peer_id: "secure-p2p-multichat-bob".into(),
            metadata: json!({"peerIds": []}),
            outgoing: false,
            sessions: None,
        };
        shell.engine(EngineToWorker::LinkUp { info: link }, Millis(3));
        shell.timeout(Millis(10_000));
        Receiver { shell, now: 10_000, sent: 0 }
    }

    /// Receives one chat message and stores it; returns the bytes written.
    fn receive(&mut self) -> usize {
        self.now += 1;
        self.sent += 1;
        let frame = json!({"type": "chat", "chat": {"sender": "bob", "message": format!("message number {}", self.sent), "timestamp": self.now}});
        self.shell.engine(EngineToWorker::Frame { link: LINK.into(), frame }, Millis(self.now));
        black_box(self.shell.last_writes.iter().map(written_bytes).sum())
    }

    fn fill_to(&mut self, count: u64) {
        while self.sent < count {
            self.receive();
        }
    }

    /// Mean time and bytes of the next `MEASURED` appends.
    fn measure(&mut self) -> (f64, f64) {
        let start = Instant::now();
        let mut bytes = 0;
        for _ in 0..MEASURED {
            bytes += self.receive();
        }
        let micros = start.elapsed().as_secs_f64() * 1e6 / MEASURED as f64;
        (micros, bytes as f64 / MEASURED as f64)
    }
}

fn written_bytes(write: &StorageWrite) -> usize {
    match write {
        StorageWrite::Set { key, value } => key.len() + value.to_string().len(),
        StorageWrite::Remove { key } => key.len(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed_file = args.iter().position(|it| it == "--seed").and_then(|i| args.get(i + 1)).cloned();
    let mut receiver = Receiver::new();
    receiver.fill_to(100);
    let (small_us, small_bytes) = receiver.measure();
    let fill_start = Instant::now();
    receiver.fill_to(100_000);
    let fill_secs = fill_start.elapsed().as_secs_f64();
    let (large_us, large_bytes) = receiver.measure();
    let keys = receiver.shell.disk.0.len();
    println!("history append (worker receive path, {MEASURED} appends each, mean):");
    println!("  at       100 messages: {small_us:>8.1} µs/append  {small_bytes:>8.0} bytes written/append");
    println!("  at   100,000 messages: {large_us:>8.1} µs/append  {large_bytes:>8.0} bytes written/append");
    println!("  ratio 100,000 / 100: time {:.2}, bytes {:.2}", large_us / small_us, large_bytes / small_bytes);
    println!("  (filling 100,000 messages took {fill_secs:.1} s; storage holds {keys} keys)");
    if let Some(path) = seed_file {
        let room = receiver.shell.view().rooms[0].id.clone();
        receiver.shell.request(Request::SelectRoom { room: Some(room) }, Millis(receiver.now));
        let json = serde_json::to_string(&receiver.shell.disk.0).expect("records are JSON");
        std::fs::write(&path, &json).expect("writing the seed file");
        println!("  wrote {} ({:.1} MB) for the popup benchmark", path, json.len() as f64 / 1e6);
    }
}
