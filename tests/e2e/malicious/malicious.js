// A malicious peer for tests/e2e/malicious_member.test.mjs: the stock `peerjs` 1.5.5 client, registered under
// a multichat id, that speaks multichat's wire format (src/chat/wire.rs) without its identity handshake: it
// greets with `mc.hello` (`auth: null`, so it passes as an unverified stranger), answers pings so its links
// stay up, and sends whatever frames the test builds. It records every frame it receives, per peer, so the
// test can check it was given nothing of a room it was never invited to.
'use strict';

(() => {
  const state = { opened: false, errors: [], closedLinks: 0 };
  /** Username → the newest open connection with them. */
  const open = new Map();
  /** Every frame received: `{ from, type, room, size, frame }` (`frame` only when small). */
  const received = [];
  let peer;
  let me;

  const HELLO_CAPS = ['ack', 'sync', 'rooms', 'ping'];
  const usernameOf = (peerId) => peerId.replace(/^secure-p2p-multichat-/, '');

  function track(conn) {
    const who = usernameOf(conn.peer);
    conn.on('open', () => {
      open.set(who, conn);
      conn.send({ type: 'mc.hello', v: 1, user: me, caps: HELLO_CAPS, auth: null, session: Date.now() });
    });
    conn.on('data', (data) => {
      const size = JSON.stringify(data ?? null).length;
      received.push({ from: who, type: data?.type, room: data?.room, size, frame: size < 20000 ? data : undefined });
      if (data?.type === 'mc.ping') conn.send({ type: 'mc.pong', n: data.n });
    });
    conn.on('close', () => {
      state.closedLinks += 1;
      if (open.get(who) === conn) open.delete(who);
    });
    conn.on('error', (err) => state.errors.push(`${err.type}: ${err.message}`));
  }

  window.malicious = {
    state,
    /** Registers `secure-p2p-multichat-<name>` with the server on 127.0.0.1:`port`; takes every connection. */
    start(name, port) {
      me = name;
      peer = new peerjs.Peer(`secure-p2p-multichat-${name}`, {
        host: '127.0.0.1', port, path: '/myapp', secure: false, key: 'peerjs', config: { iceServers: [] }, debug: 1,
      });
      peer.on('open', () => { state.opened = true; });
      peer.on('connection', track);
      peer.on('error', (err) => state.errors.push(`${err.type}: ${err.message}`));
    },
    /** Dials `username` as a multichat peer would (our metadata, BinaryPack, reliable). */
    dial(username) {
      track(peer.connect(`secure-p2p-multichat-${username}`, {
        metadata: { peerIds: [], multichat: { v: 1 } }, serialization: 'binary', reliable: true,
      }));
    },
    isOpen(username) { return open.has(username); },
    /** Sends each of `frames` to `username` on the newest open connection; false if there is none. */
    send(username, frames) {
      const conn = open.get(username);
      if (!conn) return false;
      for (const frame of frames) conn.send(frame);
      return true;
    },
    /** `n` copies of `frame` to `username`, as fast as the page can queue them. */
    flood(username, frame, n) {
      const conn = open.get(username);
      if (!conn) return false;
      for (let i = 0; i < n; i += 1) conn.send(frame);
      return true;
    },
    received() { return received.map(({ frame, ...rest }) => ({ ...rest, frame })); },
    /** What was received, summarized: no frame bodies. */
    summary() { return received.map(({ from, type, room, size }) => ({ from, type, room, size })); },
    /** Chat texts received in frames of any kind (live chats and catch-up batches). */
    texts() {
      const out = [];
      for (const { from, frame } of received) {
        if (frame?.type === 'chat') out.push({ from, room: frame.room, sender: frame.chat?.sender, text: frame.chat?.message });
        if (frame?.type === 'mc.batch') {
          for (const it of frame.messages ?? []) out.push({ from, room: frame.room, sender: it.chat?.sender, text: it.chat?.message });
        }
      }
      return out;
    },
  };
})();
