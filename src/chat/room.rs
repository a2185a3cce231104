//! The room model: direct conversations (two users) and named group rooms with members.
//!
//! A room is a set of members who all connect to each other (a full mesh). Only a member adds someone, by
//! an [`Invitation`] that member signs; the invitee joins only once its user accepts. Membership is
//! gossiped with the invitations: whoever learns of a new member tells every member it is linked to, each
//! checks the invitation, and everyone dials whoever it is not linked to yet. Member sets only grow
//! (leaving is not built).
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomKind {
    Direct,
    Group { name: String },
}

impl RoomRecord {
    /// The direct room between the owner and `peer` (`id` must be `RoomId::direct` of the two).
    pub fn direct(id: RoomId, peer: Username, pages_hint: u32) -> RoomRecord {
        let members = id.direct_members().map(|(a, b)| [a, b].into()).unwrap_or_else(|| [peer].into());
        RoomRecord { id, kind: RoomKind::Direct, members, pages_hint, invitations: BTreeMap::new() }
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
    #[error("A room can have at most {} members", super::wire::MAX_LIST_LEN)]
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
        let mut all: BTreeSet<Username> = members.iter().take(super::wire::MAX_LIST_LEN - 1).cloned().collect();
        all.insert(me.clone());
        let invitations = invitations.into_iter().filter(|(invitee, _)| all.contains(invitee)).collect();
        self.rooms.push(RoomRecord {
            id: id.clone(),
            kind: RoomKind::Group { name },
            members: all,
            pages_hint: 0,
            invitations,
        });
        true
    }

    /// Adds a member to a group we are in, by its invitation. False when the room is unknown or full, or
    /// the invitee is a member already.
    pub fn add_member(&mut self, id: &RoomId, invitation: Invitation) -> bool {
        let Some(record) = self.get_mut(id).filter(|it| !it.id.is_direct()) else { return false };
        if record.members.len() >= super::wire::MAX_LIST_LEN || record.members.contains(&invitation.invitee) {
            return false;
        }
        record.members.insert(invitation.invitee.clone());
        record.invitations.insert(invitation.invitee.clone(), invitation);
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
        let title = match &record.kind {
            RoomKind::Group { name } => display_name(name),
            RoomKind::Direct => direct_with.as_ref().map(|it| display_name(it.as_str())).unwrap_or_default(),
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
