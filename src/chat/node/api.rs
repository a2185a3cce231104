//! The public face of [`ChatNode`]: queries for the UI, the state-machine verbs, and user commands.

use super::{ChatError, ChatEvent, ChatNode, Command, Input, KnownKey, LinkKind, Output, PendingInvitation};
use crate::account::Username;
use crate::chat::history::{self, RoomHistory, StoredMessage};
use crate::chat::ids::{LinkId, RoomId};
use crate::chat::room::{RoomActivity, RoomError, RoomRecord, RoomView};
use crate::time::Millis;

impl ChatNode {
    // -----------------------------------------------------------------------------------------------------
    // Queries for the UI.

    pub fn me(&self) -> &Username {
        &self.me
    }

    pub fn room_views(&self) -> Vec<RoomView> {
        let mut views: Vec<RoomView> = self
            .rooms
            .rooms
            .iter()
            .map(|record| {
                let activity = self.histories.get(&record.id).map_or_else(RoomActivity::default, |it| RoomActivity {
                    unread: it.meta.unread,
                    message_count: it.meta.message_count,
                    last_activity: it.meta.last_activity,
                });
                RoomView::build(record, activity, &self.me, |it| self.is_online(it))
            })
            .collect();
        views.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then_with(|| a.id.cmp(&b.id)));
        views
    }

    pub fn room(&self, room: &RoomId) -> Option<&RoomRecord> {
        self.rooms.get(room)
    }

    /// The loaded messages of a room, in stored (arrival) order.
    pub fn messages(&self, room: &RoomId) -> Vec<&StoredMessage> {
        self.histories.get(room).map(|it| it.loaded_messages().collect()).unwrap_or_default()
    }

    pub fn history(&self, room: &RoomId) -> Option<&RoomHistory> {
        self.histories.get(room)
    }

    /// The toolbar badge count.
    pub fn total_unread(&self) -> u32 {
        self.histories.values().map(|it| it.meta.unread).sum()
    }

    /// A link to `username` on which files may go: ready, speaking our protocol, and its hello announced
    /// [`crate::transfer::CAPABILITY`]. Never a link to the original page or a stock PeerJS client.
    pub fn files_link(&self, username: &Username) -> Option<&LinkId> {
        self.links
            .iter()
            .filter(|(_, it)| &it.peer == username && it.kind == LinkKind::Ours && it.files)
            .map(|(id, _)| id)
            .next()
    }

    /// The user a link is to, when the link speaks our protocol and takes files.
    pub fn files_peer(&self, link: &LinkId) -> Option<&Username> {
        self.links.get(link).filter(|it| it.kind == LinkKind::Ours && it.files).map(|it| &it.peer)
    }

    /// Every link on which files may go ([`ChatNode::files_link`]), with the user it is to and the session
    /// its peer's hello named (a new one when the peer restarted).
    pub fn files_links(&self) -> impl Iterator<Item = (&LinkId, &Username, Option<u64>)> {
        self.links
            .iter()
            .filter(|(_, it)| it.kind == LinkKind::Ours && it.files)
            .map(|(id, it)| (id, &it.peer, it.session))
    }

    pub fn is_online(&self, username: &Username) -> bool {
        self.links.values().any(|it| &it.peer == username && it.is_ready())
    }

    /// Invitations waiting for the user's answer, by room.
    pub fn invitations(&self) -> Vec<&PendingInvitation> {
        self.invitations.values().collect()
    }

    /// The key we know for `user`, and how we learned it.
    pub fn known_key(&self, user: &Username) -> Option<&KnownKey> {
        self.keys.get(user)
    }

    /// Messages held until their author's key is known.
    pub fn awaiting_key_len(&self) -> usize {
        self.awaiting_key.values().map(Vec::len).sum()
    }

    /// Our messages not yet acknowledged by everyone, over all rooms.
    pub fn outbox_len(&self) -> usize {
        self.histories.values().map(|it| it.meta.outbox.len()).sum()
    }

    // -----------------------------------------------------------------------------------------------------
    // The state-machine verbs.

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn handle_command(&mut self, now: Millis, command: Command) -> Result<Option<RoomId>, ChatError> {
        if self.signed_out {
            return Err(ChatError::SignedOut);
        }
        self.now = self.now.max(now);
        let res = self.command(command);
        self.finish_step();
        res
    }

    pub fn handle_input(&mut self, now: Millis, input: Input) {
        if self.signed_out {
            return;
        }
        self.now = self.now.max(now);
        match input {
            Input::LinkUp { link, peer_id, metadata, outgoing } => self.link_up(link, peer_id, &metadata, outgoing),
            Input::Frame { link, frame } => self.frame(&link, &frame),
            Input::LinkDown { link } => self.link_down(&link),
            Input::EngineGreeted => {
                let pending: Vec<Username> = self
                    .contacts
                    .iter()
                    .filter(|(peer, it)| {
                        it.dialing_since.is_some() && !self.links.values().any(|link| &link.peer == *peer)
                    })
                    .map(|(peer, _)| peer.clone())
                    .collect();
                for peer in pending {
                    self.dial(&peer);
                }
            }
            Input::LinkResumed { link, peer_id, metadata, outgoing } => {
                self.link_up(link.clone(), peer_id, &metadata, outgoing);
                // A legacy dialer was recognised from its metadata; anyone else may be ours. The original
                // page ignores a frame type it does not know, so the rare hello it may get here is harmless.
                if self.links.get(&link).is_some_and(|it| it.kind == LinkKind::Unknown && !it.hello_sent) {
                    self.send_hello(&link);
                }
            }
            Input::DialFailed { peer_id } => {
                if let Some(peer) = Username::from_peer_id(&peer_id) {
                    self.dial_failed(&peer);
                }
            }
            Input::Read(snapshot) => self.pages_read(&snapshot),
            Input::PeerKey { username, key } => self.learn_key(&username, key, None),
        }
        self.finish_step();
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.signed_out {
            return;
        }
        self.now = self.now.max(now);
        self.timers();
        self.finish_step();
    }

    // -----------------------------------------------------------------------------------------------------
    // Commands.

    fn command(&mut self, command: Command) -> Result<Option<RoomId>, ChatError> {
        match command {
            Command::OpenDirect { username } => {
                if self.blocked.contains(&username) {
                    return Err(ChatError::Blocked(username));
                }
                // Writing to someone whose request waits is accepting it.
                if self.requests.contains_key(&username) {
                    return self.accept_request(&username).map(Some);
                }
                let (room, created) = self.rooms.ensure_direct(&self.me, &username)?;
                if created {
                    self.write_rooms();
                    self.event(ChatEvent::RoomsChanged);
                }
                self.connect_now(&username, Some(room.clone()));
                Ok(Some(room))
            }
            Command::CreateGroup { name, random } => {
                let room = self.rooms.create_group(RoomId::group_from_random(random), &name, &self.me)?;
                self.histories.entry(room.clone()).or_default();
                self.write_rooms();
                self.event(ChatEvent::RoomsChanged);
                Ok(Some(room))
            }
            Command::Invite { room, username } => {
                let record = self.rooms.get(&room).ok_or(RoomError::UnknownRoom)?;
                if room.is_direct() {
                    return Err(RoomError::NotAGroup.into());
                }
                if username == self.me {
                    return Err(RoomError::WithYourself.into());
                }
                if self.blocked.contains(&username) {
                    return Err(ChatError::Blocked(username));
                }
                if record.left {
                    return Err(ChatError::LeftGroup);
                }
                if record.is_full() && !record.members.contains(&username) {
                    return Err(RoomError::TooManyMembers.into());
                }
                if !record.members.contains(&username) {
                    let invitation = self.make_invitation(&room, &username);
                    self.rooms.add_member(&room, invitation);
                    self.write_rooms();
                    self.event(ChatEvent::RoomsChanged);
                    self.rebind_legacy(&room, std::slice::from_ref(&username));
                }
                self.announce_room(&room);
                self.connect_now(&username, Some(room.clone()));
                Ok(Some(room))
            }
            Command::AcceptInvitation { room } => self.answer_invitation(&room, true).map(|()| Some(room)),
            Command::DeclineInvitation { room } => self.answer_invitation(&room, false).map(|()| None),
            Command::AcceptRequest { username } => self.accept_request(&username).map(Some),
            Command::Block { username } => self.block(&username).map(|()| None),
            Command::Unblock { username } => {
                self.unblock(&username);
                Ok(None)
            }
            Command::Send { room, text, random } => self.send_message(&room, text, None, random).map(|()| Some(room)),
            Command::Act { room, to, what, random } => self.act_on(&room, &to, what, random).map(|()| Some(room)),
            Command::Typing { room } => self.typing(&room).map(|()| Some(room)),
            Command::SetPrivacy(privacy) => {
                self.privacy = privacy;
                if !privacy.typing && !self.typing.is_empty() {
                    let rooms: Vec<RoomId> = self.typing.keys().map(|(room, _)| room.clone()).collect();
                    self.typing.clear();
                    for room in rooms {
                        self.event(ChatEvent::TypingChanged { room });
                    }
                }
                Ok(None)
            }
            Command::MarkRead { room } => {
                let history = self.histories.get_mut(&room).ok_or(RoomError::UnknownRoom)?;
                if history.meta.unread > 0 {
                    history.meta.unread = 0;
                    let write = history::meta_write(&self.me, &room, &history.meta);
                    self.stage_write(write);
                    self.event(ChatEvent::RoomsChanged);
                }
                self.send_receipt(&room);
                Ok(Some(room))
            }
            Command::LoadOlder { room } => {
                let history = self.histories.get(&room).ok_or(RoomError::UnknownRoom)?;
                if let Some(page) = history.next_older_page() {
                    self.read_page(&room, page);
                }
                Ok(Some(room))
            }
            Command::DeleteRoom { room } => self.delete_room(&room).map(|()| None),
            Command::LeaveGroup { room } => self.leave_keeping_history(&room).map(|()| Some(room)),
            Command::SetRoomPrefs { room, prefs } => self.set_room_prefs(&room, prefs).map(|()| Some(room)),
            Command::SignOut => {
                let links: Vec<LinkId> = self.links.keys().cloned().collect();
                for link in links {
                    self.output(Output::Close { link });
                }
                self.links.clear();
                self.contacts.clear();
                self.signed_out = true;
                Ok(None)
            }
        }
    }
}
