//! A WebSocket carrying text frames, reported as [`SocketEvent`]s.
//!
//! Closing a [`Socket`] detaches its handlers first, so a socket we gave up on can never report into the
//! state of its successor.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::ShellError;

#[derive(Debug, PartialEq)]
pub enum SocketEvent {
    Opened,
    Text(String),
    /// Closed by either side, or failed to open.
    Closed,
}

pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url`; `on_event` hears about it until [`Socket::close`] or drop.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Socket, ShellError> {
        let ws = WebSocket::new(url).map_err(|err| ShellError::from_js("new WebSocket", &err))?;
        let on_event = std::rc::Rc::new(on_event);
        let report = on_event.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| report(SocketEvent::Opened));
        let report = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // The PeerJS server only sends text; anything else is not a signaling frame.
            if let Some(text) = event.data().as_string() {
                report(SocketEvent::Text(text));
            }
        });
        let report = on_event;
        // `error` is always followed by `close`, so `close` alone reports the end.
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_| report(SocketEvent::Closed));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    pub fn send(&self, text: &str) -> Result<(), ShellError> {
        self.ws.send_with_str(text).map_err(|err| ShellError::from_js("WebSocket.send", &err))
    }

    fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.detach();
        let _ = self.ws.close();
    }
}
