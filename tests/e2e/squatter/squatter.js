// The squatter of issue 12, on the stock `peerjs` 1.5.5 client: while a multichat user is offline, it
// registers that user's PeerJS id on the signaling server (anyone may, on a public server) and poses as them
// without running the identity handshake: it dials with multichat's metadata and never greets, or dials as
// the original page would (no metadata). It answers nothing, and records everything it receives, so a test
// can tell whether any of the victim's contacts sent it something meant for the real user.
'use strict';

(() => {
  const received = []; // { conn, outgoing, frame }
  let peer = null;

  function options(server) {
    return { host: server.host, port: server.port, path: server.path, secure: false, key: 'peerjs', config: { iceServers: [] }, debug: 1 };
  }

  function record(conn, outgoing) {
    conn.on('data', (frame) => received.push({ conn: conn.connectionId, outgoing, frame }));
  }

  function tryRegister(id, server) {
    return new Promise((resolve, reject) => {
      const candidate = new peerjs.Peer(id, options(server));
      candidate.on('open', () => resolve(candidate));
      candidate.on('error', (err) => { candidate.destroy(); reject(new Error(`${err.type}: ${err.message}`)); });
    });
  }

  window.squatter = {
    received,

    /** Registers `id` (retrying while the server still holds the real user's socket); resolves when open. */
    async register(id, server, { attempts = 40 } = {}) {
      let last;
      for (let i = 0; i < attempts; i += 1) {
        try {
          peer = await tryRegister(id, server);
          // Connections the victim's contacts dial to "this user" are accepted and recorded, never answered.
          peer.on('connection', (conn) => record(conn, false));
          return;
        } catch (err) {
          last = err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      throw new Error(`could not register ${id}: ${last?.message}`);
    },

    /**
     * Dials `target`. `metadata` is what the dialer attaches (multichat's, or none as the original page);
     * once open, `frames` are sent one by one, `gapMs` apart. Resolves when they are sent.
     */
    async dial(target, { metadata, frames, gapMs = 200 }) {
      const conn = peer.connect(target, { metadata, serialization: 'json', reliable: true });
      record(conn, true);
      await new Promise((resolve, reject) => {
        conn.on('open', resolve);
        conn.on('error', (err) => reject(new Error(`dial ${target}: ${err.type}: ${err.message}`)));
        setTimeout(() => reject(new Error(`dial ${target}: not open in 15 s`)), 15000);
      });
      for (const frame of frames) {
        conn.send(frame);
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
    },

    /** Closes every connection, keeping the id. */
    hangUp() {
      for (const conns of Object.values(peer?.connections ?? {})) for (const conn of conns) conn.close();
    },

    /** Gives the id back. */
    leave() {
      peer?.destroy();
      peer = null;
    },
  };
})();
