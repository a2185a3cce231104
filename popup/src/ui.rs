//! The popup's context: its link to the worker, the last refused request's message (and which control sent
//! the request, so the message shows next to it), and sending requests.
//! Every component reaches it with [`use_ui`]; the root component provides it with [`use_ui_provider`].

use dioxus::prelude::*;
use multichat_core::account::{PEER_ID_PREFIX, Username};
use multichat_core::bridge::{MemberSummary, Phrase, Request, Response, View};

use crate::bridge::Bridge;
use crate::i18n::Tr;

/// What the popup knows about its link to the worker.
// One value lives in a signal for the popup's life; boxing the view would add an allocation per update and a
// deref at every use in the screens, for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq)]
pub(crate) enum Link {
    Connecting,
    Ready(View),
    /// The worker could not be reached: the catalogue key of what to tell the user, and the browser's reason.
    Broken {
        key: &'static str,
        detail: String,
    },
}

/// Where a request came from, so its refusal is shown next to the control that sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// No control of its own: shown at the top of the screen, in sight.
    Top,
    SignIn,
    Start,
    Group,
    Appearance,
    Settings,
    Data,
    Passphrase,
    Unlock,
    Invite,
    Composer,
}

#[derive(Clone, Copy)]
pub(crate) struct Ui {
    link: Signal<Link>,
    /// The last refused request's message and where it came from, shown until the next request.
    error: Signal<Option<(Place, String)>>,
    bridge: Signal<Option<Bridge>>,
    /// Reconnections since the worker last answered; bounded so a broken worker cannot spin the popup.
    reconnects: Signal<u32>,
    /// Bumped to move the focus to "Username to chat with" (the new-conversation shortcut).
    pub(crate) focus_start: Signal<u32>,
    tr: Tr,
}

impl Ui {
    /// The link to the worker; reading it re-renders the caller when it changes.
    pub(crate) fn link(self) -> Link {
        (self.link)()
    }

    /// Whether someone is signed in (and unlocked), and whether a conversation is open, without subscribing.
    pub(crate) fn screen(self) -> (bool, bool) {
        match &*self.link.peek() {
            Link::Ready(view) => (view.account.is_some() && !view.locked, view.open_room.is_some()),
            _ => (false, false),
        }
    }

    /// The last refused request's message if it came from `place`; reading it re-renders the caller.
    pub(crate) fn error_at(self, place: Place) -> Option<String> {
        self.error.read().as_ref().filter(|(at, _)| *at == place).map(|(_, message)| message.clone())
    }

    pub(crate) fn send(self, request: Request) {
        self.send_or(Place::Top, request, || {});
    }

    /// Sends `request` from the control at `place`, where a refusal is shown.
    pub(crate) fn send_at(self, place: Place, request: Request) {
        self.send_or(place, request, || {});
    }

    /// Sends `request`; `on_refused` runs if the worker refuses it (after its message is shown), so a form
    /// that cleared itself optimistically can give the user their text back.
    pub(crate) fn send_or(self, place: Place, request: Request, on_refused: impl FnOnce() + 'static) {
        self.send_then(place, request, move |accepted| {
            if !accepted {
                on_refused();
            }
        });
    }

    /// Sends `request`; `on_answer` runs with whether the worker accepted it, so a form clears what was
    /// typed only once it was accepted.
    pub(crate) fn send_then(mut self, place: Place, request: Request, on_answer: impl FnOnce(bool) + 'static) {
        self.error.set(None);
        let Some(bridge) = self.bridge.peek().clone() else { return };
        let sent = bridge.send(request, move |response| {
            self.reconnects.set(0);
            match response {
                Response::View { view } => {
                    self.link.set(Link::Ready(*view));
                    on_answer(true);
                }
                Response::Error { message } => {
                    self.error.set(Some((place, self.tr.say(&message))));
                    on_answer(false);
                }
                Response::Export { file_name, json } => {
                    if let Err(detail) = crate::download::save_json(&file_name, &json) {
                        self.error.set(Some((Place::Data, self.tr.f("save_failed", &[&detail]))));
                    }
                }
                // Asked for with `ask`.
                Response::Search { .. } | Response::File { .. } => {}
            }
        });
        if let Err(err) = sent {
            self.link.set(Link::Broken { key: "worker_lost", detail: err.to_string() });
        }
    }
}

impl Ui {
    /// The worker's words in the popup's language.
    pub(crate) fn say(self, phrase: &Phrase) -> String {
        self.tr.say(phrase)
    }

    /// Shows `message` at `place`, as a refused request's would be.
    pub(crate) fn show_error(mut self, place: Place, message: String) {
        self.error.set(Some((place, message)));
    }

    /// Sends `request` and hands the worker's answer to `on_reply`, whatever it is (a search's results).
    pub(crate) fn ask(mut self, request: Request, on_reply: impl FnOnce(Response) + 'static) {
        let Some(bridge) = self.bridge.peek().clone() else { return };
        let sent = bridge.send(request, move |response| {
            self.reconnects.set(0);
            on_reply(response);
        });
        if let Err(err) = sent {
            self.link.set(Link::Broken { key: "worker_lost", detail: err.to_string() });
        }
    }
}

pub(crate) fn use_ui() -> Ui {
    use_context::<Ui>()
}

/// Provides the context to the whole popup and connects to the worker. Called once, by the root component.
pub(crate) fn use_ui_provider(tr: Tr) -> Ui {
    let link = use_signal(|| Link::Connecting);
    let error = use_signal(|| None::<(Place, String)>);
    let bridge = use_signal(|| None::<Bridge>);
    let reconnects = use_signal(|| 0);
    let focus_start = use_signal(|| 0);
    let ui = use_context_provider(|| Ui { link, error, bridge, reconnects, focus_start, tr });
    use_hook(move || connect(ui));
    ui
}

/// Connects to the worker. Chrome stops an idle worker even while a popup is open; connecting again is
/// what wakes it, so a lost port is reconnected at once, a few times in a row at most.
fn connect(mut ui: Ui) {
    const MAX_RECONNECTS: u32 = 3;
    if *ui.reconnects.peek() > MAX_RECONNECTS {
        ui.link.set(Link::Broken { key: "worker_keeps_stopping", detail: String::new() });
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
        Err(err) => ui.link.set(Link::Broken { key: "worker_unreachable", detail: err.to_string() }),
    }
}

/// The last refusal of a request sent from `place`, announced to screen readers as it appears.
#[component]
pub(crate) fn ErrorAt(place: Place) -> Element {
    let ui = use_ui();
    rsx! {
        if let Some(message) = ui.error_at(place) {
            p { role: "alert", class: "error", "{message}" }
        }
    }
}

/// What the user typed where a username is expected, with a PeerJS id (`secure-p2p-multichat-bob`, as the
/// original page and our details show it) understood as its username.
pub(crate) fn understood_username(typed: &str) -> String {
    let trimmed = typed.trim();
    match Username::from_peer_id(trimmed) {
        Some(username) => username.as_str().to_owned(),
        None => trimmed.strip_prefix(PEER_ID_PREFIX).map_or_else(|| typed.to_owned(), ToOwned::to_owned),
    }
}

/// A member's presence in a word: online, offline (reached before), or not reached yet (never connected to:
/// perhaps never online, or mistyped).
pub(crate) fn presence_word(tr: Tr, member: &MemberSummary) -> String {
    match (member.online, member.reached) {
        (true, _) => tr.t("online"),
        (false, true) => tr.t("offline"),
        (false, false) => tr.t("not_reached"),
    }
}
