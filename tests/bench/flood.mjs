// Benchmark (prints figures, asserts nothing): a flood of 10,000 chat messages into a signed-in user, and how
// long a popup request waits while it is being stored.
//
// FLOODERS pages running the stock `peerjs` client (tests/e2e/hostile/, as the original page does) each dial
// alice and send FLOOD / FLOODERS chats as fast as they can queue them. The chat layer's rate limit (300 a
// second, burst 3,000) applies per link, so each link's share stays within one burst: every message is
// admitted, and what is measured is how fast the worker stores them, not the limit. The store rate is the
// number of flood messages in storage (counted from the rooms' meta records, polled) over the time from the
// first flood message sent to the last one stored. Meanwhile a port opened like the popup's sends `get_view`
// requests every REQUEST_EVERY_MS and times each reply.
//
// Run through `cargo xtask bench` (inside a loopback-only namespace). MULTICHAT_FLOOD_EXTENSION=<dir> runs it
// against another build of the extension (an older dist/, for a before/after figure), and
// MULTICHAT_BENCH_PROFILE=<dir> CPU-profiles the worker and the engine during the flood (tests/bench/profile.mjs).
import {
  assertLoopbackOnly, freshProfileDir, launchBrowser, launchStockBrowser, openPopup, peerjsPageFiles, removeProfileDir,
  signIn, startPeerServer, startStaticServer,
} from '../e2e/harness.mjs';
import { startProfiles } from './profile.mjs';

assertLoopbackOnly();

const FLOOD = Number(process.env.MULTICHAT_FLOOD_COUNT ?? 10000);
const FLOODERS = 4;
const PAGE_SIZE = 128;
const REQUEST_EVERY_MS = 100;
const TIMEOUT_MS = 180000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : NaN;
}

const server = await startPeerServer({ port: 9131 });
const web = await startStaticServer(peerjsPageFiles('hostile'));
const profile = freshProfileDir('bench-flood');
const extensionDir = process.env.MULTICHAT_FLOOD_EXTENSION;
const ext = await launchBrowser(profile, extensionDir ? { extensionDir } : {});
const stock = await launchStockBrowser();
try {
  const workerLog = [];
  for (const worker of ext.context.serviceWorkers()) worker.on('console', (msg) => workerLog.push(`${msg.type()}: ${msg.text()}`));
  const popup = await openPopup(ext);
  await signIn(popup, 'alice', { ...server.settings });
  await popup.evaluate(async () => {
    const settings = (await chrome.storage.local.get('settings')).settings;
    await chrome.storage.local.set({ settings: { ...settings, notifications: false } });
  });

  const names = Array.from({ length: FLOODERS }, (_, i) => `flooder${i + 1}`);
  const pages = [];
  for (const name of names) {
    const page = await stock.context.newPage();
    await page.goto(web.url('/index.html'));
    await page.evaluate(({ name, port }) => window.hostile.start(name, port), { name, port: server.port });
    await page.waitForFunction(() => window.hostile.state.opened, null, { timeout: 10000 });
    await page.evaluate(() => window.hostile.dial('alice'));
    await page.waitForFunction(() => window.hostile.state.open, null, { timeout: 20000 });
    await page.evaluate((name) => window.hostile.chat(`hello from ${name}`, name), name);
    pages.push(page);
  }
  // Strangers' first messages wait as message requests: alice accepts each flooder's, so its room exists.
  const deadlineRequests = Date.now() + 30000;
  const pending = new Set(names);
  while (pending.size && Date.now() < deadlineRequests) {
    const waiting = await popup.evaluate(async (asked) => {
      const port = chrome.runtime.connect({ name: 'popup' });
      const replies = new Map();
      port.onMessage.addListener((frame) => { if (frame.frame === 'reply') replies.get(frame.id)?.(frame.response); });
      const request = (id, body) => new Promise((resolve) => { replies.set(id, resolve); port.postMessage({ id, request: body }); });
      const view = await request(2_000_000, { kind: 'get_view' });
      const from = (view.view?.requests ?? []).map((it) => it.from).filter((it) => asked.includes(it));
      for (const [i, username] of from.entries()) await request(2_000_001 + i, { kind: 'accept_request', username });
      port.disconnect();
      return from;
    }, [...pending]);
    for (const name of waiting) pending.delete(name);
    if (pending.size) await sleep(100);
  }
  const metaKeys = names.map((name) => `h/alice/dm:alice:${name}/meta`);
  const count = () => popup.evaluate(async ({ keys, pageSize }) => {
    const metas = await chrome.storage.local.get(keys);
    return keys.reduce((sum, key) => {
      const meta = metas[key];
      return meta ? sum + (meta.page_count - 1) * pageSize + meta.last_page_len : sum;
    }, 0);
  }, { keys: metaKeys, pageSize: PAGE_SIZE });
  // Every flooder's room exists and holds its hello: the baseline the flood adds to.
  const deadline = Date.now() + 30000;
  while ((await count()) < FLOODERS && Date.now() < deadline) await sleep(100);
  const before = await count();
  if (before < FLOODERS) {
    throw new Error(`only ${before} of ${FLOODERS} hellos were stored; the worker said:\n${workerLog.join('\n')}`);
  }

  // The request timer runs in the popup page, on its own port, so the bench's polling does not delay it.
  await popup.evaluate((every) => {
    const port = chrome.runtime.connect({ name: 'popup' });
    const sent = new Map();
    window.__latencies = [];
    let id = 1_000_000;
    port.onMessage.addListener((frame) => {
      if (frame.frame !== 'reply' || !sent.has(frame.id)) return;
      window.__latencies.push(performance.now() - sent.get(frame.id));
      sent.delete(frame.id);
    });
    window.__requests = setInterval(() => {
      id += 1;
      sent.set(id, performance.now());
      port.postMessage({ id, request: { kind: 'get_view' } });
    }, every);
    window.__unanswered = () => sent.size;
  }, REQUEST_EVERY_MS);

  const profileDir = process.env.MULTICHAT_BENCH_PROFILE;
  const stopProfiles = profileDir ? await startProfiles(profile) : null;
  const share = FLOOD / FLOODERS;
  const started = Date.now();
  await Promise.all(pages.map((page, index) => page.evaluate(({ n, from, name }) => {
    for (let i = 0; i < n; i += 1) window.hostile.chat(`flood ${from + i}`, name);
  }, { n: share, from: index * share, name: names[index] })));
  const queued = Date.now() - started;
  let stored = 0;
  let finished = started;
  while (Date.now() - started < TIMEOUT_MS) {
    const now = await count();
    if (now > stored + before) finished = Date.now();
    stored = now - before;
    if (stored >= FLOOD) break;
    await sleep(50);
  }
  if (stopProfiles) await stopProfiles(profileDir);
  await popup.evaluate(() => clearInterval(window.__requests));
  await sleep(Math.max(2000, REQUEST_EVERY_MS * 5));
  const latencies = await popup.evaluate(() => window.__latencies);
  const unanswered = await popup.evaluate(() => window.__unanswered());
  const seconds = (finished - started) / 1000;

  console.log(`flood: ${FLOOD} chats from ${FLOODERS} stock-peerjs links (${share} each, within the per-link burst of 3,000)${extensionDir ? ` [extension: ${extensionDir}]` : ''}:`);
  console.log(`  stored ${stored} of ${FLOOD} in ${seconds.toFixed(2)} s: ${(stored / seconds).toFixed(0)} messages/s (the pages queued them in ${queued} ms)`);
  const dropped = workerLog.filter((line) => line.includes('dropped') || line.includes('faster than')).length;
  if (stored < FLOOD) console.log(`  (not all stored within ${TIMEOUT_MS / 1000} s; ${dropped} worker lines about dropped frames)`);
  console.log(`  popup get_view during the flood (every ${REQUEST_EVERY_MS} ms, ${latencies.length} answered, ${unanswered} unanswered): median ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`);
} finally {
  await stock.browser.close();
  await ext.context.close();
  removeProfileDir(profile);
  await web.close();
  await server.close();
}
