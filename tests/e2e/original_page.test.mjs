// A multichat user and the original peerjs-multichat page, run by the stock `peerjs` 1.5.5 client with the
// original page's message format (`tests/e2e/original/`), chat both ways: the page dials us, and we dial it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, launchStockBrowser, openPopup, removeProfileDir, signIn,
  startPeerServer, startStaticServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
let web;
let stock;
const profiles = [];

before(async () => {
  server = await startPeerServer({ port: 9103 });
  web = await startStaticServer({
    '/peerjs.min.js': 'node_modules/peerjs/dist/peerjs.min.js',
    '/peerjs.min.js.map': 'node_modules/peerjs/dist/peerjs.min.js.map',
    '/index.html': 'tests/e2e/original/index.html',
    '/original.js': 'tests/e2e/original/original.js',
  });
  stock = await launchStockBrowser();
});

after(async () => {
  await stock?.browser.close();
  await web?.close();
  await server?.close();
  for (const dir of profiles) removeProfileDir(dir);
});

/** One original page, signed in as `name`. */
async function originalPage(name) {
  const page = await stock.context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(web.url(`/index.html?name=${name}&port=${server.port}`));
  await page.waitForFunction(() => window.page?.opened, null, { timeout: 10000 });
  return { page, problems };
}

async function chats(original) {
  return original.page.evaluate(() => window.page.chats.map(({ sender, message }) => `${sender}: ${message}`));
}

async function waitFor(what, check, timeout = 20000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${debugState ? ': ' + await debugState() : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function extensionUser(name) {
  const profile = freshProfileDir(name);
  profiles.push(profile);
  const browser = await launchBrowser(profile);
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings);
  return { browser, popup };
}

/** What a timeout reports: the pages' state, so a failure says where the chat got stuck. */
let debugState;
const log = (u) => u.popup.getByRole('log', { name: 'Messages' });

test('the original page and a multichat user chat both ways, whoever dials', { timeout: 180000 }, async () => {
  const alice = await extensionUser('alice');
  const dave = await originalPage('dave');
  const erin = await originalPage('erin');
  debugState = async () => {
    const state = (o) => o.page.evaluate(() => ({ ...window.page, connected: window.connectedTo() }));
    return JSON.stringify({ dave: await state(dave), erin: await state(erin), alice: await alice.popup.locator('main').innerText() });
  };
  try {
    // We dial the page.
    await alice.popup.getByLabel('Username to chat with').fill('dave');
    await alice.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await log(alice).waitFor();
    const hello = 'hello dave ✓ 🌍 https://example.com/x';
    await alice.popup.getByLabel('Message', { exact: true }).fill(hello);
    await alice.popup.getByLabel('Message', { exact: true }).press('Enter');
    await waitFor('the page to show alice’s chat', async () => (await chats(dave)).includes(`alice: ${hello}`));
    await dave.page.evaluate(() => window.sendChat('hi alice, from the original page 👋'));
    await log(alice).getByText('hi alice, from the original page 👋', { exact: true }).waitFor({ timeout: 20000 });
    // The original page does no identity handshake: it chats, clearly marked unverified.
    await alice.popup.getByRole('list', { name: 'Members' }).getByText('· unverified').waitFor({ timeout: 10000 });
    // The link in our own message is a safe link.
    const link = log(alice).getByRole('link', { name: 'https://example.com/x' });
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');

    // The page dials us.
    await erin.page.evaluate(() => window.connectTo('alice'));
    await waitFor('erin to be connected', async () => (await erin.page.evaluate(() => window.connectedTo())).includes('secure-p2p-multichat-alice'));
    await erin.page.evaluate(() => window.sendChat('erin here <b>not bold</b>'));
    await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await alice.popup.getByRole('button', { name: /^erin\b/ }).click();
    await log(alice).getByText('erin here <b>not bold</b>', { exact: true }).waitFor({ timeout: 20000 });
    assert.equal(await log(alice).locator('b').count(), 0, 'peer text is never rendered as HTML');
    await alice.popup.getByLabel('Message', { exact: true }).fill('welcome erin');
    await alice.popup.getByLabel('Message', { exact: true }).press('Enter');
    await waitFor('erin’s page to show the reply', async () => (await chats(erin)).includes('alice: welcome erin'));

    // The pages only ever received frames they understand, in the original shapes.
    for (const original of [dave, erin]) {
      const received = await original.page.evaluate(() => window.page.received);
      for (const frame of received) {
        assert.ok(frame.type === 'chat' || frame.type === 'connections', `unexpected frame ${JSON.stringify(frame)}`);
        if (frame.type === 'chat') assert.deepEqual(Object.keys(frame.chat).sort(), ['message', 'sender', 'timestamp']);
      }
      assert.deepEqual(original.problems, []);
      assert.deepEqual(await original.page.evaluate(() => window.page.errors), []);
    }
    assert.deepEqual(stock.problems, []);
    assertNoProblems(alice.browser);
  } finally {
    await alice.browser.context.close();
  }
});
