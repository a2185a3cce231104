// A PeerJS signaling server for the man-in-the-middle tests, on 127.0.0.1, speaking the official server's
// protocol (shared/notes/peerjs-protocol.md): OPEN on connect, HEARTBEAT ignored, OFFER/ANSWER/CANDIDATE/
// LEAVE relayed to `dst` with `src` overwritten, messages to an absent id held for 5 s and then EXPIREd.
//
// Honest until `intercept()` is called. Then it does what a malicious or compromised server can do: it sends
// everything addressed to one victim to the attacker's stand-in for that victim, and everything the
// attacker's stand-ins send to the victims as if it came from the other victim. With an attacker relaying
// between the two data channels, each victim holds a real DTLS session, but with the attacker.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const EXPIRE_AFTER_MS = 5000;

/**
 * Starts the server. Resolves with `{ settings, intercept({ a, b, posingAsB, posingAsA }), honest(), routed,
 * close() }`: while intercepting, what `a` sends to `b` reaches `posingAsB` (from `a`), what `posingAsB`
 * sends to `a` reaches `a` from `b`, and the same the other way round. `routed` lists every relayed message
 * as `{ type, from, to }` (the real sender and the real receiver).
 */
export async function startRogueServer({ port, path = '/myapp' }) {
  const sockets = new Map(); // id → WebSocket
  const queued = new Map(); // id → [{ message, at }]
  const routed = [];
  let plan = null;

  const http = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"PeerJS Server"}');
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const id = url.searchParams.get('id');
    if (url.pathname !== `${path}/peerjs` || !id || !url.searchParams.get('token') || !url.searchParams.get('key')) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => connected(id, url.searchParams.get('token'), ws));
  });

  function connected(id, token, ws) {
    const previous = sockets.get(id);
    if (previous && previous.readyState === previous.OPEN && previous.token !== token) {
      ws.send(JSON.stringify({ type: 'ID-TAKEN', payload: { msg: 'ID is taken' } }));
      ws.close();
      return;
    }
    ws.token = token;
    sockets.set(id, ws);
    ws.send(JSON.stringify({ type: 'OPEN' }));
    for (const { message } of queued.get(id) ?? []) ws.send(JSON.stringify(message));
    queued.delete(id);
    ws.on('message', (data) => {
      let message;
      try { message = JSON.parse(data.toString()); } catch { return; }
      if (message?.type === 'HEARTBEAT' || typeof message?.dst !== 'string') return;
      relay(id, message);
    });
    ws.on('close', () => { if (sockets.get(id) === ws) sockets.delete(id); });
  }

  /** Where a message from `from` to `dst` really goes, and whom it claims to come from. */
  function route(from, dst) {
    if (!plan) return { to: dst, src: from };
    const { a, b, posingAsA, posingAsB } = plan;
    if (from === a && dst === b) return { to: posingAsB, src: a };
    if (from === b && dst === a) return { to: posingAsA, src: b };
    if (from === posingAsB && dst === a) return { to: a, src: b };
    if (from === posingAsA && dst === b) return { to: b, src: a };
    return { to: dst, src: from };
  }

  function relay(from, message) {
    const { to, src } = route(from, message.dst);
    const out = { type: message.type, src, dst: to, payload: message.payload };
    routed.push({ type: message.type, from, to });
    const socket = sockets.get(to);
    if (socket) {
      socket.send(JSON.stringify(out));
    } else if (message.type !== 'LEAVE' && message.type !== 'EXPIRE') {
      if (!queued.has(to)) queued.set(to, []);
      queued.get(to).push({ message: out, at: Date.now(), from });
    }
  }

  // As the official server: undelivered messages expire, and the sender hears so once.
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [id, list] of queued) {
      if (now - list[0].at < EXPIRE_AFTER_MS) continue;
      queued.delete(id);
      for (const from of new Set(list.map((it) => it.from))) {
        sockets.get(from)?.send(JSON.stringify({ type: 'EXPIRE', src: id, dst: from }));
      }
    }
  }, 1000);

  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    path,
    settings: { host: '127.0.0.1', port, path, key: 'peerjs', secure: false },
    routed,
    intercept(next) { plan = next; },
    honest() { plan = null; },
    close: () => new Promise((resolve) => {
      clearInterval(sweeper);
      for (const socket of sockets.values()) socket.terminate();
      wss.close();
      http.closeAllConnections?.();
      http.close(() => resolve());
    }),
  };
}
