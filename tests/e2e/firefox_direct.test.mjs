// Two Firefox users chat directly: the data channel opens between two Firefox background pages in the
// loopback-only namespace, and the identity handshake authenticates both sides on it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, startPeerServer } from './harness.mjs';
import { closeFirefoxUsers, ffExpectMember, ffExpectMessage, ffOpenConversation, ffOpenDirect, ffSend, ffStateOf, firefoxUser, removeAll } from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9110 }); });
after(async () => {
  await server.close();
  removeAll();
});

test('Firefox and Firefox chat directly, both ways, authenticated on both sides', { timeout: 180000 }, async () => {
  const ann = await firefoxUser('ann', server);
  const ben = await firefoxUser('ben', server);
  try {
    await ffOpenDirect(ann, 'ben');
    await ffSend(ann, 'hello ben, from Firefox 🦊');
    await ffOpenConversation(ben, 'ann');
    await ffExpectMessage(ben, 'hello ben, from Firefox 🦊');
    await ffSend(ben, 'hi ann, Firefox here too');
    await ffExpectMessage(ann, 'hi ann, Firefox here too');
    await ffExpectMember(ann, '· authenticated');
    await ffExpectMember(ben, '· authenticated');
    await ann.popup.waitForFunction(() => [...document.querySelectorAll('.message.mine .state')].some((it) => it.textContent === 'Delivered'), { timeout: 20000 });
    assert.equal(await ffStateOf(ann, 'hello ben, from Firefox 🦊'), 'Delivered');
  } finally {
    await closeFirefoxUsers(ann, ben);
  }
});
