// A page driven by Playwright that runs the stock `peerjs` 1.5.5 client (the global `peerjs` from
// peerjs.min.js). It records everything each connection receives, so a test can compare it byte for byte.
'use strict';

(() => {
  const peers = new Map(); // local id → { peer, opened, errors }
  const conns = new Map(); // connectionId → record

  // JSON-friendly description of a received value (the page never sees anything but strings from our tests,
  // but the extension's chat layer may also send objects).
  function describe(value) {
    if (typeof value === 'string') return { type: 'string', value };
    if (value instanceof ArrayBuffer) return { type: 'arraybuffer', bytes: Array.from(new Uint8Array(value)) };
    if (ArrayBuffer.isView(value)) return { type: 'bytes', bytes: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
    return { type: 'json', value: JSON.parse(JSON.stringify(value ?? null)) };
  }

  function track(localId, conn, outgoing) {
    const record = {
      id: conn.connectionId,
      local: localId,
      remote: conn.peer,
      outgoing,
      serialization: conn.serialization,
      label: conn.label,
      metadata: conn.metadata ?? null,
      open: false,
      openedAt: null,
      closed: false,
      received: [],
      errors: [],
      // Benchmark helpers: `echo` sends back strings that start with "ping:"; `countOnly` keeps byte counts
      // instead of the values.
      echo: false,
      countOnly: false,
      bytes: 0,
      count: 0,
      lastAt: null,
      conn,
    };
    conns.set(conn.connectionId, record);
    conn.on('open', () => { record.open = true; record.openedAt = performance.now(); });
    conn.on('data', (data) => {
      if (record.echo && typeof data === 'string' && data.startsWith('ping:')) conn.send(data);
      record.count += 1;
      record.bytes += typeof data === 'string' ? data.length : (data?.byteLength ?? 0);
      record.lastAt = Date.now();
      if (!record.countOnly) record.received.push(describe(data));
    });
    conn.on('error', (err) => record.errors.push({ type: err?.type ?? null, message: String(err?.message ?? err) }));
    conn.on('close', () => { record.closed = true; });
    return record;
  }

  function info(record) {
    const { conn, ...rest } = record;
    return { ...rest, received: undefined, receivedCount: record.received.length };
  }

  function timeout(ms, what) {
    return new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms));
  }

  window.stock = {
    version: globalThis.peerjs?.util?.version ?? null,

    /** Registers `id` with the server; resolves with the ms from `new Peer` to 'open'. */
    async createPeer(id, server) {
      const t0 = performance.now();
      const peer = new peerjs.Peer(id, {
        host: server.host,
        port: server.port,
        path: server.path,
        secure: false,
        key: 'peerjs',
        config: { iceServers: [] },
        debug: 1,
      });
      const entry = { peer, errors: [] };
      peers.set(id, entry);
      peer.on('error', (err) => entry.errors.push({ type: err?.type ?? null, message: String(err?.message ?? err) }));
      peer.on('connection', (conn) => track(id, conn, false));
      await Promise.race([
        new Promise((resolve, reject) => {
          peer.once('open', resolve);
          peer.once('error', reject);
        }),
        timeout(10000, `peer ${id} did not open`),
      ]);
      return performance.now() - t0;
    },

    /** Dials `remote` from the local peer `local`; resolves with { id, ms } once the connection is open. */
    async connect(local, remote, { serialization, reliable = true, metadata } = {}) {
      const { peer } = peers.get(local);
      const t0 = performance.now();
      const conn = peer.connect(remote, { serialization, reliable, metadata });
      const record = track(local, conn, true);
      await Promise.race([
        new Promise((resolve, reject) => {
          conn.once('open', resolve);
          conn.once('error', reject);
          peer.once('error', reject);
        }),
        timeout(15000, `connection ${local} → ${remote} did not open`),
      ]);
      return { id: record.id, ms: performance.now() - t0 };
    },

    /** Connections of a local peer (open or not), without the received values. */
    connections(local) {
      return [...conns.values()].filter((it) => local === undefined || it.local === local).map(info);
    },

    connection(id) {
      const record = conns.get(id);
      return record ? info(record) : null;
    },

    /** Everything received on a connection, in order. */
    received(id) {
      return conns.get(id)?.received ?? null;
    },

    /** Sends each value in order; returns nothing (errors land in the connection's `errors`). */
    send(id, ...values) {
      const record = conns.get(id);
      if (!record) throw new Error(`no connection ${id}`);
      for (const value of values) record.conn.send(value);
    },

    /** Sends `count` copies of a string of `size` ASCII characters (for throughput). */
    sendBulk(id, size, count) {
      const record = conns.get(id);
      const chunk = 'x'.repeat(size);
      const t0 = Date.now();
      for (let i = 0; i < count; i++) record.conn.send(chunk);
      return t0;
    },

    setMode(id, { echo, countOnly }) {
      const record = conns.get(id);
      if (echo !== undefined) record.echo = echo;
      if (countOnly !== undefined) record.countOnly = countOnly;
      record.bytes = 0;
      record.count = 0;
      record.lastAt = null;
    },

    /** Sequential round trips over a connection whose other side echoes "ping:" strings. */
    async pings(id, n) {
      const record = conns.get(id);
      const times = [];
      for (let i = 0; i < n; i++) {
        const text = `ping:${i}`;
        const t0 = performance.now();
        await new Promise((resolve) => {
          const onData = (data) => {
            if (data === text) {
              record.conn.off('data', onData);
              resolve();
            }
          };
          record.conn.on('data', onData);
          record.conn.send(text);
        });
        times.push(performance.now() - t0);
      }
      return times;
    },

    close(id) {
      conns.get(id)?.conn.close();
    },

    peerErrors(local) {
      return peers.get(local)?.errors ?? null;
    },

    destroyPeer(local) {
      const entry = peers.get(local);
      if (entry) entry.peer.destroy();
      peers.delete(local);
    },
  };
})();
