// Benchmark (prints figures, asserts nothing): service-worker start to its first reply, for each build of the
// extension named on the command line as `label=dir` (`cargo xtask bench` passes today's `dist/` and the same
// build with the worker's wasm embedded in worker.js as base64, as it was loaded before; and the previous
// layout, with the engine inside the worker's wasm, when MULTICHAT_BENCH_OLD_DIST names such a `dist/`).
// Each directory holds `bench/probe.html`, an empty extension page the benchmark works from, so no popup
// wakes the worker behind its back.
// Measured: the worker is stopped, then the probe opens a popup port and sends `get_view`; the figure is the
// time from connect() to the reply, on a signed-in profile with an empty history.
import { assertLoopbackOnly, freshProfileDir, launchBrowser, removeProfileDir, stopServiceWorker } from '../e2e/harness.mjs';

assertLoopbackOnly();
const RUNS = 15;
const layouts = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf('=');
  return { label: arg.slice(0, at), dir: arg.slice(at + 1) };
});

const settings = { server: { host: '127.0.0.1', port: 9, path: '/', key: 'peerjs', secure: false }, ice_servers: [], notifications: false };

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)];

async function firstReply(probe) {
  return probe.evaluate(() => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const port = chrome.runtime.connect({ name: 'popup' });
    port.onMessage.addListener((frame) => {
      if (frame?.frame === 'reply' && frame.id === 1) {
        resolve(performance.now() - t0);
        port.disconnect();
      }
    });
    port.onDisconnect.addListener(() => reject(new Error('the worker closed the port')));
    port.postMessage({ id: 1, request: { kind: 'get_view' } });
  }));
}

async function measure({ label, dir }) {
  const profile = freshProfileDir('bench-worker-start');
  const browser = await launchBrowser(profile, { extensionDir: dir });
  try {
    const [worker] = browser.context.serviceWorkers().length
      ? browser.context.serviceWorkers()
      : [await browser.context.waitForEvent('serviceworker')];
    const extensionId = new URL(worker.url()).host;
    await worker.evaluate(async (items) => { await chrome.storage.local.set(items); }, {
      schema_version: 1, account: { username: 'benchstart' }, settings,
    });
    const probe = await browser.context.newPage();
    await probe.goto(`chrome-extension://${extensionId}/bench/probe.html`);
    await firstReply(probe); // warm the browser's caches of the extension's files
    const times = [];
    for (let run = 0; run < RUNS; run++) {
      await stopServiceWorker(browser, probe);
      times.push(await firstReply(probe));
    }
    return { label, times };
  } finally {
    await browser.context.close();
    removeProfileDir(profile);
  }
}

const results = [];
for (const layout of layouts) results.push(await measure(layout));
console.log(`\nservice worker stopped → first reply to a popup port (get_view, signed in, empty history), ${RUNS} runs:`);
for (const { label, times } of results) {
  console.log(`  ${label.padEnd(44)} median ${median(times).toFixed(1)} ms, p90 ${percentile(times, 0.9).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms`);
}
