// History survives a Firefox restart. The add-on is installed as a user's is kept, as an .xpi in the profile
// (Firefox ESR takes it unsigned with `xpinstall.signatures.required` off): a temporary add-on, what WebDriver's
// install makes, is removed when Firefox quits. After the restart the account, the conversation and its
// messages are there, the engine goes online again, and the chat carries on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, startPeerServer, waitForFirefoxStatus } from './harness.mjs';
import {
  chatUser, closeFirefoxUsers, closeUsers, expectMessage, ffExpectMessage, ffOpenConversation, ffOpenDirect, ffSend, firefoxUser, openConversation,
  relaunchFirefox, removeAll, send,
} from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9113 }); });
after(async () => {
  await server.close();
  removeAll();
});

test('a Firefox user keeps account and history across a Firefox restart, and chats on', { timeout: 240000 }, async () => {
  const hana = await firefoxUser('hana', server);
  const ivan = await chatUser('ivan', server);
  try {
    await ffOpenDirect(hana, 'ivan');
    await ffSend(hana, 'before the restart');
    await openConversation(ivan, 'hana');
    await expectMessage(ivan, 'before the restart');
    await send(ivan, 'reply before the restart');
    await ffExpectMessage(hana, 'reply before the restart');

    await relaunchFirefox(hana);
    // The popup reopens on the conversation that was open, with its messages.
    await hana.popup.waitForSelector('[role=log][aria-label=Messages]', { timeout: 15000 });
    assert.equal(await hana.popup.$eval('#room-title', (el) => el.textContent), 'ivan');
    await ffExpectMessage(hana, 'before the restart', 10000);
    await ffExpectMessage(hana, 'reply before the restart', 10000);
    // Still signed in as hana, and back online.
    await hana.popup.click('button[aria-label="Back to conversations"]');
    await hana.popup.waitForSelector('.signed-in', { timeout: 15000 });
    assert.equal(await hana.popup.$eval('.signed-in strong', (el) => el.textContent), 'hana');
    await waitForFirefoxStatus(hana.popup, 'Online');
    await ffOpenConversation(hana, 'ivan');

    await send(ivan, 'after the restart');
    await ffExpectMessage(hana, 'after the restart', 30000);
    await ffSend(hana, 'back on Firefox');
    await expectMessage(ivan, 'back on Firefox', 30000);
  } finally {
    await closeUsers(ivan);
    await closeFirefoxUsers(hana);
  }
});
