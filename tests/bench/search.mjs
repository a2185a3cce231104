// Benchmark (prints figures, asserts nothing): search over 100,000 stored messages through the extension,
// from the popup's field to the results painted. Cold: the worker just started, so the first search reads
// every stored page and builds the index (measured from the click on "Search messages"); warm: the next
// queries. Run through `cargo xtask bench`, inside a loopback-only namespace.
import { assertLoopbackOnly, freshProfileDir, launchBrowser, removeProfileDir, stopServiceWorker } from '../e2e/harness.mjs';
import { searchSeed } from './search_seed.mjs';

assertLoopbackOnly();
const RUNS = 7;
const COLD_RUNS = 3;

/** In the popup: types `query` (after opening the field, when `open`); ms until its results are painted. */
function typeAndWait({ query, open }) {
  const painted = () => new Promise((resolve) => {
    const done = () => {
      const status = [...document.querySelectorAll('p.search-status')].find((it) => it.dataset.query === query);
      if (!status || status.textContent.startsWith('Searching')) return false;
      requestAnimationFrame(() => resolve());
      return true;
    };
    if (done()) return;
    const observer = new MutationObserver(() => { if (done()) observer.disconnect(); });
    observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  const field = () => document.getElementById('search-field');
  const fieldShown = () => new Promise((resolve) => {
    if (field()) return resolve();
    const observer = new MutationObserver(() => { if (field()) { observer.disconnect(); resolve(); } });
    observer.observe(document, { subtree: true, childList: true });
  });
  return (async () => {
    const started = performance.now();
    if (open) {
      [...document.querySelectorAll('button')].find((it) => it.textContent === 'Search messages').click();
      await fieldShown();
    }
    const input = field();
    input.value = query;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    await painted();
    return performance.now() - started;
  })();
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const settings = { server: { host: '127.0.0.1', port: 9, path: '/', key: 'peerjs', secure: false }, ice_servers: [], notifications: false };
const { records } = searchSeed({ owner: 'alice', messages: 100000 });
const all = { schema_version: 1, account: { username: 'alice', token: 'bench-token', token_v: 1 }, settings, ...records };

const profile = freshProfileDir('bench-search');
const browser = await launchBrowser(profile);
try {
  const [worker] = browser.context.serviceWorkers();
  await worker.evaluate(async (items) => { await chrome.storage.local.clear(); await chrome.storage.local.set(items); }, all);
  const cold = [];
  const warm = { 'quetzalcoatl (one old message)': [], 'coffee (50+ messages)': [], 'xylophone (none)': [] };
  let page;
  for (let run = 0; run < COLD_RUNS; run++) {
    page = await browser.context.newPage();
    await stopServiceWorker(browser, page);
    await page.goto(`chrome-extension://${browser.extensionId}/popup/index.html`);
    await page.getByRole('button', { name: 'Search messages' }).waitFor({ timeout: 30000 });
    cold.push(await page.evaluate(typeAndWait, { query: 'quetzalcoatl', open: true }));
    for (let i = 0; i < RUNS; i++) {
      for (const [label, times] of Object.entries(warm)) {
        times.push(await page.evaluate(typeAndWait, { query: label.split(' ')[0], open: false }));
        // A different query in between, so each one is asked anew.
        await page.evaluate(typeAndWait, { query: `zz${i}`, open: false });
      }
    }
    await page.close();
  }
  console.log('search through the extension, 100,000 stored messages (popup field → results painted):');
  console.log(`  cold (worker just started: reads every page, builds the index)   median ${median(cold).toFixed(1)} ms  (${cold.map((it) => it.toFixed(0)).join(', ')})`);
  for (const [label, times] of Object.entries(warm)) {
    console.log(`  warm: ${label.padEnd(32)} median ${median(times).toFixed(1)} ms`);
  }
} finally {
  await browser.context.close();
  removeProfileDir(profile);
}
