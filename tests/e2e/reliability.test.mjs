// Reliability under faults: three members of one group send over a thousand messages while we close a popup
// mid-send, terminate a worker, kill and restart a browser, kill and restart the signaling server, and keep
// a member offline for a while. Afterwards every member must hold every acknowledged message exactly once,
// in send order per sender. Prints sent / delivered / duplicated / lost and the time to recover from each
// fault.
//
// Messages are sent through the popup's own bridge (a `popup` port to the worker, `send_text` requests),
// the path the composer uses, so a thousand sends take seconds instead of minutes of typing. A message
// counts as sent once the worker acknowledged it (its reply comes after the message is stored).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, extensionCopy, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn, startPeerServer,
  stopServiceWorker,
} from './harness.mjs';

assertLoopbackOnly();

let server;
const dirs = [];
before(async () => { server = await startPeerServer({ port: 9106 }); });
after(async () => {
  await server.close();
  for (const dir of dirs) removeProfileDir(dir);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function user(name) {
  const profile = freshProfileDir(name);
  const extensionDir = extensionCopy(name);
  dirs.push(profile, extensionDir);
  const u = { name, profile, extensionDir, acked: [] };
  u.browser = await launchBrowser(profile, { extensionDir });
  u.popup = await openPopup(u.browser);
  await signIn(u.popup, name, server.settings);
  return u;
}

/** Relaunches a killed user's browser on the same profile and extension copy. */
async function relaunch(u) {
  u.browser = await launchBrowser(u.profile, { extensionDir: u.extensionDir });
  u.popup = await openPopup(u.browser);
  await u.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 30000 });
  await openSender(u);
}

function killBrowser(u) {
  const pid = execFileSync('pgrep', ['-o', '-f', '--', `--user-data-dir=${u.profile}`]).toString().trim();
  process.kill(Number(pid), 'SIGKILL');
}

/**
 * A page of `u`'s extension that sends through its own `popup` port. The port is reopened when the worker
 * stops; a request whose reply never came is not counted as sent.
 */
async function openSender(u) {
  u.sender = await openPopup(u.browser);
  await u.sender.evaluate(() => {
    let port;
    let nextId = 1_000_000;
    const pending = new Map();
    const connect = () => {
      port = chrome.runtime.connect({ name: 'popup' });
      port.onMessage.addListener((frame) => {
        if (frame.frame !== 'reply') return;
        pending.get(frame.id)?.(frame.response);
        pending.delete(frame.id);
      });
      port.onDisconnect.addListener(() => {
        for (const resolve of pending.values()) resolve({ kind: 'lost' });
        pending.clear();
        connect();
      });
    };
    connect();
    const request = (body) => new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      try { port.postMessage({ id, request: body }); } catch { pending.delete(id); resolve({ kind: 'lost' }); }
    });
    window.rel = {
      acked: [],
      request,
      async sendMany(room, texts, pauseMs) {
        for (const text of texts) {
          const response = await request({ kind: 'send_text', room, text });
          if (response.kind === 'view') window.rel.acked.push(text);
          if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      },
    };
  });
}

/** Sends `count` messages from `u` (named `<name>#<n>`), counting what the worker acknowledged. */
function sendBatch(u, room, count, pauseMs = 10) {
  const start = u.next ?? 0;
  u.next = start + count;
  const texts = Array.from({ length: count }, (_, i) => `${u.name}#${String(start + i).padStart(4, '0')}`);
  const page = u.sender;
  return page.evaluate(({ room, texts, pauseMs }) => window.rel.sendMany(room, texts, pauseMs), { room, texts, pauseMs })
    .catch(() => {}) // the page was closed or its browser killed mid-send
    .then(() => collectAcks(u, page));
}

/** Moves the sender page's acknowledged texts into `u.acked` (once per page). */
async function collectAcks(u, page = u.sender) {
  if (page.__collected) return;
  try {
    const acked = await page.evaluate(() => window.rel.acked.splice(0));
    u.acked.push(...acked);
  } catch {
    // The page is gone; what it had not reported is unconfirmed.
  }
}

async function storedMessages(u) {
  const page = u.sender;
  const items = await page.evaluate(() => chrome.storage.local.get(null));
  const pages = Object.keys(items)
    .map((key) => key.match(/^h\/([^/]+)\/([^/]+)\/(\d+)$/))
    .filter((m) => m && m[1] === u.name && m[2] === u.roomKey)
    .sort((a, b) => Number(a[3]) - Number(b[3]));
  return pages.flatMap((m) => items[m[0]].messages.map((it) => ({ sender: it.sender, text: it.text })));
}

/** Waits until `text` is stored at every member; returns the milliseconds it took. */
async function deliveredEverywhere(users, text, timeout = 60000) {
  const started = Date.now();
  while (Date.now() - started < timeout) {
    const all = await Promise.all(users.map((u) => storedMessages(u).catch(() => [])));
    if (all.every((messages) => messages.some((it) => it.text === text))) return Date.now() - started;
    await sleep(250);
  }
  throw new Error(`${text} did not reach every member within ${timeout} ms`);
}

async function probe(users, from, room, label) {
  const text = `probe:${label}`;
  const started = Date.now();
  for (;;) {
    const response = await from.sender.evaluate(({ room, text }) => window.rel.request({ kind: 'send_text', room, text }), { room, text });
    if (response.kind === 'view') break;
    if (Date.now() - started > 30000) throw new Error(`${from.name} could not send ${text}`);
    await sleep(200);
  }
  await deliveredEverywhere(users, text);
  return Date.now() - started;
}

test('1,000+ messages across three members survive popup close, worker stop, browser kill, server kill and an absent member', { timeout: 600000 }, async () => {
  const ann = await user('ann');
  const ben = await user('ben');
  const cat = await user('cat');
  const users = [ann, ben, cat];
  const recovery = {};
  try {
    // One group with all three, meshed.
    await ann.popup.getByLabel('Group name').fill('rel');
    await ann.popup.getByRole('button', { name: 'Create group' }).click();
    for (const other of ['ben', 'cat']) {
      await ann.popup.getByLabel('Invite username').fill(other);
      await ann.popup.getByRole('button', { name: 'Invite' }).click();
    }
    for (const u of [ben, cat]) {
      await u.popup.getByRole('button', { name: 'Accept the invitation to rel' }).click({ timeout: 20000 });
      await u.popup.getByRole('button', { name: /^rel\b/ }).click({ timeout: 20000 });
      await u.popup.getByRole('list', { name: 'Members' }).locator('li.online').nth(1).waitFor({ timeout: 20000 });
    }
    await ann.popup.getByRole('list', { name: 'Members' }).locator('li.online').nth(1).waitFor({ timeout: 20000 });
    for (const u of users) await openSender(u);
    const view = await ann.sender.evaluate(() => window.rel.request({ kind: 'get_view' }));
    const room = view.view.rooms.find((it) => it.title === 'rel').id;
    for (const u of users) u.roomKey = room;

    // Warm-up: everyone sends.
    await Promise.all(users.map((u) => sendBatch(u, room, 60)));

    // 1. A popup closed mid-send.
    {
      const closing = ann.sender;
      const sending = sendBatch(ann, room, 120, 20);
      const others = Promise.all([sendBatch(ben, room, 60), sendBatch(cat, room, 60)]);
      while ((await closing.evaluate(() => window.rel.acked.length).catch(() => 0)) < 30) await sleep(50);
      await collectAcks(ann, closing);
      closing.__collected = true;
      await closing.close();
      await sending;
      await others;
      await openSender(ann);
      recovery['popup closed mid-send'] = await probe(users, ann, room, 'popup');
    }

    // 2. The worker terminated mid-send.
    {
      const sending = Promise.all(users.map((u) => sendBatch(u, room, 60, 15)));
      while ((await ben.sender.evaluate(() => window.rel.acked.length)) < 20) await sleep(50);
      await stopServiceWorker(ben.browser, ben.popup);
      await sending;
      recovery['worker terminated'] = await probe(users, ben, room, 'worker');
    }

    // 3. A browser killed mid-send and restarted.
    {
      const sending = Promise.all(users.map((u) => sendBatch(u, room, 60, 15)));
      while ((await cat.sender.evaluate(() => window.rel.acked.length)) < 20) await sleep(50);
      await collectAcks(cat);
      cat.sender.__collected = true;
      killBrowser(cat);
      await sending;
      const restarted = Date.now();
      await relaunch(cat);
      const relaunchMs = Date.now() - restarted;
      const probeMs = await probe(users, cat, room, 'browser');
      console.log(`  (browser relaunch ${relaunchMs} ms, then a message through all members ${probeMs} ms)`);
      recovery['browser killed and restarted'] = relaunchMs + probeMs;
    }

    // 4. The signaling server killed mid-send and restarted.
    {
      const sending = Promise.all(users.map((u) => sendBatch(u, room, 60, 25)));
      await sleep(500);
      await server.kill();
      await sleep(3000);
      const restarted = Date.now();
      await server.restart();
      await sending;
      for (const u of users) await u.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 40000 });
      recovery['signaling server killed and restarted'] = (Date.now() - restarted) + await probe(users, ann, room, 'server');
    }

    // 5. A member offline for a while: the others keep talking, then it returns and catches up.
    {
      await collectAcks(ben);
      ben.sender.__collected = true;
      killBrowser(ben);
      await Promise.all([sendBatch(ann, room, 100, 60), sendBatch(cat, room, 100, 60)]);
      const returned = Date.now();
      await relaunch(ben);
      const last = [ann, cat].map((u) => u.acked.at(-1));
      for (const text of last) await deliveredEverywhere(users, text, 90000);
      recovery['member offline, then back'] = Date.now() - returned;
    }

    // Everything acknowledged reaches everyone.
    for (const u of users) await collectAcks(u);
    const acked = users.flatMap((u) => u.acked.map((text) => ({ sender: u.name, text })));
    for (const u of users) if (u.acked.length) await deliveredEverywhere(users, u.acked.at(-1), 90000);
    await sleep(3000); // let late duplicates, if any, arrive before counting
    const stored = Object.fromEntries(await Promise.all(users.map(async (u) => [u.name, await storedMessages(u)])));

    let duplicated = 0;
    let lost = 0;
    const delivered = {};
    for (const u of users) {
      const counts = new Map();
      for (const it of stored[u.name]) counts.set(it.text, (counts.get(it.text) ?? 0) + 1);
      delivered[u.name] = acked.filter((it) => counts.has(it.text)).length;
      duplicated += [...counts.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0);
      lost += acked.filter((it) => !counts.has(it.text)).length;
    }
    console.log('reliability:');
    console.log(`  sent (acknowledged by the sender's worker): ${acked.length}`);
    console.log(`  delivered per member: ${JSON.stringify(delivered)}`);
    console.log(`  duplicated: ${duplicated}, lost: ${lost}`);
    for (const [fault, ms] of Object.entries(recovery)) console.log(`  recovery, ${fault}: ${ms} ms`);

    assert.ok(acked.length >= 1000, `only ${acked.length} messages were acknowledged`);
    assert.equal(duplicated, 0);
    assert.equal(lost, 0);
    // Per sender, every member holds the same sequence, in the order it was sent.
    for (const sender of users) {
      const sentOrder = sender.acked;
      for (const u of users) {
        const order = stored[u.name].filter((it) => it.sender === sender.name && !it.text.startsWith('probe:')).map((it) => it.text);
        const acknowledged = order.filter((text) => sentOrder.includes(text));
        assert.deepEqual(acknowledged, sentOrder, `${u.name}'s copy of ${sender.name}'s messages is out of order`);
      }
    }
    // Messages whose acknowledgement the test never saw (a page closed or a browser killed mid-request)
    // may exist, but then at every member, once.
    const extras = new Set(users.flatMap((u) => stored[u.name].map((it) => it.text)).filter((text) => !text.startsWith('probe:') && !acked.some((it) => it.text === text)));
    for (const text of extras) {
      for (const u of users) assert.equal(stored[u.name].filter((it) => it.text === text).length, 1, `${text} at ${u.name}`);
    }
    for (const u of users) {
      const unexpected = u.browser.problems.filter((it) => !it.includes('WebSocket connection to'));
      assert.deepEqual(unexpected, [], `${u.name}: ${unexpected.join('\n')}`);
    }
  } finally {
    for (const u of users) await u.browser.context.close().catch(() => {});
  }
});
