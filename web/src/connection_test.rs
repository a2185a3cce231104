//! "Test connection" in the Settings form: a WebSocket to the signaling server and an `RTCPeerConnection`
//! that gathers candidates and is closed, both with the form's current values. It runs in the popup page
//! itself, so the running engine is not disturbed. What is said about the result is the core's
//! (`multichat_core::connection_test`).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use multichat_core::connection_test::{CandidateType, ConnectionTest, Signaling};
use multichat_core::peerjs::signal::{random_token, socket_url};
use multichat_core::settings::Settings;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcConfiguration, RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionIceEvent};

use crate::ws::{Socket, SocketEvent};
use crate::{ShellError, convert, random_bytes};

/// How long the test waits for the server's answer and for gathering to complete.
const WAIT_MS: u32 = 8000;
const STEP_MS: u32 = 100;

/// Runs both checks at once and reports when both are settled (or the wait is over).
pub async fn run(settings: &Settings) -> ConnectionTest {
    let first_frame = Rc::new(RefCell::new(None::<Option<String>>));
    let socket = open_socket(settings, first_frame.clone());
    let gathering = Gathering::start(settings);
    let mut waited = 0;
    while waited < WAIT_MS {
        let socket_settled = socket.is_err() || first_frame.borrow().is_some();
        let gathered = gathering.as_ref().map_or(true, Gathering::complete);
        if socket_settled && gathered {
            break;
        }
        TimeoutFuture::new(STEP_MS).await;
        waited += STEP_MS;
    }
    drop(socket);
    let signaling = Signaling::from_first_frame(first_frame.borrow().clone().flatten().as_deref());
    let (gathered, ice_error) = match &gathering {
        Ok(gathering) => (gathering.finish(), gathering.error.borrow().clone()),
        Err(err) => (BTreeSet::new(), Some(err.to_string())),
    };
    ConnectionTest { signaling, gathered, ice_error }
}

/// Records the first text frame (`Some(None)` when the socket closed without one).
fn open_socket(settings: &Settings, first_frame: Rc<RefCell<Option<Option<String>>>>) -> Result<Socket, ShellError> {
    let random = random_bytes::<12>()?;
    let id = format!("multichat-test-{}", random_token(&random[..6]));
    let url = socket_url(&settings.server, &id, &random_token(&random[6..]));
    Socket::open(&url, move |event| {
        let mut first = first_frame.borrow_mut();
        if first.is_some() {
            return;
        }
        match event {
            SocketEvent::Opened => {}
            SocketEvent::Text(text) => *first = Some(Some(text)),
            SocketEvent::Closed => *first = Some(None),
        }
    })
}

struct Gathering {
    pc: RtcPeerConnection,
    found: Rc<RefCell<BTreeSet<CandidateType>>>,
    error: Rc<RefCell<Option<String>>>,
    _on_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
}

impl Gathering {
    /// A connection with the form's ICE servers and policy, a data channel so it has something to gather
    /// for, and an offer set locally (which starts gathering).
    fn start(settings: &Settings) -> Result<Gathering, ShellError> {
        let config = serde_json::json!({
            "iceServers": settings.ice_servers,
            "iceTransportPolicy": settings.ice_transport_policy(),
        });
        let config: RtcConfiguration = convert::to_js(&config)?.unchecked_into();
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(|err| ShellError::from_js("new RTCPeerConnection", &err))?;
        let found = Rc::new(RefCell::new(BTreeSet::new()));
        let sink = found.clone();
        let on_candidate =
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(move |event: RtcPeerConnectionIceEvent| {
                if let Some(kind) = event.candidate().and_then(|it| CandidateType::of_candidate(&it.candidate())) {
                    sink.borrow_mut().insert(kind);
                }
            });
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        pc.create_data_channel("multichat-connection-test");
        let error = Rc::new(RefCell::new(None));
        let gathering = Gathering { pc: pc.clone(), found, error: error.clone(), _on_candidate: on_candidate };
        wasm_bindgen_futures::spawn_local(async move {
            let offered = async {
                let offer = JsFuture::from(pc.create_offer()).await?;
                JsFuture::from(pc.set_local_description(offer.unchecked_ref())).await
            };
            if let Err(err) = offered.await {
                *error.borrow_mut() = Some(ShellError::from_js("createOffer", &err).to_string());
            }
        });
        Ok(gathering)
    }

    fn complete(&self) -> bool {
        self.error.borrow().is_some() || self.pc.ice_gathering_state() == RtcIceGatheringState::Complete
    }

    fn finish(&self) -> BTreeSet<CandidateType> {
        self.pc.set_onicecandidate(None);
        self.pc.close();
        self.found.borrow().clone()
    }
}
