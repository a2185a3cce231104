//! The node's timers and its `poll_timeout` agree: woken at the time it announced, a node acts so that
//! nothing is due any more; asked earlier, it does nothing. (`Sim::advance` checks the same on every tick
//! of every simulated test through `chat_sim::check_timers`.)

use std::collections::BTreeSet;

use multichat_core::chat::node::{FAILED_AFTER_MS, HOLD_MAX_MS};
use multichat_core::chat::wire::{self, ChatExtras, ChatFrame, Frame, Hello};
use multichat_core::chat::{ChatEvent, ChatNode, Command, DeliveryState, Input, MessageId, Output, RoomId};
use multichat_core::time::Millis;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::chat_sim::{Sim, check_timers, user};

fn hello_from(name: &str) -> Value {
    wire::encode(&Frame::Hello(Hello {
        version: wire::PROTOCOL_VERSION,
        user: user(name),
        capabilities: Vec::new(),
        auth: None,
        session: None,
    }))
}

fn chat_from(name: &str, room: &RoomId, seq: u64) -> Value {
    wire::encode(&Frame::Chat(ChatFrame {
        sender: user(name),
        text: format!("{name} {seq}"),
        timestamp: Millis(seq),
        ours: Some(ChatExtras {
            id: MessageId::parse(&format!("m-{name}-{seq}")).unwrap(),
            seq,
            room: room.clone(),
            sig: None,
            act: None,
        }),
    }))
}

/// What a timer did, by kind, for checking that every kind of deadline was reached.
fn kinds(outputs: &[Output]) -> BTreeSet<String> {
    outputs
        .iter()
        .map(|it| match it {
            Output::Send { frame, .. } => format!("send {}", frame["type"].as_str().unwrap_or_default()),
            Output::Dial { .. } => "dial".to_owned(),
            Output::Close { .. } => "close".to_owned(),
            Output::Write(_) => "write".to_owned(),
            Output::Read { .. } => "read".to_owned(),
            Output::Event(ChatEvent::PeerDead { .. }) => "peer dead".to_owned(),
            Output::Event(ChatEvent::PeerOnline { speaks_multichat: false, .. }) => "legacy online".to_owned(),
            Output::Event(ChatEvent::MessageStored { .. }) => "stored".to_owned(),
            Output::Event(_) => "other event".to_owned(),
        })
        .collect()
}

/// One node with a deadline of every kind, driven only by its own `poll_timeout` (no peer ever answers):
/// each wake-up leaves nothing due, a wake-up one millisecond early does nothing, and between them the
/// wake-ups reach every kind of timer.
#[test]
fn every_kind_of_deadline_is_announced_and_kept() {
    let start = Millis(1_000);
    let mut node = ChatNode::new(user("alice"), start);
    // Bob never answers the dial: the dial times out, and he is redialed with backoff.
    node.handle_command(start, Command::OpenDirect { username: user("bob") }).unwrap();
    // Carol connects and greets, then falls silent: pinged, then found dead and redialed.
    let carol = node.handle_command(start, Command::OpenDirect { username: user("carol") }).unwrap().unwrap();
    let ours = json!({"peerIds": [], "multichat": {"v": 1}});
    let up = |link: &str, name: &str, metadata: Value, outgoing| Input::LinkUp {
        link: link.into(),
        peer_id: user(name).peer_id(),
        metadata,
        outgoing,
    };
    node.handle_input(start, up("dc_carol", "carol", ours, false));
    node.handle_input(start, Input::Frame { link: "dc_carol".into(), frame: hello_from("carol") });
    // The rest at distinct times, so that no deadline hides behind another.
    let at = |ms| start.saturating_add(ms);
    node.handle_input(at(100), Input::Frame { link: "dc_carol".into(), frame: chat_from("carol", &carol, 1) });
    // Our message to carol is never acknowledged: re-sent while she is connected, then shown as failed.
    let hi = Command::Send { room: carol.clone(), text: "hi".into(), random: [1; 16] };
    node.handle_command(at(200), hi).unwrap();
    // Dave is dialed and his link opens, but he never says hello: the original page.
    node.handle_command(at(300), Command::OpenDirect { username: user("dave") }).unwrap();
    node.handle_input(at(300), up("dc_dave", "dave", json!({}), true));
    // Carol's seq 2 never arrives: 3 is held back, then stored anyway.
    node.handle_input(at(500), Input::Frame { link: "dc_carol".into(), frame: chat_from("carol", &carol, 3) });
    std::iter::from_fn(|| node.poll_output()).for_each(drop);

    let mut seen = BTreeSet::new();
    let mut now = at(500);
    let mut wakeups = 0;
    while let Some(at) = node.poll_timeout() {
        if at > start.saturating_add(FAILED_AFTER_MS * 2) {
            break;
        }
        let at = at.max(now);
        if at > now {
            now = Millis(at.0 - 1);
            check_timers("alice", &mut node, now);
        }
        now = at;
        check_timers("alice", &mut node, now);
        let outputs: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
        seen.extend(kinds(&outputs));
        wakeups += 1;
    }
    println!("{wakeups} wake-ups: {seen:?}");
    for kind in ["send mc.ping", "peer dead", "close", "dial", "legacy online", "stored", "send chat", "write"] {
        assert!(seen.contains(kind), "no timer did {kind:?}: {seen:?}");
    }
    let texts: Vec<&str> = node.messages(&carol).iter().map(|it| it.text.as_str()).collect();
    assert!(texts.contains(&"carol 3"), "the held message was stored after {HOLD_MAX_MS} ms: {texts:?}");
    let ours = node.messages(&carol).into_iter().find(|it| it.text == "hi").unwrap();
    assert_eq!(ours.state, Some(DeliveryState::Failed));
}

#[derive(Clone, Debug)]
enum Step {
    Send(usize),
    PageSend,
    Crash(usize),
    Restart(usize),
    DropLinks(usize),
    Freeze(usize, bool),
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize).prop_map(Step::Send),
        1 => Just(Step::PageSend),
        1 => (0..3usize).prop_map(Step::Crash),
        2 => (0..3usize).prop_map(Step::Restart),
        1 => (0..3usize).prop_map(Step::DropLinks),
        1 => (0..3usize, any::<bool>()).prop_map(|(who, frozen)| Step::Freeze(who, frozen)),
        4 => (100..20_000u64).prop_map(Step::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Three nodes and an original page in one group, through sends, crashes, restarts, link drops and
    /// hung peers: on every tick, every node's timers agree with its `poll_timeout` (checked by the sim).
    #[test]
    fn timers_and_poll_timeout_agree_whatever_happens(steps in prop::collection::vec(step(), 1..16)) {
        let names = ["alice", "bob", "carol"];
        let mut sim = Sim::new(&names, &["dave"]);
        let room = sim.create_group("alice", "trip");
        sim.invite("alice", &room, "bob");
        sim.invite("alice", &room, "carol");
        sim.page_connect("dave", "alice");
        sim.advance(1_000);
        for (n, step) in steps.into_iter().enumerate() {
            match step {
                Step::Send(who) if sim.nodes[names[who]].node.is_some() => {
                    sim.send(names[who], &room, &format!("{} {n}", names[who]));
                }
                Step::PageSend => sim.page_send("dave", &format!("dave {n}")),
                Step::Crash(who) if sim.nodes[names[who]].node.is_some() => sim.crash(names[who]),
                Step::Restart(who) if sim.nodes[names[who]].node.is_none() => sim.restart(names[who]),
                Step::DropLinks(who) => sim.drop_links_of(names[who]),
                Step::Freeze(who, frozen) => sim.set_frozen(names[who], frozen),
                Step::Advance(ms) => sim.advance(ms),
                _ => {}
            }
        }
        sim.advance(FAILED_AFTER_MS + 5_000);
    }
}
