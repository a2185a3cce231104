//! The room model: direct conversations (two users) and named group rooms with members.
//!
//! A room is a set of members who all connect to each other (a full mesh). Only a member adds someone, by
//! an [`Invitation`] that member signs; the invitee joins only once its user accepts. Membership is
//! gossiped with the invitations: whoever learns of a new member tells every member it is linked to, each
//! checks the invitation, and everyone dials whoever it is not linked to yet. A member leaves by a leave
//! it signs (`mc.leave`): every member that learns of it takes the leaver out of the room for good
//! ([`RoomRecord::departed`]: an old invitation gossiped later does not bring them back) and stops dialing
//! them for it; the leaver keeps a [`LeftRoom`] so a member who was offline is told when it next links.
//!
//! This module holds the membership record (part of the storage schema, hence `Serialize`) and the views
//! the UI shows. It knows nothing about links or frames; who is online is passed in by [`super::node`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ids::RoomId;
use super::names::display_name;
pub use super::signing::Invitation;
use crate::account::Username;
use crate::time::Millis;

/// The stored list of rooms (key [`super::history::rooms_key`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsRecord {
    pub rooms: Vec<RoomRecord>,
    /// Groups we left, newest last (at most [`MAX_LEFT_ROOMS`]): their members are told again when they
    /// link, and their frames about the room are answered with the leave rather than taken as invitations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<LeftRoom>,
}

/// Groups we left that are remembered, to tell members who were offline.
pub const MAX_LEFT_ROOMS: usize = 64;

/// The most members a group holds, us included. A group is a full mesh: each member keeps a link to each
/// other one (63 here), and the engine's connections, the pings every 3 s and the catch-up every link
/// starts are all per link; 64 leaves room under the engine's connection slots for direct conversations
/// and the links that have not greeted yet. Invitations past it are refused (`DropReason::RoomFull`).
pub const MAX_ROOM_MEMBERS: usize = 64;

/// A group we left: whom to tell, and the leave as we signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftRoom {
    pub room: RoomId,
    /// The members as of leaving (ourselves not included).
    pub members: BTreeSet<Username>,
    /// When we left (the signed timestamp).
    pub at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<super::signing::Signature>,
}

/// What the user set for a conversation on this device only: nobody else sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPrefs {
    /// A name shown instead of the group's (or the contact's) name; cleaned like any name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_name: Option<String>,
    /// Counts unread, raises no notification.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// Listed above the others.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

impl RoomPrefs {
    pub fn is_default(&self) -> bool {
        self == &RoomPrefs::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    pub id: RoomId,
    pub kind: RoomKind,
    /// Everyone in the room, ourselves included.
    pub members: BTreeSet<Username>,
    /// The room's last page as of the last page change: lets loading continue safely after a damaged meta.
    #[serde(default)]
    pub pages_hint: u32,
    /// How each member other than the founder came in, by invitee: shown to members who learn of them
    /// later, and the history each may be served from. Older records have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invitations: BTreeMap<Username, Invitation>,
    /// This device's own settings for the conversation (name, muted, pinned).
    #[serde(default, skip_serializing_if = "RoomPrefs::is_default")]
    pub prefs: RoomPrefs,
    /// Members who left the group (by a leave they signed): never taken back in by an invitation.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub departed: BTreeSet<Username>,
    /// We left the group and kept its history ([`RoomsRecord::keep_left`]): it is read-only, and we are its
    /// only member (the others are in `departed`), so nobody is dialed, served or written to for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomKind {
    Direct,
    Group { name: String },
}

impl RoomRecord {
    /// The group holds [`MAX_ROOM_MEMBERS`]: nobody more can be invited.
    pub fn is_full(&self) -> bool {
        self.members.len() >= MAX_ROOM_MEMBERS
    }

    /// The direct room between the owner and `peer` (`id` must be `RoomId::direct` of the two).
    pub fn direct(id: RoomId, peer: Username, pages_hint: u32) -> RoomRecord {
        let members = id.direct_members().map(|(a, b)| [a, b].into()).unwrap_or_else(|| [peer].into());
        RoomRecord {
            id,
            kind: RoomKind::Direct,
            members,
            pages_hint,
            invitations: BTreeMap::new(),
            prefs: RoomPrefs::default(),
            departed: BTreeSet::new(),
            left: false,
        }
    }

    pub fn others<'a>(&'a self, me: &'a Username) -> impl Iterator<Item = &'a Username> + 'a {
        self.members.iter().filter(move |it| *it != me)
    }

    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            RoomKind::Direct => None,
            RoomKind::Group { name } => Some(name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("There is no such conversation")]
    UnknownRoom,
    #[error("You cannot start a conversation with yourself")]
    WithYourself,
    #[error("People can only be invited to group rooms; start a direct conversation instead")]
    NotAGroup,
    #[error("Please give the room a name")]
    EmptyName,
    #[error("A room name can be at most {} characters long", super::wire::MAX_ROOM_NAME_CHARS)]
    NameTooLong,
    #[error("This group is full: a group can have at most {MAX_ROOM_MEMBERS} members")]
    TooManyMembers,
}

impl RoomsRecord {
    pub fn get(&self, id: &RoomId) -> Option<&RoomRecord> {
        self.rooms.iter().find(|it| &it.id == id)
    }

    pub fn get_mut(&mut self, id: &RoomId) -> Option<&mut RoomRecord> {
        self.rooms.iter_mut().find(|it| &it.id == id)
    }

    /// The direct room with `peer`, created if new. Returns its id and whether it was created.
    pub fn ensure_direct(&mut self, me: &Username, peer: &Username) -> Result<(RoomId, bool), RoomError> {
        if me == peer {
            return Err(RoomError::WithYourself);
        }
        let id = RoomId::direct(me, peer);
        if self.get(&id).is_some() {
            return Ok((id, false));
        }
        self.rooms.push(RoomRecord::direct(id.clone(), peer.clone(), 0));
        Ok((id, true))
    }

    pub fn create_group(&mut self, id: RoomId, name: &str, me: &Username) -> Result<RoomId, RoomError> {
        let name = check_name(name)?;
        if self.get(&id).is_none() {
            self.rooms.push(RoomRecord {
                id: id.clone(),
                kind: RoomKind::Group { name },
                members: [me.clone()].into(),
                pages_hint: 0,
                invitations: BTreeMap::new(),
                prefs: RoomPrefs::default(),
                departed: BTreeSet::new(),
                left: false,
            });
        }
        Ok(id)
    }

    /// Joins a group we were invited to and accepted: its members as the inviter listed them, with the
    /// invitations it sent. Nothing happens for a room we are in already.
    pub fn join_group(
        &mut self,
        id: &RoomId,
        name: &str,
        members: &BTreeSet<Username>,
        invitations: BTreeMap<Username, Invitation>,
        me: &Username,
    ) -> bool {
        if self.get(id).is_some() {
            return false;
        }
        let name = check_name(name).unwrap_or_else(|_| "Unnamed room".to_owned());
        let mut all: BTreeSet<Username> =
            members.iter().filter(|it| *it != me).take(MAX_ROOM_MEMBERS - 1).cloned().collect();
        all.insert(me.clone());
        let invitations = invitations.into_iter().filter(|(invitee, _)| all.contains(invitee)).collect();
        self.rooms.push(RoomRecord {
            id: id.clone(),
            kind: RoomKind::Group { name },
            members: all,
            pages_hint: 0,
            invitations,
            prefs: RoomPrefs::default(),
            departed: BTreeSet::new(),
            left: false,
        });
        true
    }

    /// Adds a member to a group we are in, by its invitation. False when the room is unknown or full
    /// ([`MAX_ROOM_MEMBERS`]), or the invitee is a member already.
    pub fn add_member(&mut self, id: &RoomId, invitation: Invitation) -> bool {
        let Some(record) = self.get_mut(id).filter(|it| !it.id.is_direct()) else { return false };
        let member_or_gone =
            record.members.contains(&invitation.invitee) || record.departed.contains(&invitation.invitee);
        if record.is_full() || member_or_gone {
            return false;
        }
        record.members.insert(invitation.invitee.clone());
        record.invitations.insert(invitation.invitee.clone(), invitation);
        true
    }

    /// Takes a room out of the list (the user deleted it, or left the group). Returns it, if it was there.
    pub fn remove(&mut self, id: &RoomId) -> Option<RoomRecord> {
        let index = self.rooms.iter().position(|it| &it.id == id)?;
        Some(self.rooms.remove(index))
    }

    /// Sets the user's own settings for a room; a local name is cleaned and checked like a group's name,
    /// and an empty one means "no local name".
    pub fn set_prefs(&mut self, id: &RoomId, mut prefs: RoomPrefs) -> Result<(), RoomError> {
        prefs.local_name = match prefs.local_name.as_deref().map(display_name) {
            Some(name) if !name.is_empty() => Some(check_name(&name)?),
            _ => None,
        };
        let record = self.get_mut(id).ok_or(RoomError::UnknownRoom)?;
        record.prefs = prefs;
        Ok(())
    }

    /// Remembers that we left `left.room`, the oldest such record given up beyond [`MAX_LEFT_ROOMS`].
    pub fn remember_left(&mut self, left: LeftRoom) {
        self.left.retain(|it| it.room != left.room);
        self.left.push(left);
        let excess = self.left.len().saturating_sub(MAX_LEFT_ROOMS);
        self.left.drain(..excess);
    }

    /// We left the group `id` and keep its history: every other member is taken out (as departed), and the
    /// room is marked left. False when the room is unknown or direct.
    pub fn keep_left(&mut self, id: &RoomId, me: &Username) -> bool {
        let Some(record) = self.get_mut(id).filter(|it| !it.id.is_direct()) else { return false };
        let others: Vec<Username> = record.others(me).cloned().collect();
        record.departed.extend(others);
        record.members.retain(|it| it == me);
        record.invitations.clear();
        record.left = true;
        true
    }

    /// The group we left, if we did.
    pub fn left_room(&self, id: &RoomId) -> Option<&LeftRoom> {
        self.left.iter().find(|it| &it.room == id)
    }

    /// `member` left the group `id`: out of its members (and invitations) for good. False when the room is
    /// unknown, direct, or `member` was not in it.
    pub fn member_left(&mut self, id: &RoomId, member: &Username) -> bool {
        let Some(record) = self.get_mut(id).filter(|it| !it.id.is_direct()) else { return false };
        if !record.members.remove(member) {
            return false;
        }
        record.invitations.remove(member);
        record.departed.insert(member.clone());
        true
    }

    /// Every user we share a room with: whom to keep connected to.
    pub fn contacts(&self, me: &Username) -> BTreeSet<Username> {
        self.rooms.iter().flat_map(|room| room.others(me).cloned()).collect()
    }

    /// Group rooms `peer` is a member of.
    pub fn groups_with<'a>(&'a self, peer: &'a Username) -> impl Iterator<Item = &'a RoomRecord> + 'a {
        self.rooms.iter().filter(move |it| !it.id.is_direct() && it.members.contains(peer))
    }

    /// Rooms `peer` is a member of (its direct room included).
    pub fn shared_with<'a>(&'a self, peer: &'a Username) -> impl Iterator<Item = &'a RoomRecord> + 'a {
        self.rooms.iter().filter(move |it| it.members.contains(peer))
    }
}

fn check_name(name: &str) -> Result<String, RoomError> {
    // Stored clean, so no peer's name can carry bidi overrides or control characters into any view.
    let name = display_name(name);
    if name.is_empty() {
        return Err(RoomError::EmptyName);
    }
    if name.chars().count() > super::wire::MAX_ROOM_NAME_CHARS {
        return Err(RoomError::NameTooLong);
    }
    Ok(name)
}

/// A room as the conversation list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub id: RoomId,
    /// The group's name, or the other user's name for a direct room; without bidi or control characters.
    pub title: String,
    pub is_group: bool,
    /// For a direct room, the other user: a group named like a contact is still told apart by this.
    pub direct_with: Option<Username>,
    /// Other members, with whether each is connected now.
    pub members: Vec<MemberView>,
    pub unread: u32,
    pub message_count: u64,
    pub last_activity: Millis,
    /// The user's own settings for it; `title` already is the local name when one is set.
    #[serde(default)]
    pub prefs: RoomPrefs,
    /// A group we left and kept the history of: read-only.
    #[serde(default)]
    pub left: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub username: Username,
    pub online: bool,
}

/// What a room's history says about it, for its view. Filled in by whoever holds the history, so rooms
/// need not know the history's records (the history knows the rooms').
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoomActivity {
    pub unread: u32,
    pub message_count: u64,
    pub last_activity: Millis,
}

impl RoomView {
    pub fn build(
        record: &RoomRecord,
        activity: RoomActivity,
        me: &Username,
        is_online: impl Fn(&Username) -> bool,
    ) -> RoomView {
        let members: Vec<MemberView> =
            record.others(me).map(|it| MemberView { username: it.clone(), online: is_online(it) }).collect();
        // A direct room may hold an original page's mesh too; it is still named for the one it is with.
        let direct_with = match &record.kind {
            RoomKind::Direct => record
                .id
                .direct_members()
                .map(|(a, b)| if &a == me { b } else { a })
                .or_else(|| members.first().map(|it| it.username.clone())),
            RoomKind::Group { .. } => None,
        };
        let title = match (&record.prefs.local_name, &record.kind) {
            (Some(local), _) if !display_name(local).is_empty() => display_name(local),
            (_, RoomKind::Group { name }) => display_name(name),
            (_, RoomKind::Direct) => direct_with.as_ref().map(|it| display_name(it.as_str())).unwrap_or_default(),
        };
        RoomView {
            id: record.id.clone(),
            title,
            is_group: !record.id.is_direct(),
            direct_with,
            members,
            unread: activity.unread,
            message_count: activity.message_count,
            last_activity: activity.last_activity,
            prefs: record.prefs.clone(),
            left: record.left,
        }
    }

    pub fn online_count(&self) -> usize {
        self.members.iter().filter(|it| it.online).count()
    }

    /// A notification id for this room: its id, never its title (a group named like a contact would
    /// otherwise replace that contact's notifications).
    pub fn notification_id(&self) -> String {
        format!("multichat-{}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn direct_rooms_are_found_again() {
        let mut rooms = RoomsRecord::default();
        let (id, created) = rooms.ensure_direct(&user("alice"), &user("bob")).unwrap();
        assert!(created);
        assert_eq!(rooms.ensure_direct(&user("alice"), &user("bob")).unwrap(), (id.clone(), false));
        assert_eq!(rooms.ensure_direct(&user("alice"), &user("alice")), Err(RoomError::WithYourself));
        assert_eq!(rooms.get(&id).unwrap().members, [user("alice"), user("bob")].into());
        assert_eq!(rooms.contacts(&user("alice")), [user("bob")].into());
    }

    fn invitation(inviter: &str, invitee: &str) -> Invitation {
        Invitation { inviter: user(inviter), invitee: user(invitee), key: None, since: BTreeMap::new(), sig: None }
    }

    #[test]
    fn groups_grow_by_invitation() {
        let mut rooms = RoomsRecord::default();
        let id = RoomId::group_from_random([1; 16]);
        assert_eq!(rooms.create_group(id.clone(), "  ", &user("alice")), Err(RoomError::EmptyName));
        assert_eq!(rooms.create_group(id.clone(), "\u{202e}\u{7}", &user("alice")), Err(RoomError::EmptyName));
        rooms.create_group(id.clone(), "Friends", &user("alice")).unwrap();
        assert!(rooms.add_member(&id, invitation("alice", "bob")));
        assert!(!rooms.add_member(&id, invitation("alice", "bob")));
        assert_eq!(rooms.get(&id).unwrap().name(), Some("Friends"));
        assert_eq!(rooms.get(&id).unwrap().invitations[&user("bob")].inviter, user("alice"));
        assert_eq!(rooms.groups_with(&user("bob")).count(), 1);
        // Bob joins with the list alice gave; a second join changes nothing.
        let mut bobs = RoomsRecord::default();
        let members = [user("alice"), user("bob")].into();
        let invitations = [(user("bob"), invitation("alice", "bob"))].into();
        assert!(bobs.join_group(&id, "Friends", &members, invitations, &user("bob")));
        assert!(!bobs.join_group(&id, "Other", &members, BTreeMap::new(), &user("bob")));
        assert_eq!(bobs.get(&id).unwrap().members, members);
    }

    #[test]
    fn the_view_shows_who_is_online() {
        let mut rooms = RoomsRecord::default();
        let id = RoomId::group_from_random([2; 16]);
        rooms.create_group(id.clone(), "Team", &user("alice")).unwrap();
        rooms.add_member(&id, invitation("alice", "bob"));
        rooms.add_member(&id, invitation("alice", "carol"));
        let activity = RoomActivity { unread: 3, ..RoomActivity::default() };
        let view = RoomView::build(rooms.get(&id).unwrap(), activity, &user("alice"), |it| it.as_str() == "bob");
        assert_eq!(view.title, "Team");
        assert_eq!(view.unread, 3);
        assert_eq!(view.online_count(), 1);
        assert_eq!(view.members.len(), 2);
        assert_eq!(view.direct_with, None);
        assert_eq!(view.notification_id(), format!("multichat-{id}"));
        let (direct, _) = rooms.ensure_direct(&user("alice"), &user("bob")).unwrap();
        let view = RoomView::build(rooms.get(&direct).unwrap(), activity, &user("alice"), |_| false);
        assert_eq!((view.title.as_str(), view.direct_with), ("bob", Some(user("bob"))));
    }
}
