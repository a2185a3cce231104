// A stored history for the search benchmark and e2e test: `messages` messages over direct conversations
// with `peers`, written as the worker stores them (src/chat/history.rs: the room list, one meta record per
// room, pages of 128 messages), deterministic (the same text every run). One old message, in the
// conversation with the first peer, holds NEEDLE. The records are merged into a signed-in profile's storage.

export const NEEDLE = 'Quetzalcóatl';
export const NEEDLE_CONTEXT = 'the feathered serpent';
const PAGE_SIZE = 128;

const WORDS = [
  'the', 'a', 'meeting', 'tomorrow', 'lunch', 'café', 'train', 'late', 'photo', 'weekend', 'project', 'deadline',
  'birthday', 'party', 'okay', 'thanks', 'see', 'you', 'at', 'noon', 'Zürich', 'crème', 'brûlée', 'naïve', 'résumé',
  'call', 'me', 'when', 'home', 'dinner', 'movie', 'tonight', 'ticket', 'flight', 'hotel', 'garden', 'rain', 'sun',
  'coffee', 'tea', 'book', 'music', 'concert', 'office', 'report', 'budget', 'review', 'draft', 'idea', 'plan',
];

function directRoom(a, b) {
  const [first, second] = a <= b ? [a, b] : [b, a];
  return `dm:${first}:${second}`;
}

/**
 * The records of `owner`'s history: `{ records, needle: { room, id, peer } }`. `needleAt` is the index (in
 * arrival order over all rooms) of the message holding NEEDLE; `start` the first message's time.
 */
export function searchSeed({ owner = 'alice', peers = ['bob', 'carol', 'dave', 'erin'], messages = 100000, needleAt = 1234, start = Date.now() - messages * 60000 } = {}) {
  let state = 7n;
  const next = () => {
    state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number(state >> 33n);
  };
  const rooms = peers.map((peer) => ({ peer, id: directRoom(owner, peer), pages: [[]], count: 0, seqs: { [owner]: 0, [peer]: 0 }, last: 0 }));
  let needle;
  for (let n = 0; n < messages; n++) {
    const room = n === needleAt ? rooms[0] : rooms[next() % rooms.length];
    const sender = next() % 2 === 0 ? owner : room.peer;
    const words = 4 + (next() % 12);
    const text = [];
    for (let i = 0; i < words; i++) text.push(WORDS[next() % WORDS.length]);
    if (n === needleAt) text.splice(2, 0, NEEDLE, NEEDLE_CONTEXT);
    room.seqs[sender] += 1;
    const time = start + n * 60000;
    const id = `m-${n.toString(16).padStart(32, '0')}`;
    const message = { id, room: room.id, sender, text: text.join(' '), timestamp: time, received_at: time, seq: room.seqs[sender] };
    if (sender === owner) message.state = 'delivered';
    let page = room.pages[room.pages.length - 1];
    if (page.length === PAGE_SIZE) {
      page = [];
      room.pages.push(page);
    }
    page.push(message);
    room.count += 1;
    room.last = time;
    if (n === needleAt) needle = { room: room.id, id, peer: room.peer, text: message.text };
  }
  const records = {
    [`chat/${owner}/rooms`]: {
      rooms: rooms.map((room) => ({ id: room.id, kind: { kind: 'direct' }, members: [owner, room.peer].sort(), pages_hint: room.pages.length - 1 })),
    },
  };
  for (const room of rooms) {
    records[`h/${owner}/${room.id}/meta`] = {
      page_count: room.pages.length,
      last_page_len: room.pages[room.pages.length - 1].length,
      message_count: room.count,
      senders: Object.fromEntries(Object.entries(room.seqs).map(([user, seq]) => [user, { contiguous: seq }])),
      outbox: [],
      unread: 0,
      last_activity: room.last,
    };
    room.pages.forEach((page, index) => { records[`h/${owner}/${room.id}/${index}`] = { messages: page }; });
  }
  return { records, needle };
}
