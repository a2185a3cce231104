// A multichat user and the original peerjs-multichat page's code (`tests/e2e/original/`) chat both ways (the page
// dials us, and we dial it), once on the stock `peerjs` 1.5.5 client and once on `peerjs` 1.2.0, the release the
// published page loads (`tests/e2e/original12/`), whose `json` connections send and read text frames only.
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
    '/peerjs-1.2.0.min.js': 'node_modules/peerjs-1.2.0/dist/peerjs.min.js',
    '/1.2.0.html': 'tests/e2e/original12/index.html',
  });
  stock = await launchStockBrowser();
});

after(async () => {
  await stock?.browser.close();
  await web?.close();
  await server?.close();
  for (const dir of profiles) removeProfileDir(dir);
});

/** One original page on `release` ('1.5.5' or '1.2.0'), signed in as `name`. */
async function originalPage(name, release) {
  const page = await stock.context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
  const html = release === '1.2.0' ? '/1.2.0.html' : '/index.html';
  await page.goto(web.url(`${html}?name=${name}&port=${server.port}`));
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

/** Our latest message's delivery state, as the popup shows it. */
async function lastState(user) {
  return log(user).locator('.state').last().innerText();
}

for (const [release, me, dialed, dialer] of [['1.5.5', 'alice', 'dave', 'erin'], ['1.2.0', 'amy', 'dan', 'eve']]) {
  // 1.5 reads json only from binary frames, 1.0-1.4 only from text frames; a wrong one throws in the page.
  const frameKind = release === '1.2.0' ? 'text' : 'binary';
  test(`the original page on PeerJS ${release} and a multichat user chat both ways, whoever dials`, { timeout: 180000 }, async () => {
    const alice = await extensionUser(me);
    const dave = await originalPage(dialed, release);
    const erin = await originalPage(dialer, release);
    debugState = async () => {
      const state = (o) => o.page.evaluate(() => ({ ...window.page, connected: window.connectedTo() }));
      return JSON.stringify({ [dialed]: await state(dave), [dialer]: await state(erin), [me]: await alice.popup.locator('main').innerText() });
    };
    try {
      // We dial the page.
      await alice.popup.getByLabel('Username to chat with').fill(dialed);
      await alice.popup.getByRole('button', { name: 'Chat', exact: true }).click();
      await log(alice).waitFor();
      const hello = `hello ${dialed} ✓ 🌍 https://example.com/x`;
      await alice.popup.getByLabel('Message', { exact: true }).fill(hello);
      await alice.popup.getByLabel('Message', { exact: true }).press('Enter');
      await waitFor('the page to show our chat', async () => (await chats(dave)).includes(`${me}: ${hello}`));
      // Handed over in frames the page reads: delivered.
      await waitFor('our message to show Delivered', async () => (await lastState(alice)) === 'Delivered');
      await dave.page.evaluate(() => window.sendChat('hi, from the original page 👋'));
      await log(alice).getByText('hi, from the original page 👋', { exact: true }).waitFor({ timeout: 20000 });
      // The original page does no identity handshake: it chats, clearly marked unverified.
      await alice.popup.getByRole('list', { name: 'Members' }).getByText('· unverified').waitFor({ timeout: 10000 });
      // The link in our own message is a safe link.
      const link = log(alice).getByRole('link', { name: 'https://example.com/x' });
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');

      // The page dials us.
      await erin.page.evaluate((me) => window.connectTo(me), me);
      await waitFor(`${dialer} to be connected`, async () => (await erin.page.evaluate(() => window.connectedTo())).includes(`secure-p2p-multichat-${me}`));
      await erin.page.evaluate((dialer) => window.sendChat(`${dialer} here <b>not bold</b>`), dialer);
      await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
      await alice.popup.getByRole('button', { name: new RegExp(`^${dialer}\\b`) }).click();
      await log(alice).getByText(`${dialer} here <b>not bold</b>`, { exact: true }).waitFor({ timeout: 20000 });
      assert.equal(await log(alice).locator('b').count(), 0, 'peer text is never rendered as HTML');
      await alice.popup.getByLabel('Message', { exact: true }).fill(`welcome ${dialer}`);
      await alice.popup.getByLabel('Message', { exact: true }).press('Enter');
      await waitFor('the dialing page to show the reply', async () => (await chats(erin)).includes(`${me}: welcome ${dialer}`));
      await waitFor('the reply to show Delivered', async () => (await lastState(alice)) === 'Delivered');

      // The pages only ever received frames they understand, in the original shapes and the frame type their
      // release reads.
      for (const original of [dave, erin]) {
        const received = await original.page.evaluate(() => window.page.received);
        for (const frame of received) {
          assert.ok(frame.type === 'chat' || frame.type === 'connections', `unexpected frame ${JSON.stringify(frame)}`);
          if (frame.type === 'chat') assert.deepEqual(Object.keys(frame.chat).sort(), ['message', 'sender', 'timestamp']);
        }
        const kinds = await original.page.evaluate(() => window.page.frameKinds);
        assert.ok(kinds.length >= received.length && kinds.length > 0, `frames seen: ${kinds}`);
        assert.deepEqual([...new Set(kinds)], [frameKind]);
        assert.deepEqual(original.problems, []);
        assert.deepEqual(await original.page.evaluate(() => window.page.errors), []);
      }
      assert.deepEqual(stock.problems, []);
      assertNoProblems(alice.browser);
    } finally {
      await alice.browser.context.close();
    }
  });
}

test('two original pages on PeerJS 1.2.0 and a multichat user form one merged mesh: each one\'s messages reach the other two', { timeout: 180000 }, async () => {
  const me = 'mia';
  const ext = await extensionUser(me);
  const nico = await originalPage('nico', '1.2.0');
  const oona = await originalPage('oona', '1.2.0');
  debugState = async () => {
    const state = (o) => o.page.evaluate(() => ({ ...window.page, connected: window.connectedTo() }));
    return JSON.stringify({ nico: await state(nico), oona: await state(oona), [me]: await ext.popup.locator('main').innerText() });
  };
  const id = (name) => `secure-p2p-multichat-${name}`;
  try {
    // The two pages are one room already.
    await oona.page.evaluate(() => window.connectTo('nico'));
    await waitFor('the pages to be connected', async () => (await nico.page.evaluate(() => window.connectedTo())).includes(id('oona')));

    // Mia starts a conversation with nico; his page gossips oona, and the conversation becomes the mesh.
    await ext.popup.getByLabel('Username to chat with').fill('nico');
    await ext.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await log(ext).waitFor();
    await waitFor('oona\'s page to be connected to mia', async () => (await oona.page.evaluate(() => window.connectedTo())).includes(id(me)));
    const members = ext.popup.getByRole('list', { name: 'Members' });
    await waitFor('oona and nico to be members of the conversation', async () => {
      const listed = await members.innerText();
      return listed.includes('oona') && listed.includes('nico');
    });

    await ext.popup.getByLabel('Message', { exact: true }).fill('hello mesh');
    await ext.popup.getByLabel('Message', { exact: true }).press('Enter');
    for (const original of [nico, oona]) {
      await waitFor('both pages to show mia\'s chat', async () => (await chats(original)).includes(`${me}: hello mesh`));
    }
    await waitFor('mia\'s message to show Delivered to both pages', async () => (await lastState(ext)) === 'Delivered to all 2');
    await nico.page.evaluate(() => window.sendChat('nico to all'));
    await oona.page.evaluate(() => window.sendChat('oona to all'));
    await log(ext).getByText('nico to all', { exact: true }).waitFor({ timeout: 20000 });
    await log(ext).getByText('oona to all', { exact: true }).waitFor({ timeout: 20000 });
    await waitFor('oona to get nico\'s chat', async () => (await chats(oona)).includes('nico: nico to all'));
    await waitFor('nico to get oona\'s chat', async () => (await chats(nico)).includes('oona: oona to all'));
    // One conversation, named for nico, holds the mesh: no separate conversation with oona.
    await ext.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await ext.popup.getByRole('button', { name: /^nico\b/ }).waitFor();
    assert.equal(await ext.popup.getByRole('button', { name: /^oona\b/ }).count(), 0, 'oona is in nico\'s mesh, not a conversation of her own');

    for (const original of [nico, oona]) {
      const kinds = await original.page.evaluate(() => window.page.frameKinds);
      assert.deepEqual([...new Set(kinds)], ['text'], 'PeerJS 1.2.0 reads text frames only');
      assert.deepEqual(original.problems, []);
      assert.deepEqual(await original.page.evaluate(() => window.page.errors), []);
    }
    assert.deepEqual(stock.problems, []);
    assertNoProblems(ext.browser);
  } finally {
    await ext.browser.context.close();
    await nico.page.close();
    await oona.page.close();
  }
});
