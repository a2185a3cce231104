//! The popup's end of the bridge: one port to the worker, requests matched to replies by id.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use multichat_core::bridge::{POPUP_PORT_NAME, PopupToWorker, Request, Response, View, WorkerToPopup};
use multichat_web::chrome::{self, Port};
use multichat_web::{ShellError, convert};

type Waiter = Box<dyn FnOnce(Response)>;

/// A connected bridge. Cloning shares the same port.
#[derive(Clone)]
pub(crate) struct Bridge {
    port: Port,
    inner: Rc<RefCell<Pending>>,
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    waiters: HashMap<u64, Waiter>,
}

impl Bridge {
    /// Connects to the worker; `on_update` receives every view the worker pushes, and `on_gone` is called
    /// if the worker end of the port disconnects.
    pub(crate) fn connect(
        mut on_update: impl FnMut(View) + 'static,
        on_gone: impl FnOnce() + 'static,
    ) -> Result<Bridge, ShellError> {
        let port = chrome::connect(POPUP_PORT_NAME)?;
        let inner: Rc<RefCell<Pending>> = Rc::default();
        let frame_inner = inner.clone();
        port.on_frame(move |value| match convert::from_js::<WorkerToPopup>(value) {
            Ok(WorkerToPopup::Reply { id, response }) => {
                let waiter = frame_inner.borrow_mut().waiters.remove(&id);
                if let Some(waiter) = waiter {
                    waiter(response);
                }
            }
            Ok(WorkerToPopup::Update { view }) => on_update(*view),
            Err(err) => web_sys::console::warn_1(&format!("multichat: malformed worker frame: {err}").into()),
        });
        port.on_gone(on_gone);
        Ok(Bridge { port, inner })
    }

    /// Sends `request`; `on_reply` runs with the worker's response.
    pub(crate) fn send(&self, request: Request, on_reply: impl FnOnce(Response) + 'static) -> Result<(), ShellError> {
        let id = {
            let mut pending = self.inner.borrow_mut();
            pending.next_id += 1;
            let id = pending.next_id;
            pending.waiters.insert(id, Box::new(on_reply));
            id
        };
        let sent = self.port.post(&PopupToWorker { id, request });
        if sent.is_err() {
            self.inner.borrow_mut().waiters.remove(&id);
        }
        sent
    }
}
