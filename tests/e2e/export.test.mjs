// The user's data export: after a short chat, "Export my data" downloads one JSON file holding every stored
// record: the identity key (the very key the peer pinned), the account, and the exchanged messages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, extensionCopy, freshProfileDir, launchBrowser, openPopup, removeProfileDir, signIn, startPeerServer,
} from './harness.mjs';

assertLoopbackOnly();

let server;
const dirs = [];
before(async () => { server = await startPeerServer({ port: 9108 }); });
after(async () => {
  await server.close();
  for (const dir of dirs) removeProfileDir(dir);
});

async function user(name) {
  const profile = freshProfileDir(name);
  const extensionDir = extensionCopy(name);
  dirs.push(profile, extensionDir);
  const browser = await launchBrowser(profile, { extensionDir });
  const popup = await openPopup(browser);
  await signIn(popup, name, server.settings);
  return { name, browser, popup };
}

const log = (u) => u.popup.getByRole('log', { name: 'Messages' });

async function send(u, text) {
  const box = u.popup.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
  await log(u).getByText(text, { exact: true }).waitFor();
}

/** Everything in the extension's storage, read in its service worker. */
async function storage(u) {
  const [worker] = u.browser.context.serviceWorkers();
  return worker.evaluate(() => chrome.storage.local.get(null));
}

test('"Export my data" downloads every stored record: identity key, account and history', { timeout: 120000 }, async () => {
  const alice = await user('alice');
  const bob = await user('bob');
  try {
    await alice.popup.getByLabel('Username to chat with').fill('bob');
    await alice.popup.getByRole('button', { name: 'Chat', exact: true }).click();
    await send(alice, 'export me ✓');
    await bob.popup.getByRole('button', { name: /^alice\b/ }).click({ timeout: 20000 });
    await log(bob).getByText('export me ✓', { exact: true }).waitFor();
    await send(bob, 'and my reply');
    await log(alice).getByText('and my reply', { exact: true }).waitFor({ timeout: 20000 });
    // Bob pinned alice's identity key once her link proved it.
    await bob.popup.getByRole('list', { name: 'Members' }).getByText('· authenticated').waitFor({ timeout: 10000 });
    await alice.popup.locator('.message.mine', { hasText: 'export me ✓' }).getByText('Delivered').waitFor({ timeout: 20000 });

    // Back to the conversation list, where the account's data section is.
    await alice.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await alice.popup.getByText('Your data', { exact: true }).click();
    await alice.popup.getByText('keep it private').waitFor();
    const before = Date.now();
    const [download] = await Promise.all([
      alice.popup.waitForEvent('download'),
      alice.popup.getByRole('button', { name: 'Export my data' }).click(),
    ]);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(download.suggestedFilename(), `multichat-export-alice-${today}.json`);
    const file = await download.path();
    const exported = JSON.parse(readFileSync(file, 'utf8'));

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
    for (const u of [alice, bob]) {
      assertNoProblems(u.browser);
      await u.browser.context.close();
    }
  }
});
