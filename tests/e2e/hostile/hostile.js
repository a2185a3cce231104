// A hostile peer for tests/e2e/hostile_peer.test.mjs: the stock `peerjs` 1.5.5 client, registered under a
// multichat id, that dials a multichat user the way the original page does and then sends whatever the test
// asks for: PeerJS values (`send`), or bytes and strings straight onto the data channel (`sendRaw`), past
// PeerJS's own framing.
'use strict';

(() => {
  const state = { opened: false, open: false, closed: false, received: [], errors: [] };
  let peer;
  let conn;

  window.hostile = {
    state,
    /** Registers `secure-p2p-multichat-<name>` with the server on 127.0.0.1:`port`. */
    start(name, port) {
      peer = new peerjs.Peer(`secure-p2p-multichat-${name}`, {
        host: '127.0.0.1', port, path: '/myapp', secure: false, key: 'peerjs', config: { iceServers: [] }, debug: 1,
      });
      peer.on('open', () => { state.opened = true; });
      peer.on('error', (err) => state.errors.push(`${err.type}: ${err.message}`));
    },
    /** Dials `username` with the original page's metadata, reliable (ordered) and BinaryPack-framed. */
    dial(username) {
      conn = peer.connect(`secure-p2p-multichat-${username}`, { metadata: { peerIds: [] }, serialization: 'binary', reliable: true });
      conn.on('open', () => { state.open = true; });
      conn.on('data', (data) => state.received.push(data));
      conn.on('close', () => { state.closed = true; state.open = false; });
      conn.on('error', (err) => state.errors.push(`${err.type}: ${err.message}`));
    },
    send(value) { conn.send(value); },
    /** A chat in the original page's shape; `sender` may be anything. */
    chat(message, sender = 'mallory') { conn.send({ type: 'chat', chat: { sender, message, timestamp: Date.now() } }); },
    /** Straight onto the data channel: a string goes as a text frame, an array of numbers as bytes. */
    sendRaw(data) { conn.dataChannel.send(typeof data === 'string' ? data : new Uint8Array(data)); },
    /** `n` chats as fast as the page can queue them. */
    flood(n) {
      for (let i = 0; i < n; i += 1) window.hostile.chat(`flood ${i}`);
    },
    /** Chat texts received from the other side. */
    chats() { return state.received.filter((it) => it?.type === 'chat').map((it) => `${it.chat.sender}: ${it.chat.message}`); },
  };
})();
