// Benchmark (prints figures, asserts nothing): where the worker should keep received files (issue 15).
// A probe extension with the same storage permissions as multichat (`storage`, `unlimitedStorage`) writes a
// 25 MB file in 64 KiB chunks from its service worker, then reads it back, three ways:
//   chrome.storage.local, one set per chunk (the chunk as base64, as it arrives from the engine's port,
//     with the transfer's record in the same set, as `transfer::Output::StoreChunk` asks);
//   chrome.storage.local, eight chunks per set (the worker's batched writes);
//   IndexedDB, one readwrite transaction per chunk (the chunk decoded to bytes and put as an ArrayBuffer,
//     with the record in the same transaction).
// Base64 decoding (the worker's wasm does it) is left out of every timing; reads count the bytes got.
// Each figure is the median of RUNS runs, in MB/s of file bytes (10^6), with the storage cleared between.
// Run through `cargo xtask bench` (inside a loopback-only network namespace), or alone with node.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertLoopbackOnly, freshProfileDir, launchBrowser, removeProfileDir } from '../e2e/harness.mjs';

assertLoopbackOnly();

const RUNS = 3;
const FILE_BYTES = 25 * 1000 * 1000;
const CHUNK = 64 * 1024;

const probe = mkdtempSync(join(tmpdir(), 'multichat-storage-probe-'));
writeFileSync(join(probe, 'manifest.json'), JSON.stringify({
  manifest_version: 3,
  name: 'multichat storage probe',
  version: '0.0.1',
  background: { service_worker: 'sw.js', type: 'module' },
  permissions: ['storage', 'unlimitedStorage'],
}));
writeFileSync(join(probe, 'sw.js'), '// Work is evaluated here by the benchmark.\n');

const profile = freshProfileDir('bench-file-storage');
const browser = await launchBrowser(profile, { extensionDir: probe });
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  const [worker] = browser.context.serviceWorkers();
  const results = { 'storage.local, a set per chunk': [], 'storage.local, 8 chunks a set': [], 'IndexedDB, a transaction per chunk': [] };
  const reads = { 'storage.local, a set per chunk': [], 'storage.local, 8 chunks a set': [], 'IndexedDB, a transaction per chunk': [] };
  for (let run = 0; run < RUNS; run++) {
    const figures = await worker.evaluate(async ({ FILE_BYTES, CHUNK }) => {
      const count = Math.ceil(FILE_BYTES / CHUNK);
      // The chunks as the engine's port delivers them: base64 strings.
      const chunks = [];
      let seed = 12345;
      for (let n = 0; n < count; n++) {
        const bytes = new Uint8Array(Math.min(CHUNK, FILE_BYTES - n * CHUNK));
        for (let i = 0; i < bytes.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; bytes[i] = seed >>> 24; }
        let binary = '';
        for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
        chunks.push(btoa(binary));
      }
      // Decoding is the worker's (wasm) work before it stores, so it is done here outside the timings.
      const decoded = chunks.map((text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer);
      const record = (n) => ({ v: 1, stored: n + 1, hash: { words: [1, 2, 3, 4, 5, 6, 7, 8], fed: n * CHUNK } });
      const out = {};

      await chrome.storage.local.clear();
      let t = performance.now();
      for (let n = 0; n < count; n++) {
        await chrome.storage.local.set({ [`fc/u/in/p/f-1/${n}`]: chunks[n], 'file/u/in/p/f-1': record(n) });
      }
      out.singleWrite = performance.now() - t;
      t = performance.now();
      const keys = chunks.map((_, n) => `fc/u/in/p/f-1/${n}`);
      let total = 0;
      for (let n = 0; n < count; n += 8) {
        const got = await chrome.storage.local.get(keys.slice(n, n + 8));
        for (const value of Object.values(got)) total += (value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
      }
      out.singleRead = performance.now() - t;
      out.singleReadBytes = total;

      await chrome.storage.local.clear();
      t = performance.now();
      for (let n = 0; n < count; n += 8) {
        const items = { 'file/u/in/p/f-2': record(Math.min(count, n + 8) - 1) };
        for (let k = n; k < Math.min(count, n + 8); k++) items[`fc/u/in/p/f-2/${k}`] = chunks[k];
        await chrome.storage.local.set(items);
      }
      out.batchWrite = performance.now() - t;
      t = performance.now();
      total = 0;
      const keys2 = chunks.map((_, n) => `fc/u/in/p/f-2/${n}`);
      for (let n = 0; n < count; n += 8) {
        const got = await chrome.storage.local.get(keys2.slice(n, n + 8));
        for (const value of Object.values(got)) total += value.length;
      }
      out.batchRead = performance.now() - t;
      await chrome.storage.local.clear();

      await new Promise((resolve) => { const req = indexedDB.deleteDatabase('files'); req.onsuccess = req.onerror = resolve; });
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('files', 1);
        req.onupgradeneeded = () => { req.result.createObjectStore('chunks'); req.result.createObjectStore('records'); };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
      t = performance.now();
      for (let n = 0; n < count; n++) {
        const tx = db.transaction(['chunks', 'records'], 'readwrite');
        tx.objectStore('chunks').put(decoded[n], `fc/u/in/p/f-3/${n}`);
        tx.objectStore('records').put(record(n), 'file/u/in/p/f-3');
        await done(tx);
      }
      out.idbWrite = performance.now() - t;
      t = performance.now();
      total = 0;
      const tx = db.transaction('chunks', 'readonly');
      for (let n = 0; n < count; n++) {
        const req = tx.objectStore('chunks').get(`fc/u/in/p/f-3/${n}`);
        req.onsuccess = () => { total += req.result.byteLength; };
      }
      await done(tx);
      out.idbRead = performance.now() - t;
      out.idbReadBytes = total;
      db.close();
      await new Promise((resolve) => { const req = indexedDB.deleteDatabase('files'); req.onsuccess = req.onerror = resolve; });
      return out;
    }, { FILE_BYTES, CHUNK });
    const rate = (ms) => FILE_BYTES / 1e6 / (ms / 1000);
    results['storage.local, a set per chunk'].push(rate(figures.singleWrite));
    reads['storage.local, a set per chunk'].push(rate(figures.singleRead));
    results['storage.local, 8 chunks a set'].push(rate(figures.batchWrite));
    reads['storage.local, 8 chunks a set'].push(rate(figures.batchRead));
    results['IndexedDB, a transaction per chunk'].push(rate(figures.idbWrite));
    reads['IndexedDB, a transaction per chunk'].push(rate(figures.idbRead));
    if (figures.singleReadBytes !== FILE_BYTES || figures.idbReadBytes !== FILE_BYTES) {
      throw new Error(`read back ${figures.singleReadBytes} / ${figures.idbReadBytes} bytes of ${FILE_BYTES}`);
    }
  }
  console.log(`file storage in the service worker: ${FILE_BYTES / 1e6} MB in ${CHUNK / 1024} KiB chunks, median of ${RUNS} (MB/s)`);
  for (const way of Object.keys(results)) {
    console.log(`  ${way.padEnd(36)} write ${median(results[way]).toFixed(1).padStart(6)}   read ${median(reads[way]).toFixed(1).padStart(6)}`);
  }
} finally {
  await browser.context.close();
  removeProfileDir(profile);
}
