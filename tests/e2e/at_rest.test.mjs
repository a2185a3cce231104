// History at rest (issue 5): a passphrase seals the stored history. Two users chat; one sets a passphrase;
// storage then holds no message text; after a browser restart the popup asks for the passphrase and the
// engine stays offline, a wrong passphrase is refused, the right one brings the history back, and a message
// sent meanwhile arrives (nothing lost). The key derivation time in the browser is logged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, openPopup, startPeerServer, stopServiceWorker } from './harness.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, relaunch, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9141 }); });
after(async () => {
  await server.close();
  removeAll();
});

/** Everything in the user's `chrome.storage.local`, serialized, read from the service worker. */
async function storedText(u) {
  const [worker] = u.browser.context.serviceWorkers();
  return JSON.stringify(await worker.evaluate(() => chrome.storage.local.get(null)));
}

/** Clicks `button` on the unlock screen after typing `passphrase`; returns the milliseconds until `done`. */
async function unlockWith(u, passphrase, done) {
  await u.popup.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  const started = performance.now();
  await u.popup.getByRole('button', { name: 'Unlock', exact: true }).click();
  await done();
  return Math.round(performance.now() - started);
}

test('a passphrase seals the history, a restarted browser asks for it, and nothing sent meanwhile is lost', { timeout: 240000 }, async () => {
  const carol = await chatUser('carol', server);
  const dave = await chatUser('dave', server);
  try {
    const secret = 'the eagle lands at dawn';
    const reply = 'copy that, see you by the mill';
    await openDirect(carol, 'dave');
    await send(carol, secret);
    await dave.popup.getByRole('button', { name: /^carol\b/ }).waitFor({ timeout: 20000 });
    await openConversation(dave, 'carol');
    await expectMessage(dave, secret);
    await send(dave, reply);
    await expectMessage(carol, reply);
    assert.ok((await storedText(carol)).includes(secret), 'without a passphrase the history is stored as it was');

    // Carol protects her history. A short passphrase is refused first.
    await carol.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await carol.popup.getByText('Protect history with a passphrase').click();
    await carol.popup.getByText('A forgotten passphrase cannot be recovered').waitFor();
    await carol.popup.getByLabel('New passphrase').fill('short');
    await carol.popup.getByLabel('Repeat passphrase').fill('short');
    await carol.popup.getByRole('button', { name: 'Set passphrase' }).click();
    await carol.popup.getByRole('alert').getByText('A passphrase needs at least 8 characters').waitFor();
    const passphrase = 'correct horse battery';
    await carol.popup.getByLabel('New passphrase').fill(passphrase);
    await carol.popup.getByLabel('Repeat passphrase').fill(passphrase);
    const setStarted = performance.now();
    await carol.popup.getByRole('button', { name: 'Set passphrase' }).click();
    await carol.popup.getByRole('button', { name: 'Remove passphrase' }).waitFor({ timeout: 20000 });
    console.log(`# setting the passphrase (key derivation + sealing the history) took ${Math.round(performance.now() - setStarted)} ms`);

    const stored = await storedText(carol);
    assert.ok(!stored.includes(secret) && !stored.includes(reply), 'no message text is stored in the clear');
    assert.ok(stored.includes('"sealed"') && stored.includes('"lock"'), 'the history is sealed and the lock written');
    // The chat goes on, and what arrives is sealed too.
    await openConversation(carol, 'dave');
    await expectMessage(carol, secret, 10000);
    await send(dave, 'still there?');
    await expectMessage(carol, 'still there?');
    assert.ok(!(await storedText(carol)).includes('still there?'), 'a new message is sealed as it is stored');

    // A worker restart within the browser session needs no passphrase: the key is in session storage.
    await stopServiceWorker(carol.browser, carol.popup);
    await carol.popup.close();
    carol.popup = await openPopup(carol.browser);
    await expectMessage(carol, 'still there?', 10000);

    // A browser restart forgets the key: the popup asks for the passphrase and the engine stays offline.
    await relaunch(carol);
    await carol.popup.getByRole('form', { name: 'Unlock' }).waitFor({ timeout: 10000 });
    assert.equal(await carol.popup.getByRole('log', { name: 'Messages' }).count(), 0, 'no history is shown while locked');
    await carol.popup.locator('.status', { hasText: 'Offline' }).waitFor();

    // Dave writes while carol is locked: it cannot be delivered yet.
    const meanwhile = 'sent while you were locked';
    await send(dave, meanwhile);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await carol.popup.locator('.status', { hasText: 'Offline' }).waitFor();

    const wrongMs = await unlockWith(carol, 'not the passphrase', () =>
      carol.popup.getByRole('alert').getByText('That passphrase is not right').waitFor({ timeout: 20000 }));
    await carol.popup.getByRole('form', { name: 'Unlock' }).waitFor();
    // Unlocked, the popup reopens where it was: the conversation with dave.
    const rightMs = await unlockWith(carol, passphrase, () => carol.popup.getByRole('log', { name: 'Messages' }).waitFor({ timeout: 20000 }));
    console.log(`# unlock round trip (Argon2id m=19 MiB t=4 p=1 in the worker's wasm): wrong passphrase ${wrongMs} ms, right passphrase ${rightMs} ms`);

    await carol.popup.locator('.status', { hasText: 'Online' }).waitFor({ timeout: 20000 });
    await expectMessage(carol, secret, 10000);
    await expectMessage(carol, reply, 10000);
    await expectMessage(carol, meanwhile, 30000);
    assert.ok(!(await storedText(carol)).includes(meanwhile), 'the message that waited is sealed too');

    // Changing the passphrase re-seals the history: after "Lock now", only the new one unlocks it.
    const lockRecord = async () => {
      const [worker] = carol.browser.context.serviceWorkers();
      return JSON.stringify(await worker.evaluate(() => chrome.storage.local.get('lock')));
    };
    const oldLock = await lockRecord();
    await carol.popup.getByRole('button', { name: 'Back to conversations' }).click();
    await carol.popup.getByText('Protect history with a passphrase').click();
    await carol.popup.getByLabel('Current passphrase').fill(passphrase);
    await carol.popup.getByLabel('New passphrase').fill('a new passphrase 2');
    await carol.popup.getByLabel('Repeat passphrase').fill('a new passphrase 2');
    await carol.popup.getByRole('button', { name: 'Change passphrase' }).click();
    for (let i = 0; i < 100 && (await lockRecord()) === oldLock; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.notEqual(await lockRecord(), oldLock, 'a new lock (salt and check value) is written');
    assert.ok(!(await storedText(carol)).includes(secret), 'still no message text in the clear');
    await carol.popup.getByRole('button', { name: 'Lock now' }).click();
    await unlockWith(carol, passphrase, () => carol.popup.getByRole('alert').getByText('That passphrase is not right').waitFor({ timeout: 20000 }));
    await unlockWith(carol, 'a new passphrase 2', () => carol.popup.getByRole('button', { name: /^dave\b/ }).waitFor({ timeout: 20000 }));
    await openConversation(carol, 'dave');
    await expectMessage(carol, meanwhile, 10000);
  } catch (err) {
    console.log(`# carol's popup: ${await carol.popup.locator('body').innerText().catch(() => '?')}\n# problems: ${carol.browser.problems.join('\n')}`);
    throw err;
  } finally {
    await closeUsers(carol, dave);
  }
});
