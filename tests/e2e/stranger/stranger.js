// A stranger of issue 13 on the stock `peerjs` 1.5.5 client, speaking multichat's wire format without the
// identity handshake (as a first contact may): it registers its own PeerJS id, dials a multichat user with
// multichat's metadata, says `mc.hello`, answers pings, and writes chats in the direct room. It records what
// it receives and when each of its connections closes, so a test can tell a refused connection.
'use strict';

(() => {
  const received = []; // { conn, frame }
  const closed = []; // connection ids, in the order they closed
  let peer = null;
  let me = null;
  let seq = 0;

  function options(server) {
    return { host: server.host, port: server.port, path: server.path, secure: false, key: 'peerjs', config: { iceServers: [] }, debug: 1 };
  }

  function watch(conn) {
    conn.on('data', (frame) => {
      received.push({ conn: conn.connectionId, frame });
      if (frame?.type === 'mc.ping') conn.send({ type: 'mc.pong', n: frame.n });
    });
    conn.on('close', () => closed.push(conn.connectionId));
  }

  window.stranger = {
    received,
    closed,

    /** Registers `secure-p2p-multichat-<name>`; resolves when the server accepted it. */
    register(name, server) {
      me = name;
      return new Promise((resolve, reject) => {
        peer = new peerjs.Peer(`secure-p2p-multichat-${name}`, options(server));
        peer.on('open', () => resolve());
        peer.on('error', (err) => reject(new Error(`${err.type}: ${err.message}`)));
        peer.on('connection', (conn) => { watch(conn); conn.on('open', () => conn.close()); });
      });
    },

    /**
     * Dials `target` (a username) with multichat's metadata and greets; then writes each of `texts` in the
     * direct room, `gapMs` apart. Resolves with the connection id once they are sent, or with `{ refused }` when
     * the connection closed before (or without) opening.
     */
    async write(target, texts, { gapMs = 300 } = {}) {
      const conn = peer.connect(`secure-p2p-multichat-${target}`, { metadata: { peerIds: [], multichat: { v: 1 } }, serialization: 'json', reliable: true });
      watch(conn);
      const opened = await new Promise((resolve) => {
        conn.on('open', () => resolve(true));
        conn.on('close', () => resolve(false));
        conn.on('error', () => resolve(false));
        setTimeout(() => resolve(false), 15000);
      });
      if (!opened) return { refused: conn.connectionId };
      conn.send({ type: 'mc.hello', v: 1, user: me, caps: ['ack', 'sync', 'rooms', 'ping'], auth: null, session: Date.now() });
      const room = [me, target].sort().join(':');
      for (const text of texts) {
        await new Promise((resolve) => setTimeout(resolve, gapMs));
        if (!conn.open) break;
        seq += 1;
        const id = `m-${me}-${Date.now().toString(16)}-${seq}`;
        conn.send({ type: 'chat', chat: { sender: me, message: text, timestamp: Date.now() }, id, seq, room: `dm:${room}` });
      }
      return { conn: conn.connectionId };
    },

    /** Whether the connection `id` has closed. */
    isClosed(id) {
      return closed.includes(id);
    },
  };
})();
