// Shared helpers for the end-to-end tests: a loopback-only guard, a local PeerJS server, and Chromium with
// the built extension loaded. Every test runs inside the network namespace `cargo xtask test` creates.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQR from 'jsqr';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import puppeteer from 'puppeteer-core';
import WebSocket from 'ws';

const DIST = process.env.MULTICHAT_DIST;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PEER_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'peer-server.mjs');

/** Refuses to go on unless `lo` is the only network interface: tests must never reach another host. */
export function assertLoopbackOnly() {
  const names = Object.keys(networkInterfaces());
  const others = names.filter((name) => name !== 'lo');
  if (others.length > 0) {
    throw new Error(`e2e tests must run in a network namespace with only lo (run them with \`cargo xtask test\`); visible: ${names}`);
  }
  if (!DIST) throw new Error('MULTICHAT_DIST is not set; run the e2e tests with `cargo xtask test`');
}

/**
 * Starts the official PeerJS server on 127.0.0.1 in a child process. `kill()` stops it abruptly and
 * `restart()` brings it back on the same port (a signaling-server fault).
 */
export async function startPeerServer({ port = 9000, path = '/myapp', aliveTimeout = 60000 } = {}) {
  const launch = () => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PEER_SERVER, String(port), path, String(aliveTimeout)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('PeerJS server did not start in 5 s')), 5000);
    child.stdout.on('data', (data) => {
      if (data.toString().includes('ready')) { clearTimeout(timer); resolve(child); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`PeerJS server exited with ${code}`)); });
  });
  let child = await launch();
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
  return {
    port,
    path,
    settings: { host: '127.0.0.1', port, path, key: 'peerjs', secure: false },
    close: stop,
    kill: stop,
    restart: async () => { await stop(); child = await launch(); },
  };
}

/**
 * A copy of `dist/` that a test may change, e.g. to bump the version as an extension update does. An
 * unpacked extension's id comes from its path, so the copy keeps one id across relaunches.
 */
export function extensionCopy(name) {
  const dir = mkdtempSync(join(tmpdir(), `multichat-ext-${name}-`));
  cpSync(DIST, dir, { recursive: true });
  return dir;
}

/** Bumps the version in a copy's manifest: what Chrome sees when an update arrives. */
export function bumpVersion(extensionDir) {
  const path = join(extensionDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  const parts = manifest.version.split('.').map(Number);
  parts[parts.length - 1] += 1;
  manifest.version = parts.join('.');
  writeFileSync(path, JSON.stringify(manifest, null, 2));
  return manifest.version;
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
export async function launchBrowser(profileDir, { extensionDir = DIST } = {}) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
      // Playwright does not surface Chrome's offscreen document (a `background_page` target), so the
      // engine's console is watched through a DevTools endpoint of its own, on loopback.
      '--remote-debugging-port=0',
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
  watchEngine(browser, profileDir);
  return browser;
}

/**
 * Watches every offscreen document (the engine) the extension creates: console errors, uncaught exceptions
 * and browser log errors (failed sockets, CSP) become `problems`. Polls DevTools' target list until the
 * browser closes.
 */
function watchEngine(browser, profileDir) {
  const attached = new Set();
  let closed = false;
  browser.context.on('close', () => { closed = true; });
  const poll = async () => {
    while (!closed) {
      try {
        const port = readFileSync(join(profileDir, 'DevToolsActivePort'), 'utf8').split('\n')[0];
        const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        for (const target of targets) {
          if (!target.url.endsWith('/background/offscreen.html') || attached.has(target.id)) continue;
          attached.add(target.id);
          attachEngine(browser, target.webSocketDebuggerUrl);
        }
      } catch {
        // The browser is starting or closing; try again.
      }
      // Unreferenced, so a finished test run is not kept alive by this loop.
      await new Promise((resolve) => setTimeout(resolve, 200).unref());
    }
  };
  poll();
}

function attachEngine(browser, url) {
  const socket = new WebSocket(url);
  browser.engineAttached = new Promise((resolve) => socket.on('open', resolve));
  socket.on('open', () => {
    socket.send(JSON.stringify({ id: 1, method: 'Runtime.enable' }));
    socket.send(JSON.stringify({ id: 2, method: 'Log.enable' }));
  });
  socket.on('message', (data) => {
    const { method, params } = JSON.parse(data.toString());
    if (method === 'Runtime.consoleAPICalled' && params.type === 'error') {
      const text = params.args.map((arg) => arg.value ?? arg.description ?? '').join(' ');
      browser.problems.push(`engine: console error: ${text}`);
    } else if (method === 'Runtime.exceptionThrown') {
      const details = params.exceptionDetails;
      browser.problems.push(`engine: uncaught ${details.exception?.description ?? details.text}`);
    } else if (method === 'Log.entryAdded' && params.entry.level === 'error') {
      browser.problems.push(`engine: ${params.entry.source} error: ${params.entry.text}`);
    }
  });
  socket.on('error', () => {});
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

/**
 * Screenshots the element `locator` points at and reads the QR code in it, as a phone would; resolves with
 * the decoded text, or null when no readable code is in the picture.
 */
export async function readQrCode(locator) {
  const png = PNG.sync.read(await locator.screenshot());
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  return code ? code.data : null;
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

/**
 * Opens the popup's settings and points it at `server` (from `startPeerServer().settings`). No ICE servers,
 * unless `turn` (from `startTurnServer()`) is given: then that TURN server with its login, and "Relay only"
 * when `relayOnly`.
 */
export async function useServer(popup, server, { turn, relayOnly = false } = {}) {
  await popup.getByText('Settings', { exact: true }).click();
  await fillSettings(popup, server, { turn, relayOnly });
  await popup.getByRole('button', { name: 'Save settings' }).click();
}

/** Types `server` and the ICE choices into the open settings form, without saving. */
export async function fillSettings(popup, server, { turn, relayOnly = false } = {}) {
  await popup.getByLabel('Signaling server host').fill(server.host);
  await popup.getByLabel('Port').fill(String(server.port));
  await popup.getByLabel('Path').fill(server.path);
  await popup.getByLabel('Use a secure connection (wss)').uncheck();
  await popup.getByLabel('ICE servers (one per line)').fill(turn ? turn.url : '');
  if (turn) {
    await popup.getByLabel(`Username for ${turn.url}`, { exact: true }).fill(turn.username);
    await popup.getByLabel(`Password for ${turn.url}`, { exact: true }).fill(turn.credential);
  }
  await popup.getByLabel('Relay only (hide my IP address from peers)').setChecked(relayOnly);
}

/**
 * Starts Debian coturn's `turnserver` on 127.0.0.1:`port` (UDP, long-term credentials `u`/`p`, relaying
 * on 127.0.0.1 only), and resolves once its relay threads are up. `close()` stops it.
 */
export async function startTurnServer({ port = 3478 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'multichat-turn-'));
  const child = spawn('turnserver', [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--min-port=49160', '--max-port=49400', '--allow-loopback-peers', '--lt-cred-mech', '--user=u:p',
    '--realm=multichat.test', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb')}`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const log = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turnserver did not start in 10 s:\n${log.join('')}`)), 10000);
    child.stdout.on('data', (data) => {
      log.push(data.toString());
      if (log.join('').includes('Total General servers')) { clearTimeout(timer); resolve(); }
    });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`turnserver exited with ${code}:\n${log.join('')}`)); });
  });
  child.removeAllListeners('exit');
  return {
    url: `turn:127.0.0.1:${port}`,
    username: 'u',
    credential: 'p',
    log,
    close: () => new Promise((resolve) => {
      const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
    }),
  };
}

/**
 * Signs in on a fresh profile the way a careful user on a private server would: settings first, so the
 * engine never tries the public PeerJS cloud. Waits until the engine is online.
 */
export async function signIn(popup, username, server, ice = {}) {
  await useServer(popup, server, ice);
  await popup.getByLabel('Username', { exact: true }).fill(username);
  await popup.getByRole('button', { name: 'Sign in' }).click();
  await popup.getByText('Signed in as').waitFor();
  await popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });
}

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.wasm': 'application/wasm',
};

/**
 * Serves a fixed set of files over plain HTTP on 127.0.0.1 (an ephemeral port unless `port` is given).
 * `files` maps URL paths ('/index.html') to files on disk; anything else is a 404. Resolves with
 * `{ port, url(path), close() }`.
 */
export async function startStaticServer(files, { port = 0 } = {}) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    const file = files[path === '/' ? '/index.html' : path];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    port: actual,
    url: (path = '/') => `http://127.0.0.1:${actual}${path}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/**
 * A page of tests/e2e/<name>/ (its `index.html` and `<name>.js`) next to the stock `peerjs` 1.5.5 library,
 * for `startStaticServer`.
 */
export function peerjsPageFiles(name) {
  const here = new URL('.', import.meta.url).pathname;
  const peerjs = new URL('../../node_modules/peerjs/dist/', import.meta.url).pathname;
  return {
    '/index.html': join(here, name, 'index.html'),
    [`/${name}.js`]: join(here, name, `${name}.js`),
    '/peerjs.min.js': join(peerjs, 'peerjs.min.js'),
    '/peerjs.min.js.map': join(peerjs, 'peerjs.min.js.map'),
  };
}

/** The stock `peerjs` 1.5.5 test page (tests/e2e/stock/) and the library itself, for `startStaticServer`. */
export function stockPageFiles() {
  return peerjsPageFiles('stock');
}

/**
 * Launches a plain Chromium (no extension) for pages that run the stock PeerJS client. The context has the
 * camera permission, because Chromium gathers a loopback ICE candidate only for a page that has it
 * (see shared/notes/toolchain.md). Page errors and console errors are collected in `problems`.
 */
export async function launchStockBrowser() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
    ],
  });
  const context = await browser.newContext({ permissions: ['camera'] });
  context.setDefaultTimeout(15000);
  const stock = { browser, context, problems: [] };
  context.on('page', (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') stock.problems.push(`stock page: console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => stock.problems.push(`stock page: uncaught ${err.message}`));
  });
  return stock;
}

/** Opens the stock page from `server` (a `startStaticServer` of `stockPageFiles()`) in a new tab. */
export async function openStockPage(stock, server) {
  const page = await stock.context.newPage();
  await page.goto(server.url('/index.html'));
  await page.waitForFunction(() => window.stock && typeof window.peerjs?.Peer === 'function', null, { timeout: 10000 });
  return page;
}

/**
 * Signs `username` in through the popup and points the extension at `server` (a `startPeerServer`), then
 * waits until the engine is online. From then on it also records, in the popup page, every report the engine
 * sends to the worker (`globalThis.seen`, each `{ at: performance.now(), body }`; `globalThis.onReport`, if
 * set, is called with each report as well): the engine posts its batches to the worker by ServiceWorker
 * messaging, which no other page sees, so the engine's document is made to copy each batch to a
 * BroadcastChannel the popup listens on (see `mirrorEngineReports`).
 */
export async function signInAndGoOnline(browser, username, server) {
  const popup = await openPopup(browser);
  await popup.evaluate((name) => {
    globalThis.seen = [];
    new BroadcastChannel(name).onmessage = ({ data: batch }) => {
      for (const body of batch) {
        globalThis.seen.push({ at: performance.now(), body });
        globalThis.onReport?.(body);
      }
    };
  }, REPORT_MIRROR);
  await signIn(popup, username, server.settings);
  await mirrorEngineReports(browser);
  return popup;
}

const REPORT_MIRROR = 'multichat-test-engine-reports';

/**
 * Makes the engine's offscreen document copy every batch of reports it posts to the worker to the
 * BroadcastChannel `REPORT_MIRROR`, by wrapping `ServiceWorker.prototype.postMessage` there (the engine's wasm
 * looks the method up at each call). Nothing the worker gets changes.
 */
async function mirrorEngineReports(browser) {
  const evaluate = await engineEvaluator(browser);
  await evaluate(`(() => {
    if (globalThis.mirroredReports) return true;
    globalThis.mirroredReports = new BroadcastChannel(${JSON.stringify(REPORT_MIRROR)});
    const post = ServiceWorker.prototype.postMessage;
    ServiceWorker.prototype.postMessage = function (message, ...rest) {
      post.call(this, message, ...rest);
      if (Array.isArray(message)) globalThis.mirroredReports.postMessage(message);
    };
    return true;
  })()`);
}

/** Sends a command straight to the extension's engine from an extension page (`WorkerToEngine`). */
export function engineCommand(page, body) {
  return page.evaluate((body) => chrome.runtime.sendMessage({ to: 'engine', body }), body);
}

/**
 * Records the console of the engine's offscreen document (`{ type, text }` in the returned array).
 * Playwright does not hand out Chrome's offscreen document as a page (`backgroundpage` never fires for it,
 * so `enginePage` times out), so this attaches to the target through the browser's DevTools protocol.
 */
export async function watchEngineConsole(browser) {
  const logged = [];
  const cdp = await browser.context.browser().newBrowserCDPSession();
  const deadline = Date.now() + 10000;
  let target;
  while (!target) {
    const { targetInfos } = await cdp.send('Target.getTargets');
    target = targetInfos.find((it) => it.url.endsWith('/background/offscreen.html'));
    if (!target && Date.now() > deadline) throw new Error('the engine\'s offscreen document did not appear within 10 s');
    if (!target) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId: from, message }) => {
    if (from !== sessionId) return;
    const { method, params } = JSON.parse(message);
    if (method === 'Runtime.consoleAPICalled') {
      logged.push({ type: params.type, text: params.args.map((it) => it.value ?? it.description ?? '').join(' ') });
    } else if (method === 'Runtime.exceptionThrown') {
      logged.push({ type: 'exception', text: params.exceptionDetails?.exception?.description ?? params.exceptionDetails?.text ?? '' });
    }
  });
  await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.enable' }) });
  return logged;
}

/**
 * Runs `install` in the engine's offscreen document before it makes any connection, so that every
 * `RTCPeerConnection` it creates from then on is also kept in `globalThis.recordedPeerConnections` (a
 * subclass stands in for the constructor; the engine's wasm looks the global up at each call). Resolves with
 * `evaluate(expression)`, which runs an expression there (promises awaited) and returns its JSON value.
 */
export async function recordEnginePeerConnections(browser) {
  const evaluate = await engineEvaluator(browser);
  await evaluate(`(() => {
    if (globalThis.recordedPeerConnections) return true;
    globalThis.recordedPeerConnections = [];
    const Original = globalThis.RTCPeerConnection;
    globalThis.RTCPeerConnection = class extends Original {
      constructor(...args) { super(...args); globalThis.recordedPeerConnections.push(this); }
    };
    return true;
  })()`);
  return evaluate;
}

/**
 * For each recorded connection (see `recordEnginePeerConnections`) that is connected: its configured
 * `iceTransportPolicy` and the local and remote candidate types of the selected pair, from `getStats()`.
 */
export const SELECTED_PAIRS = `Promise.all(globalThis.recordedPeerConnections
  .filter((pc) => pc.connectionState === 'connected')
  .map(async (pc) => {
    const stats = [...(await pc.getStats()).values()];
    const transport = stats.find((it) => it.type === 'transport' && it.selectedCandidatePairId);
    const pair = stats.find((it) => it.id === transport?.selectedCandidatePairId);
    const local = stats.find((it) => it.id === pair?.localCandidateId);
    const remote = stats.find((it) => it.id === pair?.remoteCandidateId);
    return { policy: pc.getConfiguration().iceTransportPolicy, local: local?.candidateType, remote: remote?.candidateType };
  }))`;

// Firefox: Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi. The same dist/ runs there; the
// background page hosts both the worker logic and the engine (Firefox has no offscreen documents).
export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
export const FIREFOX_ADDON_ID = 'multichat@multichat.invalid';
// Firefox gives each install a random moz-extension host unless this pref fixes it; fixed, a reinstall
// finds the same storage.
export const FIREFOX_ADDON_UUID = '3b3c6a2e-9f4e-4c1a-8c1d-6d9b0f1e2a3b';

/**
 * Launches Firefox ESR. With `profileDir` the profile is kept (for a restart); without, puppeteer makes a
 * throwaway one. The two WebRTC prefs make Firefox offer 127.0.0.1 host candidates in a namespace that has
 * only `lo` (shared/notes/toolchain.md, last section); unsigned add-ons are allowed so that
 * `installFirefoxAddon` can install dist/ for good. Returns `{ browser, problems }`; `problems` collects
 * console errors and uncaught exceptions of the pages opened with `openFirefoxPopup`.
 */
export async function launchFirefox({ profileDir, prefs = {} } = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profileDir,
    // Lets WebDriver open moz-extension:// pages.
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: {
      'extensions.webextensions.uuids': JSON.stringify({ [FIREFOX_ADDON_ID]: FIREFOX_ADDON_UUID }),
      'media.peerconnection.ice.loopback': true,
      'permissions.default.camera': 1,
      'xpinstall.signatures.required': false,
      // Add-ons found in the profile's extensions/ folder start enabled, without asking.
      'extensions.autoDisableScopes': 0,
      ...prefs,
    },
  });
  return { browser, problems: [] };
}

/**
 * Installs `extensionDir` (dist/ by default) the way a user's installed add-on is kept: as an .xpi in the
 * profile's extensions/ folder, which Firefox loads at every start. (A temporary add-on, what
 * `browser.installExtension` makes, is gone after a restart; reinstalled with the same id and UUID it finds
 * its storage again.) Call it before `launchFirefox({ profileDir })`.
 */
export function installFirefoxAddon(profileDir, extensionDir = DIST) {
  mkdirSync(join(profileDir, 'extensions'), { recursive: true });
  const xpi = join(profileDir, 'extensions', `${FIREFOX_ADDON_ID}.xpi`);
  rmSync(xpi, { force: true });
  execFileSync('zip', ['-qr', xpi, '.'], { cwd: extensionDir });
}

/** Opens the popup as a tab and records its console errors and uncaught exceptions in `ff.problems`. */
export async function openFirefoxPopup(ff) {
  const page = await ff.browser.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') ff.problems.push(`popup: console error: ${msg.text()}`); });
  page.on('pageerror', (err) => ff.problems.push(`popup: uncaught ${err.message}`));
  // BiDi never reports this navigation as finished, so the page is watched for content instead.
  page.goto(`moz-extension://${FIREFOX_ADDON_UUID}/popup/index.html`, { timeout: 0 }).catch(() => {});
  // While the tab still navigates from about:blank, BiDi can fail an evaluation in the document being
  // replaced ("right-hand side of 'in' should be an object"); that is the old document, so look again.
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      await page.waitForSelector('main', { timeout: Math.max(1000, deadline - Date.now()) });
      return page;
    } catch (err) {
      const causes = [err, err?.cause, err?.cause?.cause].map((it) => String(it?.message ?? '')).join(' ');
      if (Date.now() >= deadline || !/Protocol error/.test(causes)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Points the popup at `server` (settings first, no ICE servers, no wss), then signs in and waits for Online. */
export async function signInFirefox(popup, username, server) {
  await popup.waitForSelector('#username', { timeout: 15000 });
  await popup.click('details.settings summary');
  await popup.locator('#server-host').fill('127.0.0.1');
  await popup.locator('#server-port').fill(String(server.port));
  await popup.locator('#server-path').fill(server.path);
  await popup.locator('#ice-servers').fill('');
  await popup.click('details.settings label.check input[type=checkbox]');
  await popup.click('details.settings button[type=submit]');
  await popup.type('#username', username);
  await popup.keyboard.press('Enter');
  await popup.waitForSelector('.signed-in', { timeout: 15000 });
  await waitForFirefoxStatus(popup, 'Online');
}

export async function waitForFirefoxStatus(popup, words, timeout = 20000) {
  await popup.waitForFunction((words) => document.querySelector('.status')?.textContent.includes(words), { timeout }, words);
}

export function assertNoFirefoxProblems(ff) {
  if (ff.problems.length > 0) throw new Error(`Firefox console errors or exceptions:\n${ff.problems.join('\n')}`);
}

/**
 * Attaches to the engine's offscreen document and resolves with `evaluate(expression)`, which runs an
 * expression there (promises awaited) and returns its JSON value; nothing is installed in the page.
 */
export async function engineEvaluator(browser) {
  const cdp = await browser.context.browser().newBrowserCDPSession();
  const deadline = Date.now() + 10000;
  let target;
  while (!target) {
    const { targetInfos } = await cdp.send('Target.getTargets');
    target = targetInfos.find((it) => it.url.endsWith('/background/offscreen.html'));
    if (!target && Date.now() > deadline) throw new Error('the engine\'s offscreen document did not appear within 10 s');
    if (!target) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 1;
  const waiting = new Map();
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId: from, message }) => {
    if (from !== sessionId) return;
    const reply = JSON.parse(message);
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  return async (expression) => {
    const id = nextId++;
    const replied = new Promise((resolve) => waiting.set(id, resolve));
    const params = { expression, awaitPromise: true, returnByValue: true };
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.evaluate', params }) });
    const reply = await withTimeout(replied, 10000, 'the engine did not answer an evaluation');
    if (reply.error || reply.result.exceptionDetails) {
      throw new Error(`engine evaluation failed: ${JSON.stringify(reply.error ?? reply.result.exceptionDetails)}`);
    }
    return reply.result.result.value;
  };
}

/**
 * The engine's send queues (`engine_send_queues` of engine/src/lib.rs): `{ limit, peak, closed_full, links:
 * [{ connection, peer, queued, peak }] }` in bytes, or null while no peer runs. `evaluate` is from
 * `engineEvaluator`.
 */
export function engineSendQueues(evaluate) {
  return evaluate(`import('./multichat_engine.js').then((engine) => engine.engine_send_queues())`);
}

// ---------------------------------------------------------------------------------------------------------
// The popup as a product (issue 16): the browser's language, views of the popup page, axe-core, screenshots.

const AXE_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '../../node_modules/axe-core/axe.min.js');
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '../../target/screenshots');

/**
 * `launchBrowser` with the browser's preferred languages set to `languages` (e.g. 'fr' or 'zh-CN,zh'): what
 * `navigator.languages` reports. Headless Chromium ignores `--lang` and the `LANGUAGE` variable for that
 * (checked: both left `["en-US","en"]`); `--accept-lang` is the language preference it reads.
 */
export async function launchBrowserInLanguage(profileDir, languages, { extensionDir = DIST } = {}) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      `--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`, '--no-sandbox', '--disable-gpu',
      '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--allow-loopback-in-peer-connection', '--remote-debugging-port=0', `--accept-lang=${languages}`,
    ],
    ignoreDefaultArgs: ['--disable-extensions'],
  });
  context.setDefaultTimeout(15000);
  const browser = { context, problems: [] };
  const watch = (target, where) => target.on('console', (msg) => {
    if (msg.type() === 'error') browser.problems.push(`${where}: console error: ${msg.text()}`);
  });
  context.on('page', (page) => {
    watch(page, `page ${page.url()}`);
    page.on('pageerror', (err) => browser.problems.push(`page ${page.url()}: uncaught ${err.message}`));
  });
  context.on('serviceworker', (worker) => watch(worker, 'service worker'));
  let [worker] = context.serviceWorkers();
  if (!worker) worker = await context.waitForEvent('serviceworker', { timeout: 10000 });
  browser.extensionId = new URL(worker.url()).host;
  watch(worker, 'service worker');
  watchEngine(browser, profileDir);
  return browser;
}

/**
 * Opens the popup page as the toolbar popup sizes it (380x600 viewport), or as `view` ('tab', 'panel'),
 * optionally with the system's colour scheme `colorScheme` ('light' or 'dark').
 */
export async function openPopupView(browser, { view, colorScheme, viewport = { width: 380, height: 600 } } = {}) {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  if (colorScheme) await page.emulateMedia({ colorScheme });
  const query = view ? `?view=${view}` : '';
  await page.goto(`chrome-extension://${browser.extensionId}/popup/index.html${query}`);
  return page;
}

/**
 * Runs axe-core (WCAG 2.x A and AA rules, best practices included) on `page` and resolves with its
 * violations, each as one line naming the rule and the offending elements. axe is evaluated through the
 * DevTools protocol, which the page's CSP does not govern; nothing is added to the page's own scripts.
 */
export async function axeViolations(page) {
  await page.evaluate(readFileSync(AXE_SOURCE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return violations;
}

/** Writes a screenshot of `page` to target/screenshots/`name`.png, for review; resolves with its path. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
