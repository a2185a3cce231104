//! One `RTCPeerConnection` with one `RTCDataChannel`, which is what a PeerJS data connection is.
//!
//! [`RtcLink::dial`] creates the channel and an offer; [`RtcLink::answer`] applies a remote offer and
//! creates the answer. Both report through [`RtcEvent`]s. Remote candidates that arrive before the remote
//! description is set wait here, because `addIceCandidate` fails without one. Sending goes through a
//! bounded [`SendQueue`]: past its high water in the channel's buffer messages wait for `bufferedamountlow`,
//! and a link that would hold more than [`MAX_LINK_QUEUED_BYTES`] refuses the send ([`SendError::Full`]), so
//! its host closes it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use multichat_core::peerjs::signal::SessionDescription;
use multichat_core::peerjs::{ChannelMessage, IceState};
pub use multichat_core::send_queue::MAX_LINK_QUEUED_BYTES;
use multichat_core::send_queue::{CHANNEL_LOW_WATER_BYTES, SendLimits, SendQueue, SendQueueError};
use multichat_core::settings::{IceServer, IceTransportPolicy};
use serde_json::Value;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    Event, MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelInit, RtcDataChannelType,
    RtcIceCandidateInit, RtcIceConnectionState, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit,
};

use crate::{ShellError, convert};

/// Why a send was not taken.
#[derive(Debug)]
pub enum SendError {
    /// The channel refused the message.
    Refused(ShellError),
    /// The link would hold more than its bound ([`SendQueueError::Full`]), or overflowed before
    /// ([`SendQueueError::Closed`]): close it.
    Full(SendQueueError),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Refused(err) => err.fmt(f),
            SendError::Full(err) => err.fmt(f),
        }
    }
}

#[derive(Debug)]
pub enum RtcEvent {
    LocalDescription(SessionDescription),
    LocalCandidate(Value),
    ChannelOpen,
    Message(ChannelMessage),
    ChannelClosed,
    Ice(IceState),
    Error(String),
}

type Report = Rc<dyn Fn(RtcEvent)>;

struct Inner {
    pc: RtcPeerConnection,
    channel: RefCell<Option<RtcDataChannel>>,
    report: Report,
    closed: Cell<bool>,
    remote_set: Cell<bool>,
    early_candidates: RefCell<Vec<Value>>,
    outbox: RefCell<SendQueue>,
    closures: RefCell<Vec<Box<dyn std::any::Any>>>,
}

pub struct RtcLink(Rc<Inner>);

impl RtcLink {
    /// The dialing side: creates the data channel and the offer.
    pub fn dial(
        ice_servers: &[IceServer],
        policy: IceTransportPolicy,
        label: &str,
        ordered: bool,
        report: impl Fn(RtcEvent) + 'static,
    ) -> Result<RtcLink, ShellError> {
        let link = RtcLink::new(ice_servers, policy, Rc::new(report))?;
        let init = RtcDataChannelInit::new();
        init.set_ordered(ordered);
        let channel = link.0.pc.create_data_channel_with_data_channel_dict(label, &init);
        Inner::attach_channel(&link.0, channel);
        let inner = link.0.clone();
        spawn_local(async move {
            let result = async {
                let offer = JsFuture::from(inner.pc.create_offer())
                    .await
                    .map_err(|err| ShellError::from_js("createOffer", &err))?;
                inner.set_local(offer.unchecked_into()).await
            };
            if let Err(err) = result.await {
                inner.emit(RtcEvent::Error(err.to_string()));
            }
        });
        Ok(link)
    }

    /// The answering side: applies the remote offer, creates the answer, and waits for the channel.
    pub fn answer(
        ice_servers: &[IceServer],
        policy: IceTransportPolicy,
        offer: &SessionDescription,
        report: impl Fn(RtcEvent) + 'static,
    ) -> Result<RtcLink, ShellError> {
        let link = RtcLink::new(ice_servers, policy, Rc::new(report))?;
        let weak = Rc::downgrade(&link.0);
        let on_channel = Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |event: RtcDataChannelEvent| {
            if let Some(inner) = weak.upgrade() {
                Inner::attach_channel(&inner, event.channel());
            }
        });
        link.0.pc.set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        link.0.keep(on_channel);
        let inner = link.0.clone();
        let offer = description_init(offer, RtcSdpType::Offer);
        spawn_local(async move {
            let result = async {
                inner.set_remote(&offer).await?;
                let answer = JsFuture::from(inner.pc.create_answer())
                    .await
                    .map_err(|err| ShellError::from_js("createAnswer", &err))?;
                inner.set_local(answer.unchecked_into()).await
            };
            if let Err(err) = result.await {
                inner.emit(RtcEvent::Error(err.to_string()));
            }
        });
        Ok(link)
    }

    fn new(ice_servers: &[IceServer], policy: IceTransportPolicy, report: Report) -> Result<RtcLink, ShellError> {
        let config = serde_json::json!({ "iceServers": ice_servers, "iceTransportPolicy": policy });
        let config: RtcConfiguration = convert::to_js(&config)?.unchecked_into();
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(|err| ShellError::from_js("new RTCPeerConnection", &err))?;
        let inner = Rc::new(Inner {
            pc,
            channel: RefCell::new(None),
            report,
            closed: Cell::new(false),
            remote_set: Cell::new(false),
            early_candidates: RefCell::new(Vec::new()),
            outbox: RefCell::new(SendQueue::new(SendLimits::LINK)),
            closures: RefCell::new(Vec::new()),
        });
        let weak = Rc::downgrade(&inner);
        let on_candidate =
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(move |event: RtcPeerConnectionIceEvent| {
                // The end-of-candidates event (null) is not sent, as in PeerJS.
                let (Some(inner), Some(candidate)) = (weak.upgrade(), event.candidate()) else { return };
                match convert::from_js::<Value>(candidate.to_json().into()) {
                    Ok(value) => inner.emit(RtcEvent::LocalCandidate(value)),
                    Err(err) => inner.emit(RtcEvent::Error(err.to_string())),
                }
            });
        inner.pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        inner.keep(on_candidate);
        let weak = Rc::downgrade(&inner);
        let on_state = Closure::<dyn FnMut(Event)>::new(move |_| {
            let Some(inner) = weak.upgrade() else { return };
            let failed = inner.pc.connection_state() == RtcPeerConnectionState::Failed;
            let state = match inner.pc.ice_connection_state() {
                _ if failed => IceState::Failed,
                RtcIceConnectionState::Failed | RtcIceConnectionState::Closed => IceState::Failed,
                RtcIceConnectionState::Disconnected => IceState::Disconnected,
                _ => IceState::Working,
            };
            inner.emit(RtcEvent::Ice(state));
        });
        inner.pc.set_oniceconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        inner.pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        inner.keep(on_state);
        Ok(RtcLink(inner))
    }

    /// The dialer applies the answer.
    pub fn set_remote_answer(&self, answer: &SessionDescription) {
        let inner = self.0.clone();
        let answer = description_init(answer, RtcSdpType::Answer);
        spawn_local(async move {
            if let Err(err) = inner.set_remote(&answer).await {
                inner.emit(RtcEvent::Error(err.to_string()));
            }
        });
    }

    pub fn add_remote_candidate(&self, candidate: Value) {
        if self.0.remote_set.get() {
            Inner::add_candidate(&self.0, candidate);
        } else {
            self.0.early_candidates.borrow_mut().push(candidate);
        }
    }

    /// Sends now, or after the buffer drains. Errors when the channel refuses the message, or when the link
    /// would hold more than its bound (then nothing more is sent: close the link).
    pub fn send(&self, message: ChannelMessage) -> Result<(), SendError> {
        let buffered = self.0.channel_buffered();
        self.0.outbox.borrow_mut().push(message, buffered).map_err(SendError::Full)?;
        self.0.flush().map_err(SendError::Refused)
    }

    /// Bytes waiting in the channel and in our own queue.
    pub fn buffered_bytes(&self) -> u64 {
        self.0.channel_buffered() + self.0.outbox.borrow().waiting_bytes()
    }

    /// The most this link held unsent at once (channel and queue), as seen at each send.
    pub fn peak_bytes(&self) -> u64 {
        self.0.outbox.borrow().peak_bytes()
    }
}

impl Drop for RtcLink {
    fn drop(&mut self) {
        let inner = &self.0;
        inner.closed.set(true);
        if let Some(channel) = inner.channel.borrow().as_ref() {
            channel.set_onopen(None);
            channel.set_onmessage(None);
            channel.set_onclose(None);
            channel.set_onbufferedamountlow(None);
            channel.close();
        }
        inner.pc.set_onicecandidate(None);
        inner.pc.set_oniceconnectionstatechange(None);
        inner.pc.set_onconnectionstatechange(None);
        inner.pc.set_ondatachannel(None);
        inner.pc.close();
    }
}

impl Inner {
    fn channel_buffered(&self) -> u64 {
        self.channel.borrow().as_ref().map_or(0, |it| u64::from(it.buffered_amount()))
    }

    fn emit(&self, event: RtcEvent) {
        if !self.closed.get() {
            (self.report)(event);
        }
    }

    fn keep<T: 'static>(&self, closure: T) {
        self.closures.borrow_mut().push(Box::new(closure));
    }

    fn attach_channel(inner: &Rc<Inner>, channel: RtcDataChannel) {
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        channel.set_buffered_amount_low_threshold(CHANNEL_LOW_WATER_BYTES as u32);
        let weak = Rc::downgrade(inner);
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.emit(RtcEvent::ChannelOpen);
            }
        });
        let weak = Rc::downgrade(inner);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let data = event.data();
            let message = match data.as_string() {
                Some(text) => ChannelMessage::Text(text),
                None => ChannelMessage::Binary(js_sys::Uint8Array::new(&data).to_vec()),
            };
            inner.emit(RtcEvent::Message(message));
        });
        let weak = Rc::downgrade(inner);
        let on_close = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.emit(RtcEvent::ChannelClosed);
            }
        });
        let weak = Rc::downgrade(inner);
        let on_low = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade()
                && let Err(err) = inner.flush()
            {
                inner.emit(RtcEvent::Error(err.to_string()));
            }
        });
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        channel.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        inner.keep(on_open);
        inner.keep(on_message);
        inner.keep(on_close);
        inner.keep(on_low);
        *inner.channel.borrow_mut() = Some(channel);
    }

    async fn set_local(&self, description: RtcSessionDescriptionInit) -> Result<(), ShellError> {
        JsFuture::from(self.pc.set_local_description(&description))
            .await
            .map_err(|err| ShellError::from_js("setLocalDescription", &err))?;
        let local = self
            .pc
            .local_description()
            .ok_or_else(|| ShellError::new("localDescription", "missing after it was set"))?;
        let kind = if local.type_() == RtcSdpType::Offer { "offer" } else { "answer" };
        self.emit(RtcEvent::LocalDescription(SessionDescription { sdp: local.sdp(), kind: kind.to_owned() }));
        Ok(())
    }

    async fn set_remote(self: &Rc<Self>, description: &RtcSessionDescriptionInit) -> Result<(), ShellError> {
        JsFuture::from(self.pc.set_remote_description(description))
            .await
            .map_err(|err| ShellError::from_js("setRemoteDescription", &err))?;
        self.remote_set.set(true);
        let early: Vec<Value> = self.early_candidates.borrow_mut().drain(..).collect();
        for candidate in early {
            Inner::add_candidate(self, candidate);
        }
        Ok(())
    }

    fn add_candidate(inner: &Rc<Inner>, candidate: Value) {
        let inner = inner.clone();
        spawn_local(async move {
            let result = async {
                let init: RtcIceCandidateInit = convert::to_js(&candidate)?.unchecked_into();
                JsFuture::from(inner.pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await
                    .map_err(|err| ShellError::from_js("addIceCandidate", &err))
            };
            // A bad candidate from a peer costs that candidate only; others may still work.
            if let Err(err) = result.await {
                web_sys::console::warn_1(&JsValue::from_str(&format!(
                    "multichat: ignored a remote ICE candidate: {err}"
                )));
            }
        });
    }

    fn flush(&self) -> Result<(), ShellError> {
        let channel = self.channel.borrow();
        let Some(channel) = channel.as_ref() else { return Ok(()) };
        loop {
            let next = self.outbox.borrow_mut().next(u64::from(channel.buffered_amount()));
            let Some(message) = next else { break };
            let sent = match &message {
                ChannelMessage::Text(text) => channel.send_with_str(text),
                ChannelMessage::Binary(bytes) => channel.send_with_u8_array(bytes),
            };
            sent.map_err(|err| ShellError::from_js("RTCDataChannel.send", &err))?;
        }
        Ok(())
    }
}

fn description_init(description: &SessionDescription, kind: RtcSdpType) -> RtcSessionDescriptionInit {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(&description.sdp);
    init
}
