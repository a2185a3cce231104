//! The bridge frames cross `chrome.runtime` as JSON: their shape is a contract between popup and worker.

use multichat_core::bridge::{Code, EngineStatus, PopupToWorker, Request, Response, WorkerToPopup};
use serde_json::json;

#[test]
fn request_frames_have_a_stable_shape() {
    let frame = PopupToWorker { id: 7, request: Request::SignIn { username: "alice".into() } };
    assert_eq!(
        serde_json::to_value(&frame).unwrap(),
        json!({"id": 7, "request": {"kind": "sign_in", "username": "alice"}})
    );
    let export = PopupToWorker { id: 8, request: Request::ExportData };
    assert_eq!(serde_json::to_value(&export).unwrap(), json!({"id": 8, "request": {"kind": "export_data"}}));
}

#[test]
fn every_worker_frame_round_trips_through_json() {
    let frames = [
        WorkerToPopup::Reply { id: 1, response: Response::View { view: Box::default() } },
        WorkerToPopup::Reply {
            id: 2,
            response: Response::Error { message: multichat_core::bridge::Code::NotSignedIn.into() },
        },
        WorkerToPopup::Reply {
            id: 3,
            response: Response::Export {
                file_name: "multichat-export-a-2026-01-01.json".into(),
                json: "{\"records\":{}}".into(),
            },
        },
        WorkerToPopup::Update { view: Box::default() },
    ];
    for frame in frames {
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(serde_json::from_str::<WorkerToPopup>(&text).unwrap(), frame);
    }
}

#[test]
fn unknown_requests_are_an_error_not_a_panic() {
    let res = serde_json::from_value::<PopupToWorker>(json!({"id": 1, "request": {"kind": "format_disk"}}));
    assert!(res.is_err());
}

/// The popup reads worker frames through a flat mirror of this shape (`popup/src/bridge.rs`, `WireFrame`):
/// the tag first, then the variant's fields beside it.
#[test]
fn worker_frames_have_the_shape_the_popup_reads() {
    let reply = WorkerToPopup::Reply { id: 9, response: Response::Error { message: Code::NotSignedIn.into() } };
    assert_eq!(
        serde_json::to_value(&reply).unwrap(),
        json!({"frame": "reply", "id": 9, "response": {"kind": "error", "message": {"code": "w_not_signed_in"}}})
    );
    let file = Response::File { name: "a.png".into(), mime: "image/png".into(), data: "AA==".into() };
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({"kind": "file", "name": "a.png", "mime": "image/png", "data": "AA=="})
    );
    let export = Response::Export { file_name: "f.json".into(), json: "{}".into() };
    assert_eq!(serde_json::to_value(&export).unwrap(), json!({"kind": "export", "file_name": "f.json", "json": "{}"}));
    let update = serde_json::to_value(WorkerToPopup::Update { view: Box::default() }).unwrap();
    assert_eq!(update["frame"], "update");
    assert!(update["view"].is_object());
    let view = serde_json::to_value(Response::View { view: Box::default() }).unwrap();
    assert_eq!(view["kind"], "view");
    assert!(view["view"].is_object());
    let search = serde_json::to_value(Response::Search { results: Default::default() }).unwrap();
    assert_eq!(search["kind"], "search");
    assert!(search["results"].is_object());
}

/// The engine's status is externally tagged, so the popup reads a view without serde buffering it.
#[test]
fn engine_status_is_externally_tagged() {
    assert_eq!(serde_json::to_value(EngineStatus::Online).unwrap(), json!("online"));
    let failed = EngineStatus::Failed { message: Code::TestIdTaken.into() };
    assert_eq!(serde_json::to_value(&failed).unwrap(), json!({"failed": {"message": {"code": "w_test_id_taken"}}}));
    let back: EngineStatus =
        serde_json::from_value(json!({"reconnecting": {"attempt": 2, "message": {"code": "w_connection_closed"}}}))
            .unwrap();
    assert_eq!(back, EngineStatus::Reconnecting { attempt: 2, message: Code::ConnectionClosed.into() });
    let view = serde_json::to_value(multichat_core::bridge::View::default()).unwrap();
    assert_eq!(view["engine"], "offline");
}

/// A file chunk's bytes pass as bytes (a `Uint8Array` where structured clone carries them), and where only
/// JSON passes (a `chrome.runtime` message) as an array of numbers, read back the same; a chunk that is not
/// bytes is refused, not guessed at.
#[test]
fn file_chunk_bytes_round_trip_where_only_json_passes() {
    use multichat_core::bridge::{EngineToWorker, WorkerToEngine};
    let data: Vec<u8> = (0..=255u8).chain([0, 255]).collect();
    let command = WorkerToEngine::SendChunk { link: "c1".into(), data: data.clone() };
    let text = serde_json::to_value(&command).unwrap();
    assert_eq!(text["data"].as_array().map(Vec::len), Some(data.len()));
    assert_eq!(serde_json::from_value::<WorkerToEngine>(text).unwrap(), command);
    let report = EngineToWorker::Chunk { link: "c1".into(), data };
    let text = serde_json::to_string(&report).unwrap();
    assert_eq!(serde_json::from_str::<EngineToWorker>(&text).unwrap(), report);
    let not_bytes = json!({"kind": "chunk", "link": "c1", "data": [1, 300]});
    assert!(serde_json::from_value::<EngineToWorker>(not_bytes).is_err());
}
