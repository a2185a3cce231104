// Benchmark (prints figures, asserts nothing): our PeerJS client (the extension's engine, Rust/wasm) next to
// the stock `peerjs` 1.5.5 client, on loopback through the official `peer` server, in one run:
//   stock↔stock: a stock page (browser 1) and a stock page (browser 2)
//   ours→stock:  our extension's engine (browser 3) and the same stock page in browser 2
// Figures: start → signaling open, connect() → channel open, small-message round trip (median and p99),
// and the throughput of a 10 MiB transfer.
// Our side is driven from the popup page through chrome.runtime messages to the engine (the offscreen
// document), and it observes the engine's reports to the worker through a copy the engine's document makes
// (harness.mjs, signInAndGoOnline), so every figure of ours
// includes that internal extension messaging (and the worker's chat layer, which also sees every report).
// Run through `cargo xtask bench`, inside a loopback-only network namespace.
import {
  assertLoopbackOnly, freshProfileDir, launchBrowser, launchStockBrowser, openStockPage, removeProfileDir,
  signInAndGoOnline, startPeerServer, startStaticServer, stockPageFiles,
} from '../e2e/harness.mjs';

assertLoopbackOnly();

const PREFIX = 'secure-p2p-multichat-';
const RUNS = 5;
const PINGS = 200;
const WARMUP_PINGS = 10;
const CHUNK = 16 * 1024;
const CHUNKS = 640; // 10 MiB
const TOTAL = CHUNK * CHUNKS;
const TRANSFERS = 3;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(read, done, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await sleep(20);
  }
}

const server = await startPeerServer({ port: 9511 });
const files = await startStaticServer(stockPageFiles());
const stock1 = await launchStockBrowser();
const stock2 = await launchStockBrowser();
const profile = freshProfileDir('bench-peerjs');
const ext = await launchBrowser(profile);
const results = {};

try {
  const pageA = await openStockPage(stock1, files);
  const pageB = await openStockPage(stock2, files);
  const popup = await signInAndGoOnline(ext, 'benchours', server);
  const oursId = `${PREFIX}benchours`;
  const settings = { server: server.settings, ice_servers: [], notifications: false };

  // --- start → signaling open --------------------------------------------------------------------------
  const stockOpen = [];
  for (let i = 0; i < RUNS; i++) {
    const id = `${PREFIX}bench-open-${i}`;
    stockOpen.push(await pageA.evaluate(([id, s]) => window.stock.createPeer(id, s), [id, server.settings]));
    await pageA.evaluate((id) => window.stock.destroyPeer(id), id);
  }
  const oursOpen = [];
  for (let i = 0; i < RUNS; i++) {
    // Take the engine offline, give the server a moment to free the id, then configure it ourselves.
    await popup.evaluate(() => chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'shutdown' } }));
    await sleep(500);
    oursOpen.push(await popup.evaluate(async ({ peerId, token, settings }) => {
      const online = new Promise((resolve) => {
        globalThis.onReport = (body) => {
          if (body?.kind === 'status' && body.status === 'online') {
            globalThis.onReport = null;
            resolve(performance.now());
          }
        };
      });
      const t0 = performance.now();
      chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'configure', peer_id: peerId, token, settings } });
      return (await online) - t0;
    }, { peerId: oursId, token: `benchtoken${i}`, settings }));
  }
  results.open = { stock: stockOpen, ours: oursOpen };

  // The echo peer (browser 2) and the stock dialer (browser 1).
  const idA = `${PREFIX}bench-a`;
  const idB = `${PREFIX}bench-b`;
  await pageA.evaluate(([id, s]) => window.stock.createPeer(id, s), [idA, server.settings]);
  await pageB.evaluate(([id, s]) => window.stock.createPeer(id, s), [idB, server.settings]);

  // --- connect() → channel open ------------------------------------------------------------------------
  const stockConnect = [];
  for (let i = 0; i < RUNS; i++) {
    const { id, ms } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'json' }), [idA, idB]);
    stockConnect.push(ms);
    await pageA.evaluate((id) => window.stock.close(id), id);
    await sleep(200);
  }
  // Ours: dial command → link_up report. Each link is closed at once (before the chat layer's 3 s grace
  // makes the stock peer a contact it would redial).
  async function oursDial(serialization) {
    return popup.evaluate(async ({ peerId, serialization }) => {
      const up = new Promise((resolve, reject) => {
        globalThis.onReport = (body) => {
          if (body?.kind === 'link_up' && body.info.peer_id === peerId && body.info.outgoing) {
            globalThis.onReport = null;
            resolve({ link: body.info.link, at: performance.now() });
          } else if (body?.kind === 'dial_failed' && body.peer_id === peerId) {
            reject(new Error(`dial failed: ${body.reason}`));
          }
        };
      });
      const t0 = performance.now();
      chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'dial', peer_id: peerId, metadata: null, serialization } });
      const { link, at } = await up;
      return { link, ms: at - t0 };
    }, { peerId: idB, serialization });
  }
  const oursConnect = [];
  for (let i = 0; i < RUNS; i++) {
    const { link, ms } = await oursDial('json');
    oursConnect.push(ms);
    await popup.evaluate((link) => chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'close', link } }), link);
    await sleep(200);
  }
  results.connect = { stock: stockConnect, ours: oursConnect };

  // --- round trip of small messages (json; the stock page in browser 2 echoes "ping:" strings) --------
  const { id: stockPingLink } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'json' }), [idA, idB]);
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, stockPingLink), Boolean, 10000, 'echo side open');
  await pageB.evaluate((id) => window.stock.setMode(id, { echo: true, countOnly: true }), stockPingLink);
  await pageA.evaluate(([id, n]) => window.stock.pings(id, n), [stockPingLink, WARMUP_PINGS]);
  const stockRtt = await pageA.evaluate(([id, n]) => window.stock.pings(id, n), [stockPingLink, PINGS]);

  const { link: oursPingLink } = await oursDial('json');
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, oursPingLink), Boolean, 10000, 'echo side open');
  await pageB.evaluate((id) => window.stock.setMode(id, { echo: true, countOnly: true }), oursPingLink);
  const oursPings = (n) => popup.evaluate(async ({ link, n }) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const text = `ping:${i}`;
      const t0 = performance.now();
      await new Promise((resolve) => {
        globalThis.onReport = (body) => {
          if (body?.kind === 'frame' && body.link === link && body.frame === text) {
            globalThis.onReport = null;
            resolve();
          }
        };
        chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'send', link, frame: text } });
      });
      times.push(performance.now() - t0);
    }
    return times;
  }, { link: oursPingLink, n });
  await oursPings(WARMUP_PINGS);
  const oursRtt = await oursPings(PINGS);
  results.rtt = { stock: stockRtt, ours: oursRtt };

  // --- throughput: 640 × 16 KiB strings over binary (BinaryPack, chunked by both clients) -------------
  const { id: stockBulkLink } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'binary' }), [idA, idB]);
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, stockBulkLink), Boolean, 10000, 'receiver open');
  const { link: oursBulkLink } = await oursDial('binary');
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, oursBulkLink), Boolean, 10000, 'receiver open');
  // Alternating runs on the same two connections; the receiver's counters are reset before each.
  const stockSecs = [];
  const oursSecs = [];
  const counted = [];
  for (let run = 0; run < TRANSFERS; run++) {
    await pageB.evaluate((id) => window.stock.setMode(id, { countOnly: true }), stockBulkLink);
    const stockT0 = await pageA.evaluate(([id, size, count]) => window.stock.sendBulk(id, size, count), [stockBulkLink, CHUNK, CHUNKS]);
    const stockDone = await waitFor(() => pageB.evaluate((id) => window.stock.connection(id), stockBulkLink), (it) => it.bytes >= TOTAL, 120000, 'stock 10 MiB');
    stockSecs.push((stockDone.lastAt - stockT0) / 1000);

    await pageB.evaluate((id) => window.stock.setMode(id, { countOnly: true }), oursBulkLink);
    const oursT0 = await popup.evaluate(({ link, size, count }) => {
      const chunk = 'x'.repeat(size);
      const t0 = Date.now();
      for (let i = 0; i < count; i++) chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'send', link, frame: chunk } });
      return t0;
    }, { link: oursBulkLink, size: CHUNK, count: CHUNKS });
    const oursDone = await waitFor(() => pageB.evaluate((id) => window.stock.connection(id), oursBulkLink), (it) => it.bytes >= TOTAL, 120000, 'ours 10 MiB');
    oursSecs.push((oursDone.lastAt - oursT0) / 1000);
    counted.push(stockDone.bytes, oursDone.bytes);
  }
  results.throughput = { stock: TOTAL / median(stockSecs) / 1e6, ours: TOTAL / median(oursSecs) / 1e6, stockSecs, oursSecs, counted };

  // --- the extension's messaging alone: popup → engine `greet` → engine's `hello` report seen in the popup.
  // (Last, because the worker answers a hello with its own configuration, which restarts the engine's peer.)
  results.messaging = await popup.evaluate(async (n) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await new Promise((resolve) => {
        globalThis.onReport = (body) => {
          if (body?.kind === 'hello') {
            globalThis.onReport = null;
            resolve();
          }
        };
        chrome.runtime.sendMessage({ to: 'engine', body: { kind: 'greet' } });
      });
      times.push(performance.now() - t0);
    }
    return times;
  }, 50);
} finally {
  await ext.context.close();
  removeProfileDir(profile);
  await stock1.browser.close();
  await stock2.browser.close();
  await files.close();
  await server.close();
}

// --- report ------------------------------------------------------------------------------------------------
const ms = (v) => `${v.toFixed(1)} ms`;
const rows = [
  ['start → signaling open (median of 5)', median(results.open.stock), median(results.open.ours), ms],
  ['connect() → channel open (median of 5)', median(results.connect.stock), median(results.connect.ours), ms],
  [`round trip, ${PINGS} small json msgs, median`, median(results.rtt.stock), median(results.rtt.ours), ms],
  [`round trip, ${PINGS} small json msgs, p99`, percentile(results.rtt.stock, 0.99), percentile(results.rtt.ours, 0.99), ms],
  ['10 MiB (640 × 16 KiB str, binary), median of 3', results.throughput.stock, results.throughput.ours, (v) => `${v.toFixed(2)} MB/s`],
];
console.log('\nPeerJS on loopback: stock peerjs 1.5.5 ↔ stock, and our engine → stock (official peer 1.0.2 server)');
console.log('Our figures include the extension\'s internal messaging: popup page → chrome.runtime → engine (offscreen');
console.log('document) for commands, and the engine\'s port → worker/popup for reports; the chat layer sees them too.');
console.log('Times: lower is better. Throughput: higher is better (MB = 10^6 bytes; time from the first send to the');
console.log('last byte counted by the stock receiver in browser 2).\n');
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('metric', 50)}${pad('stock↔stock', 16)}${pad('ours→stock', 16)}ours/stock`);
for (const [label, stockValue, oursValue, fmt] of rows) {
  console.log(`${pad(label, 50)}${pad(fmt(stockValue), 16)}${pad(fmt(oursValue), 16)}${(oursValue / stockValue).toFixed(2)}`);
}
console.log(`\nfor scale, the extension's messaging alone (popup → engine command → engine report back, 50 runs):
  median ${ms(median(results.messaging))}, p99 ${ms(percentile(results.messaging, 0.99))}; a round trip of ours crosses it once.`);
console.log('\nraw samples:');
console.log(`  signaling open  stock ${results.open.stock.map((v) => v.toFixed(1)).join(', ')} | ours ${results.open.ours.map((v) => v.toFixed(1)).join(', ')}`);
console.log(`  connect → open  stock ${results.connect.stock.map((v) => v.toFixed(1)).join(', ')} | ours ${results.connect.ours.map((v) => v.toFixed(1)).join(', ')}`);
console.log(`  10 MiB          stock ${results.throughput.stockSecs.map((v) => v.toFixed(2)).join(', ')} s | ours ${results.throughput.oursSecs.map((v) => v.toFixed(2)).join(', ')} s (bytes counted per transfer: ${[...new Set(results.throughput.counted)].join(', ')})`);
// The official server's timers outlive its close(): end the process ourselves.
process.exit(0);
