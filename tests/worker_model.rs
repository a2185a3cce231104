//! The worker model end to end, natively: sign-in and settings persistence, the engine following the
//! account, and two workers chatting through a simulated engine link (each frame stored before it is
//! acknowledged, history surviving a reload that reads only the keys it asks for).

use multichat_core::bridge::{
    EngineStatus, EngineToWorker, LinkInfo, MessageState, Request, Response, SessionPair, WorkerToEngine,
};
use multichat_core::settings::Settings;
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;

/// One browser profile: its storage and its worker.
type Profile = MemShell;

fn view(profile: &Profile) -> multichat_core::bridge::View {
    profile.view()
}

#[test]
fn sign_in_persists_and_a_bad_username_writes_nothing() {
    let mut alice = Profile::new();
    let refused = alice.request(Request::SignIn { username: "bad name!".into() }, Millis(1));
    assert!(matches!(refused, Response::Error { .. }));
    alice.request(Request::SignIn { username: " alice ".into() }, Millis(2));
    alice.restart(Millis(3));
    assert_eq!(view(&alice).account.unwrap().peer_id, "secure-p2p-multichat-alice");
    alice.request(Request::SignOut, Millis(4));
    alice.restart(Millis(5));
    assert_eq!(view(&alice).account, None);
}

#[test]
fn the_engine_follows_the_account_and_settings() {
    let mut alice = Profile::new();
    alice.engine(EngineToWorker::Hello { status: EngineStatus::Offline, links: Vec::new() }, Millis(1));
    assert_eq!(alice.to_engine.drain(..).collect::<Vec<_>>(), vec![WorkerToEngine::Shutdown]);

    alice.request(Request::SignIn { username: "alice".into() }, Millis(2));
    let configure = alice.to_engine.drain(..).next().unwrap();
    assert!(matches!(&configure, WorkerToEngine::Configure { peer_id, .. } if peer_id == "secure-p2p-multichat-alice"));

    let mut settings = Settings::default();
    settings.server.host = "127.0.0.1".into();
    alice.request(Request::SaveSettings { settings: settings.clone() }, Millis(3));
    assert!(matches!(&alice.to_engine[..], [WorkerToEngine::Configure { settings: s, .. }] if *s == settings));

    let failed = EngineStatus::Failed { message: multichat_core::bridge::Code::PeerIdTaken.into() };
    alice.engine(EngineToWorker::Status { status: failed.clone() }, Millis(4));
    assert_eq!(view(&alice).engine, failed);
    alice.request(Request::SignOut, Millis(5));
    assert_eq!(view(&alice).engine, EngineStatus::Offline);
}

/// Delivers engine commands between two profiles as if their engines shared one data connection.
pub(crate) fn pump(a: &mut Profile, b: &mut Profile, link: &str, now: Millis) {
    for _ in 0..50 {
        let from_a: Vec<WorkerToEngine> = a.to_engine.drain(..).collect();
        let from_b: Vec<WorkerToEngine> = b.to_engine.drain(..).collect();
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        for command in from_a {
            if let WorkerToEngine::Send { frame, .. } = command {
                b.engine(EngineToWorker::Frame { link: link.into(), frame }, now);
            }
        }
        for command in from_b {
            if let WorkerToEngine::Send { frame, .. } = command {
                a.engine(EngineToWorker::Frame { link: link.into(), frame }, now);
            }
        }
    }
    panic!("the two workers never went quiet");
}

#[test]
fn two_workers_chat_and_history_survives_a_restart() {
    let mut alice = Profile::new();
    // Seeds far apart: the two handshakes' nonces differ (equal ones are refused as reflected).
    let mut bob = Profile::seeded(50);
    alice.request(Request::SignIn { username: "alice".into() }, Millis(10));
    bob.request(Request::SignIn { username: "bob".into() }, Millis(10));
    alice.to_engine.clear();
    bob.to_engine.clear();

    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(20));
    let dial = alice.to_engine.iter().find_map(|it| match it {
        WorkerToEngine::Dial { peer_id, metadata, .. } => Some((peer_id.clone(), metadata.clone())),
        _ => None,
    });
    let (peer_id, metadata) = dial.expect("opening a direct chat dials the other user");
    assert_eq!(peer_id, "secure-p2p-multichat-bob");
    alice.to_engine.clear();
    let room = view(&alice).open_room.expect("the new conversation is shown").room.id;
    let never = member(&alice, "bob");
    assert!(!never.online && !never.reached, "a username never reached (maybe never online): {never:?}");

    let link = "dc_test1";
    alice.engine(
        EngineToWorker::LinkUp {
            info: LinkInfo {
                link: link.into(),
                peer_id,
                metadata: metadata.clone(),
                outgoing: true,
                sessions: sessions(10, 20),
            },
        },
        Millis(30),
    );
    bob.engine(
        EngineToWorker::LinkUp {
            info: LinkInfo {
                link: link.into(),
                peer_id: "secure-p2p-multichat-alice".into(),
                metadata,
                outgoing: false,
                sessions: sessions(20, 10),
            },
        },
        Millis(30),
    );
    pump(&mut alice, &mut bob, link, Millis(40));

    alice.request(Request::SendText { room: room.clone(), text: "hello <b>bob</b>".into() }, Millis(50));
    pump(&mut alice, &mut bob, link, Millis(60));
    // Bob has no conversation with alice: her first message is a request until he accepts it.
    assert_eq!(view(&bob).requests.len(), 1);
    bob.request(Request::AcceptRequest { username: "alice".into() }, Millis(65));
    pump(&mut alice, &mut bob, link, Millis(66));
    bob.request(Request::SendText { room: room.clone(), text: "hi alice".into() }, Millis(70));
    pump(&mut alice, &mut bob, link, Millis(80));

    // Bob has not opened the conversation: it counts as unread.
    let bob_rooms = view(&bob).rooms;
    assert_eq!(bob_rooms.len(), 1);
    assert_eq!(bob_rooms[0].title, "alice");
    assert_eq!(bob_rooms[0].unread, 1);
    assert_eq!(bob.model.unread(), 1);
    bob.request(Request::GetView, Millis(85));
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(90));
    assert_eq!(bob.model.unread(), 0);

    // With the popup closed, a new message in the same room counts as unread again.
    bob.model.popups_closed();
    alice.request(Request::SendText { room: room.clone(), text: "are you there?".into() }, Millis(92));
    pump(&mut alice, &mut bob, link, Millis(94));
    assert_eq!(bob.model.unread(), 1);
    bob.request(Request::GetView, Millis(96));
    assert_eq!(bob.model.unread(), 0, "reopening the popup on that room reads it");

    let shown = view(&alice).open_room.unwrap().messages;
    let texts: Vec<(&str, &str, MessageState)> =
        shown.iter().map(|it| (it.sender.as_str(), it.text.as_str(), it.state)).collect();
    assert_eq!(
        texts,
        vec![
            ("alice", "hello <b>bob</b>", MessageState::Delivered),
            ("bob", "hi alice", MessageState::Received),
            ("alice", "are you there?", MessageState::Delivered),
        ]
    );

    // A restart reads only what it asks for and reopens the same conversation.
    alice.restart(Millis(100));
    let again = view(&alice).open_room.expect("the open conversation is remembered").messages;
    assert_eq!(again.len(), 3);
    assert_eq!(again[1].text, "hi alice");
    let offline = member(&alice, "bob");
    assert!(!offline.online && offline.reached, "a contact reached before, offline now: {offline:?}");
}

#[test]
fn the_identity_key_is_made_once_per_install_and_kept_across_sign_out() {
    let mut alice = Profile::new();
    alice.request(Request::SignIn { username: "alice".into() }, Millis(1));
    let first = alice.disk.0.get("identity").cloned().expect("an identity key at the first sign-in");
    alice.request(Request::SignOut, Millis(2));
    alice.request(Request::SignIn { username: "alice".into() }, Millis(3));
    assert_eq!(alice.disk.0.get("identity"), Some(&first), "signing in again keeps the key contacts trust");
    // Nothing is known about bob yet, so nothing can be marked verified.
    let refused = alice.request(Request::MarkVerified { username: "bob".into(), safety_number: "1".into() }, Millis(4));
    assert!(matches!(refused, Response::Error { .. }), "{refused:?}");
}

fn sdp_with_certificate(cert: u8) -> String {
    let fingerprint: Vec<String> = (0..32).map(|i| format!("{:02X}", cert.wrapping_add(i))).collect();
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 {}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        fingerprint.join(":")
    )
}

/// The two descriptions of one DTLS session, each end with its own certificate.
fn sessions(local: u8, remote: u8) -> Option<SessionPair> {
    Some(SessionPair { local_sdp: sdp_with_certificate(local), remote_sdp: sdp_with_certificate(remote) })
}

/// A signed-in profile whose identity key is made from `seed`. Profiles draw their random bytes from a
/// counter, so seeds far apart keep two profiles' handshake nonces apart (equal ones are refused as reflected).
pub(crate) fn signed_in(name: &str, seed: u8) -> Profile {
    let mut profile = Profile::seeded(seed);
    profile.request(Request::SignIn { username: name.into() }, Millis(1));
    profile.to_engine.clear();
    profile
}

/// Brings up one data connection between `dialer` and `answerer` (each with its own DTLS certificate, as a
/// real session has) and runs both workers until they are quiet.
pub(crate) fn connect(dialer: &mut Profile, answerer: &mut Profile, link: &str, now: Millis) {
    let metadata = dialer.to_engine.iter().find_map(|it| match it {
        WorkerToEngine::Dial { metadata, .. } => Some(metadata.clone()),
        _ => None,
    });
    dialer.to_engine.clear();
    let (dialer_id, answerer_id) = (view(dialer).account.unwrap().peer_id, view(answerer).account.unwrap().peer_id);
    let sessions = |local: u8, remote: u8| {
        Some(SessionPair { local_sdp: sdp_with_certificate(local), remote_sdp: sdp_with_certificate(remote) })
    };
    let info = |peer_id: String, outgoing: bool, sessions| LinkInfo {
        link: link.into(),
        peer_id,
        metadata: metadata.clone().unwrap_or_default(),
        outgoing,
        sessions,
    };
    dialer.engine(EngineToWorker::LinkUp { info: info(answerer_id, true, sessions(10, 20)) }, now);
    answerer.engine(EngineToWorker::LinkUp { info: info(dialer_id, false, sessions(20, 10)) }, now);
    pump(dialer, answerer, link, now);
}

fn member(profile: &Profile, name: &str) -> multichat_core::bridge::MemberSummary {
    let room = view(profile).open_room.expect("a conversation is open").room;
    room.members.into_iter().find(|it| it.username == name).expect("a member of the open conversation")
}

#[test]
fn a_changed_key_holds_messages_until_the_user_accepts_or_rejects_it() {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    assert!(member(&alice, "bob").authenticated);

    // "bob" again, from another install (another key): an impostor, or bob on a new laptop.
    let mut new_bob = signed_in("bob", 100);
    new_bob.request(Request::OpenDirect { username: "alice".into() }, Millis(30));
    let room = view(&new_bob).open_room.unwrap().room.id;
    new_bob.request(Request::SendText { room, text: "it is me".into() }, Millis(31));
    alice.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(32));
    connect(&mut new_bob, &mut alice, "dc_2", Millis(40));
    let bob_member = member(&alice, "bob");
    let shown = bob_member.new_key_safety_number.clone().expect("the new key waits for alice's decision");
    assert_ne!(Some(&shown), bob_member.safety_number.as_ref());
    assert!(!bob_member.authenticated);
    let texts =
        |profile: &Profile| view(profile).open_room.unwrap().messages.into_iter().map(|it| it.text).collect::<Vec<_>>();
    assert!(!texts(&alice).contains(&"it is me".to_owned()), "held until alice decides");

    let wrong =
        alice.request(Request::AcceptNewKey { username: "bob".into(), safety_number: "12345".into() }, Millis(50));
    assert!(matches!(wrong, Response::Error { .. }), "only the key whose number was shown can be accepted");
    alice.request(Request::AcceptNewKey { username: "bob".into(), safety_number: shown.clone() }, Millis(51));
    pump(&mut alice, &mut new_bob, "dc_2", Millis(52));
    assert!(texts(&alice).contains(&"it is me".to_owned()), "released once accepted");
    assert!(member(&alice, "bob").authenticated);
    assert_eq!(member(&alice, "bob").safety_number, Some(shown), "the accepted key is the pinned one now");

    // Another key again: rejected, its link closed, and its message never stored.
    let mut impostor = signed_in("bob", 150);
    impostor.request(Request::OpenDirect { username: "alice".into() }, Millis(60));
    let room = view(&impostor).open_room.unwrap().room.id;
    impostor.request(Request::SendText { room, text: "trust me".into() }, Millis(61));
    connect(&mut impostor, &mut alice, "dc_3", Millis(70));
    let shown = member(&alice, "bob").new_key_safety_number.expect("asked again for another key");
    alice.request(Request::RejectNewKey { username: "bob".into(), safety_number: shown }, Millis(80));
    assert!(alice.to_engine.iter().any(|it| matches!(it, WorkerToEngine::Close { link } if link == "dc_3")));
    assert_eq!(member(&alice, "bob").new_key_safety_number, None);
    assert!(!texts(&alice).contains(&"trust me".to_owned()));
    assert!(
        !alice.disk.0.values().any(|it| it.to_string().contains("trust me")),
        "nothing from the rejected key was stored"
    );
}

/// While bob is away, someone on his PeerJS id dials alice as the original page would (no metadata) and
/// sends "bob"'s text. Returns alice (who wrote to bob meanwhile, in the open conversation) after it.
fn squatted_alice() -> Profile {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    alice.engine(EngineToWorker::LinkDown { link: "dc_1".into(), reason: "closed".into() }, Millis(30));
    let room = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::SendText { room, text: "for bob only".into() }, Millis(35));
    alice.to_engine.clear();
    let info = LinkInfo {
        link: "dc_2".into(),
        peer_id: "secure-p2p-multichat-bob".into(),
        metadata: serde_json::Value::Null,
        outgoing: false,
        sessions: Some(SessionPair { local_sdp: sdp_with_certificate(20), remote_sdp: sdp_with_certificate(30) }),
    };
    alice.engine(EngineToWorker::LinkUp { info }, Millis(40));
    let frame =
        serde_json::json!({"type": "chat", "chat": {"sender": "bob", "message": "squatter text", "timestamp": 41}});
    alice.engine(EngineToWorker::Frame { link: "dc_2".into(), frame }, Millis(41));
    alice.timeout(Millis(9_000));
    alice
}

fn sent_text(profile: &Profile, link: &str) -> String {
    profile
        .to_engine
        .iter()
        .filter_map(|it| match it {
            WorkerToEngine::Send { link: on, frame } if on == link => Some(frame.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_known_contact_that_acts_as_the_original_page_is_held_with_a_warning_until_alice_decides() {
    let mut alice = squatted_alice();
    let warning = member(&alice, "bob").unproved.expect("a red warning on bob");
    let warning = warning.english();
    assert!(warning.contains("without proving bob's identity key"), "{warning}");
    assert!(!member(&alice, "bob").online, "the chat node never heard of the link");
    assert!(!texts(&alice).contains(&"squatter text".to_owned()));
    assert!(!alice.disk.0.values().any(|it| it.to_string().contains("squatter text")), "nothing of it is stored");
    assert!(!sent_text(&alice, "dc_2").contains("for bob only"), "the outbox is not sent to it");
    let [alert] = &alice.notified[..] else { panic!("one notification: {:?}", alice.notified) };
    assert!(alert.title.english().contains("bob") && alert.title.english().contains("prov"), "{alert:?}");
    assert!(!alert.text.english().contains("squatter text"));
    // The warning is stored with the contact: it survives a restart, and only alice's choice clears it.
    alice.restart(Millis(9_100));
    assert!(member(&alice, "bob").unproved.is_some());
    alice.engine(
        EngineToWorker::LinkUp {
            info: LinkInfo {
                link: "dc_2".into(),
                peer_id: "secure-p2p-multichat-bob".into(),
                metadata: serde_json::Value::Null,
                outgoing: false,
                sessions: Some(SessionPair {
                    local_sdp: sdp_with_certificate(20),
                    remote_sdp: sdp_with_certificate(30),
                }),
            },
        },
        Millis(9_200),
    );
    let frame =
        serde_json::json!({"type": "chat", "chat": {"sender": "bob", "message": "squatter text", "timestamp": 41}});
    alice.engine(EngineToWorker::Frame { link: "dc_2".into(), frame }, Millis(9_201));
    assert_eq!(alice.notified.len(), 1, "a warning already waiting is not notified again");
    // "Allow unverified for this contact": the held link chats, marked unverified, and what it held is shown.
    alice.request(Request::AllowUnverified { username: "bob".into() }, Millis(9_300));
    let bob = member(&alice, "bob");
    assert_eq!(bob.unproved, None);
    assert!(bob.online && !bob.authenticated);
    assert!(bob.problem.expect("unverified, said on the member").english().contains("unverified"));
    assert!(texts(&alice).contains(&"squatter text".to_owned()));
}

#[test]
fn blocking_unverified_links_closes_the_held_one_and_the_next() {
    let mut alice = squatted_alice();
    alice.request(Request::BlockUnverified { username: "bob".into() }, Millis(9_100));
    assert!(alice.to_engine.iter().any(|it| matches!(it, WorkerToEngine::Close { link } if link == "dc_2")));
    assert_eq!(member(&alice, "bob").unproved, None);
    assert!(member(&alice, "bob").problem.expect("why it was closed").english().contains("block"));
    alice.engine(EngineToWorker::LinkDown { link: "dc_2".into(), reason: "closed".into() }, Millis(9_110));
    alice.to_engine.clear();
    let info = LinkInfo {
        link: "dc_3".into(),
        peer_id: "secure-p2p-multichat-bob".into(),
        metadata: serde_json::Value::Null,
        outgoing: false,
        sessions: Some(SessionPair { local_sdp: sdp_with_certificate(20), remote_sdp: sdp_with_certificate(40) }),
    };
    alice.engine(EngineToWorker::LinkUp { info }, Millis(9_200));
    assert!(alice.to_engine.iter().any(|it| matches!(it, WorkerToEngine::Close { link } if link == "dc_3")));
    assert!(!sent_text(&alice, "dc_3").contains("for bob only"));
    assert_eq!(alice.notified.len(), 1, "blocked: no new alert");
}

#[test]
fn an_old_token_is_renewed_on_start_and_the_identity_key_is_kept() {
    let mut alice = signed_in("alice", 1);
    let identity = alice.disk.0["identity"].clone();
    assert_eq!(alice.disk.0["account"]["token_v"], 1);
    let mut account = alice.disk.0["account"].clone();
    account.as_object_mut().unwrap().remove("token_v");
    account["token"] = "oldtokenfromseed".into();
    alice.disk.0.insert("account".into(), account);
    alice.restart(Millis(10));
    let account = &alice.disk.0["account"];
    assert_eq!(account["token_v"], 1);
    assert_ne!(account["token"], "oldtokenfromseed");
    assert_eq!(account["token"].as_str().map(str::len), Some(16));
    assert_eq!(alice.disk.0["identity"], identity, "the identity key is kept");
    let token = account["token"].clone();
    alice.restart(Millis(20));
    assert_eq!(alice.disk.0["account"]["token"], token, "renewed once, not at every start");
}

#[test]
fn a_damaged_room_list_is_kept_aside_before_a_new_one_is_written() {
    let mut alice = signed_in("alice", 1);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    let key = multichat_core::chat::history::rooms_key(&multichat_core::account::Username::parse("alice").unwrap());
    let damaged = serde_json::json!({"v": 1, "rooms": "not a list"});
    alice.disk.0.insert(key.clone(), damaged.clone());
    alice.restart(Millis(20));
    assert!(view(&alice).storage_problems.iter().any(|it| it.english().contains("list of conversations is damaged")));
    alice.request(Request::OpenDirect { username: "carol".into() }, Millis(30));
    assert_eq!(alice.disk.0.get(&format!("damaged/{key}")), Some(&damaged), "the damaged list is copied aside");
    assert_ne!(alice.disk.0.get(&key), Some(&damaged), "and a readable list is written in its place");
}

#[test]
fn an_export_holds_every_stored_record_and_imports_into_another_install() {
    let mut alice = Profile::new();
    let refused = alice.request(Request::ExportData, Millis(1));
    assert!(matches!(refused, Response::Error { .. }), "{refused:?}");

    let mut bob = Profile::seeded(50);
    alice.request(Request::SignIn { username: "alice".into() }, Millis(10));
    bob.request(Request::SignIn { username: "bob".into() }, Millis(10));
    alice.to_engine.clear();
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(20));
    let metadata = alice.to_engine.iter().find_map(|it| match it {
        WorkerToEngine::Dial { metadata, .. } => Some(metadata.clone()),
        _ => None,
    });
    alice.to_engine.clear();
    let room = view(&alice).open_room.unwrap().room.id;
    let link = "dc_export";
    let info = |peer_id: &str, outgoing, sessions| LinkInfo {
        link: link.into(),
        peer_id: peer_id.into(),
        metadata: metadata.clone().unwrap(),
        outgoing,
        sessions,
    };
    alice.engine(EngineToWorker::LinkUp { info: info("secure-p2p-multichat-bob", true, sessions(10, 20)) }, Millis(30));
    bob.engine(
        EngineToWorker::LinkUp { info: info("secure-p2p-multichat-alice", false, sessions(20, 10)) },
        Millis(30),
    );
    pump(&mut alice, &mut bob, link, Millis(40));
    alice.request(Request::SendText { room: room.clone(), text: "exported hello".into() }, Millis(50));
    pump(&mut alice, &mut bob, link, Millis(60));
    bob.request(Request::AcceptRequest { username: "alice".into() }, Millis(65));
    pump(&mut alice, &mut bob, link, Millis(66));
    bob.request(Request::SendText { room, text: "exported reply".into() }, Millis(70));
    pump(&mut alice, &mut bob, link, Millis(80));

    let mut settings = Settings::default();
    settings.server.host = "127.0.0.1".into();
    alice.request(Request::SaveSettings { settings }, Millis(90));

    let Response::Export { file_name, json } = alice.request(Request::ExportData, Millis(1_700_000_000_000)) else {
        panic!("an export when signed in")
    };
    assert_eq!(file_name, "multichat-export-alice-2023-11-14.json");
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(document["format"], "multichat-export");
    assert_eq!(document["version"], 1);
    assert_eq!(document["exported_at"], 1_700_000_000_000u64);
    let records = document["records"].as_object().unwrap();
    let on_disk: serde_json::Map<String, serde_json::Value> = alice.disk.0.clone().into_iter().collect();
    assert_eq!(records, &on_disk, "every record, unchanged");
    for key in ["identity", "account", "settings", "schema_version"] {
        assert!(records.contains_key(key), "{key} is exported");
    }
    assert_eq!(records["settings"]["server"]["host"], "127.0.0.1");
    let history = serde_json::to_string(records).unwrap();
    assert!(history.contains("exported hello") && history.contains("exported reply"), "both sides' messages");

    // Another install, signed in as someone else, imports the file: a damaged copy first.
    let mut other = Profile::new();
    other.request(Request::SignIn { username: "zed".into() }, Millis(2_000));
    other.to_engine.clear();
    let before = other.disk.clone();
    let mut damaged: serde_json::Value = serde_json::from_str(&json).unwrap();
    let page = records.keys().find(|key| key.starts_with("h/alice/") && !key.ends_with("/meta")).unwrap().clone();
    damaged["records"][&page] = serde_json::json!({"messages": "torn"});
    let refused = other.request(Request::ImportData { json: damaged.to_string() }, Millis(2_001));
    let Response::Error { message } = refused else { panic!("a damaged file is refused") };
    let message = message.english();
    assert!(
        message.starts_with("The export file is damaged (part ") && message.ends_with("nothing was changed"),
        "{message}"
    );
    assert_eq!(other.disk, before, "nothing was changed");
    assert!(other.to_engine.is_empty());
    let refused = other.request(Request::ImportData { json: "{\"hello\": 1}".into() }, Millis(2_002));
    assert!(matches!(refused, Response::Error { .. }), "{refused:?}");
    assert_eq!(other.disk, before);

    other.request(Request::ImportData { json: json.clone() }, Millis(2_003));
    let imported: serde_json::Map<String, serde_json::Value> = other.disk.0.clone().into_iter().collect();
    assert_eq!(&imported, records, "storage holds exactly the file's records (zed's are gone)");
    let WorkerToEngine::Configure { peer_id, token, .. } = other.to_engine.last().unwrap() else {
        panic!("the engine is reconfigured")
    };
    assert_eq!(peer_id, "secure-p2p-multichat-alice");
    assert_eq!(token.as_deref(), records["account"]["token"].as_str());
    let shown = view(&other);
    assert_eq!(shown.account.unwrap().username, "alice");
    assert!(shown.storage_problems.is_empty(), "{:?}", shown.storage_problems);
    other.request(Request::SelectRoom { room: Some(view(&alice).rooms[0].id.clone()) }, Millis(2_004));
    let texts: Vec<String> = view(&other).open_room.unwrap().messages.into_iter().map(|it| it.text).collect();
    assert_eq!(texts, ["exported hello", "exported reply"]);
}

/// Alice and bob signed in, with a direct room between them open on alice's side and one link up.
pub(crate) fn chatting() -> (Profile, Profile, String) {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::OpenDirect { username: "bob".into() }, Millis(10));
    // Bob opened the conversation too, so alice's first message is no message request.
    bob.request(Request::OpenDirect { username: "alice".into() }, Millis(11));
    bob.to_engine.clear();
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let room = view(&alice).open_room.unwrap().room.id;
    (alice, bob, room)
}

fn texts(profile: &Profile) -> Vec<String> {
    view(profile).open_room.map(|it| it.messages.into_iter().map(|it| it.text).collect()).unwrap_or_default()
}

fn error(response: Response) -> String {
    match response {
        Response::Error { message } => message.english(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_frame_is_stored_before_its_acknowledgement_leaves_and_no_view_is_built_for_it() {
    let (mut alice, mut bob, room) = chatting();
    alice.request(Request::SendText { room, text: "store me first".into() }, Millis(30));
    let frames: Vec<_> = alice
        .to_engine
        .drain(..)
        .filter_map(|it| match it {
            WorkerToEngine::Send { frame, .. } => Some(frame),
            _ => None,
        })
        .collect();
    assert!(!frames.is_empty());
    let mut effects = Vec::new();
    for frame in frames {
        bob.model.handle_engine(EngineToWorker::Frame { link: "dc_1".into(), frame }, Millis(31), [77; 32]);
        while let Some(effect) = bob.model.poll_effect() {
            effects.push(effect);
        }
    }
    use multichat_core::worker::Effect;
    let stored = effects
        .iter()
        .position(|it| matches!(it, Effect::Write(writes) if format!("{writes:?}").contains("store me first")))
        .expect("the message is stored");
    let sent = effects.iter().position(|it| matches!(it, Effect::Engine(WorkerToEngine::Send { .. })));
    assert!(sent.is_some_and(|sent| sent > stored), "an acknowledgement after the write: {effects:?}");
    assert!(!effects.iter().any(|it| matches!(it, Effect::Reply(_))), "an engine report has no reply");
    assert_eq!(effects.iter().filter(|it| matches!(it, Effect::ViewChanged)).count(), 1, "one view update per report");
}

#[test]
fn a_request_is_answered_once_after_its_writes_and_before_its_engine_commands() {
    use multichat_core::worker::Effect;
    let mut alice = signed_in("alice", 1);
    alice.model.handle(Request::OpenDirect { username: "bob".into() }, Millis(10), [3; 32]);
    let effects: Vec<Effect> = std::iter::from_fn(|| alice.model.poll_effect()).collect();
    let reply = effects.iter().position(|it| matches!(it, Effect::Reply(Response::View { .. }))).expect("a reply");
    assert_eq!(effects.iter().filter(|it| matches!(it, Effect::Reply(_))).count(), 1);
    assert!(effects[..reply].iter().all(|it| matches!(it, Effect::Write(_))), "{effects:?}");
    assert!(effects[reply..].iter().any(|it| matches!(it, Effect::Engine(WorkerToEngine::Dial { .. }))));
    let refused = {
        alice.model.handle(Request::SendText { room: "nowhere".into(), text: "x".into() }, Millis(11), [4; 32]);
        std::iter::from_fn(|| alice.model.poll_effect()).collect::<Vec<_>>()
    };
    assert_eq!(
        refused,
        vec![Effect::Reply(Response::Error { message: multichat_core::bridge::Code::NoSuchRoom.into() })],
        "a refusal queues nothing else"
    );
}

const PASSPHRASE: &str = "correct horse battery";

#[test]
fn a_passphrase_seals_the_history_and_only_the_right_one_opens_it() {
    let (mut alice, mut bob, room) = chatting();
    alice.request(Request::SendText { room: room.clone(), text: "meet me at the old mill".into() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let stored = |profile: &Profile| profile.disk.0.values().any(|it| it.to_string().contains("old mill"));
    assert!(stored(&alice));

    let refused = alice.request(Request::SetPassphrase { passphrase: "short".into() }, Millis(40));
    assert_eq!(error(refused), "A passphrase needs at least 8 characters");
    assert!(
        matches!(alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(41)), Response::View { view } if view.passphrase_set && !view.locked)
    );
    assert!(!stored(&alice), "no history in the clear once a passphrase is set");
    assert!(alice.disk.0.contains_key("lock"));
    assert!(alice.session.0.contains_key(multichat_core::worker::SESSION_KEY), "the key is kept for the session");
    assert_eq!(texts(&alice), ["meet me at the old mill"]);
    let again = alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(42));
    assert!(error(again).contains("already protected"));

    // New messages are sealed too.
    alice.request(Request::SendText { room: room.clone(), text: "bring the map".into() }, Millis(43));
    assert!(!alice.disk.0.values().any(|it| it.to_string().contains("bring the map")));

    // A worker restart in the same browser session finds the key; a new session does not.
    alice.restart(Millis(50));
    assert!(!view(&alice).locked);
    assert_eq!(texts(&alice), ["meet me at the old mill", "bring the map"]);
    alice.restart_browser(Millis(60));
    let locked = view(&alice);
    assert!(locked.locked && locked.rooms.is_empty() && locked.open_room.is_none());
    assert_eq!(alice.model.engine_config(), WorkerToEngine::Shutdown, "the engine stays off while locked");
    let refused = alice.request(Request::SendText { room: room.clone(), text: "x".into() }, Millis(61));
    assert_eq!(error(refused), "multichat is locked; enter your passphrase");
    let before = alice.disk.clone();
    let wrong = alice.request(Request::Unlock { passphrase: "wrong horse battery".into() }, Millis(62));
    assert_eq!(error(wrong), "That passphrase is not right");
    assert_eq!(alice.disk, before, "a wrong passphrase changes nothing");
    assert!(!alice.session.0.contains_key(multichat_core::worker::SESSION_KEY));

    alice.to_engine.clear();
    let unlocked = alice.request(Request::Unlock { passphrase: PASSPHRASE.into() }, Millis(63));
    assert!(matches!(unlocked, Response::View { view } if !view.locked && view.rooms.len() == 1));
    assert_eq!(texts(&alice), ["meet me at the old mill", "bring the map"]);
    assert!(
        matches!(alice.to_engine.last(), Some(WorkerToEngine::Configure { .. })),
        "the engine starts once unlocked: {:?}",
        alice.to_engine
    );
}

#[test]
fn a_changed_passphrase_refuses_the_old_one_and_a_removed_one_stores_history_in_the_clear() {
    let (mut alice, _bob, room) = chatting();
    alice.request(Request::SendText { room, text: "meet me at the old mill".into() }, Millis(30));
    alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(31));
    let wrong =
        alice.request(Request::ChangePassphrase { old: "not it at all".into(), new: "a new one!".into() }, Millis(32));
    assert_eq!(error(wrong), "That passphrase is not right");
    let changed =
        alice.request(Request::ChangePassphrase { old: PASSPHRASE.into(), new: "tr0ub4dor & 3".into() }, Millis(33));
    assert!(matches!(&changed, Response::View { view } if !view.locked), "{changed:?}");
    assert_eq!(texts(&alice), ["meet me at the old mill"]);

    alice.restart_browser(Millis(40));
    let old = alice.request(Request::Unlock { passphrase: PASSPHRASE.into() }, Millis(41));
    assert_eq!(error(old), "That passphrase is not right");
    alice.request(Request::Unlock { passphrase: "tr0ub4dor & 3".into() }, Millis(42));
    assert_eq!(texts(&alice), ["meet me at the old mill"]);

    let wrong = alice.request(Request::RemovePassphrase { passphrase: PASSPHRASE.into() }, Millis(43));
    assert_eq!(error(wrong), "That passphrase is not right");
    let removed = alice.request(Request::RemovePassphrase { passphrase: "tr0ub4dor & 3".into() }, Millis(44));
    assert!(matches!(&removed, Response::View { view } if !view.passphrase_set && !view.locked), "{removed:?}");
    assert!(!alice.disk.0.contains_key("lock"));
    assert!(alice.disk.0.values().any(|it| it.to_string().contains("old mill")), "in the clear again");
    alice.restart_browser(Millis(50));
    assert!(!view(&alice).locked);
    assert_eq!(texts(&alice), ["meet me at the old mill"]);
    let unset = alice.request(Request::RemovePassphrase { passphrase: "tr0ub4dor & 3".into() }, Millis(51));
    assert_eq!(error(unset), "Your history is not protected by a passphrase");
}

#[test]
fn lock_now_forgets_the_key_and_stops_the_engine() {
    let (mut alice, _bob, room) = chatting();
    alice.request(Request::SendText { room, text: "meet me at the old mill".into() }, Millis(30));
    let unset = alice.request(Request::LockNow, Millis(31));
    assert_eq!(error(unset), "Your history is not protected by a passphrase");
    alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(32));
    alice.to_engine.clear();
    let locked = alice.request(Request::LockNow, Millis(33));
    assert!(matches!(&locked, Response::View { view } if view.locked && view.rooms.is_empty()), "{locked:?}");
    assert!(!alice.session.0.contains_key(multichat_core::worker::SESSION_KEY), "the session's key is forgotten");
    assert_eq!(alice.to_engine.last(), Some(&WorkerToEngine::Shutdown));
    alice.restart(Millis(40));
    assert!(view(&alice).locked, "still locked after a worker restart");
    alice.request(Request::Unlock { passphrase: PASSPHRASE.into() }, Millis(41));
    assert_eq!(texts(&alice), ["meet me at the old mill"]);
}

#[test]
fn a_damaged_lock_keeps_the_history_locked_and_is_never_overwritten() {
    let (mut alice, _bob, room) = chatting();
    alice.request(Request::SendText { room, text: "meet me at the old mill".into() }, Millis(30));
    alice.request(Request::SetPassphrase { passphrase: PASSPHRASE.into() }, Millis(31));
    let damaged = serde_json::json!({"v": 1, "salt": 7});
    alice.disk.0.insert("lock".into(), damaged.clone());
    alice.restart(Millis(40));
    let shown = view(&alice);
    assert!(shown.locked && shown.passphrase_set && shown.rooms.is_empty());
    assert!(shown.storage_problems.iter().any(|it| it.english().contains("passphrase record is damaged")), "{shown:?}");
    let before = alice.disk.clone();
    for request in [
        Request::Unlock { passphrase: PASSPHRASE.into() },
        Request::SetPassphrase { passphrase: PASSPHRASE.into() },
        Request::ChangePassphrase { old: PASSPHRASE.into(), new: "another one".into() },
        Request::RemovePassphrase { passphrase: PASSPHRASE.into() },
        Request::LockNow,
    ] {
        let refused = alice.request(request, Millis(41));
        assert!(error(refused).contains("passphrase record is damaged"));
    }
    let refused = alice.request(Request::OpenDirect { username: "carol".into() }, Millis(42));
    assert_eq!(error(refused), "multichat is locked; enter your passphrase");
    assert_eq!(alice.disk, before, "nothing was written over the damaged lock or the sealed history");
    assert_eq!(alice.model.engine_config(), WorkerToEngine::Shutdown);
}

#[test]
fn a_damaged_history_page_is_reported_after_a_restart_and_the_rest_loads() {
    let mut mo = MemShell::seeded(3);
    mo.request(Request::SignIn { username: "mo".into() }, Millis(1));
    mo.request(Request::OpenDirect { username: "ned".into() }, Millis(2));
    let room = view(&mo).open_room.expect("the conversation is open").room.id;
    for i in 0..200 {
        mo.request(Request::SendText { room: room.clone(), text: format!("line {i}") }, Millis(10 + i));
    }
    let page = format!("h/mo/{room}/0");
    assert!(mo.disk.0.contains_key(&page), "200 messages fill more than one page");
    mo.disk.0.insert(page.clone(), serde_json::json!("{not a page"));
    mo.restart(Millis(1_000));
    mo.request(Request::GetView, Millis(1_001));
    let shown = view(&mo);
    assert!(
        shown
            .storage_problems
            .iter()
            .any(|it| it.english().contains("Part 0 of the history") && it.english().contains("damaged")),
        "the damaged page is reported: {:?}",
        shown.storage_problems
    );
    let texts: Vec<String> = shown.open_room.expect("still open").messages.iter().map(|it| it.text.clone()).collect();
    assert!(texts.contains(&"line 199".to_owned()), "the rest of the history loads");
    assert_eq!(mo.disk.0[&page], serde_json::json!("{not a page"), "the damaged record is left as it was");
}

#[test]
fn an_invitation_waits_for_the_invitee_and_signed_messages_show_as_verified() {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::CreateGroup { name: "Friends\u{202e}".into() }, Millis(10));
    let room = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::Invite { room: room.clone(), username: "bob".into() }, Millis(11));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    let waiting = view(&bob);
    assert_eq!(waiting.invitations.len(), 1, "{:?}", waiting.invitations);
    assert_eq!((waiting.invitations[0].inviter.as_str(), waiting.invitations[0].name.as_str()), ("alice", "Friends"));
    assert!(!waiting.rooms.iter().any(|it| it.id == room), "nothing is joined before bob accepts");
    assert!(
        bob.notified.iter().any(|it| it.text.english().contains("alice invites you to Friends")),
        "{:?}",
        bob.notified
    );
    bob.request(Request::AcceptInvitation { room: room.clone() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let joined = view(&bob);
    assert!(joined.invitations.is_empty());
    let group = joined.rooms.iter().find(|it| it.id == room).expect("joined once accepted");
    assert!(group.is_group && group.direct_with.is_none() && group.title == "Friends");
    alice.request(Request::SendText { room: room.clone(), text: "hello friends".into() }, Millis(40));
    pump(&mut alice, &mut bob, "dc_1", Millis(41));
    let arrival = bob.notified.iter().find(|it| it.text.english() == "hello friends").expect("notified");
    assert_eq!(arrival.notification_id, format!("multichat-{room}"), "by room id, never by title");
    bob.request(Request::SelectRoom { room: Some(room.clone()) }, Millis(42));
    let message = view(&bob).open_room.unwrap().messages.into_iter().find(|it| it.text == "hello friends").unwrap();
    assert!(message.verified, "signed by alice and checked against the key her link proved");
    assert_eq!(message.introduced_by, None);
}

#[test]
fn a_declined_invitation_joins_nothing() {
    let mut alice = signed_in("alice", 1);
    let mut bob = signed_in("bob", 50);
    alice.request(Request::CreateGroup { name: "Trap".into() }, Millis(10));
    let room = view(&alice).open_room.unwrap().room.id;
    alice.request(Request::Invite { room: room.clone(), username: "bob".into() }, Millis(11));
    connect(&mut alice, &mut bob, "dc_1", Millis(20));
    bob.request(Request::DeclineInvitation { room: room.clone() }, Millis(30));
    pump(&mut alice, &mut bob, "dc_1", Millis(31));
    let after = view(&bob);
    assert!(after.invitations.is_empty());
    assert!(!after.rooms.iter().any(|it| it.id == room));
    alice.request(Request::SendText { room, text: "you are in".into() }, Millis(40));
    pump(&mut alice, &mut bob, "dc_1", Millis(41));
    assert!(!bob.disk.0.values().any(|it| it.to_string().contains("you are in")));
}
