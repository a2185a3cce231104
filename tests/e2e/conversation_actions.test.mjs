// Replies, reactions, edits and deletes in a three-member group, done while one member is offline: each
// shows on all three, the offline one included once it is back and caught up; "Waiting for … to come
// online" while a member is away; typing shown and cleared; read receipts only when both opted in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLoopbackOnly, launchBrowser, openPopup, startPeerServer } from './harness.mjs';
import { chatUser, closeUsers, expectMessage, openConversation, openDirect, removeAll, send } from './chat-user.mjs';

assertLoopbackOnly();

let server;
before(async () => { server = await startPeerServer({ port: 9161 }); });
after(async () => {
  await server.close();
  removeAll();
});

/** The message whose own text is exactly `text`. */
function message(u, text) {
  return u.popup.locator('.message').filter({ has: u.popup.locator('p.text', { hasText: new RegExp(`^${text}$`) }) });
}

async function joinGroup(u, name) {
  await u.popup.getByRole('button', { name: `Accept the invitation to ${name}` }).click({ timeout: 20000 });
  await u.popup.getByRole('button', { name: new RegExp(`^${name}\\b`) }).waitFor({ timeout: 20000 });
  await openConversation(u, name);
}

/** What a member must show after the conversation. */
async function expectConversation(u) {
  // The reply quotes it too, so the message is found by its own text.
  const hello = message(u, 'hello everyone');
  await hello.waitFor({ timeout: 30000 });
  await hello.getByText('edited', { exact: true }).waitFor({ timeout: 30000 });
  await hello.getByRole('button', { name: '👍 1: ben' }).waitFor({ timeout: 30000 });
  const reply = message(u, 'hi ann');
  await reply.locator('.quote', { hasText: 'hello everyone' }).waitFor({ timeout: 30000 });
  await u.popup.getByText('This message was deleted').waitFor({ timeout: 30000 });
  assert.equal(await u.popup.getByText('oops, a secret').count(), 0, `${u.name} still shows the deleted text`);
  assert.equal(await u.popup.getByText('hello team', { exact: true }).count(), 0, `${u.name} shows the text before the edit`);
}

test('reply, reaction, edit and delete show on every member, also one who was offline and caught up', { timeout: 300000 }, async () => {
  const ann = await chatUser('ann', server);
  const ben = await chatUser('ben', server);
  const cat = await chatUser('cat', server);
  try {
    await ann.popup.getByLabel('Group name').fill('crew');
    await ann.popup.getByRole('button', { name: 'Create group' }).click();
    await ann.popup.getByRole('log', { name: 'Messages' }).waitFor();
    for (const [u, name] of [[ben, 'ben'], [cat, 'cat']]) {
      await ann.popup.getByLabel('Invite username').fill(name);
      await ann.popup.getByRole('button', { name: 'Invite' }).click();
      await joinGroup(u, 'crew');
    }
    await ann.popup.getByRole('list', { name: 'Members' }).locator('li.online', { hasText: /^\s*cat online/ }).waitFor({ timeout: 20000 });
    await send(cat, 'cat was here');
    await expectMessage(ann, 'cat was here');

    // Cat goes away: her browser is closed.
    await cat.browser.context.close();
    await ann.popup.getByRole('list', { name: 'Members' }).locator('li.offline', { hasText: /^\s*cat offline/ }).waitFor({ timeout: 20000 });
    await send(ann, 'hello team');
    await send(ann, 'oops, a secret');
    // Queued for cat: it says so, in words, instead of "Failed".
    await message(ann, 'hello team').getByText(/Delivered to 1 of 2 \(ben\) · Waiting for cat to come online/).waitFor({ timeout: 20000 });
    assert.equal(await ann.popup.getByText('Failed', { exact: false }).count(), 0);

    // Ben quotes and reacts; ann edits and deletes her own.
    await expectMessage(ben, 'hello team');
    await message(ben, 'hello team').getByRole('button', { name: 'Reply', exact: true }).click();
    await ben.popup.getByLabel('Reply', { exact: true }).fill('hi ann');
    await ben.popup.getByRole('button', { name: 'Send reply' }).click();
    await message(ben, 'hello team').getByRole('button', { name: 'React', exact: true }).click();
    await ben.popup.getByRole('group', { name: 'Choose a reaction' }).getByRole('button', { name: '👍' }).click();
    await message(ann, 'hello team').getByRole('button', { name: 'Edit', exact: true }).click();
    await ann.popup.getByLabel('Edited message').fill('hello everyone');
    await ann.popup.getByRole('button', { name: 'Save' }).click();
    await message(ann, 'oops, a secret').getByRole('button', { name: 'Delete', exact: true }).click();
    await ann.popup.getByRole('button', { name: 'Delete for everyone' }).click();

    await expectConversation(ann);
    await expectConversation(ben);
    // The quote leads to the message it quotes.
    await message(ben, 'hi ann').locator('.quote').click();
    await message(ben, 'hello everyone').and(ben.popup.locator('.flash')).waitFor({ timeout: 5000 });

    // Cat comes back and catches up on all of it.
    cat.browser = await launchBrowser(cat.profile, { extensionDir: cat.extensionDir });
    cat.popup = await openPopup(cat.browser);
    // The popup reopens the conversation she had open when her browser closed.
    await cat.popup.getByRole('heading', { name: 'crew', exact: true }).waitFor({ timeout: 20000 });
    await expectConversation(cat);
    await message(ann, 'hello everyone').getByText('Delivered to all 2').waitFor({ timeout: 30000 });
    // Nothing of the deleted message is left in cat's storage.
    const [worker] = cat.browser.context.serviceWorkers();
    const stored = JSON.stringify(await worker.evaluate(() => chrome.storage.local.get(null)));
    assert.ok(!stored.includes('oops, a secret'), 'the deleted text reached cat\'s storage');
  } finally {
    await closeUsers(ann, ben, cat);
  }
});

async function setReceipts(u, on, room) {
  await u.popup.getByRole('button', { name: 'Back to conversations' }).click();
  await u.popup.locator('summary', { hasText: 'Settings' }).click();
  const box = u.popup.getByLabel(/^Read receipts/);
  if ((await box.isChecked()) !== on) await box.click();
  for (let i = 0; i < 50 && (await box.isChecked()) !== on; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await box.isChecked(), on);
  await u.popup.locator('summary', { hasText: 'Settings' }).click();
  await openConversation(u, room);
}

test('typing shows and clears; read receipts only when both opted in', { timeout: 240000 }, async () => {
  const dan = await chatUser('dan', server);
  const eve = await chatUser('eve', server);
  try {
    await openDirect(dan, 'eve');
    await send(dan, 'first');
    await eve.popup.getByRole('button', { name: /^dan\b/ }).waitFor({ timeout: 20000 });
    await openConversation(eve, 'dan');
    await expectMessage(eve, 'first');
    // A direct conversation's member list does not repeat the name: its one member is dan.
    await eve.popup.getByRole('list', { name: 'Members' }).locator('li.online').waitFor({ timeout: 20000 });

    // Typing: shown within a second or so, gone about 5 s after the last keystroke.
    const box = dan.popup.getByLabel('Message', { exact: true });
    const typedAt = Date.now();
    await box.pressSequentially('hel');
    await eve.popup.getByText('dan is typing…').waitFor({ timeout: 3000 });
    const shownAfter = Date.now() - typedAt;
    const stoppedAt = Date.now();
    await eve.popup.getByText('dan is typing…').waitFor({ state: 'detached', timeout: 8000 });
    const goneAfter = Date.now() - stoppedAt;
    console.log(`typing shown after ${shownAfter} ms; gone ${goneAfter} ms after the last keystroke`);
    assert.ok(goneAfter >= 3000, `typing went too early (${goneAfter} ms)`);
    await box.fill('');

    // Receipts are off by default: eve read "first", dan is not told.
    await send(dan, 'second');
    await expectMessage(eve, 'second');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await message(dan, 'second').getByText(/Read by/).count(), 0);
    // Only dan turns them on: still nothing (eve does not send them).
    await setReceipts(dan, true, 'eve');
    await send(dan, 'third');
    await expectMessage(eve, 'third');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await message(dan, 'third').getByText(/Read by/).count(), 0, 'a receipt from someone who did not opt in');
    // Eve turns them on too: her next read is shown to dan.
    await setReceipts(eve, true, 'dan');
    await send(dan, 'fourth');
    await expectMessage(eve, 'fourth');
    await message(dan, 'fourth').getByText(/Read by eve/).waitFor({ timeout: 20000 });
  } finally {
    await closeUsers(dan, eve);
  }
});
