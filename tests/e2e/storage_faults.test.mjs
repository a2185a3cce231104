// Storage faults: a write the browser refuses (a full disk, an exceeded quota) and a damaged record. Each gets
// a clear error, nothing else is lost, and the rest of the history still loads.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn, startPeerServer,
  stopServiceWorker,
} from './harness.mjs';

assertLoopbackOnly();

let server;
const profiles = [];
before(async () => { server = await startPeerServer({ port: 9107 }); });
after(async () => {
  await server.close();
  for (const dir of profiles) removeProfileDir(dir);
});

async function user(name) {
  const profile = freshProfileDir(name);
  profiles.push(profile);
  const browser = await launchBrowser(profile);
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings);
  return { name, profile, browser, popup };
}

const log = (u) => u.popup.getByRole('log', { name: 'Messages' });

// A first message from someone new is a message request and is acknowledged only once accepted, so each
// receiver here opens the conversation first: the sender is then a contact and "Delivered" means stored.
async function startChat(u, other) {
  await u.popup.getByLabel('Username to chat with').fill(other);
  await u.popup.getByRole('button', { name: 'Chat', exact: true }).click();
  await log(u).waitFor({ timeout: 10000 });
}

async function send(u, text) {
  await u.popup.getByLabel('Message', { exact: true }).fill(text);
  await u.popup.getByLabel('Message', { exact: true }).press('Enter');
}

test('a refused write is reported, changes nothing, and sending works again afterwards', { timeout: 120000 }, async () => {
  const kim = await user('kim');
  const lee = await user('lee');
  try {
    await startChat(lee, 'kim');
    await lee.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await kim.popup.getByLabel('Username to chat with').fill('lee');
    await kim.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await send(kim, 'before the fault');
    await kim.popup.locator('.message.mine', { hasText: 'before the fault' }).getByText('Delivered').waitFor({ timeout: 20000 });

    // The browser refuses every write from now on, as with a full disk.
    const [worker] = kim.browser.context.serviceWorkers();
    await worker.evaluate(() => {
      globalThis.realSet = chrome.storage.local.set.bind(chrome.storage.local);
      chrome.storage.local.set = () => Promise.reject(new Error('QUOTA_BYTES quota exceeded'));
    });
    await send(kim, 'doomed message');
    await kim.popup.getByRole('alert').filter({ hasText: 'Could not save to the browser\'s storage (QUOTA_BYTES quota exceeded); nothing was changed' }).waitFor({ timeout: 10000 });
    // The composer gives the text back, and the message is not shown as sent.
    assert.equal(await kim.popup.getByLabel('Message', { exact: true }).inputValue(), 'doomed message');
    assert.equal(await log(kim).getByText('doomed message').count(), 0);

    await worker.evaluate(() => { chrome.storage.local.set = globalThis.realSet; });
    await send(kim, 'after the fault');
    await kim.popup.locator('.message.mine', { hasText: 'after the fault' }).getByText('Delivered').waitFor({ timeout: 20000 });

    await lee.popup.getByRole('button', { name: /^kim\b/ }).click({ timeout: 20000 });
    await log(lee).getByText('after the fault', { exact: true }).waitFor({ timeout: 20000 });
    await log(lee).getByText('before the fault', { exact: true }).waitFor();
    assert.equal(await log(lee).getByText('doomed message').count(), 0, 'what was not stored was not sent');
    assertNoProblems(lee.browser);
    // The refused writes were logged by the worker; nothing else went wrong.
    assert.deepEqual(kim.browser.problems.filter((it) => !it.includes('QUOTA_BYTES')), []);
  } finally {
    await kim.browser.context.close();
    await lee.browser.context.close();
  }
});

test('a damaged history page is reported and the rest of the history loads', { timeout: 120000 }, async () => {
  const mo = await user('mo');
  const ned = await user('ned');
  try {
    await startChat(ned, 'mo');
    await mo.popup.getByLabel('Username to chat with').fill('ned');
    await mo.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    // More than one page (128 messages each) of history, sent through the popup's bridge.
    const room = await mo.popup.evaluate(async () => {
      const port = chrome.runtime.connect({ name: 'popup' });
      const replies = new Map();
      port.onMessage.addListener((frame) => { if (frame.frame === 'reply') replies.get(frame.id)?.(frame.response); });
      const request = (id, body) => new Promise((resolve) => { replies.set(id, resolve); port.postMessage({ id, request: body }); });
      const view = await request(1_000_000, { kind: 'get_view' });
      const room = view.view.open_room.room.id;
      for (let i = 0; i < 200; i++) await request(1_000_001 + i, { kind: 'send_text', room, text: `line ${i}` });
      return room;
    });
    await log(mo).getByText('line 199', { exact: true }).waitFor({ timeout: 20000 });

    const [worker] = mo.browser.context.serviceWorkers();
    const key = `h/mo/${room}/0`;
    await worker.evaluate((key) => chrome.storage.local.set({ [key]: '{not a page' }), key);
    await stopServiceWorker(mo.browser, mo.popup);
    await mo.popup.close();
    mo.popup = await openPopup(mo.browser);
    await mo.popup.getByText(/Part 0 of the history of .* is damaged and was skipped/).waitFor({ timeout: 10000 });
    await log(mo).getByText('line 199', { exact: true }).waitFor({ timeout: 10000 });
    // Sending still works and the damaged record is left as it was, for recovery by hand.
    await send(mo, 'still working');
    await mo.popup.locator('.message.mine', { hasText: 'still working' }).getByText('Delivered').waitFor({ timeout: 20000 });
    assert.equal(await worker.evaluate((key) => chrome.storage.local.get(key).then((it) => it[key]), key).catch(async () => {
      const [again] = mo.browser.context.serviceWorkers();
      return again.evaluate((key) => chrome.storage.local.get(key).then((it) => it[key]), key);
    }), '{not a page');
    assertNoProblems(ned.browser);
  } finally {
    await mo.browser.context.close();
    await ned.browser.context.close();
  }
});
