// Chat between real extension instances (one browser profile each) through the official PeerJS server on
// 127.0.0.1, with no ICE servers: direct chat, a three-member room, persistence, and the badge while the
// popup is closed; and history across an extension update.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertLoopbackOnly, assertNoProblems, bumpVersion, launchBrowser, openPopup, readQrCode, startPeerServer, stopServiceWorker,
} from './harness.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9101 }); });
after(async () => {
  await server.close();
  removeAll();
});

async function badge(u) {
  const [worker] = u.browser.context.serviceWorkers();
  return worker.evaluate(() => chrome.action.getBadgeText({}));
}

test('a direct chat works both ways and survives popup close, worker restart, browser restart and an extension update', { timeout: 180000 }, async () => {
  const alice = await chatUser('alice', server);
  const bob = await chatUser('bob', server);
  try {
    await openDirect(alice, 'bob');
    const hello = 'hello bob ✓ 🌍 <b>not bold</b>';
    await send(alice, hello);

    // Bob has not opened the conversation: it is listed with an unread count.
    await bob.popup.getByRole('button', { name: /^alice\b/ }).waitFor({ timeout: 20000 });
    await openConversation(bob, 'alice');
    await expectMessage(bob, hello);
    assert.equal(await bob.popup.locator('b').count(), 0, 'peer text is never rendered as HTML');
    await send(bob, 'hi alice');
    await expectMessage(alice, 'hi alice');
    // Both proved their identity keys on this very DTLS session (issue 5's handshake).
    await alice.popup.getByRole('list', { name: 'Members' }).getByText('· authenticated').waitFor({ timeout: 10000 });
    await bob.popup.getByRole('list', { name: 'Members' }).getByText('· authenticated').waitFor({ timeout: 10000 });
    // Both see the same safety number; alice compares it and marks bob verified.
    await alice.popup.getByText('Safety number with bob').click();
    await bob.popup.getByText('Safety number with alice').click();
    const number = await alice.popup.locator('.safety-number').innerText();
    assert.match(number, /^(\d{5} ){11}\d{5}$/);
    assert.equal(await bob.popup.locator('.safety-number').innerText(), number);
    // Each side also shows it as a QR code, which a scanner reads as the same 60 digits.
    const aliceQr = alice.popup.getByRole('img', { name: 'QR code of the safety number with bob' });
    const bobQr = bob.popup.getByRole('img', { name: 'QR code of the safety number with alice' });
    assert.equal(await readQrCode(aliceQr), number.replaceAll(' ', ''));
    assert.equal(await readQrCode(bobQr), number.replaceAll(' ', ''));
    await alice.popup.getByRole('button', { name: 'It matches: mark bob verified' }).click();
    await alice.popup.getByRole('list', { name: 'Members' }).getByText('· verified').waitFor({ timeout: 5000 });
    await alice.popup.locator('.message.mine', { hasText: hello }).getByText('Delivered').waitFor({ timeout: 20000 });

    // History survives the popup closing, the worker stopping, and the browser restarting.
    await bob.popup.close();
    bob.popup = await openPopup(bob.browser);
    await expectMessage(bob, hello, 10000);
    await stopServiceWorker(bob.browser, bob.popup);
    await bob.popup.close();
    bob.popup = await openPopup(bob.browser);
    await expectMessage(bob, 'hi alice', 10000);
    assertNoProblems(bob.browser);
    await bob.browser.context.close();
    bob.browser = await launchBrowser(bob.profile, { extensionDir: bob.extensionDir });
    bob.popup = await openPopup(bob.browser);
    await expectMessage(bob, hello, 10000);
    await expectMessage(bob, 'hi alice', 10000);

    // An extension update: the browser restarts with a newer version of the extension; history stays.
    await bob.browser.context.close();
    const version = bumpVersion(bob.extensionDir);
    bob.browser = await launchBrowser(bob.profile, { extensionDir: bob.extensionDir });
    const [worker] = bob.browser.context.serviceWorkers();
    assert.equal(await worker.evaluate(() => chrome.runtime.getManifest().version), version);
    bob.popup = await openPopup(bob.browser);
    await expectMessage(bob, hello, 10000);
    await expectMessage(bob, 'hi alice', 10000);
  } finally {
    await closeUsers(alice, bob);
  }
});

test('a message that arrives while the popup is closed raises the badge and is in the history', { timeout: 180000 }, async () => {
  const carol = await chatUser('carol', server);
  const dave = await chatUser('dave', server);
  try {
    await openDirect(carol, 'dave');
    await send(carol, 'first');
    await dave.popup.getByRole('button', { name: /^carol\b/ }).waitFor({ timeout: 20000 });
    await openConversation(dave, 'carol');
    await expectMessage(dave, 'first');
    await dave.popup.close();

    await send(carol, 'while you were away');
    await carol.popup.locator('.message.mine', { hasText: 'while you were away' }).getByText('Delivered').waitFor({ timeout: 20000 });
    for (let i = 0; i < 50 && (await badge(dave)) !== '1'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await badge(dave), '1');

    dave.popup = await openPopup(dave.browser);
    await expectMessage(dave, 'while you were away', 10000);
    for (let i = 0; i < 50 && (await badge(dave)) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await badge(dave), '', 'reading the conversation clears the badge');
  } finally {
    await closeUsers(carol, dave);
  }
});

test('three members joined through one member all get every message', { timeout: 240000 }, async () => {
  const erin = await chatUser('erin', server);
  const frank = await chatUser('frank', server);
  const grace = await chatUser('grace', server);
  try {
    await erin.popup.getByLabel('Group name').fill('team');
    await erin.popup.getByRole('button', { name: 'Create group' }).click();
    await erin.popup.getByRole('log', { name: 'Messages' }).waitFor();
    await erin.popup.getByLabel('Invite username').fill('frank');
    await erin.popup.getByRole('button', { name: 'Invite' }).click();
    // Nothing is joined before the invitee accepts (issue 13).
    await frank.popup.getByRole('region', { name: 'Invitation to team' }).getByText('erin invites you to team').waitFor({ timeout: 20000 });
    await frank.popup.getByRole('button', { name: 'Accept the invitation to team' }).click();
    await frank.popup.getByRole('button', { name: /^team\b/ }).waitFor({ timeout: 20000 });
    await openConversation(frank, 'team');
    // Grace joins through frank only; the room meshes her with erin.
    await frank.popup.getByLabel('Invite username').fill('grace');
    await frank.popup.getByRole('button', { name: 'Invite' }).click();
    await grace.popup.getByRole('button', { name: 'Accept the invitation to team' }).click({ timeout: 20000 });
    await grace.popup.getByRole('button', { name: /^team\b/ }).waitFor({ timeout: 20000 });
    await openConversation(grace, 'team');
    // Grace never dialed erin herself: the room's mesh connected them.
    await grace.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'erin' }).waitFor({ timeout: 20000 });
    await erin.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'grace' }).waitFor({ timeout: 20000 });

    await send(erin, 'from erin');
    await send(frank, 'from frank');
    await send(grace, 'from grace');
    for (const u of [erin, frank, grace]) {
      for (const text of ['from erin', 'from frank', 'from grace']) await expectMessage(u, text);
    }
  } finally {
    await closeUsers(erin, frank, grace);
  }
});
