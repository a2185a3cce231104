// Shared helpers for the end-to-end tests: a loopback-only guard, a local PeerJS server, and Chromium with
// the built extension loaded. Every test runs inside the network namespace `cargo xtask test` creates.
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { PeerServer } from 'peer';

const DIST = process.env.MULTICHAT_DIST;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Refuses to go on unless `lo` is the only network interface: tests must never reach another host. */
export function assertLoopbackOnly() {
  const names = Object.keys(networkInterfaces());
  const others = names.filter((name) => name !== 'lo');
  if (others.length > 0) {
    throw new Error(`e2e tests must run in a network namespace with only lo (run them with \`cargo xtask test\`); visible: ${names}`);
  }
  if (!DIST) throw new Error('MULTICHAT_DIST is not set; run the e2e tests with `cargo xtask test`');
}

/** Starts the official PeerJS server on 127.0.0.1. */
export async function startPeerServer({ port = 9000, path = '/myapp', aliveTimeout = 60000 } = {}) {
  let server;
  await new Promise((resolve, reject) => {
    server = PeerServer({ host: '127.0.0.1', port, path, alive_timeout: aliveTimeout }, resolve);
    // Without an error listener one malformed frame crashes the server (see shared/notes/toolchain.md).
    server.on('error', (err) => console.log(`peer server error: ${err?.message ?? err}`));
    setTimeout(() => reject(new Error('PeerJS server did not start in 5 s')), 5000).unref();
  });
  return {
    port,
    path,
    settings: { host: '127.0.0.1', port, path, key: 'peerjs', secure: false },
    close: () => new Promise((resolve) => server._server ? server._server.close(() => resolve()) : resolve()),
  };
}

export function freshProfileDir(name) {
  return mkdtempSync(join(tmpdir(), `multichat-${name}-`));
}

export function removeProfileDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Launches Chromium with the extension on `profileDir` and collects every console error and uncaught
 * exception from the extension's pages and worker; `problems` must be empty at the end of a test.
 */
export async function launchBrowser(profileDir) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--disable-extensions-except=${DIST}`,
      `--load-extension=${DIST}`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
    ],
    // Playwright disables extensions unless told otherwise.
    ignoreDefaultArgs: ['--disable-extensions'],
  });
  // playwright-core waits forever by default; a stuck step must fail the test instead.
  context.setDefaultTimeout(15000);
  const browser = { context, problems: [] };
  const watch = (target, where) => {
    target.on('console', (msg) => {
      if (msg.type() === 'error') browser.problems.push(`${where}: console error: ${msg.text()}`);
    });
  };
  context.on('page', (page) => {
    watch(page, `page ${page.url()}`);
    page.on('pageerror', (err) => browser.problems.push(`page ${page.url()}: uncaught ${err.message}`));
  });
  // Chrome's offscreen document (the engine) shows up as a background page.
  context.on('backgroundpage', (page) => {
    watch(page, 'engine');
    page.on('pageerror', (err) => browser.problems.push(`engine: uncaught ${err.message}`));
  });
  const watchWorker = (worker) => watch(worker, 'service worker');
  context.on('serviceworker', watchWorker);
  let [worker] = context.serviceWorkers();
  if (!worker) worker = await context.waitForEvent('serviceworker', { timeout: 10000 });
  browser.extensionId = new URL(worker.url()).host;
  watchWorker(worker);
  return browser;
}

/** The engine's offscreen document, once the worker has created it. */
export async function enginePage(browser) {
  const existing = browser.context.backgroundPages().find((page) => page.url().endsWith('/background/offscreen.html'));
  if (existing) return existing;
  return browser.context.waitForEvent('backgroundpage', {
    predicate: (page) => page.url().endsWith('/background/offscreen.html'),
    timeout: 10000,
  });
}

/** Opens the popup as a tab (what the toolbar button shows, at the same URL). */
export async function openPopup(browser) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/popup/index.html`);
  return page;
}

/** Stops the extension's service worker the way Chrome does when it is idle, and waits until it has stopped. */
export async function stopServiceWorker(browser, page) {
  const cdp = await browser.context.newCDPSession(page);
  const stopped = new Promise((resolve) => {
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
      if (versions.length > 0 && versions.every((v) => v.runningStatus === 'stopped')) resolve();
    });
  });
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await withTimeout(stopped, 10000, 'the service worker did not stop');
  await cdp.detach();
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function assertNoProblems(browser) {
  if (browser.problems.length > 0) {
    throw new Error(`console errors or CSP violations:\n${browser.problems.join('\n')}`);
  }
}
