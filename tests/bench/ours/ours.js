// Our Rust PeerJS client in a plain page (built by `cargo xtask bench` with `--features bench-api`), behind
// the same `window.stock` interface the stock page offers (tests/e2e/stock/stock.js), so the benchmark
// drives both the same way.
import init, { BenchPeer } from '/pkg/multichat_web.js';

await init();

const peers = new Map(); // local id → { peer, online, waiters }
const conns = new Map(); // connection id → record

function record(id, local, remote) {
  const it = { id, local, remote, open: false, closed: false, bytes: 0, count: 0, lastAt: null, listeners: new Set() };
  conns.set(id, it);
  return it;
}

function onEvent(local) {
  return (event) => {
    const entry = peers.get(local);
    switch (event.kind) {
      case 'online': entry.online = true; entry.onOnline?.(); break;
      case 'open': {
        const it = conns.get(event.connection) ?? record(event.connection, local, event.peer);
        it.open = true;
        it.onOpen?.();
        break;
      }
      case 'data': {
        const it = conns.get(event.connection);
        if (!it) break;
        it.count += 1;
        it.bytes += typeof event.value === 'string' ? event.value.length : 0;
        it.lastAt = Date.now();
        for (const listener of it.listeners) listener(event.value);
        break;
      }
      case 'closed': { const it = conns.get(event.connection); if (it) it.closed = true; break; }
      default: break;
    }
  };
}

const timeout = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms));

window.stock = {
  version: 'ours',

  async createPeer(id, server) {
    const t0 = performance.now();
    const entry = { online: false };
    peers.set(id, entry);
    const online = new Promise((resolve) => { entry.onOnline = resolve; });
    entry.peer = new BenchPeer(id, server.host, server.port, server.path, onEvent(id));
    await Promise.race([online, timeout(10000, `peer ${id} did not open`)]);
    return performance.now() - t0;
  },

  async connect(local, remote, { serialization = 'binary' } = {}) {
    const { peer } = peers.get(local);
    const t0 = performance.now();
    const id = peer.connect(remote, serialization);
    const it = record(id, local, remote);
    await Promise.race([new Promise((resolve) => { it.onOpen = resolve; }), timeout(15000, `connection ${local} → ${remote} did not open`)]);
    return { id, ms: performance.now() - t0 };
  },

  connection(id) {
    const it = conns.get(id);
    return it ? { id: it.id, open: it.open, closed: it.closed, bytes: it.bytes, count: it.count, lastAt: it.lastAt } : null;
  },

  sendBulk(id, size, count) {
    const it = conns.get(id);
    const { peer } = peers.get(it.local);
    const chunk = 'x'.repeat(size);
    const t0 = Date.now();
    for (let i = 0; i < count; i++) peer.send(id, chunk);
    return t0;
  },

  async pings(id, n) {
    const it = conns.get(id);
    const { peer } = peers.get(it.local);
    const times = [];
    for (let i = 0; i < n; i++) {
      const text = `ping:${i}`;
      const t0 = performance.now();
      await new Promise((resolve) => {
        const listener = (value) => { if (value === text) { it.listeners.delete(listener); resolve(); } };
        it.listeners.add(listener);
        peer.send(id, text);
      });
      times.push(performance.now() - t0);
    }
    return times;
  },

  close(id) {
    const it = conns.get(id);
    if (it) peers.get(it.local)?.peer.close(id);
  },

  destroyPeer(local) {
    peers.get(local)?.peer.destroy();
    peers.delete(local);
  },
};
window.oursReady = true;
