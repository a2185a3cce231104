// Message requests and blocks (issue 13), in real Chromium. Strangers on the stock `peerjs` 1.5.5 client
// (`stranger/`, speaking multichat's wire format without the identity handshake) write to alice, who has no
// conversation with them. Sam's messages land in one request (no conversation, no badge, at most one
// notification); Accept makes them a conversation. Mal is blocked from the popup: nothing of his is stored,
// his redials are refused, and the block survives a restart of the service worker and shows in Settings.
//
// The checks are collected and reported together, so one run says every expectation that does not hold.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  assertLoopbackOnly, launchStockBrowser, peerjsPageFiles, startPeerServer, startStaticServer, stopServiceWorker, openPopup,
} from './harness.mjs';
import { chatUser, closeUsers, expectMessage, removeAll } from './chat-user.mjs';

assertLoopbackOnly();
after(removeAll);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function worker(u) {
  const [it] = u.browser.context.serviceWorkers();
  return it;
}

/** Everything in alice's `chrome.storage.local`, serialized, read from her service worker. */
async function storedText(u) {
  return JSON.stringify(await worker(u).evaluate(() => chrome.storage.local.get(null)));
}

/** Records every notification the extension shows from now on, and the badge text it sets. */
async function recordNotifications(u) {
  await worker(u).evaluate(() => {
    globalThis.notified = [];
    globalThis.badges = [];
    const create = chrome.notifications.create.bind(chrome.notifications);
    chrome.notifications.create = (...args) => {
      globalThis.notified.push(JSON.stringify(args));
      return create(...args);
    };
    const badge = chrome.action.setBadgeText.bind(chrome.action);
    chrome.action.setBadgeText = (details, ...rest) => {
      globalThis.badges.push(details?.text ?? '');
      return badge(details, ...rest);
    };
  });
}

async function recorded(u) {
  return worker(u).evaluate(() => ({ notified: globalThis.notified ?? [], badges: globalThis.badges ?? [] }));
}

async function strangerPage(browser, pages, name, server) {
  const page = await browser.context.newPage();
  await page.goto(pages.url('/index.html'));
  await page.waitForFunction(() => window.stranger && typeof window.peerjs?.Peer === 'function');
  await page.evaluate(({ name, server }) => window.stranger.register(name, server), { name, server: server.settings });
  return page;
}

/** Waits until `predicate` holds (polling), or until `ms` pass; returns whether it held. */
async function eventually(predicate, ms = 15000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await predicate()) return true;
    await sleep(250);
  }
  return false;
}

test('a stranger\'s first messages are one quiet request until accepted; a blocked stranger gets nothing, also after a worker restart', { timeout: 300000 }, async () => {
  const server = await startPeerServer({ port: 9157 });
  const pages = await startStaticServer(peerjsPageFiles('stranger'));
  const strangers = await launchStockBrowser();
  const failures = [];
  const check = (ok, what) => { if (!ok) failures.push(what); };
  let alice;
  try {
    alice = await chatUser('alice', server);
    await recordNotifications(alice);
    const requests = alice.popup.getByRole('list', { name: 'Message requests' });

    // Sam writes three messages; alice has no conversation with him.
    const sam = await strangerPage(strangers, pages, 'sam', server);
    const first = 'hi alice, it is sam from the conference';
    await sam.evaluate((texts) => window.stranger.write('alice', texts), [first, 'are you there?', 'third try']);
    await requests.getByRole('listitem', { name: 'Message request from sam' }).waitFor({ timeout: 20000 });
    await requests.getByText(first, { exact: true }).waitFor();
    check(await alice.popup.getByRole('button', { name: /^sam\b/ }).count() === 1, 'the request shows no single "sam" button to accept it');
    check(await alice.popup.locator('button.room').count() === 0, 'a stranger\'s messages made a conversation');
    await sleep(6000); // sam's client would re-send; nothing more may notify
    let { notified, badges } = await recorded(alice);
    const aboutSam = notified.filter((it) => it.includes('sam'));
    check(aboutSam.length <= 1, `more than one notification for sam's request: ${aboutSam}`);
    check(aboutSam.some((it) => it.includes('sam wants to send you a message')), `the request's notification does not say so: ${aboutSam}`);
    check(!notified.some((it) => it.includes('are you there') || it.includes('third try')), `a notification showed sam's text: ${notified}`);
    check(badges.every((it) => it === ''), `the badge counted the request: ${badges}`);

    // Accept: the conversation opens with his messages.
    await alice.popup.getByRole('button', { name: 'sam: accept the message request' }).click();
    for (const text of [first, 'are you there?', 'third try']) {
      try { await expectMessage(alice, text, 20000); } catch { failures.push(`after Accept, "${text}" is not in the conversation`); }
    }
    check(await requests.count() === 0, 'the request is still shown after Accept');
    await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await alice.popup.getByRole('button', { name: /^sam\b/ }).waitFor();

    // Mal writes; alice blocks him from the request.
    const mal = await strangerPage(strangers, pages, 'mal', server);
    await mal.evaluate(() => window.stranger.write('alice', ['mal: click my link', 'mal: second']));
    await requests.getByRole('listitem', { name: 'Message request from mal' }).waitFor({ timeout: 20000 });
    await alice.popup.getByRole('button', { name: 'Block mal' }).click();
    await alice.popup.getByRole('listitem', { name: 'Message request from mal' }).waitFor({ state: 'detached' });
    check(!(await storedText(alice)).includes('mal: click my link'), 'mal\'s message is stored after Block');
    check(await alice.popup.getByRole('button', { name: /^mal\b/ }).count() === 0, 'mal has a conversation after Block');

    // He redials: refused, nothing stored, no notification.
    const before = (await recorded(alice)).notified.length;
    const redial = await mal.evaluate(() => window.stranger.write('alice', ['mal: let me in']));
    const refused = redial.refused !== undefined
      || await eventually(() => mal.evaluate((id) => window.stranger.isClosed(id), redial.conn), 15000);
    check(refused, 'mal\'s redial was not closed by alice');
    check(!(await storedText(alice)).includes('mal: let me in'), 'a blocked stranger\'s message is stored');
    ({ notified } = await recorded(alice));
    check(notified.length === before, `a blocked stranger caused a notification: ${notified.slice(before)}`);
    check((await storedText(alice)).includes('"blocked/alice"'), 'the block list is not stored');

    // The service worker restarts (as Chrome stops an idle one); the block holds, and Settings lists it.
    await stopServiceWorker(alice.browser, alice.popup);
    await alice.popup.close();
    alice.popup = await openPopup(alice.browser);
    await alice.popup.getByText('Signed in as').waitFor({ timeout: 20000 });
    await alice.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });
    const again = await mal.evaluate(() => window.stranger.write('alice', ['mal: after the restart']));
    const refusedAgain = again.refused !== undefined
      || await eventually(() => mal.evaluate((id) => window.stranger.isClosed(id), again.conn), 15000);
    check(refusedAgain, 'mal\'s redial after the worker restart was not closed');
    await sleep(2000);
    check(!(await storedText(alice)).includes('mal: after the restart'), 'after a restart a blocked stranger\'s message is stored');
    check(await alice.popup.getByRole('listitem', { name: 'Message request from mal' }).count() === 0, 'mal\'s request is back after a restart');
    await alice.popup.getByText('Blocked', { exact: true }).click();
    const blocked = alice.popup.getByRole('region', { name: 'Blocked usernames' });
    await blocked.getByText('mal', { exact: true }).waitFor();
    check(await alice.popup.getByRole('button', { name: 'Unblock mal' }).count() === 1, 'Settings shows no Unblock for mal');
    // Sam's conversation survived the restart too.
    await alice.popup.getByRole('button', { name: /^sam\b/ }).waitFor();

    // Notifications speak the language chosen in Settings (issue 16): French, and a new stranger writes.
    await recordNotifications(alice);
    const language = alice.popup.getByLabel('Language');
    if (!(await language.isVisible())) await alice.popup.getByText('Settings', { exact: true }).click();
    await language.selectOption('fr');
    await alice.popup.getByText('Réglages', { exact: true }).waitFor();
    const eve = await strangerPage(strangers, pages, 'eve', server);
    await eve.evaluate(() => window.stranger.write('alice', ['bonjour alice']));
    const french = await eventually(async () => (await recorded(alice)).notified.some((it) => it.includes('eve veut vous écrire')), 20000);
    check(french, `no French notification for eve's request: ${(await recorded(alice)).notified}`);

    assert.deepEqual(failures, [], failures.join('\n'));
    assert.deepEqual(strangers.problems, []);
  } finally {
    await closeUsers(alice);
    await strangers.browser.close();
    await pages.close();
    await server.close();
  }
});
