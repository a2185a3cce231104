// Managing conversations (issue 15) between real extension instances, on a PeerJS-compatible signaling server
// of the tests' own (`rogue-server.mjs`, honest throughout) that lists every message it relays, so dials are
// counted as the OFFERs each user sends to another:
// - leaving a group: the other members stop dialing the leaver (counted after the leaver's browser closes,
//   next to the same absence before leaving, when they do redial), and nothing of the group stays in the
//   leaver's storage; a mistyped username's conversation is deleted with every storage key of its room and
//   no longer dialed;
// - a muted conversation counts unread and raises no notification; message text hidden from notifications;
//   a local name and a pin shown in the list (and not on the other side);
// - a click on a notification opens its conversation: the test dispatches `chrome.notifications.onClicked`
//   in the worker (the event the browser fires on a click, with the listeners the extension registered) and
//   reads the popup `chrome.action.openPopup` opened, through the DevTools protocol; then, with `openPopup`
//   replaced by one that rejects, the tab the extension opens instead.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { assertLoopbackOnly, launchBrowser, openPopup } from './harness.mjs';
import { startRogueServer } from './rogue-server.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startRogueServer({ port: 9141 }); });
after(async () => {
  await server.close();
  removeAll();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const id = (name) => `secure-p2p-multichat-${name}`;

/** How many OFFERs (dials) `from` has sent `to` so far. */
function offers(from, to) {
  return server.routed.filter((it) => it.type === 'OFFER' && it.from === id(from) && it.to === id(to)).length;
}

function worker(u) {
  const [sw] = u.browser.context.serviceWorkers();
  return sw;
}

async function storageKeys(u) {
  return worker(u).evaluate(async () => Object.keys(await chrome.storage.local.get(null)));
}

async function storageText(u) {
  return worker(u).evaluate(async () => JSON.stringify(await chrome.storage.local.get(null)));
}

/** Keeps every notification the extension shows from now on (`[id, options]`) in its worker. */
async function recordNotifications(u) {
  await worker(u).evaluate(() => {
    if (globalThis.notified) return;
    globalThis.notified = [];
    const create = chrome.notifications.create.bind(chrome.notifications);
    chrome.notifications.create = (...args) => {
      globalThis.notified.push(args);
      return create(...args);
    };
  });
}

async function notified(u) {
  return worker(u).evaluate(() => globalThis.notified ?? []);
}

async function backToList(u) {
  await u.popup.getByRole('button', { name: 'Back to conversations' }).click();
  await u.popup.getByRole('heading', { name: 'Conversations' }).waitFor();
}

function roomButtons(u) {
  return u.popup.getByRole('region', { name: 'Conversations' }).getByRole('listitem').getByRole('button');
}

/** The extension pages open in `u`'s browser, from its DevTools endpoint (popups opened by the browser too). */
async function extensionPages(u) {
  const port = readFileSync(join(u.profile, 'DevToolsActivePort'), 'utf8').split('\n')[0];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  return targets.filter((it) => it.type === 'page' && it.url.includes('/popup/index.html'));
}

/** The text of a page target, read over its DevTools socket. */
async function pageText(target) {
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { socket.on('open', resolve); socket.on('error', reject); });
  const reply = new Promise((resolve) => {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.id === 1) resolve(message.result?.result?.value ?? '');
    });
  });
  socket.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'document.body.innerText', returnByValue: true } }));
  const text = await reply;
  socket.close();
  return text;
}

test('leaving stops the redials, and a deleted conversation leaves no storage key of its room', { timeout: 300000 }, async () => {
  const alice = await chatUser('alice', server);
  const bob = await chatUser('bob', server);
  const carol = await chatUser('carol', server);
  try {
    await alice.popup.getByLabel('Group name').fill('Friends');
    await alice.popup.getByRole('button', { name: 'Create group' }).click();
    await alice.popup.getByRole('log', { name: 'Messages' }).waitFor();
    for (const u of [bob, carol]) {
      await alice.popup.getByLabel('Invite username').fill(u.name);
      await alice.popup.getByRole('button', { name: 'Invite' }).click();
      await u.popup.getByRole('button', { name: 'Accept the invitation to Friends' }).click({ timeout: 20000 });
      await openConversation(u, 'Friends');
    }
    await alice.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'carol' }).waitFor({ timeout: 20000 });
    await bob.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'carol' }).waitFor({ timeout: 20000 });
    await send(bob, 'bob was here');
    await expectMessage(alice, 'bob was here');
    await expectMessage(carol, 'bob was here');
    const group = (await storageKeys(bob)).find((it) => it.startsWith('h/bob/g:'))?.split('/')[2];
    assert.ok(group, 'bob stores the group history');

    // Baseline: bob's browser closes without leaving; alice and carol dial him again.
    const [aliceBefore, carolBefore] = [offers('alice', 'bob'), offers('carol', 'bob')];
    await bob.browser.context.close();
    const deadline = Date.now() + 45000;
    while ((offers('alice', 'bob') === aliceBefore || offers('carol', 'bob') === carolBefore) && Date.now() < deadline) await sleep(500);
    assert.ok(offers('alice', 'bob') > aliceBefore && offers('carol', 'bob') > carolBefore, 'members redial a member who went away');

    // Bob is back, and leaves the group.
    bob.browser = await launchBrowser(bob.profile, { extensionDir: bob.extensionDir });
    bob.popup = await openPopup(bob.browser);
    // The popup reopens on the conversation that was open.
    await bob.popup.getByRole('heading', { name: /Friends/ }).waitFor();
    await bob.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'alice' }).waitFor({ timeout: 40000 });
    await bob.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'carol' }).waitFor({ timeout: 40000 });
    await bob.popup.getByRole('button', { name: 'Leave group' }).click();
    await bob.popup.getByText('Leave Friends? Its members are told').waitFor();
    await bob.popup.getByRole('button', { name: 'Leave and delete the history' }).click();
    await bob.popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    assert.equal(await roomButtons(bob).count(), 0, 'the group is gone from bob\'s list');
    // The members are told: bob is no longer listed in the group.
    for (const u of [alice, carol]) {
      await u.popup.getByRole('list', { name: 'Members' }).locator('li', { hasText: 'bob' }).waitFor({ state: 'detached', timeout: 20000 });
    }
    // Nothing of the group is left in bob's storage (its pages, its meta, its entry in the room list, the ui).
    await sleep(1000);
    const keysLeft = (await storageKeys(bob)).filter((it) => it.includes(group));
    assert.deepEqual(keysLeft, [], 'storage keys of the left group');
    assert.ok(!(await storageText(bob)).includes('bob was here'), 'a message of the left group is still stored');

    // Bob goes away again: this time nobody dials him.
    await bob.browser.context.close();
    bob.browser = null;
    const [aliceAfter, carolAfter] = [offers('alice', 'bob'), offers('carol', 'bob')];
    await sleep(45000);
    assert.equal(offers('alice', 'bob'), aliceAfter, 'alice still dials bob after he left');
    assert.equal(offers('carol', 'bob'), carolAfter, 'carol still dials bob after he left');
    // The group goes on without him.
    await send(alice, 'just us now');
    await expectMessage(carol, 'just us now');

    // Carol leaves too, keeping the history: it stays readable, read-only, and alice is told.
    await carol.popup.getByRole('button', { name: 'Leave group' }).click();
    await carol.popup.getByRole('button', { name: 'Leave, keep the history' }).click();
    await carol.popup.getByText('You left this group. Its history stays here, read-only.').waitFor({ timeout: 10000 });
    await expectMessage(carol, 'just us now');
    await expectMessage(carol, 'bob was here');
    assert.equal(await carol.popup.getByLabel('Message', { exact: true }).count(), 0, 'a left group has no composer');
    assert.equal(await carol.popup.getByLabel('Invite username').count(), 0, 'a left group has no invite form');
    await alice.popup.getByRole('list', { name: 'Members' }).locator('li', { hasText: 'carol' }).waitFor({ state: 'detached', timeout: 20000 });
    assert.ok((await storageText(carol)).includes('just us now'), 'carol keeps the history stored');
    // Left once, the group can only be deleted, with every key of its room.
    await carol.popup.getByRole('button', { name: 'Delete conversation' }).click();
    await carol.popup.getByText('Delete Friends and its history?').waitFor();
    await carol.popup.getByRole('button', { name: 'Yes, delete conversation' }).click();
    await carol.popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    await sleep(1000);
    assert.deepEqual((await storageKeys(carol)).filter((it) => it.includes(group)), [], 'storage keys of the deleted group');

    // A mistyped username: its conversation is deleted with every storage key of its room, and not dialed.
    await backToList(alice);
    await openDirect(alice, 'bbo');
    await send(alice, 'hello bbo?');
    const room = 'dm:alice:bbo';
    assert.ok((await storageKeys(alice)).some((it) => it.includes(room)), 'the conversation is stored');
    await alice.popup.getByRole('button', { name: 'Delete conversation' }).click();
    await alice.popup.getByRole('button', { name: 'Yes, delete conversation' }).click();
    await alice.popup.getByRole('heading', { name: 'Conversations' }).waitFor();
    await sleep(1000);
    assert.deepEqual((await storageKeys(alice)).filter((it) => it.includes(room)), []);
    assert.ok(!(await storageText(alice)).includes(room), 'the room is still named in storage');
    assert.equal(await alice.popup.getByRole('button', { name: /^bbo\b/ }).count(), 0);
    const dialsToBbo = offers('alice', 'bbo');
    await sleep(35000);
    assert.equal(offers('alice', 'bbo'), dialsToBbo, 'a deleted conversation is still dialed');
  } finally {
    await closeUsers(alice, bob, carol);
  }
});

test('mute, hidden text, a local name, a pin, and a notification that opens its conversation', { timeout: 240000 }, async () => {
  const dave = await chatUser('dave', server);
  const erin = await chatUser('erin', server);
  try {
    await openDirect(erin, 'dave');
    await dave.popup.getByLabel('Group name').fill('Later');
    await dave.popup.getByRole('button', { name: 'Create group' }).click();
    await dave.popup.getByRole('log', { name: 'Messages' }).waitFor();
    await send(dave, 'note to self');
    await backToList(dave);
    await openDirect(dave, 'erin');
    await send(erin, 'first from erin');
    await expectMessage(dave, 'first from erin');
    await recordNotifications(dave);

    // Muted: counted unread, no notification.
    await dave.popup.getByRole('button', { name: 'Mute' }).click();
    await dave.popup.getByRole('button', { name: 'Unmute' }).waitFor();
    await backToList(dave);
    await send(erin, 'quiet one');
    await dave.popup.getByRole('button', { name: /^erin, .*\b1 unread, .*muted/ }).waitFor({ timeout: 20000 });
    await sleep(1500);
    assert.deepEqual(await notified(dave), [], 'a muted conversation raised a notification');
    // The list shows the last message (and its time).
    const row = dave.popup.getByRole('button', { name: /^erin\b/ });
    await row.getByText('quiet one').waitFor();
    assert.match(await row.locator('.room-time').innerText(), /\d/);

    // Unmuted, with message text hidden from notifications.
    await openConversation(dave, 'erin');
    await dave.popup.getByRole('button', { name: 'Unmute' }).click();
    await backToList(dave);
    await dave.popup.getByLabel('Hide message text in notifications').check();
    await dave.popup.getByLabel('Hide message text in notifications').waitFor();
    await sleep(500);
    await send(erin, 'the secret plan');
    await dave.popup.getByRole('button', { name: /^erin, .*\b1 unread\b/ }).waitFor({ timeout: 20000 });
    let shown = [];
    for (let i = 0; i < 40 && shown.length === 0; i++) {
      shown = await notified(dave);
      await sleep(250);
    }
    assert.equal(shown.length, 1, JSON.stringify(shown));
    const [notificationId, options] = shown[0];
    assert.equal(notificationId, 'multichat-dm:dave:erin');
    assert.equal(options.title.includes('erin'), true, JSON.stringify(options));
    assert.ok(!JSON.stringify(options).includes('secret'), `the text is in the notification: ${JSON.stringify(options)}`);

    // A local name and a pin: "Later" becomes "Ideas", on top although erin's conversation is newer.
    await openConversation(dave, 'Later');
    await dave.popup.getByRole('button', { name: 'Rename' }).click();
    await dave.popup.getByLabel('Name shown on this device (empty: its own name)').fill('Ideas');
    await dave.popup.getByRole('button', { name: 'Save name' }).click();
    await dave.popup.getByRole('button', { name: 'Pin to top' }).click();
    await dave.popup.getByRole('button', { name: 'Unpin' }).waitFor();
    await backToList(dave);
    await roomButtons(dave).first().filter({ hasText: 'Ideas' }).waitFor();
    assert.match(await roomButtons(dave).first().getAttribute('aria-label'), /^Ideas, .*pinned/);
    assert.match(await roomButtons(dave).nth(1).getAttribute('aria-label'), /^erin\b/);
    // Only on dave's device: erin's list still says dave.
    await backToList(erin);
    assert.equal(await roomButtons(erin).count(), 1);
    assert.match(await roomButtons(erin).first().getAttribute('aria-label'), /^dave\b/);

    // The click: the browser fires `onClicked` with the notification's id; the extension opens its popup
    // (`action.openPopup`: a page that is no tab) on that conversation.
    const popupTabs = () => worker(dave).evaluate(async () => (await chrome.tabs.query({})).filter((it) => it.url?.includes('/popup/index.html')).length);
    const tabsBefore = await popupTabs();
    const opensOn = async (what) => {
      const before = (await extensionPages(dave)).map((it) => it.id);
      await worker(dave).evaluate((id) => chrome.notifications.onClicked.dispatch(id), notificationId);
      let opened;
      for (let i = 0; i < 40 && !opened; i++) {
        opened = (await extensionPages(dave)).find((it) => !before.includes(it.id));
        if (!opened) await sleep(250);
      }
      assert.ok(opened, `no ${what} opened for the click`);
      let text = '';
      for (let i = 0; i < 40 && !text.includes('the secret plan'); i++) {
        text = await pageText(opened);
        await sleep(250);
      }
      assert.ok(text.includes('the secret plan') && text.includes('first from erin'), `the ${what} shows: ${text}`);
    };
    await opensOn('popup');
    assert.equal(await popupTabs(), tabsBefore, 'the click opened a tab where the browser opens the popup');
    // The conversation open in dave's other popup follows too.
    await expectMessage(dave, 'the secret plan', 10000);
    // Where the browser refuses to open the popup (stood in for by an `openPopup` that rejects), a tab opens
    // with the same page on the same conversation.
    await backToList(dave);
    await worker(dave).evaluate(() => { chrome.action.openPopup = () => Promise.reject(new Error('no window to open a popup in')); });
    await opensOn('tab');
    assert.equal(await popupTabs(), tabsBefore + 1, 'no tab opened when the popup could not be');
  } finally {
    await closeUsers(dave, erin);
  }
});
