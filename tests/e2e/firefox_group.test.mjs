// A group with one Firefox member: Chromium creates it and invites the Firefox user, who invites another
// Chromium user; the room meshes the newcomer with the creator, and everyone gets every message.
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, startPeerServer } from './harness.mjs';
import {
  chatUser, closeFirefoxUsers, closeUsers, expectMessage, ffExpectMember, ffExpectMessage, ffOpenConversation, ffSend, firefoxUser, openConversation,
  removeAll, send,
} from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9112 }); });
after(async () => {
  await server.close();
  removeAll();
});

test('a group with one Firefox member: invites through Firefox, a full mesh, every message everywhere', { timeout: 240000 }, async () => {
  const erin = await chatUser('erin', server);
  const fred = await firefoxUser('fred', server);
  const gwen = await chatUser('gwen', server);
  try {
    await erin.popup.getByLabel('Group name').fill('team');
    await erin.popup.getByRole('button', { name: 'Create group' }).click();
    await erin.popup.getByRole('log', { name: 'Messages' }).waitFor();
    await erin.popup.getByLabel('Invite username').fill('fred');
    await erin.popup.getByRole('button', { name: 'Invite' }).click();
    // Nothing is joined before the invitee accepts (issue 13).
    const accept = await fred.popup.waitForSelector('button[aria-label="Accept the invitation to team"]', { timeout: 20000 });
    await accept.click();
    await ffOpenConversation(fred, 'team');
    // Gwen joins through the Firefox member only.
    await fred.popup.locator('input[aria-label="Invite username"]').fill('gwen');
    await fred.popup.click('form.invite button[type=submit]');
    await gwen.popup.getByRole('button', { name: 'Accept the invitation to team' }).click({ timeout: 20000 });
    await gwen.popup.getByRole('button', { name: /^team\b/ }).waitFor({ timeout: 20000 });
    await openConversation(gwen, 'team');
    await gwen.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'erin' }).waitFor({ timeout: 20000 });
    await erin.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: 'gwen' }).waitFor({ timeout: 20000 });
    await ffExpectMember(fred, 'online', { member: 'erin' });
    await ffExpectMember(fred, 'online', { member: 'gwen' });

    await send(erin, 'from erin');
    await ffSend(fred, 'from fred on Firefox');
    await send(gwen, 'from gwen');
    for (const text of ['from erin', 'from fred on Firefox', 'from gwen']) {
      await expectMessage(erin, text);
      await expectMessage(gwen, text);
      await ffExpectMessage(fred, text);
    }
    // Every link to and from Firefox is authenticated.
    await ffExpectMember(fred, '· authenticated', { member: 'erin' });
    await ffExpectMember(fred, '· authenticated', { member: 'gwen' });
    await erin.popup.getByRole('list', { name: 'Members' }).locator('li', { hasText: 'fred' }).getByText('· authenticated').waitFor({ timeout: 15000 });
    await gwen.popup.getByRole('list', { name: 'Members' }).locator('li', { hasText: 'fred' }).getByText('· authenticated').waitFor({ timeout: 15000 });
  } finally {
    await closeUsers(erin, gwen);
    await closeFirefoxUsers(fred);
  }
});
