// Benchmark (prints figures, asserts nothing): opening the popup on an empty history and on a room with
// 100,000 stored messages. Measures navigation → first paint of the latest messages, time to interactive,
// and the popup's JS heap and DOM size (only a window of messages is rendered).
// Run through `cargo xtask bench`, which writes the seed file and runs this inside a loopback-only namespace.
import { readFileSync } from 'node:fs';
import { assertLoopbackOnly, freshProfileDir, launchBrowser, removeProfileDir, stopServiceWorker } from '../e2e/harness.mjs';

assertLoopbackOnly();
const SEED = process.argv[2];
const RUNS = 5;

// Runs before the popup's own scripts: records when the first messages (or the empty home view) are on
// screen, and when the composer is usable.
function instrument() {
  const mark = (name) => requestAnimationFrame(() => { window[name] ??= performance.now(); });
  new MutationObserver(() => {
    if (document.querySelector('[role="log"] .message')) mark('__messagesPainted');
    if (document.querySelector('textarea, input[aria-label], input[id]')) mark('__interactive');
  }).observe(document, { subtree: true, childList: true });
}

async function measure(browser, extensionId, { restartWorker }) {
  const results = [];
  for (let run = 0; run < RUNS; run++) {
    const page = await browser.context.newPage();
    await page.addInitScript(instrument);
    if (restartWorker) await stopServiceWorker(browser, page);
    await page.goto(`chrome-extension://${extensionId}/popup/index.html`);
    await page.waitForFunction(() => window.__interactive !== undefined, null, { timeout: 20000 });
    await page.waitForTimeout(300);
    results.push(await page.evaluate(() => ({
      messagesPainted: window.__messagesPainted ?? null,
      interactive: window.__interactive,
      heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null,
      domNodes: document.getElementsByTagName('*').length,
      messagesRendered: document.querySelectorAll('[role="log"] .message').length,
    })));
    await page.close();
  }
  return results;
}

function median(values) {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

function report(label, results) {
  const fmt = (v, unit) => (v === null ? 'n/a' : `${v.toFixed(1)} ${unit}`);
  console.log(`${label}:`);
  console.log(`  navigation → latest messages painted  median ${fmt(median(results.map((r) => r.messagesPainted)), 'ms')}`);
  console.log(`  navigation → interactive               median ${fmt(median(results.map((r) => r.interactive)), 'ms')}`);
  console.log(`  JS heap ${fmt(median(results.map((r) => r.heapMB)), 'MB')}, DOM nodes ${median(results.map((r) => r.domNodes))}, messages rendered ${median(results.map((r) => r.messagesRendered))}`);
}

async function scenario(label, records) {
  const profile = freshProfileDir('bench');
  const browser = await launchBrowser(profile);
  try {
    const [worker] = browser.context.serviceWorkers();
    await worker.evaluate(async (items) => { await chrome.storage.local.clear(); await chrome.storage.local.set(items); }, records);
    // The seed was written behind the worker's back: restart it so it reads the seeded storage, and
    // open the popup once so the warm runs find it loaded.
    const warmup = await browser.context.newPage();
    await stopServiceWorker(browser, warmup);
    await warmup.goto(`chrome-extension://${browser.extensionId}/popup/index.html`);
    await warmup.waitForSelector('textarea, input[aria-label], input[id]', { timeout: 20000 });
    await warmup.close();
    report(`${label}, worker already running`, await measure(browser, browser.extensionId, { restartWorker: false }));
    report(`${label}, worker stopped first (cold start reads storage)`, await measure(browser, browser.extensionId, { restartWorker: true }));
  } finally {
    await browser.context.close();
    removeProfileDir(profile);
  }
}

// Point the engine at a closed loopback port: the benchmark measures the popup, not the network.
const settings = { server: { host: '127.0.0.1', port: 9, path: '/', key: 'peerjs', secure: false }, ice_servers: [], notifications: false };
const full = { ...JSON.parse(readFileSync(SEED, 'utf8')), settings };
const account = { schema_version: full.schema_version, account: full.account, settings };
await scenario('empty history (signed in, no conversations)', account);
await scenario('one room with 100,000 messages', full);
