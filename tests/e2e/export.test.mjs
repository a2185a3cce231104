// The user's data export: after a short chat, "Export my data" downloads one JSON file holding every stored
// record: the identity key (the very key the peer pinned), the account, and the exchanged messages.
// Importing that file into a new browser brings the account, the history and the identity key along (the
// peer sees the same, authenticated key); a damaged file is refused and changes nothing.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, extensionCopy, freshProfileDir, launchBrowser, openPopup, removeProfileDir, startPeerServer,
} from './harness.mjs';
import { chatUser, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
const dirs = [];
before(async () => { server = await startPeerServer({ port: 9108 }); });
after(async () => {
  await server.close();
  for (const dir of dirs) removeProfileDir(dir);
  removeAll();
});

const log = (u) => u.popup.getByRole('log', { name: 'Messages' });

/** Everything in the extension's storage, read in its service worker. */
async function storage(u) {
  const [worker] = u.browser.context.serviceWorkers();
  return worker.evaluate(() => chrome.storage.local.get(null));
}

/** Direct chat: `a` writes first, `b` answers; waits until `b` pinned `a`'s key and `a`'s message is delivered. */
async function chat(a, b, first, reply) {
  await a.popup.getByLabel('Username to chat with').fill(b.name);
  await a.popup.getByRole('button', { name: 'Chat', exact: true }).click();
  await send(a, first);
  await b.popup.getByRole('button', { name: new RegExp(`^${a.name}\\b`) }).click({ timeout: 20000 });
  await log(b).getByText(first, { exact: true }).waitFor();
  await send(b, reply);
  await log(a).getByText(reply, { exact: true }).waitFor({ timeout: 20000 });
  // `b` pinned `a`'s identity key once `a`'s link proved it.
  await b.popup.getByRole('list', { name: 'Members' }).getByText('· authenticated').waitFor({ timeout: 10000 });
  await a.popup.locator('.message.mine', { hasText: first }).getByText('Delivered').waitFor({ timeout: 20000 });
}

/**
 * Clicks "Export my data" on `u`'s conversation list; resolves with the download and the path of a copy
 * that outlives `u`'s browser.
 */
async function exportData(u) {
  await u.popup.getByRole('button', { name: 'Back to conversations' }).click();
  await u.popup.getByText('Your data', { exact: true }).click();
  await u.popup.getByText('keep it private').waitFor();
  const [download] = await Promise.all([
    u.popup.waitForEvent('download'),
    u.popup.getByRole('button', { name: 'Export my data' }).click(),
  ]);
  const copies = freshProfileDir('exports');
  dirs.push(copies);
  const path = join(copies, download.suggestedFilename());
  await download.saveAs(path);
  return { download, path };
}

async function close(...users) {
  for (const u of users) {
    if (u.closed) continue;
    u.closed = true;
    assertNoProblems(u.browser);
    await u.browser.context.close();
  }
}

test('"Export my data" downloads every stored record: identity key, account and history', { timeout: 120000 }, async () => {
  const alice = await chatUser('alice', server);
  const bob = await chatUser('bob', server);
  try {
    await chat(alice, bob, 'export me ✓', 'and my reply');
    const before = Date.now();
    const { download, path } = await exportData(alice);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(download.suggestedFilename(), `multichat-export-alice-${today}.json`);
    const exported = JSON.parse(readFileSync(path, 'utf8'));

    assert.equal(exported.format, 'multichat-export');
    assert.equal(exported.version, 1);
    assert.ok(exported.exported_at >= before && exported.exported_at <= Date.now(), `exported_at ${exported.exported_at}`);
    // Every record, exactly as stored (nothing was written since: both ends are idle).
    const stored = await storage(alice);
    assert.deepEqual(Object.keys(exported.records).sort(), Object.keys(stored).sort());
    assert.equal(exported.records.account.username, 'alice');
    assert.deepEqual(exported.records.account, stored.account);
    const identity = exported.records.identity;
    assert.match(identity.seed, /^[0-9a-f]{64}$/, 'the private key is in the file');
    assert.match(identity.public_key, /^[0-9a-f]{64}$/);
    assert.deepEqual(identity, stored.identity);
    // The key in the file is the one bob pinned for alice.
    const bobContacts = (await storage(bob))['contacts/bob'];
    assert.deepEqual(bobContacts.contacts.alice.key, identity.public_key);
    // Both messages are in alice's history pages.
    const history = JSON.stringify(Object.entries(exported.records).filter(([key]) => key.startsWith('h/alice/')));
    assert.ok(history.includes('export me ✓'), 'her message is exported');
    assert.ok(history.includes('and my reply'), "bob's reply is exported");
    assert.ok(exported.records['chat/alice/rooms'], 'the room list is exported');
  } finally {
    await close(alice, bob);
  }
});

test('an imported export moves the account, history and identity key to a new browser; a damaged file changes nothing', { timeout: 150000 }, async () => {
  const dana = await chatUser('dana', server);
  const erin = await chatUser('erin', server);
  let moved;
  try {
    await chat(dana, erin, 'before the move', 'noted');
    const { path } = await exportData(dana);
    const exported = JSON.parse(readFileSync(path, 'utf8'));
    await close(dana);

    // A fresh browser, never signed in.
    const profile = freshProfileDir('dana-new');
    const extensionDir = extensionCopy('dana-new');
    dirs.push(profile, extensionDir);
    const browser = await launchBrowser(profile, { extensionDir });
    moved = { name: 'dana', browser, popup: await openPopup(browser) };
    const importFile = (file) => moved.popup.getByLabel('Saved multichat file to load').setInputFiles(file);
    await moved.popup.getByText('Your data', { exact: true }).click();

    // A damaged copy (one history page torn) is refused, and nothing changes.
    const page = Object.keys(exported.records).find((key) => key.startsWith('h/dana/') && !key.endsWith('/meta'));
    const damaged = structuredClone(exported);
    damaged.records[page] = { messages: 'torn' };
    const damagedFile = join(profile, 'damaged.json');
    writeFileSync(damagedFile, JSON.stringify(damaged));
    const untouched = await storage(moved);
    await importFile(damagedFile);
    await moved.popup.getByRole('button', { name: 'Replace my data' }).click();
    await moved.popup.getByRole('alert').filter({ hasText: /^The export file is damaged \(part 0 of dana's history of .*\); nothing was changed$/ }).waitFor();
    assert.deepEqual(await storage(moved), untouched);
    await moved.popup.getByRole('button', { name: 'Sign in' }).waitFor();

    // The real file: signed in as dana, with her settings, history and identity key.
    await importFile(path);
    await moved.popup.getByText(`Replace everything multichat keeps in this browser with`).waitFor();
    await moved.popup.getByRole('button', { name: 'Replace my data' }).click();
    await moved.popup.getByText('Signed in as').waitFor();
    await moved.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });
    const now = await storage(moved);
    assert.deepEqual(now.identity, exported.records.identity);
    assert.deepEqual(now.account, exported.records.account);
    for (const key of Object.keys(exported.records)) assert.ok(key in now, `${key} was imported`);
    await moved.popup.getByRole('button', { name: /^erin\b/ }).click();
    await log(moved).getByText('before the move', { exact: true }).waitFor();
    await log(moved).getByText('noted', { exact: true }).waitFor();

    // Erin sees the same key as before: the new browser proves it, with no key-change warning.
    await send(moved, 'after the move');
    await log(erin).getByText('after the move', { exact: true }).waitFor({ timeout: 20000 });
    await erin.popup.getByRole('list', { name: 'Members' }).getByText('· authenticated').waitFor({ timeout: 10000 });
    const erinContacts = (await storage(erin))['contacts/erin'];
    assert.equal(erinContacts.contacts.dana.key, exported.records.identity.public_key);
  } finally {
    await close(...[dana, erin, moved].filter(Boolean));
  }
});
