// Firefox and Chromium users chat directly, with Firefox making the offer in one pair and answering it in
// the other; the identity handshake authenticates both sides across the two browsers' DTLS stacks.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, startPeerServer } from './harness.mjs';
import {
  chatUser, closeFirefoxUsers, closeUsers, expectMessage, ffExpectMember, ffExpectMessage, ffOpenConversation, ffOpenDirect, ffSend, ffStateOf,
  firefoxUser, openConversation, openDirect, removeAll, send,
} from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9111 }); });
after(async () => {
  await server.close();
  removeAll();
});

const members = (u) => u.popup.getByRole('list', { name: 'Members' });

test('Firefox and Chromium chat directly both ways, whoever dials, authenticated on both sides', { timeout: 240000 }, async () => {
  const fiona = await firefoxUser('fiona', server);
  const carl = await chatUser('carl', server);
  const cora = await chatUser('cora', server);
  try {
    // Firefox dials Chromium.
    await ffOpenDirect(fiona, 'carl');
    await ffSend(fiona, 'hello carl, from Firefox');
    await openConversation(carl, 'fiona');
    await expectMessage(carl, 'hello carl, from Firefox');
    await send(carl, 'hi fiona, from Chromium');
    await ffExpectMessage(fiona, 'hi fiona, from Chromium');
    await ffExpectMember(fiona, '· authenticated');
    await members(carl).getByText('· authenticated').waitFor({ timeout: 15000 });

    // Chromium dials Firefox.
    await openDirect(cora, 'fiona');
    await send(cora, 'hello fiona, cora on Chromium');
    await fiona.popup.click('button[aria-label="Back to conversations"]');
    await ffOpenConversation(fiona, 'cora');
    await ffExpectMessage(fiona, 'hello fiona, cora on Chromium');
    await ffSend(fiona, 'hi cora');
    await expectMessage(cora, 'hi cora');
    await ffExpectMember(fiona, '· authenticated');
    await members(cora).getByText('· authenticated').waitFor({ timeout: 15000 });

    await cora.popup.locator('.message.mine', { hasText: 'hello fiona, cora on Chromium' }).getByText('Delivered').waitFor({ timeout: 20000 });
    await fiona.popup.waitForFunction(() => [...document.querySelectorAll('.message.mine .state')].some((it) => it.textContent === 'Delivered'), { timeout: 20000 });
    assert.equal(await ffStateOf(fiona, 'hi cora'), 'Delivered');
  } finally {
    await closeUsers(carl, cora);
    await closeFirefoxUsers(fiona);
  }
});
