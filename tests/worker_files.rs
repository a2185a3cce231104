//! Files and images through the worker model (issue 15): the popup hands a file over in pieces, the worker
//! stores it and sends it over the simulated engine link (frames and binary chunks), the other worker stores
//! it chunk by chunk and shows it; progress on both sides, "Accept" for someone not a contact, a file over
//! the recipient's limit refused in words, an offline recipient, restarts, cancel, a peer that did not
//! announce files, and chunks sealed by the passphrase.

use multichat_core::bridge::{
    EngineToWorker, FileStatus, FileView, LinkInfo, Request, Response, SessionPair, View, WorkerToEngine,
};
use multichat_core::settings::Settings;
use multichat_core::storage::Key;
use multichat_core::time::Millis;
use multichat_core::transfer::CHUNK_BYTES;
use multichat_core::transfer::record::chunk_base64;
use multichat_core::worker::MemShell;
use serde_json::Value;

use crate::worker_model::signed_in;

fn view(profile: &MemShell) -> View {
    profile.view()
}

fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

fn sdp_with_certificate(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        fingerprint.join(":")
    )
}

/// What a pump may do to what crosses the link.
#[derive(Clone, Copy, Default)]
struct Wire {
    /// Hold chunks back once this many crossed (frames still flow; held chunks stay queued in `to_engine`).
    max_chunks: Option<usize>,
    /// Take `files` out of every hello, as a peer that does not take files would send it.
    strip_files: bool,
}

/// Carries engine commands between two profiles sharing one data connection: frames and file chunks.
/// Returns how many chunks crossed, and every frame type that crossed.
fn pump_with(a: &mut MemShell, b: &mut MemShell, link: &str, now: Millis, wire: Wire) -> (usize, Vec<String>) {
    let mut chunks = 0;
    let mut types = Vec::new();
    let (mut held_a, mut held_b) = (Vec::new(), Vec::new());
    for _ in 0..100_000 {
        let from_a: Vec<WorkerToEngine> = a.to_engine.drain(..).collect();
        let from_b: Vec<WorkerToEngine> = b.to_engine.drain(..).collect();
        if from_a.is_empty() && from_b.is_empty() {
            // Chunks held back stay queued on their sender's side, in order, for a later pump.
            a.to_engine.extend(held_a);
            b.to_engine.extend(held_b);
            return (chunks, types);
        }
        deliver(from_a, b, &mut held_a, link, now, wire, &mut chunks, &mut types);
        deliver(from_b, a, &mut held_b, link, now, wire, &mut chunks, &mut types);
    }
    panic!("the two workers never went quiet");
}

/// Hands `commands` to `to` as its engine would report them; chunks past `wire.max_chunks` go to `held`.
#[allow(clippy::too_many_arguments)]
fn deliver(
    commands: Vec<WorkerToEngine>,
    to: &mut MemShell,
    held: &mut Vec<WorkerToEngine>,
    link: &str,
    now: Millis,
    wire: Wire,
    chunks: &mut usize,
    types: &mut Vec<String>,
) {
    for command in commands {
        match command {
            WorkerToEngine::Send { mut frame, .. } => {
                types.push(frame["type"].as_str().unwrap_or_default().to_owned());
                if wire.strip_files
                    && let Some(caps) = frame.get_mut("caps").and_then(Value::as_array_mut)
                {
                    caps.retain(|it| it != "files");
                }
                to.engine(EngineToWorker::Frame { link: link.into(), frame }, now);
            }
            WorkerToEngine::SendChunk { data, .. } => {
                if wire.max_chunks.is_some_and(|max| *chunks >= max) {
                    held.push(WorkerToEngine::SendChunk { link: link.into(), data });
                    continue;
                }
                *chunks += 1;
                to.engine(EngineToWorker::Chunk { link: link.into(), data }, now);
            }
            _ => {}
        }
    }
}

fn pump(a: &mut MemShell, b: &mut MemShell, link: &str, now: Millis) -> (usize, Vec<String>) {
    pump_with(a, b, link, now, Wire::default())
}

/// Brings up one data connection (`dialer` dials) and runs both workers until quiet.
fn connect_with(dialer: &mut MemShell, answerer: &mut MemShell, link: &str, now: Millis, wire: Wire) -> Vec<String> {
    let metadata = dialer
        .to_engine
        .iter()
        .find_map(|it| match it {
            WorkerToEngine::Dial { metadata, .. } => Some(metadata.clone()),
            _ => None,
        })
        .unwrap_or_else(|| serde_json::json!({"peerIds": [], "multichat": {"v": 1}}));
    dialer.to_engine.clear();
    answerer.to_engine.clear();
    let (dialer_id, answerer_id) = (view(dialer).account.unwrap().peer_id, view(answerer).account.unwrap().peer_id);
    let sessions = |local: u8, remote: u8| {
        Some(SessionPair { local_sdp: sdp_with_certificate(local), remote_sdp: sdp_with_certificate(remote) })
    };
    let info = |peer_id: String, outgoing: bool, sessions| LinkInfo {
        link: link.into(),
        peer_id,
        metadata: metadata.clone(),
        outgoing,
        sessions,
    };
    dialer.engine(EngineToWorker::LinkUp { info: info(answerer_id, true, sessions(10, 20)) }, now);
    answerer.engine(EngineToWorker::LinkUp { info: info(dialer_id, false, sessions(20, 10)) }, now);
    pump_with(dialer, answerer, link, now, wire).1
}

fn connect(dialer: &mut MemShell, answerer: &mut MemShell, link: &str, now: Millis) -> Vec<String> {
    connect_with(dialer, answerer, link, now, Wire::default())
}

fn link_down(profile: &mut MemShell, link: &str, now: Millis) {
    profile.engine(EngineToWorker::LinkDown { link: link.into(), reason: "closed".into() }, now);
    profile.to_engine.clear();
}

/// Alice and bob, each with the direct conversation open (so each is the other's contact).
fn contacts() -> (MemShell, MemShell, String) {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    bob.request(Request::OpenDirect { username: "alice".into() }, Millis(11));
    let room = view(&alice).open_room.unwrap().room.id;
    (alice, bob, room)
}

/// The popup's way of handing a file over: pieces of `piece_chunks` chunks.
fn send_file(profile: &mut MemShell, room: &str, name: &str, mime: &str, bytes: &[u8], now: Millis) -> Response {
    let piece = 4 * CHUNK_BYTES as usize;
    let mut offset = 0;
    let upload = format!("u-{name}");
    loop {
        let end = (offset + piece).min(bytes.len());
        let request = Request::SendFilePiece {
            upload: upload.clone(),
            room: room.into(),
            name: name.into(),
            mime: mime.into(),
            size: bytes.len() as u64,
            offset: offset as u64,
            data: chunk_base64(&bytes[offset..end]),
        };
        let response = profile.request(request, now);
        if end == bytes.len() || matches!(response, Response::Error { .. }) {
            return response;
        }
        offset = end;
    }
}

fn files(profile: &MemShell) -> Vec<FileView> {
    view(profile).open_room.expect("a conversation is open").files
}

/// A file's detail in English, its sentences joined as the popup joins them.
fn said(detail: &[multichat_core::phrase::Phrase]) -> Option<String> {
    (!detail.is_empty()).then(|| detail.iter().map(|it| it.english()).collect::<Vec<_>>().join(" "))
}

fn only_file(profile: &MemShell) -> FileView {
    let files = files(profile);
    assert_eq!(files.len(), 1, "one file in the conversation: {files:?}");
    files.into_iter().next().unwrap()
}

fn open(profile: &mut MemShell, key: &str) -> Vec<u8> {
    match profile.request(Request::OpenFile { key: key.into() }, Millis(1_000)) {
        Response::File { data, .. } => multichat_core::transfer::record::chunk_bytes(&Value::String(data)).unwrap(),
        other => panic!("the file did not open: {other:?}"),
    }
}

fn received_chunk_keys(profile: &MemShell) -> usize {
    profile.disk.0.keys().filter(|it| it.starts_with("fc/") && it.contains("/in/")).count()
}

#[test]
fn a_picture_to_a_contact_arrives_whole_and_survives_restarts() {
    let (mut alice, mut bob, room) = contacts();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let picture = bytes_of(300_000, 1);
    let sent = send_file(&mut alice, &room, "cat.png", "image/png", &picture, Millis(30));
    assert!(matches!(sent, Response::View { .. }), "{sent:?}");
    let (chunks, _) = pump(&mut alice, &mut bob, "dc_1", Millis(31));
    assert_eq!(chunks, 5, "300 kB in 64 KiB chunks, each sent once");

    let got = only_file(&bob);
    assert_eq!(
        (got.status, got.image, got.mine, got.done, got.size),
        (FileStatus::Done, true, false, 300_000, 300_000)
    );
    assert_eq!(got.name, "cat.png");
    // Bob's popup is not open: he is told, as for a message.
    assert_eq!(bob.notified.last().map(|it| it.text.english()).as_deref(), Some("alice sent you cat.png"));
    assert_eq!(open(&mut bob, &got.key), picture, "bob's stored bytes are the picture");
    let mine = only_file(&alice);
    assert_eq!((mine.status, mine.mine, mine.done), (FileStatus::Done, true, 300_000));
    assert_eq!(open(&mut alice, &mine.key), picture, "alice keeps her own file too");

    bob.restart_browser(Millis(40));
    alice.restart(Millis(41));
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(42));
    alice.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(42));
    assert_eq!(only_file(&bob).status, FileStatus::Done, "after a browser restart");
    assert_eq!(open(&mut bob, &got.key), picture);
    assert_eq!(only_file(&alice).status, FileStatus::Done);
}

#[test]
fn progress_shows_on_both_sides_and_a_restarted_receiver_resumes() {
    let (mut alice, mut bob, room) = contacts();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let file = bytes_of(40 * CHUNK_BYTES as usize + 123, 2);
    send_file(&mut alice, &room, "notes.bin", "application/octet-stream", &file, Millis(30));
    pump_with(&mut alice, &mut bob, "dc_1", Millis(31), Wire { max_chunks: Some(30), ..Wire::default() });
    let theirs = only_file(&bob);
    assert_eq!(theirs.status, FileStatus::Moving);
    assert_eq!(theirs.done, 30 * u64::from(CHUNK_BYTES), "30 chunks stored on bob's side");
    let mine = only_file(&alice);
    assert_eq!(mine.status, FileStatus::Moving);
    assert!(mine.done > 0 && mine.done < file.len() as u64, "alice sees what bob acknowledged: {}", mine.done);

    // Bob's browser restarts mid-transfer: the link is gone, what was in flight is lost.
    alice.to_engine.clear();
    bob.restart_browser(Millis(40));
    link_down(&mut alice, "dc_1", Millis(41));
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(42));
    assert_eq!(only_file(&bob).status, FileStatus::Moving, "the record says how far it got");
    connect(&mut alice, &mut bob, "dc_2", Millis(50));
    let got = only_file(&bob);
    assert_eq!(got.status, FileStatus::Done, "{got:?}");
    assert_eq!(open(&mut bob, &got.key), file);
    assert_eq!(only_file(&alice).status, FileStatus::Done);
}

#[test]
fn a_file_to_an_offline_contact_waits_and_goes_when_they_are_back() {
    let (mut alice, mut bob, room) = contacts();
    let file = bytes_of(100_000, 3);
    send_file(&mut alice, &room, "report.pdf", "application/pdf", &file, Millis(30));
    let waiting = only_file(&alice);
    assert_eq!(waiting.status, FileStatus::Waiting);
    assert_eq!(said(&waiting.detail).as_deref(), Some("Waiting for bob to come online"));
    // Alice's worker restarts before bob is back: the file was stored, it still goes.
    alice.restart(Millis(40));
    alice.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(41));
    assert_eq!(only_file(&alice).status, FileStatus::Waiting);
    connect(&mut alice, &mut bob, "dc_1", Millis(50));
    let got = only_file(&bob);
    assert_eq!((got.status, got.image), (FileStatus::Done, false));
    assert_eq!(open(&mut bob, &got.key), file);
    assert_eq!(only_file(&alice).status, FileStatus::Done);
}

#[test]
fn a_file_from_someone_not_a_contact_waits_for_accept_and_can_be_declined() {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::CreateGroup { name: "Friends".into() }, Millis(10));
    let room = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::Invite { room: room.clone(), username: "bob".into() }, Millis(11));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    bob.request(Request::AcceptInvitation { room: room.clone() }, Millis(30));
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(31));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));

    let file = bytes_of(70_000, 4);
    send_file(&mut alice, &room, "photo.jpg", "image/jpeg", &file, Millis(40));
    pump(&mut alice, &mut bob, "dc_1", Millis(41));
    let offered = only_file(&bob);
    assert_eq!(offered.status, FileStatus::AwaitingYou, "{offered:?}");
    assert_eq!(received_chunk_keys(&bob), 0, "nothing is fetched before Accept");
    let told = bob.notified.last().expect("bob is told a file waits for him");
    assert_eq!(told.text.english(), "alice wants to send you photo.jpg (70 KB). Open multichat to accept or decline.");
    assert_eq!(said(&only_file(&alice).detail).as_deref(), Some("Waiting for bob to accept"));

    bob.request(Request::AnswerFile { key: offered.key.clone(), accept: true }, Millis(50));
    pump(&mut alice, &mut bob, "dc_1", Millis(51));
    assert_eq!(only_file(&bob).status, FileStatus::Done);
    assert_eq!(open(&mut bob, &offered.key), file);

    let second = bytes_of(10_000, 5);
    send_file(&mut alice, &room, "other.jpg", "image/jpeg", &second, Millis(60));
    pump(&mut alice, &mut bob, "dc_1", Millis(61));
    let waiting = files(&bob).into_iter().find(|it| it.name == "other.jpg").unwrap();
    bob.request(Request::AnswerFile { key: waiting.key.clone(), accept: false }, Millis(62));
    pump(&mut alice, &mut bob, "dc_1", Millis(63));
    let declined = files(&alice).into_iter().find(|it| it.name == "other.jpg").unwrap();
    assert_eq!(declined.status, FileStatus::Failed);
    assert_eq!(said(&declined.detail).as_deref(), Some("bob declined other.jpg."));
}

#[test]
fn a_file_over_the_recipient_s_limit_is_refused_in_words_and_nothing_is_stored() {
    let (mut alice, mut bob, room) = contacts();
    let settings = Settings { max_file_bytes: 1_000_000, ..Settings::default() };
    assert!(matches!(bob.request(Request::SaveSettings { settings }, Millis(12)), Response::View { .. }));
    bob.to_engine.clear();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let big = bytes_of(1_500_000, 6);
    send_file(&mut alice, &room, "big.zip", "application/zip", &big, Millis(30));
    let (chunks, _) = pump(&mut alice, &mut bob, "dc_1", Millis(31));
    assert_eq!(chunks, 0, "no chunk of a refused file is sent");
    let refused = only_file(&alice);
    assert_eq!(refused.status, FileStatus::Failed);
    assert_eq!(said(&refused.detail).as_deref(), Some("bob accepts files up to 1.0 MB; big.zip is 1.5 MB."));
    let theirs = only_file(&bob);
    assert_eq!(theirs.status, FileStatus::Failed);
    assert_eq!(
        said(&theirs.detail).as_deref(),
        Some("alice tried to send you big.zip (1.5 MB), larger than your limit of 1.0 MB (Settings).")
    );
    assert_eq!(received_chunk_keys(&bob), 0);
    assert!(!bob.disk.0.keys().any(|it| it.starts_with("file/bob/in/")), "no record of a refused offer");
}

#[test]
fn either_side_can_cancel_and_the_other_is_told() {
    let (mut alice, mut bob, room) = contacts();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let file = bytes_of(30 * CHUNK_BYTES as usize, 7);
    send_file(&mut alice, &room, "a.bin", "application/octet-stream", &file, Millis(30));
    pump_with(&mut alice, &mut bob, "dc_1", Millis(31), Wire { max_chunks: Some(5), ..Wire::default() });
    let key = only_file(&bob).key;
    assert!(matches!(bob.request(Request::CancelFile { key }, Millis(32)), Response::View { .. }));
    pump(&mut alice, &mut bob, "dc_1", Millis(33));
    assert_eq!(said(&only_file(&bob).detail).as_deref(), Some("You cancelled a.bin."));
    assert_eq!(said(&only_file(&alice).detail).as_deref(), Some("bob cancelled a.bin."));
    assert_eq!(received_chunk_keys(&bob), 0, "the chunks of a cancelled file are removed");

    // Larger than the window, so it cannot all be in flight before the cancel.
    let second = bytes_of(100 * CHUNK_BYTES as usize, 8);
    send_file(&mut alice, &room, "b.bin", "application/octet-stream", &second, Millis(40));
    pump_with(&mut alice, &mut bob, "dc_1", Millis(41), Wire { max_chunks: Some(5), ..Wire::default() });
    let mine = files(&alice).into_iter().find(|it| it.name == "b.bin").unwrap();
    alice.request(Request::CancelFile { key: mine.key }, Millis(42));
    pump(&mut alice, &mut bob, "dc_1", Millis(43));
    let theirs = files(&bob).into_iter().find(|it| it.name == "b.bin").unwrap();
    assert_eq!(theirs.status, FileStatus::Failed);
    assert_eq!(said(&theirs.detail).as_deref(), Some("alice cancelled b.bin."));
}

#[test]
fn no_file_frame_goes_to_a_peer_that_did_not_announce_files() {
    let (mut alice, mut bob, room) = contacts();
    let file = bytes_of(10_000, 9);
    send_file(&mut alice, &room, "x.txt", "text/plain", &file, Millis(15));
    let types = connect_with(&mut alice, &mut bob, "dc_1", Millis(20), Wire { strip_files: true, ..Wire::default() });
    assert!(types.iter().any(|it| it == "mc.hello"), "the link greeted: {types:?}");
    assert!(!types.iter().any(|it| it.starts_with("mc.file")), "no file frame crossed: {types:?}");
    assert_eq!(only_file(&alice).status, FileStatus::Waiting);

    // The same peer announcing files gets it.
    link_down(&mut alice, "dc_1", Millis(30));
    link_down(&mut bob, "dc_1", Millis(30));
    let types = connect(&mut alice, &mut bob, "dc_2", Millis(31));
    assert!(types.iter().any(|it| it == "mc.file.offer"), "{types:?}");
    assert_eq!(only_file(&bob).status, FileStatus::Done);
}

#[test]
fn a_passphrase_seals_file_chunks_and_records() {
    let (mut alice, mut bob, room) = contacts();
    let set = bob.request(Request::SetPassphrase { passphrase: "correct horse battery".into() }, Millis(12));
    assert!(matches!(set, Response::View { .. }), "{set:?}");
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(13));
    bob.to_engine.clear();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let file = bytes_of(2 * CHUNK_BYTES as usize, 10);
    send_file(&mut alice, &room, "secret.bin", "application/octet-stream", &file, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let got = only_file(&bob);
    assert_eq!(got.status, FileStatus::Done);
    let plain_first = chunk_base64(&file[..CHUNK_BYTES as usize]);
    let chunk_keys: Vec<&String> = bob.disk.0.keys().filter(|it| it.starts_with("fc/bob/")).collect();
    assert_eq!(chunk_keys.len(), 2);
    for key in chunk_keys {
        assert_ne!(bob.disk.0[key], Value::String(plain_first.clone()), "{key} is stored sealed");
        assert!(bob.disk.0[key].is_object(), "{key} is a sealed envelope");
    }
    let record = Key::FileIndex(multichat_core::account::Username::parse("bob").unwrap()).to_string();
    assert!(!bob.disk.0[&record].to_string().contains("secret.bin"), "the index names no file in the clear");
    assert_eq!(open(&mut bob, &got.key), file, "opened through the vault");
}

#[test]
fn a_piece_out_of_order_is_refused_and_nothing_is_sent() {
    let (mut alice, _bob, room) = contacts();
    let file = bytes_of(3 * CHUNK_BYTES as usize, 11);
    let first = Request::SendFilePiece {
        upload: "u1".into(),
        room: room.clone(),
        name: "f.bin".into(),
        mime: "application/octet-stream".into(),
        size: file.len() as u64,
        offset: 0,
        data: chunk_base64(&file[..CHUNK_BYTES as usize]),
    };
    assert!(matches!(alice.request(first, Millis(20)), Response::View { .. }));
    let skipped = Request::SendFilePiece {
        upload: "u1".into(),
        room: room.clone(),
        name: "f.bin".into(),
        mime: "application/octet-stream".into(),
        size: file.len() as u64,
        offset: 2 * u64::from(CHUNK_BYTES),
        data: chunk_base64(&file[2 * CHUNK_BYTES as usize..]),
    };
    assert!(matches!(alice.request(skipped, Millis(21)), Response::Error { .. }));
    assert!(files(&alice).is_empty(), "no file is offered from a broken upload");
}

#[test]
fn a_sender_whose_worker_restarts_mid_transfer_resumes_on_the_link_the_engine_kept() {
    let (mut alice, mut bob, room) = contacts();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let file = bytes_of(40 * CHUNK_BYTES as usize + 7, 12);
    send_file(&mut alice, &room, "long.bin", "application/octet-stream", &file, Millis(30));
    pump_with(&mut alice, &mut bob, "dc_1", Millis(31), Wire { max_chunks: Some(10), ..Wire::default() });
    assert_eq!(only_file(&bob).done, 10 * u64::from(CHUNK_BYTES));

    // Chrome stopped alice's service worker: what it had queued for the engine is lost, the engine and its
    // link stay, and the restarted worker learns of the link from the engine's hello.
    alice.to_engine.clear();
    alice.restart(Millis(40));
    let info = LinkInfo {
        link: "dc_1".into(),
        peer_id: "secure-p2p-multichat-bob".into(),
        metadata: serde_json::json!({"peerIds": [], "multichat": {"v": 1}}),
        outgoing: true,
        sessions: Some(SessionPair { local_sdp: sdp_with_certificate(10), remote_sdp: sdp_with_certificate(20) }),
    };
    let status = multichat_core::bridge::EngineStatus::Online;
    alice.engine(EngineToWorker::Hello { status, links: vec![info] }, Millis(41));
    let (chunks, _) = pump(&mut alice, &mut bob, "dc_1", Millis(42));
    assert!(chunks >= 31, "the rest of the file crossed ({chunks} chunks)");
    assert!(chunks < 41, "from where bob's storage stood, not from the start ({chunks} chunks)");
    let got = only_file(&bob);
    assert_eq!(got.status, FileStatus::Done, "{got:?}");
    assert_eq!(open(&mut bob, &got.key), file);
    alice.request(Request::SelectRoom { room: Some(room) }, Millis(43));
    assert_eq!(only_file(&alice).status, FileStatus::Done);
}

#[test]
fn a_receiver_whose_worker_restarts_mid_transfer_is_sent_the_rest_on_the_same_link() {
    let (mut alice, mut bob, room) = contacts();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let file = bytes_of(40 * CHUNK_BYTES as usize + 7, 13);
    send_file(&mut alice, &room, "long.bin", "application/octet-stream", &file, Millis(30));
    pump_with(&mut alice, &mut bob, "dc_1", Millis(31), Wire { max_chunks: Some(10), ..Wire::default() });

    // Bob's service worker stops: the chunks his engine was still to report are lost with it; alice's
    // worker, which sent them, knows nothing of it. Bob's restarted worker greets again on the same link.
    alice.to_engine.clear();
    bob.to_engine.clear();
    bob.restart(Millis(40));
    let info = LinkInfo {
        link: "dc_1".into(),
        peer_id: "secure-p2p-multichat-alice".into(),
        metadata: serde_json::json!({"peerIds": [], "multichat": {"v": 1}}),
        outgoing: false,
        sessions: Some(SessionPair { local_sdp: sdp_with_certificate(20), remote_sdp: sdp_with_certificate(10) }),
    };
    let status = multichat_core::bridge::EngineStatus::Online;
    bob.engine(EngineToWorker::Hello { status, links: vec![info] }, Millis(41));
    pump(&mut alice, &mut bob, "dc_1", Millis(42));
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(43));
    let got = only_file(&bob);
    assert_eq!(got.status, FileStatus::Done, "{got:?}");
    assert_eq!(open(&mut bob, &got.key), file);
    assert_eq!(only_file(&alice).status, FileStatus::Done);
}
