//! The bridge frames cross `chrome.runtime` as JSON: their shape is a contract between popup and worker.

use multichat_core::bridge::{PopupToWorker, Request, Response, WorkerToPopup};
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
