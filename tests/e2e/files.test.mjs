// Files and images between two extension users (issue 15), through the official PeerJS server on 127.0.0.1
// with no ICE servers: a 1 MB picture pasted into the composer arrives as a thumbnail that opens full size,
// also after a browser restart; a 25 MB file arrives intact (SHA-256 equal) while both popups are closed
// mid-transfer; a file over the recipient's limit is refused in words on both sides, nothing of it stored.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, axeViolations, openPopup, screenshot, startPeerServer } from './harness.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, relaunch, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
let alice;
let bob;
before(async () => {
  server = await startPeerServer({ port: 9171 });
  alice = await chatUser('alice', server);
  bob = await chatUser('bob', server);
  // Each opens the conversation, so each is the other's contact and files go without "Accept".
  await openDirect(alice, 'bob');
  await openDirect(bob, 'alice');
  await send(alice, 'files coming');
  await expectMessage(bob, 'files coming');
});
after(async () => {
  await closeUsers(alice, bob);
  await server.close();
  removeAll();
});

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Deterministic bytes that do not compress. */
function bytesOf(length, seed) {
  const out = Buffer.alloc(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

/** How many keys starting with `prefix` the worker keeps in IndexedDB (file chunks) and in chrome.storage.local. */
async function storedKeys(u, prefix) {
  const [worker] = u.browser.context.serviceWorkers();
  return worker.evaluate(async (prefix) => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open('multichat-files', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('chunks');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const keys = await new Promise((resolve, reject) => {
      const request = db.transaction('chunks').objectStore('chunks').getAllKeys();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    const local = Object.keys(await chrome.storage.local.get(null));
    return { indexedDb: keys.filter((it) => it.startsWith(prefix)).length, local: local.filter((it) => it.startsWith(prefix)).length };
  }, prefix);
}

/** axe-core finds nothing wrong with what `u`'s popup shows now (screenshotted as `name` for review). */
async function assertAccessible(u, name) {
  await screenshot(u.popup, name);
  assert.deepEqual(await axeViolations(u.popup), [], `${name}: axe-core violations`);
}

function fileItem(u, name) {
  return u.popup.getByRole('log', { name: 'Messages' }).locator('.message.file', { hasText: name });
}

/** The SHA-256 (hex) of what an <img> shows, fetched from its object URL in the page. */
async function imageHash(u, name) {
  return u.popup.evaluate(async (alt) => {
    const img = document.querySelector(`img.thumb[alt="${alt}"]`);
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, name);
}

test('a 1 MB picture pasted arrives as a thumbnail that opens full size, and is still there after a browser restart', { timeout: 180000 }, async () => {
  // A 600x600 PNG of noise (about 1 MB), made in alice's popup and pasted into the message box.
  const made = await alice.popup.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 600;
    canvas.height = 600;
    const context = canvas.getContext('2d');
    const image = context.createImageData(600, 600);
    let state = 12345;
    for (let i = 0; i < image.data.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      image.data[i] = i % 4 === 3 ? 255 : state >>> 24;
    }
    context.putImageData(image, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const bytes = await blob.arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], 'noise.png', { type: 'image/png' }));
    const box = document.querySelector('textarea');
    box.focus();
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    return { size: bytes.byteLength, hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
  });
  assert.ok(made.size > 1_000_000 && made.size < 1_300_000, `a picture of about 1 MB (${made.size} bytes)`);

  const thumbnail = bob.popup.getByRole('button', { name: 'Show noise.png full size' });
  await thumbnail.waitFor({ timeout: 60000 });
  await bob.popup.waitForFunction(() => document.querySelector('img.thumb[alt="noise.png"]')?.naturalWidth === 600);
  assert.equal(await imageHash(bob, 'noise.png'), made.hash, 'bob shows exactly the pasted bytes');
  // Alice's own log shows it too.
  await alice.popup.getByRole('button', { name: 'Show noise.png full size' }).waitFor({ timeout: 20000 });

  await assertAccessible(bob, 'files-thumbnail');
  await thumbnail.click();
  const full = bob.popup.getByRole('dialog', { name: 'noise.png' });
  await full.waitFor();
  await assertAccessible(bob, 'files-full-size');
  assert.equal(await full.locator('img').evaluate((img) => img.naturalWidth), 600);
  await full.getByRole('button', { name: 'Close' }).click();
  await full.waitFor({ state: 'detached' });

  await relaunch(bob);
  await bob.popup.getByRole('log', { name: 'Messages' }).waitFor({ timeout: 20000 });
  await bob.popup.getByRole('button', { name: 'Show noise.png full size' }).waitFor({ timeout: 20000 });
  await bob.popup.waitForFunction(() => document.querySelector('img.thumb[alt="noise.png"]')?.naturalWidth === 600);
  assert.equal(await imageHash(bob, 'noise.png'), made.hash, 'after the restart, the same bytes');
});

test('a 25 MB file arrives intact while both popups are closed mid-transfer', { timeout: 300000 }, async (t) => {
  const size = 25 * 1000 * 1000;
  const bytes = bytesOf(size, 7);
  const expected = sha256(bytes);
  const chunksBefore = await storedKeys(bob, 'fc/bob/in/alice/');
  await alice.popup.setInputFiles('#file-picker', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: bytes });
  // Once the popup has handed every piece over, the worker has it stored and offers it: bytes start to move.
  const receiving = fileItem(bob, 'big.bin').getByRole('progressbar');
  await receiving.waitFor({ timeout: 120000 });
  // Some of it stored on bob's side (the bar moves every 5 %), not all.
  await bob.popup.waitForFunction(() => Number(document.querySelector('.message.file progress')?.value) > 0, null, { timeout: 60000 });
  const done = Number(await receiving.getAttribute('value'));
  await alice.popup.close();
  await bob.popup.close();
  assert.ok(done < size, `the popups closed mid-transfer (${done} of ${size} bytes received)`);
  const closedAt = Date.now();
  t.diagnostic(`popups closed with ${done} of ${size} bytes received`);

  // With no popup open, the transfer goes on; a popup opened later shows it whole.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  bob.popup = await openPopup(bob.browser);
  alice.popup = await openPopup(alice.browser);
  const save = fileItem(bob, 'big.bin').getByRole('button', { name: 'Save big.bin' });
  await save.waitFor({ timeout: 180000 });
  t.diagnostic(`whole on bob's side ${Date.now() - closedAt} ms after the popups closed (5000 ms of it with none open)`);
  const [download] = await Promise.all([bob.popup.waitForEvent('download'), save.click()]);
  assert.equal(download.suggestedFilename(), 'big.bin');
  const received = readFileSync(await download.path());
  assert.equal(received.length, size);
  assert.equal(sha256(received), expected, 'the SHA-256 of what bob saved equals the file alice sent');
  // Its 382 chunks of 64 KiB are kept in IndexedDB, none in chrome.storage.local.
  const stored = await storedKeys(bob, 'fc/bob/in/alice/');
  assert.equal(stored.indexedDb - chunksBefore.indexedDb, 382);
  assert.equal(stored.local, 0);
  // Alice's side says it is done: no progress bar and no waiting left.
  await fileItem(alice, 'big.bin').getByRole('button', { name: 'Save big.bin' }).waitFor({ timeout: 20000 });
  assert.equal(await fileItem(alice, 'big.bin').getByRole('progressbar').count(), 0);
});

test('a file over the recipient\'s limit is refused in words on both sides, and nothing of it is stored', { timeout: 120000 }, async () => {
  // Bob lowers the largest file he accepts to 1 MB in Settings, then goes back to the conversation.
  await bob.popup.keyboard.press('Escape');
  await bob.popup.getByText('Settings', { exact: true }).click();
  const field = bob.popup.getByLabel('Largest file accepted from others (MB)');
  assert.equal(await field.inputValue(), '100', 'the default limit is 100 MB');
  await field.fill('1');
  await bob.popup.getByRole('button', { name: 'Save settings' }).click();
  const [worker] = bob.browser.context.serviceWorkers();
  const deadline = Date.now() + 10000;
  while ((await worker.evaluate(async () => (await chrome.storage.local.get('settings')).settings?.max_file_bytes)) !== 1000000) {
    assert.ok(Date.now() < deadline, 'the new limit is stored');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await openConversation(bob, 'alice');
  const keysBefore = await storedKeys(bob, 'fc/bob/in/');

  await alice.popup.setInputFiles('#file-picker', { name: 'over.bin', mimeType: 'application/octet-stream', buffer: bytesOf(1_500_000, 9) });
  await fileItem(alice, 'over.bin').getByText('bob accepts files up to 1.0 MB; over.bin is 1.5 MB.').waitFor({ timeout: 30000 });
  await fileItem(bob, 'over.bin')
    .getByText('alice tried to send you over.bin (1.5 MB), larger than your limit of 1.0 MB (Settings).')
    .waitFor({ timeout: 10000 });
  assert.deepEqual(await storedKeys(bob, 'fc/bob/in/'), keysBefore, 'no chunk of the refused file is stored');
  await assertAccessible(alice, 'files-sender');
  await assertAccessible(bob, 'files-refused');
});
