//! TURN settings end to end in the worker model: a login and "Relay only" saved, handed to the engine,
//! exported and imported into another install unchanged; and the policy reaching every connection.

use multichat_core::bridge::{Request, Response, WorkerToEngine};
use multichat_core::peerjs::peer::Peer;
use multichat_core::peerjs::peer_io::{DialOptions, Output, PeerConfig};
use multichat_core::settings::{IceServer, IceTransportPolicy, Settings, SignalingServer};
use multichat_core::time::Millis;
use multichat_core::worker::MemShell;

fn turn_settings() -> Settings {
    Settings {
        server: SignalingServer {
            host: "127.0.0.1".into(),
            port: 9000,
            path: "/myapp".into(),
            key: "peerjs".into(),
            secure: false,
        },
        ice_servers: vec![IceServer {
            urls: vec!["turn:127.0.0.1:3478".into()],
            username: Some("u".into()),
            credential: Some("p".into()),
        }],
        relay_only: true,
        notifications: false,
        max_file_bytes: multichat_core::transfer::DEFAULT_MAX_FILE_BYTES,
        typing_indicators: true,
        read_receipts: false,
        hide_notification_text: false,
        ..Settings::default()
    }
}

#[test]
fn a_turn_login_survives_save_restart_export_and_import() {
    let mut alice = MemShell::new();
    alice.request(Request::SignIn { username: "alice".into() }, Millis(1));
    let saved = alice.request(Request::SaveSettings { settings: turn_settings() }, Millis(2));
    assert!(!matches!(saved, Response::Error { .. }), "{saved:?}");
    let Some(WorkerToEngine::Configure { settings, .. }) = alice.to_engine.last() else {
        panic!("the engine is reconfigured")
    };
    assert_eq!(settings, &turn_settings(), "the engine gets the login and the policy");

    alice.restart(Millis(3));
    assert_eq!(alice.view().settings, turn_settings(), "kept across a worker restart");

    let Response::Export { json, .. } = alice.request(Request::ExportData, Millis(4)) else { panic!("an export") };
    let mut other = MemShell::seeded(9);
    other.request(Request::ImportData { json }, Millis(5));
    assert_eq!(other.view().settings, turn_settings(), "imported with its login");
    other.restart(Millis(6));
    assert_eq!(other.view().settings, turn_settings());
}

#[test]
fn an_incomplete_turn_login_is_refused_in_words_and_nothing_is_saved() {
    let mut alice = MemShell::new();
    let mut settings = turn_settings();
    settings.ice_servers[0].credential = None;
    let refused = alice.request(Request::SaveSettings { settings }, Millis(1));
    let Response::Error { message } = refused else { panic!("refused") };
    let message = message.english();
    assert!(message.contains("turn:127.0.0.1:3478 needs both a username and a password"), "{message}");
    assert_eq!(alice.view().settings, Settings::default());

    let relay_without_turn = Settings { relay_only: true, ice_servers: Vec::new(), ..turn_settings() };
    let Response::Error { message } = alice.request(Request::SaveSettings { settings: relay_without_turn }, Millis(2))
    else {
        panic!("refused")
    };
    let message = message.english();
    assert!(message.contains("Relay only needs at least one TURN server"), "{message}");
}

#[test]
fn every_connection_is_created_with_the_configured_policy() {
    let settings = turn_settings();
    let config = PeerConfig {
        id: "alice".into(),
        token: "token-alice".into(),
        server: settings.server.clone(),
        ice_transport_policy: settings.ice_transport_policy(),
        ice_servers: settings.ice_servers.clone(),
        limits: Default::default(),
        rate: Default::default(),
    };
    let mut peer = Peer::new(config, Millis(0)).unwrap();
    peer.connect("bob", DialOptions::default(), b"0123456789", Millis(1)).unwrap();
    let created = std::iter::from_fn(|| peer.poll_output())
        .find_map(|output| match output {
            Output::CreateConnection { ice_servers, ice_transport_policy, .. } => {
                Some((ice_servers, ice_transport_policy))
            }
            _ => None,
        })
        .expect("a connection is created");
    assert_eq!(created, (settings.ice_servers, IceTransportPolicy::Relay));
}
