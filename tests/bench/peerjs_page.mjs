// Benchmark (prints figures, asserts nothing): our Rust PeerJS client and the stock `peerjs` 1.5.5 client,
// each hosted in a plain page (like for like), talking to the same stock page through the official `peer`
// server on loopback:
//   stock→stock: stock page (browser 1) → stock page (browser 2)
//   ours→stock:  our client's page (browser 3, tests/bench/ours/) → the same stock page in browser 2
// Figures: start → signaling open, connect() → channel open, small-message round trip (median and p99),
// and the throughput of a 10 MiB transfer (binary). Run through `cargo xtask bench`.
import { join } from 'node:path';
import {
  assertLoopbackOnly, launchStockBrowser, openStockPage, startPeerServer, startStaticServer, stockPageFiles,
} from '../e2e/harness.mjs';

assertLoopbackOnly();

const PAGE = process.env.MULTICHAT_BENCH_PAGE;
if (!PAGE) throw new Error('MULTICHAT_BENCH_PAGE is not set; run through `cargo xtask bench`');
const RUNS = 5;
const PINGS = 200;
const CHUNK = 16 * 1024;
const CHUNKS = 640;
const TOTAL = CHUNK * CHUNKS;
const TRANSFERS = 3;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
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
    await sleep(10);
  }
}

const server = await startPeerServer({ port: 9513 });
const files = await startStaticServer({
  ...stockPageFiles(),
  '/ours.html': 'tests/bench/ours/index.html',
  '/ours.js': 'tests/bench/ours/ours.js',
  '/pkg/multichat_web.js': join(PAGE, 'multichat_web.js'),
  '/pkg/multichat_web_bg.wasm': join(PAGE, 'multichat_web_bg.wasm'),
});
const browsers = [await launchStockBrowser(), await launchStockBrowser(), await launchStockBrowser()];

/** Runs every measurement with `pageA` as the measured side and `pageB` (stock) as the other end. */
async function measure(label, pageA, pageB, idB) {
  const open = [];
  for (let i = 0; i < RUNS; i++) {
    const id = `bench-${label}-open-${i}`;
    open.push(await pageA.evaluate(([id, s]) => window.stock.createPeer(id, s), [id, server.settings]));
    await pageA.evaluate((id) => window.stock.destroyPeer(id), id);
  }
  const idA = `bench-${label}-a`;
  await pageA.evaluate(([id, s]) => window.stock.createPeer(id, s), [idA, server.settings]);
  const connect = [];
  for (let i = 0; i < RUNS; i++) {
    const { id, ms } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'json' }), [idA, idB]);
    connect.push(ms);
    await pageA.evaluate((id) => window.stock.close(id), id);
  }
  const { id: pingLink } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'json' }), [idA, idB]);
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, pingLink), Boolean, 10000, 'echo side open');
  await pageB.evaluate((id) => window.stock.setMode(id, { echo: true, countOnly: true }), pingLink);
  await pageA.evaluate(([id, n]) => window.stock.pings(id, n), [pingLink, 10]);
  const rtt = await pageA.evaluate(([id, n]) => window.stock.pings(id, n), [pingLink, PINGS]);
  const { id: bulkLink } = await pageA.evaluate(([a, b]) => window.stock.connect(a, b, { serialization: 'binary' }), [idA, idB]);
  await waitFor(() => pageB.evaluate((id) => window.stock.connection(id)?.open, bulkLink), Boolean, 10000, 'receiver open');
  const rates = [];
  for (let i = 0; i < TRANSFERS; i++) {
    await pageB.evaluate((id) => window.stock.setMode(id, { countOnly: true }), bulkLink);
    const t0 = await pageA.evaluate(([id, size, count]) => window.stock.sendBulk(id, size, count), [bulkLink, CHUNK, CHUNKS]);
    const done = await waitFor(() => pageB.evaluate((id) => window.stock.connection(id), bulkLink), (it) => it.bytes >= TOTAL, 120000, `${label} 10 MiB`);
    rates.push(TOTAL / 1e6 / ((done.lastAt - t0) / 1000));
  }
  await pageA.evaluate((id) => window.stock.destroyPeer(id), idA);
  return { open, connect, rtt, rates };
}

let stock;
let ours;
try {
  const pageStock = await openStockPage(browsers[0], files);
  const pageB = await openStockPage(browsers[1], files);
  const pageOurs = await browsers[2].context.newPage();
  await pageOurs.goto(files.url('/ours.html'));
  await pageOurs.waitForFunction(() => window.oursReady === true, null, { timeout: 10000 });
  const idB = 'bench-receiver';
  await pageB.evaluate(([id, s]) => window.stock.createPeer(id, s), [idB, server.settings]);
  // Alternate, so neither side always runs on a warmer machine.
  stock = await measure('stock', pageStock, pageB, idB);
  ours = await measure('ours', pageOurs, pageB, idB);
  const problems = browsers.flatMap((it) => it.problems);
  if (problems.length) console.log(`page problems:\n  ${problems.join('\n  ')}`);
} finally {
  for (const it of browsers) await it.browser.close();
  await files.close();
  await server.close();
}

const ms = (v) => `${v.toFixed(1)} ms`;
const mbps = (v) => `${v.toFixed(2)} MB/s`;
const rows = [
  [`start → signaling open (median of ${RUNS})`, median(stock.open), median(ours.open), ms, 'lower'],
  [`connect() → channel open (median of ${RUNS})`, median(stock.connect), median(ours.connect), ms, 'lower'],
  [`round trip, ${PINGS} small json msgs, median`, median(stock.rtt), median(ours.rtt), ms, 'lower'],
  [`round trip, ${PINGS} small json msgs, p99`, percentile(stock.rtt, 0.99), percentile(ours.rtt, 0.99), ms, 'lower'],
  [`10 MiB (640 × 16 KiB str, binary), median of ${TRANSFERS}`, median(stock.rates), median(ours.rates), mbps, 'higher'],
];
console.log('\nPeerJS like for like: each client in a plain page, sending to the same stock page (browser 2),');
console.log('through the official peer 1.0.2 server on loopback. Ratios are ours/stock for times and stock/ours for');
console.log('throughput, so at or below 1.0 means ours is as fast or faster.\n');
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('metric', 52)}${pad('stock→stock', 16)}${pad('ours→stock', 16)}ratio`);
for (const [label, s, o, fmt, better] of rows) {
  const ratio = better === 'lower' ? o / s : s / o;
  console.log(`${pad(label, 52)}${pad(fmt(s), 16)}${pad(fmt(o), 16)}${ratio.toFixed(2)}`);
}
console.log('\nraw samples:');
console.log(`  signaling open  stock ${stock.open.map((v) => v.toFixed(1)).join(', ')} | ours ${ours.open.map((v) => v.toFixed(1)).join(', ')}`);
console.log(`  connect → open  stock ${stock.connect.map((v) => v.toFixed(1)).join(', ')} | ours ${ours.connect.map((v) => v.toFixed(1)).join(', ')}`);
console.log(`  10 MiB          stock ${stock.rates.map((v) => v.toFixed(2)).join(', ')} MB/s | ours ${ours.rates.map((v) => v.toFixed(2)).join(', ')} MB/s`);
process.exit(0);
