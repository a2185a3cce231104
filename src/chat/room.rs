//! The room model: direct conversations (two users) and named group rooms with members.
//!
//! A room is a set of members who all connect to each other (a full mesh). Joining through any member
//! works because membership is gossiped: whoever learns of a new member tells every member it is linked
//! to, and everyone dials whoever it is not linked to yet. Member sets only grow (leaving is not built).
//!
//! This module holds the membership record (part of the storage schema, hence `Serialize`) and the views
//! the UI shows. It knows nothing about links or frames; who is online is passed in by [`super::node`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::RoomId;
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
        RoomRecord { id, kind: RoomKind::Direct, members, pages_hint }
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
            });
        }
        Ok(id)
    }

    /// Learns of a group room, or of more of its members. Returns the members that were new to us.
    /// An unknown room is created (being told about a room you are a member of is how you join it).
    pub fn merge_group(
        &mut self,
        id: &RoomId,
        name: &str,
        members: &BTreeSet<Username>,
        me: &Username,
    ) -> Vec<Username> {
        let record = match self.get_mut(id) {
            Some(record) => record,
            None => {
                let name = check_name(name).unwrap_or_else(|_| "Unnamed room".to_owned());
                self.rooms.push(RoomRecord {
                    id: id.clone(),
                    kind: RoomKind::Group { name },
                    members: [me.clone()].into(),
                    pages_hint: 0,
                });
                self.rooms.last_mut().expect("a room was just pushed")
            }
        };
        let mut added = Vec::new();
        for member in members {
            if record.members.len() >= super::wire::MAX_LIST_LEN {
                break;
            }
            if record.members.insert(member.clone()) {
                added.push(member.clone());
            }
        }
        added
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
    let name = name.trim();
    if name.is_empty() {
        return Err(RoomError::EmptyName);
    }
    if name.chars().count() > super::wire::MAX_ROOM_NAME_CHARS {
        return Err(RoomError::NameTooLong);
    }
    Ok(name.to_owned())
}

/// A room as the conversation list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomView {
    pub id: RoomId,
    /// The group's name, or the other user's name for a direct room.
    pub title: String,
    pub is_group: bool,
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
        let title = match &record.kind {
            RoomKind::Group { name } => name.clone(),
            RoomKind::Direct => members.first().map(|it| it.username.to_string()).unwrap_or_default(),
        };
        RoomView {
            id: record.id.clone(),
            title,
            is_group: !record.id.is_direct(),
            members,
            unread: activity.unread,
            message_count: activity.message_count,
            last_activity: activity.last_activity,
        }
    }

    pub fn online_count(&self) -> usize {
        self.members.iter().filter(|it| it.online).count()
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

    #[test]
    fn groups_grow_by_merging() {
        let mut rooms = RoomsRecord::default();
        let id = RoomId::group_from_random([1; 16]);
        assert_eq!(rooms.create_group(id.clone(), "  ", &user("alice")), Err(RoomError::EmptyName));
        rooms.create_group(id.clone(), "Friends", &user("alice")).unwrap();
        let added = rooms.merge_group(&id, "ignored", &[user("alice"), user("bob")].into(), &user("alice"));
        assert_eq!(added, vec![user("bob")]);
        assert!(rooms.merge_group(&id, "x", &[user("bob")].into(), &user("alice")).is_empty());
        assert_eq!(rooms.get(&id).unwrap().name(), Some("Friends"));
        assert_eq!(rooms.groups_with(&user("bob")).count(), 1);
    }

    #[test]
    fn the_view_shows_who_is_online() {
        let mut rooms = RoomsRecord::default();
        let id = RoomId::group_from_random([2; 16]);
        rooms.create_group(id.clone(), "Team", &user("alice")).unwrap();
        rooms.merge_group(&id, "Team", &[user("bob"), user("carol")].into(), &user("alice"));
        let activity = RoomActivity { unread: 3, ..RoomActivity::default() };
        let view = RoomView::build(rooms.get(&id).unwrap(), activity, &user("alice"), |it| it.as_str() == "bob");
        assert_eq!(view.title, "Team");
        assert_eq!(view.unread, 3);
        assert_eq!(view.online_count(), 1);
        assert_eq!(view.members.len(), 2);
    }
}
