//! The popup's context: its link to the worker, the last refused request's message, and sending requests.
//! Every component reaches it with [`use_ui`]; the root component provides it with [`use_ui_provider`].

use dioxus::prelude::*;
use multichat_core::bridge::{Request, Response, View};

use crate::bridge::Bridge;

/// What the popup knows about its link to the worker.
// One value lives in a signal for the popup's life; boxing the view would add an allocation per update and a
// deref at every use in the screens, for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq)]
pub(crate) enum Link {
    Connecting,
    Ready(View),
    /// The worker could not be reached; the text is for the user.
    Broken(String),
}

#[derive(Clone, Copy)]
pub(crate) struct Ui {
    link: Signal<Link>,
    /// The last refused request's message, shown until the next request.
    error: Signal<Option<String>>,
    bridge: Signal<Option<Bridge>>,
    /// Reconnections since the worker last answered; bounded so a broken worker cannot spin the popup.
    reconnects: Signal<u32>,
}

impl Ui {
    /// The link to the worker; reading it re-renders the caller when it changes.
    pub(crate) fn link(self) -> Link {
        (self.link)()
    }

    /// The last refused request's message; reading it re-renders the caller when it changes.
    pub(crate) fn error(self) -> Option<String> {
        (self.error)()
    }

    pub(crate) fn send(self, request: Request) {
        self.send_or(request, || {});
    }

    /// Sends `request`; `on_refused` runs if the worker refuses it (after its message is shown), so a form
    /// that cleared itself optimistically can give the user their text back.
    pub(crate) fn send_or(mut self, request: Request, on_refused: impl FnOnce() + 'static) {
        self.error.set(None);
        let Some(bridge) = self.bridge.peek().clone() else { return };
        let sent = bridge.send(request, move |response| {
            self.reconnects.set(0);
            match response {
                Response::View { view } => self.link.set(Link::Ready(*view)),
                Response::Error { message } => {
                    self.error.set(Some(message));
                    on_refused();
                }
                Response::Export { file_name, json } => {
                    if let Err(message) = crate::download::save_json(&file_name, &json) {
                        self.error.set(Some(message));
                    }
                }
                // Asked for with `ask`.
                Response::Search { .. } => {}
            }
        });
        if let Err(err) = sent {
            self.link.set(Link::Broken(format!(
                "Lost the connection to multichat's background worker ({err}). Close and reopen the popup."
            )));
        }
    }
}

impl Ui {
    /// Sends `request` and hands the worker's answer to `on_reply`, whatever it is (a search's results).
    pub(crate) fn ask(mut self, request: Request, on_reply: impl FnOnce(Response) + 'static) {
        let Some(bridge) = self.bridge.peek().clone() else { return };
        let sent = bridge.send(request, move |response| {
            self.reconnects.set(0);
            on_reply(response);
        });
        if let Err(err) = sent {
            self.link.set(Link::Broken(format!(
                "Lost the connection to multichat's background worker ({err}). Close and reopen the popup."
            )));
        }
    }
}

pub(crate) fn use_ui() -> Ui {
    use_context::<Ui>()
}

/// Provides the context to the whole popup and connects to the worker. Called once, by the root component.
pub(crate) fn use_ui_provider() -> Ui {
    let link = use_signal(|| Link::Connecting);
    let error = use_signal(|| None::<String>);
    let bridge = use_signal(|| None::<Bridge>);
    let reconnects = use_signal(|| 0);
    let ui = use_context_provider(|| Ui { link, error, bridge, reconnects });
    use_hook(move || connect(ui));
    ui
}

/// Connects to the worker. Chrome stops an idle worker even while a popup is open; connecting again is
/// what wakes it, so a lost port is reconnected at once, a few times in a row at most.
fn connect(mut ui: Ui) {
    const MAX_RECONNECTS: u32 = 3;
    if *ui.reconnects.peek() > MAX_RECONNECTS {
        ui.link
            .set(Link::Broken("multichat's background worker keeps stopping. Close and reopen the popup.".to_owned()));
        return;
    }
    let connected = Bridge::connect(
        move |view| ui.link.set(Link::Ready(view)),
        move || {
            let attempts = *ui.reconnects.peek() + 1;
            ui.reconnects.set(attempts);
            connect(ui);
        },
    );
    match connected {
        Ok(bridge) => {
            ui.bridge.set(Some(bridge));
            ui.send(Request::GetView);
        }
        Err(err) => ui.link.set(Link::Broken(format!("Could not reach multichat's background worker ({err})."))),
    }
}
