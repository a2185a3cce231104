// Files between Firefox and Chromium (issue 15): a 3 MB file picked in Firefox arrives in Chromium and is
// saved with the same SHA-256, and a picture pasted in Chromium arrives in Firefox as a thumbnail of exactly
// the pasted bytes (a synthetic paste event carries no files in Firefox, so Firefox picks its file instead). In Firefox
// the engine runs in the background page beside the worker and hands chunk bytes over by function call; in
// Chromium they cross the offscreen document's lane to the service worker.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, startPeerServer } from './harness.mjs';
import {
  chatUser, closeFirefoxUsers, closeUsers, expectMessage, ffExpectMessage, ffOpenConversation, ffOpenDirect, ffSend,
  firefoxUser, openConversation, removeAll, send,
} from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9114 }); });
after(async () => {
  await server.close();
  removeAll();
});

/** Pastes a `side`x`side` PNG of noise (from `seed`) as `name` into the open conversation; its size and SHA-256. */
function pasteNoise({ name, side, seed }) {
  return (async () => {
    const canvas = document.createElement('canvas');
    canvas.width = side;
    canvas.height = side;
    const context = canvas.getContext('2d');
    const image = context.createImageData(side, side);
    let state = seed;
    for (let i = 0; i < image.data.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      image.data[i] = i % 4 === 3 ? 255 : state >>> 24;
    }
    context.putImageData(image, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const bytes = await blob.arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], name, { type: 'image/png' }));
    const box = document.querySelector('textarea');
    box.focus();
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    return { size: bytes.byteLength, hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
  })();
}

/** The SHA-256 (hex) of the thumbnail `name` once it has loaded, fetched from its object URL in the page. */
function thumbnailHash({ name, side }) {
  return (async () => {
    for (;;) {
      const img = document.querySelector(`img.thumb[alt="${name}"]`);
      if (img?.naturalWidth === side) {
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const digest = await crypto.subtle.digest('SHA-256', bytes);
        return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
}

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

test('a file goes from Firefox to Chromium and a picture back, each byte for byte', { timeout: 240000 }, async () => {
  const fern = await firefoxUser('fern', server);
  const cy = await chatUser('cy', server);
  const dir = mkdtempSync(join(tmpdir(), 'multichat-ff-files-'));
  try {
    // Each opens the conversation, so each is the other's contact and files go without "Accept".
    await ffOpenDirect(fern, 'cy');
    await ffSend(fern, 'a picture is coming');
    await openConversation(cy, 'fern');
    await expectMessage(cy, 'a picture is coming');
    await send(cy, 'send it');
    await ffExpectMessage(fern, 'send it');

    // Firefox → Chromium: 3 MB (46 chunks), picked in Firefox's file input.
    const bytes = bytesOf(3 * 1000 * 1000, 11);
    const path = join(dir, 'fox.bin');
    writeFileSync(path, bytes);
    const picker = await fern.popup.$('#file-picker');
    await picker.uploadFile(path);
    const save = cy.popup.getByRole('log', { name: 'Messages' }).locator('.message.file', { hasText: 'fox.bin' })
      .getByRole('button', { name: 'Save fox.bin' });
    await save.waitFor({ timeout: 90000 });
    const [download] = await Promise.all([cy.popup.waitForEvent('download'), save.click()]);
    const received = readFileSync(await download.path());
    assert.equal(received.length, bytes.length);
    assert.equal(sha256(received), sha256(bytes), 'Chromium saved exactly the bytes picked in Firefox');

    // Chromium → Firefox.
    const back = await cy.popup.evaluate(pasteNoise, { name: 'chrome.png', side: 600, seed: 777 });
    assert.ok(back.size > 1_000_000, `a picture of about 1 MB (${back.size} bytes)`);
    await fern.popup.waitForSelector('img.thumb[alt="chrome.png"]', { timeout: 90000 });
    const there = await fern.popup.evaluate(thumbnailHash, { name: 'chrome.png', side: 600 });
    assert.equal(there, back.hash, 'Firefox shows exactly the bytes pasted in Chromium');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await closeUsers(cy);
    await closeFirefoxUsers(fern);
  }
});
