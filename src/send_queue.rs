//! The bytes one data channel has not sent yet, bounded (issue 13, "bounded bytes queued per link").
//!
//! A shell hands every message for a link to a [`SendQueue`] and gives the channel what
//! [`SendQueue::next`] returns: the channel's own buffer (`bufferedAmount`) is filled up to
//! [`SendLimits::high_water`] and refilled when the browser says it drained (`bufferedamountlow`), and
//! everything else waits here. A link whose channel buffer and queue together would hold more than
//! [`SendLimits::max_queued`] is not grown further: the push fails with [`SendQueueError::Full`], what waited
//! is dropped at once, and the shell closes the link.
//!
//! Closing, not dropping single messages, is deliberate: the chat layer never resends what it handed to a
//! link it still believes open (a catch-up message is served to a link once), so a message quietly dropped
//! from an open link could be missing until the next link. A closed link loses nothing: the chat layer keeps
//! every unacknowledged message in its outbox and sends it again on the next link, and the peer's catch-up
//! there asks for whatever else it lacks.
//!
//! It is not the PeerJS framing (what goes in a message is `crate::peerjs`'s) and does no IO: the shell
//! reads `bufferedAmount` and passes it in.

use std::collections::VecDeque;

use crate::peerjs::ChannelMessage;

/// Above this many bytes in the channel's own buffer, messages wait here for `bufferedamountlow`. PeerJS
/// waits above 8 MiB too; Chrome refuses (and closes the channel on) a send past 16 MiB buffered.
pub const CHANNEL_HIGH_WATER_BYTES: u64 = 8 * 1024 * 1024;

/// The channel's `bufferedAmountLowThreshold`: below it the browser says the buffer drained, and what waits
/// here goes on.
pub const CHANNEL_LOW_WATER_BYTES: u64 = 1024 * 1024;

/// The most bytes one link may hold unsent, its channel's buffer and this queue together.
///
/// Why 16 MiB: it is what Chrome itself lets one channel buffer, so a link never costs more than the browser
/// already allows a page per channel; honest chat traffic stays far below it (a full catch-up of 2,000
/// ordinary messages is well under 1 MiB, every chat frame is under 16 KB), and a 10 MiB bulk transfer of
/// another PeerJS app still fits. Before the bound, 50 repeated `mc.sync` requests of about 3 KB made one
/// link queue 41 MB.
pub const MAX_LINK_QUEUED_BYTES: u64 = 16 * 1024 * 1024;

// Checked when compiling: the channel's buffer drains below its high water, the bound leaves room above the
// channel's own buffer, and a full chat frame (the json serialization stops at 16300 bytes) fits many times.
const _: () = {
    assert!(CHANNEL_LOW_WATER_BYTES < CHANNEL_HIGH_WATER_BYTES);
    assert!(CHANNEL_HIGH_WATER_BYTES < MAX_LINK_QUEUED_BYTES);
    assert!(MAX_LINK_QUEUED_BYTES / 16_300 > 1_000);
    // The low water goes to `bufferedAmountLowThreshold`, a u32.
    assert!(CHANNEL_LOW_WATER_BYTES <= u32::MAX as u64);
};

/// The two thresholds a queue works with (tests use small ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendLimits {
    /// See [`CHANNEL_HIGH_WATER_BYTES`].
    pub high_water: u64,
    /// See [`MAX_LINK_QUEUED_BYTES`].
    pub max_queued: u64,
}

impl SendLimits {
    /// What the engine uses on every link.
    pub const LINK: SendLimits = SendLimits { high_water: CHANNEL_HIGH_WATER_BYTES, max_queued: MAX_LINK_QUEUED_BYTES };
}

impl Default for SendLimits {
    fn default() -> SendLimits {
        SendLimits::LINK
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendQueueError {
    /// This message would have made the link hold more than its limit; what waited was dropped.
    #[error(
        "{queued} bytes would have waited to be sent, more than the limit of {limit} per connection; what waited was dropped and the connection is closed (the chat layer sends unacknowledged messages again on the next one)"
    )]
    Full { queued: u64, limit: u64 },
    /// The queue overflowed before; the link is being closed and takes nothing more.
    #[error("the connection is being closed because too much waited to be sent")]
    Closed,
}

/// One link's unsent messages, oldest first.
#[derive(Clone, Debug, Default)]
pub struct SendQueue {
    limits: SendLimits,
    waiting: VecDeque<ChannelMessage>,
    waiting_bytes: u64,
    peak_bytes: u64,
    overflowed: bool,
}

impl SendQueue {
    pub fn new(limits: SendLimits) -> SendQueue {
        SendQueue { limits, ..SendQueue::default() }
    }

    /// Queues `message` behind the others; `channel_buffered` is the channel's `bufferedAmount` now (0
    /// before the channel exists). Fails, dropping everything that waited, when the link would hold more
    /// than [`SendLimits::max_queued`]; and after that, for every message.
    pub fn push(&mut self, message: ChannelMessage, channel_buffered: u64) -> Result<(), SendQueueError> {
        if self.overflowed {
            return Err(SendQueueError::Closed);
        }
        let total = channel_buffered.saturating_add(self.waiting_bytes).saturating_add(message_len(&message));
        if total > self.limits.max_queued {
            self.overflowed = true;
            self.waiting.clear();
            self.waiting_bytes = 0;
            return Err(SendQueueError::Full { queued: total, limit: self.limits.max_queued });
        }
        self.waiting_bytes += message_len(&message);
        self.waiting.push_back(message);
        self.peak_bytes = self.peak_bytes.max(total);
        Ok(())
    }

    /// The next message for the channel, if one waits and the channel's buffer (`channel_buffered`, its
    /// `bufferedAmount` now) is not above the high water. Call it until it says `None` whenever a message was
    /// pushed or the buffer drained.
    pub fn next(&mut self, channel_buffered: u64) -> Option<ChannelMessage> {
        if channel_buffered > self.limits.high_water {
            return None;
        }
        let message = self.waiting.pop_front()?;
        self.waiting_bytes -= message_len(&message);
        Some(message)
    }

    /// Bytes waiting here (not yet handed to the channel).
    pub fn waiting_bytes(&self) -> u64 {
        self.waiting_bytes
    }

    /// Messages waiting here.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The most the link held at once (channel buffer and queue), as seen at each push.
    pub fn peak_bytes(&self) -> u64 {
        self.peak_bytes
    }

    /// True once a push overflowed: the link must be closed.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn limits(&self) -> SendLimits {
        self.limits
    }
}

/// The bytes a message puts on the channel.
pub fn message_len(message: &ChannelMessage) -> u64 {
    match message {
        ChannelMessage::Text(text) => text.len() as u64,
        ChannelMessage::Binary(bytes) => bytes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: SendLimits = SendLimits { high_water: 100, max_queued: 250 };

    fn text(n: usize, tag: char) -> ChannelMessage {
        ChannelMessage::Text(tag.to_string().repeat(n))
    }

    /// Drains the queue into a simulated channel buffer that takes messages while it holds at most the
    /// high water; returns what the channel got.
    fn drain(queue: &mut SendQueue, buffered: &mut u64) -> Vec<ChannelMessage> {
        let mut sent = Vec::new();
        while let Some(message) = queue.next(*buffered) {
            *buffered += message_len(&message);
            sent.push(message);
        }
        sent
    }

    #[test]
    fn messages_go_out_in_order_and_wait_above_the_high_water() {
        let mut queue = SendQueue::new(SMALL);
        let mut buffered = 0;
        for tag in ['a', 'b', 'c', 'd'] {
            queue.push(text(40, tag), buffered).unwrap();
        }
        // 0, 40, 80 are not above 100: three go to the channel; at 120 the fourth waits.
        let sent = drain(&mut queue, &mut buffered);
        assert_eq!(sent, vec![text(40, 'a'), text(40, 'b'), text(40, 'c')]);
        assert_eq!((buffered, queue.waiting_bytes(), queue.len()), (120, 40, 1));
        // The channel drained (bufferedamountlow): the rest goes, still in order.
        buffered = 10;
        assert_eq!(drain(&mut queue, &mut buffered), vec![text(40, 'd')]);
        assert!(queue.is_empty());
        assert_eq!(queue.peak_bytes(), 160);
    }

    #[test]
    fn the_bound_counts_the_channel_buffer_and_the_queue_together() {
        let mut queue = SendQueue::new(SMALL);
        queue.push(text(100, 'a'), 150).unwrap();
        assert_eq!(queue.peak_bytes(), 250, "exactly the limit is allowed");
        let err = queue.push(text(1, 'b'), 150).unwrap_err();
        assert_eq!(err, SendQueueError::Full { queued: 251, limit: 250 });
        assert!(queue.overflowed());
        // What waited is dropped at once, and nothing more is taken: the shell closes the link.
        assert_eq!((queue.waiting_bytes(), queue.len()), (0, 0));
        assert_eq!(queue.next(0), None);
        assert_eq!(queue.push(text(1, 'c'), 0), Err(SendQueueError::Closed));
        assert_eq!(queue.peak_bytes(), 250, "the peak never exceeds the limit");
    }

    #[test]
    fn a_link_whose_channel_keeps_up_never_overflows() {
        // 10,000 messages of 30 bytes, with the channel sending 60 bytes between pushes: far more than the
        // limit goes through, and the link never holds more than the limit.
        let mut queue = SendQueue::new(SMALL);
        let mut buffered = 0u64;
        let mut through = 0u64;
        for i in 0..10_000 {
            queue.push(text(30, if i % 2 == 0 { 'x' } else { 'y' }), buffered).unwrap();
            through += drain(&mut queue, &mut buffered).iter().map(message_len).sum::<u64>();
            buffered = buffered.saturating_sub(60);
        }
        assert!(!queue.overflowed());
        assert!(queue.peak_bytes() <= SMALL.max_queued);
        assert_eq!(through + queue.waiting_bytes(), 300_000);
    }

    #[test]
    fn a_flood_into_a_stalled_channel_is_cut_at_the_limit() {
        // The peer asks for far more than it reads: the link overflows once, at the limit, whatever comes after.
        let mut queue = SendQueue::new(SMALL);
        let mut buffered = 0;
        let mut refused = Vec::new();
        for _ in 0..1_000 {
            if let Err(err) = queue.push(text(30, 'z'), buffered) {
                refused.push(err);
            }
            drain(&mut queue, &mut buffered);
            assert!(buffered + queue.waiting_bytes() <= SMALL.max_queued);
        }
        assert!(matches!(refused[0], SendQueueError::Full { limit: 250, .. }));
        assert!(refused[1..].iter().all(|it| *it == SendQueueError::Closed));
        assert!(queue.peak_bytes() <= SMALL.max_queued);
    }

    #[test]
    fn binary_messages_count_their_bytes() {
        let mut queue = SendQueue::new(SMALL);
        queue.push(ChannelMessage::Binary(vec![0; 70]), 0).unwrap();
        queue.push(ChannelMessage::Text("é".into()), 0).unwrap();
        assert_eq!(queue.waiting_bytes(), 72, "UTF-8 bytes, not characters");
    }

    #[test]
    fn the_link_limits_are_the_default() {
        assert_eq!(SendLimits::default(), SendLimits::LINK);
    }
}
